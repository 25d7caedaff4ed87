"""A catalogue of bad inputs, each run through the real command line.

Every bad input must give exit code 2 and one ``error:`` line whose text names
what is wrong (the file, row, key or option), no traceback, and leave nothing
behind: the output folder stays empty. Legal but suspicious inputs give a
``warning:`` line and a normal run.

The cases run on the real Umeå (OSM XML) and Södermalm (PBF) extracts and on
small files written here; road networks are cached for the session. Cases
already checked at the command line elsewhere are not repeated here:
``tests/test_cli.py`` (bad stations rows, speed overrides, cutoffs, missing
or corrupt PBF, unknown region, no road source), ``tests/test_pipeline.py``
(demand without weights, negative weights, decreasing thresholds, fleet
without stations), ``tests/test_optimise_pipeline.py`` (unknown objective,
hours on non-calls, cutoff with the exact solver) and ``tests/test_scenario.py``
(its catalogue of bad scenarios, which :func:`test_bad_scenario_through_plan`
below also runs through ``planner plan``).
"""

from __future__ import annotations

import codecs
import json
import math
import re
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from test_scenario import CASES as SCENARIO_CASES
from test_scenario import _write as write_scenario

from planner import constants
from planner.analysis.isochrones import (
    IsochroneSettings,
    catchment_isochrones,
    check_raster_memory,
    fleet_isochrones,
    sample_edges,
)
from planner.inputs.demand import read_osm_population
from planner.inputs.sites import read_stations
from planner.network.regions import distance_to_sweden_m, load_regions
from planner.network.road_network import build_network
from planner.network.snapping import edge_frame, snap_points
from planner.network.travel_times import build_travel_time_graph, point_times
from planner.outputs.export import read_csv_table
from planner.run.cli import main

# Umeå: two stations on road nodes of the extract, and two demand points.
STATIONS = "name,lon,lat\nA,20.2904843,63.8175017\nB,20.2895705,63.8169711\n"
DEMAND = "name,lon,lat,population\np1,20.2904,63.8176,10\np2,20.2850,63.8190,5\n"
#: Copenhagen, in Sweden's lon/lat box but 23 km from its outline.
COPENHAGEN = (12.57, 55.68)

#: Small OSM XML files: a road of two nodes in Umeå, plus one flaw each.
OSM_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
ROAD = (
    ' <node id="1" lat="63.8175" lon="20.2904"/>\n <node id="2" lat="63.8170" lon="20.2896"/>\n'
    ' <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>\n'
)
OSM_FILES = {
    "big_id.osm": ROAD.replace('"2"', '"99999999999999999999"'),
    "lat95.osm": ROAD.replace('lat="63.8175"', 'lat="95.82"'),
    "lon1000.osm": ROAD.replace('lon="20.2896"', 'lon="1000"'),
    "html.osm": None,
    "truncated.osm": ' <node id="1" lat="63.8" lon="20.3"/>\n',
    "noroads.osm": ' <node id="1" lat="63.8" lon="20.3"/>\n',
    "station_lat95.osm": ROAD
    + ' <node id="3" lat="95.82" lon="20.3"><tag k="emergency" v="ambulance_station"/>'
    '<tag k="population" v="100"/></node>\n',
}


def _osm_text(name: str, body: str | None) -> str:
    if body is None:
        return "<html><body>not OSM</body></html>"
    if name == "truncated.osm":
        return OSM_HEAD + body
    return OSM_HEAD + body + "</osm>\n"


def _polygon_geojson(coords: list[list[float]]) -> str:
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon"}}
    feature["geometry"]["coordinates"] = [coords]  # type: ignore[index]
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, umea_osm: Path) -> Path:
    """Every input file of the catalogue, written once."""
    folder = tmp_path_factory.mktemp("inputs")

    def text(name: str, content: str) -> None:
        (folder / name).write_text(content, encoding="utf-8")

    text("stations.csv", STATIONS)
    text("demand.csv", DEMAND)
    text("empty.csv", "")
    text("header_only.csv", "name,lon,lat\n")
    text("no_name.csv", "namn2,lon,lat\nA,20.29,63.81\n")
    text("paris.csv", "name,lon,lat\nParis,2.35,48.85\n")
    text("copenhagen.csv", f"name,lon,lat\nKöpenhamn,{COPENHAGEN[0]},{COPENHAGEN[1]}\n")
    text("oslo.csv", "name,lon,lat\nOslo,10.75,59.91\n")
    text("units0.csv", "name,units,lon,lat\nA,0,20.29,63.81\n")
    text("quote.csv", 'name,lon,lat\n"A,20.29,63.81\n')
    text("stations.xls", STATIONS)
    text("far.csv", STATIONS + "Ute i viken,20.33,63.80\n")
    text("zero.csv", DEMAND.replace(",10\n", ",0\n").replace(",5\n", ",0\n"))
    text("dup_ids.csv", "demand_id,lon,lat,pop\nx,20.29,63.81,1\nx,20.29,63.81,2\n")
    text("demand_copenhagen.csv", f"lon,lat,pop\n{COPENHAGEN[0]},{COPENHAGEN[1]},5\n")
    text("grid_bad.csv", "rutid,pop\n7600007087000,5\nbad,3\n")
    text("grid_noid.csv", "pop\n5\n")
    text("grid.csv", "rutid,pop\n7600007087000,5\n")
    text("calls_badtime.csv", "lon,lat,time\n20.2904,63.8176,notatime\n")
    text("calls.csv", "lon,lat,time\n20.2904,63.8176,2024-01-01 10:00\n")
    text("survival_names.csv", "upper_min,prob\n5,0.5\n")
    text("survival_text.csv", "upper_min,probability\n5,abc\n")
    text("survival_range.csv", "upper_min,probability\n5,1.5\n10,0.2\n")
    text("candidates_empty.csv", "name,lon,lat\n")
    trip = "20.2904,63.8176,20.2850,63.8190,2024-05-01 10:00,"
    text("trips_nodrive.csv", "origin_lon,origin_lat,destination_lon,destination_lat,start_time\n"
         + trip[:-1] + "\n")  # fmt: skip
    text(
        "trips_badtime.csv",
        "origin_lon,origin_lat,destination_lon,destination_lat,start_time,drive_min\n"
        + trip
        + "4\n"
        + trip.replace("2024-05-01 10:00", "igår")
        + "4\n",
    )
    text(
        "trips_negative.csv",
        "origin_lon,origin_lat,destination_lon,destination_lat,start_time,drive_min\n"
        + trip
        + "-5\n",
    )
    text(
        "trips_lights.csv",
        "origin_lon,origin_lat,destination_lon,destination_lat,start_time,drive_min,lights_sirens\n"
        + trip
        + "4,kanske\n",
    )
    text("trips_noposition.csv", "from,to,start_time,drive_min\na,b,2024-05-01 10:00,4\n")
    text(
        "trips.csv",
        "origin_lon,origin_lat,destination_lon,destination_lat,start_time,drive_min\n"
        + trip
        + "4\n",
    )
    text("roads.txt", "not a road file")
    profile = "band,days,start,end,other,primary\nnight,all,22:00,06:00,0.78,\n"
    text("profile_text.csv", profile + "day,all,06:00,22:00,1,fast\n")
    text("profile_overlap.csv", profile + "day,all,05:00,22:00,1,\n")
    # UTF-16 without a byte-order mark, and a mark followed by bytes that are not UTF-16
    (folder / "utf16_nobom.csv").write_bytes(STATIONS.encode("utf-16-le"))
    (folder / "utf16_broken.csv").write_bytes(codecs.BOM_UTF16_LE + b"n\x00a\x00\x00\xdc")
    # Excel's "Unicode text": UTF-16 LE with a mark, tab-separated (read, not refused)
    tabbed = STATIONS.replace(",", "\t")
    (folder / "excel_unicode.txt").write_bytes(codecs.BOM_UTF16_LE + tabbed.encode("utf-16-le"))
    (folder / "broken.osm.bz2").write_bytes(b"not bzip2 data")
    (folder / "empty.osm").write_bytes(b"")
    for name, body in OSM_FILES.items():
        text(name, _osm_text(name, body))
    # boundaries: SWEREF 99 TM metres in a GeoJSON without a crs member, a line, a table
    square = [[755000, 7075000], [760000, 7075000], [760000, 7085000], [755000, 7085000]]
    text("projected.geojson", _polygon_geojson([*square, square[0]]))
    line = {"type": "LineString", "coordinates": [[20.28, 63.81], [20.30, 63.82]]}
    text(
        "line.geojson",
        json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature",
                    "properties": {"name": "A"}, "geometry": line}]}),
    )  # fmt: skip
    text(
        "stations_projected.geojson",
        json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature",
                    "properties": {"name": "A"},
                    "geometry": {"type": "Point", "coordinates": [760229, 7087470]}}]}),
    )  # fmt: skip
    point = gpd.GeoDataFrame({"name": ["A"]}, geometry=[shapely.Point(20.29, 63.81)], crs=4326)
    point.to_file(folder / "two_layers.gpkg", layer="a")
    point.to_file(folder / "two_layers.gpkg", layer="b")
    point.to_parquet(folder / "stations.parquet")
    # scenarios on the Umeå extract (Umeå municipality, 2480)
    scenario = (
        'name = "umea"\n\n[region]\ncode = "2480"\nbuffer_km = 0\n\n[roads]\nsource = "osm"\n'
        'path = "{umea}"\n\n[stations]\npath = "stations.csv"\n\n[[demand]]\n'
        'path = "demand.csv"\ntype = "points"\nweight = "population"\n\n[coverage]\n'
        "thresholds_min = [5, 10]\n"
    )
    good = scenario.replace("{umea}", umea_osm.as_posix())
    text("umea.toml", good)
    text("zero.toml", good.replace('"demand.csv"', '"zero.csv"'))
    text("far.toml", good.replace('path = "stations.csv"', 'path = "far.csv"'))
    text(
        "crs.toml",
        good.replace('path = "stations.csv"', 'path = "stations.csv"\ncrs = "EPSG:3006"'),
    )
    text("fine_cell.toml", good + "\n[isochrones]\ncell_m = 0.01\n")
    _simulation_inputs(folder, good)
    (folder / "utf16.toml").write_bytes(codecs.BOM_UTF16_LE + good.encode("utf-16-le"))
    text(
        "projected_boundary.toml",
        good.replace('code = "2480"', 'name = "Umeå test"\nboundary = "projected.geojson"'),
    )
    return folder


#: A [simulate] section for the Umeå scenario: its one OSM hospital (Norrlands
#: universitetssjukhus) has no emergency=yes tag, so every OSM hospital counts.
SIMULATE = "\n[simulate]\nemergency_only = false\ndays = 7\nwarmup_days = 0\nreplications = 2\n"
#: Calls in Umeå (the scenario's demand points), one flaw in the second row of each file.
CALLS_HEAD = "time,lon,lat,priority\n2024-03-04 10:00,20.2904,63.8176,1\n"
SIM_CALLS = {
    "sim_calls_time.csv": "2024-03-32 10:20,20.2904,63.8176,2\n",
    "sim_calls_position.csv": "2024-03-04 10:20,20.2904,95.8176,2\n",
    "sim_calls_priority.csv": "2024-03-04 10:20,20.2904,63.8176,prio 7\n",
}


def _simulation_inputs(folder: Path, good: str) -> None:
    """Scenarios and files of the simulation's cases (written by :func:`inputs`)."""

    def text(name: str, content: str) -> None:
        (folder / name).write_text(content, encoding="utf-8")

    sim = good + SIMULATE
    text("sim.toml", sim)
    for name, row in SIM_CALLS.items():
        text(name, CALLS_HEAD + row)
        stem = name.removesuffix(".csv")
        text(f"{stem}.toml", good + SIMULATE.replace("days = 7\n", f'calls_file = "{name}"\n'))
    text("sim_shifts.toml", sim + "\n[simulate.shifts]\nA = [2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, "
         "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n")  # fmt: skip
    text("sim_shifts_name.toml", sim + "\n[simulate.shifts]\nAA = [1]\n".replace(
        "[1]", "[" + ", ".join(["1"] * 24) + "]"))  # fmt: skip
    # a hospital 6 km east of the extract's roads: no point can reach it
    text("hospital_far.csv", "name,lon,lat\nFar away,20.42,63.82\n")
    text("sim_no_hospital.toml", good + SIMULATE.replace(
        "emergency_only = false", 'hospitals_file = "hospital_far.csv"'))  # fmt: skip
    text("sim_no_emergency.toml", good + SIMULATE.replace("emergency_only = false\n", ""))
    text("sim_overload.toml", sim.replace("days = 7", "days = 2\ncalls_per_year = 1000000"))
    text("sim_pam.toml", sim + "compare_psychiatric = true\n")


def simulate(scenario: str, *extra: str) -> tuple[str, ...]:
    return ("simulate", f"{{i}}/{scenario}", "--out-dir", "{o}/sim", "--cache-dir", "{cache}",
            "--no-progress", *extra)  # fmt: skip


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the catalogue, so each network is built once."""
    return tmp_path_factory.mktemp("cache")


@dataclass(frozen=True)
class Case:
    """A bad input: CLI arguments (with {placeholders}) and the expected error line."""

    args: tuple[str, ...]
    message: str  # regular expression searched in the one error line


def _case(message: str, *args: str) -> Case:
    """A case from its message and arguments: a tuple, or one command line (split on spaces)."""
    return Case(tuple(args[0].split()) if len(args) == 1 else args, message)


UMEA = ("--osm", "{umea}", "--cache-dir", "{cache}", "--no-progress")
SODERMALM = ("--pbf", "{sodermalm}", "--cache-dir", "{cache}", "--no-progress")
STATIONS_ARGS = ("--stations", "{i}/stations.csv")


def build(*extra: str) -> tuple[str, ...]:
    return ("network", "build", "--cache-dir", "{cache}", "--no-progress",
            "--out", "{o}/net.gpkg", *extra)  # fmt: skip


def stations(file: str, *extra: str) -> tuple[str, ...]:
    return ("stations", f"{{i}}/{file}", *UMEA, "--out", "{o}/report.csv", *extra)


def times(*extra: str) -> tuple[str, ...]:
    return ("traveltimes", *UMEA, *STATIONS_ARGS, "--out", "{o}/times.csv", *extra)


def coverage(*extra: str, demand: str = "demand.csv") -> tuple[str, ...]:
    return ("coverage", *UMEA, *STATIONS_ARGS, "--demand", f"{{i}}/{demand}",
            "--out-dir", "{o}/coverage", *extra)  # fmt: skip


def optimise(*extra: str, demand: str = "demand.csv") -> tuple[str, ...]:
    return ("optimise", *UMEA, *STATIONS_ARGS, "--demand", f"{{i}}/{demand}",
            "--candidates", "grid", "--out-dir", "{o}/optimise", *extra)  # fmt: skip


def plan(scenario: str) -> tuple[str, ...]:
    return ("plan", f"{{i}}/{scenario}", "--out-dir", "{o}/plan", "--map", "{o}/map.html",
            "--cache-dir", "{cache}", "--no-progress")  # fmt: skip


NETWORK_CASES = {
    "osm xml missing": _case(
        r"nowhere\.osm \(--osm\): no such file", *build("--osm", "{i}/nowhere.osm")
    ),
    "osm xml empty": _case(
        r"empty\.osm \(--osm\): the file is empty", *build("--osm", "{i}/empty.osm")
    ),
    "osm xml is html": _case(
        r"html\.osm \(--osm\): cannot be read as OSM data \(Unknown top-level element: html\)",
        *build("--osm", "{i}/html.osm"),
    ),
    "osm xml truncated": _case(
        r"truncated\.osm \(--osm\): cannot be read as OSM data \(XML parsing error",
        *build("--osm", "{i}/truncated.osm"),
    ),
    "osm bz2 not bzip2": _case(
        r"broken\.osm\.bz2 \(--osm\): not a readable bzip2 file",
        *build("--osm", "{i}/broken.osm.bz2"),
    ),
    "node id beyond 64 bits": _case(
        r"big_id\.osm \(--osm\): cannot be read as OSM data \(illegal id: '99999999999999999999'; "
        r"OSM "
        r"ids must be whole numbers that fit in 64 bits",
        *build("--osm", "{i}/big_id.osm"),
    ),
    "node latitude 95": _case(
        r"lat95\.osm \(--osm\): node 1 \(in way 10\) has longitude 20\.2904, latitude 95\.82, "
        r"outside "
        r"±180/±90 degrees; fix or remove it",
        *build("--osm", "{i}/lat95.osm"),
    ),
    "node longitude 1000": _case(
        r"lon1000\.osm \(--osm\): cannot be read as OSM data \(wrong format for coordinate: "
        r"'1000'; node "
        r"coordinates must be decimal degrees, longitude within ±180 and latitude within ±90",
        *build("--osm", "{i}/lon1000.osm"),
    ),
    "osm without roads": _case(
        r"noroads\.osm \(--osm\): holds no drivable roads", *build("--osm", "{i}/noroads.osm")
    ),
    "xml given as --pbf": _case(
        r"--pbf .*umea-ostra\.osm: expected an \.osm\.pbf file \(use --osm for XML\)",
        *build("--pbf", "{umea}"),
    ),
    "not an osm file name": _case(
        r"roads\.txt \(--osm\): not an OSM file; use \.osm\.pbf", *build("--osm", "{i}/roads.txt")
    ),
    "region and boundary": _case(
        r"--region and --boundary: give one of them, not both",
        *build("--osm", "{umea}", "--region", "Umeå", "--boundary", "{i}/projected.geojson"),
    ),
    "boundary missing": _case(
        r"--boundary: .*nowhere\.geojson: no such file",
        *build("--osm", "{umea}", "--boundary", "{i}/nowhere.geojson"),
    ),
    "boundary projected without crs": _case(
        r"--boundary: .*projected\.geojson: coordinates such as \(755000, 7075000\) are not "
        r"longitude/latitude, yet the file is read as WGS 84 degrees .* reproject it to "
        r"EPSG:4326",
        *build("--osm", "{umea}", "--boundary", "{i}/projected.geojson"),
    ),
    "boundary of lines": _case(
        r"--boundary: .*line\.geojson: holds no polygon",
        *build("--osm", "{umea}", "--boundary", "{i}/line.geojson"),
    ),
    "boundary is a table": _case(
        r"--boundary: .*stations\.csv: holds no geometries \(a table, not a layer\)",
        *build("--osm", "{umea}", "--boundary", "{i}/stations.csv"),
    ),
    "buffer too wide": _case(
        r"buffer_km = 1000\.0 km: use a buffer between 0 and 200 km",
        *build("--osm", "{umea}", "--buffer-km", "1000"),
    ),
    "speed of a class negative": _case(
        r"highway_speeds_kph\['residential'\] = -5 km/h is not a positive speed",
        *build("--osm", "{umea}", "--speed", "highway_speeds_kph.residential=-5"),
    ),
    "dispatch time absurd": _case(
        r"dispatch_s = 1000000000 s must be between 0 and 3600 s",
        *build("--osm", "{umea}", "--speed", "dispatch_s=1e9"),
    ),
    "speed factor not a number": _case(
        r"blue_light_factor = 'fast' is not a number",
        *build("--osm", "{umea}", "--speed", "blue_light_factor=fast"),
    ),
    "network output not gpkg": _case(
        r"out: .*net\.txt: layers are written as a GeoPackage \(\.gpkg\)",
        "network build --pbf {sodermalm} --cache-dir {cache} --no-progress --out {o}/net.txt",
    ),
    "osm station at latitude 95": _case(
        r"station_lat95\.osm: node 3 has longitude 20\.3, latitude 95\.82, outside ±180/±90",
        "stations --osm-stations --osm {i}/station_lat95.osm --no-cache --not-sweden --out "
        "{o}/report.csv",
    ),
    "osm population at latitude 95": _case(
        r"station_lat95\.osm \(--demand\): node 3 has longitude 20\.3, latitude 95\.82, outside "
        r"±180/±90",
        *coverage(demand="station_lat95.osm"),
    ),
}

STATION_CASES = {
    "stations missing": _case(
        r"nowhere\.csv \(stations argument\) does not exist", *stations("nowhere.csv")
    ),
    "stations unknown type": _case(
        r"stations\.xls \(stations argument\): unknown file type '\.xls'; supported: \.csv",
        *stations("stations.xls"),
    ),
    "stations empty": _case(r"empty\.csv \(stations argument\) is empty", *stations("empty.csv")),
    "stations header only": _case(
        r"header_only\.csv \(stations argument\) holds no stations", *stations("header_only.csv")
    ),
    "stations without name column": _case(
        r"no_name\.csv \(stations argument\): no station name column; expected one of: name, "
        r"namn, station",
        *stations("no_name.csv"),
    ),
    "station in paris": _case(
        r"paris\.csv \(stations argument\) row 2 \(Paris\): \(2\.35, 48\.85\) lies outside "
        r"Sweden; check the "
        r"coordinates and the CRS \(EPSG:4326\)$",
        *stations("paris.csv"),
    ),
    "station in copenhagen": _case(
        r"copenhagen\.csv \(stations argument\) row 2 \(Köpenhamn\): \(12\.57, 55\.68\) lies "
        r"outside Sweden; check "
        r"the coordinates and the CRS \(EPSG:4326\); it lies 23 km from Sweden's boundary, more "
        r"than the 15 km allowed for coasts and islands",
        *stations("copenhagen.csv"),
    ),
    "station in oslo": _case(
        r"oslo\.csv \(stations argument\) row 2 \(Oslo\): \(10\.75, 59\.91\) lies outside Sweden; "
        r".* it lies 63 km "
        r"from Sweden's boundary",
        "stations {i}/oslo.csv --pbf {sodermalm} --cache-dir {cache} --no-progress --out "
        "{o}/report.csv",
    ),
    "station with zero units": _case(
        r"units0\.csv \(stations argument\) row 2 \(A\): units must be a whole number >= 1, got "
        r"'0'",
        *stations("units0.csv"),
    ),
    "stations unbalanced quote": _case(
        r"quote\.csv \(stations argument\) cannot be read as a table with delimiter ','",
        *stations("quote.csv"),
    ),
    "stations utf-16 without mark": _case(
        r"utf16_nobom\.csv \(stations argument\) holds NUL bytes: it looks like UTF-16 or UTF-32 "
        r"text without a "
        r"byte-order mark, or is not text; save it as UTF-8 CSV",
        *stations("utf16_nobom.csv"),
    ),
    "stations utf-16 mark but not utf-16": _case(
        r"utf16_broken\.csv \(stations argument\) starts with a UTF-16-LE byte-order mark but is "
        r"not UTF-16-LE text",
        *stations("utf16_broken.csv"),
    ),
    "stations geojson of lines": _case(
        r"line\.geojson \(stations argument\) row 1 \(A\): geometry is a LineString; a station "
        r"needs a Point",
        *stations("line.geojson"),
    ),
    "stations geojson in metres without crs": _case(
        r"stations_projected\.geojson \(stations argument\) row 1 \(A\): \(760229, 7087470\) is "
        r"not a "
        r"longitude/latitude",
        *stations("stations_projected.geojson"),
    ),
    "stations gpkg with two layers": _case(
        r"two_layers\.gpkg \(stations argument\) has several layers: a, b",
        "stations {i}/two_layers.gpkg --pbf {sodermalm} --cache-dir {cache} --no-progress "
        "--out {o}/report.csv",
    ),
    "stations crs disagrees with file": _case(
        r"crs='EPSG:3006' disagrees with the CRS .*stations\.parquet \(stations argument\) "
        r"declares \(EPSG:4326\)",
        *stations("stations.parquet", "--crs", "EPSG:3006"),
    ),
    "stations file and osm stations": _case(
        r"stations: give a stations file or --osm-stations \(one of them\)",
        *stations("stations.csv", "--osm-stations"),
    ),
    "no osm stations in file": _case(
        r"--osm-stations: .*umea-ostra\.osm holds no emergency=ambulance_station",
        "stations --osm-stations --osm {umea} --cache-dir {cache} --no-progress --out "
        "{o}/report.csv",
    ),
    "snap distance zero": _case(
        r"max_distance_m = 0\.0: must be a positive distance",
        *stations("stations.csv", "--max-snap-m", "0"),
    ),
    "unknown fleet filter": _case(
        r"--fleet 'nope': use one of ambulance, psychiatric", *times("--fleet", "nope")
    ),
    "no station of the fleet": _case(
        r"--fleet psychiatric: no station of that fleet type", *times("--fleet", "psychiatric")
    ),
    "target points abroad": _case(
        r"copenhagen\.csv \(--points\) row 2 \(Köpenhamn\): \(12\.57, 55\.68\) lies outside Sweden",
        *times("--points", "{i}/copenhagen.csv"),
    ),
    "station report format": _case(
        r"out: .*report\.docx: unsupported table format; use one of \.csv, \.parquet, \.xlsx",
        "stations {i}/stations.csv --osm {umea} --cache-dir {cache} --no-progress --out "
        "{o}/report.docx",
    ),
}

DEMAND_CASES = {
    "demand weights all zero": _case(
        r"zero\.csv \(--demand\): every one of its 2 demand points has weight 0, so there is "
        r"nothing to "
        r"cover; check the weight column",
        *coverage(demand="zero.csv"),
    ),
    "optimise demand weights all zero": _case(
        r"zero\.csv \(--demand\): every one of its 2 demand points has weight 0",
        *optimise(demand="zero.csv"),
    ),
    "demand weight column missing": _case(
        r"demand\.csv \(--demand\): no column 'people' \(weight=\); the columns are: name, "
        r"population",
        *coverage("--weight", "people"),
    ),
    "demand type unknown": _case(
        r"--demand-type 'census': use one of auto, points, grid, osm-population, buildings, calls",
        *coverage("--demand-type", "census"),
    ),
    "demand missing": _case(
        r"nowhere\.csv \(--demand\) does not exist", *coverage(demand="nowhere.csv")
    ),
    "demand point abroad": _case(
        r"demand_copenhagen\.csv \(--demand\) row 2: \(12\.57, 55\.68\) lies outside Sweden",
        *coverage(demand="demand_copenhagen.csv"),
    ),
    "demand ids repeated": _case(
        r"dup_ids\.csv \(--demand\): duplicate demand_id 'x' in rows 2 and 3",
        *coverage(demand="dup_ids.csv"),
    ),
    "grid square id unknown": _case(
        r"grid_bad\.csv \(--demand\) row 3: square id 'bad' is not a grid id this reader knows",
        *coverage("--demand-type", "grid", demand="grid_bad.csv"),
    ),
    "grid without id column": _case(
        r"grid_noid\.csv \(--demand\): no square id column",
        *coverage("--demand-type", "grid", demand="grid_noid.csv"),
    ),
    "osm demand without population": _case(
        r"umea-ostra\.osm \(--demand\): holds no demand points when read as osm-population "
        r"\(--demand-type\)",
        "coverage --osm {umea} --cache-dir {cache} --no-progress --stations {i}/stations.csv "
        "--demand {umea} --out-dir {o}/coverage",
    ),
    "buildings total negative": _case(
        r"total=-5\.0 must be a finite number >= 0",
        "coverage --osm {umea} --cache-dir {cache} --no-progress --stations {i}/stations.csv "
        "--demand {umea} --demand-type buildings --total -5 --out-dir {o}/coverage",
    ),
    "buildings from a csv": _case(
        r"demand\.csv \(--demand\): not an OSM file name", *coverage("--demand-type", "buildings")
    ),
    "calls with a bad time": _case(
        r"calls_badtime\.csv \(--demand\) row 2: time 'notatime' \(column 'time'\) is not a valid "
        r"ISO 8601",
        *coverage("--demand-type", "calls", demand="calls_badtime.csv"),
    ),
    "no call in the hours": _case(
        r"--hours 14-02: no call falls in these hours",
        *optimise("--demand-type", "calls", "--hours", "14-02", demand="calls.csv"),
    ),
    "hours not a range": _case(
        r"--hours 'evenings': write start-end hours, e.g\. 14-02",
        *optimise("--demand-type", "calls", "--hours", "evenings", demand="calls.csv"),
    ),
    "hours out of range": _case(
        r"--hours 25-03: hours must lie in 0-24 and differ",
        *optimise("--demand-type", "calls", "--hours", "25-3", demand="calls.csv"),
    ),
    "no demand in the region": _case(
        r"--demand: no demand point lies in Gotlands län \(09\)", *coverage("--region", "Gotland")
    ),
    "demand factor zero": _case(
        r"--demand-factor 0\.0: give a positive factor", *optimise("--demand-factor", "0")
    ),
}

OPTIMISER_CASES = {
    "add zero units": _case(r"add = 0: give a whole number of units >= 1", *optimise("--add", "0")),
    "negative target": _case(
        r"threshold_min: -5 min is not a positive time", *optimise("--threshold-min", "-5")
    ),
    "busy share above one": _case(
        r"busy_fraction = 1\.5: need 0 <= q < 1",
        *optimise("--objective", "mexclp", "--busy", "1.5"),
    ),
    "survival coefficients not numbers": _case(
        r"--survival-coefficients 'steep': write a,b e\.g\. 0\.679,0\.262",
        *optimise("--objective", "survival", "--survival-coefficients", "steep"),
    ),
    "survival table missing": _case(
        r"--survival-table: .*nowhere\.csv: no such file",
        *optimise("--objective", "survival", "--survival-table", "{i}/nowhere.csv"),
    ),
    "survival table columns": _case(
        r"--survival-table .*survival_names\.csv: needs numeric columns upper_min,probability",
        *optimise("--objective", "survival", "--survival-table", "{i}/survival_names.csv"),
    ),
    "survival table text": _case(
        r"--survival-table .*survival_text\.csv: needs numeric columns upper_min,probability "
        r"\(could not convert string to float: 'abc'\)",
        *optimise("--objective", "survival", "--survival-table", "{i}/survival_text.csv"),
    ),
    "survival probability above one": _case(
        r"steps\[0\] = \(5\.0, 1\.5\): need upper > 0, 0 <= p <= 1",
        *optimise("--objective", "survival", "--survival-table", "{i}/survival_range.csv"),
    ),
    "survival given twice": _case(
        r"--survival-coefficients and --survival-table: give one of them",
        *optimise(
            "--objective",
            "survival",
            "--survival-coefficients",
            "1,2",
            "--survival-table",
            "{i}/survival_range.csv",
        ),
    ),
    "solver unknown": _case(
        r"solver 'simplex': use 'exact' or 'heuristic'", *optimise("--solver", "simplex")
    ),
    "time limit negative": _case(
        r"time_limit_s = -1\.0: give a positive time, s", *optimise("--time-limit", "-1")
    ),
    "gap above one": _case(
        r"mip_gap = 2\.0: give a relative gap in \[0, 1\)", *optimise("--gap", "2")
    ),
    "heuristic cutoff negative": _case(
        r"cutoff_min = -1\.0: give a positive time, min",
        *optimise("--solver", "heuristic", "--cutoff-min", "-1"),
    ),
    "grid spacing zero": _case(
        r"spacing_m = 0\.0: the grid spacing must be a distance between 100 and 100000 m",
        *optimise("--grid-spacing-m", "0"),
    ),
    "baseline unknown": _case(
        r"baseline 'none': use 'fleet' or 'all'", *optimise("--baseline", "none")
    ),
    "fleet of new units unknown": _case(
        r"fleet 'helicopter': use one of ambulance, psychiatric", *optimise("--fleet", "helicopter")
    ),
    "candidate source unknown": _case(
        r"--candidates 'hospitals': use osm, grid and/or file",
        "optimise --osm {umea} --cache-dir {cache} --no-progress --stations {i}/stations.csv "
        "--demand {i}/demand.csv --candidates hospitals --out-dir {o}/optimise",
    ),
    "candidate file not given": _case(
        r"--candidates file needs --candidates-file FILE",
        "optimise --osm {umea} --cache-dir {cache} --no-progress --stations {i}/stations.csv "
        "--demand {i}/demand.csv --candidates file --out-dir {o}/optimise",
    ),
    "candidate file empty": _case(
        r"candidates_empty\.csv \(--candidates-file\) holds no points",
        "optimise --osm {umea} --cache-dir {cache} --no-progress --stations {i}/stations.csv "
        "--demand {i}/demand.csv --candidates file --candidates-file {i}/candidates_empty.csv "
        "--out-dir {o}/optimise",
    ),
    "candidate abroad": _case(
        r"copenhagen\.csv \(--candidates-file\) row 2 \(Köpenhamn\): \(12\.57, 55\.68\) lies "
        r"outside Sweden",
        "optimise --osm {umea} --cache-dir {cache} --no-progress --stations {i}/stations.csv "
        "--demand {i}/demand.csv --candidates file --candidates-file {i}/copenhagen.csv "
        "--out-dir {o}/optimise",
    ),
}


def calibrate(trips: str, *extra: str) -> tuple[str, ...]:
    """``planner calibrate`` on one of the catalogue's trip files, Umeå roads."""
    return ("calibrate", f"{{i}}/{trips}", *UMEA, "--out", "{o}/profile.csv", *extra)


CLI_CASES = {
    "speed profile factor not a number": _case(
        r"speed profile .*profile_text\.csv line 3, column 'primary': 'fast' is not a number",
        *coverage("--speed-profile", "{i}/profile_text.csv", "--band", "all"),
    ),
    "speed profile windows overlap": _case(
        r"profile_overlap\.csv: on a weekday 05:00 is in band 'night' \(line 2\) and in band "
        r"'day' \(line 3\); the windows must not overlap",
        *coverage("--speed-profile", "{i}/profile_overlap.csv", "--band", "night"),
    ),
    "speed profile missing": _case(
        r"speed profile .*nowhere\.csv: no such file",
        *coverage("--speed-profile", "{i}/nowhere.csv", "--band", "all"),
    ),
    "speed profile without a band": _case(
        r"--speed-profile: name the bands to run with --band NAME or --band all",
        *coverage("--speed-profile", "default"),
    ),
    "unknown time band": _case(
        r"--band: 'nigth' is not a band of speed profile 'default'; did you mean 'night'\?",
        *coverage("--band", "nigth"),
    ),
    "plan unknown time band": _case(
        r"--band: 'rush' is not a band of speed profile 'default'",
        *plan("umea.toml"),
        "--band",
        "rush",
    ),
    "calibrate trips without a drive time": _case(
        r"trips_nodrive\.csv: needs the observed drive time, drive_min or drive_s",
        *calibrate("trips_nodrive.csv"),
    ),
    "calibrate trip time not a time": _case(
        r"trips_badtime\.csv row 3: start_time 'igår' is not an ISO 8601 time",
        *calibrate("trips_badtime.csv"),
    ),
    "calibrate negative drive time": _case(
        r"trips_negative\.csv row 2: drive_min '-5' is not a positive number",
        *calibrate("trips_negative.csv"),
    ),
    "calibrate lights and sirens not yes or no": _case(
        r"trips_lights\.csv row 2: lights_sirens 'kanske' is not yes/no",
        *calibrate("trips_lights.csv"),
    ),
    "calibrate trips without positions": _case(
        r"trips_noposition\.csv: needs the columns origin_x, origin_y, destination_x, "
        r"destination_y \(in --crs\) or origin_lon",
        *calibrate("trips_noposition.csv"),
    ),
    "calibrate profile not csv": _case(
        r"--out .*profile\.toml: the speed profile is a \.csv file",
        "calibrate {i}/trips.csv --osm {umea} --cache-dir {cache} --no-progress "
        "--out {o}/profile.toml",
    ),
    "calibrate unknown bands": _case(
        r"bands 'month': use one of all, hours, week", *calibrate("trips.csv", "--bands", "month")
    ),
    "calibrate one fold": _case(
        r"folds = 1: need a whole number >= 2", *calibrate("trips.csv", "--folds", "1")
    ),
    "calibrate trips missing": _case(r"nowhere\.csv", *calibrate("nowhere.csv")),
    "optimise survival groups with coefficients": _case(
        r"--survival-groups has its own curves: leave out --survival-coefficients",
        "optimise --osm {umea} --cache-dir {cache} --no-progress --stations {i}/stations.csv "
        "--demand {i}/demand.csv --objective survival --survival-groups "
        "--survival-coefficients 0.7,0.3 --out-dir {o}/optimise",
    ),
    "coverage drive time cv negative": _case(
        r"drive_time_cv = -0\.2: the coefficient of variation must be between 0 and 3",
        *coverage("--drive-time-cv", "-0.2"),
    ),
    "language unknown": _case(
        r"--lang de: not a language planner writes in; use sv \(Swedish\) or en \(English\)",
        *coverage("--lang", "de"),
    ),
    "language unknown in the demo": _case(
        r"--lang fi: not a language planner writes in",
        "demo --out-dir {o}/demo --no-progress --lang fi",
    ),
    "csv dialect unknown": _case(
        r"--csv excel: not a CSV dialect; use excel-sv \(';', decimal comma, for Swedish "
        r"Excel\) or standard \(',', decimal point\)",
        *optimise("--csv", "excel"),
    ),
    "csv dialect unknown in travel times": _case(
        r"--csv semicolon: not a CSV dialect", *times("--csv", "semicolon")
    ),
    "language unknown in a plan": _case(
        r"--lang EN: not a language planner writes in", *plan("fine_cell.toml"), "--lang", "EN"
    ),
    "cdn and offline": _case(
        r"--cdn and --offline contradict each other: give one of them",
        "demo --out-dir {o}/demo --no-progress --cdn --offline",
    ),
    "thresholds not numbers": _case(
        r"--thresholds 'ten': write minutes separated by commas, e\.g\. 10,20,30",
        *coverage("--thresholds", "ten"),
    ),
    "threshold zero": _case(
        r"--thresholds: 0 min is not a positive time", *coverage("--thresholds", "0")
    ),
    "threshold absurd": _case(
        r"--thresholds: 1e\+09 min is absurd \(more than 24 hours\)",
        *coverage("--thresholds", "1e9"),
    ),
    "cell too small for memory": _case(
        r"isochrone cell \(--cell-m, \[isochrones\] cell_m\) = 0\.01 m \(buffer 100 m\): the "
        r"isochrone raster over these roads \(0\.936 km × 1\.4 km\) would take about 1,125 GiB, "
        r"above the memory budget of 4 GiB; use a cell of at least 0\.17 m, or draw no isochrones",
        *coverage("--cell-m", "0.01"),
    ),
    "isochrones cell too small for memory": _case(
        r"= 0\.05 m \(buffer 100 m\): .* above the memory budget of 4 GiB; use a cell of at "
        r"least 0\.17 m",
        "isochrones --osm {umea} --cache-dir {cache} --no-progress --stations "
        "{i}/stations.csv --out {o}/iso.gpkg --cell-m 0.05",
    ),
    "buffer too wide for memory": _case(
        r"= 70 m \(buffer 1e\+07 m\): .*; even 1000 m cells do not fit with a 1e\+07 m buffer: "
        r"narrow it",
        *coverage("--buffer-m", "1e7"),
    ),
    "cell zero": _case(
        r"cell_m = 0\.0: must be a positive distance \(m\)", *coverage("--cell-m", "0")
    ),
    "cell too coarse": _case(
        r"cell_m = 5000 m is too coarse \(at most 1000 m\)", *coverage("--cell-m", "5000")
    ),
    "buffer negative": _case(
        r"buffer_m = -1\.0: must be a positive distance \(m\)", *coverage("--buffer-m", "-1")
    ),
    "workers zero": _case(r"workers = 0: must be a whole number >= 1", *times("--workers", "0")),
    "scheduler address": _case(
        r"scheduler = 'localhost': give the scheduler's address, e\.g\. tcp://host:8786",
        *coverage("--scheduler", "localhost"),
    ),
    "cutoff not a number": _case(
        r"--cutoff-min \(as seconds\) = nan s: must be a positive time",
        *times("--cutoff-min", "nan"),
    ),
    "times output format": _case(
        r"out: .*times\.docx: unsupported table format",
        "traveltimes --osm {umea} --cache-dir {cache} --no-progress --stations "
        "{i}/stations.csv --out {o}/times.docx",
    ),
    "isochrones geojson format": _case(
        r"out: .*bands\.txt: use \.geojson or \.parquet",
        "isochrones --osm {umea} --cache-dir {cache} --no-progress --stations "
        "{i}/stations.csv --out {o}/iso.gpkg --geojson {o}/bands.txt",
    ),
    "matrix cutoff zero": _case(
        r"--cutoff-min \(as seconds\) = 0\.0 s: must be a positive time",
        "matrix {i}/umea.toml --out {o}/pairs.parquet --cutoff-min 0 --no-progress",
    ),
    "matrix store is a file": _case(
        r"store: .*stations\.csv exists and is not a folder",
        "matrix {i}/umea.toml --out {o}/pairs.parquet --store {i}/stations.csv --cache-dir "
        "{cache} --no-progress",
    ),
    "compare missing runs": _case(
        r"nowhere: not a planner run folder: the folder does not exist",
        "compare {i}/nowhere {i}/nowhere --out-dir {o}/comparison",
    ),
    "compare a folder that is no run": _case(
        r"not a planner run folder: coverage_\w+\.csv is missing",
        "compare {i} {i} --out-dir {o}/comparison",
    ),
    "compare state unknown": _case(
        r"state_a = 'later': use one of before, after",
        "compare {i} {i} --state-a later --out-dir {o}/comparison",
    ),
    "plan scenario missing": _case(
        r"scenario .*nowhere\.toml: no such file", *plan("nowhere.toml")
    ),
    "plan scenario in utf-16": _case(
        r"utf16\.toml line 1: cannot read the scenario as UTF-8 text", *plan("utf16.toml")
    ),
    "plan demand weights all zero": _case(
        r"zero\.csv \(demand\[1\]\.path in zero\.toml\): every one of its 2 demand points has "
        r"weight 0",
        *plan("zero.toml"),
    ),
    "plan cell too small for memory": _case(
        r"= 0\.01 m \(buffer 100 m\): .* above the memory budget of 4 GiB; use a cell of at "
        r"least 0\.17 m",
        *plan("fine_cell.toml"),
    ),
    "plan boundary projected without crs": _case(
        r"region\.boundary: .*projected\.geojson: coordinates such as \(755000, 7075000\) are "
        r"not longitude/latitude",
        *plan("projected_boundary.toml"),
    ),
}

SIMULATION_CASES = {
    "calls file with a bad time": _case(
        r"sim_calls_time\.csv \(simulate\.calls_file in sim_calls_time\.toml\) row 3: "
        r"time '2024-03-32 10:20' \(column 'time'\) is not a valid "
        r"ISO 8601 time",
        *simulate("sim_calls_time.toml"),
    ),
    "calls file with a bad position": _case(
        r"sim_calls_position\.csv \(simulate\.calls_file in sim_calls_position\.toml\) row 3: "
        r"\(20\.2904, 95\.8176\) is not a longitude/latitude",
        *simulate("sim_calls_position.toml"),
    ),
    "calls file with a bad priority": _case(
        r"sim_calls_priority\.csv \(simulate\.calls_file in sim_calls_priority\.toml\) row 3: "
        r"priority 'prio 7' is not a priority \(1, 2, 3 or "
        r"'prio 1'\)",
        *simulate("sim_calls_priority.toml"),
    ),
    "impossible shifts": _case(
        r"sim_shifts\.toml: simulate\.shifts\['A'\]: hour 0 has 2 units on duty, but the "
        r"station has only 1; impossible shift",
        *simulate("sim_shifts.toml"),
    ),
    "shifts of a station that does not exist": _case(
        r"sim_shifts_name\.toml: simulate\.shifts: 'AA' is not a station; did you mean 'A'\?",
        *simulate("sim_shifts_name.toml"),
    ),
    "no hospital reachable": _case(
        r"sim_no_hospital\.toml: \[simulate\] no hospital can be reached by road from any "
        r"demand point",
        *simulate("sim_no_hospital.toml"),
    ),
    "no OSM hospital tagged emergency": _case(
        r"sim_no_emergency\.toml: \[simulate\] no hospital \(OSM amenity=hospital with "
        r"emergency=yes\) in the area in umea-ostra\.osm; set simulate\.emergency_only = false",
        *simulate("sim_no_emergency.toml"),
    ),
    "load above capacity": _case(
        r"sim_overload\.toml: \[simulate\] the offered load is at least [\d.]+ erlangs .* on "
        r"average only 2\.0 units are on duty: the queue would grow without bound",
        *simulate("sim_overload.toml"),
    ),
    "psychiatric question without a psychiatric unit": _case(
        r"sim_pam\.toml: simulate\.compare_psychiatric = true, but no station is of the "
        r"psychiatric fleet",
        *simulate("sim_pam.toml"),
    ),
    "replications zero": _case(
        r"--replications = 0: must be a whole number >= 1",
        *simulate("sim.toml", "--replications", "0"),
    ),
    "plan replications without a simulation": _case(
        r"--replications, --seed: .*umea\.toml has no \[simulate\] section",
        *plan("umea.toml"),
        "--replications",
        "3",
    ),
}

CATALOGUE = {
    f"{group}: {name}": case
    for group, cases in (
        ("network", NETWORK_CASES),
        ("stations", STATION_CASES),
        ("demand", DEMAND_CASES),
        ("optimiser", OPTIMISER_CASES),
        ("cli", CLI_CASES),
        ("simulate", SIMULATION_CASES),
    )
    for name, case in cases.items()
}


def _fill(args: tuple[str, ...], **values: Path) -> list[str]:
    return [arg.format(**{k: v.as_posix() for k, v in values.items()}) for arg in args]


def _run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_catalogue_is_large() -> None:
    assert len(CATALOGUE) >= 60
    assert {name.split(":")[0] for name in CATALOGUE} == {
        "network", "stations", "demand", "optimiser", "cli", "simulate"
    }  # fmt: skip


@pytest.mark.parametrize(
    "name",
    list(CATALOGUE),
)
def test_bad_input(
    name: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    inputs: Path,
    cache_dir: Path,
    umea_osm: Path,
    sodermalm_pbf: Path,
) -> None:
    case = CATALOGUE[name]
    out = tmp_path / "out"
    out.mkdir()
    args = _fill(
        case.args, i=inputs, o=out, cache=cache_dir, umea=umea_osm, sodermalm=sodermalm_pbf
    )
    code, stdout, err = _run(capsys, args)
    assert code == 2, err
    assert "Traceback" not in err + stdout
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert err.rstrip().endswith(errors[0]), err  # the error is the last line
    assert re.search(case.message, errors[0]), errors[0]
    assert list(out.iterdir()) == [], "output left behind"


def test_existing_output_is_left_alone(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    inputs: Path,
    cache_dir: Path,
    umea_osm: Path,
) -> None:
    out = tmp_path / "times.csv"
    out.write_text("mine\n", encoding="utf-8")
    args = _fill(times(), i=inputs, o=tmp_path, cache=cache_dir, umea=umea_osm)
    code, _, err = _run(capsys, args)
    assert code == 2
    assert re.search(r"--out: .*times\.csv exists; pass --overwrite to replace it", err), err
    assert out.read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["times.csv"]


@pytest.mark.parametrize("case", sorted(SCENARIO_CASES))
def test_bad_scenario_through_plan(
    case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """tests/test_scenario.py's catalogue, through ``planner plan``: exit 2, one line, no output."""
    text, line, fragments = SCENARIO_CASES[case]
    path = write_scenario(tmp_path, text)
    out = tmp_path / "out"
    code, _, err = _run(capsys, ["plan", str(path), "--out-dir", str(out), "--no-progress"])
    assert code == 2
    assert "Traceback" not in err
    assert err.startswith(f"error: {path} line {line}"), err
    assert len(err.strip().splitlines()) == 1, err
    assert all(fragment in err for fragment in fragments), err
    assert not out.exists()


# --------------------------------------------------------------------------
# Legal but suspicious: a warning, and a normal run
# --------------------------------------------------------------------------
def _coverage_total(folder: Path) -> pd.DataFrame:
    return read_csv_table(folder / "coverage_total.csv")  # a plan of Umeå writes excel-sv


@pytest.fixture(scope="module")
def baseline_coverage(
    tmp_path_factory: pytest.TempPathFactory, inputs: Path, cache_dir: Path, umea_osm: Path
) -> pd.DataFrame:
    """``planner coverage`` on the Umeå stations and demand, as given (UTF-8, lon/lat)."""
    out = tmp_path_factory.mktemp("baseline") / "coverage"
    args = _fill(coverage(), i=inputs, o=out.parent, cache=cache_dir, umea=umea_osm)
    assert main(args) == 0
    return _coverage_total(out)


def _warned(err: str) -> list[str]:
    return [
        line.removeprefix("warning: ") for line in err.splitlines() if line.startswith("warning:")
    ]


def test_crs_with_lonlat_columns_warns_and_keeps_wgs84(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    inputs: Path,
    cache_dir: Path,
    umea_osm: Path,
    baseline_coverage: pd.DataFrame,
) -> None:
    capsys.readouterr()
    args = _fill(
        coverage("--crs", "EPSG:3006"), i=inputs, o=tmp_path, cache=cache_dir, umea=umea_osm
    )
    code, _, err = _run(capsys, args)
    assert code == 0, err
    warned = _warned(err)
    for name in (r"stations\.csv \(--stations\)", r"demand\.csv \(--demand\)"):
        assert any(
            re.search(
                rf"{name}: the CRS EPSG:3006 is not used: columns lon/lat hold "
                r"longitude/latitude, which are always WGS 84 \(EPSG:4326\)",
                line,
            )
            for line in warned
        ), err
    # the lon/lat columns were read as WGS 84: the same tables as without --crs
    pd.testing.assert_frame_equal(_coverage_total(tmp_path / "coverage"), baseline_coverage)


def test_utf16_csv_with_a_mark_is_read(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    inputs: Path,
    cache_dir: Path,
    umea_osm: Path,
    baseline_coverage: pd.DataFrame,
) -> None:
    """Excel's "Unicode text" (UTF-16 LE, a byte-order mark, tabs) gives the UTF-8 result."""
    capsys.readouterr()
    args = _fill(coverage(), i=inputs, o=tmp_path, cache=cache_dir, umea=umea_osm)
    args[args.index(f"{inputs.as_posix()}/stations.csv")] = str(inputs / "excel_unicode.txt")
    code, _, err = _run(capsys, args)
    assert code == 0, err
    assert not _warned(err)
    pd.testing.assert_frame_equal(_coverage_total(tmp_path / "coverage"), baseline_coverage)
    utf8 = read_stations(inputs / "stations.csv")
    utf16 = read_stations(inputs / "excel_unicode.txt")
    assert list(utf16["name"]) == list(utf8["name"])
    assert np.array_equal(
        shapely.get_coordinates(utf16.geometry), shapely.get_coordinates(utf8.geometry)
    )


def test_crs_with_grid_demand_warns(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    inputs: Path,
    cache_dir: Path,
    umea_osm: Path,
) -> None:
    extra = ("--demand-type", "grid", "--crs", "EPSG:3006", "--no-isochrones")
    args = _fill(
        coverage(*extra, demand="grid.csv"), i=inputs, o=tmp_path, cache=cache_dir, umea=umea_osm
    )
    code, _, err = _run(capsys, args)
    assert code == 0, err
    assert any(
        re.search(
            r"grid\.csv \(--demand\): the CRS EPSG:3006 is not used: demand of type grid "
            r"carries",
            line,
        )
        for line in _warned(err)
    ), err
    assert (tmp_path / "coverage" / "coverage_total.csv").exists()


def _far_station_distance(umea_osm: Path) -> float:
    """Distance (m) from the station 'Ute i viken' to the nearest Umeå road, by snapping."""
    net = build_network(umea_osm)
    point = gpd.GeoSeries([shapely.Point(20.33, 63.80)], crs="EPSG:4326").to_crs("EPSG:3006")
    return float(snap_points(net.graph, point).snap_distance_m[0])


@pytest.mark.parametrize("command", ["coverage", "plan"])
def test_station_off_the_roads_warns(
    command: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    inputs: Path,
    cache_dir: Path,
    umea_osm: Path,
) -> None:
    if command == "coverage":
        args = coverage("--no-isochrones")
        args = tuple(a.replace("stations.csv", "far.csv") for a in args)
    else:
        args = plan("far.toml")
    code, _, err = _run(capsys, _fill(args, i=inputs, o=tmp_path, cache=cache_dir, umea=umea_osm))
    assert code == 0, err
    distance = _far_station_distance(umea_osm)
    assert distance > constants.MAX_SNAP_DISTANCE_M
    assert _warned(err) == [
        f"station 'Ute i viken' is {distance:,.0f} m from the nearest road, more than "
        "max_snap_m = 500 m, so it reaches no one; check its coordinates (is it in the sea?)"
    ]
    written = tmp_path / ("coverage" if command == "coverage" else "plan")
    table = read_csv_table(written / "coverage_station.csv")  # Swedish: either dialect
    assert "Ute i viken" not in set(table["station"].astype(str))  # nearest to no one


def test_plan_crs_with_lonlat_stations_warns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, inputs: Path, cache_dir: Path
) -> None:
    code, _, err = _run(capsys, _fill(plan("crs.toml"), i=inputs, o=tmp_path, cache=cache_dir))
    assert code == 0, err
    named = "stations.csv (stations.path in crs.toml): the CRS EPSG:3006 is not used"
    assert any(named in line for line in _warned(err)), err


# --------------------------------------------------------------------------
# The checks behind the messages, against independent computations
# --------------------------------------------------------------------------
def test_distance_to_sweden_matches_geodesic_distance() -> None:
    """Copenhagen and Oslo: the distance to the outline, by pyproj's geodesic (WGS 84)."""
    outline = load_regions().to_crs("EPSG:3006").union_all()
    to_3006 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
    to_lonlat = pyproj.Transformer.from_crs("EPSG:3006", "EPSG:4326", always_xy=True)
    geod = pyproj.Geod(ellps="WGS84")
    places = {"Copenhagen": COPENHAGEN, "Oslo": (10.75, 59.91), "Kebnekaise": (18.53, 67.90)}
    lon = np.array([p[0] for p in places.values()])
    lat = np.array([p[1] for p in places.values()])
    got = distance_to_sweden_m(lon, lat)
    for i, name in enumerate(places):
        point = shapely.Point(*to_3006.transform(lon[i], lat[i]))
        if outline.contains(point):
            assert got[i] == 0, name
            continue
        nearest = shapely.shortest_line(point, outline).coords[1]
        n_lon, n_lat = to_lonlat.transform(*nearest)
        _, _, metres = geod.inv(lon[i], lat[i], n_lon, n_lat)
        assert got[i] == pytest.approx(metres, rel=2e-3), name
    assert got[0] > constants.SWEDEN_BOUNDARY_TOLERANCE_M
    assert got[2] == 0


def test_every_swedish_urban_area_passes_the_sweden_check(shared_data: Path) -> None:
    """All 1,956 SCB tätorter lie within the tolerance of the outline (the constant's claim)."""
    places = read_osm_population(shared_data / "population" / "taetorter.osm.xml")
    lonlat = places.to_crs("EPSG:4326").geometry
    distance = distance_to_sweden_m(lonlat.x.to_numpy(), lonlat.y.to_numpy())
    assert len(places) == 1956
    assert distance.max() <= constants.SWEDEN_BOUNDARY_TOLERANCE_M
    assert 9000 < distance.max() < 10_000  # Vrångö, as the constant's note says
    assert places["name"].iloc[int(np.argmax(distance))] == "Vrångö"


def test_islands_and_the_coast_pass_the_sweden_check(tmp_path: Path) -> None:
    """Real island towns missing from the generalised outline are kept; abroad is refused."""
    islands = {"Vrångö": (11.78, 57.57), "Holmön": (20.87, 63.80), "Sydkoster": (11.03, 58.87)}
    lines = ["name,lon,lat", *(f"{n},{lon},{lat}" for n, (lon, lat) in islands.items())]
    path = tmp_path / "islands.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    stations = read_stations(path)
    assert list(stations["name"]) == list(islands)
    lon = np.array([p[0] for p in islands.values()])
    lat = np.array([p[1] for p in islands.values()])
    assert (distance_to_sweden_m(lon, lat) > 5000).all()  # outside the outline itself


def test_raster_estimate_bounds_the_real_peak(umea_osm: Path) -> None:
    """The estimate the memory check uses is above tracemalloc's peak of real catchments."""
    net = build_network(umea_osm)
    ttg = build_travel_time_graph(net.graph)
    settings = IsochroneSettings(thresholds_min=(5.0, 10.0), buffer_m=10.0, cell_m=2.0)
    edges = edge_frame(net.graph)
    samples = sample_edges(net.graph, ttg, spacing_m=settings.grid[0], edges=edges)
    lonlat = gpd.GeoSeries(
        shapely.points([20.2904843, 20.2895705], [63.8175017, 63.8169711]), crs="EPSG:4326"
    )
    stations = snap_points(net.graph, lonlat.to_crs("EPSG:3006"), edges=edges)
    node_times = point_times(ttg, stations)
    xmin, ymin, xmax, ymax = edges.total_bounds
    cell, radius = settings.grid
    cells = ((xmax - xmin) / cell + 1 + 2 * (radius + 1)) * (
        (ymax - ymin) / cell + 1 + 2 * (radius + 1)
    )
    estimate = cells * constants.ISOCHRONE_BYTES_PER_CELL
    tracemalloc.start()
    try:
        catchment_isochrones(
            samples, node_times, names=["A", "B"], turnout_s=0.0, settings=settings
        )
        fleet_isochrones(samples, node_times, turnout_s=0.0, settings=settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= estimate
    assert peak >= estimate / 4  # the estimate is of the right size, not a wild bound


def test_suggested_cell_is_the_smallest_that_fits() -> None:
    """The cell the message suggests passes the check; 10 % smaller does not."""
    bounds = (0.0, 0.0, 50_000.0, 40_000.0)  # a 50 × 40 km area
    settings = IsochroneSettings(cell_m=1.0)
    with pytest.raises(ValueError, match=r"use a cell of at least ([\d.]+) m") as info:
        check_raster_memory(settings, bounds)
    suggested = float(re.search(r"at least ([\d.]+) m", str(info.value)).group(1))  # type: ignore[union-attr]
    check_raster_memory(IsochroneSettings(cell_m=suggested), bounds)
    with pytest.raises(ValueError, match="memory budget"):
        check_raster_memory(IsochroneSettings(cell_m=suggested * 0.9), bounds)
    # by hand: a square cell c over 50 × 40 km needs about 2e9 / c² cells of 64 bytes
    by_hand = math.sqrt(50_000 * 40_000 * 64 / constants.ISOCHRONE_RASTER_MAX_BYTES)
    assert by_hand <= suggested <= by_hand * 1.15
