"""Isochrone properties on the real networks, against independent networkx times."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.ops import substring

from planner import constants
from planner.analysis.isochrones import (
    IsochroneSettings,
    catchment_isochrones,
    demand_in_polygon,
    demand_within,
    fleet_isochrones,
    origin_edge_samples,
    sample_edges,
    station_isochrones,
)
from planner.errors import ParameterError
from planner.network.road_network import RoadNetwork
from planner.network.snapping import SnappedPoints, edge_frame, snap_points
from planner.network.travel_times import build_travel_time_graph, point_times

TURNOUT_S = 180.0
#: Acceptance bound: no polygon point farther than buffer + this from a reached road, m.
SLACK_M = 150.0


def nx_times(net: RoadNetwork, snapped: SnappedPoints) -> dict[int, float]:
    """Fastest drive time (s) from any of the snapped origins to every node, by networkx."""
    graph = nx.DiGraph()
    for u, v, d in net.graph.edges(data=True):
        w = d["travel_time"]
        if not graph.has_edge(u, v) or graph[u][v]["w"] > w:
            graph.add_edge(u, v, w=w)
    for i in range(len(snapped)):
        for node, t in zip(snapped.depart_node[i], snapped.depart_s[i], strict=True):
            if node >= 0 and np.isfinite(t):
                graph.add_edge(("origin", i), int(node), w=float(t))
    origins = [n for n in graph if isinstance(n, tuple)]
    return nx.multi_source_dijkstra_path_length(graph, origins, weight="w")


def reached_roads(net: RoadNetwork, times: dict[int, float], budget: float) -> shapely.Geometry:
    """Union of the road parts reached within ``budget`` s (partial edges cut by substring)."""
    parts = []
    for row in edge_frame(net.graph).itertuples():
        t_u = times.get(row.u, np.inf)
        if t_u > budget:
            continue
        frac = 1.0 if row.travel_time == 0 else min(1.0, (budget - t_u) / row.travel_time)
        parts.append(substring(row.geometry, 0.0, frac, normalized=True))
    return shapely.union_all(parts)


@pytest.fixture(scope="module", params=["andorra", "sodermalm", "umea"])
def case(request: pytest.FixtureRequest) -> dict[str, object]:
    net: RoadNetwork = request.getfixturevalue(f"{request.param}_net")
    ttg = build_travel_time_graph(net.graph)
    rng = np.random.default_rng(7)
    nodes = rng.choice(ttg.n_nodes, size=3, replace=False)
    stations = gpd.GeoDataFrame(
        {"name": ["A", "B", "C"]},
        geometry=gpd.points_from_xy(ttg.x[nodes] + 20.0, ttg.y[nodes] - 15.0),
        crs=net.crs,
    )
    snapped = snap_points(net.graph, stations)
    settings = IsochroneSettings(thresholds_min=(5, 8, 12))
    samples = sample_edges(net.graph, ttg, spacing_m=settings.cell_m / 2)
    own = origin_edge_samples(snapped, net.graph, spacing_m=settings.cell_m / 2)
    node_times = point_times(ttg, snapped)
    return {
        "net": net,
        "ttg": ttg,
        "snapped": snapped,
        "settings": settings,
        "node_times": node_times,
        "fleet": fleet_isochrones(
            samples, node_times, turnout_s=TURNOUT_S, settings=settings, origin_samples=own
        ),
        "stations": station_isochrones(
            samples, node_times, names=["A", "B", "C"], turnout_s=TURNOUT_S,
            settings=settings, origin_samples=own,
        ),
        "catchments": catchment_isochrones(
            samples, node_times, names=["A", "B", "C"], turnout_s=TURNOUT_S,
            settings=settings, origin_samples=own,
        ),
        "nx": nx_times(net, snapped),
    }  # fmt: skip


def test_engine_agrees_with_networkx(case: dict) -> None:
    ttg, times = case["ttg"], case["nx"]
    expected = np.array([times.get(int(n), np.inf) for n in ttg.node_ids])
    got = case["node_times"].min(axis=0)
    assert np.array_equal(np.isfinite(got), np.isfinite(expected))
    fin = np.isfinite(expected)
    np.testing.assert_allclose(got[fin], expected[fin], atol=1e-6)


def test_reached_nodes_lie_inside_their_band(case: dict) -> None:
    ttg, times = case["ttg"], case["nx"]
    t = np.array([times.get(int(n), np.inf) for n in ttg.node_ids])
    for row in case["fleet"].itertuples():
        inside = t <= row.drive_budget_s
        if not inside.any():
            continue
        assert shapely.contains_xy(row.geometry, ttg.x[inside], ttg.y[inside]).all()


def test_polygons_stay_close_to_reached_roads(case: dict) -> None:
    settings = case["settings"]
    for row in case["fleet"].itertuples():
        if row.geometry.is_empty:
            continue
        roads = reached_roads(case["net"], case["nx"], row.drive_budget_s)
        # the farthest point of a polygon from the roads lies on its boundary
        boundary = shapely.get_coordinates(row.geometry.boundary)
        dist = shapely.distance(roads, shapely.points(boundary))
        assert dist.max() <= settings.buffer_m + SLACK_M


def test_areas_are_geodesic_areas(case: dict) -> None:
    """``area_km2`` is the polygon's area on the WGS 84 ellipsoid (pyproj Geod), to 0.1 %.

    Andorra is drawn in its UTM zone; in SWEREF 99 TM its areas were about 2 % too large.
    """
    geod = pyproj.Geod(ellps="WGS84")
    for layer in ("fleet", "stations", "catchments"):
        frame = case[layer]
        frame = frame[~frame.geometry.is_empty]
        assert len(frame)
        lonlat = frame.to_crs("EPSG:4326").geometry
        true_km2 = [abs(geod.geometry_area_perimeter(g)[0]) / 1e6 for g in lonlat]
        np.testing.assert_allclose(frame["area_km2"], true_km2, rtol=1e-3)


def test_bands_nest(case: dict) -> None:
    for frame in (case["fleet"], case["stations"]):
        key = "station" if "station" in frame else None
        groups = frame.groupby(key) if key else [(None, frame)]
        for _, part in groups:
            geoms = part.sort_values("band_min").geometry.to_list()
            for inner, outer in itertools.pairwise(geoms):
                assert inner.difference(outer).area == pytest.approx(0.0, abs=1e-6)
            areas = part.sort_values("band_min")["area_km2"].to_numpy()
            assert (np.diff(areas) >= 0).all()


def test_catchments_partition_the_fleet_band(case: dict) -> None:
    fleet = case["fleet"].set_index("band_min")
    for band, part in case["catchments"].groupby("band_min"):
        union = shapely.union_all(part.geometry.to_numpy())
        assert union.symmetric_difference(fleet.loc[band, "geometry"]).area < 1e-6
        assert part["area_km2"].sum() == pytest.approx(fleet.loc[band, "area_km2"])


def test_station_band_within_fleet_band(case: dict) -> None:
    fleet = case["fleet"].set_index("band_min")
    for row in case["stations"].itertuples():
        assert row.geometry.difference(fleet.loc[row.band_min, "geometry"]).area < 1e-6


def test_holes_are_kept() -> None:
    # a square ring road of 2 km sides: the middle is far from any road
    graph = nx.MultiDiGraph(crs="EPSG:3006")
    corners = [(0, 0), (2000, 0), (2000, 2000), (0, 2000)]
    for i, (x, y) in enumerate(corners):
        graph.add_node(i, x=float(x), y=float(y))
    for i in range(4):
        for a, b in ((i, (i + 1) % 4), ((i + 1) % 4, i)):
            graph.add_edge(a, b, length=2000.0, travel_time=100.0)
    ttg = build_travel_time_graph(graph)
    stations = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0.0], [0.0]), crs="EPSG:3006")
    snapped = snap_points(graph, stations)
    samples = sample_edges(graph, ttg, spacing_m=25)
    # area by hand: an exact 100 m buffer of the ring has rounded outer corners
    exact = 2000**2 + 4 * 2000 * 100 + np.pi * 100**2 - 1800**2
    # finer cells give areas closer to the exact buffer
    for cell_m, rel in ((40.0, 0.02), (constants.ISOCHRONE_CELL_M, 0.05)):
        settings = IsochroneSettings(thresholds_min=(10,), include_turnout=False, cell_m=cell_m)
        band = fleet_isochrones(
            samples, point_times(ttg, snapped), turnout_s=0, settings=settings
        ).geometry.iloc[0]
        assert band.contains(shapely.Point(0, 1000))
        assert not band.contains(shapely.Point(1000, 1000))  # the hole
        assert len(band.geoms[0].interiors) == 1
        assert band.area == pytest.approx(exact, rel=rel)


def test_demand_in_polygon_by_hand(case: dict) -> None:
    fleet = case["fleet"]
    big = fleet.iloc[-1].geometry
    inner = big.representative_point()
    demand = gpd.GeoDataFrame(
        {"weight": [5.0, 7.0]},
        geometry=[inner, shapely.Point(inner.x + 1e6, inner.y)],
        crs=fleet.crs,
    )
    inside = demand_in_polygon(fleet, demand)
    assert inside.iloc[-1] == 5.0


def test_demand_within_by_hand() -> None:
    """Counts by each point's own time (s) against bands of 10 and 20 min, by hand."""
    weight = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    fleet_s = np.array([300.0, 600.0, 601.0, 1200.0, np.inf])  # nearest station's time
    bands = pd.DataFrame({"band_min": [10.0, 20.0]})
    assert demand_within(bands, fleet_s, weight).tolist() == [3.0, 15.0]
    # per station: A reaches points 0-2, B points 2-4 (point 4 never)
    per = np.array([[300.0, 600.0, 700.0, np.inf, np.inf], [900.0, 1300.0, 601.0, 1200.0, np.inf]])
    rows = pd.DataFrame({"station": ["A", "A", "B", "B"], "band_min": [10.0, 20.0, 10.0, 20.0]})
    assert demand_within(rows, per, weight, names=["A", "B"]).tolist() == [3.0, 7.0, 0.0, 13.0]
    # catchments: nearest A for 0, 1; B for 2, 3; none for 4
    nearest = np.array([0, 0, 1, 1, -1])
    got = demand_within(rows, fleet_s, weight, names=["A", "B"], nearest=nearest)
    assert got.tolist() == [3.0, 3.0, 0.0, 12.0]
    with pytest.raises(ParameterError, match=r"'station' column is needed"):
        demand_within(bands, per, weight, names=["A", "B"])
    with pytest.raises(ParameterError, match=r"one time \(s\) per demand point"):
        demand_within(bands, fleet_s[:3], weight)


def test_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="increasing"):
        IsochroneSettings(thresholds_min=(20, 10))
    with pytest.raises(ParameterError, match="buffer_m"):
        IsochroneSettings(buffer_m=-5)
    with pytest.raises(ParameterError, match="cell_m"):
        IsochroneSettings(cell_m=5000)
