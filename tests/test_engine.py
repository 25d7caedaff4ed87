"""Tests of planner.network.engine: both engines against networkx on every real network.

The contraction hierarchy (CCH) works in whole milliseconds. Its times must
equal scipy's Dijkstra on the same millisecond-rounded weights exactly, and
networkx's Dijkstra on the exact weights within the stated bound: half a
millisecond per edge of the longer of the two shortest paths (the exact one
and the rounded one). scipy's must equal networkx to 1e-6 s, as before.
"""

from __future__ import annotations

import dataclasses
import pickle
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from planner import constants
from planner.errors import InputFileError, ParameterError
from planner.network import engine
from planner.network.dijkstra import kernel_available
from planner.network.engine import EngineSettings, Hierarchy, VirtualSources
from planner.network.matrix import compute_matrix
from planner.network.road_network import RoadNetwork
from planner.network.travel_times import (
    TravelTimeGraph,
    build_travel_time_graph,
    node_times,
    point_times,
)

NETS = ["andorra_net", "sodermalm_net", "umea_net"]
CCH = EngineSettings("cch")
SCIPY = EngineSettings("scipy")
DIJKSTRA = EngineSettings("dijkstra")
HALF_MS = constants.CCH_RESOLUTION_S / 2

needs_cch = pytest.mark.skipif(not engine.cch_available(), reason="routingkit-cch not installed")


@pytest.fixture(scope="module")
def nets(request: pytest.FixtureRequest) -> dict[str, tuple[RoadNetwork, TravelTimeGraph]]:
    """Each real network with its CSR graph and (where the wheel is installed) its hierarchy."""
    out = {}
    for name in NETS:
        net = request.getfixturevalue(name)
        ttg = build_travel_time_graph(net.graph)
        if engine.cch_available():
            ttg = dataclasses.replace(ttg, hierarchy=engine.build_hierarchy(ttg))
        out[name] = (net, ttg)
    return out


def _rounded(matrix: sp.csr_array) -> sp.csr_array:
    """The same graph with every edge time rounded to whole milliseconds (still in ms)."""
    return sp.csr_array(
        (np.rint(matrix.data * 1000.0), matrix.indices, matrix.indptr), shape=matrix.shape
    )


def _hops(pred: np.ndarray) -> np.ndarray:
    """Edges on each shortest path of a scipy predecessor array (rows = sources)."""
    depth = np.zeros(pred.shape, dtype=np.int64)
    rows = np.arange(pred.shape[0])[:, None]
    for _ in range(pred.shape[1]):
        parent = np.where(pred >= 0, pred, 0)
        new = np.where(pred >= 0, depth[rows, parent] + 1, 0)
        if np.array_equal(new, depth):
            return depth
        depth = new
    return depth


def _networkx(graph: nx.MultiDiGraph, ttg: TravelTimeGraph, sources: np.ndarray) -> tuple:
    """(times, edges per path) by networkx's Dijkstra from node rows ``sources``."""
    col = {int(v): j for j, v in enumerate(ttg.node_ids)}
    times = np.full((len(sources), ttg.n_nodes), np.inf)
    hops = np.zeros((len(sources), ttg.n_nodes), dtype=np.int64)
    for i, s in enumerate(sources):
        dist, paths = nx.single_source_dijkstra(graph, int(ttg.node_ids[s]), weight="travel_time")
        for v, t in dist.items():
            times[i, col[v]] = t
            hops[i, col[v]] = len(paths[v]) - 1
    return times, hops


def _virtual(ttg: TravelTimeGraph, k: int, seed: int) -> VirtualSources:
    """Seeded points joining the network at two nodes each, one at a single node."""
    rng = np.random.default_rng(seed)
    nodes = rng.choice(ttg.n_nodes, size=(k, 2))
    nodes[0, 1] = -1
    offset = rng.uniform(0, 90, size=(k, 2))
    return VirtualSources(nodes, offset)


def _rows(ttg: TravelTimeGraph, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(ttg.n_nodes, size=min(n, ttg.n_nodes), replace=False)


# ---------------------------------------------------------------------------
# The CCH against scipy (rounded weights, exactly) and networkx (within the bound)
# ---------------------------------------------------------------------------


@needs_cch
@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("kind", ["one-to-all", "few targets", "many targets"])
@pytest.mark.parametrize("cutoff", [None, 120.0, 600.0])
def test_cch_equals_rounded_scipy_and_networkx(
    nets: dict, name: str, kind: str, cutoff: float | None
) -> None:
    net, ttg = nets[name]
    src = _rows(ttg, 12, seed=1)
    targets = {
        "one-to-all": None,
        "few targets": _rows(ttg, 5, seed=2),
        "many targets": _rows(ttg, ttg.n_nodes // 2, seed=3),
    }[kind]
    limit = np.inf if cutoff is None else cutoff
    got = engine.many_to_many(
        ttg, src, targets, cutoff_s=limit, settings=CCH, hierarchy=ttg.hierarchy
    )
    cols = slice(None) if targets is None else targets

    # scipy on the same millisecond weights: equal, bit for bit
    ms, pred = dijkstra(_rounded(ttg.matrix), indices=src, return_predecessors=True)
    expected = ms / 1000.0
    expected[expected > limit] = np.inf
    np.testing.assert_array_equal(got, expected[:, cols])

    # networkx on the exact weights: within half a millisecond per edge
    exact, hops = _networkx(net.graph, ttg, src)
    bound = HALF_MS * np.maximum(hops, _hops(pred)) + 1e-9
    exact, bound = exact[:, cols], bound[:, cols]
    assert not np.isnan(got).any()
    if cutoff is None:  # inf exactly where networkx finds no path
        np.testing.assert_array_equal(np.isinf(got), np.isinf(exact))
    both = np.isfinite(got) & np.isfinite(exact) & (exact <= limit)
    assert np.all(np.abs(got[both] - exact[both]) <= bound[both])
    # at the cutoff, a pair may fall on either side only within the bound
    edge = np.isfinite(exact) & (exact <= limit) & np.isinf(got)
    assert np.all(exact[edge] > limit - bound[edge])
    edge = np.isfinite(got) & ~(exact <= limit)
    assert np.all(got[edge] > limit - bound[edge])
    if name == "sodermalm_net" and cutoff is None:
        assert np.isinf(got).any(), "Södermalm's pieces leave pairs unreachable"


@needs_cch
@pytest.mark.parametrize("name", NETS)
def test_cch_virtual_sources_equal_scipy_on_the_augmented_graph(nets: dict, name: str) -> None:
    net, ttg = nets[name]
    rng = np.random.default_rng(5)
    k = 9
    nodes = rng.choice(ttg.n_nodes, size=(k, 2))
    nodes[0, 1] = -1  # one source joins at a single node
    nodes[1, 1] = nodes[1, 0]  # a loop: both anchors the same node (the faster counts)
    offset = rng.uniform(0, 90, size=(k, 2))
    offset[2, 0] = np.inf  # an anchor that cannot be used
    virtual = VirtualSources(nodes, offset)
    got = engine.many_to_many(ttg, virtual, settings=CCH, hierarchy=ttg.hierarchy)

    # scipy on the augmented graph with every weight (links too) in whole ms
    aug = engine.augmented_matrix(ttg.matrix, VirtualSources(nodes, np.rint(offset * 1000) / 1000))
    ms = dijkstra(_rounded(aug), indices=np.arange(k) + ttg.n_nodes)[:, : ttg.n_nodes]
    np.testing.assert_array_equal(got, ms / 1000.0)

    # and the exact engine on the same sources within the bound (2 links + paths)
    exact = engine.many_to_many(ttg, virtual, settings=SCIPY)
    _, hops = _networkx(net.graph, ttg, np.unique(nodes[nodes >= 0]))
    fin = np.isfinite(exact)
    np.testing.assert_array_equal(np.isfinite(got), fin)
    worst = HALF_MS * (hops.max() + 1 + ttg.n_nodes)  # generous: any path of the graph
    assert np.abs(got[fin] - exact[fin]).max() <= worst


@needs_cch
def test_cch_node_times_and_point_times_through_the_network(nets: dict) -> None:
    _, ttg = nets["andorra_net"]
    ids = ttg.node_ids[_rows(ttg, 20, seed=7)]
    a = node_times(ttg, ids, settings=CCH, cutoff_s=900)
    b = node_times(ttg, ids, settings=SCIPY, cutoff_s=900)
    fin = np.isfinite(a) & np.isfinite(b)
    assert fin.sum() > 1000
    # every Andorra path has fewer than 400 edges: 0.2 s at most, in fact far less
    assert np.abs(a[fin] - b[fin]).max() < 0.2
    assert np.abs(a[fin] - b[fin]).mean() < 0.01
    # the hierarchy's times are whole milliseconds
    np.testing.assert_array_equal(np.rint(a[fin] * 1000) / 1000, a[fin])
    # points still use the exact engine (the point layer is wired later)
    assert point_times is not None


# ---------------------------------------------------------------------------
# auto, fallback, workers
# ---------------------------------------------------------------------------


def _profile_hierarchy(ratio: float, reach_s: np.ndarray) -> Hierarchy:
    empty = np.empty(0, dtype=np.int64)
    return Hierarchy(empty, empty, empty, empty, "k", np.sort(reach_s), ratio)


@needs_cch
def test_choose_engine_follows_the_profile() -> None:
    # reach: a quarter of the pairs within 600 s, all within 3,600 s
    reach = np.concatenate([np.full(25, 300.0), np.full(75, 1800.0)])
    grid = _profile_hierarchy(1.0, reach)  # a grid: the hierarchy helps little
    road = _profile_hierarchy(0.2, reach)  # real roads: it helps a lot
    n = 1_000_000
    assert grid.reach_fraction(600) == 0.25 and grid.reach_fraction(np.inf) == 1.0
    # no cutoff: the CCH wins on both (its cost is below a full search)
    assert engine.choose_engine(n, 100_000, np.inf, hierarchy=grid) == "cch"
    exact = engine.exact_engine()  # the compiled Dijkstra, or scipy's without numba
    # a short cutoff that reaches a quarter: Dijkstra, unless very few targets
    assert engine.choose_engine(n, 100_000, 600, hierarchy=grid) == exact
    assert engine.choose_engine(n, 10, 600, hierarchy=grid) == "cch"
    assert engine.choose_engine(n, 100_000, 600, hierarchy=road) == "cch"
    # all nodes at cost 0.2 vs 0.75 x a reach of 0.25: a near tie goes to Dijkstra
    assert engine.choose_engine(n, n, 600, hierarchy=road) == exact
    assert engine.choose_engine(n, n // 10, 600, hierarchy=road) == "cch"
    assert engine.choose_engine(n, 10, 200, hierarchy=road) == exact  # reaches nothing
    # points start from two nodes: twice the CCH's cost, one Dijkstra
    assert engine.choose_engine(n, n // 10, 600, hierarchy=road, seeds_per_source=2) == exact
    assert engine.choose_engine(n, n // 1000, 600, hierarchy=road, seeds_per_source=2) == "cch"
    # no hierarchy, or an explicit choice
    assert engine.choose_engine(n, 10, np.inf, hierarchy=None) == exact
    assert engine.choose_engine(n, 10, np.inf, settings=SCIPY, hierarchy=road) == "scipy"
    assert engine.choose_engine(n, 10, np.inf, settings=DIJKSTRA, hierarchy=road) == exact
    assert engine.choose_engine(n, n, 600, settings=CCH, hierarchy=grid) == "cch"


@needs_cch
def test_choose_engine_for_compiled_queries_counts_batches() -> None:
    # profiled with the compiled queries: their own (flatter) target curve, and a
    # batch of BATCH sources costs the same however full it is
    reach = np.concatenate([np.full(25, 300.0), np.full(75, 1800.0)])
    road = dataclasses.replace(_profile_hierarchy(0.2, reach), profile_engine="dijkstra+compiled")
    n, exact = 1_000_000, engine.exact_engine()
    # 10 % of the nodes as targets: 0.2 x 0.52 = 0.104 against 0.75 x 0.25
    assert engine.choose_engine(n, n // 10, 600, hierarchy=road, n_sources=64) == "cch"
    # one source pays for a tail batch (0.66 of eight lanes): 0.104 x 5.28 > 0.19 ...
    assert engine.choose_engine(n, n // 10, 600, hierarchy=road, n_sources=1) == exact
    # ... and 0.55 < 0.75 without a cutoff
    assert engine.choose_engine(n, n // 10, np.inf, hierarchy=road, n_sources=1) == "cch"
    # every node as a target (cost 1): one source (5.28 x 0.2) loses, eight (0.2) win
    assert engine.choose_engine(n, n, np.inf, hierarchy=road, n_sources=1) == exact
    assert engine.choose_engine(n, n, np.inf, hierarchy=road, n_sources=8) == "cch"
    # points start from both ends in the same upward pass: no extra cost
    assert (
        engine.choose_engine(n, n // 10, 600, hierarchy=road, seeds_per_source=2, n_sources=64)
        == "cch"
    )


@needs_cch
def test_auto_gives_the_chosen_engines_numbers(nets: dict) -> None:
    _, ttg = nets["andorra_net"]
    src = _rows(ttg, 30, seed=8)
    for cutoff in (np.inf, 60.0):
        chosen = engine.choose_engine(ttg.n_nodes, ttg.n_nodes, cutoff, hierarchy=ttg.hierarchy)
        auto = engine.many_to_many(ttg, src, cutoff_s=cutoff, hierarchy=ttg.hierarchy)
        pinned = engine.many_to_many(
            ttg, src, cutoff_s=cutoff, settings=EngineSettings(chosen), hierarchy=ttg.hierarchy
        )
        np.testing.assert_array_equal(auto, pinned)
    # Andorra is a real network: the hierarchy helps (profile measured on it)
    assert ttg.hierarchy.cch_ratio < 0.8
    assert engine.choose_engine(ttg.n_nodes, ttg.n_nodes, np.inf, hierarchy=ttg.hierarchy) == "cch"


def test_missing_wheel_falls_back_to_scipy(
    andorra_net: RoadNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    ttg = build_travel_time_graph(andorra_net.graph)
    fake = _profile_hierarchy(0.1, np.zeros(10))
    fake = dataclasses.replace(fake, order=np.arange(ttg.n_nodes))
    monkeypatch.setitem(sys.modules, "routingkit_cch", None)  # import fails
    assert not engine.cch_available()
    src = _rows(ttg, 10, seed=9)
    auto = engine.many_to_many(ttg, src, hierarchy=fake)
    exact = dijkstra(ttg.matrix, indices=src)
    np.testing.assert_array_equal(auto, exact)
    assert engine.choose_engine(ttg.n_nodes, 5, np.inf, hierarchy=fake) == engine.exact_engine()
    with pytest.raises(ParameterError, match=r"engine = 'cch' needs the routingkit-cch package"):
        engine.many_to_many(ttg, src, settings=CCH, hierarchy=fake)
    with pytest.raises(ParameterError, match="routingkit-cch"):
        engine.build_hierarchy(ttg)


def test_engine_settings_refuse_unknown_names() -> None:
    with pytest.raises(
        ParameterError, match=r"engine = 'fastest': use one of 'auto', 'dijkstra', 'scipy', 'cch'"
    ):
        EngineSettings("fastest")


@needs_cch
def test_cch_without_a_hierarchy_is_refused(andorra_net: RoadNetwork) -> None:
    ttg = build_travel_time_graph(andorra_net.graph)
    with pytest.raises(ParameterError, match="needs the network's contraction hierarchy"):
        engine.many_to_many(ttg, np.arange(3), settings=CCH)


@pytest.mark.parametrize("which", ["scipy", "cch"])
def test_workers_give_identical_results(
    nets: dict, which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if which == "cch" and not engine.cch_available():
        pytest.skip("routingkit-cch not installed")
    monkeypatch.setattr(engine, "_PARALLEL_MIN_WORK", 0)
    _, ttg = nets["andorra_net"]
    src = _rows(ttg, 150, seed=10)
    targets = _rows(ttg, 400, seed=11)
    settings = EngineSettings(which)
    for cutoff in (np.inf, 300.0):
        one = engine.many_to_many(
            ttg, src, targets, cutoff_s=cutoff, settings=settings, hierarchy=ttg.hierarchy
        )
        blocks = list(
            engine.iter_blocks(
                ttg,
                src,
                targets,
                cutoff_s=cutoff,
                settings=settings,
                hierarchy=ttg.hierarchy,
                workers=2,
                block_size=16,
            )
        )
        assert len(blocks) == 10  # the rows went through the two-slot buffer many times
        two = np.concatenate([rows for _, rows in blocks])
        np.testing.assert_array_equal(one, two)


# ---------------------------------------------------------------------------
# The hierarchy: saved without pickle, checked on loading, customised
# ---------------------------------------------------------------------------


@needs_cch
def test_hierarchy_saves_and_loads_for_the_same_network(nets: dict, tmp_path: Path) -> None:
    _, ttg = nets["umea_net"]
    h = ttg.hierarchy
    path = tmp_path / "order.npz"
    engine.save_hierarchy(path, h)
    with np.load(path, allow_pickle=False) as f:  # plain arrays only
        assert set(f.files) >= {"order", "topology_key", "reach_s", "cch_ratio"}
    back = engine.load_hierarchy(path, ttg)
    np.testing.assert_array_equal(back.order, h.order)
    assert back.cch_ratio == h.cch_ratio
    src = _rows(ttg, 10, seed=12)
    np.testing.assert_array_equal(
        engine.many_to_many(ttg, src, settings=CCH, hierarchy=back),
        engine.many_to_many(ttg, src, settings=CCH, hierarchy=h),
    )
    _, other = nets["sodermalm_net"]
    with pytest.raises(InputFileError, match="hierarchy of another road network"):
        engine.load_hierarchy(path, other)
    (tmp_path / "bad.npz").write_bytes(b"not a file")
    with pytest.raises(InputFileError, match="not a readable hierarchy file"):
        engine.load_hierarchy(tmp_path / "bad.npz", ttg)


@needs_cch
def test_customize_applies_new_weights(nets: dict) -> None:
    _, ttg = nets["andorra_net"]
    h = ttg.hierarchy
    rng = np.random.default_rng(13)
    slower = ttg.matrix.data * rng.uniform(1.0, 2.0, size=len(ttg.matrix.data))
    h2 = h.customize(slower)
    assert h2.order is h.order
    src = _rows(ttg, 10, seed=14)
    new = sp.csr_array((slower, ttg.matrix.indices, ttg.matrix.indptr), shape=ttg.matrix.shape)
    expected = dijkstra(_rounded(new), indices=src) / 1000.0
    np.testing.assert_array_equal(
        engine.many_to_many(ttg, src, settings=CCH, hierarchy=h2), expected
    )
    # the original is unchanged
    np.testing.assert_array_equal(
        engine.many_to_many(ttg, src, settings=CCH, hierarchy=h),
        dijkstra(_rounded(ttg.matrix), indices=src) / 1000.0,
    )
    with pytest.raises(ParameterError, match="need one time per arc"):
        h.customize(slower[:-1])


@needs_cch
def test_hierarchy_travels_to_worker_processes(nets: dict) -> None:
    _, ttg = nets["sodermalm_net"]
    copy = pickle.loads(pickle.dumps(ttg.hierarchy))  # only the arrays travel
    assert copy._runtime == {}
    src = _rows(ttg, 8, seed=15)
    np.testing.assert_array_equal(
        engine.many_to_many(ttg, src, settings=CCH, hierarchy=copy),
        engine.many_to_many(ttg, src, settings=CCH, hierarchy=ttg.hierarchy),
    )


def test_weights_beyond_the_hierarchy_are_refused() -> None:
    with pytest.raises(ParameterError, match="more than the hierarchy can hold"):
        engine._to_ms(np.array([1.0, 3.0e6]))


# ---------------------------------------------------------------------------
# Matrices through the engine
# ---------------------------------------------------------------------------


@needs_cch
def test_matrix_with_points_on_the_cch(nets: dict) -> None:
    from conftest import snapped_near_nodes

    net, ttg = nets["andorra_net"]
    stations = snapped_near_nodes(net.graph, 6, seed=16)
    demand = snapped_near_nodes(net.graph, 300, seed=17)
    exact = compute_matrix(ttg, stations, demand, cutoff_s=1200, settings=SCIPY).to_dense()
    fast = compute_matrix(ttg, stations, demand, cutoff_s=1200, settings=CCH).to_dense()
    reference = point_times(ttg, stations, destinations=demand, cutoff_s=1200, settings=SCIPY)
    np.testing.assert_array_equal(exact, reference)
    both = np.isfinite(exact) & np.isfinite(fast)
    assert both.sum() > 0.5 * exact.size
    assert np.abs(exact[both] - fast[both]).max() < 0.2
    # pairs on either side of the cutoff only where the exact time is near it
    differ = np.isfinite(exact) != np.isfinite(fast)
    assert np.all(np.abs(np.where(np.isfinite(exact), exact, fast)[differ] - 1200) < 0.2)
    # with two cores in this process: the same matrix
    again = compute_matrix(ttg, stations, demand, cutoff_s=1200, settings=CCH, workers=2)
    np.testing.assert_array_equal(again.to_dense(), fast)


@needs_cch
@pytest.mark.parametrize("name", NETS)
def test_compiled_and_routingkit_queries_give_the_same_times(
    nets: dict, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled CCH (numba), pyroutingkit and routingkit-cch's lists: one set of numbers."""
    _, ttg = nets[name]
    src = _rows(ttg, 20, seed=18)
    targets = _rows(ttg, 50, seed=19)
    virtual = _virtual(ttg, 12, seed=17)
    h = ttg.hierarchy
    got = {}
    for label, numba_on, prk_on in (
        ("compiled", True, True),
        ("pyroutingkit", False, True),
        ("routingkit lists", False, False),
    ):
        if label == "compiled" and not kernel_available():
            continue
        if label == "pyroutingkit" and engine._import_pyroutingkit() is None:
            continue
        with monkeypatch.context() as m:
            if not numba_on:
                m.setattr(engine, "kernel_available", lambda: False)
            if not prk_on:
                m.setattr(engine, "_import_pyroutingkit", lambda: None)
            got[label] = (
                engine.many_to_many(ttg, src, targets, settings=CCH, hierarchy=h),
                engine.many_to_many(ttg, virtual, settings=CCH, hierarchy=h, cutoff_s=900.0),
            )
    assert "routingkit lists" in got
    for label, (rows, points) in got.items():
        np.testing.assert_array_equal(rows, got["routingkit lists"][0], err_msg=label)
        np.testing.assert_array_equal(points, got["routingkit lists"][1], err_msg=label)
