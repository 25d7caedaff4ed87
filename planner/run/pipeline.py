"""The stages chained for one command: coverage, isochrones and optimisation.

Each ``run_*`` function is a list of stage calls: the network's index
(:mod:`planner.network.index`), snapping, the stations' drive times and
isochrones (:mod:`planner.analysis.station_times`), the coverage tables
(:mod:`planner.analysis.coverage`), the cost matrix
(:mod:`planner.run.costs`) and the solver (:mod:`planner.optimise`); each
``write_*`` function writes one result as an all-or-nothing run
(:mod:`planner.outputs.export`, :mod:`planner.staging`).
:mod:`planner.run.plan` chains these for a whole scenario (``planner plan``)
and the offline demo.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner import constants
from planner.analysis.coverage import (
    CoverageSettings,
    coverage_tables,
    mutual_aid_table,
    own_region,
    unreachable_reasons,
    validate_thresholds,
)
from planner.analysis.isochrones import IsochroneSettings, check_raster_memory
from planner.analysis.station_times import StationTimes, add_demand_counts, station_times
from planner.distributed import BlockExecutor
from planner.errors import ParameterError
from planner.inputs.candidates import (
    candidates_from_stations,
    check_candidates,
    combine_candidates,
)
from planner.inputs.demand import require_weight
from planner.inputs.sites import FLEET_TYPES
from planner.network.dispersion import check_cv
from planner.network.index import NetworkIndex, index_network
from planner.network.road_network import RoadNetwork
from planner.network.snapping import SnappedPoints, snap_points
from planner.network.travel_times import nearest_frame, nearest_rows
from planner.optimise import (
    LSCP,
    MCLP,
    MEXCLP,
    ContributionSettings,
    ExpectedCoverage,
    Instance,
    MaxSurvival,
    Model,
    PCenter,
    PMedian,
    Solution,
    SparseInstance,
    gain_curve,
    site_contributions,
    solve_exact,
    solve_heuristic,
    survivors_table,
)
from planner.outputs.export import (
    TableStyle,
    export_metadata,
    write_geo,
    write_layers,
    write_table,
    write_workbook,
)
from planner.run.costs import optimise_instance, site_and_demand_regions
from planner.staging import OutputTarget, stage_outputs, staged_path

__all__ = [
    "OBJECTIVES",
    "CoverageResult",
    "OptimiseResult",
    "OptimiseSettings",
    "band_tables",
    "run_coverage",
    "run_isochrones",
    "run_optimise",
    "write_coverage",
    "write_optimise",
]

#: How a too small isochrone cell is named in messages (option and scenario key).
_CELL_ARGUMENT = "isochrone cell (--cell-m, [isochrones] cell_m)"

# ---------------------------------------------------------------------------
# Coverage: stations + demand -> response times, tables and isochrones
# ---------------------------------------------------------------------------


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
        already has them (:func:`planner.network.index.index_network`); built here otherwise.

    Returns
    -------
    fleet, per_station, catchments, stations
        The three isochrone layers (see :mod:`planner.analysis.isochrones`) and
        the stations with their ``snap_status``.

    Raises
    ------
    ParameterError
        Without stations, or when the isochrone raster would not fit
        :data:`planner.constants.ISOCHRONE_RASTER_MAX_BYTES`.
    """
    settings = settings or IsochroneSettings()
    if stations.empty:
        raise ParameterError("stations: there is no station to draw isochrones from")
    index = index or index_network(network, progress=progress)
    check_raster_memory(settings, index.edges.total_bounds, argument=_CELL_ARGUMENT)
    snapped = snap_points(network.graph, stations, edges=index.edges, max_distance_m=max_snap_m)
    times = station_times(
        network.graph, index, snapped, None, stations["name"].tolist(),
        turnout_s=network.settings.speed_model.turnout_s, isochrones=settings,
        workers=workers, executor=executor, block_size=block_size, progress=progress,
    )  # fmt: skip
    assert times.layers is not None
    return (*times.layers, stations.assign(snap_status=snapped.status))


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
        already has them (:func:`planner.network.index.index_network`); built here otherwise.
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
        If the demand is empty or every weight is 0 (:func:`planner.inputs.demand.require_weight`).
    """
    coverage = coverage or CoverageSettings()
    iso = dataclasses.replace(
        isochrones or IsochroneSettings(), thresholds_min=coverage.thresholds_min
    )
    stations = _fleet_stations(stations, fleet)
    _check_demand_areas(demand)
    turnout = network.settings.speed_model.turnout_s
    coverage = dataclasses.replace(coverage, turnout_s=turnout)
    index = index or index_network(network, progress=progress)
    names = stations["name"].astype(str).tolist()
    draw = draw_isochrones and bool(names)
    if draw:
        check_raster_memory(iso, index.edges.total_bounds, argument=_CELL_ARGUMENT)
    dm_snap = snap_points(network.graph, demand, edges=index.edges, max_distance_m=max_snap_m)
    st_snap = _snap_stations(network, index, stations, max_snap_m)
    times = station_times(
        network.graph, index, st_snap, dm_snap, names, turnout_s=turnout,
        isochrones=iso if draw else None, workers=workers, executor=executor,
        block_size=block_size, progress=progress,
    )  # fmt: skip
    aid = _mutual_aid(times.to_demand + turnout, stations, demand, coverage)
    to_demand = times.to_demand if serve_across else _own_region_only(times, stations, demand)
    demand_out = _with_response(demand, network.crs, to_demand, names, turnout, dm_snap)
    tables = coverage_tables(demand_out, coverage) | (
        {"mutual_aid": aid} if aid is not None else {}
    )
    if times.layers is not None:
        add_demand_counts(
            times.layers, demand_out, to_demand, names, settings=iso, turnout_s=turnout
        )
    fleet_bands, station_bands, catchments = times.layers or (None, None, None)
    return CoverageResult(
        fleet=fleet,
        stations=_stations_out(stations, st_snap, network.crs),
        demand=demand_out,
        tables=tables,
        road_nodes=_road_nodes(index, times, names, turnout, network.crs),
        fleet_bands=fleet_bands,
        station_bands=station_bands,
        catchments=catchments,
        metadata=export_metadata(
            **network.metadata(),
            **_coverage_metadata(fleet, serve_across, coverage, iso, turnout, max_snap_m),
            stations=len(stations),
            demand_points=len(demand_out),
            demand_sources=_sources(demand_out),
        ),
    )


def _fleet_stations(stations: gpd.GeoDataFrame, fleet: str | None) -> gpd.GeoDataFrame:
    """Only the stations of ``fleet`` (every station for ``None``)."""
    if fleet is None:
        return stations
    if fleet not in FLEET_TYPES:
        raise ParameterError(f"fleet {fleet!r}: use one of {', '.join(FLEET_TYPES)}")
    stations = stations[stations["fleet"] == fleet].reset_index(drop=True)
    if stations.empty:
        raise ParameterError(f"fleet {fleet!r} has no stations in the stations file")
    return stations


def _check_demand_areas(demand: gpd.GeoDataFrame) -> None:
    """Demand with weights and areas (:func:`planner.inputs.demand.assign_demand_areas`)."""
    for column in ("weight", "municipality_code", "region_code"):
        if column not in demand.columns:
            raise ParameterError(f"demand: column {column!r} is missing (assign_demand_areas)")
    require_weight(demand)


def _snap_stations(
    network: RoadNetwork, index: NetworkIndex, stations: gpd.GeoDataFrame, max_snap_m: float
) -> SnappedPoints | None:
    """The stations on the roads (``None`` when there is none)."""
    if stations.empty:
        return None
    return snap_points(network.graph, stations, edges=index.edges, max_distance_m=max_snap_m)


def _mutual_aid(
    response_s: np.ndarray,
    stations: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    coverage: CoverageSettings,
) -> pd.DataFrame | None:
    """The mutual-aid table when both layers carry regions and the demand spans several."""
    regional = "region_code" in stations.columns and "region_code" in demand.columns
    if not regional or demand["region_code"].dropna().nunique() <= 1:
        return None
    return mutual_aid_table(
        response_s,
        stations["region_code"].tolist(),
        demand["region_code"].tolist(),
        demand["weight"].to_numpy(dtype=float),
        settings=coverage,
    )


def _own_region_only(
    times: StationTimes, stations: gpd.GeoDataFrame, demand: gpd.GeoDataFrame
) -> np.ndarray:
    """Without mutual aid: a station reaches only the demand of its own region (else ``inf``)."""
    if "region_code" not in stations.columns or "region_code" not in demand.columns:
        raise ParameterError(
            "serve_across=False needs region_code on stations and demand (assign_areas)"
        )
    st_region = stations["region_code"].astype(object).to_numpy()
    dm_region = demand["region_code"].astype(object).to_numpy()
    mask = own_region(st_region[:, None], dm_region[None, :])
    return np.where(mask, times.to_demand, np.inf)


def _with_response(
    demand: gpd.GeoDataFrame,
    crs: str,
    to_demand: np.ndarray,
    names: list[str],
    turnout_s: float,
    snapped: SnappedPoints,
) -> gpd.GeoDataFrame:
    """The demand with its nearest station, drive and response times, and snapping."""
    nearest = nearest_frame(*nearest_rows(to_demand), names, turnout_s=turnout_s)
    return (
        demand.reset_index(drop=True)
        .to_crs(crs)
        .assign(
            nearest_station=nearest["nearest_station"].to_numpy(),
            drive_s=nearest["drive_s"].to_numpy(),
            response_s=nearest["response_s"].to_numpy(),
            response_min=nearest["response_min"].to_numpy(),
            snap_distance_m=snapped.snap_distance_m,
            snap_status=snapped.status,
            unreachable_reason=unreachable_reasons(  # issue 14: why, next to the empty time
                nearest["response_s"].to_numpy(), snapped.status, n_stations=len(names)
            ),
        )
    )


def _stations_out(
    stations: gpd.GeoDataFrame, snapped: SnappedPoints | None, crs: str
) -> gpd.GeoDataFrame:
    """The stations in the network's CRS with their snap distance (m) and status."""
    if snapped is None:
        return stations.to_crs(crs).assign(snap_distance_m=pd.Series(dtype=float), snap_status=None)
    return stations.to_crs(crs).assign(
        snap_distance_m=snapped.snap_distance_m.round(1), snap_status=snapped.status
    )


def _road_nodes(
    index: NetworkIndex, times: StationTimes, names: list[str], turnout_s: float, crs: str
) -> gpd.GeoDataFrame:
    """Every road node with its nearest station and times: a response-time surface."""
    ttg = index.ttg
    nodes = nearest_frame(times.node_time, times.node_origin, names, turnout_s=turnout_s)
    return gpd.GeoDataFrame(
        nodes.assign(node_id=ttg.node_ids), geometry=gpd.points_from_xy(ttg.x, ttg.y), crs=crs
    )


def _coverage_metadata(
    fleet: str | None,
    serve_across: bool,
    coverage: CoverageSettings,
    iso: IsochroneSettings,
    turnout_s: float,
    max_snap_m: float,
) -> dict[str, Any]:
    return {
        "fleet": fleet or "all",
        "mutual_aid": serve_across,
        "thresholds_min": list(coverage.thresholds_min),
        "turnout_s": turnout_s,
        "isochrone_buffer_m": iso.buffer_m,
        "isochrone_cell_m": iso.grid[0],
        "max_snap_m": max_snap_m,
    }


def _sources(demand: gpd.GeoDataFrame) -> list[str]:
    """The demand's source files or layers, sorted (empty without a ``source`` column)."""
    if "source" not in demand:
        return []
    return sorted(demand["source"].astype(str).unique().tolist())


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


def band_tables(results: Sequence[tuple[str, str, CoverageResult]]) -> dict[str, pd.DataFrame]:
    """The coverage tables of several time bands, stacked, for ``coverage_bands_<table>.csv``.

    Parameters
    ----------
    results
        (band, state, coverage) per run; state is ``"before"`` or ``"after"``.

    Returns
    -------
    dict
        Table name (``total``, ``municipality``, ...) -> the tables of every
        run one under the other, with ``band`` and ``state`` in front.
    """
    frames: dict[str, list[pd.DataFrame]] = {}
    for band, state, cover in results:
        for name, table in cover.tables.items():
            frame = table.assign(band=band, state=state)[["band", "state", *table.columns]]
            frames.setdefault(name, []).append(frame)
    return {name: pd.concat(parts, ignore_index=True) for name, parts in frames.items()}


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
OBJECTIVES = ("mclp", "pmedian", "pcenter", "lscp", "mexclp", "survival", "expected")


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
        Response-time target, minutes (MCLP, LSCP, MEXCLP, expected
        coverage, and the "newly within" figures).
    busy_fraction
        MEXCLP: share of time a unit is busy.
    survival
        Survival model for ``survival`` and the expected-survivor figures;
        with ``groups`` (:func:`planner.optimise.swedish_survival_groups`)
        the survivors are also reported per patient group.
    drive_time_cv
        ``expected``: coefficient of variation of the lognormal drive time
        (:class:`planner.optimise.ExpectedCoverage`).
    solver
        ``"exact"`` (HiGHS; :func:`planner.optimise.solve_exact`) or
        ``"heuristic"`` (greedy, then local search in a VNS).
    time_limit_s
        Wall-clock limit, s, of the exact solver, and of the heuristic's
        improvement phase.
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
    drive_time_cv: float = constants.DRIVE_TIME_CV
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
        object.__setattr__(self, "drive_time_cv", check_cv(self.drive_time_cv))
        if self.cutoff_min is not None:
            cutoff = self.cutoff_min
            if isinstance(cutoff, bool) or not (math.isfinite(cutoff) and cutoff > 0):
                raise ParameterError(f"cutoff_min = {cutoff!r}: give a positive time, min")
            if self.solver != "heuristic":
                raise ParameterError(
                    f"cutoff_min = {cutoff:g} needs solver = 'heuristic' (the exact solver "
                    "needs every response time)"
                )
            if self.objective in ("mclp", "lscp", "mexclp", "expected") and (
                cutoff < self.threshold_min
            ):
                raise ParameterError(
                    f"cutoff_min = {cutoff:g} is below threshold_min = {self.threshold_min:g}: "
                    "coverage within the threshold would be unknown"
                )

    def model(self, *, turnout_s: float = 0.0) -> Model:
        """The location model (``turnout_s``: the fixed part of the instance's times, s)."""
        threshold = self.threshold_min * 60.0
        if self.objective == "expected":
            return ExpectedCoverage(
                threshold_s=threshold, drive_time_cv=self.drive_time_cv, turnout_s=turnout_s
            )
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
    survivors
        With survival groups (:attr:`OptimiseSettings.survival` ``.groups``):
        expected cardiac-arrest survivors per year per patient group and in
        total, before and after (:func:`planner.optimise.survivors_table`);
        otherwise None.
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
    survivors: pd.DataFrame | None = None


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
        already has them (:func:`planner.network.index.index_network`); built here otherwise.

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
        If the demand is empty or every weight is 0 (:func:`planner.inputs.demand.require_weight`).
    """
    settings = settings or OptimiseSettings()
    turnout = network.settings.speed_model.turnout_s
    coverage = dataclasses.replace(coverage or CoverageSettings(), turnout_s=turnout)
    model = settings.model(turnout_s=turnout)
    base = stations if settings.baseline == "all" else stations[stations["fleet"] == settings.fleet]
    base = base.reset_index(drop=True)
    require_weight(demand)
    index = index or index_network(network, progress=progress)
    layer = combine_candidates(candidates_from_stations(base), candidates)
    sites, site_snap, unreachable = check_candidates(
        network, layer, max_distance_m=max_snap_m, edges=index.edges
    )
    dm_snap = snap_points(network.graph, demand, edges=index.edges, max_distance_m=max_snap_m)
    instance = optimise_instance(
        index.ttg, site_snap, dm_snap,
        turnout_s=network.settings.speed_model.turnout_s, cutoff_min=settings.cutoff_min,
        common=_instance_arguments(sites, demand),
        regions=None if serve_across else site_and_demand_regions(base, sites, demand),
        workers=workers, executor=executor, store=matrix_store, progress=progress,
    )  # fmt: skip
    solve = functools.partial(settings.solve, executor=executor)
    solution = solve(instance, model, settings.add)
    curve = (
        gain_curve(instance, model, k_max=settings.add, solve=solve, progress=progress)
        if settings.gain_curve
        else pd.DataFrame()
    )
    masks = _open_masks(instance, solution, settings)
    tables = _before_after(instance, masks, demand, dm_snap, coverage)
    survivors = (
        survivors_table(
            {label: instance.open_times(mask) for label, mask in masks.items()},
            instance.weight,
            survival=settings.survival,
        )
        if settings.survival.groups is not None
        else None
    )
    return OptimiseResult(
        solution=solution,
        sites=_proposed_sites(instance, solution, model, settings, sites, network.crs),
        gain_curve=curve,
        tables_before=tables["before"],
        tables_after=tables["after"],
        unreachable_candidates=unreachable,
        survivors=survivors,
        metadata=export_metadata(
            **network.metadata(),
            **_optimise_metadata(settings, solution, instance, serve_across),
            candidates=len(sites),
            demand_points=len(demand),
        ),
    )


def _instance_arguments(sites: gpd.GeoDataFrame, demand: gpd.GeoDataFrame) -> dict[str, Any]:
    """What :func:`planner.optimise.make_instance` needs besides the costs."""
    units = sites["units"].fillna(0).to_numpy() if "units" in sites else np.zeros(len(sites))
    required = sites["required"].to_numpy(dtype=bool)
    return {
        "weight": demand["weight"].to_numpy(),
        "site_names": sites["name"].tolist(),
        "required": required,
        "existing_units": np.where(required, np.maximum(units, 1), 0).astype(int),
        "demand_ids": demand["demand_id"].tolist() if "demand_id" in demand else None,
    }


def _proposed_sites(
    instance: Instance | SparseInstance,
    solution: Solution,
    model: Model,
    settings: OptimiseSettings,
    sites: gpd.GeoDataFrame,
    crs: str,
) -> gpd.GeoDataFrame:
    """The chosen sites in the order they were added, with what each adds."""
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
    return gpd.GeoDataFrame(
        contributions.assign(kind=sites["kind"].to_numpy()[chosen_rows], fleet=settings.fleet),
        geometry=sites.geometry.to_numpy()[chosen_rows],
        crs=sites.crs,
    ).to_crs(crs)


def _open_masks(
    instance: Instance | SparseInstance, solution: Solution, settings: OptimiseSettings
) -> dict[str, np.ndarray]:
    """Open sites with the existing stations (``before``) and with the solution (``after``)."""
    before_mask = (
        instance.existing_units > 0 if settings.objective == "mexclp" else instance.required
    )
    return {"before": before_mask, "after": solution.open_mask}


def _before_after(
    instance: Instance | SparseInstance,
    masks: dict[str, np.ndarray],
    demand: gpd.GeoDataFrame,
    snapped: SnappedPoints,
    coverage: CoverageSettings,
) -> dict[str, dict[str, pd.DataFrame]]:
    """The coverage tables for each set of open sites (``before``, ``after``)."""
    tables = {}
    for label, mask in masks.items():
        response = instance.open_times(mask)
        best = instance.assignment(mask)
        frame = demand.reset_index(drop=True).assign(
            response_s=response,
            nearest_station=np.where(best >= 0, np.asarray(instance.site_names)[best], None),
        )
        tables[label] = coverage_tables(
            frame.assign(response_min=response / 60.0, snap_status=snapped.status), coverage
        )
    return tables


def _optimise_metadata(
    settings: OptimiseSettings,
    solution: Solution,
    instance: Instance | SparseInstance,
    serve_across: bool,
) -> dict[str, Any]:
    size = instance.nbytes if isinstance(instance, SparseInstance) else instance.cost_s.nbytes
    return {
        "objective": settings.objective,
        "add": settings.add,
        "fleet": settings.fleet,
        "baseline": settings.baseline,
        "threshold_min": settings.threshold_min,
        "solver": settings.solver,
        "solver_status": solution.status,
        "solver_gap": solution.gap,
        "solver_optimal": solution.optimal,
        "solve_time_s": solution.solve_time_s,
        "seed": settings.seed,
        "mutual_aid": serve_across,
        "cutoff_min": settings.cutoff_min,
        "instance_mb": round(size / 1e6, 1),
        "objective_before": solution.objective_before,
        "objective_after": solution.objective_after,
    }


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
        ``coverage_after_<table>.csv``, ``unreachable_candidates.csv``,
        ``survivors.csv`` (with survival groups) and
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
    if result.survivors is not None:
        paths["survivors"] = out_dir / "survivors.csv"
        write_table(result.survivors, paths["survivors"], metadata=meta, style=style)
        sheets["survivors"] = result.survivors
    write_workbook(sheets, paths["xlsx"], metadata=meta, style=style)
    return paths
