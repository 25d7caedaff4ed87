"""The simulation model of :mod:`planner.simulate`, written plainly in SimPy.

This is the reference the benchmark times planner's event loop against: the
same system and rules, written the way a Python user would write them with
SimPy (https://simpy.readthedocs.io), the library most reach for. One
process per call walks through the unit cycle with ``timeout`` events; each
unit's drive home is a process that a new dispatch interrupts; a process
retries waiting calls when shifts change. Dispatch loops over the units in
plain Python.

It reads the same inputs as planner's engine (the model, the call stream and
the per-call random draws of :func:`planner.simulate.engine.draw_cycle`), so
both must produce the same call log, timestamp for timestamp. Only used by
``benchmarks/simulate.py``; needs ``pip install simpy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from planner.simulate import SimulationModel, SimulationSettings
from planner.simulate.calls import Calls
from planner.simulate.engine import CycleDraws

INF = math.inf
STATION, HOSPITAL, SCENE = 0, 1, 2
#: The timestamps of the call log both engines write.
LOG_COLUMNS = (
    "t_ready",
    "t_dispatch",
    "t_arrive",
    "t_leave_scene",
    "t_hospital",
    "t_clear",
    "t_home",
)


@dataclass
class Unit:
    index: int
    station: int
    slot: int
    fleet: str
    region: Any
    busy: bool = False
    home: bool = True
    ret_start: float = 0.0
    ret_len: float = 0.0
    ret_hosp: int = -1
    ret_scene: int = -1
    returning: Any = None
    last_call: int = -1
    log: dict[str, Any] = field(default_factory=dict)


class SimpyAmbulances:
    """The ambulance system as SimPy processes (see the module docstring)."""

    def __init__(
        self,
        model: SimulationModel,
        calls: Calls,
        draws: CycleDraws,
        settings: SimulationSettings,
        hospital_of_call: np.ndarray,
    ) -> None:
        self.env = simpy.Environment()
        self.m = model
        self.s = settings
        self.d = draws
        t = calls.table
        self.t_call = t["time_s"].to_numpy(dtype=float)
        self.point = t["point"].to_numpy()
        self.prio = t["priority"].to_numpy()
        self.psy = t["psychiatric"].to_numpy(dtype=bool)
        self.hosp = np.where(draws.transported, hospital_of_call, -1)
        st = model.stations
        self.units: list[Unit] = []
        for s in range(len(st)):
            for k in range(int(st["units"][s])):
                self.units.append(Unit(len(self.units), s, k, st["fleet"][s], st["region_code"][s]))
        self.point_region = model.points["region_code"].to_numpy(dtype=object)
        self.servable = model.points["servable"].to_numpy(dtype=bool)
        self.serve = model.serve_times
        self.queue: list[tuple[int, float, int, simpy.Event]] = []
        n = len(t)
        self.out = {k: np.full(n, np.nan) for k in LOG_COLUMNS}
        self.out_unit = np.full(n, -1)

    # -- rules --------------------------------------------------------------
    def on_duty(self, u: Unit) -> bool:
        hour = int(self.env.now // 3600) % 168
        return u.slot < self.m.shifts[u.station][hour]

    def allowed(self, u: Unit, d: int) -> bool:
        return self.s.mutual_aid or u.region == self.point_region[d]

    def from_stop(self, u: Unit, d: int) -> float:
        times = self.m.times
        if u.ret_hosp >= 0:
            return float(times.hospital_to_point[u.ret_hosp, d])
        via = np.hstack([times.point_to_station[u.ret_scene], times.point_to_hospital[u.ret_scene]])
        hubs = np.hstack([times.station_to_point[:, d], times.hospital_to_point[:, d]])
        return float((via + hubs).min())

    def estimate(self, u: Unit, d: int, c: int) -> tuple[float, float, int]:
        """(arrival time from now, drive, origin) of a free unit."""
        rs = float(self.serve[u.station, d])
        if u.home:
            return rs + self.d.turnout_s[c], rs, STATION
        f = (self.env.now - u.ret_start) / u.ret_len
        drive = (1 - f) * self.from_stop(u, d) + f * rs
        if rs == INF:
            drive = INF
        return drive, drive, HOSPITAL if u.ret_hosp >= 0 else SCENE

    def nearest(self, c: int, fleet: str) -> tuple[Unit | None, float, int]:
        d = int(self.point[c])
        best: tuple[Unit | None, float, int] = (None, INF, STATION)
        best_time = INF
        for u in self.units:
            if u.fleet != fleet or u.busy or not self.on_duty(u) or not self.allowed(u, d):
                continue
            arrival, drive, origin = self.estimate(u, d, c)
            if arrival < best_time:
                best_time, best = arrival, (u, drive, origin)
        return best

    def pam_on_duty(self, d: int) -> bool:
        return any(
            u.fleet == "psychiatric" and self.on_duty(u) and self.allowed(u, d) for u in self.units
        )

    def choose(self, c: int) -> tuple[Unit | None, float, int]:
        if self.psy[c] and any(u.fleet == "psychiatric" for u in self.units):
            found = self.nearest(c, "psychiatric")
            if found[0] is not None:
                return found
            if self.prio[c] in self.s.psychiatric_wait_priorities and self.pam_on_duty(
                int(self.point[c])
            ):
                return None, INF, STATION
        return self.nearest(c, "ambulance")

    def may_serve(self, u: Unit, c: int) -> bool:
        d = int(self.point[c])
        if not self.allowed(u, d) or self.serve[u.station, d] == INF:
            return False
        if u.fleet == "psychiatric":
            return bool(self.psy[c])
        waits = self.psy[c] and self.prio[c] in self.s.psychiatric_wait_priorities
        return not (waits and self.pam_on_duty(d))

    # -- processes ----------------------------------------------------------
    def source(self) -> Any:
        ready = self.t_call + self.d.handling_s
        for c in np.argsort(ready, kind="stable"):
            yield self.env.timeout(ready[c] - self.env.now)
            self.env.process(self.call(int(c)))

    def call(self, c: int) -> Any:
        env = self.env
        self.out["t_ready"][c] = env.now
        if not self.servable[self.point[c]]:
            return  # no unit can reach the place and get home: logged unreachable
        unit, drive, origin = self.choose(c)
        if unit is None:
            assigned = env.event()
            self.queue.append((int(self.prio[c]), env.now, c, assigned))
            self.queue.sort(key=lambda q: q[:3])
            unit, drive, origin = yield assigned
        yield from self.serve_call(c, unit, drive, origin)

    def serve_call(self, c: int, u: Unit, drive: float, origin: int) -> Any:
        env = self.env
        u.busy = True
        if u.returning is not None and u.returning.is_alive:
            u.returning.interrupt()
            self.out["t_home"][u.last_call] = np.nan
        u.home = False
        u.last_call = c
        self.out["t_dispatch"][c] = env.now
        self.out_unit[c] = u.index
        if origin == STATION:
            yield env.timeout(self.d.turnout_s[c])
        yield env.timeout(drive * self.d.drive_factor[c])
        self.out["t_arrive"][c] = env.now
        yield env.timeout(self.d.on_scene_s[c])
        self.out["t_leave_scene"][c] = env.now
        d, h = int(self.point[c]), int(self.hosp[c])
        times = self.m.times
        if h >= 0:
            transport = times.point_to_hospital[d, h] * self.d.transport_factor[c]
            yield env.timeout(transport)
            self.out["t_hospital"][c] = env.now
            yield env.timeout(self.d.handover_s[c])
            length = self.s.return_time_factor * times.hospital_to_station[h, u.station]
        else:
            length = self.s.return_time_factor * times.point_to_station[d, u.station]
        self.out["t_clear"][c] = env.now
        self.out["t_home"][c] = env.now + length
        u.busy, u.home = False, length == 0
        u.ret_start, u.ret_len, u.ret_hosp, u.ret_scene = env.now, length, h, d
        if length > 0:
            u.returning = env.process(self.drive_home(u, length))
        self.give_queued_call(u)

    def drive_home(self, u: Unit, length: float) -> Any:
        try:
            yield self.env.timeout(length)
            u.home = True
        except simpy.Interrupt:
            pass

    def give_queued_call(self, u: Unit) -> None:
        if not self.on_duty(u):
            return
        for i, (_, _, c, assigned) in enumerate(self.queue):
            if not self.may_serve(u, c):
                continue
            d = int(self.point[c])
            if u.home:
                drive, origin = float(self.serve[u.station, d]), STATION
            else:
                drive, origin = self.from_stop(u, d), (HOSPITAL if u.ret_hosp >= 0 else SCENE)
            if drive == INF:
                continue
            del self.queue[i]
            u.busy = True  # taken now, before the waiting call's process resumes
            assigned.succeed((u, drive, origin))
            return

    def shift_changes(self) -> Any:
        table = self.m.shifts
        changes = [h for h in range(168) if (table[:, h] != table[:, h - 1]).any()]
        if not changes:
            return
        week = 0
        while True:
            for h in changes:
                yield self.env.timeout((week * 168 + h) * 3600.0 - self.env.now)
                self.retry_queue()
            week += 1

    def retry_queue(self) -> None:
        waiting, self.queue = self.queue, []
        for entry in waiting:
            unit, drive, origin = self.choose(entry[2])
            if unit is None:
                self.queue.append(entry)
            else:
                unit.busy = True
                entry[3].succeed((unit, drive, origin))

    def run(self) -> dict[str, np.ndarray]:
        self.env.process(self.source())
        self.env.process(self.shift_changes())
        horizon = float(np.nanmax(self.t_call + self.d.handling_s)) + 30 * 86400
        self.env.run(until=horizon)
        return {**self.out, "unit": self.out_unit}
