"""Tests of planner.network.matrix: sparse travel-time matrices in blocks, and the block store.

The matrix must equal, bit for bit, the dense results of
``planner.network.travel_times`` (``point_times``/``node_times``, themselves checked
against networkx and a brute force in test_travel_times.py) wherever those
are within the cutoff, hold nothing beyond it, keep zero times, and resume an
interrupted run from its block store without recomputing finished blocks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import snapped_near_nodes

from planner.errors import CacheWarning, ParameterError
from planner.network import matrix as matrix_mod
from planner.network.matrix import (
    TravelTimeMatrix,
    compute_matrix,
    compute_nearest,
    default_block_size,
)
from planner.network.road_network import RoadNetwork
from planner.network.snapping import SnappedPoints, snap_points
from planner.network.travel_times import (
    TravelTimeGraph,
    build_travel_time_graph,
    node_times,
    point_times,
)
from planner.network.travel_times import (
    nearest_rows as _nearest,
)

CUTOFF_S = 600.0


@pytest.fixture(scope="module")
def ttg(andorra_net: RoadNetwork) -> TravelTimeGraph:
    return build_travel_time_graph(andorra_net.graph)


@pytest.fixture(scope="module")
def stations(andorra_net: RoadNetwork) -> SnappedPoints:
    return snapped_near_nodes(andorra_net.graph, 45, seed=1)


@pytest.fixture(scope="module")
def demand(andorra_net: RoadNetwork, stations: SnappedPoints) -> SnappedPoints:
    # the stations themselves come first: same-road pairs and zero-length trips
    g = andorra_net.graph
    more = snapped_near_nodes(g, 300, seed=2)
    pts = list(shapely.points(stations.x, stations.y)) + list(shapely.points(more.x, more.y))
    return snap_points(g, gpd.GeoSeries(pts, crs=g.graph["crs"]))


def _node_ids(ttg: TravelTimeGraph, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(ttg.node_ids, size=n, replace=False)


def _check_against_dense(m: TravelTimeMatrix, dense: np.ndarray, cutoff: float) -> None:
    """Stored entries are exactly the dense times <= cutoff, bit for bit."""
    expected = np.where(dense <= cutoff, dense, np.inf)
    got = m.to_dense()
    np.testing.assert_array_equal(got, expected)
    assert m.nnz == int(np.isfinite(expected).sum())
    assert np.all(m.times.data <= cutoff)


# ---------------------------------------------------------------------------
# Equality with the dense engine
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [1, 7, 64])
def test_points_to_points_equal_point_times(
    ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints, block_size: int
) -> None:
    m = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=block_size)
    dense = point_times(ttg, stations, destinations=demand, cutoff_s=CUTOFF_S)
    assert m.shape == (45, 345)
    assert m.block_size == block_size
    assert m.computed_blocks == tuple(range(-(-45 // block_size)))
    _check_against_dense(m, dense, CUTOFF_S)
    # the cutoff cuts something here, and keeps a good share
    assert 0.05 < m.nnz / (45 * 345) < 0.95
    # nearest origin per target: equal to the dense argmin (first of equal times)
    times, origin = m.nearest()
    d_times, d_origin = _nearest(m.to_dense())
    np.testing.assert_array_equal(times, d_times)
    np.testing.assert_array_equal(origin, d_origin)


def test_zero_times_are_stored(
    ttg: TravelTimeGraph, stations: SnappedPoints, andorra_net: RoadNetwork
) -> None:
    # origins and targets at the same nodes: every diagonal time is 0
    ids = _node_ids(ttg, 30, seed=3)
    m = compute_matrix(ttg, ids, ids, cutoff_s=CUTOFF_S, block_size=8)
    assert np.count_nonzero(m.times.data == 0) >= 30
    diag = m.to_dense()[np.arange(30), np.arange(30)]
    np.testing.assert_array_equal(diag, 0.0)
    times, origin = m.nearest()
    np.testing.assert_array_equal(times, 0.0)
    np.testing.assert_array_equal(origin, np.arange(30))
    # a point snapped exactly onto the road: a zero-length trip to itself
    on_road = snap_points(
        andorra_net.graph,
        gpd.GeoSeries([shapely.Point(stations.snap_x[0], stations.snap_y[0])], crs=andorra_net.crs),
    )
    assert on_road.access_s[0] == 0
    p = compute_matrix(ttg, on_road, on_road, cutoff_s=CUTOFF_S)
    assert p.nnz == 1 and p.times.data[0] == 0.0
    assert p.to_dense()[0, 0] == 0.0
    assert p.nearest()[1][0] == 0


def test_nodes_equal_node_times_and_networkx(
    ttg: TravelTimeGraph, andorra_net: RoadNetwork
) -> None:
    src = _node_ids(ttg, 40, seed=4)
    tgt = _node_ids(ttg, 200, seed=5)
    m = compute_matrix(ttg, src, tgt, cutoff_s=CUTOFF_S, block_size=16)
    _check_against_dense(m, node_times(ttg, src, targets=tgt, cutoff_s=CUTOFF_S), CUTOFF_S)
    # brute force: networkx's Dijkstra with the same cutoff
    col = {int(t): j for j, t in enumerate(tgt)}
    expected = np.full((len(src), len(tgt)), np.inf)
    for i, s in enumerate(src):
        dist = nx.single_source_dijkstra_path_length(
            andorra_net.graph, int(s), cutoff=CUTOFF_S, weight="travel_time"
        )
        for node, t in dist.items():
            if int(node) in col:
                expected[i, col[int(node)]] = t
    got = m.to_dense()
    np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=0, atol=1e-6)
    # every node as a target, and points to every node
    all_nodes = compute_matrix(ttg, src[:10], None, cutoff_s=CUTOFF_S)
    _check_against_dense(all_nodes, node_times(ttg, src[:10], cutoff_s=CUTOFF_S), CUTOFF_S)


def test_points_to_nodes_and_nodes_tosnapped_near_nodes(
    ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints
) -> None:
    m = compute_matrix(ttg, stations, None, cutoff_s=CUTOFF_S, block_size=10)
    _check_against_dense(m, point_times(ttg, stations, cutoff_s=CUTOFF_S), CUTOFF_S)
    # node origins to point targets: the best of the targets' arrival legs
    src = _node_ids(ttg, 12, seed=6)
    n2p = compute_matrix(ttg, src, demand, cutoff_s=CUTOFF_S, block_size=5)
    full = node_times(ttg, src)
    expected = np.full((12, len(demand)), np.inf)
    for side in range(2):
        for j in range(len(demand)):
            node = demand.arrive_node[j, side]
            if node >= 0:
                t = full[:, ttg.positions([node])[0]] + demand.arrive_s[j, side]
                expected[:, j] = np.minimum(expected[:, j], t)
    _check_against_dense(n2p, expected, CUTOFF_S)


def test_no_cutoff_keeps_every_reachable_pair(
    ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints
) -> None:
    m = compute_matrix(ttg, stations, demand, cutoff_s=None, block_size=16)
    assert m.cutoff_s == np.inf
    dense = point_times(ttg, stations, destinations=demand)
    np.testing.assert_array_equal(m.to_dense(), dense)
    assert m.nnz == int(np.isfinite(dense).sum())


def test_cutoff_is_inclusive(ttg: TravelTimeGraph, stations: SnappedPoints) -> None:
    m = compute_matrix(ttg, stations, stations, cutoff_s=CUTOFF_S)
    t = float(np.sort(m.times.data[m.times.data > 0])[len(m.times.data) // 2])
    at = compute_matrix(ttg, stations, stations, cutoff_s=t)
    assert at.times.data.max() == t  # a time equal to the cutoff is kept
    assert at.nnz == int(np.count_nonzero(m.times.data <= t))


def test_k_nearest(ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints) -> None:
    m = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S)
    dense = m.to_dense()
    times, origin = m.k_nearest(3)
    assert times.shape == origin.shape == (len(demand), 3)
    for j in range(len(demand)):
        col = dense[:, j]
        order = np.lexsort((np.arange(len(col)), col))[:3]
        reached = np.isfinite(col[order])
        np.testing.assert_array_equal(times[j], np.where(reached, col[order], np.inf))
        np.testing.assert_array_equal(origin[j], np.where(reached, order, -1))
    # some targets are reached by fewer than 3 origins within the cutoff
    assert (origin[:, 2] == -1).any()
    np.testing.assert_array_equal(m.k_nearest(1)[0][:, 0], m.nearest()[0])
    with pytest.raises(ParameterError, match="k = 0"):
        m.k_nearest(0)


@pytest.mark.parametrize("block_size", [1, 6, 64])
def test_compute_nearest_equals_matrix_nearest(
    ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints, block_size: int
) -> None:
    m = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=block_size)
    near = compute_nearest(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=block_size)
    times, origin = m.nearest()
    np.testing.assert_array_equal(near.times, times)
    np.testing.assert_array_equal(near.origin, origin)
    assert (near.origin == -1).any() and (near.origin >= 0).any()
    # ties: the same origin twice gives the first one, as the dense argmin
    ids = _node_ids(ttg, 20, seed=8)
    twice = np.r_[ids, ids]
    n2 = compute_nearest(ttg, twice, None, cutoff_s=CUTOFF_S, block_size=block_size)
    d_times, d_origin = _nearest(node_times(ttg, twice, cutoff_s=CUTOFF_S))
    np.testing.assert_array_equal(n2.times, d_times)
    np.testing.assert_array_equal(n2.origin, d_origin)
    assert n2.origin.max() < 20


def test_compute_nearest_store_resumes(
    ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints, tmp_path: Path
) -> None:
    def stop_after_2(index: int) -> None:
        if index == 1:
            raise _Stop

    with pytest.raises(_Stop):
        compute_nearest(
            ttg,
            stations,
            demand,
            cutoff_s=CUTOFF_S,
            block_size=10,
            store=tmp_path,
            on_block=stop_after_2,
        )
    near = compute_nearest(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=10, store=tmp_path)
    assert near.loaded_blocks == (0, 1) and near.computed_blocks == (2, 3, 4)
    fresh = compute_nearest(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=10)
    np.testing.assert_array_equal(near.times, fresh.times)
    np.testing.assert_array_equal(near.origin, fresh.origin)
    # a matrix is never read from (or mixed into) a store of nearest times
    with pytest.raises(ParameterError, match="different kind"):
        compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=10, store=tmp_path)


def test_memory_is_reported(
    ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints
) -> None:
    m = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=10)
    t = m.times
    assert m.nbytes == t.data.nbytes + t.indices.nbytes + t.indptr.nbytes
    assert m.nbytes == m.nnz * (8 + 4) + 46 * 4  # float64 times, int32 indices
    assert m.block_bytes >= 10 * ttg.n_nodes * 8
    assert m.peak_bytes >= m.nbytes + m.block_bytes


def test_default_block_size() -> None:
    assert default_block_size(1_000, 5_000) == 64
    # 256 MiB of rows: 33 and 11 origins, down to whole batches of 8 (the compiled CCH)
    assert default_block_size(1_000_000, 5_000) == 32
    assert default_block_size(3_000_000, 5_000) == 8
    assert default_block_size(10**9, 5_000) == 1
    # at least 16 blocks when there are enough origins
    assert default_block_size(1_000, 100) == 7
    assert default_block_size(1_000, 10) == 1


def test_bad_arguments(ttg: TravelTimeGraph, stations: SnappedPoints) -> None:
    with pytest.raises(ParameterError, match="block_size = 0"):
        compute_matrix(ttg, stations, stations, cutoff_s=CUTOFF_S, block_size=0)
    with pytest.raises(ParameterError, match="cutoff_s = -1"):
        compute_matrix(ttg, stations, stations, cutoff_s=-1)
    with pytest.raises(ParameterError, match="origins: no origins"):
        compute_matrix(ttg, [], stations, cutoff_s=CUTOFF_S)
    with pytest.raises(ParameterError, match="targets: no targets"):
        compute_matrix(ttg, stations, [], cutoff_s=CUTOFF_S)
    with pytest.raises(ParameterError, match=r"origins: node id\(s\) \[12\]"):
        compute_matrix(ttg, [12], None, cutoff_s=CUTOFF_S)


# ---------------------------------------------------------------------------
# Block store: interrupt and resume
# ---------------------------------------------------------------------------


class _Stop(Exception):
    pass


def test_interrupted_run_resumes_without_recomputing(
    ttg: TravelTimeGraph,
    stations: SnappedPoints,
    demand: SnappedPoints,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = tmp_path / "blocks"
    computed: list[int] = []
    real = matrix_mod._block_times

    def counting(shared: object, task: matrix_mod._Task) -> matrix_mod._Block:
        computed.append(task.first_row)
        return real(shared, task)  # type: ignore[arg-type]

    monkeypatch.setattr(matrix_mod, "_block_times", counting)

    def stop_after_4(index: int) -> None:
        if len(computed) == 4:
            raise _Stop

    # 45 origins in blocks of 5: 9 blocks; the run stops after 4 of them
    with pytest.raises(_Stop):
        compute_matrix(
            ttg,
            stations,
            demand,
            cutoff_s=CUTOFF_S,
            block_size=5,
            store=store,
            on_block=stop_after_4,
        )
    files = sorted(store.glob("block-*.npz"))
    assert [f.name for f in files] == [f"block-{i:06d}.npz" for i in range(4)]
    assert not list(store.glob(".*tmp"))  # no half-written file left behind
    mtimes = {f.name: f.stat().st_mtime_ns for f in files}
    assert computed == [0, 5, 10, 15]

    # resume: only the 5 missing blocks are computed
    computed.clear()
    resumed = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=5, store=store)
    assert computed == [20, 25, 30, 35, 40]
    assert resumed.loaded_blocks == (0, 1, 2, 3)
    assert resumed.computed_blocks == (4, 5, 6, 7, 8)
    assert {f.name: f.stat().st_mtime_ns for f in sorted(store.glob("block-*.npz"))[:4]} == mtimes
    assert len(list(store.glob("block-*.npz"))) == 9

    # identical to an uninterrupted run without a store
    fresh = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=5)
    np.testing.assert_array_equal(resumed.to_dense(), fresh.to_dense())
    assert resumed.same_times(fresh)

    # a third run computes nothing
    computed.clear()
    again = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=5, store=store)
    assert computed == []
    assert again.computed_blocks == ()
    assert again.same_times(fresh)


def test_corrupt_block_is_recomputed(
    ttg: TravelTimeGraph, stations: SnappedPoints, demand: SnappedPoints, tmp_path: Path
) -> None:
    first = compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=10, store=tmp_path)
    (tmp_path / "block-000002.npz").write_bytes(b"not a block")
    with pytest.warns(CacheWarning, match=r"block-000002\.npz is not usable \(it is not an \.npz"):
        again = compute_matrix(
            ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=10, store=tmp_path
        )
    assert again.computed_blocks == (2,)
    np.testing.assert_array_equal(again.to_dense(), first.to_dense())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("cutoff", "different cutoff_s"),
        ("targets", "different targets"),
        ("origins", "different origins"),
        ("block_size", "different block_size"),
        ("graph", "different graph"),
    ],
)
def test_store_for_other_inputs_is_refused(
    change: str,
    message: str,
    ttg: TravelTimeGraph,
    stations: SnappedPoints,
    demand: SnappedPoints,
    tmp_path: Path,
) -> None:
    compute_matrix(ttg, stations, demand, cutoff_s=CUTOFF_S, block_size=10, store=tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    args: dict = dict(graph=ttg, origins=stations, targets=demand, cutoff=CUTOFF_S, block=10)
    if change == "cutoff":
        args["cutoff"] = CUTOFF_S + 1
    elif change == "targets":
        args["targets"] = stations
    elif change == "origins":
        args["origins"] = demand
    elif change == "block_size":
        args["block"] = 11
    else:
        m = ttg.matrix.copy()
        m.data = m.data * 1.01
        args["graph"] = TravelTimeGraph(matrix=m, node_ids=ttg.node_ids, x=ttg.x, y=ttg.y)
    with pytest.raises(
        ParameterError, match=rf"store: .* holds blocks of another matrix \(.*{message}"
    ):
        compute_matrix(
            args["graph"],
            args["origins"],
            args["targets"],
            cutoff_s=args["cutoff"],
            block_size=args["block"],
            store=tmp_path,
        )
    # nothing in the store was touched
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_store_manifest_and_stray_blocks(
    ttg: TravelTimeGraph, stations: SnappedPoints, tmp_path: Path
) -> None:
    compute_matrix(ttg, stations, stations, cutoff_s=CUTOFF_S, store=tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["shape"] == [45, 45]
    assert manifest["inputs"]["cutoff_s"] == CUTOFF_S
    # block files without a manifest are refused, not adopted
    stray = tmp_path / "b"
    stray.mkdir()
    (stray / "block-000000.npz").write_bytes(b"")
    with pytest.raises(ParameterError, match=r"block files but no manifest\.json"):
        compute_matrix(ttg, stations, stations, cutoff_s=CUTOFF_S, store=stray)
    # a file where the folder should be
    (tmp_path / "c").write_text("x")
    with pytest.raises(ParameterError, match="is not a folder"):
        compute_matrix(ttg, stations, stations, cutoff_s=CUTOFF_S, store=tmp_path / "c")
    assert os.listdir(stray) == ["block-000000.npz"]
