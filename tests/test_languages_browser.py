"""The plan's map and report in Swedish and in English, in a real headless Chromium.

The README's Andorra example is planned once and written in both languages.
In Chromium (no network: every host name fails to resolve) the tests check
a sample of labels in each language, the number formats (Babel's CLDR
formats: ``87,9 %`` with a no-break space in Swedish, ``87.9%`` in English),
that the map opens on the "after" state, that the popups carry the stations'
own figures and the sites' place names, and that no English word is left in
any text of the Swedish pages: every text node (hidden controls included),
every popup and every tooltip.

Needs Debian's ``chromium`` and ``chromium-driver`` and selenium (see
``tests/conftest.py``; skipped without them unless ``PLANNER_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

from planner.i18n import translator
from planner.outputs.export import read_csv_table
from planner.run.plan import plan_scenario, write_plan
from planner.run.scenario import load_scenario

#: Words of planner's English texts that Swedish has no use for: none may
#: appear in a Swedish page (whole words, any case).
ENGLISH_ONLY = (
    "stations", "proposed", "sites", "site", "unreachable", "response", "before", "after",
    "isochrones", "demand", "within", "percentile", "share", "reached", "nearest",
    "municipality", "municipalities", "people", "minutes", "saved", "expected", "survivors",
    "units", "unit", "screen", "measure", "zoom", "contributors", "road", "settings",
    "headline", "figures", "distance", "cancel", "delete", "finish", "center", "area",
    "weight", "change", "what", "means", "the", "and", "of", "with", "new",
    "locality", "catchment", "regions", "gain", "objective", "made", "times",
)  # fmt: skip

#: All text of a page: every text node outside scripts and styles, and every title.
_PAGE_TEXT = """
var out = [];
var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
    var parent = walker.currentNode.parentNode;
    if (parent && !/^(SCRIPT|STYLE)$/.test(parent.nodeName)) {
        out.push(walker.currentNode.nodeValue);
    }
}
document.querySelectorAll('[title]').forEach(function (e) { out.push(e.getAttribute('title')); });
return out.join('\\n');
"""

#: Every popup and tooltip of the map's layers, as text.
_POPUPS_AND_TOOLTIPS = """
var out = [];
function text(content, layer) {
    if (typeof content === 'function') { content = content(layer); }
    if (content && content.nodeType) { return content.textContent; }
    var div = document.createElement('div'); div.innerHTML = content || ''; return div.textContent;
}
function visit(layer) {
    if (layer.eachLayer) { layer.eachLayer(visit); }
    if (layer.getPopup && layer.getPopup()) {
        out.push(text(layer.getPopup().getContent(), layer));
    }
    if (layer.getTooltip && layer.getTooltip()) {
        out.push(text(layer.getTooltip()._content, layer));
    }
}
Object.values(window.plannerLayers).forEach(visit);
return out.join('\\n');
"""


def _english_words(text: str) -> list[str]:
    pattern = re.compile(r"\b(" + "|".join(ENGLISH_ONLY) + r")\b", re.IGNORECASE)
    return sorted({m.group(0) for m in pattern.finditer(text)})


@pytest.fixture(scope="module")
def plans(andorra_scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The Andorra example planned once and written in Swedish, in English, and with CDNs."""
    scenario = load_scenario(andorra_scenario_dir / "andorra.toml")
    assert scenario.language == "en"  # outside Sweden: English unless asked
    # the languages of the map and report need no simulation: leave out [simulate]
    result = plan_scenario(replace(scenario, simulate=None), echo=lambda _: None)
    root = tmp_path_factory.mktemp("languages")
    out = {"result": result}
    for key, language, cdn in (("sv", "sv", False), ("en", "en", False), ("cdn", "en", True)):
        out[key] = write_plan(
            result, out_dir=root / key, map_path=root / key / "map.html",
            language=language, cdn=cdn, echo=lambda _: None,  # type: ignore[arg-type]
        )  # fmt: skip
    return out


def _open(browser: Any, path: Path) -> None:
    browser.get(path.resolve().as_uri())


def _layer_names(browser: Any) -> set[str]:
    return set(browser.execute_script("return Object.keys(window.plannerLayers);"))


def _on_map(browser: Any, name: str) -> bool:
    return browser.execute_script(
        "return window.plannerMap.hasLayer(window.plannerLayers[arguments[0]]);", name
    )


LABELS = {
    "sv": {
        "layers": {"Stationer", "Föreslagna stationer", "Isokroner (före)", "Isokroner (efter)",
                   "Responstid (efter)", "Ej nåbar efterfrågan (efter)", "Län"},
        "after": "Isokroner (efter)", "before": "Isokroner (före)",
        "switch": ["Scenario", "före", "efter, med föreslagna stationer"],
        "legend": "Isokroner: nås inom",
        "site": "Föreslagen station 1: ", "station": "Efterfrågan i upptagningsområdet",
        "share": re.compile(r"\d{1,3},\d\u00a0%"),
    },
    "en": {
        "layers": {"Stations", "Proposed sites", "Isochrones (before)", "Isochrones (after)",
                   "Response time (after)", "Unreachable demand (after)", "Regions"},
        "after": "Isochrones (after)", "before": "Isochrones (before)",
        "switch": ["Scenario", "before", "after new sites"],
        "legend": "Isochrones: reached within",
        "site": "Proposed site 1: ", "station": "Demand in catchment",
        "share": re.compile(r"\d{1,3}\.\d%"),
    },
}  # fmt: skip


@pytest.mark.parametrize("language", ["sv", "en"])
def test_map_in_each_language(browser: Any, plans: dict, language: str) -> None:
    from selenium.webdriver.common.by import By

    words = LABELS[language]
    tr = translator(language)  # type: ignore[arg-type]
    _open(browser, plans[language]["map"])
    assert browser.execute_script("return document.documentElement.lang;") == language
    # Leaflet is in the page: it ran with no network, and every layer is there
    assert browser.execute_script("return typeof L !== 'undefined' && L.version;") == "1.9.3"
    assert words["layers"] <= _layer_names(browser)
    # it opens on "after": the radio, the layers and the legend say so
    assert browser.execute_script("return window.plannerScenario;") == "after"
    assert _on_map(browser, words["after"]) and not _on_map(browser, words["before"])
    switch = browser.find_element(By.CSS_SELECTOR, ".planner-scenario").text.splitlines()
    assert [s.strip() for s in switch] == words["switch"]
    assert browser.find_element(By.CSS_SELECTOR, "input[value='after']").is_selected()
    legends = browser.find_element(By.CSS_SELECTOR, ".leaflet-control-container").text
    assert words["legend"] in legends
    # the first proposed site: its place name, and what it adds, in the language's formats
    result = plans["result"]
    site = result.optimise.sites.sort_values("order").iloc[0]
    assert isinstance(site["place"], str) and site["municipality"] == "Andorra"
    popups = browser.execute_script(_POPUPS_AND_TOOLTIPS)
    assert f"{words['site']}{site['place']}" in popups
    assert tr.number(site["place_distance_m"] / 1000, 1) + " km" in popups
    # each station's popup holds its own catchment's figures, as the station table has them
    table = read_csv_table(plans[language]["after_coverage_station"]).set_index("station")
    demand = gpd.read_file(plans[language]["after_gpkg"], layer="demand")
    stations = browser.execute_script(
        "var out = {}; window.plannerLayers[arguments[0]].eachLayer(function (m) {"
        " var div = document.createElement('div'); div.innerHTML = m.getPopup().getContent();"
        " out[div.querySelector('b').textContent] = div.textContent; }); return out;",
        "Stationer" if language == "sv" else "Stations",
    )
    assert set(stations) == set(result.before.stations["name"])
    for name, popup in stations.items():
        own = demand.loc[demand["nearest_station"] == name, "weight"].sum()
        assert table.loc[name, "demand"] == pytest.approx(own) and own > 0
        assert words["station"] in popup and tr.weight(own) in popup
        assert tr.percent(table.loc[name, "share_within_10_min"]) in popup
    assert words["share"].search(popups)
    if language == "sv":
        text = browser.execute_script(_PAGE_TEXT) + "\n" + popups
        assert _english_words(text) == []
        assert "Mäta avstånd och yta" in text  # the measuring tool speaks Swedish too
        assert "Vägdata © OpenStreetMap-bidragsgivare, ODbL 1.0" in text
    else:
        assert "Road data © OpenStreetMap contributors, ODbL 1.0" in browser.execute_script(
            _PAGE_TEXT
        )


def test_default_map_works_without_network_and_cdn_map_does_not(browser: Any, plans: dict) -> None:
    """The default map has Leaflet inside; the CDN map needs the network this browser lacks."""
    _open(browser, plans["en"]["map"])
    assert browser.execute_script("return typeof L;") == "object"
    paths = browser.execute_script(
        "return document.querySelectorAll('.leaflet-overlay-pane svg path').length;"
    )
    markers = browser.execute_script(
        "return document.querySelectorAll('.leaflet-marker-icon').length;"
    )
    result = plans["result"]
    assert paths > 0 and markers == len(result.before.stations) + len(result.optimise.sites)
    page = plans["cdn"]["map"].read_text(encoding="utf-8")
    assert '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js">' in page
    assert len(page) < len(plans["en"]["map"].read_text(encoding="utf-8")) - 100_000
    _open(browser, plans["cdn"]["map"])
    assert browser.execute_script("return typeof L;") == "undefined"  # no network here


REPORT = {
    "sv": ["Nyckeltal", "Inom 10 min", "Vad det betyder", "Per kommun", "Föreslagna stationer",
           "Karta: före och efter", "Förväntat antal fler överlevande per år", "Inställningar",
           "larm- och utryckningstid: 3,0 min"],
    "en": ["Headline figures", "Within 10 min", "What it means", "Per municipality",
           "Proposed sites", "Map: before and after", "Expected extra survivors per year",
           "Settings", "turn-out time (dispatch and roll-out): 3.0 min"],
}  # fmt: skip


@pytest.mark.parametrize("language", ["sv", "en"])
def test_report_in_each_language(browser: Any, plans: dict, language: str) -> None:
    tr = translator(language)  # type: ignore[arg-type]
    paths = plans[language]
    _open(browser, paths["report"])
    assert browser.execute_script("return document.documentElement.lang;") == language
    text = browser.execute_script("return document.body.innerText;")
    for label in REPORT[language]:
        assert label in text, label
    # the headline figures are the tables' own, in the language's number format
    total = read_csv_table(paths["coverage_total"]).iloc[0]
    after = read_csv_table(paths["after_coverage_total"]).iloc[0]
    for column in ("share_within_10_min", "share_within_20_min"):
        assert tr.percent(total[column]) in text and tr.percent(after[column]) in text
    assert tr.minutes(after["median_min"]) in text
    assert browser.execute_script("return document.querySelectorAll('svg').length;") == 3
    assert paths["report_pdf"].read_bytes().startswith(b"%PDF")
    if language == "sv":
        assert _english_words(browser.execute_script(_PAGE_TEXT)) == []


def test_the_english_word_check_can_fail(browser: Any, plans: dict) -> None:
    _open(browser, plans["en"]["map"])
    assert {"Stations", "Proposed", "sites"} <= set(
        _english_words(browser.execute_script(_PAGE_TEXT))
    )
