"""One replication (:func:`simulate`), many (:func:`run_replications`), and comparisons.

Replication ``r`` of a run with ``settings.seed = s`` draws its calls (when
they are generated) and every call's random durations from
``numpy.random.SeedSequence(s, spawn_key=(r,))``. Two systems run with the
same settings therefore see exactly the same calls and patients in every
replication (common random numbers), and their differences are measured
pairwise, replication by replication.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from planner.distributed import BlockExecutor, InProcessExecutor
from planner.errors import DataError, InputFileError, ParameterError
from planner.simulate.calls import Calls, generate_calls
from planner.simulate.engine import (
    ORIGINS,
    SERVED,
    STATUSES,
    CycleDraws,
    draw_cycle,
    run_engine,
)
from planner.simulate.kpis import (
    GROUP_KEYS,
    confidence_tables,
    kpi_tables,
    station_table,
    summary_row,
    unit_table,
)
from planner.simulate.model import SimulationModel, call_bands
from planner.simulate.settings import SimulationSettings

__all__ = [
    "ReplicationsResult",
    "SimulationResult",
    "compare_psychiatric",
    "compare_systems",
    "offered_load",
    "paired_differences",
    "replication_seed",
    "run_replications",
    "simulate",
]


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """One replication.

    Attributes
    ----------
    log
        One row per call (counted or not), every timestamp in s from time 0:
        ``t_call`` (queue entry), ``t_ready`` (handled, ready for dispatch),
        ``t_dispatch``, ``t_arrive``, ``t_leave_scene``, ``t_hospital``,
        ``t_clear`` (unit free), ``t_home`` (back at the station; NaN if sent
        again first); ``response_s`` (``t_arrive - t_call``), ``wait_s``
        (``t_dispatch - t_ready``), ``waited``, the ``unit``, its ``station``
        and ``fleet``, ``origin`` (``station``, ``hospital`` or ``scene``: where
        the unit was sent from), ``hospital``, ``status`` (``served``,
        ``unreachable``, ``lost``) and ``counted`` (entered after the warm-up).
    tables
        ``summary``, ``total``, ``region``, ``municipality`` (priority 0 = all),
        ``units`` and ``stations``.
    events
        Model events processed: queue entry, dispatch, arrival, departure
        from the scene, arrival at and clearing at hospital, back at station.
    seconds
        Wall-clock time of the event loop, s.
    max_queue
        Most calls waiting at once.
    """

    log: pd.DataFrame
    tables: Mapping[str, pd.DataFrame]
    events: int
    seconds: float
    max_queue: int


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed sequence of one replication (see the module docstring)."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def _hospital_of_call(model: SimulationModel, calls: Calls) -> np.ndarray:
    point = calls.table["point"].to_numpy()
    nearest = model.points["hospital"].to_numpy()[point]
    if "hospital" not in calls.table or calls.table["hospital"].isna().all():
        return nearest
    names = {n.casefold(): i for i, n in enumerate(model.hospitals)}
    given = calls.table["hospital"].to_numpy(dtype=object)
    rows = calls.table.get("source_row", pd.Series(np.arange(1, len(given) + 1))).to_numpy()
    out = nearest.copy()
    problems = []
    for i in np.flatnonzero(pd.notna(given)):
        h = names.get(str(given[i]).casefold())
        if h is None:
            problems.append(
                f"{calls.source} row {rows[i]}: hospital {given[i]!r} is not one of the "
                f"hospitals ({', '.join(model.hospitals[:5])})"
            )
        elif not np.isfinite(model.times.point_to_hospital[point[i], h]):
            problems.append(f"{calls.source} row {rows[i]}: hospital {given[i]!r} is not reachable")
        else:
            out[i] = h
    if problems:
        raise InputFileError("\n".join(problems[:10]))
    return out


def offered_load(
    model: SimulationModel, calls: Calls, draws: CycleDraws, hospital_of_call: np.ndarray
) -> tuple[float, float]:
    """(offered load, mean units on duty), both in erlangs.

    The load is a lower bound: every call's time on scene, transport and
    handover plus the drive from the nearest station (in the time band of the
    call), summed and divided by the period; the drive home is left out.
    """
    pt = calls.table["point"].to_numpy()
    band = call_bands(model.profile, calls.table["time_s"].to_numpy(dtype=float))
    nearest = np.zeros(len(pt))
    transport = np.zeros(len(pt))
    h = np.maximum(hospital_of_call, 0)
    for b, (times, serve) in enumerate(zip(model.band_times, model.band_serve, strict=True)):
        mine = band == b
        if len(serve):
            nearest[mine] = np.min(serve, axis=0)[pt[mine]]
        go = mine & draws.transported & (hospital_of_call >= 0)
        transport[go] = (
            times.point_to_hospital[pt[go], h[go]] * draws.transport_factor[go]
            + draws.handover_s[go]
        )
    nearest = np.where(np.isfinite(nearest), nearest, 0.0) * draws.drive_factor
    work = float(np.sum(nearest + draws.on_scene_s + transport))
    load = work / max(calls.horizon_s, 1.0)
    return load, float(model.shifts.sum(axis=0).mean())


def simulate(
    model: SimulationModel,
    calls: Calls,
    settings: SimulationSettings,
    *,
    replication: int = 0,
) -> SimulationResult:
    """Simulate one replication of a call stream through the system.

    Parameters
    ----------
    model
        From :func:`planner.simulate.build_model`.
    calls
        From :func:`planner.simulate.generate_calls` or
        :func:`planner.simulate.read_calls`; their points must be the model's.
    settings
        The settings (cycle, dispatch, outputs).
    replication
        Which replication's random numbers to draw (see the module docstring).

    Returns
    -------
    SimulationResult

    Raises
    ------
    DataError
        The offered load is at or above the units on duty (the queue would
        grow without bound), or the queue passes ``settings.max_queue`` while
        running.
    """
    if len(calls) and calls.table["point"].max() >= len(model.points):
        raise ParameterError("calls: a call's point is not a point of the model")
    seed = replication_seed(settings.seed, replication).spawn(2)[1]
    draws = draw_cycle(calls, settings, seed)
    hospital = _hospital_of_call(model, calls)
    if settings.queue_calls:
        load, capacity = offered_load(model, calls, draws, hospital)
        if load >= capacity:
            raise DataError(
                f"the offered load is at least {load:.1f} erlangs (unit-hours of work per hour), "
                f"but on average only {capacity:.1f} units are on duty: the queue would grow "
                "without bound; add units or shifts, or lower the call volume"
            )
    started = time.perf_counter()
    out = run_engine(model, calls, draws, settings, hospital)
    seconds = time.perf_counter() - started
    log = _finish_log(out.log, model, settings)
    window = (settings.warmup_s, calls.horizon_s)
    counted = log.loc[log["counted"].to_numpy()]
    units = unit_table(log, model, out.unit_station, out.unit_slot, window=window)
    tables = kpi_tables(counted, settings.thresholds_min)
    tables["units"] = units
    tables["stations"] = station_table(units)
    measured_days = max(window[1] - window[0], 0.0) / 86400.0
    summary = summary_row(counted, units, model, settings, measured_days=measured_days)
    summary["max_queue"] = float(out.max_queue)
    tables = {"summary": summary, **tables}
    return SimulationResult(
        log=log,
        tables=MappingProxyType(tables),
        events=_count_events(log),
        seconds=seconds,
        max_queue=out.max_queue,
    )


def _finish_log(
    log: pd.DataFrame, model: SimulationModel, settings: SimulationSettings
) -> pd.DataFrame:
    """Add response and wait times, the unit's station, areas and labels."""
    st, pts = model.stations, model.points
    units = st["units"].to_numpy()
    unit_station = np.repeat(np.arange(len(st)), units)
    u = log["unit"].to_numpy()
    has = u >= 0
    s = np.where(has, unit_station[np.maximum(u, 0)], -1)
    pt = log["point"].to_numpy()
    out = log.copy()
    out["response_s"] = out["t_arrive"] - out["t_call"]
    out["wait_s"] = out["t_dispatch"] - out["t_ready"]
    out["waited"] = (out["wait_s"] > 0).to_numpy()
    out["station"] = np.where(has, st["name"].to_numpy(dtype=object)[np.maximum(s, 0)], None)
    out["fleet"] = np.where(has, st["fleet"].to_numpy(dtype=object)[np.maximum(s, 0)], None)
    for level in ("region", "municipality"):
        code = f"{level}_code"
        point_code = pts[code].to_numpy(dtype=object)[pt]
        station_code = st[code].to_numpy(dtype=object)[np.maximum(s, 0)]
        known = has & pd.notna(point_code) & pd.notna(station_code)
        other = np.full(len(out), np.nan)
        other[known] = (point_code[known] != station_code[known]).astype(float)
        out[code] = point_code
        out[f"from_other_{level}"] = other
    origin = out["origin"].to_numpy()
    out["origin"] = np.where(
        origin >= 0, np.asarray(ORIGINS, dtype=object)[np.maximum(origin, 0)], None
    )
    hosp = out["hospital"].to_numpy()
    names = np.asarray((*model.hospitals, ""), dtype=object)
    out["hospital"] = np.where(hosp >= 0, names[hosp], None)
    out["transported"] = hosp >= 0
    out["status"] = np.asarray(STATUSES, dtype=object)[out["status"].to_numpy()]
    out["point_id"] = pts["point_id"].to_numpy(dtype=object)[pt]
    out["counted"] = (out["t_call"] >= settings.warmup_s).to_numpy()
    return out


def _count_events(log: pd.DataFrame) -> int:
    served = (log["status"] == STATUSES[SERVED]).to_numpy()
    transported = log["transported"].to_numpy()
    home = np.isfinite(log["t_home"].to_numpy())
    # queue entry and (for served calls) dispatch, arrival, leaving the scene,
    # clearing; transported calls add arrival at hospital; most add home
    return int(len(log) + 4 * served.sum() + (served & transported).sum() + home.sum())


# --------------------------------------------------------------------------
# Replications
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ReplicationsResult:
    """R independent replications of one system.

    Attributes
    ----------
    tables
        Every table of :class:`SimulationResult`, averaged over the
        replications, each figure ``x`` with ``x_ci_low`` and ``x_ci_high``.
    per_replication
        Each replication's own tables (for paired comparisons).
    logs
        The call logs of the first ``keep_logs`` replications.
    events, seconds
        Events and event-loop seconds (wall clock) of each replication.
    cpu_seconds
        CPU seconds of each replication where it ran (calls, draws, loop and
        tables): a measure that other processes on a shared machine do not
        inflate.
    settings
        The settings used.
    """

    tables: Mapping[str, pd.DataFrame]
    per_replication: tuple[Mapping[str, pd.DataFrame], ...]
    logs: tuple[pd.DataFrame, ...]
    events: tuple[int, ...]
    seconds: tuple[float, ...]
    cpu_seconds: tuple[float, ...]
    settings: SimulationSettings


def _replication_block(shared: tuple[Any, ...], task: tuple[int, bool]) -> tuple[Any, ...]:
    """One replication on a worker: (tables, log or None, events, seconds, CPU seconds)."""
    model, settings, calls = shared
    r, keep_log = task
    cpu = time.process_time()
    if calls is None:
        calls = generate_calls(model, settings, seed=replication_seed(settings.seed, r).spawn(2)[0])
    result = simulate(model, calls, settings, replication=r)
    log = result.log if keep_log else None
    return dict(result.tables), log, result.events, result.seconds, time.process_time() - cpu


def run_replications(
    model: SimulationModel,
    settings: SimulationSettings,
    *,
    calls: Calls | None = None,
    executor: BlockExecutor | None = None,
    keep_logs: int = 1,
    progress: bool = False,
    desc: str = "replications",
) -> ReplicationsResult:
    """Run ``settings.replications`` independent replications, with confidence intervals.

    Parameters
    ----------
    model
        The system.
    settings
        The settings; ``replications`` and ``seed`` say how many and which.
    calls
        Replayed calls, the same in every replication (their durations are
        drawn anew); None generates a new stream per replication.
    executor
        Where replications run (:func:`planner.distributed.make_executor`): in
        this process by default. Results are identical either way.
    keep_logs
        Keep the call logs of this many replications (a year of a large
        region is about 40 MB each).
    progress, desc
        Show a progress bar over the replications, labelled ``desc``.

    Returns
    -------
    ReplicationsResult
    """
    if isinstance(keep_logs, bool) or not isinstance(keep_logs, int) or keep_logs < 0:
        raise ParameterError(f"keep_logs = {keep_logs!r}: must be a whole number >= 0")
    executor = executor if executor is not None else InProcessExecutor()
    tasks = [(r, (r, r < keep_logs)) for r in range(settings.replications)]
    results: list[Any] = [None] * len(tasks)
    with tqdm(total=len(tasks), desc=desc, unit="replication", disable=not progress) as bar:
        shared = (model, settings, calls)
        for index, value in executor.map_blocks(_replication_block, shared, tasks):
            results[index] = value
            bar.update(1)
    per = tuple(MappingProxyType(r[0]) for r in results)
    return ReplicationsResult(
        tables=MappingProxyType(confidence_tables(per, settings.confidence)),
        per_replication=per,
        logs=tuple(r[1] for r in results if r[1] is not None),
        events=tuple(int(r[2]) for r in results),
        seconds=tuple(float(r[3]) for r in results),
        cpu_seconds=tuple(float(r[4]) for r in results),
        settings=settings,
    )


def paired_differences(
    before: ReplicationsResult, after: ReplicationsResult, *, table: str = "summary"
) -> pd.DataFrame:
    """After minus before, replication by replication, with a confidence interval.

    The two runs must have the same settings' seed and replications (common
    random numbers). Rows are the table's groups and figures.

    Returns
    -------
    pandas.DataFrame
        The table's key columns, ``figure``, ``before``, ``after``,
        ``difference`` (mean of the paired differences), ``difference_ci_low``
        and ``difference_ci_high``.
    """
    if (before.settings.seed, before.settings.replications) != (
        after.settings.seed,
        after.settings.replications,
    ):
        raise ParameterError("paired_differences: the runs need the same seed and replications")
    keys = list(GROUP_KEYS.get(table, ()))
    frames = []
    for r, (b, a) in enumerate(zip(before.per_replication, after.per_replication, strict=True)):
        tb, ta = b[table], a[table]
        figures = [c for c in tb.columns if c not in keys and pd.api.types.is_numeric_dtype(tb[c])]
        long_b = tb.melt(id_vars=keys, value_vars=figures, var_name="figure", value_name="before")
        long_a = ta.melt(id_vars=keys, value_vars=figures, var_name="figure", value_name="after")
        frames.append(long_b.merge(long_a, on=[*keys, "figure"], how="outer").assign(_rep=r))
    stacked = pd.concat(frames, ignore_index=True)
    stacked["difference"] = stacked["after"] - stacked["before"]
    grouped = stacked.groupby([*keys, "figure"], sort=False, dropna=False)
    out = grouped[["before", "after", "difference"]].mean()
    sd = grouped["difference"].std(ddof=1)
    n = grouped["difference"].count()
    q = stats.t.ppf((1 + before.settings.confidence) / 2, np.maximum(n - 1, 1))
    half = (q * sd / np.sqrt(n)).where(n >= 2)
    out["difference_ci_low"] = out["difference"] - half
    out["difference_ci_high"] = out["difference"] + half
    return out.reset_index()


def compare_systems(
    before: SimulationModel,
    after: SimulationModel,
    settings: SimulationSettings,
    *,
    calls: Calls | None = None,
    executor: BlockExecutor | None = None,
) -> tuple[ReplicationsResult, ReplicationsResult, pd.DataFrame]:
    """Simulate two systems on the same calls (common random numbers).

    The models must share their points (the same demand), for example the
    existing stations and the stations with proposed units added.

    Returns
    -------
    before, after, differences
        Both runs and :func:`paired_differences` of their summaries.
    """
    same = len(before.points) == len(after.points) and np.array_equal(
        before.points["weight"].to_numpy(), after.points["weight"].to_numpy()
    )
    if not same:
        raise ParameterError("compare_systems: both models need the same points (demand)")
    run_b = run_replications(before, settings, calls=calls, executor=executor)
    run_a = run_replications(after, settings, calls=calls, executor=executor)
    return run_b, run_a, paired_differences(run_b, run_a)


def compare_psychiatric(
    model: SimulationModel,
    settings: SimulationSettings,
    *,
    calls: Calls | None = None,
    executor: BlockExecutor | None = None,
) -> tuple[ReplicationsResult, ReplicationsResult, pd.DataFrame]:
    """The system with and without its psychiatric fleet, on the same calls.

    Answers the psychiatric-ambulance question: the differences table gives
    the effect of the psychiatric units on psychiatric calls
    (``psychiatric_median_min``, ``psychiatric_by_pam``) and on the regular
    fleet's prio-1 response (``regular_prio1_median_min``,
    ``regular_prio1_p90_min``), as "with minus without".

    Returns
    -------
    with_pam, without_pam, differences
    """
    if not (model.stations["fleet"] == "psychiatric").any():
        raise ParameterError("compare_psychiatric: the system has no psychiatric station")
    without = model.without_fleet("psychiatric")
    run_without = run_replications(without, settings, calls=calls, executor=executor)
    run_with = run_replications(model, settings, calls=calls, executor=executor)
    return run_with, run_without, paired_differences(run_without, run_with)
