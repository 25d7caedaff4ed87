"""Text from data never runs in the map or the report (issue 11, point 1).

A whole plan is run on the real Umeå OSM extract with a script payload in
every text source a regional analyst's files or OpenStreetMap can bring in:
the scenario name, the region name (which is also the municipality of a
custom area), the sample label, station names, demand ids and names, the OSM
name of the hospital and of a fire station (as anyone may edit them in OSM)
and the names in a candidates file; a second map carries payloads in Swedish
municipality names and codes. The payloads cover HTML text and attributes,
``<title>``, ``<script>`` and JavaScript strings, ``<!--``, U+2028 and
``javascript:`` links.

The fast test reads the written HTML. The browser test opens the map and the
report in headless Chromium (the ``browser`` fixture of ``conftest``; it
fails instead of skipping under ``PLANNER_REQUIRE_BROWSER=1``), opens every
tooltip and popup (Leaflet's own mouse events on every feature, and real
mouse hover and click on markers), and checks that no payload ran
(``window.__pwned``, ``document.title``, no alert) and that every name shows
as the very text it is in the data.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from planner.network.regions import load_municipalities, load_regions
from planner.outputs.maps import MapLayers, write_map
from planner.run.plan import PlanResult, plan_scenario, write_plan
from planner.run.scenario import load_scenario

#: Each breaks out of one context if it is not escaped there, and then sets
#: ``window.__pwned``, changes ``document.title`` or opens an alert.
PAYLOADS = (
    "javascript:window.__pwned=1",  # first, so that every name is a javascript: URL
    "<img src=x onerror=\"document.title='pwned';window.__pwned=1\">",
    "</script><script>window.__pwned=1</script>",
    '"><svg onload=window.__pwned=1>',
    "'><svg onload=window.__pwned=1>",
    "</title><script>window.__pwned=1</script>",
    "'-alert(1)-'",
    '";window.__pwned=1;//',
    "<!--<script>",
    "\u2028",
    "&amp; &lt;b&gt;",  # must show as written, not as "& <b>"
)
PAYLOAD = " ".join(PAYLOADS)
#: The payloads that are markup: none may appear raw anywhere in a page.
MARKUP = tuple(p for p in PAYLOADS if "<" in p or ">" in p)


def named(what: str) -> str:
    """A text that starts with every payload and ends with what it names."""
    return f"{PAYLOAD} [{what}]"


#: Demand points inside the Umeå extract's roads, and two about 1 km away
#: from any road (unreachable: they are drawn with their ids and names).
N_DEMAND = 30
FAR = ((20.265, 63.805), (20.325, 63.835))


def _roads_with_payload_names(source: Path, target: Path) -> None:
    """The real Umeå extract with payload names on its hospital and a new fire station."""
    text = source.read_text(encoding="utf-8")
    hospital = 'v="Norrlands universitetssjukhus"'
    assert text.count(hospital) == 1
    text = text.replace(hospital, "v=" + quoteattr(named("OSM hospital")))
    fire = (
        '  <node id="-1" version="1" timestamp="2014-09-23T00:00:00Z" '
        'lat="63.8160" lon="20.2950">\n'
        '    <tag k="amenity" v="fire_station"/>\n'
        f'    <tag k="name" v={quoteattr(named("OSM fire station"))}/>\n'
        "  </node>\n"
    )
    meta = '<meta osm_base="2014-09-23T20:20:02Z"/>\n'
    assert text.count(meta) == 1
    target.write_text(text.replace(meta, meta + fire), encoding="utf-8")


def _write_inputs(folder: Path, umea_osm: Path) -> Path:
    """Every input file of the payload scenario; returns the scenario file."""
    _roads_with_payload_names(umea_osm, folder / "roads.osm")
    area = [[20.26, 63.80], [20.33, 63.80], [20.33, 63.84], [20.26, 63.84], [20.26, 63.80]]
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": named("boundary file")},
                "geometry": {"type": "Polygon", "coordinates": [area]},
            }
        ],
    }
    (folder / "area.geojson").write_text(json.dumps(collection), encoding="utf-8")
    pd.DataFrame(
        {
            "name": [named("station A"), named("station B")],
            "lon": [20.284, 20.298],
            "lat": [63.8255, 63.8145],
            "fleet": ["ambulance", "ambulance"],
            "units": [1, 2],
        }
    ).to_csv(folder / "stations.csv", index=False)
    rng = np.random.default_rng(11)
    lon = np.append(rng.uniform(20.282, 20.300, N_DEMAND), [p[0] for p in FAR])
    lat = np.append(rng.uniform(63.8136, 63.8265, N_DEMAND), [p[1] for p in FAR])
    n = len(lon)
    pd.DataFrame(
        {
            "demand_id": [named(f"demand id {i}") for i in range(n)],
            "name": [named(f"demand name {i}") for i in range(n)],
            "lon": lon,
            "lat": lat,
            "population": rng.integers(5, 100, n),
        }
    ).to_csv(folder / "demand.csv", index=False)
    pd.DataFrame({"name": [named("candidate file")], "lon": [20.2900], "lat": [63.8200]}).to_csv(
        folder / "candidates.csv", index=False
    )
    scenario = folder / "payload.toml"
    scenario.write_text(
        f"""name = "payload"

[region]
name = {json.dumps(named("region"))}
boundary = "area.geojson"
buffer_km = 0

[roads]
source = "osm"
path = "roads.osm"

[stations]
path = "stations.csv"

[[demand]]
path = "demand.csv"
type = "points"
weight = "population"

[coverage]
thresholds_min = [4, 6]

[optimise]
objective = "mclp"
add = 3
threshold_min = 4
candidates = ["osm", "file"]
candidates_file = "candidates.csv"
""",
        encoding="utf-8",
    )
    return scenario


@dataclasses.dataclass(frozen=True)
class PayloadPlan:
    result: PlanResult
    map: Path
    report: Path
    municipality_map: Path
    municipalities: gpd.GeoDataFrame


def _municipality_layers() -> tuple[MapLayers, gpd.GeoDataFrame]:
    """Västerbotten and its municipalities, every name and code a payload."""
    region = load_regions().query("code == '24'").assign(level="region")
    kommuner = load_municipalities().query("region_code == '24'").assign(level="municipality")
    frame = gpd.GeoDataFrame(
        pd.concat([region, kommuner], ignore_index=True)[["code", "name", "level", "geometry"]],
        crs=region.crs,
    )
    frame = frame.assign(
        name=[named(f"municipality {c}") for c in frame["code"]],
        code=[named(f"code {c}") for c in frame["code"]],
    )
    return MapLayers(title=named("municipality map"), label=named("label"), boundaries=frame), frame


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory, umea_osm: Path) -> PayloadPlan:
    folder = tmp_path_factory.mktemp("payload_plan")
    scenario = load_scenario(_write_inputs(folder, umea_osm))
    # the scenario file takes only plain file names as `name`; the Python API
    # takes any text, and the map and report must be safe for it too
    scenario = dataclasses.replace(scenario, name=named("scenario"))
    result = plan_scenario(scenario, label=named("label"), echo=lambda _: None)
    assert result.optimise is not None
    sites = set(result.optimise.sites["site"])
    assert sites == {named("OSM hospital"), named("OSM fire station"), named("candidate file")}
    paths = write_plan(
        result,
        out_dir=folder / "out",
        map_path=folder / "map.html",
        offline=True,
        echo=lambda _: None,
    )
    layers, municipalities = _municipality_layers()
    kommun_map = write_map(layers, folder / "kommuner.html", offline=True)
    return PayloadPlan(result, paths["map"], paths["report"], kommun_map, municipalities)


def _unreachable(result: PlanResult) -> pd.DataFrame:
    demand = result.before.demand
    return demand[~np.isfinite(demand["response_s"].to_numpy(dtype=float))]


# ---------------------------------------------------------------------------
# The written HTML
# ---------------------------------------------------------------------------


class _Page(HTMLParser):
    """Start tags, their attributes, the <title> text and the text outside scripts."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str, str]] = []
        self.title = ""
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag in ("title", "script", "style"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        where = self._in[-1] if self._in else None
        if where == "title":
            self.title += data
        elif where == "script":
            self.scripts.append(data)
        elif where is None:
            self.text.append(data)


def _check_safe(page: str) -> _Page:
    """Assertions that hold for any page: no payload markup, handler or link from data."""
    for markup in MARKUP:
        assert markup not in page
    parsed = _Page(page)
    assert parsed.tags["title"] == 1
    handlers = [(t, n) for t, n, _ in parsed.attributes if n.startswith("on")]
    assert handlers == []
    links = [(t, n, v) for t, n, v in parsed.attributes if "pwned" in v or "javascript:" in v]
    assert links == []
    for script in parsed.scripts:
        assert "<!--" not in script and "\u2028" not in script
    return parsed


def _unescape_js(text: str) -> str:
    """The text of JavaScript string literals in ``text`` (\\uXXXX, \\" and \\/ undone)."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text.replace('\\"', '"').replace("\\/", "/")


def test_map_html_escapes_every_name(plan: PayloadPlan) -> None:
    result = plan.result
    page = plan.map.read_text(encoding="utf-8")
    parsed = _check_safe(page)
    assert parsed.tags["img"] == parsed.tags["svg"] == 0
    # the title is the names as text, and the charset comes before it
    assert named("scenario") in parsed.title and named("region") in parsed.title
    assert page.index('charset=UTF-8"') < page.index("<title>") < 1024
    # the names reach the scripts as JSON strings: features' properties as
    # they are (shown as text), marker tooltips and popups escaped once as HTML
    assert result.optimise is not None
    script = _unescape_js("".join(parsed.scripts))
    unreachable = _unreachable(result)
    as_text = [named("label"), named("region"), *unreachable["demand_id"], *unreachable["name"]]
    assert [t for t in as_text if t not in script] == []
    as_html = [
        html.escape(t) for t in (*result.before.stations["name"], *result.optimise.sites["site"])
    ]
    assert [t for t in as_html if t not in script or html.escape(t) in script] == []
    # folium's GeoJsonTooltip, which builds its table with innerHTML, is not used
    assert "foliumtooltip" not in page and "plannerPropertyTable" in page


def test_report_html_escapes_every_name(plan: PayloadPlan) -> None:
    result = plan.result
    parsed = _check_safe(plan.report.read_text(encoding="utf-8"))
    assert parsed.tags["script"] == parsed.tags["img"] == 0
    assert parsed.tags["svg"] == 2  # the two plots
    assert named("scenario") in parsed.title and named("region") in parsed.title
    text = "".join(parsed.text)
    assert result.optimise is not None
    for name in ("scenario", "region", "label"):
        assert named(name) in text, name
    for site in result.optimise.sites["site"]:
        assert site in text


def test_municipality_map_html_escapes_names_and_codes(plan: PayloadPlan) -> None:
    parsed = _check_safe(plan.municipality_map.read_text(encoding="utf-8"))
    assert parsed.title == named("municipality map")


# ---------------------------------------------------------------------------
# In Chromium
# ---------------------------------------------------------------------------

#: Add every overlay, then fire Leaflet's mouseover and click on every feature
#: and marker, and return what each tooltip and popup shows.
_OPEN_EVERYTHING_JS = """
var map = window.plannerMap, out = [];
function leaves(layer, owner, acc) {
    // owner: the layer itself or the nearest group that holds the tooltip
    var own = layer.getTooltip && layer.getTooltip() ? layer : owner;
    if (layer.eachLayer) { layer.eachLayer(function (l) { leaves(l, own, acc); }); }
    else { acc.push([layer, own]); }
    return acc;
}
function shown(el) {
    return {text: el.textContent, html: el.innerHTML,
            elements: el.querySelectorAll('img, svg, script, iframe, object, embed, a').length};
}
Object.keys(window.plannerLayers).forEach(function (name) {
    var group = window.plannerLayers[name];
    if (!map.hasLayer(group)) { map.addLayer(group); }
    leaves(group, null, []).forEach(function (pair) {
        var l = pair[0], owner = pair[1], tooltip = null, popup = null;
        var at = l.getLatLng ? l.getLatLng() : l.getBounds().getCenter();
        l.fire('mouseover', {latlng: at}, true);
        if (owner && owner.isTooltipOpen()) { tooltip = shown(owner.getTooltip().getElement()); }
        l.fire('mouseout', {latlng: at}, true);
        l.fire('click', {latlng: at}, true);
        if (l.getPopup && l.getPopup() && l.isPopupOpen()) {
            popup = shown(l.getPopup().getElement().querySelector('.leaflet-popup-content'));
        }
        map.closePopup();
        l.fire('mouseout', {latlng: at}, true);  // a click opens the tooltip too
        out.push({layer: name, tooltip: tooltip, popup: popup});
    });
});
return out;
"""

_HANDLERS_JS = """
return Array.prototype.slice.call(document.querySelectorAll('*')).filter(function (e) {
    return Array.prototype.some.call(e.attributes, function (a) {
        return /^on/i.test(a.name) || /^\\s*javascript:/i.test(a.value);
    });
}).map(function (e) { return e.outerHTML.slice(0, 200); });
"""


def _title_text(value: str) -> str:
    """``document.title`` of a <title>: ASCII whitespace stripped and collapsed."""
    return re.sub(r"[\t\n\f\r ]+", " ", value).strip(" ")


def _assert_nothing_ran(browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException, UnexpectedAlertPresentException

    try:
        # an image's onerror runs after its load fails: give it time to
        browser.execute_async_script("setTimeout(arguments[0], 300);")
        alert = browser.switch_to.alert
    except UnexpectedAlertPresentException as exc:
        pytest.fail(f"an alert opened: {exc.alert_text}")
    except NoAlertPresentException:
        alert = None
    assert alert is None, f"an alert opened: {alert.text if alert else ''}"
    assert browser.execute_script("return typeof window.__pwned;") == "undefined"
    assert browser.execute_script("return document.title;") != "pwned"
    assert browser.execute_script(_HANDLERS_JS) == []


def _open_everything(browser: Any) -> list[dict[str, Any]]:
    opened = browser.execute_script(_OPEN_EVERYTHING_JS)
    for item in opened:
        for kind in ("tooltip", "popup"):
            shown = item[kind]
            if shown is None:
                continue
            assert shown["elements"] == 0, (item["layer"], kind, shown["html"][:300])
            for entity in ("&lt;", "&gt;", "&amp;", "&quot;", "&#"):
                # escaped once for innerHTML, shown as text: no entity survives as text
                assert entity not in shown["text"].replace("&amp; &lt;b&gt;", ""), shown["text"]
    return opened


def _shown(opened: list[dict[str, Any]], layer: str, kind: str = "tooltip") -> str:
    texts = [o[kind]["text"] for o in opened if o["layer"] == layer and o[kind] is not None]
    assert texts, f"no {kind} opened on {layer}"
    return "\n".join(texts)


def _real_mouse(browser: Any, result: PlanResult) -> None:
    """Hover a station and click a proposed site with the mouse, as a user would."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    for kind, layer, expected, action in (
        ("ambulance", "Stations", result.before.stations["name"], "hover"),
        ("proposed", "Proposed sites", result.optimise.sites["site"], "click"),  # type: ignore[union-attr]
    ):
        icon = browser.execute_script(
            """
            var map = window.plannerMap, marker = null;
            window.plannerLayers[arguments[0]].eachLayer(function (l) { marker = marker || l; });
            map.closePopup();
            map.setView(marker.getLatLng(), 16, {animate: false});
            return marker._icon;
            """,
            layer,
        )
        assert "planner-icon-" + kind in icon.get_attribute("class")
        chain = ActionChains(browser).move_to_element(icon)
        (chain.click() if action == "click" else chain).perform()
        selector = ".leaflet-popup-content" if action == "click" else ".leaflet-tooltip"
        text = browser.find_element(By.CSS_SELECTOR, selector).get_attribute("textContent")
        assert any(name in text for name in expected), text
        _assert_nothing_ran(browser)


def test_plan_map_runs_no_payload_and_shows_the_names(browser: Any, plan: PayloadPlan) -> None:
    from selenium.webdriver.common.by import By

    result = plan.result
    assert result.optimise is not None
    browser.get(plan.map.resolve().as_uri())
    assert browser.execute_script("return typeof L !== 'undefined' && !!window.plannerMap;")
    _assert_nothing_ran(browser)
    title = browser.execute_script("return document.title;")
    assert named("scenario") in title and named("region") in title
    heading = browser.find_elements(By.CSS_SELECTOR, ".planner-title span")
    assert _title_text(heading[0].get_attribute("textContent")) == title
    assert heading[1].get_attribute("textContent") == named("label")

    opened = _open_everything(browser)
    _assert_nothing_ran(browser)
    assert named("region") in _shown(opened, "Regions")
    stations = _shown(opened, "Stations")
    for name in result.before.stations["name"]:
        assert name in stations
    unreachable = _unreachable(result)
    assert len(unreachable) >= len(FAR)
    demand = _shown(opened, "Unreachable demand (before)")
    for value in (*unreachable["demand_id"], *unreachable["name"]):
        assert value in demand
    tooltips = _shown(opened, "Proposed sites")
    popups = _shown(opened, "Proposed sites", "popup")
    for site in result.optimise.sites["site"]:
        assert site in tooltips and site in popups
    # the numbers still show in the other tooltips
    assert "Reached within" in _shown(opened, "Isochrones (before)")
    assert "Median response" in _shown(opened, "Response time (after)")

    _real_mouse(browser, result)


def test_municipality_map_runs_no_payload(browser: Any, plan: PayloadPlan) -> None:
    browser.get(plan.municipality_map.resolve().as_uri())
    _assert_nothing_ran(browser)
    assert browser.execute_script("return document.title;") == _title_text(
        named("municipality map")
    )
    opened = _open_everything(browser)
    _assert_nothing_ran(browser)
    municipalities = _shown(opened, "Municipalities")
    regions = _shown(opened, "Regions")
    for row in plan.municipalities.itertuples():
        shown = regions if row.level == "region" else municipalities
        assert row.name in shown and row.code in shown


def test_report_runs_no_payload_and_shows_the_names(browser: Any, plan: PayloadPlan) -> None:
    from selenium.webdriver.common.by import By

    result = plan.result
    assert result.optimise is not None
    browser.get(plan.report.resolve().as_uri())
    _assert_nothing_ran(browser)
    title = browser.execute_script("return document.title;")
    assert named("scenario") in title and named("region") in title
    assert (
        _title_text(browser.find_element(By.TAG_NAME, "h1").get_attribute("textContent")) == title
    )
    assert browser.find_element(By.CSS_SELECTOR, ".sample").get_attribute("textContent") == named(
        "label"
    )
    meta = browser.find_element(By.CSS_SELECTOR, ".meta").get_attribute("textContent")
    assert named("scenario") in meta
    municipalities = browser.find_element(By.ID, "municipalities").get_attribute("textContent")
    assert named("region") in municipalities
    sites = browser.find_element(By.ID, "sites").get_attribute("textContent")
    for site in result.optimise.sites["site"]:
        assert site in sites
    counts = browser.execute_script(
        "return ['script', 'img', 'iframe', 'a', 'svg'].map("
        "function (t) { return document.getElementsByTagName(t).length; });"
    )
    assert counts == [0, 0, 0, 0, 2]
