"""Drive times from a set of stations, reduced to what coverage and isochrones need.

Takes the stations and the demand snapped to the road network
(:class:`~planner.network.snapping.SnappedPoints`) and the network's index
(:class:`~planner.network.index.NetworkIndex`), and hands on a
:class:`StationTimes`: the stations × demand drive times, the nearest station
of every road node and its drive time, and, when asked, the three isochrone
layers (fleet bands, station bands, catchments; :mod:`planner.analysis.isochrones`).

:func:`station_times` computes them one of two ways, with identical results:

* **dense**: the stations × nodes drive times at once
  (:func:`planner.network.travel_times.point_times`), for a region;
* **in blocks of stations** on an executor (:mod:`planner.distributed`: in
  process or a Dask cluster). Each block runs the same Dijkstra search on the
  same graph (so its rows are bit for bit those of the dense path), and sends
  back only its stations' times to the demand, its fastest station per node
  and its stations' isochrones; these are merged in station order (equal
  times go to the lower station, as :func:`numpy.argmin` on the dense array),
  and the fleet bands and catchments are drawn from the nearest station per
  node. The stations × nodes array is never held. Without an executor the
  blocks run in this process anyway when that array would exceed
  :data:`planner.constants.DENSE_COST_MAX_BYTES` (300 stations on a national
  network of 3 million nodes).

Drive times are in seconds, ``inf`` where unreachable, never NaN; the
turn-out time is added only to response times and to response-time bands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from planner import constants
from planner.analysis.isochrones import (
    EdgeSamples,
    IsochroneSettings,
    catchment_isochrones,
    catchment_isochrones_from_nearest,
    demand_in_polygon,
    demand_within,
    fleet_isochrones,
    fleet_isochrones_from_nearest,
    origin_edge_samples,
    sample_edges,
    station_isochrones,
)
from planner.distributed import BlockExecutor, InProcessExecutor
from planner.network import engine
from planner.network.index import NetworkIndex
from planner.network.matrix import merge_nearest, resolve_block_size
from planner.network.snapping import SnappedPoints
from planner.network.travel_times import (
    arrival_rows,
    arrival_times,
    join_same_road,
    nearest_rows,
    origin_sources,
    point_times,
    times_to_points,
)

__all__ = ["IsochroneLayers", "StationTimes", "add_demand_counts", "station_times"]

#: Fleet bands, station bands and catchments (see :mod:`planner.analysis.isochrones`).
IsochroneLayers = tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]

#: Samples along each station's own edge: ``(x, y, drive time s)`` per station.
_OriginSamples = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class StationTimes:
    """What coverage and isochrones need of the drive times from a set of stations.

    Attributes
    ----------
    to_demand
        ``(n_stations, n_demand)`` drive times to the demand points, s
        (``(n_stations, 0)`` without demand).
    node_time
        ``(n_nodes,)`` drive time from the nearest station to every road node,
        s, in :class:`~planner.network.travel_times.TravelTimeGraph` node order.
    node_origin
        ``(n_nodes,)`` row of that station (the first of equal times), ``-1``
        where ``node_time`` is ``inf``.
    layers
        Fleet bands, station bands and catchments, or ``None`` when none were
        asked for (or there is no station).
    """

    to_demand: np.ndarray
    node_time: np.ndarray
    node_origin: np.ndarray
    layers: IsochroneLayers | None


def station_times(
    graph: nx.MultiDiGraph,
    index: NetworkIndex,
    stations: SnappedPoints | None,
    demand: SnappedPoints | None,
    names: Sequence[str],
    *,
    turnout_s: float,
    isochrones: IsochroneSettings | None = None,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    block_size: int | None = None,
    progress: bool = False,
) -> StationTimes:
    """Drive times from stations to the demand and to every node, and their isochrones.

    Parameters
    ----------
    graph
        The road network's graph (metric CRS; for the isochrones' edge samples).
    index
        Its edge table and CSR graph (:func:`planner.network.index.index_network`).
    stations, names
        The snapped stations and their names, one per station (none, or
        ``None``: nothing is reached and no isochrone is drawn).
    demand
        The snapped demand points, or ``None`` for isochrones only: the
        searches then stop at the largest band (the times within it, and so
        the isochrones, are the same).
    turnout_s
        Turn-out time, s (subtracted from the bands when they are response times).
    isochrones
        Bands, buffer and cell size of the isochrones to draw; ``None`` draws none.
    workers
        Worker processes for the dense searches (not used with blocks).
    executor, block_size
        Run in blocks of ``block_size`` stations on this executor (default
        :func:`planner.network.matrix.default_block_size`); see the module
        docstring for when blocks run without one.
    progress
        Show progress bars.

    Returns
    -------
    StationTimes
        The same whichever way it was computed.

    Raises
    ------
    ParameterError
        For a bad ``block_size``.
    """
    ttg = index.ttg
    m = len(names)
    if m == 0 or stations is None:  # no unit yet (the first ones are to be placed): none reached
        n_demand = 0 if demand is None else len(demand)
        return StationTimes(
            to_demand=np.full((0, n_demand), np.inf),
            node_time=np.full(ttg.n_nodes, np.inf),
            node_origin=np.full(ttg.n_nodes, -1, dtype=np.int64),
            layers=None,
        )
    limit = math.inf
    if demand is None and isochrones is not None:
        limit = float(isochrones.budgets_s(turnout_s).max())
    run = _Run(graph, index, stations, demand, tuple(names), turnout_s, isochrones, limit)
    executor = executor or _blocks_when_large(m, ttg.n_nodes)
    if executor is None:
        return _dense(run, workers=workers, progress=progress)
    return _coverage_blocks(run, executor, block_size=block_size, progress=progress)


def add_demand_counts(
    layers: IsochroneLayers,
    demand: gpd.GeoDataFrame,
    to_demand: np.ndarray,
    names: Sequence[str],
    *,
    settings: IsochroneSettings,
    turnout_s: float,
) -> None:
    """Add ``demand_within`` (by the demand's own times) and ``demand_in_polygon`` to the bands.

    In place. ``demand_within`` is the count the coverage tables use: fleet
    bands, the demand whose response time is within the band; station bands,
    whose time from that station is (``to_demand``: drive times, s, the
    station's own region only without mutual aid); catchments, whose nearest
    station is that one and whose time is within the band. Drive-time bands
    (``include_turnout`` false) compare drive times. ``demand`` needs
    ``weight``, ``nearest_station``, ``drive_s`` and ``response_s``.
    """
    fleet, per_station, catchments = layers
    column = "response_s" if settings.include_turnout else "drive_s"
    own = demand[column].to_numpy(dtype=float)
    per = to_demand + turnout_s if settings.include_turnout else to_demand
    weight = demand["weight"].to_numpy(dtype=float)
    row = pd.Series(np.arange(len(names)), index=list(names))
    nearest = row.reindex(demand["nearest_station"]).fillna(-1).to_numpy(dtype=np.int64)
    for frame, times, owner in (
        (fleet, own, None),
        (per_station, per, None),
        (catchments, own, nearest),
    ):
        frame["demand_within"] = demand_within(frame, times, weight, names=names, nearest=owner)
        frame["demand_in_polygon"] = demand_in_polygon(frame, demand).to_numpy()


def _blocks_when_large(n_stations: int, n_nodes: int) -> InProcessExecutor | None:
    """Blocks in process when the stations × nodes times would not fit the memory budget.

    Above :data:`planner.constants.DENSE_COST_MAX_BYTES` the block path runs
    in this process (identical results, memory bounded by the block size).
    """
    if 8 * n_stations * n_nodes > constants.DENSE_COST_MAX_BYTES:
        return InProcessExecutor()
    return None


@dataclass(frozen=True)
class _Run:
    """The inputs of one call of :func:`station_times`."""

    graph: nx.MultiDiGraph
    index: NetworkIndex
    stations: SnappedPoints
    demand: SnappedPoints | None
    names: tuple[str, ...]
    turnout_s: float
    isochrones: IsochroneSettings | None
    limit: float  # drive-time limit of the searches, s (inf with demand)


def _isochrone_samples(run: _Run) -> tuple[EdgeSamples, _OriginSamples]:
    """Samples along every road and along each station's own edge, every cell (m)."""
    assert run.isochrones is not None
    cell, _ = run.isochrones.grid
    samples = sample_edges(run.graph, run.index.ttg, spacing_m=cell, edges=run.index.edges)
    return samples, origin_edge_samples(run.stations, run.graph, spacing_m=cell)


def _dense(run: _Run, *, workers: int, progress: bool) -> StationTimes:
    """The stations × nodes times at once (:func:`point_times`), then reduced."""
    ttg = run.index.ttg
    cutoff = None if math.isinf(run.limit) else run.limit
    node_times = point_times(ttg, run.stations, cutoff_s=cutoff, workers=workers, progress=progress)
    if run.demand is None:
        to_demand = np.empty((len(run.names), 0))
    else:
        to_demand = times_to_points(ttg, node_times, run.stations, run.demand)
    layers = None
    if run.isochrones is not None:
        layers = _isochrone_layers(run, node_times, progress=progress)
    node_time, node_origin = nearest_rows(node_times)
    return StationTimes(to_demand, node_time, node_origin, layers)


def _isochrone_layers(run: _Run, node_times: np.ndarray, *, progress: bool) -> IsochroneLayers:
    """Fleet bands, station bands and catchments from the stations × nodes drive times."""
    samples, own = _isochrone_samples(run)
    turnout, settings, names = run.turnout_s, run.isochrones, run.names
    fleet = fleet_isochrones(
        samples, node_times, turnout_s=turnout, settings=settings, origin_samples=own,
        progress=progress,
    )  # fmt: skip
    per_station = station_isochrones(
        samples, node_times, names=names, turnout_s=turnout, settings=settings,
        origin_samples=own, progress=progress,
    )  # fmt: skip
    catchments = catchment_isochrones(
        samples, node_times, names=names, turnout_s=turnout, settings=settings,
        origin_samples=own, progress=progress,
    )  # fmt: skip
    return fleet, per_station, catchments


def _coverage_blocks(
    run: _Run, executor: BlockExecutor, *, block_size: int | None, progress: bool
) -> StationTimes:
    """In blocks of stations on ``executor`` (:func:`_block`), merged in station order."""
    ttg, m = run.index.ttg, len(run.names)
    plan, sources = engine.plan_query(
        ttg,
        origin_sources(ttg, run.stations),
        cutoff_s=run.limit,  # the graph's engine, chosen as point_times does: bit for bit
    )
    size = resolve_block_size(block_size, ttg.n_nodes + m, m)
    samples = own = None
    if run.isochrones is not None:
        samples, own = _isochrone_samples(run)
    spans = [(lo, min(lo + size, m)) for lo in range(0, m, size)]
    tasks = [
        (b, _Task(lo, hi, sources[lo:hi], None if own is None else own[lo:hi]))
        for b, (lo, hi) in enumerate(spans)
    ]
    shared = _Shared(
        plan=plan,
        arrive_pos=None if run.demand is None else arrival_rows(ttg, run.demand),
        stations=run.stations,
        demand=run.demand,
        names=run.names,
        turnout_s=run.turnout_s,
        isochrones=run.isochrones,
        samples=samples,
    )
    merged = _merge_blocks(executor, shared, tasks, ttg.n_nodes, progress=progress)
    layers = None
    if samples is not None:
        layers = _layers_from_nearest(run, samples, own, merged)
    return StationTimes(merged.to_demand, merged.node_time, merged.node_origin, layers)


def _layers_from_nearest(
    run: _Run, samples: EdgeSamples, own: _OriginSamples | None, merged: _Merged
) -> IsochroneLayers:
    """Fleet bands and catchments from the nearest station per node; station bands joined."""
    turnout, settings = run.turnout_s, run.isochrones
    fleet = fleet_isochrones_from_nearest(
        samples, merged.node_time, turnout_s=turnout, settings=settings, origin_samples=own
    )
    per_station = gpd.GeoDataFrame(
        pd.concat([f for f in merged.bands if f is not None], ignore_index=True),
        geometry="geometry",
        crs=samples.crs,
    )
    catchments = catchment_isochrones_from_nearest(
        samples, merged.node_time, merged.node_origin, names=run.names, turnout_s=turnout,
        settings=settings, origin_samples=own,
    )  # fmt: skip
    return fleet, per_station, catchments


# ---------------------------------------------------------------------------
# Blocks of stations (pure functions of what is sent to each worker)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shared:
    """What every block of stations needs (:func:`_block`), sent to each worker once."""

    plan: engine.QueryPlan  # Dijkstra on the graph with one virtual node per station
    arrive_pos: np.ndarray | None  # (n_demand, 2) graph rows the demand is reached from
    stations: SnappedPoints
    demand: SnappedPoints | None  # None: isochrones only
    names: tuple[str, ...]
    turnout_s: float
    isochrones: IsochroneSettings | None
    samples: EdgeSamples | None  # None: no isochrones drawn


@dataclass(frozen=True)
class _Task:
    """One block of stations: rows ``start:stop``, their sources and own-edge samples."""

    start: int
    stop: int
    sources: engine.Sources
    origin_samples: _OriginSamples | None


@dataclass(frozen=True)
class _Block:
    """What one block of stations sends back: nothing of size stations × nodes."""

    to_demand: np.ndarray  # (block, n_demand) drive times to the demand points, s
    node_time: np.ndarray  # per node: the block's fastest time, s
    node_origin: np.ndarray  # and its station row (over all stations), -1 if none
    station_bands: gpd.GeoDataFrame | None  # the block's stations' isochrones


def _block(shared: _Shared, task: _Task) -> _Block:
    """Drive times of one block of stations to every node, reduced for coverage (pure).

    The block's rows of the stations × nodes times come from the same
    engine on the same graph as :func:`point_times` (the graph's engine,
    chosen for the same query), so they are bit for bit those of the dense
    path; they exist only while the block runs (``block × nodes × 8`` bytes).
    """
    node_times = shared.plan.rows(task.sources)
    stations = shared.stations.take(slice(task.start, task.stop))
    if shared.demand is None or shared.arrive_pos is None:
        to_demand = np.empty((task.stop - task.start, 0))
    else:  # times_to_points without the graph (the workers hold only the plan)
        to_demand = arrival_times(node_times, shared.arrive_pos, shared.demand.arrive_s)
        join_same_road(to_demand, stations, shared.demand)
    best, row = nearest_rows(node_times)  # first of equal times: the lower station
    bands = None
    if shared.samples is not None and shared.isochrones is not None:
        bands = station_isochrones(
            shared.samples,
            node_times,
            names=shared.names[task.start : task.stop],
            turnout_s=shared.turnout_s,
            settings=shared.isochrones,
            origin_samples=task.origin_samples,
        )
    return _Block(to_demand, best, np.where(row >= 0, row + task.start, -1), bands)


@dataclass(frozen=True)
class _Merged:
    """The blocks merged in station order."""

    to_demand: np.ndarray
    node_time: np.ndarray
    node_origin: np.ndarray
    bands: list[gpd.GeoDataFrame | None]


def _merge_blocks(
    executor: BlockExecutor,
    shared: _Shared,
    tasks: list[tuple[int, _Task]],
    n_nodes: int,
    *,
    progress: bool,
) -> _Merged:
    """Run the blocks on ``executor`` and merge them as they finish, in any order."""
    n_demand = 0 if shared.demand is None else len(shared.demand)
    to_demand = np.full((len(shared.names), n_demand), np.inf)
    node_time, node_origin = np.full(n_nodes, np.inf), np.full(n_nodes, -1, dtype=np.int64)
    bands: list[gpd.GeoDataFrame | None] = [None] * len(tasks)
    finished_blocks: set[int] = set()
    bar = tqdm(
        total=len(tasks), desc="coverage blocks", unit="block", disable=not progress, leave=False
    )
    try:
        with closing(executor.map_blocks(_block, shared, tasks)) as finished:
            for b, result in finished:
                task = tasks[b][1]
                to_demand[task.start : task.stop] = result.to_demand
                merge_nearest(node_time, node_origin, result.node_time, result.node_origin)
                bands[b] = result.station_bands
                finished_blocks.add(b)
                bar.update(1)
    finally:
        bar.close()
    if len(finished_blocks) != len(tasks):
        raise RuntimeError(f"executor returned {len(finished_blocks)} of {len(tasks)} blocks")
    return _Merged(to_demand, node_time, node_origin, bands)
