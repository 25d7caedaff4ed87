"""Sparse (national) instances and the heuristic's candidate blocks.

The sparse heuristic must give exactly what the dense heuristic gives on the
same times (with the pairs beyond the cutoff set to ``inf``); its swap values
are checked against a brute-force evaluation of every swap; the split into
blocks, and running them on a real 2-worker Dask cluster (also with a worker
killed during the run), must not change a single bit.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from planner import constants
from planner.distributed import DaskExecutor, InProcessExecutor
from planner.errors import DataError, ParameterError
from planner.optimise import (
    LSCP,
    MCLP,
    MEXCLP,
    MaxSurvival,
    PCenter,
    PMedian,
    SparseInstance,
    make_instance,
    make_sparse_instance,
    solve_exact,
    solve_heuristic,
)
from planner.optimise import heuristic as heuristic_mod

MODELS = [
    MCLP(threshold_s=900.0),
    PMedian(),
    PCenter(),
    MaxSurvival(),
    MEXCLP(threshold_s=900.0, busy_fraction=0.3),
    LSCP(threshold_s=1500.0, require_all=False),
]


def _random_case(seed: int, n: int = 300, m: int = 50, n_required: int = 4) -> dict[str, Any]:
    """Euclidean response times (s) on a 30 km square, 5 % of pairs unreachable."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 30_000, (n, 2))
    sites = rng.uniform(0, 30_000, (m, 2))
    cost = np.hypot(*(xy[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)) / 15.0 + 60.0
    cost[rng.random(cost.shape) < 0.05] = np.inf
    required = np.zeros(m, dtype=bool)
    required[rng.choice(m, n_required, replace=False)] = True
    return {
        "cost": cost,
        "weight": rng.integers(1, 50, n).astype(float),
        "required": required,
        "units": required.astype(np.int64),
    }


def _pair(case: dict[str, Any], cutoff_s: float) -> tuple[Any, SparseInstance]:
    """A dense instance with the pairs beyond the cutoff set to inf, and the sparse one."""
    dense = make_instance(
        np.where(case["cost"] <= cutoff_s, case["cost"], np.inf),
        case["weight"],
        required=case["required"],
        existing_units=case["units"],
    )
    sparse = make_sparse_instance(
        sp.csc_array(np.where(case["cost"] <= cutoff_s, case["cost"], 0.0)),
        cutoff_s=cutoff_s,
        weight=case["weight"],
        required=case["required"],
        existing_units=case["units"],
    )
    return dense, sparse


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
@pytest.mark.parametrize(("seed", "n_required"), [(1, 4), (2, 4), (3, 0)])
def test_sparse_heuristic_equals_dense(model: Any, seed: int, n_required: int) -> None:
    case = _random_case(seed, n_required=n_required)
    dense, sparse = _pair(case, cutoff_s=1e9)  # every pair stored
    a = solve_heuristic(dense, model, p=4, seed=seed)
    b = solve_heuristic(sparse, model, p=4, seed=seed)
    assert b.chosen == a.chosen
    assert b.objective_after == pytest.approx(a.objective_after, rel=1e-12)
    assert b.objective_before == pytest.approx(a.objective_before, rel=1e-12)
    np.testing.assert_array_equal(b.assignment, a.assignment)


@pytest.mark.parametrize("model", MODELS[:4], ids=lambda m: m.name)
def test_cutoff_means_not_served_from_beyond_it(model: Any) -> None:
    case = _random_case(3)
    dense, sparse = _pair(case, cutoff_s=1200.0)
    assert sparse.cost_s.nnz == int(np.isfinite(dense.cost_s).sum())
    a = solve_heuristic(dense, model, p=3, seed=0)
    b = solve_heuristic(sparse, model, p=3, seed=0)
    assert b.chosen == a.chosen
    assert b.objective_after == pytest.approx(a.objective_after, rel=1e-12)
    np.testing.assert_array_equal(sparse.reachable(), dense.reachable())


def test_base_times_beyond_the_cutoff_count() -> None:
    """Existing stations serve from any distance (base_s), new sites only within the cutoff."""
    cost = np.array([[100.0, 5000.0], [7000.0, 200.0]])  # site 0 required, site 1 candidate
    inst = make_sparse_instance(
        sp.csc_array(np.where(cost <= 1000, cost, 0.0)),
        cutoff_s=1000.0,
        base_s=[100.0, 7000.0],
        base_site=[0, 0],
        required=[True, False],
    )
    np.testing.assert_array_equal(inst.open_times([True, False]), [100.0, 7000.0])
    np.testing.assert_array_equal(inst.open_times([True, True]), [100.0, 200.0])
    solution = solve_heuristic(inst, PMedian(), p=1)
    assert solution.objective_before == 7100.0 and solution.objective_after == 300.0
    with pytest.raises(ParameterError, match="keeps every required site open"):
        inst.open_times([False, True])


def test_swap_values_equal_brute_force() -> None:
    """Every (close r, open a) value of a round equals evaluating that solution."""
    case = _random_case(4, n=200, m=30)
    _, sparse = _pair(case, cutoff_s=1500.0)
    added = np.flatnonzero(~sparse.required)[[2, 7, 11]]
    is_open = sparse.required.copy()
    is_open[added] = True
    # p-center's moves are scored by planner.optimise.pcenter (tests/test_optimise_pcenter.py)
    for model in (MCLP(threshold_s=900.0), PMedian(), MaxSurvival()):
        weight = heuristic_mod._separable_weight(sparse, model)
        shared = heuristic_mod._SparseShared(sparse, model, weight)
        blocks = heuristic_mod._column_blocks(sparse, 2)
        assert len(blocks) >= 2
        with InProcessExecutor().session(shared) as session:
            table = heuristic_mod._SparseRounds(session, shared, blocks).swap_scores(added)
        for (row, r), a in itertools.product(enumerate(added), np.flatnonzero(~is_open)):
            trial = is_open.copy()
            trial[r], trial[a] = False, True
            assert table[row, a] == pytest.approx(model.evaluate(sparse, trial), rel=1e-9), (
                model.name,
                r,
                a,
            )


def test_blocks_do_not_change_a_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    case = _random_case(5, n=500, m=80)
    _, sparse = _pair(case, cutoff_s=1800.0)
    whole = solve_heuristic(sparse, PMedian(), p=5, seed=2)
    monkeypatch.setattr(constants, "SPARSE_BLOCK_PAIRS", 97)
    assert len(heuristic_mod._column_blocks(sparse, 1)) > 20
    split = solve_heuristic(sparse, PMedian(), p=5, seed=2)
    assert split.chosen == whole.chosen
    assert split.objective_after == whole.objective_after  # bit for bit


def test_assignment_ties_go_to_the_lowest_site() -> None:
    cost = np.array([[300.0, 300.0, 300.0], [400.0, 100.0, 100.0], [np.inf, 50.0, 60.0]])
    for required in ([True, False, False], [False, False, True]):
        dense = make_instance(cost, required=required)
        sparse = make_sparse_instance(cost, cutoff_s=1000.0, required=required)
        mask = np.ones(3, dtype=bool)
        np.testing.assert_array_equal(sparse.assignment(mask), dense.assignment(mask))
        np.testing.assert_array_equal(sparse.open_times(mask), dense.open_times(mask))


def test_sparse_errors_name_the_problem() -> None:
    cost = np.array([[100.0, 200.0], [300.0, 400.0]])
    inst = make_sparse_instance(cost, cutoff_s=350.0, required=[True, False])
    with pytest.raises(
        ParameterError, match=r"threshold 10 min is above .* cutoff \(5.83333 min\)"
    ):
        solve_heuristic(inst, MCLP(threshold_s=600.0), p=1)
    with pytest.raises(
        ParameterError, match=r"threshold 10 min is above .* cutoff \(5.83333 min\)"
    ):
        solve_exact(inst, MCLP(threshold_s=600.0), p=1)
    with pytest.raises(ParameterError, match="solver 'exact' solves p-median on a dense"):
        solve_exact(inst, PMedian(), p=1)
    with pytest.raises(DataError, match=r"cutoff .* first 400\.0 at demand 1 and site 'b'"):
        SparseInstance(
            cost_s=sp.csc_array(cost),
            cutoff_s=350.0,
            base_s=np.array([100.0, 300.0]),
            base_site=np.array([0, 0]),
            weight=np.ones(2),
            site_names=("a", "b"),
            required=np.array([True, False]),
            existing_units=np.zeros(2, dtype=np.int64),
            demand_ids=(0, 1),
        )
    with pytest.raises(ParameterError, match="give base_site"):
        make_sparse_instance(cost, cutoff_s=500.0, base_s=[1.0, 2.0])


def test_sparse_memory_is_the_stored_pairs() -> None:
    case = _random_case(6, n=2000, m=100)
    dense, sparse = _pair(case, cutoff_s=600.0)
    stored = int(np.isfinite(dense.cost_s).sum())
    assert sparse.cost_s.nnz == stored
    assert stored < 0.2 * dense.cost_s.size  # the cutoff keeps a fifth of the pairs
    # 8-byte time + 4-byte row index per pair, column pointers, three per-point vectors
    assert sparse.nbytes == stored * 12 + 101 * 4 + 3 * 2000 * 8


# ---------------------------------------------------------------------------
# On a real local Dask cluster
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", [PMedian(), MCLP(threshold_s=900.0), PCenter()], ids=str)
def test_cluster_equals_in_process(cluster: DaskExecutor, model: Any) -> None:
    case = _random_case(7, n=600, m=90)
    _, sparse = _pair(case, cutoff_s=1800.0)
    here = solve_heuristic(sparse, model, p=5, seed=1)
    there = solve_heuristic(sparse, model, p=5, seed=1, executor=cluster)
    assert there.chosen == here.chosen
    assert there.objective_after == here.objective_after  # bit for bit


class _KillingExecutor:
    """Wraps a cluster executor; kills one worker after the first finished block of round 3."""

    def __init__(self, inner: DaskExecutor) -> None:
        self.inner = inner
        self.concurrency = inner.concurrency
        self.rounds = 0
        self.killed: list[str] = []

    @contextmanager
    def session(self, shared: Any) -> Iterator[Any]:
        outer = self
        with self.inner.session(shared) as session:

            class Session:
                def map_blocks(self, fn: Any, tasks: Any) -> Iterator[tuple[int, Any]]:
                    outer.rounds += 1
                    for k, (index, result) in enumerate(session.map_blocks(fn, tasks)):
                        if outer.rounds == 3 and k == 0:
                            outer.kill()
                        yield index, result

            yield Session()

    def kill(self) -> None:
        client = self.inner.client
        pids = client.run(os.getpid)
        worker = sorted(pids)[0]
        self.killed.append(worker)
        os.kill(pids[worker], signal.SIGKILL)


def test_killed_worker_mid_run_gives_the_same_sites(cluster: DaskExecutor) -> None:
    case = _random_case(8, n=600, m=90)
    _, sparse = _pair(case, cutoff_s=1800.0)
    here = solve_heuristic(sparse, PMedian(), p=5, seed=4)
    killing = _KillingExecutor(cluster)
    there = solve_heuristic(sparse, PMedian(), p=5, seed=4, executor=killing)  # type: ignore[arg-type]
    assert killing.killed and killing.rounds > 3
    assert there.chosen == here.chosen
    assert there.objective_after == here.objective_after
    cluster.client.wait_for_workers(2, timeout=60)


def test_empty_columns_and_the_callers_arrays() -> None:
    """Sites that reach nothing (last column too) work in every model; inputs stay writable."""
    case = _random_case(9, n=120, m=20)
    cost = np.where(case["cost"] <= 1500.0, case["cost"], np.inf)
    cost[:, [0, 7, 19]] = np.inf  # three sites reach nothing, among them the last
    case["required"][[0, 7, 19]] = False
    case["cost"] = cost
    dense, sparse = _pair(case, cutoff_s=1500.0)
    for model in MODELS:
        a = solve_heuristic(dense, model, p=3, seed=1)
        b = solve_heuristic(sparse, model, p=3, seed=1)
        assert b.objective_after == pytest.approx(a.objective_after, rel=1e-12), model.name
    within = sparse.within(900.0)
    np.testing.assert_array_equal(within.toarray(), dense.within(900.0))
    mine = sp.csc_array(np.where(np.isfinite(cost), cost, 0.0))
    make_sparse_instance(mine, cutoff_s=1500.0)
    assert mine.data.flags.writeable and mine.indices.flags.writeable
