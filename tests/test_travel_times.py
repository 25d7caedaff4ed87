"""Tests of planner.network.travel_times against networkx's Dijkstra on the real networks.

Node-to-node times are compared with ``networkx.single_source_dijkstra_path_length``.
Point-to-point times are compared with a brute force: each snapped point is
inserted into a copy of the graph as a node on its road (splitting the edge,
and its reverse twin, in proportion to the travel time), with the access legs
as extra edges, and networkx's Dijkstra is run on that.
"""

from __future__ import annotations

import itertools
import math
import re

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import points_near_nodes

from planner.errors import ParameterError
from planner.network import engine
from planner.network.road_network import RoadNetwork, summarise_components
from planner.network.snapping import SnappedPoints, snap_points
from planner.network.travel_times import (
    TravelTimeGraph,
    build_travel_time_graph,
    nearest_point_source,
    nearest_source,
    node_times,
    point_times,
    validate_cutoff,
)

NETS = ["andorra_net", "sodermalm_net", "umea_net"]


@pytest.fixture(scope="module")
def ttgs(request: pytest.FixtureRequest) -> dict[str, TravelTimeGraph]:
    return {name: build_travel_time_graph(request.getfixturevalue(name).graph) for name in NETS}


def _sources(graph: nx.MultiDiGraph, n: int, seed: int = 0) -> np.ndarray:
    ids = np.array(sorted(graph.nodes), dtype=np.int64)
    return np.random.default_rng(seed).choice(ids, size=n, replace=False)


def _nx_matrix(
    graph: nx.MultiDiGraph, sources: np.ndarray, node_ids: np.ndarray, cutoff: float | None = None
) -> np.ndarray:
    out = np.full((len(sources), len(node_ids)), np.inf)
    col = {int(n): j for j, n in enumerate(node_ids)}
    for i, s in enumerate(sources):
        dist = nx.single_source_dijkstra_path_length(
            graph, int(s), cutoff=cutoff, weight="travel_time"
        )
        for node, t in dist.items():
            out[i, col[node]] = t
    return out


def _assert_times_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert not np.isnan(actual).any()
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------
# Node to node
# ---------------------------------------------------------------------------


def test_travel_time_graph_layout(andorra_net: RoadNetwork, ttgs: dict) -> None:
    g = andorra_net.graph
    ttg = ttgs["andorra_net"]
    assert ttg.n_nodes == g.number_of_nodes() == 1_179
    assert set(ttg.node_ids.tolist()) == set(g.nodes)
    # one entry per connected ordered pair, the fastest parallel edge, no loops
    best: dict[tuple[int, int], float] = {}
    for u, v, t in g.edges(data="travel_time"):
        if u != v:
            best[(u, v)] = min(t, best.get((u, v), math.inf))
    assert ttg.matrix.nnz == len(best)
    pos = {int(n): i for i, n in enumerate(ttg.node_ids)}
    for (u, v), t in best.items():
        assert ttg.matrix[pos[u], pos[v]] == t
    np.testing.assert_array_equal(ttg.x, [g.nodes[n]["x"] for n in ttg.node_ids])


@pytest.mark.parametrize("name", NETS)
def test_node_times_match_networkx(
    name: str, request: pytest.FixtureRequest, ttgs: dict[str, TravelTimeGraph]
) -> None:
    g = request.getfixturevalue(name).graph
    ttg = ttgs[name]
    sources = _sources(g, 20)
    times = node_times(ttg, sources)
    expected = _nx_matrix(g, sources, ttg.node_ids)
    _assert_times_equal(times, expected)
    assert np.isinf(times).any()  # every file has nodes that some source cannot reach
    assert (times[np.arange(20), ttg.positions(sources)] == 0).all()


@pytest.mark.parametrize("name", NETS)
def test_node_times_with_cutoff(
    name: str, request: pytest.FixtureRequest, ttgs: dict[str, TravelTimeGraph]
) -> None:
    g = request.getfixturevalue(name).graph
    ttg = ttgs[name]
    sources = _sources(g, 20, seed=1)
    times = node_times(ttg, sources, cutoff_s=300)
    _assert_times_equal(times, _nx_matrix(g, sources, ttg.node_ids, cutoff=300))
    assert times[np.isfinite(times)].max() <= 300
    # a node exactly at the cutoff is kept, as networkx does (``<= cutoff``)
    source = sources[np.argmax(np.isfinite(times).sum(axis=1))]
    full = _nx_matrix(g, np.array([source]), ttg.node_ids)[0]
    reached = np.sort(full[np.isfinite(full) & (full > 0)])
    edge_case = reached[len(reached) // 2]
    at = node_times(ttg, [source], cutoff_s=edge_case)[0]
    expected = _nx_matrix(g, np.array([source]), ttg.node_ids, cutoff=edge_case)[0]
    _assert_times_equal(at, expected)
    assert np.isfinite(at[full == edge_case]).all()
    assert np.isinf(at[full > edge_case]).all()


def test_node_times_targets(andorra_net: RoadNetwork, ttgs: dict[str, TravelTimeGraph]) -> None:
    ttg = ttgs["andorra_net"]
    sources = _sources(andorra_net.graph, 20)
    targets = _sources(andorra_net.graph, 50, seed=7)  # a shuffled subset
    full = node_times(ttg, sources)
    sub = node_times(ttg, sources, targets=targets)
    assert sub.shape == (20, 50)
    pos = {int(n): i for i, n in enumerate(ttg.node_ids)}
    np.testing.assert_array_equal(sub, full[:, [pos[int(t)] for t in targets]])


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("cutoff", [None, 120.0])
def test_nearest_source(
    name: str, cutoff: float | None, request: pytest.FixtureRequest, ttgs: dict
) -> None:
    g = request.getfixturevalue(name).graph
    ttg = ttgs[name]
    sources = _sources(g, 20, seed=2)
    full = _nx_matrix(g, sources, ttg.node_ids, cutoff=cutoff)
    times, nearest = nearest_source(ttg, sources, cutoff_s=cutoff)
    _assert_times_equal(times, full.min(axis=0))
    reached = np.isfinite(times)
    np.testing.assert_array_equal(nearest == -1, ~reached)
    cols = np.flatnonzero(reached)
    np.testing.assert_allclose(full[nearest[cols], cols], times[cols], rtol=0, atol=1e-6)
    # each source is its own nearest
    np.testing.assert_array_equal(nearest[ttg.positions(sources)], np.arange(20))


def test_nearest_source_repeated_sources(
    sodermalm_net: RoadNetwork, ttgs: dict[str, TravelTimeGraph]
) -> None:
    ttg = ttgs["sodermalm_net"]
    s = _sources(sodermalm_net.graph, 3, seed=3)
    times, nearest = nearest_source(ttg, [s[0], s[1], s[0], s[2]])
    t2, n2 = nearest_source(ttg, s)
    np.testing.assert_array_equal(times, t2)
    # the first position of a repeated source is reported
    np.testing.assert_array_equal(nearest, np.select([n2 == 2, n2 == 1], [3, 1], n2))


@pytest.fixture
def always_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the worker pool even for Andorra's small work (normally run in-process)."""
    monkeypatch.setattr(engine, "_PARALLEL_MIN_WORK", 0)


def test_small_work_stays_in_process(
    andorra_net: RoadNetwork, ttgs: dict[str, TravelTimeGraph], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a process pool was started for a small problem")

    monkeypatch.setattr(engine, "ProcessPoolExecutor", no_pool)
    sources = _sources(andorra_net.graph, 140, seed=4)
    assert np.isfinite(node_times(ttgs["andorra_net"], sources, workers=2)).any()


@pytest.mark.usefixtures("always_parallel")
def test_workers_give_identical_results(
    andorra_net: RoadNetwork, ttgs: dict[str, TravelTimeGraph]
) -> None:
    ttg = ttgs["andorra_net"]
    sources = _sources(andorra_net.graph, 140, seed=4)  # 3 blocks of at most 64
    one = node_times(ttg, sources, workers=1)
    two = node_times(ttg, sources, workers=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(
        node_times(ttg, sources, workers=2, cutoff_s=200), node_times(ttg, sources, cutoff_s=200)
    )


def test_zero_times_parallel_edges_and_loops_by_hand() -> None:
    """Explicit zero-time edges count as edges; the fastest parallel edge is used."""
    g = nx.MultiDiGraph(crs="EPSG:3006")
    for n in range(1, 6):
        g.add_node(n, x=float(n), y=0.0)
    g.add_edge(1, 2, travel_time=0.0)
    g.add_edge(2, 3, travel_time=7.0)
    g.add_edge(2, 3, travel_time=5.0)
    g.add_edge(3, 3, travel_time=1.0)
    g.add_edge(3, 4, travel_time=0.0)
    g.add_edge(4, 1, travel_time=2.0)
    ttg = build_travel_time_graph(g)
    times = node_times(ttg, [1, 3, 5])
    expected = np.array(
        [[0, 0, 5, 5, math.inf], [2, 2, 0, 0, math.inf], [math.inf] * 4 + [0]], dtype=float
    )
    pos = ttg.positions([1, 2, 3, 4, 5])
    np.testing.assert_array_equal(times[:, pos], expected)
    _assert_times_equal(times, _nx_matrix(g, np.array([1, 3, 5]), ttg.node_ids))
    t, near = nearest_source(ttg, [3, 1])
    np.testing.assert_array_equal(t[pos], [0, 0, 0, 0, math.inf])
    np.testing.assert_array_equal(near[pos], [1, 1, 0, 0, -1])


# ---------------------------------------------------------------------------
# Snapped points, against a brute force on a split graph
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


def _twin(
    graph: nx.MultiDiGraph, lines: dict, edge: tuple[int, int, int]
) -> tuple[int, int, int] | None:
    """The opposite-direction edge along the same line (reversed geometry), if any."""
    u, v, _ = edge
    reverse = lines[edge].reverse()
    found = [
        (v, u, k)
        for k in graph.get_edge_data(v, u, default={})
        if (v, u, k) != edge and lines[(v, u, k)].equals_exact(reverse, 1e-6)
    ]
    assert len(found) <= 1
    return found[0] if found else None


def brute_force(graph: nx.MultiDiGraph, s: SnappedPoints) -> tuple[np.ndarray, np.ndarray]:
    """(point -> point times, point -> node times) by Dijkstra on a split graph.

    Every position where a point meets its road becomes a node ``("X", road,
    fraction)`` that splits the road's edge (and its reverse twin) in
    proportion to the travel time; points at the same position share it.
    Node ``("O", i)`` is origin point i and ``("D", i)`` destination point i;
    both join their position by the access leg. A point joined to a road node
    (``s.node``) joins that node instead.
    """
    lines = _edge_lines(graph)
    h = nx.MultiDiGraph()
    h.add_nodes_from(graph.nodes)
    h.add_edges_from(
        (u, v, k, {"w": d["travel_time"]}) for u, v, k, d in graph.edges(keys=True, data=True)
    )
    roads: dict[tuple[int, int, int], set[float]] = {}
    for i in range(len(s)):
        if s.status[i] == "far_from_road":
            continue
        if s.node[i] >= 0:  # at a road node: joined to the node itself
            h.add_edge(("O", i), int(s.node[i]), w=float(s.access_s[i]))
            h.add_edge(int(s.node[i]), ("D", i), w=float(s.access_s[i]))
            continue
        edge = (int(s.edge_u[i]), int(s.edge_v[i]), int(s.edge_key[i]))
        twin = _twin(graph, lines, edge)
        road, f = (edge, float(s.fraction[i]))
        if twin is not None and twin < edge:
            road, f = twin, 1.0 - f
        roads.setdefault(road, set()).add(f)
        h.add_edge(("O", i), ("X", road, f), w=float(s.access_s[i]))
        h.add_edge(("X", road, f), ("D", i), w=float(s.access_s[i]))
    for road, fractions in roads.items():
        along = sorted(fractions)
        twin = _twin(graph, lines, road)
        directions = [(road, [(f, ("X", road, f)) for f in along])]
        if twin is not None:
            directions.append((twin, [(1.0 - f, ("X", road, f)) for f in reversed(along)]))
        for (u, v, k), stops in directions:
            tt = graph.edges[u, v, k]["travel_time"]
            h.remove_edge(u, v, k)
            chain = [(0.0, u), *stops, (1.0, v)]
            for (f0, a), (f1, b) in itertools.pairwise(chain):
                h.add_edge(a, b, w=(f1 - f0) * tt)
    nodes = list(graph.nodes)
    to_points = np.full((len(s), len(s)), np.inf)
    to_nodes = np.full((len(s), len(nodes)), np.inf)
    for i in range(len(s)):
        if ("O", i) not in h:
            continue
        dist = nx.single_source_dijkstra_path_length(h, ("O", i), weight="w")
        for j in range(len(s)):
            to_points[i, j] = dist.get(("D", j), np.inf)
        to_nodes[i] = [dist.get(n, np.inf) for n in nodes]
    return to_points, to_nodes


def _same_edge_points(graph: nx.MultiDiGraph) -> list[shapely.Point]:
    """Two points on the longest two-way road, two on the longest one-way road."""
    lines = _edge_lines(graph)
    plain = [e for e in lines if e[0] != e[1]]
    two_way = max((e for e in plain if _twin(graph, lines, e)), key=lambda e: lines[e].length)
    one_way = max((e for e in plain if not _twin(graph, lines, e)), key=lambda e: lines[e].length)
    return [
        lines[e].interpolate(f, normalized=True) for e in (two_way, one_way) for f in (0.3, 0.7)
    ]


@pytest.fixture(scope="module", params=["andorra_net", "sodermalm_net"])
def snapped_case(
    request: pytest.FixtureRequest, ttgs: dict[str, TravelTimeGraph]
) -> tuple[nx.MultiDiGraph, TravelTimeGraph, SnappedPoints, np.ndarray, np.ndarray]:
    g = request.getfixturevalue(request.param).graph
    pts = _same_edge_points(g) + points_near_nodes(g, 26, seed=5)
    snapped = snap_points(g, gpd.GeoSeries(pts, crs=g.graph["crs"]))
    return (g, ttgs[request.param], snapped, *brute_force(g, snapped))


def test_point_times_match_brute_force(snapped_case: tuple) -> None:
    _, ttg, s, to_points, _ = snapped_case
    assert len(s) == 30
    # the hand-placed pairs really share a road, one two-way and one one-way
    assert s.edge_group[0] == s.edge_group[1]
    assert s.edge_group[2] == s.edge_group[3]
    assert np.isfinite(s.group_backward_s[0])
    assert np.isinf(s.group_backward_s[2])
    times = point_times(ttg, s, destinations=s)
    _assert_times_equal(times, to_points)
    np.testing.assert_allclose(np.diag(times), 2 * s.access_s, atol=1e-9)
    # along the one-way road forward, and all the way round backward
    assert times[2, 3] < times[3, 2]
    assert np.isfinite(times).mean() > 0.3


def test_point_times_to_nodes_match_brute_force(snapped_case: tuple) -> None:
    g, ttg, s, _, to_nodes = snapped_case
    times = point_times(ttg, s)
    order = {n: j for j, n in enumerate(g.nodes)}
    _assert_times_equal(times, to_nodes[:, [order[int(n)] for n in ttg.node_ids]])


def test_point_times_with_cutoff(snapped_case: tuple) -> None:
    _, ttg, s, to_points, _ = snapped_case
    times = point_times(ttg, s, destinations=s, cutoff_s=90)
    _assert_times_equal(times, np.where(to_points <= 90, to_points, np.inf))


def test_nearest_point_source_matches_brute_force(snapped_case: tuple) -> None:
    _, ttg, s, to_points, _ = snapped_case
    origins = _subset(s, np.arange(8))
    times, nearest = nearest_point_source(ttg, origins, destinations=s)
    expected = to_points[:8].min(axis=0)
    _assert_times_equal(times, expected)
    reached = np.isfinite(times)
    np.testing.assert_array_equal(nearest == -1, ~reached)
    cols = np.flatnonzero(reached)
    np.testing.assert_allclose(to_points[nearest[cols], cols], times[cols], atol=1e-6)


def _subset(s: SnappedPoints, rows: np.ndarray) -> SnappedPoints:
    return SnappedPoints(**{f: getattr(s, f)[rows] for f in s.__dataclass_fields__})


@pytest.mark.usefixtures("always_parallel")
def test_point_times_workers(andorra_net: RoadNetwork, ttgs: dict[str, TravelTimeGraph]) -> None:
    g = andorra_net.graph
    s = snap_points(g, gpd.GeoSeries(points_near_nodes(g, 130, seed=6), crs=g.graph["crs"]))
    ttg = ttgs["andorra_net"]
    dest = _subset(s, np.arange(40))
    np.testing.assert_array_equal(
        point_times(ttg, s, destinations=dest, workers=2), point_times(ttg, s, destinations=dest)
    )


def test_far_points_get_no_times(sodermalm_net: RoadNetwork, ttgs: dict) -> None:
    g = sodermalm_net.graph
    x, y = g.nodes[next(iter(g.nodes))]["x"], g.nodes[next(iter(g.nodes))]["y"]
    pts = gpd.GeoSeries(
        [shapely.Point(x + 5, y), shapely.Point(x + 5000, y + 5000)], crs=g.graph["crs"]
    )
    s = snap_points(g, pts)
    assert s.status[1] == "far_from_road"
    times = point_times(ttgs["sodermalm_net"], s, destinations=s)
    assert np.isfinite(times[0, 0])
    assert np.isinf(times[1]).all()
    assert np.isinf(times[:, 1]).all()
    t, near = nearest_point_source(ttgs["sodermalm_net"], _subset(s, np.array([1])), destinations=s)
    assert np.isinf(t).all()
    assert (near == -1).all()


@pytest.mark.parametrize("kind", ["one_way", "two_way"])
def test_points_on_a_loop(kind: str, andorra_net: RoadNetwork, ttgs: dict) -> None:
    """Andorra has one-way and two-way self-loops (turning loops at a road's end)."""
    g = andorra_net.graph
    lines = _edge_lines(g)
    loops = [
        e for e in lines if e[0] == e[1] and (_twin(g, lines, e) is None) == (kind == "one_way")
    ]
    assert loops, f"Andorra's network holds a {kind} loop"
    loop = loops[0]
    pts = [lines[loop].interpolate(f, normalized=True) for f in (0.1, 0.8)]
    pts += points_near_nodes(g, 4, seed=8)
    s = snap_points(g, gpd.GeoSeries(pts, crs=g.graph["crs"]))
    assert s.edge_u[0] == s.edge_v[0] == s.edge_u[1] == loop[0]
    to_points, to_nodes = brute_force(g, s)
    ttg = ttgs["andorra_net"]
    _assert_times_equal(point_times(ttg, s, destinations=s), to_points)
    order = {n: j for j, n in enumerate(g.nodes)}
    _assert_times_equal(point_times(ttg, s), to_nodes[:, [order[int(n)] for n in ttg.node_ids]])


@pytest.mark.parametrize("net", NETS)
def test_points_on_every_node_are_the_node(
    net: str, request: pytest.FixtureRequest, ttgs: dict[str, TravelTimeGraph]
) -> None:
    """A point placed exactly on a road node (every node of each real network) is that node.

    As an origin it has drive time 0 to the node and exactly the node's own
    times (``node_times``, and networkx's Dijkstra from the node); as a
    destination, times to it are exactly the times to the node, from the
    nodes and from stations off the road. Before points were joined to the
    node, Andorra had 144 (origin) and 149 (destination) of its 1,179 nodes
    wrong, by up to 364 s, and 7 lost reach to some node entirely.
    """
    g = request.getfixturevalue(net).graph
    ttg = ttgs[net]
    on_nodes = snap_points(g, gpd.GeoSeries(shapely.points(ttg.x, ttg.y), crs=g.graph["crs"]))
    np.testing.assert_array_equal(on_nodes.node, ttg.node_ids)
    np.testing.assert_array_equal(on_nodes.access_s, 0.0)
    expected = node_times(ttg, ttg.node_ids)
    as_origin = point_times(ttg, on_nodes)
    np.testing.assert_array_equal(np.diag(as_origin), 0.0)
    np.testing.assert_array_equal(as_origin, expected)
    _assert_times_equal(as_origin, _nx_matrix(g, ttg.node_ids, ttg.node_ids))
    np.testing.assert_array_equal(point_times(ttg, on_nodes, destinations=on_nodes), expected)
    stations = snap_points(g, gpd.GeoSeries(points_near_nodes(g, 12, seed=3), crs=g.graph["crs"]))
    np.testing.assert_array_equal(
        point_times(ttg, stations, destinations=on_nodes), point_times(ttg, stations)
    )


def test_point_on_a_two_way_loop_by_hand() -> None:
    """Road 10 <-> 11 (100 m, 10 s) and at 11 a two-way loop of 400 m (40 s each way).

    A point 10 m outside the loop's far side is 150 m along it one way and
    250 m the other: 15 s (+ 2.4 s access at 15 km/h) to node 11, 10 s more to 10.
    """
    x0, y0 = 600_000.0, 6_600_000.0
    ring = [(x0 + x, y0 + y) for x, y in [(100, 0), (200, 0), (200, 100), (100, 100), (100, 0)]]
    g = nx.MultiDiGraph(crs="EPSG:3006")
    g.add_node(10, x=x0, y=y0)
    g.add_node(11, x=x0 + 100, y=y0)
    g.add_edge(10, 11, travel_time=10.0, length=100.0)
    g.add_edge(11, 10, travel_time=10.0, length=100.0)
    g.add_edge(11, 11, travel_time=40.0, length=400.0, geometry=shapely.LineString(ring))
    g.add_edge(11, 11, travel_time=40.0, length=400.0, geometry=shapely.LineString(ring[::-1]))
    summarise_components(g)
    s = snap_points(g, gpd.GeoSeries([shapely.Point(x0 + 210, y0 + 50)], crs="EPSG:3006"))
    assert s.access_s[0] == pytest.approx(2.4)
    ttg = build_travel_time_graph(g)
    times = point_times(ttg, s)[0]
    assert times[ttg.positions([11, 10])] == pytest.approx([15 + 2.4, 25 + 2.4])
    assert point_times(ttg, s, destinations=s)[0, 0] == pytest.approx(4.8)


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cutoff", "message"),
    [
        (-5, r"cutoff = -5 s: must be a positive time"),
        (0, r"cutoff = 0 s: must be a positive time"),
        (math.nan, r"cutoff = nan s: must be a positive time"),
        (48 * 3600, r"cutoff = 172800 s \(2880 min\) is absurd: use at most 24 hours"),
        ("soon", r"cutoff = 'soon': not a number of seconds"),
    ],
)
def test_bad_cutoff(cutoff: object, message: str, ttgs: dict[str, TravelTimeGraph]) -> None:
    ttg = ttgs["umea_net"]
    source = ttg.node_ids[:1]
    with pytest.raises(ParameterError, match=message):
        node_times(ttg, source, cutoff_s=cutoff)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=message):
        nearest_source(ttg, source, cutoff_s=cutoff)  # type: ignore[arg-type]
    assert validate_cutoff(None) == math.inf
    assert validate_cutoff(24 * 3600) == 86400.0


@pytest.mark.parametrize("bad_id", [123_456_789_012, -1])
def test_unknown_node_ids(bad_id: int, ttgs: dict[str, TravelTimeGraph]) -> None:
    ttg = ttgs["umea_net"]
    good = int(ttg.node_ids[0])
    text = re.escape(f"node id(s) [{bad_id}] are not in the road network")
    with pytest.raises(ParameterError, match=r"^sources: " + text):
        node_times(ttg, [good, bad_id])
    with pytest.raises(ParameterError, match=r"^targets: " + text):
        node_times(ttg, [good], targets=[bad_id])
    with pytest.raises(ParameterError, match=r"^sources: " + text):
        nearest_source(ttg, [bad_id])


def test_bad_workers_and_empty_sources(ttgs: dict[str, TravelTimeGraph]) -> None:
    ttg = ttgs["umea_net"]
    for workers in (0, -2, 1.5):
        with pytest.raises(ParameterError, match=r"workers = .*: must be a whole number >= 1"):
            node_times(ttg, ttg.node_ids[:1], workers=workers)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"sources: no source nodes given"):
        nearest_source(ttg, [])


def test_negative_edge_time_is_refused() -> None:
    g = nx.MultiDiGraph()
    g.add_edge(1, 2, travel_time=-1.0)
    with pytest.raises(ParameterError, match=r"travel_time: every edge needs a finite, non-neg"):
        build_travel_time_graph(g)
    g[1][2][0]["travel_time"] = math.nan
    with pytest.raises(ParameterError, match=r"travel_time: every edge needs a finite"):
        build_travel_time_graph(g)
