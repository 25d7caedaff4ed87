"""Shared fixtures: the real OSM test files and the road networks built from them.

The files live outside the repository in ``../shared/data`` (see its README) and
are read in place, never copied. Each network is built once per test session,
with default settings and no cache.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.inputs.demand import validate_demand
from planner.network.road_network import RoadNetwork, build_network
from planner.network.snapping import SnappedPoints, snap_points


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder (``/work/shared/data`` next to the repository)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real test data not found: {path} is missing (see the data README)")
    return path


@pytest.fixture(scope="session")
def orlib_dir(shared_data: Path) -> Path:
    """OR-Library p-median instances and their optima (see that folder's README)."""
    path = shared_data / "benchmarks" / "orlib"
    if not (path / "pmedopt.txt").is_file():
        pytest.skip(f"real test data not found: {path} is missing")
    return path


def _osm_file(shared_data: Path, name: str) -> Path:
    path = shared_data / "osm" / name
    if not path.is_file():
        pytest.skip(f"real test data not found: {path} is missing")
    return path


@pytest.fixture(scope="session")
def andorra_pbf(shared_data: Path) -> Path:
    """Whole of Andorra, OSM PBF (region-scale network)."""
    return _osm_file(shared_data, "andorra.osm.pbf")


@pytest.fixture(scope="session")
def sodermalm_pbf(shared_data: Path) -> Path:
    """Part of Södermalm, Stockholm, OSM PBF (small, several pieces)."""
    return _osm_file(shared_data, "stockholm-sodermalm.osm.pbf")


@pytest.fixture(scope="session")
def umea_osm(shared_data: Path) -> Path:
    """Around Norrlands universitetssjukhus, Umeå, OSM XML (Overpass output)."""
    return _osm_file(shared_data, "umea-ostra.osm")


@pytest.fixture(scope="session")
def andorra_net(andorra_pbf: Path) -> RoadNetwork:
    """Andorra built with default settings (simplified, in UTM zone 31N), no cache."""
    return build_network(andorra_pbf)


@pytest.fixture(scope="session")
def sodermalm_net(sodermalm_pbf: Path) -> RoadNetwork:
    """Södermalm built with default settings, no cache."""
    return build_network(sodermalm_pbf)


@pytest.fixture(scope="session")
def umea_net(umea_osm: Path) -> RoadNetwork:
    """Umeå built with default settings, no cache."""
    return build_network(umea_osm)


#: The committed example scenario (README quick start).
ANDORRA_EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "andorra"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    """A local Dask cluster of 2 single-threaded worker processes on 127.0.0.1.

    One for the whole session, always shut down. Tests that kill a worker
    wait for its replacement before they end.
    """
    pytest.importorskip("distributed")
    from planner.distributed import DaskExecutor, make_executor

    executor = make_executor(workers=2)
    try:
        assert isinstance(executor, DaskExecutor)
        executor.client.wait_for_workers(2, timeout=60)
        yield executor
    finally:
        executor.close()


@pytest.fixture(scope="session")
def andorra_scenario_dir(tmp_path_factory: pytest.TempPathFactory, andorra_pbf: Path) -> Path:
    """The README's example scenario in a temporary folder, with a stations file written here."""
    folder = tmp_path_factory.mktemp("andorra_plan")
    for name in ("andorra.geojson", "demand.csv"):
        shutil.copyfile(ANDORRA_EXAMPLE / name, folder / name)
    # two stations: the town centres of Andorra la Vella and Encamp
    pd.DataFrame(
        {
            "name": ["Andorra la Vella", "Encamp"],
            "lon": [1.5218, 1.5806],
            "lat": [42.5063, 42.5360],
            "fleet": ["ambulance", "ambulance"],
            "units": [1, 1],
        }
    ).to_csv(folder / "stations.csv", index=False)
    text = (ANDORRA_EXAMPLE / "andorra.toml").read_text(encoding="utf-8")
    text = text.replace(
        '"../../../../shared/data/osm/andorra.osm.pbf"', f'"{andorra_pbf.as_posix()}"'
    )
    text += '\n[outputs]\ndir = "out/andorra"\nmap = "maps/andorra.html"\n'
    (folder / "andorra.toml").write_text(text, encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------
# Headless Chromium (the browser tests)
# ---------------------------------------------------------------------------

#: Window and screenshot size of the headless browser, CSS pixels.
WIDTH, HEIGHT = 1280, 800

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # no network at all: every host name fails to resolve
    "--host-resolver-rules=MAP * ~NOTFOUND",
    f"--window-size={WIDTH},{HEIGHT}",
)


def _browser_missing(reason: str) -> None:
    if os.environ.get("PLANNER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"PLANNER_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _which(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium driven by selenium, with no network (one per test module).

    Needs Debian's ``chromium`` and ``chromium-driver`` and selenium. Without
    them the test skips, unless ``PLANNER_REQUIRE_BROWSER=1`` (CI), when it fails.
    """
    chromium = _which("chromium", "chromium-browser")
    driver_path = _which("chromedriver")
    if chromium is None or driver_path is None:
        _browser_missing(
            "chromium or chromedriver is not installed (apt-get install chromium chromium-driver)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _browser_missing("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield driver
    finally:
        driver.quit()


# ---------------------------------------------------------------------------
# Helpers shared by several test modules (import them from conftest)
# ---------------------------------------------------------------------------

#: OSM amenities of Andorra that stand in for demand in the pipeline tests.
ANDORRA_AMENITIES = ("restaurant", "cafe", "bank", "pharmacy", "school")


def amenity_demand(
    pois: gpd.GeoDataFrame,
    *,
    seed: int = 9,
    high: int = 30,
    municipality_code: object = "AD",
    municipality: object = "Andorra",
) -> gpd.GeoDataFrame:
    """OSM points as a validated demand layer: seeded weights in [1, high), region "AD"."""
    rng = np.random.default_rng(seed)
    return validate_demand(
        gpd.GeoDataFrame(
            {
                "demand_id": pois["osm_id"].astype(str),
                "weight": rng.integers(1, high, len(pois)).astype(float),
                "source": "test:andorra-amenities",
                "municipality_code": municipality_code,
                "municipality": municipality,
                "region_code": "AD",
                "region": "Andorra",
            },
            geometry=pois.geometry.to_numpy(),
            crs=pois.crs,
        )
    )


def points_near_nodes(graph: nx.MultiDiGraph, n: int, seed: int) -> list[shapely.Point]:
    """``n`` seeded points up to 150 m from distinct random nodes (the graph's CRS)."""
    rng = np.random.default_rng(seed)
    ids = np.array(sorted(graph.nodes), dtype=np.int64)
    chosen = rng.choice(ids, size=n, replace=False)
    x = np.array([graph.nodes[c]["x"] for c in chosen]) + rng.uniform(-150, 150, n)
    y = np.array([graph.nodes[c]["y"] for c in chosen]) + rng.uniform(-150, 150, n)
    return list(shapely.points(x, y))


def snapped_near_nodes(graph: nx.MultiDiGraph, n: int, seed: int) -> SnappedPoints:
    """:func:`points_near_nodes` snapped to the roads (in the graph's CRS)."""
    points = gpd.GeoSeries(points_near_nodes(graph, n, seed), crs=graph.graph["crs"])
    return snap_points(graph, points)


def write_osm_xml(
    path: Path,
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]],
    *,
    stamp: str = "2024-05-01T12:00:00Z",
) -> Path:
    """An OSM XML file of ``nodes`` (id: (lon, lat)) and ``ways`` (id, node refs, tags)."""
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="test">']
    for nid, (lon, lat) in nodes.items():
        lines.append(
            f'  <node id="{nid}" version="1" timestamp="{stamp}" lat="{lat}" lon="{lon}"/>'
        )
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1" timestamp="{stamp}">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
