"""The compiled contraction hierarchy (planner.network.cch) against scipy's Dijkstra.

A CCH is correct for *any* contraction order, so random graphs with random
orders (and the real networks with RoutingKit's order, in test_engine.py)
must give exactly the times of scipy's Dijkstra on the same whole-millisecond
weights: loops, parallel arcs, one-way arcs, unreachable parts, several start
nodes with head starts, batches that are not full, and a cutoff.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from planner.network import cch
from planner.network.dijkstra import kernel_available

pytestmark = pytest.mark.skipif(not kernel_available(), reason="numba is not installed")


def _random_graph(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arcs (tail, head, whole ms): one-way, parallel and loop arcs included."""
    rng = np.random.default_rng(seed)
    tail = rng.integers(0, n, size=m)
    head = rng.integers(0, n, size=m)
    head[:3] = tail[:3]  # loops
    tail[3:6], head[3:6] = tail[6:9], head[6:9]  # parallel arcs (other weights)
    w = rng.integers(0, 5_000, size=m).astype(np.float64)
    return tail, head, w


def _reference(n: int, tail: np.ndarray, head: np.ndarray, w: np.ndarray) -> sp.csr_array:
    """The CSR graph scipy searches (the fastest of parallel arcs, loops dropped)."""
    keep = tail != head
    coo = sp.coo_array((w[keep], (tail[keep], head[keep])), shape=(n, n))
    # sum_duplicates would add parallel arcs: keep the minimum instead
    order = np.lexsort((coo.data, coo.col, coo.row))
    r, c, d = coo.row[order], coo.col[order], coo.data[order]
    first = np.r_[True, (np.diff(r) != 0) | (np.diff(c) != 0)]
    return sp.csr_array((d[first], (r[first], c[first])), shape=(n, n))


@pytest.mark.parametrize("seed", range(6))
def test_any_order_gives_dijkstras_times(seed: int) -> None:
    n, m = 60 + 20 * seed, 150 + 40 * seed
    tail, head, w = _random_graph(n, m, seed)
    order = np.random.default_rng(seed + 100).permutation(n)
    metric = cch.customize_metric(cch.contract_order(order, tail, head, n), w)
    ref = dijkstra(_reference(n, tail, head, w), directed=True) / 1000.0

    rng = np.random.default_rng(seed + 200)
    sources = rng.choice(n, size=11, replace=True)  # not a whole number of batches
    targets = rng.choice(n, size=17, replace=True)  # repeats allowed
    got = cch.query_rows(
        metric, cch.prepare_targets(metric, targets), sources[:, None], np.zeros((11, 1))
    )
    np.testing.assert_array_equal(got, ref[np.ix_(sources, targets)])
    assert np.isinf(got).any() or seed > 2  # the sparse graphs leave pairs unreachable

    every = cch.query_rows(
        metric, cch.prepare_targets(metric, None), sources[:, None], np.zeros((11, 1))
    )
    np.testing.assert_array_equal(every, ref[sources])


def test_head_starts_cutoff_and_missing_seeds() -> None:
    n = 80
    tail, head, w = _random_graph(n, 260, seed=7)
    order = np.random.default_rng(8).permutation(n)
    metric = cch.customize_metric(cch.contract_order(order, tail, head, n), w)
    ref = dijkstra(_reference(n, tail, head, w), directed=True)  # ms
    rng = np.random.default_rng(9)
    seeds = rng.choice(n, size=(13, 2))
    head_ms = rng.integers(0, 3_000, size=(13, 2)).astype(np.float64)
    seeds[0, 1] = -1  # one start node only
    head_ms[1, 0] = np.inf  # a start that cannot be used
    seeds[2] = -1  # no start at all: unreachable everywhere
    limit_s = 6.0

    got = cch.query_rows(metric, cch.prepare_targets(metric, None), seeds, head_ms, limit_s=limit_s)
    ok = (seeds >= 0) & np.isfinite(head_ms)
    best = np.full((13, n), np.inf)
    for i in range(13):
        for j in range(2):
            if ok[i, j]:
                best[i] = np.minimum(best[i], head_ms[i, j] + ref[seeds[i, j]])
    expected = best / 1000.0
    expected[expected > limit_s] = np.inf
    np.testing.assert_array_equal(got, expected)
    assert np.isinf(got[2]).all()
    assert np.isfinite(got).any() and np.isinf(got).any()


def test_contraction_is_chordal_with_the_lowest_neighbour_as_parent() -> None:
    n = 120
    tail, head, _ = _random_graph(n, 300, seed=3)
    order = np.random.default_rng(4).permutation(n)
    c = cch.contract_order(order, tail, head, n)
    up = [set(c.up_head[c.up_first[x] : c.up_first[x + 1]].tolist()) for x in range(n)]
    for x in range(n):
        assert all(y > x for y in up[x])
        if up[x]:
            p = min(up[x])
            assert c.parent[x] == p
            assert up[x] - {p} <= up[p]  # the upper neighbours form a clique
        else:
            assert c.parent[x] == -1
    # every arc of the network is an arc of the hierarchy, in the right direction
    rt, rh = c.rank[tail], c.rank[head]
    for i in range(len(tail)):
        if rt[i] == rh[i]:
            assert c.arc_of_input[i] == -1
            continue
        lo, hi = min(rt[i], rh[i]), max(rt[i], rh[i])
        assert c.up_head[c.arc_of_input[i]] == hi
        assert c.up_first[lo] <= c.arc_of_input[i] < c.up_first[lo + 1]
        assert c.upward[i] == (rt[i] < rh[i])


def test_tail_batches_cost_and_answer_like_full_ones() -> None:
    # 8 lanes per batch; up to 4 left over go to the 4-lane sweep
    assert [cch.batch_units(k) for k in (0, 1, 4, 5, 8, 9, 13, 16)] == [
        0.0, cch.TAIL_COST, cch.TAIL_COST, 1.0, 1.0, 1 + cch.TAIL_COST, 2.0, 2.0,
    ]  # fmt: skip
    n = 70
    tail, head, w = _random_graph(n, 220, seed=11)
    metric = cch.customize_metric(
        cch.contract_order(np.random.default_rng(12).permutation(n), tail, head, n), w
    )
    sweep = cch.prepare_targets(metric, None)
    sources = np.random.default_rng(13).choice(n, size=(13, 1))
    whole = cch.query_rows(metric, sweep, sources, np.zeros((13, 1)))
    for k in (1, 3, 4, 5, 8, 9, 12):  # tails of 1-4 lanes and partly filled full batches
        part = cch.query_rows(metric, sweep, sources[:k], np.zeros((k, 1)))
        np.testing.assert_array_equal(part, whole[:k])
    ref = dijkstra(_reference(n, tail, head, w), directed=True, indices=sources[:, 0]) / 1000.0
    np.testing.assert_array_equal(whole, ref)
