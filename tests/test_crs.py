"""Distances outside Sweden: a network at 55° W, checked against geodesic distances.

SWEREF 99 TM (EPSG:3006) is centred on 15° E; at 55° W, 5.8° N it stretches
distances by a factor of about 2.9. Everything metric (access legs,
``max_snap_m``, the boundary buffer, isochrone buffers and ``area_km2``, the
response-time surface) must instead be measured in the UTM zone of the data
(21N here). The expected values are geodesic distances and areas on the
WGS 84 ellipsoid (pyproj ``Geod``), computed from the coordinates the test
writes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from conftest import write_osm_xml

from planner.analysis.isochrones import IsochroneSettings
from planner.inputs.demand import validate_demand
from planner.inputs.sites import read_stations, validate_stations
from planner.network.crs import metric_crs, metric_crs_of
from planner.network.road_network import NetworkSettings, RoadNetwork, build_network
from planner.network.snapping import snap_points
from planner.outputs.maps import response_surface
from planner.run.pipeline import run_coverage, run_isochrones, write_coverage

GEOD = pyproj.Geod(ellps="WGS84")
LAT = 5.8  # near Paramaribo: 70° of longitude from SWEREF 99 TM's central meridian
LON0 = -55.2
STEP = 0.0025  # degrees of longitude between nodes, about 277 m here
#: A two-way residential road along the parallel, nodes 1-9 west to east.
NODES = {i + 1: (LON0 + i * STEP, LAT) for i in range(9)}
WAYS = [(1, list(NODES), {"highway": "residential"})]
UTM_21N = "EPSG:32621"
ACCESS_MPS = 15 / 3.6


def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def north_of(lon: float, distance_m: float) -> shapely.Point:
    """The point ``distance_m`` (geodesic) north of (lon, LAT)."""
    x, y, _ = GEOD.fwd(lon, LAT, 0.0, distance_m)
    return shapely.Point(x, y)


@pytest.fixture(scope="module")
def osm_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_osm_xml(tmp_path_factory.mktemp("w55") / "w55.osm", NODES, WAYS)


@pytest.fixture(scope="module")
def net(osm_file: Path) -> RoadNetwork:
    return build_network(osm_file, settings=NetworkSettings(simplify=False))


def test_metric_crs_rule() -> None:
    """EPSG:3006 inside its area of use (Swedish results unchanged), else the UTM zone."""
    assert metric_crs(18.07, 59.33) == "EPSG:3006"  # Stockholm
    assert metric_crs([20.26, 20.30], [63.80, 63.84]) == "EPSG:3006"  # Umeå
    assert metric_crs(1.52, 42.51) == "EPSG:32631"  # Andorra
    assert metric_crs(24.94, 60.17) == "EPSG:32635"  # Helsinki, east of 24.17° E
    assert metric_crs(LON0, LAT) == UTM_21N
    assert metric_crs(-55.0, -25.0) == "EPSG:32721"  # south of the equator
    assert metric_crs(15.0, 88.0) == "EPSG:32661"  # beyond UTM: UPS north
    assert metric_crs(np.array([np.nan]), np.array([np.nan])) == "EPSG:3006"
    # the stretch this avoids: SWEREF 99 TM's scale factor here
    factors = pyproj.Proj("EPSG:3006").get_factors(LON0, LAT)
    assert factors.meridional_scale > 2.8
    local = pyproj.Proj(UTM_21N).get_factors(LON0, LAT)
    assert local.meridional_scale == pytest.approx(1.0, abs=2e-4)


def test_network_is_in_the_local_utm_zone_with_geodesic_lengths(net: RoadNetwork) -> None:
    assert net.crs == UTM_21N == net.graph.graph["crs"]
    assert net.metadata()["crs"] == UTM_21N and net.summary()["crs"] == UTM_21N
    to_lonlat = pyproj.Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    for u, v, d in net.graph.edges(data=True):
        truth = geodesic_m(NODES[u], NODES[v])
        # OSM lengths are great-circle distances (OSMnx's sphere): within 0.2 % of the ellipsoid
        assert d["length"] == pytest.approx(truth, rel=2e-3)
        # the projected geometry, which snapping, buffers and areas use: within 0.05 %
        a, b = net.graph.nodes[u], net.graph.nodes[v]
        assert math.hypot(b["x"] - a["x"], b["y"] - a["y"]) == pytest.approx(truth, rel=5e-4)
        assert d["travel_time"] == pytest.approx(d["length"] / (40 * 1.15 / 3.6), rel=1e-12)
    for n, data in net.graph.nodes(data=True):
        lon, lat = to_lonlat.transform(data["x"], data["y"])
        assert geodesic_m((lon, lat), NODES[n]) < 1e-6


def test_access_legs_and_max_snap_are_geodesic(net: RoadNetwork) -> None:
    """Points 100, 450 and 550 m (geodesic) north of the road; the limit is 500 m."""
    mid = (NODES[2][0] + NODES[3][0]) / 2
    points = gpd.GeoSeries([north_of(mid, d) for d in (100.0, 450.0, 550.0)], crs="EPSG:4326")
    s = snap_points(net.graph, points)
    np.testing.assert_allclose(s.snap_distance_m, [100.0, 450.0, 550.0], rtol=5e-4)
    np.testing.assert_allclose(s.access_s[:2], np.array([100.0, 450.0]) / ACCESS_MPS, rtol=5e-4)
    assert s.status.tolist() == ["ok", "ok", "far_from_road"]
    to_lonlat = pyproj.Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(s.snap_x, s.snap_y)
    for i in range(2):  # snapped onto the road, straight south of the point
        assert geodesic_m((lon[i], lat[i]), (mid, LAT)) < 0.5


def test_boundary_buffer_is_geodesic(osm_file: Path) -> None:
    """A 1 km buffer around a box ending at node 5 keeps nodes 830 m beyond it, not 1,107 m."""
    box = shapely.box(LON0 - 0.001, LAT - 0.01, NODES[5][0], LAT + 0.01)
    net = build_network(
        osm_file, boundary=box, boundary_name="box",
        settings=NetworkSettings(buffer_km=1.0, simplify=False),
    )  # fmt: skip
    assert net.crs == UTM_21N
    beyond = {n: geodesic_m(NODES[5], NODES[n]) for n in (6, 7, 8, 9)}
    assert 800 < beyond[8] < 1000 < beyond[9]
    assert set(net.graph.nodes) == {1, 2, 3, 4, 5, 6, 7, 8}


def test_isochrone_buffers_and_areas_are_geodesic(net: RoadNetwork) -> None:
    """The whole road is reached: its band is a 100 m buffer of it, in true metres and km²."""
    stations = validate_stations(
        gpd.GeoDataFrame({"name": ["West end"]}, geometry=[shapely.Point(*NODES[1])], crs=4326),
        check_sweden=False,
    )
    assert stations.crs == UTM_21N
    settings = IsochroneSettings(thresholds_min=(10,), buffer_m=100.0)
    fleet, per_station, catchments, _ = run_isochrones(net, stations, settings=settings)
    assert fleet.crs == per_station.crs == catchments.crs == UTM_21N
    band = fleet.geometry.iloc[0]
    length = geodesic_m(NODES[1], NODES[9])
    stadium = 2 * 100.0 * length + math.pi * 100.0**2
    lonlat = gpd.GeoSeries([band], crs=fleet.crs).to_crs("EPSG:4326").iloc[0]
    geodesic_area, _ = GEOD.geometry_area_perimeter(lonlat)
    assert fleet["area_km2"].iloc[0] * 1e6 == pytest.approx(abs(geodesic_area), rel=1e-3)
    assert abs(geodesic_area) == pytest.approx(stadium, rel=0.05)
    # its outline (every 10 m of it) lies within the buffer plus a cell diagonal (95 m) of
    # the road, geodesically, and reaches at least the buffer's width across it
    outline = gpd.GeoSeries([shapely.segmentize(band, 10.0)], crs=fleet.crs).to_crs(4326)
    lon, lat = shapely.get_coordinates(outline.iloc[0]).T
    inside = (lon >= NODES[1][0]) & (lon <= NODES[9][0])
    across = np.abs(GEOD.inv(lon, lat, lon, np.full_like(lat, LAT))[2])
    assert across[inside].max() <= 100.0 + 95.0
    assert across[inside].max() >= 100.0
    ends = np.minimum(
        GEOD.inv(lon, lat, np.full_like(lon, NODES[1][0]), np.full_like(lat, LAT))[2],
        GEOD.inv(lon, lat, np.full_like(lon, NODES[9][0]), np.full_like(lat, LAT))[2],
    )
    assert ends[~inside].max() <= 100.0 + 95.0


def test_coverage_outputs_and_metadata_use_the_local_crs(net: RoadNetwork, tmp_path: Path) -> None:
    csv = tmp_path / "stations.csv"
    csv.write_text(f"name,lon,lat\nWest,{NODES[1][0]},{LAT}\nEast,{NODES[9][0]},{LAT}\n")
    stations = read_stations(csv, check_sweden=False)
    assert stations.crs == UTM_21N
    east_west = stations.geometry.iloc[0].distance(stations.geometry.iloc[1])
    assert east_west == pytest.approx(geodesic_m(NODES[1], NODES[9]), rel=5e-4)
    mid = (NODES[4][0] + NODES[5][0]) / 2
    demand = validate_demand(
        gpd.GeoDataFrame(
            {"demand_id": ["a", "b"], "weight": [10.0, 5.0], "municipality_code": "W55",
             "municipality": "W55", "region_code": "W55", "region": "W55"},
            geometry=[north_of(mid, 200.0), north_of(mid, 700.0)],
            crs="EPSG:4326",
        )
    )  # fmt: skip
    assert demand.crs == UTM_21N
    result = run_coverage(net, stations, demand)
    assert result.metadata["crs"] == UTM_21N
    for layer in (result.stations, result.demand, result.road_nodes, result.fleet_bands):
        assert layer.crs == UTM_21N
    np.testing.assert_allclose(result.demand["snap_distance_m"], [200.0, 700.0], rtol=5e-4)
    assert result.demand["snap_status"].tolist() == ["ok", "far_from_road"]
    # drive along the road from the nearer end, plus a 200 m access leg at 15 km/h
    half = geodesic_m(NODES[1], (mid, LAT))
    drive = result.demand["drive_s"].iloc[0]
    assert drive == pytest.approx(half / (46 / 3.6) + 200.0 / ACCESS_MPS, rel=2e-3)
    paths = write_coverage(result, tmp_path / "out")
    meta = json.loads(Path(f"{paths['coverage_total']}.meta.json").read_text(encoding="utf-8"))
    assert meta["crs"] == UTM_21N
    assert gpd.read_file(paths["gpkg"], layer="isochrones").crs == UTM_21N
    # the response-time surface: hexagons 200 m across flats, on the ground
    cells = response_surface(result.road_nodes, cell_m=200.0)
    assert cells.crs == metric_crs_of(result.road_nodes) == UTM_21N
    hexagon = cells.to_crs("EPSG:4326").geometry.iloc[0]
    assert abs(GEOD.geometry_area_perimeter(hexagon)[0]) == pytest.approx(
        math.sqrt(3) / 2 * 200.0**2, rel=1e-3
    )
