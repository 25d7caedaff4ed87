"""Time-of-day speed profiles (issue 16 point 1): the file format, the band of a time,
band edge times on the built network, and coverage per band.

Checked against independent computations: the band of a time by hand from
the calendar; band edge times by hand from the formula; band drive times
against networkx's Dijkstra on a copy of the real Andorra graph re-weighted
edge by edge; and a profile whose factors are all 1 against the single-band
results, which must be equal bit for bit.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from planner import constants
from planner.errors import InputFileError, MissingFileError, ParameterError
from planner.inputs.demand import read_demand
from planner.inputs.sites import read_stations
from planner.network.bands import BandNetwork, band_weights, edge_classes
from planner.network.index import index_network
from planner.network.profiles import (
    SpeedProfile,
    TimeBand,
    band_at,
    bands_at,
    default_speed_profile,
    read_speed_profile,
    write_speed_profile,
)
from planner.network.road_network import RoadNetwork
from planner.network.travel_times import build_travel_time_graph, node_times
from planner.outputs.export import read_csv_table
from planner.outputs.maps import MapLayers, build_map, write_map
from planner.run.cli import main
from planner.run.pipeline import run_coverage

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "andorra"

HEADER = "band,days,start,end,other,primary,residential\n"
GOOD_ROWS = (
    "night,all,22:00,06:00,0.78,,\n"
    "peak,weekday,06:00,09:00,1,0.9,0.95\n"
    "day,weekday,09:00,22:00,1,,\n"
    "weekend,weekend,06:00,22:00,1.0,,\n"
)


def _unit_profile() -> SpeedProfile:
    """Two bands, every factor 1 (a class column too, so that path is exercised)."""
    return SpeedProfile(
        "unit",
        (
            TimeBand("night", "all", 22 * 60, 6 * 60, 1.0, {"primary": 1.0}),
            TimeBand("rest", "all", 6 * 60, 22 * 60, 1.0),
        ),
    )


# --------------------------------------------------------------------------
# The band of a time
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "band"),
    [
        ("2026-12-07 03:00", "night"),  # Monday
        ("2026-12-07 05:59", "night"),
        ("2026-12-07 06:00", "morning_peak"),
        ("2026-12-07 08:59", "morning_peak"),
        ("2026-12-07 09:00", "day"),
        ("2026-12-07 15:00", "afternoon_peak"),
        ("2026-12-07 18:00", "evening"),
        ("2026-12-07 21:59", "evening"),
        ("2026-12-07 22:00", "night"),
        ("2026-12-04 23:30", "night"),  # Friday
        ("2026-12-05 02:00", "night"),  # Saturday
        ("2026-12-05 08:00", "weekend_day"),  # Saturday: no peak
        ("2026-12-06 17:59", "weekend_day"),  # Sunday
        ("2026-12-06 19:00", "evening"),
    ],
)
def test_band_of_a_time_by_hand(when: str, band: str) -> None:
    assert band_at(default_speed_profile(), when) == band


def test_bands_at_is_vectorised_and_reads_the_local_wall_clock() -> None:
    profile = default_speed_profile()
    monday = datetime(2026, 12, 7)
    times = [monday + timedelta(minutes=m) for m in range(0, 7 * 24 * 60, 17)]
    got = bands_at(profile, times)
    assert list(got) == [band_at(profile, t) for t in times]
    stockholm = timezone(timedelta(hours=1))
    assert band_at(profile, datetime(2026, 12, 7, 7, 30, tzinfo=stockholm)) == "morning_peak"
    with pytest.raises(ParameterError, match="times: value 1 is missing"):
        bands_at(profile, [monday, None])


def test_every_minute_of_the_week_has_one_band() -> None:
    profile = default_speed_profile()
    week = pd.date_range("2026-12-07", periods=7 * 24 * 60, freq="min")
    counts = pd.Series(bands_at(profile, week)).value_counts()
    # weekday hours: peaks 3 h + 3 h, day 6 h, evening 4 h, night 8 h; weekend day 12 h
    assert counts.to_dict() == {
        "night": 7 * 8 * 60,
        "evening": 7 * 4 * 60,
        "weekend_day": 2 * 12 * 60,
        "day": 5 * 6 * 60,
        "morning_peak": 5 * 3 * 60,
        "afternoon_peak": 5 * 3 * 60,
    }


def test_default_profile_values_come_from_constants() -> None:
    profile = default_speed_profile()
    assert profile.band("night").factor("motorway") == constants.SPEED_FACTOR_NIGHT == 0.78
    assert profile.band("morning_peak").factor("primary") == constants.SPEED_FACTOR_PEAK
    assert profile.band("morning_peak").factor("motorway") == 1.0
    assert profile.band("day").factor("residential") == 1.0


# --------------------------------------------------------------------------
# The file format
# --------------------------------------------------------------------------
def test_profile_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "peaks.csv"
    path.write_text("# my profile\n" + HEADER + GOOD_ROWS, encoding="utf-8")
    profile = read_speed_profile(path)
    assert profile.name == "peaks"
    assert profile.band_names == ("night", "peak", "day", "weekend")
    assert profile.band("peak").factor("primary") == 0.9
    assert profile.band("peak").factor("motorway") == 1.0  # empty or absent: other
    assert profile.band("night").factor("primary") == 0.78
    again = read_speed_profile(write_speed_profile(profile, tmp_path / "copy.csv"))
    pd.testing.assert_frame_equal(again.to_frame(), profile.to_frame())
    default = read_speed_profile(write_speed_profile(default_speed_profile(), tmp_path / "d.csv"))
    assert [b.factors for b in default.bands] == [b.factors for b in default_speed_profile().bands]


def test_profile_file_from_swedish_excel(tmp_path: Path) -> None:
    """Semicolons and decimal commas, with a byte-order mark, as Swedish Excel saves CSV."""
    text = (HEADER + GOOD_ROWS).replace(",", ";").replace("0.78", "0,78").replace("0.9", "0,9")
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff".encode() + text.encode("utf-8"))
    assert read_speed_profile(path).band("night").other == 0.78
    assert read_speed_profile(path).band("peak").factor("primary") == 0.9


BAD_FILES = {
    "missing other column": (
        "band,days,start,end\nall,all,00:00,24:00\n",
        r"line 1: column 'other' is missing",
    ),
    "misspelt class": (
        "band,days,start,end,other,primry\nall,all,00:00,24:00,1,0.9\n",
        r"line 1: column 'primry' is not a road class; did you mean 'primary'\?",
    ),
    "column twice": (
        "band,days,start,end,other,other\nall,all,00:00,24:00,1,1\n",
        r"line 1: column 'other' appears twice",
    ),
    "factor text": (
        HEADER + GOOD_ROWS.replace("1,0.9,0.95", "1,fast,0.95"),
        r"line 3, column 'primary': 'fast' is not a number",
    ),
    "factor zero": (
        HEADER + GOOD_ROWS.replace("0.78", "0"),
        r"line 2, column 'other': factor '0' must be a number in \(0, 3\]",
    ),
    "factor absurd": (
        HEADER + GOOD_ROWS.replace("0.95", "30"),
        r"line 3, column 'residential': factor '30' must be a number in \(0, 3\]",
    ),
    "bad clock": (
        HEADER + GOOD_ROWS.replace("09:00,22:00", "09:00,25:00"),
        r"line 4, column 'end': '25:00' is not a clock time HH:MM between 00:00 and 24:00",
    ),
    "bad days": (
        HEADER + GOOD_ROWS.replace("weekend,weekend", "weekend,saturday"),
        r"line 5, column 'days': 'saturday' is not one of weekday, weekend, all",
    ),
    "band twice": (
        HEADER + GOOD_ROWS.replace("weekend,weekend", "night,weekend"),
        r"line 5, column 'band': 'night' is already the band of line 2",
    ),
    "band twice in another case": (
        HEADER + GOOD_ROWS.replace("day,weekday", "NIGHT,weekday"),
        r"line 4, column 'band': 'NIGHT' is already the band of line 2",
    ),
    "unsafe band name": (
        HEADER + GOOD_ROWS.replace("day,weekday", "../day,weekday"),
        r"line 4, column 'band': '\.\./day' is not a usable band name",
    ),
    "field count": (
        HEADER + GOOD_ROWS.replace("1,0.9,0.95", "1,0.9,0.95,7"),
        r"line 3: has 8 fields but the header has 7",
    ),
    "overlap": (
        HEADER + GOOD_ROWS.replace("09:00,22:00", "08:00,22:00"),
        r"on a weekday 08:00 is in band 'peak' \(line 3\) and in band 'day' \(line 4\); "
        r"the windows must not overlap",
    ),
    "gap": (
        HEADER + GOOD_ROWS.replace("weekend,weekend,06:00,22:00", "weekend,weekend,07:00,22:00"),
        r"on a weekend 06:00-07:00 is in no band",
    ),
    "empty window": (
        HEADER + "all,all,06:00,06:00,1,,\n",
        r"line 2: start and end are both 06:00; the window is empty",
    ),
    "header only": (HEADER, r"has a header but no band"),
    "empty": ("# nothing\n\n", r"is empty; it needs a header and one row per band"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_profile_file(case: str, tmp_path: Path) -> None:
    text, message = BAD_FILES[case]
    path = tmp_path / "profile.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        read_speed_profile(path)
    assert str(info.value).startswith(f"speed profile {path}"), info.value
    assert re.search(message, str(info.value)), info.value


def test_missing_profile_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"nope\.csv: no such file"):
        read_speed_profile(tmp_path / "nope.csv")


def test_unknown_band_suggests_the_closest() -> None:
    with pytest.raises(ParameterError, match=r"--band: 'nigt' is not a band .*'night'\?"):
        default_speed_profile().select(["nigt"], argument="--band")


# --------------------------------------------------------------------------
# Band edge times on the real network
# --------------------------------------------------------------------------
def test_band_edge_times_by_hand(andorra_net: RoadNetwork) -> None:
    edges = edge_classes(andorra_net)
    night = band_weights(edges, default_speed_profile(), "night")
    t, v = edges.travel_time, edges.speed_kph
    road = ~edges.ferry & (t > 0)
    # 0.78 * v stays above the 5 km/h floor on every road edge of Andorra
    assert (v[road] * 0.78 >= constants.MIN_SPEED_KPH).all()
    np.testing.assert_allclose(night[road], t[road] / 0.78, rtol=1e-12)
    # a factor of 3 runs into the 140 km/h ceiling on the fast roads
    fast = SpeedProfile("fast", (TimeBand("all", "all", 0, 1440, 3.0),))
    quick = band_weights(edges, fast, "all")
    capped = road & (v * 3 > constants.MAX_SPEED_KPH)
    assert capped.any()
    length_m = t * v / 3.6
    np.testing.assert_allclose(quick[capped], length_m[capped] / (140 / 3.6), rtol=1e-12)
    # the morning peak slows the town classes only
    peak = band_weights(edges, default_speed_profile(), "morning_peak")
    classes = np.array([";".join(c) for c in edges.classes], dtype=object)[edges.codes]
    assert (peak[classes == "motorway"] == t[classes == "motorway"]).all()
    town = road & (classes == "residential")
    np.testing.assert_allclose(peak[town], t[town] / 0.97, rtol=1e-12)


def test_unit_band_gives_the_network_times_bit_for_bit(andorra_net: RoadNetwork) -> None:
    prepared = BandNetwork.prepare(andorra_net, _unit_profile())
    assert np.array_equal(band_weights(prepared.edges, _unit_profile(), "night"),
                          prepared.edges.travel_time)  # fmt: skip
    unit = prepared.index_for("night")
    base = prepared.index.ttg.matrix
    assert np.array_equal(unit.ttg.matrix.data, base.data)
    assert np.array_equal(unit.ttg.matrix.indices, base.indices)
    assert np.array_equal(unit.edges["travel_time"].to_numpy(), prepared.index.edges["travel_time"])


@pytest.mark.parametrize("band", ["night", "morning_peak"])
def test_band_times_equal_networkx_dijkstra(andorra_net: RoadNetwork, band: str) -> None:
    profile = default_speed_profile()
    prepared = BandNetwork.prepare(andorra_net, profile)
    weights = band_weights(prepared.edges, profile, band)
    graph = andorra_net.graph.copy()
    for (u, v, k), w in zip(graph.edges(keys=True), weights, strict=True):
        graph.edges[u, v, k]["band_s"] = float(w)
    # the re-weighted CSR graph is the one built from scratch with these times
    rebuilt = build_travel_time_graph(graph, weight="band_s")
    switched = prepared.index_for(band).ttg
    assert (rebuilt.matrix != switched.matrix).nnz == 0
    rng = np.random.default_rng(16)
    sources = rng.choice(switched.node_ids, size=5, replace=False)
    times = node_times(switched, sources)
    base = node_times(prepared.index.ttg, sources)
    for row, source in enumerate(sources):
        expected = nx.single_source_dijkstra_path_length(graph, int(source), weight="band_s")
        want = np.array([expected.get(int(n), np.inf) for n in switched.node_ids])
        np.testing.assert_allclose(times[row], want, rtol=1e-12, atol=1e-9)
        reached = np.isfinite(want) & (want > 0)
        assert (times[row][reached] >= base[row][reached]).all()  # slower, never faster
    if band == "night":  # every edge 1/0.78 as long: so is every shortest path
        finite = np.isfinite(base)
        np.testing.assert_allclose(times[finite], base[finite] / 0.78, rtol=1e-9)


# --------------------------------------------------------------------------
# Coverage per band
# --------------------------------------------------------------------------
def _example_layers(crs: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The Andorra example's two stations and its (synthetic) demand points."""
    stations = read_stations(EXAMPLE / "stations.csv", check_sweden=False).to_crs(crs)
    demand = read_demand(
        EXAMPLE / "demand.csv", kind="points", weight="population", check_sweden=False
    ).to_crs(crs)
    return stations, demand


def test_unit_profile_coverage_equals_the_single_band(andorra_net: RoadNetwork) -> None:
    stations, demand = _example_layers(andorra_net.crs)
    index = index_network(andorra_net)
    single = run_coverage(andorra_net, stations, demand, index=index)
    prepared = BandNetwork.prepare(andorra_net, _unit_profile(), index=index)
    for band in ("night", "rest"):
        banded = run_coverage(andorra_net, stations, demand, index=prepared.index_for(band))
        for name, table in single.tables.items():
            pd.testing.assert_frame_equal(banded.tables[name], table, check_exact=True)
        assert np.array_equal(
            banded.demand["response_s"].to_numpy(), single.demand["response_s"].to_numpy()
        )
        assert banded.fleet_bands is not None and single.fleet_bands is not None
        assert banded.fleet_bands.geometry.equals(single.fleet_bands.geometry)
    night = run_coverage(
        andorra_net, stations, demand,
        index=BandNetwork.prepare(andorra_net, default_speed_profile(), index=index).index_for(
            "night"
        ),
    )  # fmt: skip
    at_night = night.demand["response_s"].to_numpy()
    by_day = single.demand["response_s"].to_numpy()
    reached = np.isfinite(by_day)
    assert np.array_equal(np.isfinite(at_night), reached)  # the same places, only slower
    assert (at_night[reached] >= by_day[reached]).all() and (at_night > by_day).any()


def test_coverage_command_writes_every_band(
    tmp_path: Path, andorra_pbf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``planner coverage --band``: per-band folders and tables; a unit band equals the base."""
    profile = tmp_path / "unit.csv"
    write_speed_profile(_unit_profile(), profile)
    out = tmp_path / "cov"
    args = ["coverage", "--pbf", str(andorra_pbf), "--no-cache", "--no-progress",
            "--stations", str(EXAMPLE / "stations.csv"), "--demand", str(EXAMPLE / "demand.csv"),
            "--weight", "population", "--thresholds", "10,20", "--no-isochrones", "--not-sweden",
            "--out-dir", str(out), "--speed-profile", str(profile), "--band", "all"]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "time band night: demand" in err
    base = read_csv_table(out / "coverage_total.csv")
    stacked = read_csv_table(out / "coverage_bands_total.csv")
    assert stacked["band"].tolist() == ["night", "rest"]
    assert (stacked["state"] == "before").all()
    for band in ("night", "rest"):
        own = read_csv_table(out / "bands" / band / "coverage_total.csv")
        pd.testing.assert_frame_equal(own, base, check_exact=True)
        row = stacked[stacked["band"] == band].drop(columns=["band", "state"])
        pd.testing.assert_frame_equal(row.reset_index(drop=True), base, check_exact=True)


def test_map_has_a_band_selector(andorra_net: RoadNetwork) -> None:
    stations, demand = _example_layers(andorra_net.crs)
    index = index_network(andorra_net)
    prepared = BandNetwork.prepare(andorra_net, default_speed_profile(), index=index)
    base = run_coverage(andorra_net, stations, demand, index=index)
    night = run_coverage(andorra_net, stations, demand, index=prepared.index_for("night"))
    assert base.fleet_bands is not None and night.fleet_bands is not None
    layers = MapLayers(
        title="Andorra",
        thresholds_min=(10, 20),
        isochrones=base.fleet_bands,
        band_isochrones={"night": night.fleet_bands},
    )
    page = build_map(layers, language="sv").get_root().render()
    assert "plannerSetBand" in page
    assert '"title": "Tidsband"' in page
    assert '"labels": ["hastighetsmodell", "natt"]' in page
    assert "Isokroner, tidsband natt" not in page.split("L.control.layers")[-1]  # not listed
    with pytest.raises(ParameterError, match=r"band_isochrones\['night'\]"):
        MapLayers(title="x", thresholds_min=(10,), band_isochrones={"night": demand})


def test_band_selector_in_chromium(browser: Any, andorra_net: RoadNetwork, tmp_path: Path) -> None:
    """The selector swaps the speed model's isochrones for a band's, and back, with its legend."""
    from selenium.webdriver.common.by import By

    stations, demand = _example_layers(andorra_net.crs)
    index = index_network(andorra_net)
    prepared = BandNetwork.prepare(andorra_net, default_speed_profile(), index=index)
    base = run_coverage(andorra_net, stations, demand, index=index)
    bands = {
        band: run_coverage(andorra_net, stations, demand, index=prepared.index_for(band))
        for band in ("night", "morning_peak")
    }
    layers = MapLayers(
        title="Andorra",
        thresholds_min=(10, 20),
        isochrones=base.fleet_bands,
        band_isochrones={b: r.fleet_bands for b, r in bands.items() if r.fleet_bands is not None},
    )
    page = write_map(layers, tmp_path / "bands.html", language="en")
    browser.get(page.resolve().as_uri())
    labels = [
        e.text.strip() for e in browser.find_elements(By.CSS_SELECTOR, ".planner-bands label")
    ]
    assert labels == ["speed model", "night", "morning peak"]
    on_map = "return window.plannerMap.hasLayer(eval(arguments[0]));"
    main_layer, night = "window.plannerLayers['Isochrones']", "window.plannerBandLayers['night']"
    assert browser.execute_script(on_map, main_layer)
    assert not browser.execute_script(on_map, night)
    legends = (
        "return Array.from(document.querySelectorAll('.planner-legend'))"
        ".map(function (e) { return e.dataset.legend; });"
    )
    assert "isochrones_bands" not in browser.execute_script(legends)
    browser.find_element(By.CSS_SELECTOR, ".planner-bands input[value='night']").click()
    assert browser.execute_script("return window.plannerBand;") == "night"
    assert browser.execute_script(on_map, night)
    assert not browser.execute_script(on_map, main_layer)
    assert "isochrones_bands" in browser.execute_script(legends)
    browser.execute_script("window.plannerSetBand('');")
    assert browser.execute_script(on_map, main_layer)
    assert not browser.execute_script(on_map, night)


def test_optimise_command_per_band(
    tmp_path: Path, andorra_pbf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``planner optimise --band``: the built-in day band (all factors 1) equals the base run."""
    out = tmp_path / "opt"
    args = ["optimise", "--pbf", str(andorra_pbf), "--no-cache", "--no-progress",
            "--not-sweden", "--stations", str(EXAMPLE / "stations.csv"),
            "--demand", str(EXAMPLE / "demand.csv"), "--weight", "population",
            "--candidates", "grid", "--grid-spacing-m", "3000", "--add", "2",
            "--threshold-min", "10", "--no-gain-curve", "--out-dir", str(out),
            "--band", "day", "--band", "night"]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    base = read_csv_table(out / "sites.csv")
    day = read_csv_table(out / "bands" / "day" / "sites.csv")
    night = read_csv_table(out / "bands" / "night" / "sites.csv")
    pd.testing.assert_frame_equal(day, base, check_exact=True)
    # at night every drive takes 1/0.78 as long: each site saves more minutes than by day
    assert (
        night["person_minutes_saved"].to_numpy() > base["person_minutes_saved"].to_numpy()
    ).all()
    assert "time band night: mclp" in err


def test_plan_with_a_unit_profile_equals_the_plan_without(
    andorra_scenario_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[speeds] profile``: every band's coverage, optimisation and after equal the plan's own."""
    folder = tmp_path / "scenario"
    shutil.copytree(andorra_scenario_dir, folder)
    write_speed_profile(_unit_profile(), folder / "unit.csv")
    scenario = folder / "andorra.toml"
    text = scenario.read_text(encoding="utf-8")
    scenario.write_text(text + '\n[speeds]\nprofile = "unit.csv"\nbands = "all"\n', "utf-8")
    out, map_path = tmp_path / "out", tmp_path / "map.html"
    code = main(["plan", str(scenario), "--out-dir", str(out), "--map", str(map_path),
                 "--no-cache", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    same = [
        "coverage_total.csv",
        "coverage_municipality.csv",
        "after/coverage_total.csv",
        "optimise/sites.csv",
    ]
    for band in ("night", "rest"):
        for name in same:
            pd.testing.assert_frame_equal(
                read_csv_table(out / "bands" / band / name),
                read_csv_table(out / name),
                check_exact=True,
            )
    stacked = read_csv_table(out / "coverage_bands_total.csv")
    assert list(zip(stacked["band"], stacked["state"], strict=True)) == [
        ("night", "before"), ("night", "after"), ("rest", "before"), ("rest", "after")
    ]  # fmt: skip
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert any(p.endswith("unit.csv") for p in manifest["inputs"])
    assert manifest["settings"]["time_bands"] == ["night", "rest"]
    assert "plannerSetBand" in map_path.read_text(encoding="utf-8")


def test_isochrones_command_per_band(
    tmp_path: Path, andorra_pbf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``planner isochrones --band``: one layer per band; slower bands reach less area."""
    out = tmp_path / "iso.gpkg"
    args = ["isochrones", "--pbf", str(andorra_pbf), "--no-cache", "--no-progress",
            "--not-sweden", "--stations", str(EXAMPLE / "stations.csv"),
            "--thresholds", "10,20", "--out", str(out),
            "--band", "night", "--band", "day"]  # fmt: skip
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    base = gpd.read_file(out, layer="isochrones").sort_values("band_min")
    day = gpd.read_file(out, layer="isochrones_day").sort_values("band_min")
    night = gpd.read_file(out, layer="isochrones_night").sort_values("band_min")
    assert np.array_equal(day.geometry.area.to_numpy(), base.geometry.area.to_numpy())
    assert (night.geometry.area.to_numpy() < base.geometry.area.to_numpy()).all()


def test_speeds_command_prints_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["speeds", "--speed-profile", "default"]) == 0
    lines = capsys.readouterr().out.splitlines()
    night = next(line.split() for line in lines if line.strip().startswith("night"))
    assert night == ["night", "all", "22:00", "06:00", "0.78"]
    peak = next(line.split() for line in lines if line.strip().startswith("morning_peak"))
    assert peak[:5] == ["morning_peak", "weekday", "06:00", "09:00", "1.0"]
    assert peak[5:] == ["0.97"] * 5
