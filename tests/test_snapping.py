"""Tests of planner.network.snapping: hand calculations on tiny graphs, brute force on Andorra."""

from __future__ import annotations

import math
import re

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from planner.constants import SNAP_NODE_TOLERANCE_M
from planner.errors import DataError, ParameterError
from planner.network.road_network import RoadNetwork, summarise_components
from planner.network.snapping import edge_frame, snap_points
from planner.network.travel_times import build_travel_time_graph, point_times

#: Offset of the hand-made graphs, so that they sit in Sweden (EPSG:3006, m).
X0, Y0 = 600_000.0, 6_600_000.0
ACCESS_MPS = 15 / 3.6  # default access speed, m/s


def _graph(
    nodes: dict[int, tuple[float, float]],
    edges: list[tuple[int, int, float, list[tuple[float, float]] | None]],
) -> nx.MultiDiGraph:
    """Graph in EPSG:3006 from node positions and (u, v, travel_time, geometry) edges.

    ``length`` is the geometry's length (or the straight distance between the
    nodes when no geometry is given).
    """
    g = nx.MultiDiGraph(crs="EPSG:3006")
    for n, (x, y) in nodes.items():
        g.add_node(n, x=X0 + x, y=Y0 + y)
    for u, v, tt, coords in edges:
        attrs = {"travel_time": tt}
        if coords is None:
            (ux, uy), (vx, vy) = nodes[u], nodes[v]
            attrs["length"] = math.hypot(vx - ux, vy - uy)
        else:
            line = shapely.LineString([(X0 + x, Y0 + y) for x, y in coords])
            attrs["geometry"] = line
            attrs["length"] = line.length
        g.add_edge(u, v, **attrs)
    summarise_components(g)
    return g


#: 0 <-> 1 <-> 2 -> 3 (one-way), and a separate two-way road 4 <-> 5 (m, s).
SMALL_NODES = {0: (-500, 0), 1: (0, 0), 2: (1000, 0), 3: (1000, 1000), 4: (5000, 5000),
               5: (5100, 5000)}  # fmt: skip
SMALL_EDGES: list[tuple[int, int, float, None]] = [
    (0, 1, 50.0, None),
    (1, 0, 50.0, None),
    (1, 2, 100.0, None),
    (2, 1, 100.0, None),
    (2, 3, 50.0, None),
    (4, 5, 10.0, None),
    (5, 4, 10.0, None),
]


@pytest.fixture
def small_graph() -> nx.MultiDiGraph:
    """:data:`SMALL_NODES` and :data:`SMALL_EDGES`.

    Parts: {0, 1, 2} (component 0), {4, 5} (1), {3} (2).
    """
    return _graph(SMALL_NODES, SMALL_EDGES)


def _points(xy: dict[str, tuple[float, float]]) -> gpd.GeoSeries:
    return gpd.GeoSeries(
        [shapely.Point(X0 + x, Y0 + y) for x, y in xy.values()], index=list(xy), crs="EPSG:3006"
    )


def _anchors(nodes: np.ndarray, times: np.ndarray) -> dict[int, float]:
    return {int(n): float(t) for n, t in zip(nodes, times, strict=True) if n != -1}


def test_components_of_the_small_graph(small_graph: nx.MultiDiGraph) -> None:
    table = summarise_components(small_graph)
    assert table["nodes"].tolist() == [3, 2, 1]
    assert table["edges"].tolist() == [4, 2, 0]
    np.testing.assert_allclose(table["length_km"], [3.0, 0.2, 0.0])
    comp = nx.get_node_attributes(small_graph, "component")
    assert comp == {0: 0, 1: 0, 2: 0, 3: 2, 4: 1, 5: 1}


def test_snap_by_hand(small_graph: nx.MultiDiGraph) -> None:
    pts = _points({"a": (250, 30), "b": (1010, 400), "c": (500, -800), "d": (5050, 5020)})
    s = snap_points(small_graph, pts)
    assert len(s) == 4
    assert s.labels.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_allclose(s.snap_distance_m, [30, 10, 800, 20], atol=1e-9)
    np.testing.assert_allclose(s.access_s, np.array([30, 10, 800, 20]) / ACCESS_MPS, rtol=1e-12)
    assert s.access_s[0] == pytest.approx(7.2)
    np.testing.assert_allclose(s.snap_x - X0, [250, 1000, 500, 5050], atol=1e-9)
    np.testing.assert_allclose(s.snap_y - Y0, [0, 400, 0, 5000], atol=1e-9)
    assert s.status.tolist() == ["ok", "ok", "far_from_road", "minor_component"]
    assert s.component.tolist() == [0, 0, 0, 1]

    # a: on the two-way road 1 <-> 2, a quarter of the way from 1
    assert (s.edge_u[0], s.edge_v[0]) in [(1, 2), (2, 1)]
    assert s.fraction[0] == pytest.approx(0.25 if s.edge_u[0] == 1 else 0.75)
    assert _anchors(s.depart_node[0], s.depart_s[0]) == pytest.approx({2: 75 + 7.2, 1: 25 + 7.2})
    assert _anchors(s.arrive_node[0], s.arrive_s[0]) == pytest.approx({1: 25 + 7.2, 2: 75 + 7.2})
    assert s.group_forward_s[0] == s.group_backward_s[0] == 100.0
    assert s.group_fraction[0] == pytest.approx(s.fraction[0])  # its edge is the reference

    # b: on the one-way 2 -> 3, 40 % along; only one way out and one way in
    assert (s.edge_u[1], s.edge_v[1], s.edge_key[1]) == (2, 3, 0)
    assert s.fraction[1] == pytest.approx(0.4)
    assert s.depart_node[1].tolist() == [3, -1]
    assert s.depart_s[1] == pytest.approx([0.6 * 50 + 2.4, math.inf])
    assert s.arrive_node[1].tolist() == [2, -1]
    assert s.arrive_s[1] == pytest.approx([0.4 * 50 + 2.4, math.inf])
    assert s.group_forward_s[1] == 50.0
    assert s.group_backward_s[1] == math.inf

    # c: 800 m from the nearest road: reported, not dropped, no road access
    assert s.depart_node[2].tolist() == [-1, -1]
    assert s.arrive_node[2].tolist() == [-1, -1]
    assert np.isinf(s.depart_s[2]).all()
    assert np.isinf(s.arrive_s[2]).all()

    # d: on the separate road 4 <-> 5
    assert _anchors(s.depart_node[3], s.depart_s[3]) == pytest.approx(
        {5: 5 + 20 / ACCESS_MPS, 4: 5 + 20 / ACCESS_MPS}
    )

    frame = s.to_frame()
    assert frame.index.tolist() == ["a", "b", "c", "d"]
    assert frame.loc["c", "status"] == "far_from_road"
    assert frame.loc["b", "fraction"] == pytest.approx(0.4)


def test_same_road_points_share_a_group(small_graph: nx.MultiDiGraph) -> None:
    s = snap_points(small_graph, _points({"p": (100, 5), "q": (900, -5), "r": (-100, 5)}))
    assert s.edge_group[0] == s.edge_group[1] != s.edge_group[2]
    # positions along the shared reference direction are 0.1 and 0.9 (either way round)
    assert sorted([s.group_fraction[0], s.group_fraction[1]]) == pytest.approx([0.1, 0.9])
    assert abs(s.group_fraction[0] - s.group_fraction[1]) == pytest.approx(0.8)


def test_max_distance_and_access_speed(small_graph: nx.MultiDiGraph) -> None:
    pts = _points({"a": (250, 30), "c": (500, -800)})
    s = snap_points(small_graph, pts, max_distance_m=1000.0, access_speed_kph=5.0)
    assert s.status.tolist() == ["ok", "ok"]
    assert s.access_s == pytest.approx([30 / (5 / 3.6), 800 / (5 / 3.6)])
    s = snap_points(small_graph, pts, max_distance_m=20.0)
    assert s.status.tolist() == ["far_from_road", "far_from_road"]


def test_points_in_other_crs_are_reprojected(small_graph: nx.MultiDiGraph) -> None:
    pts = _points({"a": (250, 30), "b": (1010, 400)})
    s1 = snap_points(small_graph, pts)
    s2 = snap_points(small_graph, pts.to_crs("EPSG:4326"))
    np.testing.assert_allclose(s2.snap_distance_m, s1.snap_distance_m, atol=1e-4)
    np.testing.assert_allclose(s2.fraction, s1.fraction, atol=1e-7)
    assert s2.edge_u.tolist() == s1.edge_u.tolist()


def test_curved_edge_by_hand() -> None:
    """An L-shaped two-way road 6 <-> 7 of 2 km, 200 s each way."""
    leg = [(0, 0), (1000, 0), (1000, -1000)]
    g = _graph(
        {6: (0, 0), 7: (1000, -1000)},
        [(6, 7, 200.0, leg), (7, 6, 200.0, leg[::-1])],
    )
    frame = edge_frame(g)
    assert frame.crs == "EPSG:3006"
    assert frame["length"].tolist() == [2000.0, 2000.0]
    s = snap_points(g, _points({"p": (1030, -500)}))
    assert s.snap_distance_m[0] == pytest.approx(30.0)
    assert (s.snap_x[0] - X0, s.snap_y[0] - Y0) == pytest.approx((1000.0, -500.0))
    # 1500 m along from 6 (1000 m east, then 500 m south)
    assert s.fraction[0] == pytest.approx(0.75 if s.edge_u[0] == 6 else 0.25)
    assert _anchors(s.depart_node[0], s.depart_s[0]) == pytest.approx({7: 50 + 7.2, 6: 150 + 7.2})


def test_point_on_one_way_loop_has_one_anchor() -> None:
    """A one-way loop (for example a turning loop) must not be driven backwards.

    Road 10 <-> 11, and at 11 a one-way loop of 400 m (40 s) drawn
    11 -> (200, 0) -> (200, 100) -> (100, 100) -> 11. A point 10 m east of the
    loop's far side sits 150 m (37.5 %) along it.
    """
    loop = [(100, 0), (200, 0), (200, 100), (100, 100), (100, 0)]
    g = _graph(
        {10: (0, 0), 11: (100, 0)},
        [(10, 11, 10.0, None), (11, 10, 10.0, None), (11, 11, 40.0, loop)],
    )
    s = snap_points(g, _points({"p": (210, 50)}))
    assert (s.edge_u[0], s.edge_v[0]) == (11, 11)
    assert s.fraction[0] == pytest.approx(0.375)
    assert s.access_s[0] == pytest.approx(2.4)
    # forward only: 250 m = 25 s on to 11, and 150 m = 15 s from 11
    assert s.depart_node[0].tolist() == [11, -1]
    assert s.depart_s[0] == pytest.approx([25 + 2.4, math.inf])
    assert s.arrive_node[0].tolist() == [11, -1]
    assert s.arrive_s[0] == pytest.approx([15 + 2.4, math.inf])
    assert s.group_backward_s[0] == math.inf


def test_points_at_a_junction_are_joined_to_the_node() -> None:
    """Junction 2 of 1 <-> 2 (100 s) and the one-way 2 -> 3 (50 s), by hand.

    A point on node 2, or 5 mm from it (within the 1 cm tolerance), leaves by both
    roads and is reached by the only road in. One 2 cm along the one-way road
    is on that road: it can only drive on to 3, and is reached only from 2.
    A two-way road 6 <-> 7 passes over node 1 without meeting it (a bridge),
    4 mm east of it; a point 2 mm from the bridge and 5 mm from node 1 is
    nearest the bridge but joins node 1 below it.
    """
    nodes = {n: xy for n, xy in SMALL_NODES.items() if n <= 3}
    g = _graph(
        {**nodes, 6: (0.004, -100), 7: (0.004, 100)},
        [e for e in SMALL_EDGES if e[0] <= 3] + [(6, 7, 20.0, None), (7, 6, 20.0, None)],
    )
    pts = _points(
        {"on": (1000, 0), "near": (1000.003, -0.004), "off": (1000, 0.02), "bridge": (0.006, 0.003)}
    )
    s = snap_points(g, pts)
    assert SNAP_NODE_TOLERANCE_M == 0.01
    assert s.node.tolist() == [2, 2, -1, 1]
    near_access = 0.005 / ACCESS_MPS  # 5 mm from the node (3 mm, 4 mm)
    bridge_access = math.hypot(0.006, 0.003) / ACCESS_MPS
    assert s.access_s == pytest.approx([0.0, near_access, 0.0, bridge_access], abs=1e-9)
    for i, node, access in [(0, 2, 0.0), (1, 2, near_access), (3, 1, bridge_access)]:
        assert s.snap_x[i] == g.nodes[node]["x"] and s.snap_y[i] == g.nodes[node]["y"]
        assert s.depart_node[i].tolist() == s.arrive_node[i].tolist() == [node, -1]
        assert s.depart_s[i] == pytest.approx([access, math.inf], abs=1e-9)
        assert s.arrive_s[i] == pytest.approx([access, math.inf], abs=1e-9)
        assert node in (s.edge_u[i], s.edge_v[i])
        assert s.fraction[i] == (0.0 if s.edge_u[i] == node else 1.0)
    # "off" lies 2 cm along the one-way road: it is on that road, not at the junction
    assert (s.edge_u[2], s.edge_v[2]) == (2, 3)
    assert s.depart_node[2].tolist() == [3, -1]
    assert s.arrive_node[2].tolist() == [2, -1]
    assert s.depart_s[2][0] == pytest.approx(50 * (1 - 0.02 / 1000))

    ttg = build_travel_time_graph(g)
    times = point_times(ttg, s)
    cols = ttg.positions([0, 1, 2, 3])
    assert times[0, cols] == pytest.approx([150.0, 100.0, 0.0, 50.0])
    assert times[1, cols] == pytest.approx(np.array([150.0, 100.0, 0.0, 50.0]) + near_access)
    assert times[2, cols] == pytest.approx([math.inf, math.inf, math.inf, 50 * (1 - 2e-5)])
    assert times[3, cols] == pytest.approx(np.array([50.0, 0.0, 100.0, 150.0]) + bridge_access)
    # as destinations: the junction is reached from 1 in 100 s, "off" 0.02 s later
    to_points = point_times(ttg, s, destinations=s)
    expected = [100.0, 100.0 + near_access, 100.0 + 50 * 2e-5, bridge_access]
    assert to_points[3] == pytest.approx(np.array(expected) + bridge_access)
    # from "off", the junction is only reachable the long way round: never
    assert np.isinf(to_points[2, [0, 1, 3]]).all()


def test_bad_arguments(small_graph: nx.MultiDiGraph) -> None:
    pts = _points({"a": (250, 30)})
    with pytest.raises(ParameterError, match=r"max_distance_m = 0: must be a positive distance"):
        snap_points(small_graph, pts, max_distance_m=0)
    with pytest.raises(ParameterError, match=r"max_distance_m = nan"):
        snap_points(small_graph, pts, max_distance_m=math.nan)
    for speed in (0.0, -5.0, math.nan, 400.0):
        with pytest.raises(ParameterError, match=r"access_speed_kph = .*: not a usable speed"):
            snap_points(small_graph, pts, access_speed_kph=speed)
    with pytest.raises(ParameterError, match=r"points: the layer has no CRS"):
        snap_points(small_graph, gpd.GeoSeries([shapely.Point(X0, Y0)]))
    mixed = gpd.GeoSeries(
        [shapely.Point(X0, Y0), shapely.LineString([(X0, Y0), (X0 + 1, Y0)])],
        index=["ok", "road"],
        crs="EPSG:3006",
    )
    with pytest.raises(DataError, match=re.escape("points: row 'road' is not a point")):
        snap_points(small_graph, mixed)
    with pytest.raises(DataError, match=r"the road network has no edges"):
        snap_points(nx.MultiDiGraph(crs="EPSG:3006"), pts)


# ---------------------------------------------------------------------------
# Real data: Andorra, against a brute-force nearest edge
# ---------------------------------------------------------------------------


def _edge_lines(graph: nx.MultiDiGraph) -> dict[tuple[int, int, int], shapely.LineString]:
    out = {}
    for u, v, k, d in graph.edges(keys=True, data=True):
        geom = d.get("geometry")
        if geom is None:
            a, b = graph.nodes[u], graph.nodes[v]
            geom = shapely.LineString([(a["x"], a["y"]), (b["x"], b["y"])])
        out[(u, v, k)] = geom
    return out


def test_andorra_snap_distance_is_the_nearest_edge(andorra_net: RoadNetwork) -> None:
    g = andorra_net.graph
    rng = np.random.default_rng(0)
    ids = np.array(list(g.nodes), dtype=np.int64)
    chosen = rng.choice(ids, size=200, replace=False)
    x = np.array([g.nodes[n]["x"] for n in chosen]) + rng.uniform(-250, 250, 200)
    y = np.array([g.nodes[n]["y"] for n in chosen]) + rng.uniform(-250, 250, 200)
    assert andorra_net.crs == "EPSG:32631"  # outside Sweden: the UTM zone of Andorra
    pts = gpd.GeoSeries(shapely.points(x, y), crs=andorra_net.crs)
    s = snap_points(g, pts)

    lines = _edge_lines(g)
    keys = list(lines)
    geoms = np.array([lines[k] for k in keys])
    # brute force: distance from every point to every edge
    dist = shapely.distance(pts.to_numpy()[:, None], geoms[None, :])
    np.testing.assert_allclose(s.snap_distance_m, dist.min(axis=1), rtol=0, atol=1e-6)
    assert (s.snap_distance_m < 360).all()
    assert (s.status != "far_from_road").all()

    to_lonlat = Transformer.from_crs(andorra_net.crs, "EPSG:4326", always_xy=True)
    assert to_lonlat.transform(s.snap_x, s.snap_y)[0].min() > 1.3  # still in Andorra
    for i in range(len(s)):
        key = (int(s.edge_u[i]), int(s.edge_v[i]), int(s.edge_key[i]))
        line = lines[key]
        snapped = shapely.Point(s.snap_x[i], s.snap_y[i])
        assert line.distance(snapped) < 1e-6
        assert math.hypot(x[i] - s.snap_x[i], y[i] - s.snap_y[i]) == pytest.approx(
            s.snap_distance_m[i], abs=1e-6
        )
        assert line.interpolate(s.fraction[i], normalized=True).distance(snapped) < 1e-6
        # partial-edge times from the graph's own travel_time, by hand
        tt = g.edges[key]["travel_time"]
        access = s.snap_distance_m[i] / ACCESS_MPS
        assert s.access_s[i] == pytest.approx(access, rel=1e-12)
        comp = min(g.nodes[key[0]]["component"], g.nodes[key[1]]["component"])
        if s.node[i] >= 0:  # snapped to a road's end (beyond a dead end): joined to the node
            end = key[0] if s.fraction[i] == 0.0 else key[1]
            assert s.node[i] == end
            assert (s.snap_x[i], s.snap_y[i]) == (g.nodes[end]["x"], g.nodes[end]["y"])
            assert s.depart_node[i].tolist() == s.arrive_node[i].tolist() == [end, -1]
            assert s.depart_s[i].tolist() == s.arrive_s[i].tolist() == [access, math.inf]
            assert s.component[i] == g.nodes[end]["component"]
            continue
        assert s.depart_node[i, 0] == key[1]
        assert s.depart_s[i, 0] == pytest.approx((1 - s.fraction[i]) * tt + access, rel=1e-9)
        assert s.arrive_node[i, 0] == key[0]
        assert s.arrive_s[i, 0] == pytest.approx(s.fraction[i] * tt + access, rel=1e-9)
        twins = [
            (key[1], key[0], k)
            for k in g.get_edge_data(key[1], key[0], default={})
            if lines[(key[1], key[0], k)].equals_exact(line.reverse(), 1e-6)
        ]
        if twins:
            assert s.depart_node[i, 1] == key[0]
        else:
            assert s.depart_node[i, 1] == -1
        assert s.component[i] == comp
        assert s.status[i] == ("ok" if comp == 0 else "minor_component")
