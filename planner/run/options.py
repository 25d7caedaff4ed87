"""The command line's shared options, each defined once, in groups that commands take whole.

An option used by several commands is one ``Annotated`` type below, with its
flag and help text. Options that belong together are a frozen dataclass, an
*option group*: a command takes the group as one parameter, and
:func:`with_option_groups` turns the group's fields into the command's
options (flattening groups inside groups) and builds the group from them
when the command runs. So ``--pbf``, ``--region`` or ``--workers`` is written
once and means the same in every command that takes it:

:class:`NetworkOptions`
    The road source (``--pbf`` | ``--osm`` | ``--download``), the area
    (``--region`` | ``--boundary``, ``--buffer-km``), which roads
    (``--largest-only``, ``--no-ferries``), the speed model (``--speed``) and
    the cache (:class:`CacheOptions`).
:class:`CacheOptions`
    ``--cache-dir`` / ``--no-cache``.
:class:`WorkerOptions`
    Where the drive-time searches run: ``--workers N`` worker processes on
    this machine (every command that computes drive times), or blocks of
    stations on a Dask cluster: a local one of ``--dask-workers N`` processes,
    or an existing one at ``--scheduler ADDRESS``; and with which engine
    (``--engine auto|dijkstra|scipy|cch``).
:class:`StationOptions`, :class:`PointOptions`, :class:`DemandOptions`, :class:`BandOptions`
    The stations (``--stations`` | ``--osm-stations``); how point files are
    read and snapped (``--crs``, ``--not-sweden``, ``--max-snap-m``); the
    demand layer (``--demand``, ``--demand-type``, ``--weight``, ``--total``);
    the bands and isochrones (``--fleet``, ``--thresholds``, ``--buffer-m``,
    ``--cell-m``, ``--drive-only``).
:class:`SimulationOptions`
    The simulation's ``--replications`` and ``--seed``, over the scenario's
    ``[simulate]`` (``plan`` and ``simulate``).
:class:`TimeBandOptions`
    Time-of-day speeds: ``--speed-profile FILE|default`` and ``--band NAME``
    (repeatable, or ``all``).

:class:`LanguageOptions`
    What people read: its language (``--lang sv|en``) and the dialect of its
    CSV tables (``--csv excel-sv|standard``), for every command that writes
    tables, maps or reports.

``--overwrite``, ``--progress/--no-progress`` and ``--cdn`` are single shared
options (:data:`OverwriteOpt`, :data:`ProgressOpt`, :data:`CdnOpt`). Only :mod:`planner.run.cli` and
this module read the environment (``PLANNER_CACHE_DIR``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from planner import constants
from planner.distributed import BlockExecutor
from planner.errors import ParameterError
from planner.i18n import LANGUAGES, Language, check_language

if typing.TYPE_CHECKING:
    from planner.outputs.export import TableStyle

if TYPE_CHECKING:
    from planner.network.engine import EngineSettings

__all__ = [
    "BandOptions",
    "CacheOptions",
    "CalibrationOptions",
    "CdnOpt",
    "DemandOptions",
    "DriveTimeCvOpt",
    "LanguageOptions",
    "NetworkOptions",
    "OverwriteOpt",
    "PointOptions",
    "ProgressOpt",
    "SimulationOptions",
    "StationOptions",
    "SurvivalGroupsOpt",
    "TimeBandOptions",
    "WorkerOptions",
    "cache_folder",
    "with_option_groups",
]

# ---------------------------------------------------------------------------
# Options, each defined once
# ---------------------------------------------------------------------------
PbfOpt = Annotated[
    Path | None,
    typer.Option(
        "--pbf",
        help="OSM PBF file, e.g. Geofabrik's sweden-latest.osm.pbf.",
        rich_help_panel="Road network",
    ),
]
OsmOpt = Annotated[
    Path | None,
    typer.Option("--osm", help="OSM XML file (.osm, .osm.bz2).", rich_help_panel="Road network"),
]
DownloadOpt = Annotated[
    bool,
    typer.Option(
        "--download",
        help="Download the roads from Overpass (needs internet).",
        rich_help_panel="Road network",
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="Region (län) or municipality by code or name: 09, Gotland, 'Region Skåne', 0180.",
        rich_help_panel="Road network",
    ),
]
BoundaryOpt = Annotated[
    Path | None,
    typer.Option(
        "--boundary",
        help="Polygon file (GeoJSON, GeoPackage) to clip to instead.",
        rich_help_panel="Road network",
    ),
]
BufferOpt = Annotated[
    float,
    typer.Option(
        "--buffer-km",
        help="Buffer around the boundary, km.",
        show_default=True,
        rich_help_panel="Road network",
    ),
]
LargestOpt = Annotated[
    bool,
    typer.Option(
        "--largest-only",
        help="Keep only the largest strongly connected part.",
        rich_help_panel="Road network",
    ),
]
NoFerriesOpt = Annotated[
    bool,
    typer.Option("--no-ferries", help="Leave car ferries out.", rich_help_panel="Road network"),
]
SpeedOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--speed",
        help="Speed-model override KEY=VALUE, repeatable: blue_light_factor=1.2, "
        "dispatch_s=90, highway_speeds_kph.primary=70.",
        rich_help_panel="Road network",
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Cache folder (default: $PLANNER_CACHE_DIR or the user cache).",
        rich_help_panel="Road network",
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache", help="Neither read nor write the cache.", rich_help_panel="Road network"
    ),
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        help="Worker processes on this machine for the drive-time searches (1: this process).",
        rich_help_panel="Workers",
    ),
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="Travel-time engine: auto (the faster of Dijkstra and the contraction hierarchy, "
        "per query), dijkstra, scipy, or cch (needs the cch extra, routingkit-cch; times in "
        "whole ms). Default: the scenario's roads.engine, else auto.",
        rich_help_panel="Workers",
    ),
]
DaskWorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--dask-workers",
        help="Start a local Dask cluster of N worker processes and run the blocks of stations "
        "(sites, candidates) there.",
        rich_help_panel="Workers",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run the blocks of stations (sites, candidates) on this Dask cluster, "
        "e.g. tcp://10.0.0.5:8786.",
        rich_help_panel="Workers",
    ),
]
StationsOpt = Annotated[
    Path | None,
    typer.Option(
        "--stations",
        help="Stations file (CSV, GeoJSON, GeoPackage).",
        rich_help_panel="Stations and points",
    ),
]
OsmStationsOpt = Annotated[
    bool,
    typer.Option(
        "--osm-stations",
        help="Use OSM emergency=ambulance_station from the road source (Overpass with --download).",
        rich_help_panel="Stations and points",
    ),
]
CrsOpt = Annotated[
    str | None,
    typer.Option(
        "--crs",
        help="CRS of x/y columns in a CSV, e.g. EPSG:3006 (SWEREF 99 TM).",
        rich_help_panel="Stations and points",
    ),
]
NotSwedenOpt = Annotated[
    bool,
    typer.Option(
        "--not-sweden",
        help="Skip the check that stations and points lie in Sweden.",
        rich_help_panel="Stations and points",
    ),
]
MaxSnapOpt = Annotated[
    float,
    typer.Option(
        "--max-snap-m",
        help="Report points farther than this from any road, m.",
        rich_help_panel="Stations and points",
    ),
]
DemandOpt = Annotated[
    Path,
    typer.Option(
        "--demand",
        help="Demand file: SCB grid, weighted layer, OSM, calls.",
        rich_help_panel="Demand",
    ),
]
DemandTypeOpt = Annotated[
    str,
    typer.Option(
        "--demand-type",
        help="auto, points (weighted layer), grid (SCB), osm-population, buildings, calls.",
        rich_help_panel="Demand",
    ),
]
WeightOpt = Annotated[
    str | None,
    typer.Option(
        "--weight", help="Weight (population) column of the demand.", rich_help_panel="Demand"
    ),
]
TotalOpt = Annotated[
    float | None,
    typer.Option(
        "--total", help="Buildings: scale weights to this population.", rich_help_panel="Demand"
    ),
]
FleetOpt = Annotated[
    str | None,
    typer.Option(
        "--fleet",
        help="Only stations of this fleet (ambulance, psychiatric).",
        rich_help_panel="Bands and isochrones",
    ),
]
ThresholdsOpt = Annotated[
    str,
    typer.Option(
        "--thresholds",
        help="Response-time bands, minutes, increasing: 10,20,30.",
        rich_help_panel="Bands and isochrones",
    ),
]
BufferMOpt = Annotated[
    float,
    typer.Option(
        "--buffer-m",
        help="Isochrones: width added on each side of a road, m.",
        rich_help_panel="Bands and isochrones",
    ),
]
CellMOpt = Annotated[
    float,
    typer.Option(
        "--cell-m",
        help="Isochrones: largest raster cell, m (finer = slower).",
        rich_help_panel="Bands and isochrones",
    ),
]
ReplicationsOpt = Annotated[
    int | None,
    typer.Option(
        "--replications",
        help="Simulation: independent replications (default: [simulate] replications, 10).",
        rich_help_panel="Simulation",
    ),
]
SimSeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed",
        help="Simulation: seed of the calls and durations; every state sees the same calls "
        "(default: [simulate] seed, 0).",
        rich_help_panel="Simulation",
    ),
]
DriveOnlyOpt = Annotated[
    bool,
    typer.Option(
        "--drive-only",
        help="Isochrone bands of drive time, without the turn-out time.",
        rich_help_panel="Bands and isochrones",
    ),
]


DriveTimeCvOpt = Annotated[
    float | None,
    typer.Option(
        "--drive-time-cv",
        help="Uncertain drive times: coefficient of variation of a lognormal drive time "
        "(e.g. 0.3). Coverage tables gain the expected share within each threshold; "
        "--objective expected uses it (default 0.3).",
    ),
]
SurvivalGroupsOpt = Annotated[
    bool,
    typer.Option(
        "--survival-groups",
        help="Survival by patient group (shockable rhythm or not × bystander CPR or not, "
        "Swedish register figures): survivors per group in survivors.csv.",
    ),
]
CalibrationBandsOpt = Annotated[
    str,
    typer.Option(
        "--bands",
        help="Time bands to fit: all (one), hours (night 22-06, morning peak 06-09, day "
        "09-15, afternoon peak 15-18, evening 18-22) or week (hours on weekdays and weekends).",
        show_default=True,
        rich_help_panel="Calibration",
    ),
]
FoldsOpt = Annotated[
    int,
    typer.Option(
        "--folds", help="Cross-validation folds.", show_default=True, rich_help_panel="Calibration"
    ),
]
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed", help="Seed of the cross-validation folds.", show_default=True,
        rich_help_panel="Calibration",
    ),
]  # fmt: skip
LangOpt = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of the map, report, XLSX headers and console: sv (Swedish) or en "
        "(English). Default: the scenario's language (plan), Swedish (demo), English with "
        "--not-sweden, else Swedish; compare: that of the first run.",
        rich_help_panel="Language and formats",
    ),
]
CsvOpt = Annotated[
    str | None,
    typer.Option(
        "--csv",
        help="CSV dialect: excel-sv (';', decimal comma, UTF-8 with BOM, for Swedish Excel) or "
        "standard (',', decimal point). Default: excel-sv in Swedish, standard in English.",
        rich_help_panel="Language and formats",
    ),
]
CdnOpt = Annotated[
    bool,
    typer.Option(
        "--cdn",
        help="Link Leaflet from CDNs: a smaller map that needs the network (default: Leaflet "
        "is written into the map, which opens with no network).",
        rich_help_panel="Language and formats",
    ),
]

# ---------------------------------------------------------------------------
# Groups of options
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheOptions:
    """``--cache-dir`` / ``--no-cache``."""

    cache_dir: CacheDirOpt = None
    no_cache: NoCacheOpt = False

    def folder(self) -> Path | None:
        """The cache folder (:func:`cache_folder`), ``None`` with ``--no-cache``."""
        return cache_folder(self.cache_dir, self.no_cache)


@dataclass(frozen=True)
class NetworkOptions:
    """The road network: source, area, which roads, speed model, and the cache it is kept in."""

    pbf: PbfOpt = None
    osm: OsmOpt = None
    download: DownloadOpt = False
    region: RegionOpt = None
    boundary: BoundaryOpt = None
    buffer_km: BufferOpt = constants.DEFAULT_BUFFER_KM
    largest_only: LargestOpt = False
    no_ferries: NoFerriesOpt = False
    speed: SpeedOpt = None
    cache: CacheOptions = field(default_factory=CacheOptions)

    @property
    def osm_file(self) -> Path | None:
        """The OSM file the roads come from (``None`` with ``--download``)."""
        return self.pbf or self.osm

    def area(self) -> tuple[Any, str | None]:
        """(polygon in EPSG:4326 or None, its name) from ``--region`` or ``--boundary``."""
        if self.region and self.boundary:
            raise ParameterError("--region and --boundary: give one of them, not both")
        if self.region:
            from planner.network.regions import find_area

            area = find_area(self.region)
            return area.geometry, str(area)
        if self.boundary:
            from planner.network.regions import read_boundary

            return read_boundary(self.boundary, argument="--boundary"), self.boundary.name
        return None, None


@dataclass(frozen=True)
class WorkerOptions:
    """Where the drive-time searches run (local processes, or blocks on a Dask cluster), and how."""

    workers: WorkersOpt = 1
    dask_workers: DaskWorkersOpt = None
    scheduler: SchedulerOpt = None
    engine: EngineOpt = None

    def engine_settings(self, default: str = "auto") -> EngineSettings:
        """The engine of ``--engine`` (``default`` without it), checked.

        Raises
        ------
        ParameterError
            For an unknown engine, or ``cch`` without the ``routingkit-cch`` wheel.
        """
        from planner.network.engine import ENGINES, EngineSettings, require_cch

        name = default if self.engine is None else self.engine
        if name not in ENGINES:
            raise ParameterError(f"--engine {name}: use one of {', '.join(ENGINES)}")
        if name == "cch":
            require_cch()
        return EngineSettings(name)

    @contextmanager
    def executor(self) -> Iterator[BlockExecutor | None]:
        """``None`` (in this process, ``--workers`` processes), or a Dask cluster's executor.

        The executor is closed when the ``with`` block ends.

        Raises
        ------
        ParameterError
            For ``--dask-workers`` with ``--scheduler``, a cluster with
            ``--workers`` above 1, or ``--dask-workers`` below 1.
        """
        from planner.distributed import make_executor

        if self.dask_workers is not None and self.scheduler is not None:
            raise ParameterError("--dask-workers and --scheduler: give one of them, not both")
        if self.dask_workers is None and self.scheduler is None:
            yield None
            return
        if self.workers != 1:
            raise ParameterError(
                "--workers runs the searches in processes on this machine; with "
                "--dask-workers or --scheduler they run on the cluster: give one of them"
            )
        if isinstance(self.dask_workers, int) and self.dask_workers < 1:
            raise ParameterError(
                f"--dask-workers = {self.dask_workers}: must be a whole number >= 1"
            )
        with make_executor(scheduler=self.scheduler, workers=self.dask_workers) as executor:
            yield executor


@dataclass(frozen=True)
class StationOptions:
    """The stations: a file, or OSM's ``emergency=ambulance_station`` (one of them)."""

    stations: StationsOpt = None
    osm_stations: OsmStationsOpt = False


@dataclass(frozen=True)
class PointOptions:
    """How point files are read and snapped to the roads."""

    crs: CrsOpt = None
    not_sweden: NotSwedenOpt = False
    max_snap_m: MaxSnapOpt = constants.MAX_SNAP_DISTANCE_M


@dataclass(frozen=True)
class DemandOptions:
    """The demand layer and how to read it (``--demand`` is required)."""

    demand: DemandOpt
    demand_type: DemandTypeOpt = "auto"
    weight: WeightOpt = None
    total: TotalOpt = None


@dataclass(frozen=True)
class BandOptions:
    """The fleet, the response-time bands and how isochrones are drawn."""

    fleet: FleetOpt = None
    thresholds: ThresholdsOpt = "10,20,30"
    buffer_m: BufferMOpt = constants.ISOCHRONE_BUFFER_M
    cell_m: CellMOpt = constants.ISOCHRONE_CELL_M
    drive_only: DriveOnlyOpt = False


@dataclass(frozen=True)
class SimulationOptions:
    """The simulation's replications and seed, over the scenario's ``[simulate]``."""

    replications: ReplicationsOpt = None
    seed: SimSeedOpt = None


SpeedProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--speed-profile",
        help="Time-of-day speed profile: a speed-profile CSV file, or 'default' (built in).",
        rich_help_panel="Time of day",
    ),
]
TimeBandOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--band",
        help="Time band of the speed profile to run, repeatable, or 'all': night, "
        "morning_peak, day ... (without --speed-profile: the scenario's or the built-in profile).",
        rich_help_panel="Time of day",
    ),
]


@dataclass(frozen=True)
class TimeBandOptions:
    """Time-of-day speeds: the speed profile and the bands to run."""

    speed_profile: SpeedProfileOpt = None
    band: TimeBandOpt = None

    def resolve(
        self, profile: Any = None, bands: tuple[str, ...] = ()
    ) -> tuple[Any, tuple[str, ...]]:
        """(speed profile or None, band names) from the options over a scenario's own.

        Parameters
        ----------
        profile, bands
            The scenario's profile and bands (``[speeds]``), if any.

        Raises
        ------
        ParameterError
            For ``--speed-profile`` without ``--band``, or an unknown band
            (naming ``--band`` and the profile's bands).
        planner.errors.InputFileError
            For a bad profile file (naming its line and column).
        """
        from planner.network.profiles import default_speed_profile, read_speed_profile

        if self.speed_profile is not None:
            if not self.band:
                raise ParameterError(
                    "--speed-profile: name the bands to run with --band NAME or --band all"
                )
            profile = (
                default_speed_profile()
                if self.speed_profile == "default"
                else read_speed_profile(Path(self.speed_profile))
            )
        if not self.band:
            return profile, bands
        profile = profile or default_speed_profile()
        wanted: str | list[str] = "all" if "all" in self.band else list(self.band)
        return profile, profile.select(wanted, argument="--band")


@dataclass(frozen=True)
class CalibrationOptions:
    """How ``planner calibrate`` fits: the time bands, the folds and their seed."""

    bands: CalibrationBandsOpt = "week"
    folds: FoldsOpt = constants.CALIBRATION_FOLDS
    seed: SeedOpt = 0


@dataclass(frozen=True)
class LanguageOptions:
    """The language of what people read (``--lang``) and the CSV dialect (``--csv``)."""

    lang: LangOpt = None
    csv: CsvOpt = None

    def language(self, default: Language) -> Language:
        """``--lang``, checked, or ``default`` when it is not given."""
        if self.lang is None:
            return default
        if self.lang not in LANGUAGES:
            raise ParameterError(
                f"--lang {self.lang}: not a language planner writes in; use sv (Swedish) or "
                "en (English)"
            )
        return check_language(self.lang, argument="--lang")

    def csv_dialect(self) -> str | None:
        """``--csv``, checked (None: by the language)."""
        from planner.outputs.export import CSV_DIALECTS

        if self.csv is not None and self.csv not in CSV_DIALECTS:
            raise ParameterError(
                f"--csv {self.csv}: not a CSV dialect; use excel-sv (';', decimal comma, for "
                "Swedish Excel) or standard (',', decimal point)"
            )
        return self.csv

    def style(self, default: Language) -> TableStyle:
        """How tables are written: the language and dialect (excel-sv for Swedish by default)."""
        from planner.outputs.export import table_style

        return table_style(self.language(default), self.csv_dialect())


#: The option groups a command may take as a parameter.
OPTION_GROUPS = (
    CacheOptions,
    NetworkOptions,
    WorkerOptions,
    StationOptions,
    PointOptions,
    DemandOptions,
    BandOptions,
    SimulationOptions,
    TimeBandOptions,
    CalibrationOptions,
    LanguageOptions,
)


def cache_folder(cache_dir: Path | None, no_cache: bool) -> Path | None:
    """The cache folder: --cache-dir, else $PLANNER_CACHE_DIR, else the user cache."""
    if no_cache:
        return None
    if cache_dir is not None:
        return cache_dir
    env = os.environ.get("PLANNER_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("planner"))


# ---------------------------------------------------------------------------
# Commands that take groups
# ---------------------------------------------------------------------------

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _flat_parameters(group: type) -> list[inspect.Parameter]:
    """A group's fields as keyword-only parameters, groups inside it flattened."""
    hints = typing.get_type_hints(group, include_extras=True)
    out = []
    for f in dataclasses.fields(group):
        if hints[f.name] in OPTION_GROUPS:
            out.extend(_flat_parameters(hints[f.name]))
            continue
        default = inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        out.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hints[f.name]
            )
        )
    return out


def _build_group(group: type, values: dict[str, Any]) -> Any:
    """The group from the command's flat option values (removed from ``values``)."""
    hints = typing.get_type_hints(group, include_extras=True)
    kwargs = {
        f.name: _build_group(hints[f.name], values)
        if hints[f.name] in OPTION_GROUPS
        else values.pop(f.name)
        for f in dataclasses.fields(group)
    }
    return group(**kwargs)


def with_option_groups(command: _Command) -> _Command:
    """Let a command take option groups (:data:`OPTION_GROUPS`) as parameters.

    Each group parameter is replaced, in the signature typer reads, by the
    group's fields as options; when the command runs, the group is built from
    their values and passed whole. Parameters that are not groups stay as they
    are. Duplicate option names between a command and its groups are refused.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    groups: dict[str, type] = {}
    parameters: list[inspect.Parameter] = []
    for p in inspect.signature(command).parameters.values():
        hint = hints[p.name]
        if hint in OPTION_GROUPS:
            groups[p.name] = hint
            parameters.extend(_flat_parameters(hint))
        else:
            parameters.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hint))
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise TypeError(f"{command.__name__}: an option is defined twice")

    @functools.wraps(command)
    def run(**values: Any) -> Any:
        for name, group in groups.items():
            values[name] = _build_group(group, values)
        return command(**values)

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return run  # type: ignore[return-value]
