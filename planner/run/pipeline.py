"""The stages chained for one command: coverage, isochrones and optimisation.

Road network -> stations and demand -> travel times -> coverage and
isochrones -> optimisation -> exports. :mod:`planner.run.plan` chains these for a
whole scenario (``planner plan``) and the offline demo.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm

from planner import constants
from planner.analysis.coverage import (
    CoverageSettings,
    coverage_table,
    mutual_aid_table,
    unreachable_reasons,
    validate_thresholds,
    worst_served,
)
from planner.analysis.isochrones import (
    EdgeSamples,
    IsochroneSettings,
    catchment_isochrones,
    catchment_isochrones_from_nearest,
    check_raster_memory,
    demand_in_polygon,
    demand_within,
    fleet_isochrones,
    fleet_isochrones_from_nearest,
    origin_edge_samples,
    sample_edges,
    station_isochrones,
)
from planner.distributed import BlockExecutor, InProcessExecutor
from planner.errors import DataError, ParameterError, PlannerWarning
from planner.inputs.sites import FLEET_TYPES
from planner.network.matrix import (
    _merge_nearest,
    _Nearest,
    compute_matrix,
    compute_nearest,
    default_block_size,
    store_folder,
)
from planner.network.road_network import RoadNetwork
from planner.network.snapping import SnappedPoints, edge_frame, snap_points
from planner.network.travel_times import (
    TravelTimeGraph,
    _arrive_at,
    _arrive_positions,
    _augmented,
    _dijkstra_block,
    _join_same_road,
    build_travel_time_graph,
    nearest_frame,
    nearest_table,
    point_times,
    times_to_points,
)
from planner.optimise import (
    LSCP,
    MCLP,
    MEXCLP,
    ContributionSettings,
    Instance,
    MaxSurvival,
    Model,
    PCenter,
    PMedian,
    Solution,
    SparseInstance,
    gain_curve,
    make_instance,
    make_sparse_instance,
    site_contributions,
    solve_exact,
    solve_heuristic,
)
from planner.outputs.export import (
    TableStyle,
    export_metadata,
    write_geo,
    write_layers,
    write_table,
    write_workbook,
)
from planner.staging import OutputTarget, stage_outputs, staged_path

__all__ = [
    "DEMAND_TYPES",
    "OBJECTIVES",
    "CoverageResult",
    "NetworkIndex",
    "OptimiseResult",
    "OptimiseSettings",
    "collect_candidates",
    "demand_in_area",
    "index_network",
    "keep_hours",
    "read_demand",
    "require_weight",
    "run_coverage",
    "run_isochrones",
    "run_optimise",
    "station_warnings",
    "write_coverage",
    "write_optimise",
]

# ---------------------------------------------------------------------------
# Inputs shared by the commands and scenarios: demand and candidates
# ---------------------------------------------------------------------------

#: Demand readers by type name (``auto`` picks one from the file name).
DEMAND_TYPES = ("grid", "points", "osm-population", "buildings", "calls")


def read_demand(
    path: Path,
    *,
    kind: str = "auto",
    weight: str | None = None,
    crs: str | None = None,
    check_sweden: bool = True,
    total: float | None = None,
    assign_areas: bool = True,
    argument: str = "demand type",
) -> gpd.GeoDataFrame:
    """Read one demand layer of any supported type (in its metric CRS), with its areas.

    Parameters
    ----------
    path
        The demand file.
    kind
        One of :data:`DEMAND_TYPES`, or ``"auto"``: an OSM file is read as
        ``osm-population`` (tätorter points), anything else as ``points``.
    weight
        Weight (population) column, for ``points`` and ``grid``.
    crs
        CRS of x/y columns in a CSV (``points``, ``calls``).
    check_sweden
        Refuse points outside Sweden (a swapped lat/lon).
    total
        ``buildings``: scale the weights to this many people.
    assign_areas
        Add ``municipality_code``, ``municipality``, ``region_code`` and
        ``region`` from the Swedish boundaries
        (:func:`planner.inputs.demand.assign_demand_areas`).
    argument
        How errors name the type argument (``--demand-type``, a scenario key).

    Raises
    ------
    DataError
        The file holds no demand point, or every weight is 0.

    Warns
    -----
    PlannerWarning
        ``crs`` is given for a type that carries its own coordinates (grid,
        OSM): it is not used.
    """
    from planner.inputs import demand as dm

    readers = {
        "points": lambda: dm.read_weighted_layer(
            path, weight=weight, crs=crs, check_sweden=check_sweden
        ),
        "grid": lambda: dm.read_scb_grid(path, population_column=weight),
        "osm-population": lambda: dm.read_osm_population(path),
        "buildings": lambda: dm.demand_from_buildings(path, total=total),
        "calls": lambda: dm.read_calls(path, crs=crs, check_sweden=check_sweden),
    }
    if kind == "auto":
        name = Path(path).name.lower()
        kind = "osm-population" if name.endswith((".pbf", ".osm", ".osm.bz2", ".xml")) else "points"
    if kind not in readers:
        raise ParameterError(f"{argument} {kind!r}: use one of auto, {', '.join(readers)}")
    if crs is not None and kind not in ("points", "calls"):
        warnings.warn(
            f"{path}: the CRS {crs} is not used: demand of type {kind} carries its own "
            "coordinates (a CRS, --crs or crs in a scenario, applies only to x/y columns of points "
            "and calls)",
            PlannerWarning,
            stacklevel=2,
        )
    layer = readers[kind]()
    if len(layer) == 0:
        raise DataError(
            f"{path}: holds no demand points when read as {kind} (--demand-type, or type in a "
            "scenario)"
        )
    require_weight(layer, source=str(path))
    return dm.assign_demand_areas(layer) if assign_areas else layer


def require_weight(demand: gpd.GeoDataFrame, *, source: str = "demand") -> None:
    """Refuse demand that is empty or whose weights are all 0: shares of nothing.

    Raises
    ------
    DataError
        When ``demand`` has no rows, or no positive ``weight``; names ``source``.
    """
    if len(demand) == 0:
        raise DataError(f"{source}: holds no demand points")
    if not (demand["weight"].to_numpy(dtype=float) > 0).any():
        raise DataError(
            f"{source}: every one of its {len(demand):,} demand points has weight 0, so there "
            "is nothing to cover; check the weight column (--weight, or weight in a scenario)"
        )


def keep_hours(
    layer: gpd.GeoDataFrame, hours: tuple[int, int] | None, *, argument: str = "hours"
) -> gpd.GeoDataFrame:
    """Keep the calls whose time of day lies in [start, end) hours (14-02 wraps midnight).

    Raises
    ------
    ParameterError
        Hours outside 0-24 or equal, a layer without a ``time`` column (not
        calls), or no call in the hours.
    """
    if hours is None:
        return layer
    start, end = hours
    label = f"{start:02d}-{end:02d}"
    if not (0 <= start <= 23 and 0 <= end <= 24) or start == end:
        raise ParameterError(f"{argument} {label}: hours must lie in 0-24 and differ")
    if "time" not in layer.columns:
        raise ParameterError(
            f"{argument} needs calls with a time column (demand type calls); other demand "
            "has no time of day"
        )
    hour = layer["time"].dt.hour
    keep = (hour >= start) & (hour < end) if start < end else (hour >= start) | (hour < end)
    kept = layer[keep.fillna(False).to_numpy()].reset_index(drop=True)
    if kept.empty:
        raise ParameterError(f"{argument} {label}: no call falls in these hours")
    return kept


def demand_in_area(
    layer: gpd.GeoDataFrame, code: str, level: str, *, label: str, argument: str = "demand"
) -> gpd.GeoDataFrame:
    """Only the demand of one Swedish region (``level`` "region") or municipality."""
    column = "region_code" if level == "region" else "municipality_code"
    inside = layer[layer[column] == code].reset_index(drop=True)
    if inside.empty:
        raise ParameterError(f"{argument}: no demand point lies in {label}")
    return inside


def collect_candidates(
    network: RoadNetwork,
    kinds: Sequence[str],
    *,
    spacing_m: float = constants.CANDIDATE_GRID_SPACING_M,
    path: Path | None = None,
    crs: str | None = None,
    check_sweden: bool = True,
    osm_source: Path | None = None,
    boundary: Any = None,
    argument: str = "candidates",
    file_argument: str = "a candidates file",
) -> gpd.GeoDataFrame:
    """Candidate sites from the named sources, combined (in the first source's CRS).

    Parameters
    ----------
    network
        The road network (for the ``grid`` of road nodes).
    kinds
        Any of ``"osm"`` (hospitals, health centres, fire stations in
        ``osm_source``), ``"grid"`` (one road node per square of
        ``spacing_m``, m) and ``"file"`` (``path``).
    argument, file_argument
        How errors name the sources and the file argument (CLI flags or
        scenario keys).
    """
    from planner.inputs import candidates as cd

    layers = []
    for kind in kinds:
        if kind == "osm":
            if osm_source is None:
                raise ParameterError(
                    f"{argument} osm needs an OSM file (pbf or osm) as the road source"
                )
            layers.append(cd.candidates_from_osm(osm_source, boundary=boundary))
        elif kind == "grid":
            layers.append(cd.candidates_on_grid(network, spacing_m=spacing_m))
        elif kind == "file":
            if path is None:
                raise ParameterError(f"{argument} file needs {file_argument}")
            layers.append(cd.candidates_from_file(path, crs=crs, check_sweden=check_sweden))
        else:
            raise ParameterError(f"{argument} {kind!r}: use osm, grid and/or file")
    if not layers:
        raise ParameterError(f"{argument}: name at least one source: osm, grid, file")
    return cd.combine_candidates(*layers)


# ---------------------------------------------------------------------------
# Coverage: stations + demand -> response times, tables and isochrones
# ---------------------------------------------------------------------------

#: Places listed in the "worst served" table of places.
WORST_PLACES = 20


@dataclass(frozen=True)
class CoverageResult:
    """Everything a coverage run produces (the network's CRS; seconds and minutes).

    Attributes
    ----------
    fleet
        The fleet analysed, or ``None`` for all stations.
    stations
        The stations used, with ``snap_distance_m`` and ``snap_status``.
    demand
        The demand points with ``nearest_station``, ``drive_s``,
        ``response_s``, ``response_min`` and ``snap_status``.
    road_nodes
        Every road node with its ``nearest_station``, ``drive_s``,
        ``response_s`` and ``response_min`` (a response-time surface).
    tables
        ``total``, ``region``, ``municipality``, ``station``,
        ``worst_municipalities`` and ``worst_places`` (see
        :mod:`planner.analysis.coverage` for the columns).
    fleet_bands, station_bands, catchments
        Isochrone polygons with ``band_min``, ``area_km2``,
        ``demand_within`` (the weight of the demand whose own response time
        is within the band, the count of the coverage tables: from the
        fleet, from that station, or in that station's catchment) and
        ``demand_in_polygon`` (the weight of the demand points inside the
        polygon, reachable or not); ``None`` when not drawn.
    metadata
        Inputs, parameters and versions for the exports.
    """

    fleet: str | None
    stations: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    tables: Mapping[str, pd.DataFrame]
    road_nodes: gpd.GeoDataFrame
    fleet_bands: gpd.GeoDataFrame | None
    station_bands: gpd.GeoDataFrame | None
    catchments: gpd.GeoDataFrame | None
    metadata: Mapping[str, Any]


def station_warnings(
    names: Sequence[object],
    status: Sequence[object],
    snap_distance_m: Sequence[float],
    *,
    max_snap_m: float,
) -> list[str]:
    """One line per station that reaches no one, or only a road part cut off from the rest.

    Parameters
    ----------
    names, status, snap_distance_m
        Per station: its name, its snap status (``ok``, ``far_from_road``,
        ``minor_component``; :class:`planner.network.snapping.SnappedPoints`) and its
        distance to the nearest road, m.
    max_snap_m
        The snapping limit the status was found with, m.

    Returns
    -------
    list of str
        The warnings, in station order (empty when every station is ``ok``).
    """
    lines = []
    for name, state, distance in zip(names, status, snap_distance_m, strict=True):
        if state == "far_from_road":
            lines.append(
                f"station {name!r} is {distance:,.0f} m from the nearest road, more than "
                f"max_snap_m = {max_snap_m:g} m, so it reaches no one; check "
                "its coordinates (is it in the sea?)"
            )
        elif state == "minor_component":
            lines.append(
                f"station {name!r} stands on a road part cut off from the main network "
                f"({distance:,.0f} m from the road), so it reaches only that part; check its "
                "coordinates (an island, or a snap across water?)"
            )
    return lines


def _nearest(times: np.ndarray, names: list[str], turnout_s: float) -> pd.DataFrame:
    """:func:`nearest_table`, or every target unreachable when there is no origin."""
    if names:
        return nearest_table(times, names, turnout_s=turnout_s)
    n = times.shape[1]
    return nearest_frame(np.full(n, np.inf), np.full(n, -1), [], turnout_s=turnout_s)


def _own_region(site_region: np.ndarray, point_region: np.ndarray) -> np.ndarray:
    """Without mutual aid: may the site serve the point? (Arrays of region codes; broadcasts.)

    Only a site of the point's own region may, and a point in no region is
    served by none.
    """
    return np.asarray((site_region == point_region) & pd.notna(point_region), dtype=bool)


def _coverage_tables(
    demand: gpd.GeoDataFrame, settings: CoverageSettings
) -> dict[str, pd.DataFrame]:
    response = demand["response_s"].to_numpy()
    weight = demand["weight"].to_numpy()
    station = (
        demand["nearest_station"]
        .astype(object)
        .where(demand["nearest_station"].notna(), "(unreachable)")
    )
    tables = {
        "total": coverage_table(response, weight, settings=settings),
        "region": coverage_table(
            response, weight, groups=demand[["region_code", "region"]], settings=settings
        ),
        "municipality": coverage_table(
            response,
            weight,
            groups=demand[["municipality_code", "municipality", "region_code"]],
            settings=settings,
        ),
        "station": coverage_table(
            response, weight, groups=pd.DataFrame({"station": station}), settings=settings
        ),
    }
    tables["worst_municipalities"] = worst_served(tables["municipality"], n=10)
    places = demand.assign(
        _unreached=~np.isfinite(response), _t=np.where(np.isfinite(response), response, 0.0)
    ).sort_values(["_unreached", "_t"], ascending=False, kind="stable")
    columns = [
        c
        for c in ("demand_id", "name", "municipality", "region", "weight", "nearest_station")
        if c in places.columns
    ]
    tables["worst_places"] = (
        places.head(WORST_PLACES)[
            [*columns, "response_min", "snap_status"]
            + (["unreachable_reason"] if "unreachable_reason" in places else [])
        ]
        .reset_index(drop=True)
        .pipe(pd.DataFrame)
    )
    return tables


def _isochrone_layers(
    network: RoadNetwork,
    edges: gpd.GeoDataFrame,
    ttg: TravelTimeGraph,
    snapped: SnappedPoints,
    node_times: np.ndarray,
    names: list[str],
    settings: IsochroneSettings,
    progress: bool,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Fleet bands, station bands and catchments from drive times to every node."""
    turnout = network.settings.speed_model.turnout_s
    samples, own = _isochrone_samples(network, edges, ttg, snapped, settings)
    fleet = fleet_isochrones(
        samples,
        node_times,
        turnout_s=turnout,
        settings=settings,
        origin_samples=own,
        progress=progress,
    )
    per_station = station_isochrones(
        samples,
        node_times,
        names=names,
        turnout_s=turnout,
        settings=settings,
        origin_samples=own,
        progress=progress,
    )
    catchments = catchment_isochrones(
        samples, node_times, names=names, turnout_s=turnout, settings=settings,
        origin_samples=own, progress=progress,
    )  # fmt: skip
    return fleet, per_station, catchments


#: How a too small isochrone cell is named in messages (option and scenario key).
_CELL_ARGUMENT = "isochrone cell (--cell-m, [isochrones] cell_m)"


def _count_demand(
    fleet: gpd.GeoDataFrame,
    per_station: gpd.GeoDataFrame,
    catchments: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    to_demand: np.ndarray,
    names: list[str],
    settings: IsochroneSettings,
    turnout_s: float,
) -> None:
    """Add ``demand_within`` (by the demand's own times) and ``demand_in_polygon`` to the bands.

    ``demand_within`` is the count the coverage tables use: fleet bands, the
    demand whose response time is within the band; station bands, whose time
    from that station is (``to_demand``: drive times, s, the station's own
    region only without mutual aid); catchments, whose nearest station is
    that one and whose time is within the band. Drive-time bands
    (``include_turnout`` false) compare drive times.
    """
    column = "response_s" if settings.include_turnout else "drive_s"
    own = demand[column].to_numpy(dtype=float)
    per = to_demand + turnout_s if settings.include_turnout else to_demand
    weight = demand["weight"].to_numpy(dtype=float)
    row = pd.Series(np.arange(len(names)), index=names)
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


def _isochrone_samples(
    network: RoadNetwork,
    edges: gpd.GeoDataFrame,
    ttg: TravelTimeGraph,
    snapped: SnappedPoints,
    settings: IsochroneSettings,
) -> tuple[EdgeSamples, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Samples along every road and along each station's own edge, every cell (m)."""
    cell, _ = settings.grid
    samples = sample_edges(network.graph, ttg, spacing_m=cell, edges=edges)
    return samples, origin_edge_samples(snapped, network.graph, spacing_m=cell)


@dataclass(frozen=True)
class _CoverageShared:
    """What every block of stations needs (:func:`_coverage_block`), sent to each worker once."""

    n_nodes: int  # road nodes of the travel-time graph
    graph: sp.csr_array  # ttg.matrix with one virtual node per station, as in point_times
    arrive_pos: np.ndarray | None  # (n_demand, 2) graph rows the demand is reached from
    stations: SnappedPoints
    demand: SnappedPoints | None  # None: isochrones only
    names: tuple[str, ...]
    turnout_s: float
    isochrones: IsochroneSettings
    samples: EdgeSamples | None  # None: no isochrones drawn
    limit_s: float  # drive-time limit of the searches, s (inf with demand)


@dataclass(frozen=True)
class _CoverageTask:
    """One block of stations: rows ``start:stop`` and their own-edge samples."""

    start: int
    stop: int
    origin_samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None


@dataclass(frozen=True)
class _CoverageBlock:
    """What one block of stations sends back: nothing of size stations × nodes."""

    to_demand: np.ndarray  # (block, n_demand) drive times to the demand points, s
    nearest: _Nearest  # per node: the block's fastest time (s) and its station row
    station_bands: gpd.GeoDataFrame | None  # the block's stations' isochrones


def _coverage_block(shared: _CoverageShared, task: _CoverageTask) -> _CoverageBlock:
    """Drive times of one block of stations to every node, reduced for coverage (pure).

    The block's rows of the stations × nodes times come from the Dijkstra
    call of :func:`planner.network.travel_times.point_times` on the same graph, so
    they are bit for bit those of the dense path; they exist only while the
    block runs (``block × nodes × 8`` bytes).
    """
    n = shared.n_nodes
    sources = np.arange(task.start, task.stop, dtype=np.int64) + n
    node_times = _dijkstra_block(shared.graph, sources, shared.limit_s)[:, :n]
    stations = shared.stations.take(slice(task.start, task.stop))
    if shared.demand is None or shared.arrive_pos is None:
        to_demand = np.empty((len(sources), 0))
    else:  # times_to_points without the graph (the workers hold only the augmented one)
        to_demand = _arrive_at(node_times, shared.arrive_pos, shared.demand.arrive_s)
        _join_same_road(to_demand, stations, shared.demand, math.inf)
    arg = np.argmin(node_times, axis=0)  # first of equal times: the lower station
    best = node_times[arg, np.arange(n)]
    nearest = _Nearest(best, np.where(np.isfinite(best), arg + task.start, -1))
    bands = None
    if shared.samples is not None:
        bands = station_isochrones(
            shared.samples,
            node_times,
            names=shared.names[task.start : task.stop],
            turnout_s=shared.turnout_s,
            settings=shared.isochrones,
            origin_samples=task.origin_samples,
        )
    return _CoverageBlock(to_demand=to_demand, nearest=nearest, station_bands=bands)


@dataclass(frozen=True)
class _BlockedCoverage:
    """:func:`_coverage_blocks` merged: what :func:`run_coverage` needs of the drive times."""

    to_demand: np.ndarray  # (n_stations, n_demand) drive times, s
    node_time: np.ndarray  # (n_nodes,) drive time from the nearest station, s
    node_origin: np.ndarray  # (n_nodes,) its row, -1 if none
    layers: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame] | None


def _coverage_blocks(
    network: RoadNetwork,
    edges: gpd.GeoDataFrame,
    ttg: TravelTimeGraph,
    stations: SnappedPoints,
    demand: SnappedPoints | None,
    names: list[str],
    *,
    isochrones: IsochroneSettings | None,
    executor: BlockExecutor,
    block_size: int | None,
    progress: bool,
) -> _BlockedCoverage:
    """Coverage's drive times and isochrones in blocks of stations on ``executor``.

    Each block (:func:`_coverage_block`) returns its times to the demand, its
    fastest station per node and its stations' isochrones; they are merged
    here in station order (equal times go to the lower station, as argmin on
    the dense array), and the fleet bands and catchments are drawn from the
    nearest station per node. Memory is ``block_size × nodes`` per running
    block plus ``stations × demand``; never ``stations × nodes``.
    ``isochrones`` None draws none; ``demand`` None computes only the
    isochrones, with searches stopped at the largest band (the times within
    it, and so the isochrones, are the same).
    """
    m, n = len(names), ttg.n_nodes
    graph = _augmented(ttg, stations)
    size = default_block_size(graph.shape[0], m) if block_size is None else block_size
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ParameterError(f"block_size = {block_size!r}: must be a whole number >= 1")
    size = int(size)
    turnout = network.settings.speed_model.turnout_s
    samples = own = None
    if isochrones is not None:
        samples, own = _isochrone_samples(network, edges, ttg, stations, isochrones)
    tasks = [
        (b, _CoverageTask(lo, min(lo + size, m), None if own is None else own[lo : lo + size]))
        for b, lo in enumerate(range(0, m, size))
    ]
    shared = _CoverageShared(
        n_nodes=n,
        graph=graph,
        arrive_pos=None if demand is None else _arrive_positions(ttg, demand),
        stations=stations,
        demand=demand,
        names=tuple(names),
        turnout_s=turnout,
        isochrones=isochrones or IsochroneSettings(),
        samples=samples,
        limit_s=math.inf
        if demand is not None or isochrones is None
        else float(isochrones.budgets_s(turnout).max()),
    )
    to_demand = np.full((m, 0 if demand is None else len(demand)), np.inf)
    nearest = (np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
    bands: list[gpd.GeoDataFrame | None] = [None] * len(tasks)
    finished_blocks: set[int] = set()
    bar = tqdm(
        total=len(tasks), desc="coverage blocks", unit="block", disable=not progress, leave=False
    )
    try:
        with closing(executor.map_blocks(_coverage_block, shared, tasks)) as finished:
            for b, result in finished:
                task = tasks[b][1]
                to_demand[task.start : task.stop] = result.to_demand
                _merge_nearest(nearest, result.nearest)  # in any block order
                bands[b] = result.station_bands
                finished_blocks.add(b)
                bar.update(1)
    finally:
        bar.close()
    if len(finished_blocks) != len(tasks):
        raise RuntimeError(f"executor returned {len(finished_blocks)} of {len(tasks)} blocks")
    layers = None
    if samples is not None and isochrones is not None:
        fleet = fleet_isochrones_from_nearest(
            samples, nearest[0], turnout_s=turnout, settings=isochrones, origin_samples=own
        )
        per_station = gpd.GeoDataFrame(
            pd.concat([f for f in bands if f is not None], ignore_index=True),
            geometry="geometry",
            crs=samples.crs,
        )
        catchments = catchment_isochrones_from_nearest(
            samples, nearest[0], nearest[1], names=names, turnout_s=turnout,
            settings=isochrones, origin_samples=own,
        )  # fmt: skip
        layers = (fleet, per_station, catchments)
    return _BlockedCoverage(
        to_demand=to_demand, node_time=nearest[0], node_origin=nearest[1], layers=layers
    )


@dataclass(frozen=True)
class NetworkIndex:
    """What the stages derive from a road network once and share.

    Attributes
    ----------
    edges
        The edge table (:func:`planner.network.snapping.edge_frame`, the network's CRS) that
        points are snapped to.
    ttg
        The CSR travel-time graph (:func:`planner.network.travel_times.build_travel_time_graph`).
    """

    edges: gpd.GeoDataFrame
    ttg: TravelTimeGraph


def index_network(network: RoadNetwork, *, progress: bool = False) -> NetworkIndex:
    """Build the edge table and travel-time graph once, for several stages of one run."""
    return NetworkIndex(
        edges=edge_frame(network.graph, progress=progress),
        ttg=build_travel_time_graph(network.graph),
    )


def run_isochrones(
    network: RoadNetwork,
    stations: gpd.GeoDataFrame,
    *,
    settings: IsochroneSettings | None = None,
    max_snap_m: float = constants.MAX_SNAP_DISTANCE_M,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    block_size: int | None = None,
    index: NetworkIndex | None = None,
    progress: bool = False,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Isochrones of a set of stations: fleet bands, per station, catchments.

    Parameters
    ----------
    network
        The road network (in its metric CRS, :attr:`RoadNetwork.crs`).
    stations
        The stations (filter them by fleet first).
    settings
        Bands (minutes), buffer and cell size.
    max_snap_m
        Stations farther than this from a road (m) reach nothing.
    workers, progress
        Worker processes for the travel times; progress bars.
    executor, block_size
        Draw the isochrones in blocks of ``block_size`` stations on this
        executor (as :func:`run_coverage`), never holding the stations ×
        nodes times; the layers are identical. Without one, blocks run in
        this process when those times would exceed
        :data:`planner.constants.DENSE_COST_MAX_BYTES`.
    index
        The network's edge table and travel-time graph, when the caller
        already has them (:func:`index_network`); built here otherwise.

    Returns
    -------
    fleet, per_station, catchments, stations
        The three isochrone layers (see :mod:`planner.analysis.isochrones`) and the
    check_raster_memory,
    demand_in_polygon,
    demand_within,
    """
    settings = settings or IsochroneSettings()
    graph = network.graph
    index = index or index_network(network, progress=progress)
    edges, ttg = index.edges, index.ttg
    check_raster_memory(settings, edges.total_bounds, argument=_CELL_ARGUMENT)
    snapped = snap_points(graph, stations, edges=edges, max_distance_m=max_snap_m)
    names = stations["name"].tolist()
    executor = executor or _blocks_when_large(len(names), ttg.n_nodes)
    if executor is not None:
        blocked = _coverage_blocks(
            network, edges, ttg, snapped, None, names, isochrones=settings,
            executor=executor, block_size=block_size, progress=progress,
        )  # fmt: skip
        assert blocked.layers is not None
        return (*blocked.layers, stations.assign(snap_status=snapped.status))
    limit = float(settings.budgets_s(network.settings.speed_model.turnout_s).max())
    node_times = point_times(ttg, snapped, cutoff_s=limit, workers=workers, progress=progress)
    layers = _isochrone_layers(network, edges, ttg, snapped, node_times, names, settings, progress)
    return (*layers, stations.assign(snap_status=snapped.status))


def run_coverage(
    network: RoadNetwork,
    stations: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    fleet: str | None = None,
    coverage: CoverageSettings | None = None,
    isochrones: IsochroneSettings | None = None,
    draw_isochrones: bool = True,
    serve_across: bool = True,
    max_snap_m: float = constants.MAX_SNAP_DISTANCE_M,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    block_size: int | None = None,
    index: NetworkIndex | None = None,
    progress: bool = False,
) -> CoverageResult:
    """Response times for demand, coverage tables and isochrones for one fleet.

    Parameters
    ----------
    network
        The road network (in its metric CRS, :attr:`RoadNetwork.crs`).
    stations
        Stations (:func:`planner.inputs.sites.read_stations`).
    demand
        Demand layer with areas (:func:`planner.inputs.demand.assign_demand_areas`).
    fleet
        ``"ambulance"`` or ``"psychiatric"`` to use only that fleet's
        stations; ``None`` uses every station.
    coverage
        Thresholds (minutes) of the tables.
    isochrones
        Buffer and cell size of the isochrones; their bands are the coverage
        thresholds.
    draw_isochrones
        Draw isochrones (skip them for a table-only run).
    serve_across
        Mutual aid: a station may serve demand in another region. False:
        each demand point is served only by stations of its own region
        (both layers need ``region_code``). When both layers carry
        ``region_code`` and the demand spans several regions, the tables
        get ``mutual_aid`` (:func:`planner.analysis.coverage.mutual_aid_table`): each
        region's coverage with and without its neighbours' stations.
    max_snap_m
        Points farther than this from a road (m) are unreachable.
    workers
        Worker processes for the travel times (without ``executor``).
    executor
        Run the travel times and the isochrones in blocks of stations on
        this executor (:func:`planner.distributed.make_executor`: in process
        or a Dask cluster) instead. Each block computes its stations' drive
        times to every node, s, and sends back only their times to the demand
        points, the block's fastest station per node and its stations'
        isochrones; these are merged in station order (equal times go to the
        lower station), and the fleet bands, catchments and ``road_nodes``
        are drawn from the nearest station per node. The stations × nodes
        array is never held: memory is about ``block_size × nodes × 8`` bytes
        per running block, plus ``stations × demand`` and ``O(nodes +
        edge samples)`` here. The results are identical to the run without
        an executor. Without one, the blocks run in this process anyway when
        the stations × nodes times would take more than
        :data:`planner.constants.DENSE_COST_MAX_BYTES` (``workers`` is then
        not used).
    block_size
        Stations per block with an ``executor``; default
        :func:`planner.network.matrix.default_block_size` of the graph (at most 64,
        and at least 16 blocks when there are enough stations).
    index
        The network's edge table and travel-time graph, when the caller
        already has them (:func:`index_network`); built here otherwise.
    progress
        Show progress bars.

    Returns
    -------
    CoverageResult
        With no station at all (``fleet`` None), every demand point is
        unreachable and there are no isochrones: the state before the first
        units are placed.

    Raises
    ------
    ParameterError
        If the fleet is unknown or has no stations, for a bad ``block_size``,
        or when the isochrone raster would not fit
        :data:`planner.constants.ISOCHRONE_RASTER_MAX_BYTES`
        (:func:`planner.analysis.isochrones.check_raster_memory`).
    DataError
        If the demand is empty or every weight is 0 (:func:`require_weight`).
    """
    coverage = coverage or CoverageSettings()
    iso = isochrones or IsochroneSettings()
    iso = IsochroneSettings(
        thresholds_min=coverage.thresholds_min,
        buffer_m=iso.buffer_m,
        cell_m=iso.cell_m,
        include_turnout=iso.include_turnout,
    )
    if fleet is not None:
        if fleet not in FLEET_TYPES:
            raise ParameterError(f"fleet {fleet!r}: use one of {', '.join(FLEET_TYPES)}")
        stations = stations[stations["fleet"] == fleet].reset_index(drop=True)
        if stations.empty:
            raise ParameterError(f"fleet {fleet!r} has no stations in the stations file")
    for column in ("weight", "municipality_code", "region_code"):
        if column not in demand.columns:
            raise ParameterError(f"demand: column {column!r} is missing (assign_demand_areas)")
    require_weight(demand)
    graph = network.graph
    turnout = network.settings.speed_model.turnout_s
    index = index or index_network(network, progress=progress)
    edges, ttg = index.edges, index.ttg
    names = stations["name"].astype(str).tolist()
    if draw_isochrones and names:
        check_raster_memory(iso, edges.total_bounds, argument=_CELL_ARGUMENT)
    dm_snap = snap_points(graph, demand, edges=edges, max_distance_m=max_snap_m)
    node_times: np.ndarray | None = None  # stations × nodes, only without an executor
    blocked: _BlockedCoverage | None = None
    executor = executor or _blocks_when_large(len(names), ttg.n_nodes)
    if names and executor is not None:
        st_snap = snap_points(graph, stations, edges=edges, max_distance_m=max_snap_m)
        blocked = _coverage_blocks(
            network, edges, ttg, st_snap, dm_snap, names,
            isochrones=iso if draw_isochrones else None, executor=executor,
            block_size=block_size, progress=progress,
        )  # fmt: skip
        to_demand = blocked.to_demand
    elif names:
        st_snap = snap_points(graph, stations, edges=edges, max_distance_m=max_snap_m)
        node_times = point_times(ttg, st_snap, workers=workers, progress=progress)
        to_demand = times_to_points(ttg, node_times, st_snap, dm_snap)
    else:  # no unit yet (the first ones are to be placed): nothing is reached
        node_times = np.full((0, ttg.n_nodes), np.inf)
        to_demand = np.full((0, len(demand)), np.inf)
    regional = "region_code" in stations.columns and "region_code" in demand.columns
    aid = None
    if regional and demand["region_code"].dropna().nunique() > 1:
        aid = mutual_aid_table(
            to_demand + turnout,
            stations["region_code"].tolist(),
            demand["region_code"].tolist(),
            demand["weight"].to_numpy(dtype=float),
            settings=coverage,
        )
    if not serve_across:
        if not regional:
            raise ParameterError(
                "serve_across=False needs region_code on stations and demand (assign_areas)"
            )
        st_region = stations["region_code"].astype(object).to_numpy()
        dm_region = demand["region_code"].astype(object).to_numpy()
        to_demand = np.where(_own_region(st_region[:, None], dm_region[None, :]), to_demand, np.inf)
    nearest = _nearest(to_demand, names, turnout)
    demand_out = (
        demand.reset_index(drop=True)
        .to_crs(network.crs)
        .assign(
            nearest_station=nearest["nearest_station"].to_numpy(),
            drive_s=nearest["drive_s"].to_numpy(),
            response_s=nearest["response_s"].to_numpy(),
            response_min=nearest["response_min"].to_numpy(),
            snap_distance_m=dm_snap.snap_distance_m,
            snap_status=dm_snap.status,
            unreachable_reason=unreachable_reasons(  # issue 14: why, next to the empty time
                nearest["response_s"].to_numpy(), dm_snap.status, n_stations=len(names)
            ),
        )
    )
    stations_out = (
        stations.to_crs(network.crs).assign(
            snap_distance_m=st_snap.snap_distance_m.round(1), snap_status=st_snap.status
        )
        if names
        else stations.to_crs(network.crs).assign(
            snap_distance_m=pd.Series(dtype=float), snap_status=None
        )
    )
    tables = _coverage_tables(demand_out, coverage)
    if aid is not None:
        tables["mutual_aid"] = aid
    if blocked is not None:
        nodes = nearest_frame(blocked.node_time, blocked.node_origin, names, turnout_s=turnout)
    else:
        assert node_times is not None
        nodes = _nearest(node_times, names, turnout)
    road_nodes = gpd.GeoDataFrame(
        nodes.assign(node_id=ttg.node_ids),
        geometry=gpd.points_from_xy(ttg.x, ttg.y),
        crs=network.crs,
    )
    fleet_bands = station_bands = catchments = None
    if draw_isochrones and names:
        if blocked is not None:
            assert blocked.layers is not None
            fleet_bands, station_bands, catchments = blocked.layers
        else:
            assert node_times is not None
            fleet_bands, station_bands, catchments = _isochrone_layers(
                network, edges, ttg, st_snap, node_times, names, iso, progress
            )
        _count_demand(
            fleet_bands, station_bands, catchments, demand_out, to_demand, names, iso, turnout
        )
    metadata = export_metadata(
        **network.metadata(),
        fleet=fleet or "all",
        mutual_aid=serve_across,
        thresholds_min=list(coverage.thresholds_min),
        turnout_s=turnout,
        isochrone_buffer_m=iso.buffer_m,
        isochrone_cell_m=iso.grid[0],
        max_snap_m=max_snap_m,
        stations=len(stations),
        demand_points=len(demand_out),
        demand_sources=sorted(demand_out["source"].astype(str).unique().tolist())
        if "source" in demand_out
        else [],
    )
    return CoverageResult(
        fleet=fleet,
        stations=stations_out,
        demand=demand_out,
        tables=tables,
        road_nodes=road_nodes,
        fleet_bands=fleet_bands,
        station_bands=station_bands,
        catchments=catchments,
        metadata=metadata,
    )


def write_coverage(
    result: CoverageResult,
    out_dir: Path,
    *,
    overwrite: bool = False,
    extra_metadata: Mapping[str, Any] | None = None,
    extra_layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    style: TableStyle | None = None,
) -> dict[str, Path]:
    """Write a coverage run: CSV and XLSX tables, a GeoPackage, GeoJSON and GeoParquet.

    Parameters
    ----------
    result
        From :func:`run_coverage`.
    out_dir
        Output folder, written as one all-or-nothing run
        (:func:`planner.staging.stage_outputs`): staged beside it and swapped
        in whole at the end.
    overwrite
        Replace an existing output folder whole; otherwise an existing
        folder is refused and nothing is written.
    extra_metadata
        Further items for every file's metadata (input file hashes ...).
    extra_layers
        Further GeoPackage layers by name (e.g. ``boundaries``).
    style
        Language of the XLSX headers and the CSV dialect
        (:class:`planner.outputs.export.TableStyle`; default English, standard CSV).

    Returns
    -------
    dict
        Output name -> path. ``coverage.gpkg`` (the network's CRS) has the layers
        ``stations``, ``demand``, ``road_nodes``, ``isochrones``,
        ``station_isochrones`` and ``catchments``; ``isochrones.geojson`` holds the fleet bands in
        EPSG:4326 for the web; ``demand.parquet`` is GeoParquet.
    """
    out_dir = Path(out_dir)
    with stage_outputs([OutputTarget(out_dir)], overwrite=overwrite):
        return _write_coverage_files(
            result, out_dir, extra_metadata=extra_metadata, extra_layers=extra_layers, style=style
        )


def _write_coverage_files(
    result: CoverageResult,
    out_dir: Path,
    *,
    extra_metadata: Mapping[str, Any] | None,
    extra_layers: Mapping[str, gpd.GeoDataFrame] | None,
    style: TableStyle | None = None,
) -> dict[str, Path]:
    staged_path(out_dir).mkdir(parents=True, exist_ok=True)
    meta = {**result.metadata, **(extra_metadata or {})}
    paths = {f"coverage_{name}": out_dir / f"coverage_{name}.csv" for name in result.tables}
    paths["xlsx"] = out_dir / "coverage.xlsx"
    paths["gpkg"] = out_dir / "coverage.gpkg"
    paths["demand_parquet"] = out_dir / "demand.parquet"
    if result.fleet_bands is not None:
        paths["geojson"] = out_dir / "isochrones.geojson"
    for name, table in result.tables.items():
        write_table(table, paths[f"coverage_{name}"], metadata=meta, style=style)
    write_workbook(result.tables, paths["xlsx"], metadata=meta, style=style)
    layers: dict[str, gpd.GeoDataFrame] = {
        "stations": result.stations,
        "demand": result.demand,
        "road_nodes": result.road_nodes,
    }
    if result.fleet_bands is not None:
        layers["isochrones"] = result.fleet_bands
        layers["station_isochrones"] = result.station_bands
        layers["catchments"] = result.catchments
    layers.update(extra_layers or {})
    write_layers(layers, paths["gpkg"], metadata=meta)
    write_geo(result.demand, paths["demand_parquet"], metadata=meta)
    if result.fleet_bands is not None:
        write_geo(result.fleet_bands, paths["geojson"], metadata=meta)
    return paths


# ---------------------------------------------------------------------------
# Optimisation: where new units cut response times most
# ---------------------------------------------------------------------------

#: Objectives by their command-line name.
OBJECTIVES = ("mclp", "pmedian", "pcenter", "lscp", "mexclp", "survival")


@dataclass(frozen=True)
class OptimiseSettings:
    """What to optimise and how.

    Parameters
    ----------
    objective
        One of :data:`OBJECTIVES`.
    add
        Units (sites) to add; for ``lscp`` the most that may be added.
    fleet
        Fleet of the new units (``ambulance`` or ``psychiatric``).
    baseline
        ``"fleet"``: only the existing stations of that fleet serve the
        demand before and after; ``"all"``: every existing station does.
    threshold_min
        Response-time target, minutes (MCLP, LSCP, MEXCLP, and the
        "newly within" figures).
    busy_fraction
        MEXCLP: share of time a unit is busy.
    survival
        Survival model for ``survival`` and the expected-survivor figures.
    solver
        ``"exact"`` (HiGHS MILP) or ``"heuristic"`` (greedy + Teitz-Bart;
        p-center: greedy + local search and VNS).
    time_limit_s
        Wall-clock limit, s, of the exact solver, and of the p-center
        heuristic's improvement phase.
    mip_gap
        Relative gap at which the exact solver stops; the result is called
        "optimal" only for a proven gap <= :data:`planner.constants.OPTIMAL_GAP`.
    gain_curve
        Also solve for k = 1..add and report the gain curve.
    seed
        Heuristic seed.
    cutoff_min
        National runs: the response times (min) of candidate sites are
        computed and stored only up to this limit (a sparse instance,
        :mod:`planner.optimise.sparse`), so memory follows the pairs within
        it instead of demand × sites; a new unit never serves a point from
        beyond it. The existing stations' times stay exact at any distance.
        Needs ``solver = "heuristic"`` and, for ``mclp``, ``lscp`` and
        ``mexclp``, a cutoff >= ``threshold_min``. ``None``: every time, dense.
    """

    objective: str = "mclp"
    add: int = 1
    fleet: str = "ambulance"
    baseline: str = "fleet"
    threshold_min: float = constants.DEFAULT_THRESHOLDS_MIN[1]
    busy_fraction: float = constants.MEXCLP_BUSY_FRACTION
    survival: MaxSurvival = field(default_factory=MaxSurvival)
    solver: str = "exact"
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4
    gain_curve: bool = True
    seed: int = 0
    cutoff_min: float | None = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ParameterError(
                f"objective {self.objective!r}: use one of {', '.join(OBJECTIVES)}"
            )
        if not isinstance(self.add, int) or self.add < 1:
            raise ParameterError(f"add = {self.add!r}: give a whole number of units >= 1")
        if self.fleet not in FLEET_TYPES:
            raise ParameterError(f"fleet {self.fleet!r}: use one of {', '.join(FLEET_TYPES)}")
        if self.baseline not in ("fleet", "all"):
            raise ParameterError(f"baseline {self.baseline!r}: use 'fleet' or 'all'")
        if self.solver not in ("exact", "heuristic"):
            raise ParameterError(f"solver {self.solver!r}: use 'exact' or 'heuristic'")
        validate_thresholds([self.threshold_min], argument="threshold_min")
        if self.cutoff_min is not None:
            cutoff = self.cutoff_min
            if isinstance(cutoff, bool) or not (math.isfinite(cutoff) and cutoff > 0):
                raise ParameterError(f"cutoff_min = {cutoff!r}: give a positive time, min")
            if self.solver != "heuristic":
                raise ParameterError(
                    f"cutoff_min = {cutoff:g} needs solver = 'heuristic' (the exact solver "
                    "needs every response time)"
                )
            if self.objective in ("mclp", "lscp", "mexclp") and cutoff < self.threshold_min:
                raise ParameterError(
                    f"cutoff_min = {cutoff:g} is below threshold_min = {self.threshold_min:g}: "
                    "coverage within the threshold would be unknown"
                )

    def model(self) -> Model:
        """The location model."""
        threshold = self.threshold_min * 60.0
        if self.objective == "mclp":
            return MCLP(threshold_s=threshold)
        if self.objective == "pmedian":
            return PMedian()
        if self.objective == "pcenter":
            return PCenter()
        if self.objective == "lscp":
            return LSCP(threshold_s=threshold)
        if self.objective == "mexclp":
            return MEXCLP(threshold_s=threshold, busy_fraction=self.busy_fraction)
        return self.survival

    def solve(
        self,
        instance: Instance | SparseInstance,
        model: Model,
        p: int,
        *,
        executor: BlockExecutor | None = None,
    ) -> Solution:
        """Solve with the chosen solver (the heuristic's rounds on ``executor``)."""
        if self.solver == "exact":
            return solve_exact(
                instance, model, p=p, time_limit_s=self.time_limit_s, mip_gap=self.mip_gap
            )
        return solve_heuristic(
            instance,
            model,
            p=p,
            seed=self.seed,
            executor=executor,
            time_limit_s=self.time_limit_s,
        )


@dataclass(frozen=True)
class OptimiseResult:
    """An optimisation run: proposed sites, gains and before/after coverage.

    Attributes
    ----------
    solution
        The solver's immutable result.
    sites
        The proposed new sites (the network's CRS) in the order they were added, with
        what each adds (``site_contributions`` columns).
    gain_curve
        Objective and gain for k = 1..add (empty without ``gain_curve``).
    tables_before, tables_after
        Coverage tables (see :func:`run_coverage`) with the existing stations
        and with the new sites added.
    unreachable_candidates
        Candidates no road reaches (left out).
    metadata
        Inputs, parameters, versions, seed and the solver's result:
        ``solver_status`` (``"optimal"``, ``"within X %"`` or ``"feasible,
        no bound"``, then how it stopped), ``solver_gap`` (proven relative
        gap, None without a bound) and ``solver_optimal``.
    """

    solution: Solution
    sites: gpd.GeoDataFrame
    gain_curve: pd.DataFrame
    tables_before: Mapping[str, pd.DataFrame]
    tables_after: Mapping[str, pd.DataFrame]
    unreachable_candidates: pd.DataFrame
    metadata: Mapping[str, Any]


def run_optimise(
    network: RoadNetwork,
    stations: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    *,
    settings: OptimiseSettings | None = None,
    coverage: CoverageSettings | None = None,
    serve_across: bool = True,
    max_snap_m: float = constants.MAX_SNAP_DISTANCE_M,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    matrix_store: Path | None = None,
    index: NetworkIndex | None = None,
    progress: bool = False,
) -> OptimiseResult:
    """Propose where new units of one fleet cut response times most.

    The existing stations of the baseline are required sites; the new units
    may stand at any candidate that a road reaches. The cost matrix (response
    times, s: turn-out plus drive time from each site to each demand point)
    is the only thing the solver sees of the network.

    Parameters
    ----------
    network
        The road network (in its metric CRS, :attr:`RoadNetwork.crs`).
    stations
        Existing stations (:func:`planner.inputs.sites.read_stations`).
    demand
        Demand layer with areas (:func:`planner.inputs.demand.assign_demand_areas`);
        for a psychiatric fleet, its own layer or weights.
    candidates
        Candidate sites (:mod:`planner.inputs.candidates`), without the existing
        stations (they are added here).
    settings
        Objective, units to add, fleet, baseline, solver.
    coverage
        Thresholds of the before/after tables.
    serve_across
        Mutual aid (see :func:`run_coverage`). False: a site, existing or
        new, serves only demand of its own region; stations, demand and
        candidates then need ``region_code``.
    max_snap_m
        Points farther than this from a road (m) are unreachable.
    workers, progress
        Worker processes for the travel times; progress bars.
    executor
        Run the travel times in blocks of sites, and the heuristic's rounds
        in blocks of candidates, on this executor
        (:func:`planner.distributed.make_executor`: in process or a Dask
        cluster); the result is identical.
    matrix_store
        With ``cutoff_min``: keep the finished blocks of the sites' travel
        times in a folder below this one named for the inputs
        (:func:`planner.network.matrix.store_folder`), so an interrupted run resumes
        and a rerun reuses them.
    index
        The network's edge table and travel-time graph, when the caller
        already has them (:func:`index_network`); built here otherwise.

    Returns
    -------
    OptimiseResult

    Raises
    ------
    ParameterError
        When the dense cost matrix would need more than
        :data:`planner.constants.DENSE_COST_MAX_BYTES` (the message gives the
        size and asks for ``cutoff_min``).
    DataError
        If the demand is empty or every weight is 0 (:func:`require_weight`).
    """
    from planner.inputs.candidates import (
        candidates_from_stations,
        check_candidates,
        combine_candidates,
    )

    settings = settings or OptimiseSettings()
    coverage = coverage or CoverageSettings()
    model = settings.model()
    base = stations if settings.baseline == "all" else stations[stations["fleet"] == settings.fleet]
    base = base.reset_index(drop=True)
    graph = network.graph
    turnout = network.settings.speed_model.turnout_s
    require_weight(demand)
    index = index or index_network(network, progress=progress)
    edges, ttg = index.edges, index.ttg
    layer = combine_candidates(candidates_from_stations(base), candidates)
    sites, site_snap, unreachable = check_candidates(
        network, layer, max_distance_m=max_snap_m, edges=edges
    )
    dm_snap = snap_points(graph, demand, edges=edges, max_distance_m=max_snap_m)
    units = sites["units"].fillna(0).to_numpy() if "units" in sites else np.zeros(len(sites))
    required = sites["required"].to_numpy(dtype=bool)
    common: dict[str, Any] = {
        "weight": demand["weight"].to_numpy(),
        "site_names": sites["name"].tolist(),
        "required": required,
        "existing_units": np.where(required, np.maximum(units, 1), 0).astype(int),
        "demand_ids": demand["demand_id"].tolist() if "demand_id" in demand else None,
    }
    regions = None if serve_across else _site_and_demand_regions(base, sites, demand)
    instance: Instance | SparseInstance
    if settings.cutoff_min is not None:
        instance = _sparse_instance(
            ttg, site_snap, dm_snap, turnout, settings.cutoff_min, common,
            regions=regions, executor=executor, store=matrix_store, progress=progress,
        )  # fmt: skip
    else:
        dense_bytes = 8 * len(demand) * len(sites)
        if dense_bytes > constants.DENSE_COST_MAX_BYTES:
            raise ParameterError(
                f"optimise: the dense cost matrix of {len(demand):,} demand points × "
                f"{len(sites):,} sites would take {dense_bytes / 2**30:.1f} GiB; set cutoff_min "
                "(e.g. 60, with solver = 'heuristic') for a sparse national instance"
            )
        if executor is not None:
            drive = compute_matrix(
                ttg, site_snap, dm_snap, cutoff_s=None, executor=executor, progress=progress
            ).to_dense()
        else:
            drive = point_times(
                ttg, site_snap, destinations=dm_snap, workers=workers, progress=progress
            )
        if regions is not None:
            site_region, dm_region = regions
            drive = np.where(_own_region(site_region[:, None], dm_region[None, :]), drive, np.inf)
        instance = make_instance(drive.T + turnout, **common)
    solve = functools.partial(settings.solve, executor=executor)
    solution = solve(instance, model, settings.add)
    contributions = site_contributions(
        instance,
        solution,
        model,
        settings=ContributionSettings(
            threshold_s=settings.threshold_min * 60.0, survival=settings.survival
        ),
    )
    position = {name: j for j, name in enumerate(instance.site_names)}
    chosen_rows = [position[name] for name in contributions["site"]]
    proposed = gpd.GeoDataFrame(
        contributions.assign(
            kind=sites["kind"].to_numpy()[chosen_rows],
            fleet=settings.fleet,
        ),
        geometry=sites.geometry.to_numpy()[chosen_rows],
        crs=sites.crs,
    ).to_crs(network.crs)
    curve = (
        gain_curve(instance, model, k_max=settings.add, solve=solve, progress=progress)
        if settings.gain_curve
        else pd.DataFrame()
    )
    before_mask = (
        instance.existing_units > 0 if settings.objective == "mexclp" else instance.required
    )
    tables = {}
    for label, mask in (("before", before_mask), ("after", solution.open_mask)):
        response = instance.open_times(mask)
        best = instance.assignment(mask)
        frame = demand.reset_index(drop=True).assign(
            response_s=response,
            nearest_station=np.where(best >= 0, np.asarray(instance.site_names)[best], None),
        )
        tables[label] = _coverage_tables(
            frame.assign(response_min=response / 60.0, snap_status=dm_snap.status), coverage
        )
    metadata = export_metadata(
        **network.metadata(),
        objective=settings.objective,
        add=settings.add,
        fleet=settings.fleet,
        baseline=settings.baseline,
        threshold_min=settings.threshold_min,
        solver=settings.solver,
        solver_status=solution.status,
        solver_gap=solution.gap,
        solver_optimal=solution.optimal,
        solve_time_s=solution.solve_time_s,
        seed=settings.seed,
        mutual_aid=serve_across,
        cutoff_min=settings.cutoff_min,
        instance_mb=round(
            (instance.nbytes if isinstance(instance, SparseInstance) else instance.cost_s.nbytes)
            / 1e6,
            1,
        ),
        objective_before=solution.objective_before,
        objective_after=solution.objective_after,
        candidates=len(sites),
        demand_points=len(demand),
    )
    return OptimiseResult(
        solution=solution,
        sites=proposed,
        gain_curve=curve,
        tables_before=tables["before"],
        tables_after=tables["after"],
        unreachable_candidates=unreachable,
        metadata=metadata,
    )


def _site_and_demand_regions(
    stations: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, demand: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Region code per site (existing stations by name) and per demand point, None if none."""
    missing = [
        what
        for what, frame in (("stations", stations), ("candidates", sites), ("demand", demand))
        if "region_code" not in frame.columns
    ]
    if missing:
        raise ParameterError(
            f"serve_across=False needs region_code on {', '.join(missing)} (assign_areas)"
        )
    by_name = dict(zip(stations["name"].astype(str), stations["region_code"], strict=True))
    site_region = np.array(
        [
            by_name.get(str(name)) if required else code
            for name, required, code in zip(
                sites["name"], sites["required"], sites["region_code"], strict=True
            )
        ],
        dtype=object,
    )
    demand_region = np.array(demand["region_code"].to_numpy(), dtype=object)
    # a site or point in no region (None) serves and is served by nobody
    for codes in (site_region, demand_region):
        codes[np.asarray(pd.isna(codes), dtype=bool)] = None
    return site_region, demand_region


def _sparse_instance(
    ttg: TravelTimeGraph,
    site_snap: SnappedPoints,
    dm_snap: SnappedPoints,
    turnout_s: float,
    cutoff_min: float,
    common: dict[str, Any],
    *,
    regions: tuple[np.ndarray, np.ndarray] | None = None,
    executor: BlockExecutor | None = None,
    store: Path | None = None,
    progress: bool = False,
) -> SparseInstance:
    """Sites' response times (s) up to the cutoff, sparse; exact times from the required sites.

    With ``regions`` (site and demand region codes), a site serves only
    demand of its own region (no mutual aid). With ``store``, finished blocks
    are kept in folders below it named for their inputs (resumable).
    """
    cutoff_s = cutoff_min * 60.0
    if cutoff_s <= turnout_s:
        raise ParameterError(
            f"cutoff_min = {cutoff_min:g} leaves no drive time after the turn-out "
            f"({turnout_s / 60:g} min)"
        )
    drive_cut = cutoff_s - turnout_s

    def folder(origins: SnappedPoints, targets: SnappedPoints, kind: str) -> Path | None:
        cut = drive_cut if kind == "matrix" else None
        return None if store is None else store_folder(
            store, ttg, origins, targets, cutoff_s=cut, kind=kind
        )  # fmt: skip

    matrix = compute_matrix(
        ttg, site_snap, dm_snap, cutoff_s=drive_cut, executor=executor, progress=progress,
        store=folder(site_snap, dm_snap, "matrix"),
    )  # fmt: skip
    t = matrix.times
    data, indices, indptr = t.data, t.indices, t.indptr
    if regions is not None:
        site_region, dm_region = regions
        owner = np.repeat(np.arange(t.shape[0]), np.diff(indptr))
        keep = _own_region(site_region[owner], dm_region[indices])
        data, indices = data[keep], indices[keep]
        indptr = np.r_[0, np.cumsum(np.bincount(owner[keep], minlength=t.shape[0]))]
    # the sites × demand CSR arrays, read as a demand × sites CSC: no copy of the index
    response = data + turnout_s
    cost = sp.csc_array((response, indices, indptr), shape=(t.shape[1], t.shape[0]))
    required = np.flatnonzero(common["required"])
    base = np.full(len(dm_snap), np.inf)
    base_site = np.full(len(dm_snap), -1, dtype=np.int64)
    groups = [(required, np.arange(len(dm_snap)))]
    if regions is not None:
        site_region, dm_region = regions
        groups = [
            (required[site_region[required] == code], np.flatnonzero(dm_region == code))
            for code in pd.unique(site_region[required])
        ]
    for origins, targets in groups:
        if not len(origins) or not len(targets):
            continue
        from_sites, to_points = site_snap.take(origins), dm_snap.take(targets)
        nearest = compute_nearest(
            ttg, from_sites, to_points, cutoff_s=None, executor=executor, progress=progress,
            store=folder(from_sites, to_points, "nearest"),
        )  # fmt: skip
        reached = nearest.origin >= 0
        base[targets[reached]] = nearest.times[reached] + turnout_s
        base_site[targets[reached]] = origins[nearest.origin[reached]]
    # drive <= cutoff - turn-out may round to a response a hair above the cutoff
    cutoff_s = max(cutoff_s, float(response.max(initial=0.0)))
    return make_sparse_instance(cost, cutoff_s=cutoff_s, base_s=base, base_site=base_site, **common)


def write_optimise(
    result: OptimiseResult,
    out_dir: Path,
    *,
    overwrite: bool = False,
    extra_metadata: Mapping[str, Any] | None = None,
    style: TableStyle | None = None,
) -> dict[str, Path]:
    """Write proposed sites (GeoPackage, CSV), gain curve and before/after tables.

    ``style`` as for :func:`write_coverage`.

    Returns
    -------
    dict
        Output name -> path: ``sites.gpkg`` (the network's CRS), ``sites.csv`` (with
        lon/lat), ``gain_curve.csv``, ``coverage_before_<table>.csv`` and
        ``coverage_after_<table>.csv``, ``unreachable_candidates.csv`` and
        ``optimise.xlsx`` with every table as a sheet. ``out_dir`` is
        written as one all-or-nothing run (as :func:`write_coverage`).
    """
    out_dir = Path(out_dir)
    with stage_outputs([OutputTarget(out_dir)], overwrite=overwrite):
        return _write_optimise_files(result, out_dir, extra_metadata=extra_metadata, style=style)


def _write_optimise_files(
    result: OptimiseResult,
    out_dir: Path,
    *,
    extra_metadata: Mapping[str, Any] | None,
    style: TableStyle | None = None,
) -> dict[str, Path]:
    staged_path(out_dir).mkdir(parents=True, exist_ok=True)
    meta = {**result.metadata, **(extra_metadata or {})}
    paths = {
        "sites_gpkg": out_dir / "sites.gpkg",
        "sites_csv": out_dir / "sites.csv",
        "gain_curve": out_dir / "gain_curve.csv",
        "unreachable_candidates": out_dir / "unreachable_candidates.csv",
        "xlsx": out_dir / "optimise.xlsx",
    }
    for when, tables in (("before", result.tables_before), ("after", result.tables_after)):
        for name in tables:
            paths[f"coverage_{when}_{name}"] = out_dir / f"coverage_{when}_{name}.csv"
    lonlat = result.sites.to_crs(constants.WGS84)
    sites_table = pd.DataFrame(result.sites.drop(columns="geometry")).assign(
        x=result.sites.geometry.x.round(1),
        y=result.sites.geometry.y.round(1),
        lon=lonlat.geometry.x.round(6),
        lat=lonlat.geometry.y.round(6),
    )
    write_layers({"proposed_sites": result.sites}, paths["sites_gpkg"], metadata=meta)
    write_table(sites_table, paths["sites_csv"], metadata=meta, style=style)
    write_table(result.gain_curve, paths["gain_curve"], metadata=meta, style=style)
    write_table(
        result.unreachable_candidates, paths["unreachable_candidates"], metadata=meta, style=style
    )
    sheets = {"proposed_sites": sites_table, "gain_curve": result.gain_curve}
    for when, tables in (("before", result.tables_before), ("after", result.tables_after)):
        for name, table in tables.items():
            write_table(table, paths[f"coverage_{when}_{name}"], metadata=meta, style=style)
            sheets[f"{when}_{name}"] = table
    write_workbook(sheets, paths["xlsx"], metadata=meta, style=style)
    return paths
