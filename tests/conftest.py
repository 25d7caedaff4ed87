"""Shared fixtures: the real OSM test files and the road networks built from them.

The files live outside the repository in ``../shared/data`` (see its README) and
are read in place, never copied. Each network is built once per test session,
with default settings and no cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.road_network import RoadNetwork, build_network


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder (``/work/shared/data`` next to the repository)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real test data not found: {path} is missing (see the data README)")
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
    """Andorra built with default settings (simplified, EPSG:3006), no cache."""
    return build_network(andorra_pbf)


@pytest.fixture(scope="session")
def sodermalm_net(sodermalm_pbf: Path) -> RoadNetwork:
    """Södermalm built with default settings, no cache."""
    return build_network(sodermalm_pbf)


@pytest.fixture(scope="session")
def umea_net(umea_osm: Path) -> RoadNetwork:
    """Umeå built with default settings, no cache."""
    return build_network(umea_osm)
