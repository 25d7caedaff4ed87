"""The offline Andorra map in a real headless Chromium, with no network.

Needs Debian's ``chromium`` and ``chromium-driver`` and selenium. Without them
the test skips, unless ``PLANNER_REQUIRE_BROWSER=1`` (CI), when it fails.
With ``PLANNER_DOCS_MAP=<path>`` the screenshot of the README's example plan
is also saved there: ``PLANNER_DOCS_MAP=docs/map.png python -m pytest
tests/test_maps_browser.py`` makes ``docs/map.png``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from conftest import HEIGHT, WIDTH
from test_maps import make_andorra_layers

from planner.network.road_network import RoadNetwork
from planner.outputs.maps import layer_names, write_map
from planner.run.cli import main


def _checked(driver: Any) -> dict[str, bool]:
    """Overlay name -> checkbox state in the layer control."""
    return driver.execute_script(
        """
        var out = {};
        document.querySelectorAll('.leaflet-control-layers-overlays label').forEach(function (l) {
            out[l.textContent.trim()] = l.querySelector('input').checked;
        });
        return out;
        """
    )


def _overlay_input(driver: Any, name: str) -> Any:
    """The checkbox of an overlay in the layer control (found afresh: Leaflet redraws it)."""
    from selenium.webdriver.common.by import By

    return driver.find_element(
        By.XPATH,
        "//div[contains(@class,'leaflet-control-layers-overlays')]"
        f"//label[contains(normalize-space(.),'{name}')]//input",
    )


def _on_map(driver: Any, name: str) -> bool:
    return driver.execute_script(
        "return window.plannerMap.hasLayer(window.plannerLayers[arguments[0]]);", name
    )


def _paths(driver: Any) -> int:
    return driver.execute_script(
        "return document.querySelectorAll('.leaflet-overlay-pane svg path').length;"
    )


def test_offline_map_in_chromium(
    browser: Any, andorra_net: RoadNetwork, andorra_pbf: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    layers = make_andorra_layers(andorra_net, andorra_pbf)
    names = layer_names(layers)
    page = write_map(layers, tmp_path / "andorra.html", offline=True)
    browser.get(page.resolve().as_uri())

    # Leaflet ran (from the inlined copy: no network) and every layer exists
    assert browser.execute_script("return typeof L !== 'undefined' && L.version;") == "1.9.3"
    assert sorted(browser.execute_script("return Object.keys(window.plannerLayers);")) == sorted(
        names.values()
    )
    states = _checked(browser)
    assert sorted(states) == sorted(names.values())
    assert states["Isochrones (before)"] and not states["Isochrones (after)"]
    assert not states["Response time (before)"]
    assert _paths(browser) > 0
    # nothing but map tiles was requested from the network
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
    )
    remote = [u for u in resources if u.startswith(("http:", "https:"))]
    assert all("tile.openstreetmap.org" in u for u in remote), remote
    # markers, legends, attribution and the plugins' controls are drawn
    assert layers.stations is not None and layers.proposed_sites is not None
    for kind, expected in (("ambulance", layers.stations), ("proposed", layers.proposed_sites)):
        found = browser.find_elements(By.CSS_SELECTOR, f".leaflet-marker-icon.planner-icon-{kind}")
        assert len(found) == len(expected), kind
    legends = [
        e.get_attribute("data-legend")
        for e in browser.find_elements(By.CSS_SELECTOR, ".planner-legend")
    ]
    assert "isochrones" in legends and "response_time" not in legends
    attribution = browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
    assert "© OpenStreetMap contributors, ODbL" in attribution
    assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-zoom-fullscreen")
    assert browser.find_elements(By.CSS_SELECTOR, ".leaflet-control-measure")
    label = browser.find_element(By.CSS_SELECTOR, ".planner-title .planner-label")
    assert label.is_displayed() and "TEST: Andorra" in label.text

    # the legend follows its layer: tick the surface in the layer control
    before = _paths(browser)
    _overlay_input(browser, "Response time (before)").click()
    assert _on_map(browser, "Response time (before)")
    assert _paths(browser) > before
    legends = [
        e.get_attribute("data-legend")
        for e in browser.find_elements(By.CSS_SELECTOR, ".planner-legend")
    ]
    assert "response_time" in legends

    # the before/after switch swaps every pair that is on
    browser.find_element(By.CSS_SELECTOR, "input[name='planner-scenario'][value='after']").click()
    states = _checked(browser)
    for kind in ("Response time", "Isochrones", "Unreachable demand"):
        assert states[f"{kind} (after)"] and not states[f"{kind} (before)"], kind
        assert _on_map(browser, f"{kind} (after)") and not _on_map(browser, f"{kind} (before)")
    legends = [
        e.get_attribute("data-legend")
        for e in browser.find_elements(By.CSS_SELECTOR, ".planner-legend")
    ]
    assert "demand_after" in legends and "demand" not in legends
    browser.find_element(By.CSS_SELECTOR, "input[name='planner-scenario'][value='before']").click()
    assert _on_map(browser, "Isochrones (before)") and not _on_map(browser, "Isochrones (after)")

    # clicking a proposed site opens its popup with what it adds
    browser.find_element(By.CSS_SELECTOR, ".leaflet-marker-icon.planner-icon-proposed").click()
    popup = browser.find_element(By.CSS_SELECTOR, ".leaflet-popup-content")
    text = popup.get_attribute("textContent")
    assert "Proposed site" in text and "People newly within 10 min" in text

    # the screenshot shows the plan: stations, proposed sites, isochrones after
    browser.execute_script(
        "window.plannerMap.closePopup();"
        "window.plannerMap.fitBounds(window.plannerBounds, {animate: false});"
    )
    _overlay_input(browser, "Response time (before)").click()  # the control was redrawn
    browser.find_element(By.CSS_SELECTOR, "input[name='planner-scenario'][value='after']").click()
    assert not _on_map(browser, "Response time (before)")
    assert _on_map(browser, "Isochrones (after)")
    shot = tmp_path / "map.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000
    size = (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))
    assert size == (WIDTH, HEIGHT)


def test_plan_map_in_chromium(browser: Any, andorra_scenario_dir: Path, tmp_path: Path) -> None:
    """The map `planner plan --offline` writes for the README's Andorra example scenario."""
    from selenium.webdriver.common.by import By

    page = tmp_path / "andorra.html"
    code = main(
        [
            "plan", str(andorra_scenario_dir / "andorra.toml"), "--offline", "--no-cache",
            "--no-progress", "--out-dir", str(tmp_path / "out"), "--map", str(page),
        ]
    )  # fmt: skip
    assert code == 0
    browser.get(page.resolve().as_uri())
    names = set(browser.execute_script("return Object.keys(window.plannerLayers);"))
    expected = {"Stations", "Proposed sites", "Isochrones (before)", "Isochrones (after)"}
    assert expected | {"Response time (before)", "Response time (after)"} <= names
    assert "Regions" in names and "Municipalities" not in names  # one polygon, no kommuner
    sites = pd.read_csv(tmp_path / "out" / "optimise" / "sites.csv")
    found = browser.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon.planner-icon-proposed")
    assert len(found) == len(sites) == 2
    assert (
        len(browser.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon.planner-icon-ambulance"))
        == 2
    )
    # toggle a layer off and on in the layer control
    _overlay_input(browser, "Stations").click()
    assert not _on_map(browser, "Stations")
    _overlay_input(browser, "Stations").click()
    assert _on_map(browser, "Stations")
    browser.find_element(By.CSS_SELECTOR, "input[name='planner-scenario'][value='after']").click()
    assert _on_map(browser, "Isochrones (after)") and not _on_map(browser, "Isochrones (before)")
    browser.execute_script("window.plannerMap.fitBounds(window.plannerBounds, {animate: false});")
    shot = tmp_path / "plan-map.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    docs = os.environ.get("PLANNER_DOCS_MAP")
    if docs:
        Path(docs).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, docs)
