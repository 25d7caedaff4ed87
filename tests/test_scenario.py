"""Scenario files: the region templates load, bad files fail with located messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.errors import InputFileError, MissingFileError, OutputExistsError
from planner.network.regions import load_regions
from planner.run.scenario import (
    DemandLayer,
    load_scenario,
    region_slug,
    scenario_to_dict,
    write_region_scenarios,
)

REGIONS_DIR = Path(__file__).resolve().parents[1] / "data" / "regions"

# Line numbers matter: the catalogue below refers to them.
GOOD = """\
name = "gotland"

[region]
code = "09"
buffer_km = 10

[roads]
source = "pbf"
path = "roads/gotland.osm.pbf"
largest_only = false

[stations]
path = "stations.csv"
crs = "EPSG:4326"

[[demand]]
path = "grid.csv"
type = "grid"

[[demand]]
path = "calls.csv"
type = "calls"
fleet = "psychiatric"
hours = "14-02"
factor = 0.5

[speeds]
blue_light_factor = 1.2

[speeds.highway_speeds_kph]
primary = 70

[coverage]
thresholds_min = [10, 20, 30]

[isochrones]
buffer_m = 100
cell_m = 70

[optimise]
objective = "mclp"
add = 2
fleet = "ambulance"
threshold_min = 20
solver = "exact"
candidates = ["osm", "grid"]
grid_spacing_m = 3000

[outputs]
dir = "out/gotland"
"""


def _lines() -> list[str]:
    return GOOD.splitlines()


def _line_of(text: str) -> int:
    """1-based line of the first line of GOOD that starts with ``text``."""
    for number, line in enumerate(_lines(), start=1):
        if line.startswith(text):
            return number
    raise AssertionError(text)


def _replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def _write_inputs(folder: Path) -> None:
    (folder / "roads").mkdir(exist_ok=True)
    for name in ("roads/gotland.osm.pbf", "stations.csv", "grid.csv", "calls.csv"):
        (folder / name).write_text("x\n", encoding="utf-8")


def _write(folder: Path, text: str, name: str = "gotland.toml") -> Path:
    _write_inputs(folder)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# The region templates
# --------------------------------------------------------------------------
def test_every_region_file_loads_with_the_right_code() -> None:
    regions = load_regions()
    files = sorted(p for p in REGIONS_DIR.glob("*.toml") if p.name != "example.toml")
    assert len(files) == 21
    by_code = {}
    for file in files:
        scenario = load_scenario(file, check_files=False)
        assert scenario.region.level == "region"
        assert scenario.roads.source == "download"
        assert scenario.stations.path == (REGIONS_DIR / "stations.csv").resolve()
        assert scenario.demand[0].type == "grid"
        assert scenario.name == file.stem
        by_code[scenario.region.code] = file.stem
    assert sorted(by_code) == sorted(regions["code"])
    assert len(set(by_code)) == 21
    expected = {
        c: region_slug(n) for c, n in zip(regions["code"], regions["short_name"], strict=True)
    }
    assert by_code == expected
    assert {"stockholm", "gotland", "vastra-gotaland", "orebro"} <= set(by_code.values())


def test_example_loads_and_uses_every_table() -> None:
    scenario = load_scenario(REGIONS_DIR / "example.toml", check_files=False)
    assert scenario.region.code == "09"
    assert len(scenario.demand) == 2
    assert scenario.demand[1].hours == (14, 2)
    assert scenario.optimise is not None and scenario.optimise.add == 2
    assert scenario.candidates is not None
    assert scenario.speed_model.highway_speeds_kph["primary"] == 80


def test_example_explains_every_key() -> None:
    from planner.run.scenario import _TABLES, _speed_keys

    text = (REGIONS_DIR / "example.toml").read_text(encoding="utf-8")
    for table, keys in {**_TABLES, "speeds": _speed_keys()}.items():
        for key in keys:
            forms = (f"{key} =", f"[{key}]", f"[[{key}]]", f".{key}]")
            assert any(form in text for form in forms), (table, key)


def test_write_region_scenarios_refuses_to_overwrite(tmp_path: Path) -> None:
    written = write_region_scenarios(tmp_path)
    assert len(written) == 21
    assert (tmp_path / "vastra-gotaland.toml").is_file()
    with pytest.raises(OutputExistsError):
        write_region_scenarios(tmp_path)
    assert len(write_region_scenarios(tmp_path, overwrite=True)) == 21
    for path in written:
        assert path.read_text(encoding="utf-8") == (REGIONS_DIR / path.name).read_text(
            encoding="utf-8"
        )


# --------------------------------------------------------------------------
# A good scenario
# --------------------------------------------------------------------------
def test_good_scenario_resolves_relative_paths(tmp_path: Path) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    path = _write(folder, GOOD)
    scenario = load_scenario(path)
    assert scenario.path == path.resolve()
    assert scenario.roads.path == (folder / "roads" / "gotland.osm.pbf").resolve()
    assert scenario.stations.path == (folder / "stations.csv").resolve()
    assert scenario.demand[0] == DemandLayer(path=(folder / "grid.csv").resolve(), type="grid")
    assert scenario.demand[1].hours == (14, 2)
    assert scenario.demand[1].factor == 0.5
    assert scenario.outputs.dir == (folder / "out" / "gotland").resolve()
    assert scenario.outputs.map == Path("maps") / "gotland.html"  # default: cwd-relative
    assert scenario.network.buffer_km == 10
    assert scenario.network.speed_model.blue_light_factor == 1.2
    assert scenario.speed_model.highway_speeds_kph["primary"] == 70
    assert scenario.coverage.thresholds_min == (10, 20, 30)
    assert scenario.isochrones.thresholds_min == (10, 20, 30)
    assert scenario.optimise.objective == "mclp"
    assert scenario.candidates.sources == ("osm", "grid")


def test_scenario_to_dict_is_json_and_stable(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    first = scenario_to_dict(load_scenario(path))
    text = json.dumps(first, sort_keys=True)
    assert json.loads(text) == first
    assert json.dumps(scenario_to_dict(load_scenario(path)), sort_keys=True) == text
    assert first["region"]["code"] == "09"
    assert first["demand"][1]["hours"] == [14, 2]
    assert first["optimise"]["survival"]["coefficients"] == [0.679, 0.262]


def test_scenario_is_frozen(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, GOOD))
    with pytest.raises(AttributeError):
        scenario.name = "x"  # type: ignore[misc]


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="no such file"):
        load_scenario(tmp_path / "nope.toml")


# --------------------------------------------------------------------------
# The catalogue of bad scenarios
# --------------------------------------------------------------------------
def _bad(text: str, line: int, *fragments: str) -> tuple[str, int, tuple[str, ...]]:
    return text, line, fragments


L = _line_of
CASES = {
    "unknown optimise key": _bad(
        _replace('objective = "mclp"', 'objectve = "mclp"'),
        L('objective = "mclp"'),
        "optimise.objectve is not a known key; did you mean 'objective'?",
        'Example: objective = "mclp"',
    ),
    "unknown top-level table": _bad(
        _replace("[coverage]", "[coverge]"),
        L("[coverage]"),
        "coverge is not a known key; did you mean 'coverage'?",
        "Example: [coverage]",
    ),
    "unknown demand key in the second entry": _bad(
        _replace('hours = "14-02"', 'hour = "14-02"'),
        L('hours = "14-02"'),
        "demand[2].hour is not a known key; did you mean 'hours'?",
        'Example: hours = "14-02"',
    ),
    "unknown speeds key": _bad(
        _replace("blue_light_factor = 1.2", "blue_light = 1.2"),
        L("blue_light_factor"),
        "speeds.blue_light is not a known key; did you mean 'blue_light_factor'?",
        "Example: blue_light_factor = 1.15",
    ),
    "time bands without a profile": _bad(
        _replace("blue_light_factor = 1.2", 'blue_light_factor = 1.2\nbands = ["night"]'),
        L("blue_light_factor") + 1,
        'speeds.bands needs speeds.profile, e.g. profile = "default"',
    ),
    "unknown time band": _bad(
        _replace(
            "blue_light_factor = 1.2",
            'blue_light_factor = 1.2\nprofile = "default"\nbands = ["nigth"]',
        ),
        L("blue_light_factor") + 2,
        "speeds.bands: 'nigth' is not a band of speed profile 'default'; did you mean 'night'?",
    ),
    "speed profile file missing": _bad(
        _replace("blue_light_factor = 1.2", 'blue_light_factor = 1.2\nprofile = "peaks.csv"'),
        L("blue_light_factor") + 1,
        "speeds.profile: file",
        "peaks.csv does not exist",
    ),
    "misspelt highway class": _bad(
        _replace("primary = 70", "primay = 70"),
        L("primary = 70"),
        "speeds.highway_speeds_kph.primay is not a known highway class; did you mean 'primary'?",
    ),
    "syntax error": _bad(
        _replace("add = 2", "add = "),
        L("add = 2"),
        "column",
        "TOML syntax error: Invalid value",
    ),
    "duplicate key": _bad(
        _replace("add = 2", "add = 2\nadd = 3"),
        L("add = 2") + 1,
        "optimise.add is given twice",
    ),
    "duplicate table": _bad(
        GOOD + "\n[optimise]\nseed = 1\n",
        len(GOOD.splitlines()) + 2,
        "optimise is given twice",
    ),
    "whole number as text": _bad(
        _replace("add = 2", 'add = "two"'),
        L("add = 2"),
        "optimise.add must be a whole number, e.g. add = 2",
    ),
    "number as text": _bad(
        _replace("buffer_km = 10", 'buffer_km = "ten"'),
        L("buffer_km"),
        "region.buffer_km must be a number, e.g. buffer_km = 10",
    ),
    "bool as text": _bad(
        _replace("largest_only = false", 'largest_only = "no"'),
        L("largest_only"),
        "roads.largest_only must be true or false",
    ),
    "buffer out of range": _bad(
        _replace("buffer_km = 10", "buffer_km = 500"),
        L("buffer_km"),
        "region.buffer_km: buffer_km = 500.0 km: use a buffer between 0 and 200 km",
    ),
    "blue light factor out of range": _bad(
        _replace("blue_light_factor = 1.2", "blue_light_factor = 9"),
        L("blue_light_factor"),
        "speeds.blue_light_factor",
    ),
    "cell too coarse": _bad(
        _replace("cell_m = 70", "cell_m = 5000"),
        L("cell_m"),
        "isochrones.cell_m: cell_m = 5000 m is too coarse",
    ),
    "unknown region": _bad(
        _replace('code = "09"', 'code = "Gotlnd"'),
        L('code = "09"'),
        "region.code: No Swedish region or municipality matches 'Gotlnd'",
        "Gotland",
    ),
    "region code and name disagree": _bad(
        _replace('code = "09"', 'code = "09"\nname = "Skåne"'),
        L('code = "09"') + 1,
        "region.name 'Skåne' is Skåne län (12), but region.code '09' is Gotlands län (09)",
    ),
    "missing roads.source": _bad(
        _replace('source = "pbf"\n', ""),
        L("[roads]"),
        'roads.source is required but missing; e.g. source = "download"',
    ),
    "missing region table": _bad(
        _replace('[region]\ncode = "09"\nbuffer_km = 10\n', ""),
        1,
        "[region] is missing",
    ),
    "pbf without path": _bad(
        _replace('path = "roads/gotland.osm.pbf"\n', ""),
        L('source = "pbf"'),
        'roads.source = "pbf" needs roads.path',
    ),
    "download with a path": _bad(
        _replace('source = "pbf"', 'source = "download"').replace(
            'candidates = ["osm", "grid"]', 'candidates = ["grid"]'
        ),
        L('path = "roads/'),
        "roads.path is only used with source",
    ),
    "unknown road source": _bad(
        _replace('source = "pbf"', 'source = "pfb"'),
        L('source = "pbf"'),
        "roads.source = 'pfb' is not one of download, pbf, osm; did you mean 'pbf'?",
        'Example: source = "download"',
    ),
    "road file does not exist": _bad(
        _replace("roads/gotland.osm.pbf", "roads/nowhere.osm.pbf"),
        L('path = "roads/'),
        "roads.path: file",
        "nowhere.osm.pbf does not exist",
    ),
    "stations file does not exist": _bad(
        _replace('path = "stations.csv"', 'path = "stationer.csv"'),
        L('path = "stations.csv"'),
        "stations.path: file",
        "does not exist",
    ),
    "demand file does not exist": _bad(
        _replace('path = "calls.csv"', 'path = "samtal.csv"'),
        L('path = "calls.csv"'),
        "demand[2].path: file",
        "samtal.csv does not exist",
    ),
    "stations path and osm": _bad(
        _replace('crs = "EPSG:4326"', 'crs = "EPSG:4326"\nosm = true'),
        L('crs = "EPSG:4326"') + 1,
        "stations: give path or osm = true, not both",
    ),
    "bad stations crs": _bad(
        _replace('crs = "EPSG:4326"', 'crs = "EPSG:99999999"'),
        L('crs = "EPSG:4326"'),
        "stations.crs = 'EPSG:99999999' is not a CRS",
    ),
    "thresholds not increasing": _bad(
        _replace("thresholds_min = [10, 20, 30]", "thresholds_min = [10, 30, 20]"),
        L("thresholds_min"),
        "coverage.thresholds_min: thresholds must be increasing: 30 min is followed by 20 min",
    ),
    "thresholds not numbers": _bad(
        _replace("thresholds_min = [10, 20, 30]", 'thresholds_min = ["10", "20"]'),
        L("thresholds_min"),
        "coverage.thresholds_min must be a list of numbers, e.g. thresholds_min = [10, 20, 30]",
    ),
    "unknown objective": _bad(
        _replace('objective = "mclp"', 'objective = "pmedain"'),
        L('objective = "mclp"'),
        "optimise.objective = 'pmedain' is not one of mclp, pmedian",
        "did you mean 'pmedian'?",
    ),
    "unknown optimise fleet": _bad(
        _replace('fleet = "ambulance"', 'fleet = "ambulanse"'),
        L('fleet = "ambulance"'),
        "optimise.fleet = 'ambulanse' is not one of ambulance, psychiatric",
        "did you mean 'ambulance'?",
    ),
    "unknown demand fleet": _bad(
        _replace('fleet = "psychiatric"', 'fleet = "psych"'),
        L('fleet = "psychiatric"'),
        "demand[2].fleet = 'psych' is not one of ambulance, psychiatric, all",
    ),
    "unknown demand type": _bad(
        _replace('type = "grid"', 'type = "gird"'),
        L('type = "grid"'),
        "demand[1].type = 'gird' is not one of grid, points",
        "did you mean 'grid'?",
    ),
    "unknown solver": _bad(
        _replace('solver = "exact"', 'solver = "highs"'),
        L('solver = "exact"'),
        "optimise.solver = 'highs' is not one of exact, heuristic",
    ),
    "hours in a bad format": _bad(
        _replace('hours = "14-02"', 'hours = "2pm to 2am"'),
        L('hours = "14-02"'),
        "demand[2].hours = '2pm to 2am': write start-end hours",
    ),
    "hours out of range": _bad(
        _replace('hours = "14-02"', 'hours = "25-02"'),
        L('hours = "14-02"'),
        "demand[2].hours = '25-02': hours must lie in 0-24",
    ),
    "hours on a grid layer": _bad(
        _replace('type = "grid"', 'type = "grid"\nhours = "08-17"'),
        L('type = "grid"') + 1,
        'demand[1].hours is only used with type = "calls"',
    ),
    "total on a grid layer": _bad(
        _replace('type = "grid"', 'type = "grid"\ntotal = 1000'),
        L('type = "grid"') + 1,
        'demand[1].total is only used with type = "buildings"',
    ),
    "negative factor": _bad(
        _replace("factor = 0.5", "factor = -1"),
        L("factor = 0.5"),
        "demand[2].factor = -1: give a positive factor",
    ),
    "demand as a single table": _bad(
        _replace("[[demand]]", "[demand]").replace(
            '[[demand]]\npath = "calls.csv"\ntype = "calls"\nfleet = "psychiatric"\n'
            'hours = "14-02"\nfactor = 0.5\n',
            "",
        ),
        L("[[demand]]"),
        "demand must be written [[demand]]",
    ),
    "demand missing": _bad(
        _replace('[[demand]]\npath = "grid.csv"\ntype = "grid"\n', "").replace(
            '[[demand]]\npath = "calls.csv"\ntype = "calls"\nfleet = "psychiatric"\n'
            'hours = "14-02"\nfactor = 0.5\n',
            "",
        ),
        1,
        "[[demand]] is missing",
    ),
    "threshold out of range": _bad(
        _replace("threshold_min = 20", "threshold_min = -5"),
        L("threshold_min"),
        "optimise.threshold_min: threshold_min: -5 min is not a positive time",
    ),
    "add below one": _bad(
        _replace("add = 2", "add = 0"),
        L("add = 2"),
        "optimise.add must be at least 1",
    ),
    "osm candidates with downloaded roads": _bad(
        _replace('source = "pbf"\npath = "roads/gotland.osm.pbf"\n', 'source = "download"\n'),
        L("candidates =") - 1,  # one line fewer above
        'optimise.candidates "osm" reads sites from the roads file',
    ),
    "unknown candidate source": _bad(
        _replace('candidates = ["osm", "grid"]', 'candidates = ["osm", "gridd"]'),
        L("candidates ="),
        "optimise.candidates = 'gridd' is not one of osm, grid, file; did you mean 'grid'?",
    ),
    "file candidates without a file": _bad(
        _replace('candidates = ["osm", "grid"]', 'candidates = ["file"]'),
        L("candidates ="),
        'optimise.candidates "file" needs candidates_file',
    ),
    "cutoff with the exact solver": _bad(
        _replace("add = 2", "add = 2\ncutoff_min = 60"),
        L("add = 2") + 1,
        "optimise.cutoff_min: cutoff_min = 60 needs solver = 'heuristic'",
    ),
    "cutoff not positive": _bad(
        _replace("add = 2", "add = 2\ncutoff_min = 0"),
        L("add = 2") + 1,
        "optimise.cutoff_min = 0 must be positive, e.g. cutoff_min = 60",
    ),
    "name missing": _bad(
        _replace('name = "gotland"\n', "# no name\n"),
        1,
        'name is required but missing; e.g. name = "gotland"',
    ),
    "name not text": _bad(
        _replace('name = "gotland"', "name = 9"),
        1,
        'name must be text in quotes, e.g. name = "gotland"',
    ),
    "empty file": _bad("", 1, "the scenario is empty"),
    "comments only": _bad("# nothing here\n\n", 1, "the scenario is empty"),
    "name climbs out of out/": _bad(
        _replace('name = "gotland"', 'name = "../../etc/gotland"'),
        1,
        "name = '../../etc/gotland' holds a folder separator (/ or \\)",
        "it must be a plain file name",
        "out/<name> and maps/<name>.html",
    ),
    "absolute name": _bad(
        _replace('name = "gotland"', 'name = "/tmp/gotland"'),
        1,
        "name = '/tmp/gotland' holds a folder separator",
    ),
    "name with a backslash": _bad(
        _replace('name = "gotland"', "name = 'C:\\\\Windows'"),
        1,
        "name = 'C:\\\\\\\\Windows' holds a folder separator",
    ),
    "name with a drive": _bad(
        _replace('name = "gotland"', 'name = "C:gotland"'), 1, "name = 'C:gotland' holds ':'"
    ),
    "name of two dots": _bad(
        _replace('name = "gotland"', 'name = ".."'), 1, "name = '..' holds '..' or is only dots"
    ),
    "name with a NUL": _bad(
        _replace('name = "gotland"', 'name = "got\\u0000land"'),
        1,
        "name = 'got\\x00land' holds a control character",
    ),
    "name with a line break": _bad(
        _replace('name = "gotland"', 'name = "got\\nland"'),
        1,
        "name = 'got\\nland' holds a control character",
    ),
    "name with a space at the end": _bad(
        _replace('name = "gotland"', 'name = "gotland "'),
        1,
        "name = 'gotland ' starts or ends with a space",
    ),
}


#: GOOD with a [simulate] section at its end; the cases below add one key each.
SIMULATE_GOOD = GOOD + "\n[simulate]\nemergency_only = false\n"


def _sim(extra: str, *fragments: str) -> tuple[str, int, tuple[str, ...]]:
    """A [simulate] case: ``extra`` lines added, the error at the first of them."""
    text = SIMULATE_GOOD + extra
    line = len(SIMULATE_GOOD.splitlines()) + 1
    return text, line, fragments


SIMULATE_CASES = {
    "simulate: unknown key": _sim(
        "calls_per_yeer = 100\n",
        "simulate.calls_per_yeer is not a known key; did you mean 'calls_per_year'?",
        "Example: calls_per_year = 12000",
    ),
    "simulate: generated-call key with a calls file": _sim(
        'calls_per_year = 100\ncalls_file = "calls.csv"\n',
        "simulate.calls_per_year is only used when calls are generated from the demand; "
        "remove it (the calls come from simulate.calls_file)",
    ),
    "simulate: volume given twice": _sim(
        "calls_per_1000 = 90\ncalls_per_year = 100\n",
        "simulate: give calls_per_year or calls_per_1000, not both",
    ),
    "simulate: priority shares not summing to 1": _sim(
        "priority_shares = [0.5, 0.5, 0.5]\n",
        "simulate.priority_shares: priority_shares = (0.5, 0.5, 0.5): give three shares "
        "(prio 1, 2, 3) that sum to 1",
    ),
    "simulate: two values for three priorities": _sim(
        "on_scene_min = [20, 30]\n",
        "simulate.on_scene_min: give one value per priority 1, 2, 3 (or one for all)",
    ),
    "simulate: two priority shares": _sim(
        "priority_shares = [0.5, 0.5]\n",
        "simulate.priority_shares: give three shares (prio 1, 2, 3), "
        "e.g. priority_shares = [0.30, 0.45, 0.25]",
    ),
    "simulate: four transport probabilities": _sim(
        "transport_probability = [0.9, 0.8, 0.7, 0.6]\n",
        "simulate.transport_probability: give one probability per priority 1, 2, 3 (or one "
        "for all), e.g. transport_probability = [0.85, 0.75, 0.65]",
    ),
    "simulate: negative drive time cv": _sim(
        "drive_time_cv = -1\n",
        "simulate.drive_time_cv: drive_time_cv = -1.0: the coefficient of variation must be "
        "between 0 and 3",
    ),
    "simulate: negative minutes": _sim(
        "handover_min = -5\n", "simulate.handover_min: give minutes from 0 to 1440 (24 hours)"
    ),
    "simulate: a cv with a distribution that has none": _sim(
        'on_scene_cv = 0.3\ndistribution = "exponential"\n',
        'simulate.on_scene_cv is used only with distribution = "lognormal"; remove it',
    ),
    "simulate: unknown distribution": _sim(
        'distribution = "gamma"\n',
        "simulate.distribution = 'gamma' is not one of lognormal, exponential, fixed",
    ),
    "simulate: psychiatric hours that do not differ": _sim(
        'psychiatric_hours = "14-14"\n',
        "simulate.psychiatric_hours = '14-14': hours must lie in 0-24 and differ",
    ),
    "simulate: waiting priority 4": _sim(
        "psychiatric_wait_priorities = [2, 4]\n",
        "simulate.psychiatric_wait_priorities: priorities are 1, 2 and 3",
    ),
    "simulate: no replication": _sim(
        "replications = 0\n",
        "simulate.replications: replications = 0: must be a whole number >= 1",
    ),
    "simulate: confidence of 1.5": _sim(
        "confidence = 1.5\n", "simulate.confidence: confidence = 1.5: must be in [0.5, 1)"
    ),
    "simulate: warm-up as long as the run": _sim(
        "warmup_days = 30\ndays = 30\n",
        "simulate.warmup_days = 30 must be shorter than the 30 days simulated",
    ),
    "simulate: 23 hours in a day": _sim(
        "hour_of_day = [" + ", ".join(["1"] * 23) + "]\n",
        "simulate.hour_of_day: give 24 relative call rates >= 0, not all 0 (got 23 values)",
    ),
    "simulate: a calls CRS without a calls file": _sim(
        'calls_crs = "EPSG:3006"\n',
        "simulate.calls_crs is only used with simulate.calls_file; remove it",
    ),
    "simulate: missing calls file": _sim(
        'calls_file = "nowhere.csv"\n', "simulate.calls_file: file", "nowhere.csv does not exist"
    ),
    "simulate: emergency_only with a hospitals file": _sim(
        'hospitals_file = "stations.csv"\n',
        "simulate.emergency_only picks OSM hospitals; with simulate.hospitals_file every "
        "hospital in the file is used: remove it",
    ),
    "simulate: cardiac arrests below zero": _sim(
        "arrests_per_100000 = -1\n",
        "simulate.arrests_per_100000: give cardiac arrests per 100,000 people and year",
    ),
    "simulate: shifts of 2 hours": _sim(
        '\n[simulate.shifts]\n"Visby ambulansstation" = [1, 2]\n',
        "simulate.shifts.'Visby ambulansstation': give the units on duty in each hour, 24 "
        "whole numbers >= 0",
    ),
    "simulate: shifts with half a unit": _sim(
        "\n[simulate.shifts]\nVisby = [" + ", ".join(["1.5"] * 24) + "]\n",
        "simulate.shifts.'Visby': give the units on duty in each hour",
    ),
    "simulate: call logs below zero": _sim(
        "log_replications = -1\n", "simulate.log_replications must be a whole number >= 0"
    ),
}
# the shifts cases fail at the line of the station's key (after a blank line and the
# header), the hospitals file at the line of the emergency_only it contradicts
for _name, _shift in (
    ("simulate: shifts of 2 hours", 2),
    ("simulate: shifts with half a unit", 2),
    ("simulate: emergency_only with a hospitals file", -1),
):
    _text, _line, _fragments = SIMULATE_CASES[_name]
    SIMULATE_CASES[_name] = (_text, _line + _shift, _fragments)
CASES.update(SIMULATE_CASES)


def test_downloaded_roads_need_a_hospitals_file(tmp_path: Path) -> None:
    text = _replace('source = "pbf"\npath = "roads/gotland.osm.pbf"\n', 'source = "download"\n')
    text = text.replace('candidates = ["osm", "grid"]', 'candidates = ["grid"]')
    path = _write(tmp_path, text + "\n[simulate]\nreplications = 3\n")
    with pytest.raises(InputFileError) as info:
        load_scenario(path)
    line = len(text.splitlines()) + 2
    assert str(info.value) == (
        f"{path} line {line}: simulate: the hospitals come from the roads file, but "
        'roads.source = "download"; give simulate.hospitals_file, e.g. hospitals_file = '
        '"hospitals.csv"'
    )


def test_simulate_section_fills_in_the_scenario_defaults(tmp_path: Path) -> None:
    """Minutes become seconds; the defaults come from [speeds], [coverage], [region], [optimise]."""
    from planner import constants
    from planner.simulate import Duration, hour_of_week_profile

    text = SIMULATE_GOOD + (
        "on_scene_min = 25\ncall_handling_min = [1.5, 3, 6]\nhandover_cv = 0.2\n"
        "psychiatric_hours = \"0-24\"\nhour_of_day = [" + ", ".join(["1"] * 12 + ["3"] * 12)
        + "]\ncompare_psychiatric = true\n\n[simulate.shifts]\n\"Visby ambulansstation\" = ["
        + ", ".join(["1"] * 8 + ["2"] * 16) + "]\n"
    )  # fmt: skip
    scenario = load_scenario(_write(tmp_path, text))
    section = scenario.simulate
    assert section is not None and section.compare_psychiatric and section.calls_file is None
    settings = section.settings
    assert settings.on_scene == (Duration(1500.0, constants.SIM_ON_SCENE_CV),) * 3
    assert [d.mean_s for d in settings.call_handling] == [90.0, 180.0, 360.0]
    assert settings.handover == Duration(constants.SIM_HANDOVER_S, 0.2)
    # the turn-out is [speeds] roll_out_s and the drive home undoes its blue-light factor (1.2)
    assert settings.turnout == Duration(scenario.speed_model.roll_out_s, 0.0)
    assert settings.return_time_factor == 1.2
    assert settings.thresholds_min == (10.0, 20.0, 30.0)  # [coverage]
    assert settings.mutual_aid is True and settings.psychiatric_hours is None
    assert settings.warmup_s == constants.SIM_WARMUP_S
    expected = hour_of_week_profile([1] * 12 + [3] * 12, constants.SIM_WEEKDAY_FACTORS)
    assert settings.hour_of_week == pytest.approx(expected)
    assert settings.hour_of_week[12] == pytest.approx(1.5)  # 3 / mean 2
    assert section.shift_map == {"Visby ambulansstation": (1,) * 8 + (2,) * 16}
    assert scenario_to_dict(scenario)["simulate"]["settings"]["seed"] == 0


def test_simulate_drive_time_cv_defaults_to_the_coverage_one(tmp_path: Path) -> None:
    """[simulate] drive_time_cv: its own, else [coverage] drive_time_cv, else none."""
    assert load_scenario(_write(tmp_path, SIMULATE_GOOD)).simulate.settings.drive_time_cv is None
    with_cov = SIMULATE_GOOD.replace(
        "thresholds_min = [10, 20, 30]\n", "thresholds_min = [10, 20, 30]\ndrive_time_cv = 0.3\n", 1
    )
    assert load_scenario(_write(tmp_path, with_cov)).simulate.settings.drive_time_cv == 0.3
    own = load_scenario(_write(tmp_path, with_cov + "drive_time_cv = 0.1\n"))
    assert own.simulate.settings.drive_time_cv == 0.1
    assert own.coverage.drive_time_cv == 0.3
    with pytest.raises(InputFileError, match=r"did you mean 'drive_time_cv'"):
        load_scenario(_write(tmp_path, SIMULATE_GOOD + "drive_cv = 0.2\n"))


def test_replayed_calls_start_measuring_at_once(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, SIMULATE_GOOD + 'calls_file = "calls.csv"\n'))
    assert scenario.simulate is not None
    assert scenario.simulate.calls_file == (tmp_path / "calls.csv").resolve()
    assert scenario.simulate.settings.warmup_s == 0.0


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario(tmp_path: Path, case: str) -> None:
    text, line, fragments = CASES[case]
    path = _write(tmp_path, text)
    with pytest.raises(InputFileError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path} line {line}"), message
    for fragment in fragments:
        assert fragment in message, message


def test_catalogue_is_large() -> None:
    assert len(CASES) >= 18


def test_every_error_is_input_file_error_and_value_error(tmp_path: Path) -> None:
    path = _write(tmp_path, _replace("add = 2", 'add = "two"'))
    with pytest.raises(ValueError, match=r"gotland\.toml line"):
        load_scenario(path)


def test_inline_table_keys_are_located_at_their_line(tmp_path: Path) -> None:
    text = _replace(
        "[speeds.highway_speeds_kph]\nprimary = 70\n",
        "",
    ).replace("blue_light_factor = 1.2", 'highway_speeds_kph = { primary = "fast" }')
    path = _write(tmp_path, text)
    line = text.splitlines().index('highway_speeds_kph = { primary = "fast" }') + 1
    with pytest.raises(InputFileError, match=rf"line {line}: speeds.highway_speeds_kph.primary"):
        load_scenario(path)


def test_multiline_array_does_not_confuse_lines(tmp_path: Path) -> None:
    text = _replace("thresholds_min = [10, 20, 30]", "thresholds_min = [\n  10,\n  20,\n]").replace(
        "cell_m = 70", "cell_m = 0"
    )
    path = _write(tmp_path, text)
    line = text.splitlines().index("cell_m = 0") + 1
    with pytest.raises(InputFileError, match=rf"line {line}: isochrones.cell_m"):
        load_scenario(path)


# --------------------------------------------------------------------------
# Several regions and mutual aid
# --------------------------------------------------------------------------
SEVERAL = """
name = "mitt"

[region]
codes = ["03", "Södermanland", "03"]
mutual_aid = false

[roads]
source = "download"

[stations]
path = "stations.csv"

[[demand]]
path = "grid.csv"
type = "grid"
"""


def test_several_regions_and_all(tmp_path: Path) -> None:
    (tmp_path / "stations.csv").write_text("name,lon,lat\nA,17.6,59.8\n", encoding="utf-8")
    (tmp_path / "grid.csv").write_text("x\n", encoding="utf-8")
    path = tmp_path / "mitt.toml"
    path.write_text(SEVERAL, encoding="utf-8")
    region = load_scenario(path).region
    assert region.codes == ("03", "04") and region.level == "regions"
    assert region.code == "03+04" and region.name == "Uppsala + Södermanland"
    assert region.mutual_aid is False and region.in_sweden
    path.write_text(SEVERAL.replace('codes = ["03", "Södermanland", "03"]', 'code = "all"'))
    region = load_scenario(path).region
    assert len(region.codes) == 21 and region.code == "all" and region.mutual_aid is False
    path.write_text(SEVERAL.replace('"Södermanland"', '"Smland"'))
    with pytest.raises(InputFileError, match=r"line 5: region.codes: .*Smland"):
        load_scenario(path)
    path.write_text(SEVERAL.replace("[region]\n", '[region]\ncode = "09"\n'))
    with pytest.raises(InputFileError, match="leave out code and name"):
        load_scenario(path)
