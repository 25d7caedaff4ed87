"""The public seams between the stages, checked by hand and against independent computations.

The run layer and the analysis stage use the network stage only through
these public functions (``tests/test_layers.py`` forbids private imports):

* :func:`~planner.network.travel_times.origin_sources` with
  :func:`~planner.network.engine.augmented_matrix`: the graph searched from
  snapped points;
* :func:`~planner.network.travel_times.arrival_rows`,
  :func:`~planner.network.travel_times.arrival_times`,
  :func:`~planner.network.travel_times.same_road_pairs` and
  :func:`~planner.network.travel_times.join_same_road`: times to snapped
  points from times to nodes;
* :func:`~planner.network.travel_times.nearest_rows`,
  :func:`~planner.network.matrix.merge_nearest` and
  :func:`~planner.network.matrix.resolve_block_size`: the nearest station,
  block by block;
* :func:`~planner.analysis.station_times.station_times` and
  :func:`~planner.analysis.coverage.own_region`.

Hand cases use a tiny graph in EPSG:3006; the real cases use Andorra and
compare with networkx's Dijkstra, brute force over every order, or the dense
path.
"""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import snapped_near_nodes

from planner.analysis.coverage import own_region
from planner.analysis.isochrones import IsochroneSettings
from planner.analysis.station_times import station_times
from planner.distributed import InProcessExecutor
from planner.errors import ParameterError
from planner.network import engine
from planner.network.index import NetworkIndex, index_network
from planner.network.matrix import default_block_size, merge_nearest, resolve_block_size
from planner.network.road_network import RoadNetwork, summarise_components
from planner.network.snapping import snap_points
from planner.network.travel_times import (
    arrival_rows,
    arrival_times,
    build_travel_time_graph,
    join_same_road,
    nearest_rows,
    origin_sources,
    point_times,
    same_road_pairs,
    times_to_points,
)

X0, Y0 = 600_000.0, 6_600_000.0
ACCESS_MPS = 15 / 3.6  # the default access speed, m/s


@pytest.fixture(scope="module")
def line_graph() -> nx.MultiDiGraph:
    """0 <-> 1 <-> 2 along the x axis (500 m, 50 s; 1000 m, 100 s), then 2 -> 3 one-way (50 s)."""
    g = nx.MultiDiGraph(crs="EPSG:3006")
    for n, (x, y) in {0: (-500, 0), 1: (0, 0), 2: (1000, 0), 3: (1000, 1000)}.items():
        g.add_node(n, x=X0 + x, y=Y0 + y)
    for u, v, tt, length in [
        (0, 1, 50.0, 500.0), (1, 0, 50.0, 500.0), (1, 2, 100.0, 1000.0),
        (2, 1, 100.0, 1000.0), (2, 3, 50.0, 1000.0),
    ]:  # fmt: skip
        g.add_edge(u, v, travel_time=tt, length=length)
    summarise_components(g)
    return g


def _points(*xy: tuple[float, float]) -> gpd.GeoSeries:
    return gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y) for x, y in xy], crs="EPSG:3006")


def test_origin_sources_by_hand(line_graph: nx.MultiDiGraph) -> None:
    """A point 30 m off road 1-2, a quarter along: it departs to 1 in 25 s and to 2 in 75 s."""
    ttg = build_travel_time_graph(line_graph)
    s = snap_points(line_graph, _points((250, 30)))
    sources = origin_sources(ttg, s)
    access = 30 / ACCESS_MPS
    reached = dict(zip(ttg.node_ids[sources.nodes[0]].tolist(), sources.offset_s[0], strict=True))
    assert reached == pytest.approx({1: 25 + access, 2: 75 + access})
    # the augmented graph gives every node's time: 0 via 1, 3 via 2
    graph = engine.augmented_matrix(ttg.matrix, sources)
    row = engine.scipy_rows(graph, np.array([ttg.n_nodes]))[0, : ttg.n_nodes]
    expected = {0: 75 + access, 1: 25 + access, 2: 75 + access, 3: 125 + access}
    assert dict(zip(ttg.node_ids.tolist(), row, strict=True)) == pytest.approx(expected)


def test_origin_sources_search_equals_networkx(andorra_net: RoadNetwork) -> None:
    """Searching from the augmented graph == networkx with each point as a node of its own."""
    graph = andorra_net.graph
    ttg = build_travel_time_graph(graph)
    s = snapped_near_nodes(graph, 12, seed=3)
    augmented = engine.augmented_matrix(ttg.matrix, origin_sources(ttg, s))
    rows = engine.scipy_rows(augmented, np.arange(len(s)) + ttg.n_nodes)[:, : ttg.n_nodes]
    assert np.array_equal(rows, point_times(ttg, s))
    for i in range(len(s)):
        g = nx.MultiDiGraph(graph)  # the road network itself, not the CSR matrix
        for node, t in zip(s.depart_node[i], s.depart_s[i], strict=True):
            if node >= 0 and math.isfinite(t):
                g.add_edge("origin", int(node), travel_time=float(t))
        found = nx.single_source_dijkstra_path_length(g, "origin", weight="travel_time")
        expected = np.array([found.get(int(n), np.inf) for n in ttg.node_ids])
        np.testing.assert_allclose(rows[i], expected, rtol=0, atol=1e-6)
        assert np.array_equal(np.isinf(rows[i]), np.isinf(expected))


def test_arrivals_and_same_road_by_hand(line_graph: nx.MultiDiGraph) -> None:
    """Two points on road 1-2 (a quarter and three quarters along) and one on the one-way 2 -> 3."""
    ttg = build_travel_time_graph(line_graph)
    s = snap_points(line_graph, _points((250, 0), (750, 0), (1000, 400)))
    rows = arrival_rows(ttg, s)
    assert ttg.node_ids[rows[2][rows[2] >= 0]].tolist() == [2]  # only from 2 on a one-way road
    node_times = np.array([[0.0, 10.0, 20.0, 30.0]])  # an origin's times to nodes 0, 1, 2, 3
    order = ttg.positions([0, 1, 2, 3])
    per_node = np.empty((1, 4))
    per_node[0, order] = node_times[0]
    got = arrival_times(per_node, rows, s.arrive_s)[0]
    # point 0: from 1 (10 + 25) or 2 (20 + 75); point 1: 10 + 75 or 20 + 25; point 2: 20 + 0.4 x 50
    assert got == pytest.approx([35.0, 45.0, 40.0])
    i, j, t = same_road_pairs(s, s)
    pairs = {(int(a), int(b)): float(c) for a, b, c in zip(i, j, t, strict=True)}
    assert pairs[(0, 1)] == pytest.approx(50.0)  # half of road 1-2, no access legs (on the road)
    assert pairs[(1, 0)] == pytest.approx(50.0)
    assert pairs[(2, 2)] == pytest.approx(0.0)
    assert (0, 2) not in pairs and (2, 0) not in pairs
    times = np.full((3, 3), 1000.0)
    join_same_road(times, s, s, cutoff_s=60.0)
    assert times[0, 1] == pytest.approx(50.0) and times[2, 2] == 0.0
    assert np.isinf(times[0, 2])  # 1000 s is beyond the cutoff


def test_arrivals_equal_times_to_points(andorra_net: RoadNetwork) -> None:
    """The seams recompose times_to_points and point_times exactly on real data."""
    graph = andorra_net.graph
    ttg = build_travel_time_graph(graph)
    origins = snapped_near_nodes(graph, 15, seed=11)
    targets = snapped_near_nodes(graph, 40, seed=12)
    node = point_times(ttg, origins)
    composed = arrival_times(node, arrival_rows(ttg, targets), targets.arrive_s)
    join_same_road(composed, origins, targets)
    assert np.array_equal(composed, times_to_points(ttg, node, origins, targets))
    assert np.array_equal(composed, point_times(ttg, origins, destinations=targets))


def test_nearest_rows_against_a_loop() -> None:
    """The first of equal times, -1 where none is finite, and no origin at all."""
    times = np.array([[5.0, np.inf, 3.0, 2.0], [5.0, np.inf, 1.0, 2.0], [4.0, np.inf, 1.0, 9.0]])
    best, row = nearest_rows(times)
    assert best.tolist() == [4.0, math.inf, 1.0, 2.0]
    assert row.tolist() == [2, -1, 1, 0]
    best, row = nearest_rows(np.empty((0, 3)))
    assert np.isinf(best).all() and row.tolist() == [-1, -1, -1]


def test_merge_nearest_in_any_block_order_equals_the_dense_argmin() -> None:
    rng = np.random.default_rng(7)
    times = rng.integers(0, 6, size=(9, 50)).astype(float)  # many ties
    times[rng.random(times.shape) < 0.3] = np.inf
    expected = nearest_rows(times)
    blocks = [(lo, min(lo + 2, 9)) for lo in range(0, 9, 2)]
    for order in itertools.islice(itertools.permutations(blocks), 40):
        merged = (np.full(50, np.inf), np.full(50, -1, dtype=np.int64))
        for lo, hi in order:
            best, row = nearest_rows(times[lo:hi])
            merge_nearest(*merged, best, np.where(row >= 0, row + lo, -1))
        assert np.array_equal(merged[0], expected[0])
        assert np.array_equal(merged[1], expected[1])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_resolve_block_size(bad: object) -> None:
    assert resolve_block_size(None, 1000, 500) == default_block_size(1000, 500)
    assert resolve_block_size(7, 1000, 500) == 7
    with pytest.raises(ParameterError, match=r"block_size = .*: must be a whole number >= 1"):
        resolve_block_size(bad, 1000, 500)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def index(andorra_net: RoadNetwork) -> NetworkIndex:
    return index_network(andorra_net)


def test_station_times_dense_and_in_blocks(andorra_net: RoadNetwork, index: NetworkIndex) -> None:
    """Both ways give the dense times and their argmin, bit for bit; no station reaches nothing."""
    graph = andorra_net.graph
    stations = snapped_near_nodes(graph, 11, seed=21)
    demand = snapped_near_nodes(graph, 30, seed=22)
    names = [f"S{i}" for i in range(11)]
    dense_times = point_times(index.ttg, stations)
    expected_node = nearest_rows(dense_times)
    expected_demand = point_times(index.ttg, stations, destinations=demand)
    iso = IsochroneSettings(thresholds_min=(5.0,), cell_m=200.0)
    common = {"turnout_s": 180.0, "isochrones": iso}
    dense = station_times(graph, index, stations, demand, names, **common)  # type: ignore[arg-type]
    blocked = station_times(
        graph, index, stations, demand, names, executor=InProcessExecutor(), block_size=3,
        **common,  # type: ignore[arg-type]
    )  # fmt: skip
    for got in (dense, blocked):
        assert np.array_equal(got.to_demand, expected_demand)
        assert np.array_equal(got.node_time, expected_node[0])
        assert np.array_equal(got.node_origin, expected_node[1])
        assert got.layers is not None and len(got.layers[1]) == 11
    for a, b in zip(dense.layers or (), blocked.layers or (), strict=True):
        assert list(a.geometry.to_wkb()) == list(b.geometry.to_wkb())
    none = station_times(graph, index, None, demand, [], turnout_s=180.0, isochrones=iso)
    assert none.to_demand.shape == (0, 30) and none.layers is None
    assert np.isinf(none.node_time).all() and (none.node_origin == -1).all()


def test_own_region_by_hand() -> None:
    sites = np.array(["01", "03", None], dtype=object)
    points = np.array(["01", None, "03", float("nan")], dtype=object)
    got = own_region(sites[:, None], points[None, :])
    assert got.tolist() == [
        [True, False, False, False],
        [False, False, True, False],
        [False, False, False, False],  # a site in no region serves nobody
    ]
