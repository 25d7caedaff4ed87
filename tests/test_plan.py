"""`planner plan` on a real Andorra scenario: every output, the manifest, the cache, compare.

The scenario reads ../shared/data/osm/andorra.osm.pbf in place; the stations,
the demand points (seeded positions of Andorra's own road nodes) and the
boundary are files the test writes.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import ANDORRA_EXAMPLE

from planner.errors import PlannerWarning
from planner.network.road_network import RoadNetwork
from planner.outputs.export import read_csv_table
from planner.run.cli import main


def test_example_scenario_reads_the_shared_extract(andorra_pbf: Path) -> None:
    """The committed example points at ../shared/data from the repository's own place."""
    from planner.run.scenario import load_scenario

    scenario = load_scenario(ANDORRA_EXAMPLE / "andorra.toml")
    assert scenario.roads.path == andorra_pbf.resolve()
    assert scenario.region.level == "custom" and scenario.region.name == "Andorra"
    assert scenario.outputs.map == Path("maps") / "andorra.html"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err


@pytest.fixture(scope="module")
def two_runs(andorra_scenario_dir: Path) -> dict[str, object]:
    """Run the scenario twice through the CLI (the second with --overwrite)."""
    cache = andorra_scenario_dir / "cache"
    args = [
        "plan",
        str(andorra_scenario_dir / "andorra.toml"),
        "--cache-dir",
        str(cache),
        "--no-progress",
    ]
    out = andorra_scenario_dir / "out" / "andorra"
    import contextlib

    err1, err2 = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err1):
        code1 = main(args)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.csv")}
    manifest1 = json.loads((out / "manifest.json").read_text())
    with contextlib.redirect_stderr(err2):
        code2 = main([*args, "--overwrite"])
    return {
        "codes": (code1, code2),
        "errs": (err1.getvalue(), err2.getvalue()),
        "first_csv": first,
        "manifest1": manifest1,
        "out": out,
    }


def test_plan_writes_every_output(two_runs: dict, andorra_scenario_dir: Path) -> None:
    assert two_runs["codes"] == (0, 0), two_runs["errs"]
    out: Path = two_runs["out"]
    expected = [
        "manifest.json",
        "report.html",
        "coverage_total.csv",
        "coverage_municipality.csv",
        "coverage.xlsx",
        "coverage.gpkg",
        "demand.parquet",
        "isochrones.geojson",
        "after/coverage_total.csv",
        "after/coverage.gpkg",
        "optimise/sites.gpkg",
        "optimise/sites.csv",
        "optimise/gain_curve.csv",
        "optimise/optimise.xlsx",
        "simulate/calls.parquet",
        "simulate/kpi_summary.csv",
        "simulate/simulation.xlsx",
        "simulate/simulation.gpkg",
    ]
    for name in expected:
        assert (out / name).is_file(), name
    map_html = (andorra_scenario_dir / "maps" / "andorra.html").read_text(encoding="utf-8")
    assert "OpenStreetMap" in map_html
    sites = pd.read_csv(out / "optimise" / "sites.csv")
    assert len(sites) == 2
    for site in sites["site"]:
        assert site in map_html  # the proposed sites are on the map
    layers = dict(pyogrio.list_layers(out / "coverage.gpkg"))
    assert {"stations", "demand", "road_nodes", "isochrones", "boundaries"} <= set(layers)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "andorra" in report and "OpenStreetMap" in report
    assert "solver status: optimal" in report  # what the proposed sites claim


#: The no-break space of Swedish numbers and of the space before "%" (CLDR).
NB = "\u00a0"


def _coverage_line(total: pd.Series, state: str, language: str) -> str:
    """The console's coverage line of a ``total`` row, formatted here by hand."""
    if language == "en":
        number, pct, mins = (lambda x: f"{x:,.0f}"), (lambda x: f"{100 * x:.1f}%"), "{:.1f} min"
        words = (
            "coverage {s}: demand {d} people: {a} within 10 min, {b} within 20 min; median "
            "response time {m}, 90th percentile {p}; unreachable {u} ({n} people)"
        )
    else:
        number = lambda x: f"{x:,.0f}".replace(",", NB)  # noqa: E731
        pct = lambda x: f"{100 * x:.1f}".replace(".", ",") + NB + "%"  # noqa: E731
        mins = "{:.1f} min"
        words = (
            "täckning {s}: efterfrågan {d} personer: {a} inom 10 min, {b} inom 20 min; "
            "medianresponstid {m}, 90:e percentilen {p}; ej nåbar {u} ({n} personer)"
        )
    minutes = (lambda x: mins.format(x).replace(".", ",")) if language == "sv" else mins.format
    states = {
        "en": {"before": "before", "after": "after"},
        "sv": {"before": "före", "after": "efter"},
    }
    return words.format(
        s=states[language][state], d=number(total["demand"]), a=pct(total["share_within_10_min"]),
        b=pct(total["share_within_20_min"]), m=minutes(total["median_min"]),
        p=minutes(total["p90_min"]), u=pct(total["share_unreachable"]),
        n=number(total["demand_unreachable"]),
    )  # fmt: skip


def test_english_scenario_console(two_runs: dict) -> None:
    """Andorra is outside Sweden: the plan's console is English, its figures from the tables."""
    out: Path = two_runs["out"]
    lines = two_runs["errs"][0].splitlines()
    for state, folder in (("before", out), ("after", out / "after")):
        total = pd.read_csv(folder / "coverage_total.csv").iloc[0]
        assert _coverage_line(total, state, "en") in lines
    assert "stations: 2 stations with 2 units" in lines


def test_lang_and_csv_options_of_plan(
    two_runs: dict, andorra_scenario_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--lang sv`` writes the English scenario in Swedish: console, map, report, XLSX, CSV.

    The Swedish CSV (``;``, decimal comma, BOM) holds the same numbers as the
    English run's; ``--csv standard`` keeps ``,`` with Swedish words; ``--cdn``
    links Leaflet instead of writing it into the map.
    """
    import openpyxl

    english: Path = two_runs["out"]
    base = ["plan", str(andorra_scenario_dir / "andorra.toml"), "--no-progress",
            "--cache-dir", str(andorra_scenario_dir / "cache")]  # fmt: skip
    sv_out, sv_map = andorra_scenario_dir / "out" / "sv", andorra_scenario_dir / "sv.html"
    code, err = _run(capsys, *base, "--lang", "sv", "--out-dir", str(sv_out), "--map", str(sv_map))
    assert code == 0, err
    lines = err.splitlines()
    for state, folder in (("before", english), ("after", english / "after")):
        total = pd.read_csv(folder / "coverage_total.csv").iloc[0]
        assert _coverage_line(total, state, "sv") in lines
    assert "stationer: 2 stationer med 2 enheter" in lines
    assert lines[-3].startswith("Läge: med de 2 befintliga stationerna nås ")
    assert lines[-2].startswith("Förändring: 2 föreslagna enheter (")
    raw = (sv_out / "coverage_municipality.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.splitlines()[0]
    swedish = pd.read_csv(
        sv_out / "coverage_municipality.csv", sep=";", decimal=",", encoding="utf-8-sig"
    )
    pd.testing.assert_frame_equal(swedish, pd.read_csv(english / "coverage_municipality.csv"))
    html = sv_map.read_text(encoding="utf-8")
    assert '<html lang="sv">' in html and '<script src="http' not in html  # Leaflet inlined
    assert '<html lang="sv">' in (sv_out / "report.html").read_text(encoding="utf-8")
    book = openpyxl.load_workbook(sv_out / "coverage.xlsx")
    assert book.sheetnames[:3] == ["Totalt", "Län", "Kommuner"]
    assert "Andel inom 10 min" in {c.value for c in book["Kommuner"][1]}
    assert json.loads((sv_out / "manifest.json").read_text())["language"] == "sv"
    # --csv standard with Swedish words; --cdn: a linked, smaller map
    std_out, std_map = andorra_scenario_dir / "out" / "std", andorra_scenario_dir / "std.html"
    code, err = _run(capsys, *base, "--lang", "sv", "--csv", "standard", "--cdn",
                     "--out-dir", str(std_out), "--map", str(std_map))  # fmt: skip
    assert code == 0, err
    assert "stationer: 2 stationer med 2 enheter" in err.splitlines()
    assert (std_out / "coverage_total.csv").read_bytes().startswith(b"demand,")
    pd.testing.assert_frame_equal(pd.read_csv(std_out / "coverage_municipality.csv"), swedish)
    cdn_html = std_map.read_text(encoding="utf-8")
    assert '<html lang="sv">' in cdn_html and '<script src="https://' in cdn_html
    assert len(html) - len(cdn_html) > 100_000  # Leaflet and its plugins are linked
    assert openpyxl.load_workbook(std_out / "coverage.xlsx").sheetnames[0] == "Totalt"


def test_after_state_adds_the_proposed_units(two_runs: dict) -> None:
    """The "after" coverage equals a recomputation: min of before and the new sites' times."""
    out: Path = two_runs["out"]
    before = gpd.read_file(out / "coverage.gpkg", layer="demand")
    after = gpd.read_file(out / "after" / "coverage.gpkg", layer="demand")
    assert before["demand_id"].tolist() == after["demand_id"].tolist()
    b = before["response_s"].to_numpy(float)
    a = after["response_s"].to_numpy(float)
    assert np.all((a <= b + 1e-6) | ~np.isfinite(b))  # never worse
    sites = pd.read_csv(out / "optimise" / "sites.csv")
    new = after["nearest_station"].isin(sites["site"])
    assert new.any()  # some demand is now served by a new site
    assert np.all(a[new.to_numpy()] < b[new.to_numpy()] + 1e-6)
    # the share within 10 min after, recomputed from the demand layer
    total = pd.read_csv(out / "after" / "coverage_total.csv")
    w = after["weight"].to_numpy(float)
    share = w[a <= 600.0].sum() / w.sum()
    assert total["share_within_10_min"].iloc[0] == pytest.approx(share, rel=1e-12)


def test_people_within_agree_in_map_report_and_tables(
    two_runs: dict, andorra_scenario_dir: Path
) -> None:
    """One number for "people within T": the isochrone layers, the map, the report and the tables.

    Recomputed from the demand's own response times (the demand layer):
    the weight with a response time of at most T. The fleet bands and the
    map's band popups carry it, the total table's share is it over all
    demand, the report prints that share, and the catchments split it by
    nearest station as the station table does. (The old polygon count, now
    ``demand_in_polygon``, was 6.2 % above it for 10 min before.)
    """
    from planner.outputs.report import format_share

    out: Path = two_runs["out"]
    html = (andorra_scenario_dir / "maps" / "andorra.html").read_text(encoding="utf-8")
    popups = [
        json.loads(p) for p in re.findall(r'"properties": (\{[^{}]*"demand_within"[^{}]*\})', html)
    ]
    report = (out / "report.html").read_text(encoding="utf-8")
    in_map = []
    for folder in (out, out / "after"):
        demand = gpd.read_file(folder / "coverage.gpkg", layer="demand")
        w = demand["weight"].to_numpy(float)
        t = demand["response_s"].to_numpy(float)
        fleet = gpd.read_file(folder / "coverage.gpkg", layer="isochrones")
        total = pd.read_csv(folder / "coverage_total.csv").iloc[0]
        catchments = gpd.read_file(folder / "coverage.gpkg", layer="catchments")
        by_station = pd.read_csv(folder / "coverage_station.csv").set_index("station")
        for band in fleet.itertuples():
            within = w[t <= band.band_min * 60].sum()
            assert band.demand_within == within
            share = total[f"share_within_{band.band_min:g}_min"]
            assert share * total["demand"] == pytest.approx(within, rel=1e-12)
            assert f"<td>{format_share(within / w.sum())}</td>" in report
            in_map.append((band.band_min, within))
            mine = catchments[catchments["band_min"] == band.band_min].set_index("station")
            for station, row in mine.iterrows():
                own = (demand["nearest_station"] == station).to_numpy()
                assert row["demand_within"] == w[own & (t <= band.band_min * 60)].sum()
                table = by_station.loc[station]
                column = f"share_within_{band.band_min:g}_min"
                assert table[column] * table["demand"] == pytest.approx(
                    row["demand_within"], rel=1e-12
                )
        assert (fleet["demand_in_polygon"] != fleet["demand_within"]).any()
    assert sorted((p["band_min"], p["demand_within"]) for p in popups) == sorted(in_map)
    # the popups show that property as "Demand within"
    assert html.count('["demand", "Demand within"]]') == 2  # as formatted text (issue 14)


def test_rerun_uses_the_cache_and_gives_identical_tables(two_runs: dict) -> None:
    out: Path = two_runs["out"]
    first, second = two_runs["manifest1"], json.loads((out / "manifest.json").read_text())
    assert first["network"]["from_cache"] is False
    assert second["network"]["from_cache"] is True
    assert "(from cache)" in two_runs["errs"][1]
    assert first["network"]["cache_key"] == second["network"]["cache_key"]
    now = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.csv")}
    assert now.keys() == two_runs["first_csv"].keys()
    assert len(now) > 20
    for name, data in now.items():
        if name.name == "gain_curve.csv":  # its solve_time_s column is a timing
            a = pd.read_csv(out / name).drop(columns="solve_time_s")
            b = pd.read_csv(io.BytesIO(two_runs["first_csv"][name])).drop(columns="solve_time_s")
            pd.testing.assert_frame_equal(a, b, check_exact=True)
            continue
        assert data == two_runs["first_csv"][name], name
    for key, entry in second["outputs"].items():
        if entry["reproducible"] == "true":
            assert first["outputs"][key]["sha256"] == entry["sha256"], key


def test_manifest_records_inputs_versions_solver(
    two_runs: dict, andorra_scenario_dir: Path
) -> None:
    import hashlib

    manifest = json.loads((two_runs["out"] / "manifest.json").read_text())
    stations = andorra_scenario_dir / "stations.csv"
    digest = hashlib.sha256(stations.read_bytes()).hexdigest()
    assert manifest["inputs"][str(stations)]["sha256"] == digest
    assert str(andorra_scenario_dir / "andorra.toml") in manifest["inputs"]
    assert manifest["versions"]["planner"] == manifest["planner_version"]
    assert {"numpy", "scipy", "networkx", "folium"} <= set(manifest["versions"])
    solver = manifest["solver"]
    assert solver["objective"] == "mclp"
    assert solver["gap"] == 0.0 and solver["status"] == "optimal" and solver["optimal"] is True
    assert manifest["seed"] == 0
    assert len(solver["chosen"]) == 2
    assert manifest["settings"]["optimise"]["add"] == 2
    assert solver["objective_after"] >= solver["objective_before"]
    # the metric CRS of the run: Andorra lies outside Sweden, so its UTM zone (31N)
    assert manifest["network"]["crs"] == "EPSG:32631"
    meta = json.loads((two_runs["out"] / "coverage_total.csv.meta.json").read_text())
    assert meta["crs"] == "EPSG:32631"
    assert gpd.read_file(two_runs["out"] / "coverage.gpkg", layer="demand").crs == "EPSG:32631"


def test_plan_refuses_to_overwrite(
    two_runs: dict, andorra_scenario_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(
        capsys, "plan", str(andorra_scenario_dir / "andorra.toml"), "--no-cache", "--no-progress"
    )
    assert code == 2
    assert "manifest.json exists" in err and "--overwrite" in err


def test_compare_a_run_with_its_after_state(
    two_runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out: Path = two_runs["out"]
    code, err = _run(
        capsys, "compare", str(out), str(out), "--state-b", "after", "--out-dir", str(tmp_path)
    )
    assert code == 0, err
    table = pd.read_csv(tmp_path / "comparison.csv")
    before = pd.read_csv(out / "coverage_municipality.csv")
    after = pd.read_csv(out / "optimise" / "coverage_after_municipality.csv")
    assert table["share_within_10_min_change"].iloc[0] == pytest.approx(
        after["share_within_10_min"].iloc[0] - before["share_within_10_min"].iloc[0]
    )


def test_bad_scenario_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[regon]\ncode = "09"\n', encoding="utf-8")
    code, err = _run(capsys, "plan", str(path), "--no-progress")
    assert code == 2
    assert "line 2" in err and "did you mean" in err.lower()


TWO_REGIONS = """
name = "norrland"

[region]
codes = ["24", "22"]
buffer_km = 0

[roads]
source = "osm"
path = "{roads}"

[stations]
path = "stations.csv"

[[demand]]
path = "{taetorter}"
type = "osm-population"

[coverage]
thresholds_min = [10, 20]

[isochrones]
draw = false
"""


def test_plan_two_swedish_regions_with_mutual_aid(
    umea_osm: Path, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Västerbotten + Västernorrland on the Umeå extract: boundaries, demand, station regions."""
    taetorter = shared_data / "population" / "taetorter.osm.xml"
    pd.DataFrame(
        {
            "name": ["Umeå NUS", "Örnsköldsvik"],
            "lon": [20.2905, 18.7160],
            "lat": [63.8120, 63.2900],
        }
    ).to_csv(tmp_path / "stations.csv", index=False)
    scenario = tmp_path / "norrland.toml"
    scenario.write_text(
        TWO_REGIONS.format(roads=umea_osm.as_posix(), taetorter=taetorter.as_posix()),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, err = _run(
        capsys, "plan", str(scenario), "--no-cache", "--no-progress",
        "--out-dir", str(out), "--map", str(tmp_path / "map.html"),
    )  # fmt: skip
    assert code == 0, err
    # a Swedish region writes Swedish Excel's CSV dialect by default (issue 14)
    aid = read_csv_table(out / "coverage_mutual_aid.csv", dtype={"region_code": str})
    assert aid["region_code"].tolist() == ["22", "24"]
    demand = gpd.read_file(out / "coverage.gpkg", layer="demand")
    assert set(demand["region_code"]) == {"22", "24"}
    for code_, row in aid.set_index("region_code").iterrows():
        assert row["demand"] == pytest.approx(
            demand.loc[demand["region_code"] == code_, "weight"].sum()
        )
    stations = gpd.read_file(out / "coverage.gpkg", layer="stations")
    assert dict(zip(stations["name"], stations["region_code"], strict=True)) == {
        "Umeå NUS": "24",
        "Örnsköldsvik": "22",
    }
    bounds = gpd.read_file(out / "coverage.gpkg", layer="boundaries")
    assert sorted(bounds.loc[bounds["level"] == "region", "code"]) == ["22", "24"]
    assert (bounds["level"] == "municipality").sum() == 15 + 7  # Västerbotten + Västernorrland
    # the shares agree with the demand layer (the small extract reaches no tätort point:
    # every one lies over 500 m from its roads, so both shares are 0 here)
    for code_, row in aid.set_index("region_code").iterrows():
        sel = demand["region_code"] == code_
        w, t = demand.loc[sel, "weight"], demand.loc[sel, "response_s"]
        assert row["share_within_10_min_all"] == pytest.approx(w[t <= 600].sum() / w.sum())
    assert (aid["share_within_10_min_change"] >= 0).all()


def test_matrix_command_in_process_cluster_and_resume(
    andorra_scenario_dir: Path,
    andorra_net: RoadNetwork,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`planner matrix`: pairs equal point_times; a local cluster and a resumed run agree."""
    from planner.inputs.sites import read_stations
    from planner.network.snapping import snap_points
    from planner.network.travel_times import build_travel_time_graph, point_times

    toml = str(andorra_scenario_dir / "andorra.toml")
    # the exact engine, to compare with point_times bit for bit (the CCH: test_engine_pipeline)
    base = ["matrix", toml, "--cutoff-min", "15", "--no-progress", "--no-cache"]
    base += ["--engine", "dijkstra"]
    code, err = _run(
        capsys, *base, "--out", str(tmp_path / "a.parquet"), "--store", str(tmp_path / "st")
    )
    assert code == 0, err
    assert "blocks computed 2, loaded from the store 0" in err
    code, err = _run(
        capsys, *base, "--out", str(tmp_path / "b.parquet"), "--store", str(tmp_path / "st"),
        "--workers", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "blocks computed 0, loaded from the store 2" in err  # resumed: nothing recomputed
    code, err = _run(capsys, *base, "--out", str(tmp_path / "c.parquet"), "--workers", "2")
    assert code == 0, err
    a = pd.read_parquet(tmp_path / "a.parquet")
    for other in ("b", "c"):
        pd.testing.assert_frame_equal(a, pd.read_parquet(tmp_path / f"{other}.parquet"))
    # against the dense engine, independently
    stations = read_stations(andorra_scenario_dir / "stations.csv", check_sweden=False)
    demand = pd.read_csv(andorra_scenario_dir / "demand.csv")
    points = gpd.GeoDataFrame(
        demand, geometry=gpd.points_from_xy(demand["lon"], demand["lat"]), crs="EPSG:4326"
    ).to_crs(andorra_net.crs)
    ttg = build_travel_time_graph(andorra_net.graph)
    dense = point_times(
        ttg,
        snap_points(andorra_net.graph, stations),
        destinations=snap_points(andorra_net.graph, points),
    )
    rows, cols = np.nonzero(dense <= 15 * 60.0)
    expected = pd.DataFrame(
        {
            "station": stations["name"].to_numpy()[rows],
            "demand_id": demand["demand_id"].to_numpy()[cols],
            "drive_s": dense[rows, cols],
        }
    ).sort_values(["demand_id", "drive_s", "station"], kind="stable")
    assert len(a) == len(expected) > 0
    assert a["station"].tolist() == expected["station"].tolist()
    assert a["demand_id"].tolist() == expected["demand_id"].tolist()
    assert np.array_equal(a["drive_s"].to_numpy(), expected["drive_s"].to_numpy())
    code, err = _run(capsys, *base, "--out", str(tmp_path / "a.parquet"))
    assert code == 2 and "a.parquet exists" in err


def test_coverage_on_an_executor_equals_in_process(andorra_net: RoadNetwork) -> None:
    """run_coverage on an executor (as plan --workers/--scheduler runs it) is identical."""
    from planner.analysis.coverage import CoverageSettings
    from planner.distributed import make_executor
    from planner.run.pipeline import run_coverage

    xy = np.array([(d["x"], d["y"]) for _, d in andorra_net.graph.nodes(data=True)])
    rng = np.random.default_rng(5)
    pick = rng.choice(len(xy), size=80, replace=False)
    crs = andorra_net.graph.graph["crs"]
    stations = gpd.GeoDataFrame(
        {"name": [f"S{k}" for k in range(5)], "fleet": "ambulance", "units": 1},
        geometry=gpd.points_from_xy(xy[pick[:5], 0], xy[pick[:5], 1]),
        crs=crs,
    )
    demand = gpd.GeoDataFrame(
        {
            "demand_id": [f"d{k}" for k in range(75)],
            "weight": rng.integers(1, 9, 75).astype(float),
            "municipality_code": "x",
            "municipality": "x",
            "region_code": "x",
            "region": "x",
        },
        geometry=gpd.points_from_xy(xy[pick[5:], 0], xy[pick[5:], 1]),
        crs=crs,
    )
    kw = {"coverage": CoverageSettings(thresholds_min=(5.0, 10.0))}
    plain = run_coverage(andorra_net, stations, demand, **kw)
    with make_executor() as executor:
        blocked = run_coverage(andorra_net, stations, demand, executor=executor, **kw)
    pd.testing.assert_frame_equal(
        plain.demand.drop(columns="geometry"), blocked.demand.drop(columns="geometry")
    )
    pd.testing.assert_frame_equal(
        plain.road_nodes.drop(columns="geometry"), blocked.road_nodes.drop(columns="geometry")
    )
    assert plain.fleet_bands is not None and blocked.fleet_bands is not None
    assert plain.fleet_bands.geometry.equals(blocked.fleet_bands.geometry)


def test_national_style_plan_on_a_cluster_equals_in_process(
    andorra_scenario_dir: Path, tmp_path: Path, cluster: object
) -> None:
    """A plan with the sparse heuristic, no mutual aid, isochrones: cluster == in process.

    Coverage and isochrones run in blocks of stations, the optimiser's times
    and heuristic rounds in blocks of sites and candidates; every table,
    layer and proposed site must be identical.
    """
    import shapely

    from planner.run.plan import plan_scenario
    from planner.run.scenario import load_scenario

    for name in ("andorra.geojson", "demand.csv", "stations.csv"):
        (tmp_path / name).write_bytes((andorra_scenario_dir / name).read_bytes())
    text = (andorra_scenario_dir / "andorra.toml").read_text(encoding="utf-8")
    text = text.replace('objective = "mclp"', 'objective = "pmedian"\nsolver = "heuristic"')
    text = text.replace("grid_spacing_m = 3000", "grid_spacing_m = 3000\ncutoff_min = 15")
    (tmp_path / "andorra.toml").write_text(text, encoding="utf-8")
    scenario = load_scenario(tmp_path / "andorra.toml")
    assert scenario.optimise is not None and scenario.optimise.cutoff_min == 15
    quiet = {"cache_dir": tmp_path / "cache", "echo": lambda _: None}
    # [simulate] warns about Andorra's points cut off from every hospital or station
    with pytest.warns(PlannerWarning) as caught:
        here = plan_scenario(scenario, **quiet)
        there = plan_scenario(scenario, executor=cluster, **quiet)  # type: ignore[arg-type]
    assert {str(w.message).split(":")[0] for w in caught} == {"simulation (before)"}
    # the simulation's replications on the cluster: the same figures, before and after
    assert here.simulation is not None and there.simulation is not None
    pd.testing.assert_frame_equal(there.simulation.comparison, here.simulation.comparison)
    assert here.optimise is not None and there.optimise is not None
    assert there.optimise.solution.chosen == here.optimise.solution.chosen
    assert there.optimise.solution.objective_after == here.optimise.solution.objective_after
    assert here.optimise.metadata["cutoff_min"] == 15
    for state in ("before", "after"):
        a, b = getattr(here, state), getattr(there, state)
        for name, table in a.tables.items():
            pd.testing.assert_frame_equal(b.tables[name], table, check_exact=True)
        pd.testing.assert_frame_equal(
            b.demand.drop(columns="geometry"), a.demand.drop(columns="geometry")
        )
        for layer in ("fleet_bands", "station_bands", "catchments"):
            x, y = getattr(a, layer), getattr(b, layer)
            assert len(x) == len(y) > 0
            assert shapely.equals_exact(x.geometry.values, y.geometry.values, tolerance=0).all()
