"""The one-page HTML report, built from a real coverage and optimisation run (Andorra)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import ANDORRA_AMENITIES, amenity_demand
from pyproj import Transformer

from planner import constants
from planner.analysis.coverage import CoverageSettings
from planner.errors import DataError, OutputExistsError, ParameterError
from planner.i18n import translator
from planner.inputs.candidates import candidates_on_grid
from planner.inputs.sites import read_osm_pois, validate_stations
from planner.network.road_network import RoadNetwork
from planner.outputs.export import OSM_ATTRIBUTION
from planner.outputs.report import ReportInputs, render_report, weighted_cdf, write_report
from planner.run.pipeline import OptimiseSettings, run_coverage, run_optimise

THRESHOLDS = (5.0, 10.0, 20.0)
LABEL = "SAMPLE: Andorra OSM extract (not a Swedish region)"


def share_within(t_s: np.ndarray, w: np.ndarray, limit_min: float) -> float:
    return float(w[t_s <= limit_min * 60].sum() / w.sum())


def median_by_hand(t_s: np.ndarray, w: np.ndarray) -> float:
    """Weighted median (inverted CDF) of the reached demand, minutes."""
    reached = np.isfinite(t_s) & (w > 0)
    order = np.argsort(t_s[reached])
    cumulative = np.cumsum(w[reached][order])
    return float(t_s[reached][order][np.searchsorted(cumulative, 0.5 * cumulative[-1])] / 60)


@pytest.fixture(scope="module")
def andorra_run(andorra_net: RoadNetwork, andorra_pbf: Path) -> dict[str, object]:
    """Two hospitals as stations, OSM amenities as demand in two stand-in municipalities,
    MCLP adding two units; "after" per point from a coverage run with the sites added."""
    hospitals = read_osm_pois(andorra_pbf, tags={"amenity": ["hospital"]})
    near = hospitals[hospitals["osm_id"].isin([2050364490, 194554955])]
    stations = validate_stations(
        near.assign(name=[f"H{i}" for i in near["osm_id"]], fleet="ambulance"),
        check_sweden=False,
    )
    pois = read_osm_pois(andorra_pbf, tags={"amenity": list(ANDORRA_AMENITIES)}).to_crs("EPSG:3006")
    x = pois.geometry.x.to_numpy()
    west = x < np.median(x)
    demand = amenity_demand(
        pois,
        municipality_code=np.where(west, "AD-W", "AD-E"),
        municipality=np.where(west, "Westvalley", "Eastvalley"),
    )
    coverage = CoverageSettings(thresholds_min=THRESHOLDS)
    before = run_coverage(andorra_net, stations, demand, coverage=coverage, draw_isochrones=False)
    optimised = run_optimise(
        andorra_net, stations, demand, candidates_on_grid(andorra_net, spacing_m=2000),
        settings=OptimiseSettings(objective="mclp", add=2, threshold_min=8), coverage=coverage,
    )  # fmt: skip
    sites = optimised.sites
    with_sites = validate_stations(
        gpd.GeoDataFrame(
            {"name": [*stations["name"], *sites["site"]], "fleet": "ambulance"},
            geometry=[*stations.to_crs(sites.crs).geometry, *sites.geometry],
            crs=sites.crs,
        ),
        check_sweden=False,
    )
    after = run_coverage(andorra_net, with_sites, demand, coverage=coverage, draw_isochrones=False)
    # the optimiser's "after" tables are those of the stations with the sites added
    assert after.tables["total"].iloc[0]["share_within_10_min"] == pytest.approx(
        optimised.tables_after["total"].iloc[0]["share_within_10_min"]
    )
    inputs = ReportInputs(
        title="Ambulance coverage, Andorra test",
        label=LABEL,
        thresholds_min=THRESHOLDS,
        response_before_s=before.demand["response_s"].to_numpy(),
        weight=before.demand["weight"].to_numpy(),
        response_after_s=after.demand["response_s"].to_numpy(),
        municipality_before=optimised.tables_before["municipality"],
        municipality_after=optimised.tables_after["municipality"],
        total_before=optimised.tables_before["total"],
        total_after=optimised.tables_after["total"],
        gain_curve=optimised.gain_curve,
        objective="mclp",
        sites=sites,
        metadata={**optimised.metadata, "scenario": "two more units", "date": "2024-05-01"},
    )
    return {"inputs": inputs, "before": before, "after": after, "optimised": optimised}


def test_weighted_cdf_against_brute_force() -> None:
    t = np.array([300.0, np.inf, 120.0, 300.0, 600.0, 60.0, np.inf])
    w = np.array([2.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0])
    minutes, share = weighted_cdf(t, w)
    # 600 s has no weight, ties at 300 s merge, unreachable points are left out
    np.testing.assert_array_equal(minutes, [1.0, 2.0, 5.0])
    np.testing.assert_allclose(share, [1 / 10, 4 / 10, 7 / 10])
    assert weighted_cdf(np.array([np.inf]), np.array([1.0]))[0].size == 0


def test_weighted_cdf_on_the_run(andorra_run: dict) -> None:
    inputs = andorra_run["inputs"]
    t, w = inputs.response_after_s, inputs.weight
    minutes, share = weighted_cdf(t, w)
    assert (np.diff(minutes) > 0).all()
    for x, s in zip(minutes, share, strict=True):
        assert s == pytest.approx(w[t / 60 <= x].sum() / w.sum())
    unreachable = andorra_run["after"].tables["total"].iloc[0]["share_unreachable"]
    assert share[-1] == pytest.approx(1 - unreachable)


def test_report_holds_the_figures(andorra_run: dict) -> None:
    inputs = andorra_run["inputs"]
    page = render_report(inputs)
    w = inputs.weight
    for t in (inputs.response_before_s, inputs.response_after_s):
        for limit in THRESHOLDS:
            assert f"<td>{100 * share_within(t, w, limit):.1f}%</td>" in page
        assert f"<td>{median_by_hand(t, w):.1f} min</td>" in page
    change = share_within(inputs.response_after_s, w, 10) - share_within(
        inputs.response_before_s, w, 10
    )
    assert change > 0
    assert f"{100 * change:+.1f} pp" in page
    # header: title, label, scenario, date, version, OSM date, attribution
    assert "<title>Ambulance coverage, Andorra test</title>" in page
    assert f'<p class="sample">{LABEL}</p>' in page
    assert "two more units" in page
    assert "1 May 2024" in page  # the date in words (issue 14: Babel, British English)
    assert "28 May 2013" in page and inputs.metadata["osm_data_date"].startswith("2013-05-28")
    assert "planner:</b> " + inputs.metadata["planner_version"] in page
    assert OSM_ATTRIBUTION in page
    assert "© OpenStreetMap contributors" in page
    assert "@page" in page
    unreached = w[~np.isfinite(inputs.response_before_s)].sum() / w.sum()
    assert f"Unreachable demand (no road, or no station reaches it): {100 * unreached:.1f}%" in (
        page
    )


def test_report_municipality_rows(andorra_run: dict) -> None:
    inputs = andorra_run["inputs"]
    page = render_report(inputs)
    demand = andorra_run["before"].demand
    for code, name in (("AD-W", "Westvalley"), ("AD-E", "Eastvalley")):
        # the metrics are split over tables that fit the printed page: join the rows
        rows = re.findall(rf'<tr data-code="{code}">(.*?)</tr>', page)
        assert len(rows) >= 2, code
        cells = [c for r in rows for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
        assert cells[0] == f"{name} ({code})"
        members = (demand["municipality_code"] == code).to_numpy()
        w = inputs.weight[members]
        assert cells[1] == f"{w.sum():,.0f}"
        before = inputs.response_before_s[members]
        after = inputs.response_after_s[members]
        for limit in THRESHOLDS:
            b, a = share_within(before, w, limit), share_within(after, w, limit)
            expected = [f"{100 * b:.1f}%", f"{100 * a:.1f}%", f"{100 * (a - b):+.1f} pp"]
            assert any(cells[i : i + 3] == expected for i in range(len(cells))), (code, limit)
        mb, ma = median_by_hand(before, w), median_by_hand(after, w)
        expected = [f"{mb:.1f}", f"{ma:.1f}", f"{ma - mb:+.1f}".replace("-0.0", "+0.0")]
        assert any(cells[i : i + 3] == expected for i in range(len(cells))), code


def test_report_sites(andorra_run: dict) -> None:
    inputs = andorra_run["inputs"]
    page = render_report(inputs)
    section = page[page.index('<section id="sites">') :]
    sites = andorra_run["optimised"].sites
    to_wgs84 = Transformer.from_crs(sites.crs, "EPSG:4326", always_xy=True)
    assert len(sites) == 2
    for order, (_, site) in enumerate(sites.iterrows(), start=1):
        lon, lat = to_wgs84.transform(site.geometry.x, site.geometry.y)
        newly = site["demand_newly_within_8_min"]
        row = (
            f'<tr><td>{order}</td><td class="name">{site["site"]}</td>'
            f"<td>{lon:.6f}</td><td>{lat:.6f}</td><td>{newly:,.0f}</td>"
        )
        assert row in section
    assert "Newly within 8 min" in section
    # a table with lon/lat columns (as sites.csv) gives the same coordinates
    lonlat = sites.to_crs("EPSG:4326")
    table = pd.DataFrame(sites.drop(columns="geometry")).assign(
        lon=lonlat.geometry.x, lat=lonlat.geometry.y
    )
    assert render_report(replace(inputs, sites=table)) == page


def test_report_is_self_contained(andorra_run: dict) -> None:
    page = render_report(andorra_run["inputs"])
    assert page.count("<svg") == 2  # distribution and gain curve
    assert "marginal gain" in page.lower()
    assert "demand newly within 8 min" in page  # the gain's unit is the objective's
    for pattern in (r"https?:", r"\bsrc\s*=", r"<script", r"<link", r"@import", r"url\((?!#)"):
        assert re.search(pattern, page, flags=re.IGNORECASE) is None, pattern
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # two inline SVGs share no id
    for ref in re.findall(r'href="#([^"]+)"', page) + re.findall(r"url\(#([^)]+)\)", page):
        assert ref in ids
    assert "<?xml" not in page
    assert "<!DOCTYPE svg" not in page
    assert render_report(andorra_run["inputs"]) == page  # deterministic


def test_write_report_refuses_to_overwrite(andorra_run: dict, tmp_path: Path) -> None:
    inputs = andorra_run["inputs"]
    path = write_report(inputs, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text == render_report(inputs)
    assert (tmp_path / "report.html.meta.json").exists()
    with pytest.raises(OutputExistsError, match=r"report\.html exists"):
        write_report(inputs, path)
    assert path.read_text(encoding="utf-8") == text
    write_report(inputs, path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.html.meta.json"]
    with pytest.raises(ParameterError, match=r"report\.txt: the report is written as \.html"):
        write_report(inputs, tmp_path / "report.txt")


def test_coverage_only_report(andorra_run: dict) -> None:
    before = andorra_run["before"]
    inputs = ReportInputs(
        title="Coverage today",
        label=None,
        thresholds_min=THRESHOLDS,
        response_before_s=before.demand["response_s"].to_numpy(),
        weight=before.demand["weight"].to_numpy(),
        response_after_s=None,
        municipality_before=before.tables["municipality"],
        municipality_after=None,
        total_before=before.tables["total"],
        total_after=None,
        gain_curve=None,
        objective=None,
        sites=None,
        metadata=before.metadata,
    )
    page = render_report(inputs)
    assert page.count("<svg") == 1
    assert 'class="sample"' not in page
    assert "Proposed sites" not in page
    assert "marginal gain" not in page.lower()
    assert "<th>After</th>" not in page
    t, w = inputs.response_before_s, inputs.weight
    for limit in THRESHOLDS:
        assert f"<td>{100 * share_within(t, w, limit):.1f}%</td>" in page
    assert '<tr data-code="AD-W">' in page
    assert OSM_ATTRIBUTION in page


def test_inputs_are_checked(andorra_run: dict) -> None:
    inputs = andorra_run["inputs"]
    with pytest.raises(ParameterError, match="weight: 3 weights for"):
        replace(inputs, weight=np.ones(3))
    with pytest.raises(ParameterError, match="response_after_s: NaN"):
        replace(inputs, response_after_s=np.full(len(inputs.weight), np.nan))
    with pytest.raises(ParameterError, match="share_within_15_min"):
        replace(inputs, thresholds_min=(15.0,))
    with pytest.raises(ParameterError, match="add up to"):
        render_report(replace(inputs, weight=inputs.weight * 2))
    assert not inputs.weight.flags.writeable


def _table_overflow(page: str) -> list[tuple[int, float, float]]:
    """Tables wider than the printed page's text: (page number, table width, text width), px.

    Laid out by WeasyPrint, the same engine that writes report.pdf.
    """
    import weasyprint
    from weasyprint.formatting_structure.boxes import TableBox

    def walk(box: object) -> Iterator[object]:
        yield box
        for child in getattr(box, "children", []):
            yield from walk(child)

    document = weasyprint.HTML(string=page).render()
    wide = []
    for number, laid in enumerate(document.pages, start=1):
        page_box = laid._page_box
        for box in walk(page_box):
            if isinstance(box, TableBox) and box.margin_width() > page_box.width + 0.5:
                wide.append((number, box.margin_width(), page_box.width))
    return wide


@pytest.mark.parametrize("language", ["sv", "en"])
def test_pdf_tables_fit_the_printed_page(
    andorra_run: dict, tmp_path: Path, language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = andorra_run["inputs"]
    html_path = tmp_path / "report.html"
    write_report(inputs, html_path, language=language, pdf_path=tmp_path / "report.pdf")  # type: ignore[arg-type]
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    page = html_path.read_text(encoding="utf-8")
    assert f'<html lang="{language}">' in page
    assert _table_overflow(page) == []
    # the check can fail: one table of every metric (before, after and change of each of
    # the 6 metrics side by side) is wider than an A4 page
    monkeypatch.setattr(constants, "REPORT_TABLE_MAX_METRICS", 99)
    assert _table_overflow(render_report(inputs, language=language)) != []  # type: ignore[arg-type]


def test_pdf_is_refused_clearly_without_weasyprint(
    andorra_run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real = builtins.__import__

    def no_weasyprint(name: str, *args: object, **kwargs: object) -> object:
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    from planner.outputs.report import pdf_unavailable

    assert "libpango" in (pdf_unavailable() or "") and "print report.html" in (
        pdf_unavailable() or ""
    )
    with pytest.raises(DataError, match=r"report\.pdf: WeasyPrint cannot be loaded"):
        write_report(andorra_run["inputs"], tmp_path / "r.html", pdf_path=tmp_path / "report.pdf")
    assert not (tmp_path / "r.html").exists()  # refused before anything is written


def test_report_explains_every_figure_in_words(andorra_run: dict) -> None:
    inputs = andorra_run["inputs"]
    page = render_report(inputs, language="sv")
    survivors = float(inputs.sites["expected_survivors_per_year"].sum())
    headline = re.search(r'<section id="headline">(.*?)</section>', page, re.S)
    assert headline is not None
    rows = re.findall(r"<tr>(.*?)</tr>", headline.group(1), re.S)[1:]
    for row in rows:  # every figure has its sentence
        explain = re.search(r'<td class="explain">(.*?)</td>', row)
        assert explain is not None and explain.group(1).endswith("."), row
    assert "Förväntat antal fler överlevande per år" in headline.group(1)
    assert translator("sv").number(survivors, 3, signed=True) in headline.group(1)
    sites = re.search(r'<section id="sites">(.*?)</section>', page, re.S)
    assert sites is not None and sites.group(1).count("<li>") == 5  # one per column
    assert "hjärtstopp utanför sjukhus" in sites.group(1)


@pytest.mark.parametrize("language", ["en", "sv"])
def test_report_names_the_simulated_drive_model(andorra_run: dict, language: str) -> None:
    """The simulation section says whether drives followed time bands and a lognormal spread."""
    table = pd.DataFrame({"figure": ["prio1_median_min"], "before": [12.5]})
    plain = dataclasses.replace(
        andorra_run["inputs"], simulation=table, simulation_figures=("prio1_median_min",),
        simulation_replications=3, simulation_days=20.0,
    )  # fmt: skip
    banded = dataclasses.replace(
        plain, simulation_speed_profile="natt", simulation_drive_time_cv=0.3
    )
    words = {
        "en": ("time band of its call time (speed profile natt)", "coefficient of variation 0.3"),
        "sv": ("tidsbandet för larmets tid (hastighetsprofil natt)", "variationskoefficienten 0,3"),
    }[language]
    page = render_report(banded, language=language)
    assert all(w in page for w in words), page[page.find('id="simulation"') :][:2000]
    page = render_report(plain, language=language)
    assert 'id="simulation"' in page and not any(w in page for w in words)
