"""Place names for proposed sites and stations: the nearest named OSM place (issue 14)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from planner.errors import InputFileError, MissingFileError
from planner.inputs.places import SETTLEMENT_PLACES, nearest_places, read_osm_places


@pytest.fixture(scope="module")
def taetorter(shared_data: Path) -> gpd.GeoDataFrame:
    return read_osm_places(shared_data / "population" / "taetorter.osm.xml")


def test_reads_every_tätort(taetorter: gpd.GeoDataFrame) -> None:
    assert len(taetorter) == 1956  # every SCB tätort node has a name and a place tag
    assert taetorter.crs.to_epsg() == 3006
    assert taetorter["population"].sum() == 7_363_324
    assert set(taetorter["place"]) <= set(SETTLEMENT_PLACES)
    visby = taetorter[taetorter["name"] == "Visby"]
    assert len(visby) == 1 and visby["population"].iloc[0] > 20_000


def test_nearest_place_matches_brute_force(taetorter: gpd.GeoDataFrame) -> None:
    rng = np.random.default_rng(14)
    base = taetorter.geometry.sample(300, random_state=1)
    x = base.x.to_numpy() + rng.uniform(-20_000, 20_000, len(base))
    y = base.y.to_numpy() + rng.uniform(-20_000, 20_000, len(base))
    points = gpd.GeoDataFrame(geometry=shapely.points(x, y), crs=3006).to_crs(4326)
    found = nearest_places(points, taetorter)
    px, py = taetorter.geometry.x.to_numpy(), taetorter.geometry.y.to_numpy()
    d = np.hypot(x[:, None] - px[None, :], y[:, None] - py[None, :])  # every pair, m
    best = d.argmin(axis=1)
    np.testing.assert_allclose(found["place_distance_m"], d.min(axis=1), atol=0.1)
    names = taetorter["name"].to_numpy()
    tied = np.isclose(d, d.min(axis=1)[:, None], atol=0.05).sum(axis=1) > 1
    assert (found["place"].to_numpy()[~tied] == names[best][~tied]).all()


def test_andorra_places_and_empty_points(andorra_pbf: Path) -> None:
    places = read_osm_places(andorra_pbf)
    assert len(places) == 60 and places.crs.to_epsg() == 32631  # Andorra's UTM zone
    assert {"town", "village", "hamlet"} <= set(places["place"])
    town = places[places["place"] == "town"].iloc[[0]]
    here = nearest_places(town, places)
    assert here["place"].iloc[0] == town["name"].iloc[0] and here["place_distance_m"].iloc[0] == 0
    empty = gpd.GeoDataFrame(geometry=[shapely.Point(), town.geometry.iloc[0]], crs=places.crs)
    out = nearest_places(empty, places)
    assert out["place"].iloc[0] is None and np.isnan(out["place_distance_m"].iloc[0])
    assert out["place"].iloc[1] == town["name"].iloc[0]


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"missing\.osm: file not found"):
        read_osm_places(tmp_path / "missing.osm")
    (tmp_path / "places.csv").write_text("name\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="not an OSM file name"):
        read_osm_places(tmp_path / "places.csv")
    (tmp_path / "bad.osm").write_text("<osm><node", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad\.osm is not a readable OSM file"):
        read_osm_places(tmp_path / "bad.osm")
