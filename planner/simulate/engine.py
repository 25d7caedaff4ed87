"""The event loop: units, dispatch and the queue, one replication.

Every random quantity of a call (call handling, turn-out, time on scene,
transport or not, handover, drive-time factors) is drawn up front, in one
vectorised pass per quantity, from the call stream and the replication's
seed alone (:func:`draw_cycle`). The loop itself is deterministic, so two
systems given the same calls and seed see exactly the same patients: common
random numbers for before/after comparisons.

The loop keeps one heap of "unit clears" events (a unit finishes at the
scene, or hands over at the hospital) and merges it with the calls in order
of their dispatch time (queue entry + call handling) and, while calls wait,
with the hour boundaries where shifts change. The drive home is not an event:
a unit that cleared at time ``t0`` with a return of ``R`` seconds is home
from ``t0 + R`` on, and can be sent anywhere in between.

Where a free unit is
    at its station: the drive is the precomputed station -> point time, after
    the turn-out time;
    on its way home: at the elapsed fraction ``f`` of its return, its drive
    to a point ``d`` is estimated as ``(1 - f) * T(stop, d) + f * T(home, d)``,
    where the stop is the hospital it left (``T`` precomputed) or the scene
    it cleared (``T(scene, d)`` estimated as the best route through any
    station or hospital, an upper bound). The estimate is exact at both ends
    and, from a hospital, always lies between the bounds the triangle
    inequality allows for a point on the route home. No turn-out: the crew is
    in the vehicle.

Dispatch
    The call goes to the available unit of its fleet with the earliest
    arrival (turn-out included) by network time; the random drive factor
    applies to the chosen unit only (the dispatcher does not know it).

Drive times
    With a time-of-day speed profile every drive of a call (to the scene, to
    hospital, home) uses the times of the band of its call time
    (:func:`planner.simulate.model.call_bands`). With ``drive_time_cv`` each
    drive to a scene and to hospital is the network time times a lognormal
    factor of median 1, the distribution of
    :func:`planner.network.dispersion.draw_drive_times`. A
    psychiatric call goes to the nearest free psychiatric unit on duty, else
    to an ambulance, unless its priority is in
    ``psychiatric_wait_priorities`` and a psychiatric unit is on duty: then it
    waits for one. Without a free unit the call waits in a queue ordered by
    priority, then by time of dispatch readiness, and the next unit that
    becomes free and may serve it takes it. With ``mutual_aid=False`` units
    serve only their own region.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import DataError
from planner.network.dispersion import draw_drive_times
from planner.simulate.calls import Calls
from planner.simulate.model import PSYCHIATRIC, SimulationModel, call_bands
from planner.simulate.settings import Duration, SimulationSettings

__all__ = ["CycleDraws", "EngineOutput", "draw_cycle", "run_engine"]

# origin of a dispatch
FROM_STATION, FROM_HOSPITAL, FROM_SCENE = 0, 1, 2
ORIGINS = ("station", "hospital", "scene")
# status of a call
SERVED, UNREACHABLE, LOST = 0, 1, 2
STATUSES = ("served", "unreachable", "lost")
_INF = math.inf


@dataclass(frozen=True, eq=False)
class CycleDraws:
    """The random part of each call's cycle, s (arrays in call order)."""

    handling_s: np.ndarray
    turnout_s: np.ndarray
    on_scene_s: np.ndarray
    transported: np.ndarray
    handover_s: np.ndarray
    drive_factor: np.ndarray
    transport_factor: np.ndarray


def draw_cycle(
    calls: Calls, settings: SimulationSettings, seed: np.random.SeedSequence
) -> CycleDraws:
    """Draw every call's random durations and outcomes (vectorised, seeded).

    Each quantity has its own stream (children of ``seed``), so changing one
    setting does not shift the draws of another. Recorded values of a
    replayed call (time on scene, transported) replace the draws.
    """
    t = calls.table
    n = len(t)
    prio = t["priority"].to_numpy()
    psy = t["psychiatric"].to_numpy(dtype=bool)
    g = [np.random.default_rng(s) for s in seed.spawn(7)]

    def by_priority(rng: np.random.Generator, durations: tuple[Duration, ...]) -> np.ndarray:
        out = np.empty(n)
        for p, dur in enumerate(durations, start=1):
            mask = prio == p
            out[mask] = dur.sample(rng, int(mask.sum()))
        return out

    handling = by_priority(g[0], settings.call_handling)
    turnout = settings.turnout.sample(g[1], n)
    on_scene = by_priority(g[2], settings.on_scene)
    on_scene[psy] = settings.psychiatric_on_scene.sample(g[2], int(psy.sum()))
    probability = np.asarray(settings.transport_probability)[prio - 1]
    probability = np.where(psy, settings.psychiatric_transport_probability, probability)
    transported = g[3].random(n) < probability
    handover = settings.handover.sample(g[4], n)
    # lognormal factors of median 1: the network time is the drive time's median,
    # as in the coverage dispersion (planner.network.dispersion)
    cv = settings.drive_time_cv or 0.0
    drive = draw_drive_times(np.ones(n), cv=cv, seed=g[5])
    transport = draw_drive_times(np.ones(n), cv=cv, seed=g[6])
    if "on_scene_s" in t:
        recorded = t["on_scene_s"].to_numpy(dtype=float)
        on_scene = np.where(np.isnan(recorded), on_scene, recorded)
    if "transported" in t:
        recorded = t["transported"].to_numpy(dtype=float)
        transported = np.where(np.isnan(recorded), transported, recorded > 0.5)
    return CycleDraws(handling, turnout, on_scene, transported, handover, drive, transport)


@dataclass(frozen=True, eq=False)
class EngineOutput:
    """Raw results of one run: the call log and counters."""

    log: pd.DataFrame
    max_queue: int
    unit_station: np.ndarray
    unit_slot: np.ndarray


def _codes(values: pd.Series, mapping: dict[object, int]) -> list[int]:
    out = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(-1)
        else:
            out.append(mapping.setdefault(v, len(mapping)))
    return out


class _Engine:
    """State of one run; see the module docstring. Hot paths use local names."""

    def __init__(
        self,
        model: SimulationModel,
        calls: Calls,
        draws: CycleDraws,
        settings: SimulationSettings,
        hospital_of_call: np.ndarray,
    ) -> None:
        self.settings = settings
        self.n = len(calls)
        self._init_calls(model, calls, draws, hospital_of_call)
        self._init_units(model)
        self._init_times(model)
        self._init_state(settings)

    def _init_calls(
        self,
        model: SimulationModel,
        calls: Calls,
        draws: CycleDraws,
        hospital_of_call: np.ndarray,
    ) -> None:
        """Every call's attributes and draws, as lists (fast to index one at a time)."""
        tab = calls.table
        self.point = tab["point"].to_numpy().tolist()
        self.prio = tab["priority"].to_numpy().astype(int).tolist()
        self.psy = tab["psychiatric"].to_numpy(dtype=bool).tolist()
        ready = tab["time_s"].to_numpy(dtype=float) + draws.handling_s
        self.ready = ready.tolist()
        self.order = np.argsort(ready, kind="stable").tolist()
        self.turnout = draws.turnout_s.tolist()
        self.on_scene = draws.on_scene_s.tolist()
        self.handover = draws.handover_s.tolist()
        self.fdrive = draws.drive_factor.tolist()
        band = call_bands(model.profile, tab["time_s"].to_numpy(dtype=float))
        self.cband = band.tolist()
        hosp = np.where(draws.transported, hospital_of_call, -1)
        self.hosp = hosp.tolist()
        pt = tab["point"].to_numpy()
        transport = np.zeros(self.n)
        for b, times in enumerate(model.band_times):
            go = (hosp >= 0) & (band == b)
            to_hospital = times.point_to_hospital[pt[go], hosp[go]]
            transport[go] = to_hospital * draws.transport_factor[go]
        self.transport = transport.tolist()
        self.servable = model.points["servable"].to_numpy(dtype=bool).tolist()

    def _init_units(self, model: SimulationModel) -> None:
        """Stations, units (station, slot, fleet), regions and shifts."""
        st = model.stations
        regions: dict[object, int] = {}
        self.sregion = _codes(st["region_code"], regions)
        self.pregion = _codes(model.points["region_code"], regions)
        self.sfleet = [PSYCHIATRIC if f == "psychiatric" else 0 for f in st["fleet"]]
        self.shifts = model.shifts.tolist()
        units = st["units"].tolist()
        self.ustation = [s for s, k in enumerate(units) for _ in range(k)]
        self.uslot = [j for k in units for j in range(k)]
        self.ufleet = [self.sfleet[s] for s in self.ustation]
        first = np.concatenate([[0], np.cumsum(units)]).astype(int).tolist()
        self.station_units = [list(range(first[s], first[s + 1])) for s in range(len(units))]
        self.has_pam = PSYCHIATRIC in self.sfleet
        self.pam_on = self._pam_on_duty(len(regions))

    def _init_times(self, model: SimulationModel) -> None:
        """Drive times in the layouts the dispatch reads (rows per point), one per time band.

        Bands that share one set of times (factors all 1) share these layouts too.
        """
        layouts: dict[tuple[int, int], tuple[Any, ...]] = {}
        for times, serve in zip(model.band_times, model.band_serve, strict=True):
            key = (id(times), id(serve))
            if key not in layouts:
                serve_T = np.ascontiguousarray(serve.T)
                layouts[key] = (
                    serve_T,
                    np.argsort(serve_T, axis=1, kind="stable"),
                    times.hospital_to_point,
                    times.point_to_station,
                    times.hospital_to_station.tolist(),
                    np.ascontiguousarray(
                        np.vstack([times.station_to_point, times.hospital_to_point]).T
                    ),
                    np.hstack([times.point_to_station, times.point_to_hospital]),
                )
        per_band = [
            layouts[(id(t), id(s))] for t, s in zip(model.band_times, model.band_serve, strict=True)
        ]
        (
            self.serve_T,
            self.rank,
            self.hosp_to_point,
            self.point_to_station,
            self.hosp_to_station,
            self.hubs_to_point_T,
            self.point_to_hubs,
        ) = (list(column) for column in zip(*per_band, strict=True))

    def _init_state(self, settings: SimulationSettings) -> None:
        """Units all home and free, no queue, an empty log."""
        nu = len(self.ustation)
        self.busy = [False] * nu
        self.home_at = [-_INF] * nu
        self.ret_start = [0.0] * nu
        self.ret_len = [0.0] * nu
        self.next_len = [0.0] * nu
        self.ret_hosp = [-1] * nu
        self.ret_scene = [-1] * nu
        self.via: list[tuple[int, np.ndarray] | None] = [None] * nu
        self.last_call = [-1] * nu
        self.away: list[list[int]] = [[], []]
        self.in_away = [False] * nu
        self.factor = settings.return_time_factor
        self.mutual = settings.mutual_aid
        self.wait_prios = frozenset(settings.psychiatric_wait_priorities)
        self.heap: list[tuple[float, int, int]] = []
        self.seq = 0
        self.queue: list[tuple[int, float, int]] = []
        self.max_queue = 0
        nan, n = math.nan, self.n
        self.t_dispatch = [nan] * n
        self.unit = [-1] * n
        self.origin = [-1] * n
        self.t_arrive = [nan] * n
        self.t_leave = [nan] * n
        self.t_hospital = [nan] * n
        self.t_clear = [nan] * n
        self.t_home = [nan] * n
        self.status = [SERVED] * n

    def _pam_on_duty(self, n_regions: int) -> list[list[bool]]:
        """[region + 1][hour of week]: some psychiatric unit on duty (row 0: any region)."""
        table = [[False] * 168 for _ in range(n_regions + 1)]
        for s, fleet in enumerate(self.sfleet):
            if fleet != PSYCHIATRIC:
                continue
            for hw in range(168):
                if self.shifts[s][hw] > 0:
                    table[0][hw] = True
                    table[self.sregion[s] + 1][hw] = True
        return table

    # -- dispatch -----------------------------------------------------------
    def _from_stop(self, u: int, d: int, b: int) -> float:
        """Drive time from the unit's last stop (hospital or scene) to point d in band b, s."""
        h = self.ret_hosp[u]
        if h >= 0:
            return float(self.hosp_to_point[b][h, d])
        cached = self.via[u]
        if cached is None or cached[0] != b:
            cached = (b, self.point_to_hubs[b][self.ret_scene[u]])
            self.via[u] = cached
        return float((cached[1] + self.hubs_to_point_T[b][d]).min())

    def _nearest(self, c: int, d: int, t: float, fleet: int) -> tuple[int, float, int]:
        """(unit, drive s, origin) of the best free unit of a fleet on duty, or (-1, inf, 0).

        Units at their stations are searched first, nearest station first
        (stations sorted by drive time to the point), then units on their way
        home, which win only if they would arrive earlier.
        """
        hw = int(t // 3600.0) % 168
        b = self.cband[c]
        row = self.serve_T[b][d].tolist()
        region = self.pregion[d]
        mutual = self.mutual
        shifts, sregion = self.shifts, self.sregion
        busy, home_at, sfleet = self.busy, self.home_at, self.sfleet
        turn = self.turnout[c]
        best, bu, borigin = _INF, -1, FROM_STATION
        for s in self.rank[b][d].tolist():
            rs = row[s]
            if rs == _INF:
                break
            if sfleet[s] != fleet or (not mutual and sregion[s] != region):
                continue
            for u in self.station_units[s][: shifts[s][hw]]:
                if not busy[u] and t >= home_at[u]:
                    best, bu = rs + turn, u
                    break
            if bu >= 0:
                break
        away = self.away[fleet]
        if not away:
            return bu, (best - turn if bu >= 0 else _INF), borigin
        best_away, au, aorigin = best, -1, FROM_STATION
        ustation, uslot, ret_len, ret_start, ret_hosp = (
            self.ustation,
            self.uslot,
            self.ret_len,
            self.ret_start,
            self.ret_hosp,
        )
        hosp_to_point = self.hosp_to_point[b]
        for u in tuple(away):
            if t >= home_at[u]:
                away.remove(u)
                self.in_away[u] = False
                continue
            s = ustation[u]
            rs = row[s]
            if rs == _INF or uslot[u] >= shifts[s][hw] or (not mutual and sregion[s] != region):
                continue
            f = (t - ret_start[u]) / ret_len[u]
            if f * rs >= best_away:
                continue
            h = ret_hosp[u]
            a = float(hosp_to_point[h, d]) if h >= 0 else self._from_stop(u, d, b)
            est = (1.0 - f) * a + f * rs
            if est < best_away:
                best_away, au = est, u
                aorigin = FROM_HOSPITAL if h >= 0 else FROM_SCENE
        if au >= 0:
            return au, best_away, aorigin
        return bu, (best - turn if bu >= 0 else _INF), borigin

    def _choose(self, c: int, t: float) -> tuple[int, float, int]:
        """The unit for call c at time t: (-1, ...) if it must wait."""
        d = self.point[c]
        if self.psy[c] and self.has_pam:
            u, drive, origin = self._nearest(c, d, t, PSYCHIATRIC)
            if u >= 0:
                return u, drive, origin
            if self.prio[c] in self.wait_prios and self._pam_duty(d, t):
                return -1, _INF, 0
        return self._nearest(c, d, t, 0)

    def _pam_duty(self, d: int, t: float) -> bool:
        hw = int(t // 3600.0) % 168
        row = 0 if self.mutual else self.pregion[d] + 1
        return self.pam_on[row][hw]

    def _start(self, c: int, u: int, t: float, drive: float, origin: int) -> None:
        """Send unit u to call c at time t; schedule the time it clears."""
        s = self.ustation[u]
        d = self.point[c]
        if self.in_away[u]:
            self.away[self.ufleet[u]].remove(u)
            self.in_away[u] = False
        if origin == FROM_STATION:
            depart = t + self.turnout[c]
        else:
            depart = t
            prev = self.last_call[u]
            if prev >= 0:
                self.t_home[prev] = math.nan
        arrive = depart + drive * self.fdrive[c]
        leave = arrive + self.on_scene[c]
        h = self.hosp[c]
        b = self.cband[c]
        if h >= 0:
            at_hospital = leave + self.transport[c]
            clear = at_hospital + self.handover[c]
            self.t_hospital[c] = at_hospital
            self.next_len[u] = self.factor * self.hosp_to_station[b][h][s]
        else:
            clear = leave
            self.next_len[u] = self.factor * float(self.point_to_station[b][d, s])
        self.ret_hosp[u] = h
        self.ret_scene[u] = d
        self.via[u] = None
        self.busy[u] = True
        self.last_call[u] = c
        self.t_dispatch[c] = t
        self.unit[c] = u
        self.origin[c] = origin
        self.t_arrive[c] = arrive
        self.t_leave[c] = leave
        self.t_clear[c] = clear
        heapq.heappush(self.heap, (clear, self.seq, u))
        self.seq += 1

    # -- events -------------------------------------------------------------
    def _call_ready(self, c: int, t: float) -> None:
        if not self.servable[self.point[c]]:
            self.status[c] = UNREACHABLE
            return
        u, drive, origin = self._choose(c, t)
        if u >= 0:
            self._start(c, u, t, drive, origin)
        elif self.settings.queue_calls:
            bisect.insort(self.queue, (self.prio[c], t, c))
            self._check_queue(t)
        else:
            self.status[c] = LOST

    def _check_queue(self, t: float) -> None:
        size = len(self.queue)
        self.max_queue = max(self.max_queue, size)
        if size > self.settings.max_queue:
            raise DataError(
                f"{size} calls wait for a unit at day {t / 86400:.1f}: the load is above "
                "what the units on duty can serve and the queue grows without bound; add "
                "units or shifts, or lower the call volume"
            )

    def _unit_clear(self, u: int, t: float) -> None:
        self.busy[u] = False
        length = self.next_len[u]
        self.ret_start[u] = t
        self.ret_len[u] = length
        self.home_at[u] = t + length
        self.t_home[self.last_call[u]] = t + length
        if length > 0:
            self.away[self.ufleet[u]].append(u)
            self.in_away[u] = True
        if self.queue:
            self._serve_queue(u, t)

    def _serve_queue(self, u: int, t: float) -> None:
        """Give the freed unit u the first queued call it may serve."""
        s = self.ustation[u]
        hw = int(t // 3600.0) % 168
        if self.uslot[u] >= self.shifts[s][hw]:
            return
        pam = self.ufleet[u] == PSYCHIATRIC
        for i, (_, _, c) in enumerate(self.queue):
            d = self.point[c]
            serve_T = self.serve_T[self.cband[c]]
            if not self.mutual and self.sregion[s] != self.pregion[d]:
                continue
            if serve_T[d, s] == _INF:
                continue
            if pam and not self.psy[c]:
                continue
            if (
                not pam
                and self.psy[c]
                and self.prio[c] in self.wait_prios
                and self.has_pam
                and self._pam_duty(d, t)
            ):
                continue
            if self.ret_len[u] > 0:
                drive, origin = self._from_stop(u, d, self.cband[c]), self._stop_origin(u)
            else:
                drive, origin = float(serve_T[d, s]), FROM_STATION
            if drive == _INF:
                continue
            del self.queue[i]
            self._start(c, u, t, drive, origin)
            return

    def _stop_origin(self, u: int) -> int:
        return FROM_HOSPITAL if self.ret_hosp[u] >= 0 else FROM_SCENE

    def _shift_change(self, t: float) -> None:
        """At an hour where shifts change: try every waiting call again, in queue order."""
        waiting = self.queue
        self.queue = []
        for entry in waiting:
            c = entry[2]
            u, drive, origin = self._choose(c, t)
            if u >= 0:
                self._start(c, u, t, drive, origin)
            else:
                self.queue.append(entry)

    def _shift_boundaries(self) -> Iterator[float]:
        """Times (s) of the hour boundaries where any station's units on duty change."""
        table = np.asarray(self.shifts).reshape(-1, 168)
        changes = [h for h in range(168) if (table[:, h] != table[:, h - 1]).any()]
        if not changes:
            return
        week = 0
        while True:
            for h in changes:
                yield (week * 168 + h) * 3600.0
            week += 1

    def run(self) -> None:
        """Process every call to the end (all served, lost or unreachable)."""
        heap, ready, order, n = self.heap, self.ready, self.order, self.n
        boundaries = self._shift_boundaries()
        next_shift = next(boundaries, _INF)
        idle_since = _INF
        i = 0
        while True:
            t_call = ready[order[i]] if i < n else _INF
            t_unit = heap[0][0] if heap else _INF
            t_next = t_call if t_call < t_unit else t_unit
            if self.queue:
                if next_shift == _INF and t_next == _INF:
                    self._stalled()
                if next_shift <= t_next:
                    if t_next == _INF:
                        idle_since = min(idle_since, next_shift)
                        if next_shift > idle_since + 7 * 86400.0:
                            self._stalled()
                    self._shift_change(next_shift)
                    next_shift = next(boundaries, _INF)
                    continue
            else:
                if t_next == _INF:
                    break
                while next_shift <= t_next:
                    next_shift = next(boundaries, _INF)
            if t_unit <= t_call:
                t, _, u = heapq.heappop(heap)
                self._unit_clear(u, t)
            else:
                self._call_ready(order[i], t_call)
                i += 1

    def _stalled(self) -> None:
        """Calls wait and nothing else will happen: no unit on duty may ever serve them."""
        c = self.queue[0][2]
        raise DataError(
            f"{len(self.queue)} calls wait and no unit on duty may ever serve them (first: call "
            f"{c} at point {self.point[c]}): check the shifts, the psychiatric fleet's hours "
            "and mutual aid"
        )

    def output(self, calls: Calls) -> EngineOutput:
        tab = calls.table
        log = pd.DataFrame(
            {
                "call": np.arange(self.n),
                "point": tab["point"].to_numpy(),
                "priority": tab["priority"].to_numpy(),
                "psychiatric": tab["psychiatric"].to_numpy(dtype=bool),
                "t_call": tab["time_s"].to_numpy(dtype=float),
                "t_ready": np.asarray(self.ready),
                "t_dispatch": np.asarray(self.t_dispatch),
                "t_arrive": np.asarray(self.t_arrive),
                "t_leave_scene": np.asarray(self.t_leave),
                "t_hospital": np.asarray(self.t_hospital),
                "t_clear": np.asarray(self.t_clear),
                "t_home": np.asarray(self.t_home),
                "unit": np.asarray(self.unit, dtype=np.int64),
                "origin": np.asarray(self.origin, dtype=np.int64),
                "hospital": np.asarray(self.hosp, dtype=np.int64),
                "status": np.asarray(self.status, dtype=np.int64),
            }
        )
        return EngineOutput(
            log=log,
            max_queue=self.max_queue,
            unit_station=np.asarray(self.ustation, dtype=np.int64),
            unit_slot=np.asarray(self.uslot, dtype=np.int64),
        )


def run_engine(
    model: SimulationModel,
    calls: Calls,
    draws: CycleDraws,
    settings: SimulationSettings,
    hospital_of_call: np.ndarray,
) -> EngineOutput:
    """Run the event loop over a call stream (see the module docstring)."""
    engine = _Engine(model, calls, draws, settings, hospital_of_call)
    engine.run()
    return engine.output(calls)
