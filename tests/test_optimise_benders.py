"""Exact p-median and MCLP by Benders decomposition, and the heuristic's fast interchange.

Checked against brute force over every set of sites on small seeded
instances (with required sites, unreachable pairs and zero weights), against
the published OR-Library p-median optima (Beasley 1985, ``pmedopt.txt``),
and against a direct evaluation of every swap.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import planner.optimise.benders as benders_mod
import planner.optimise.exact as exact_mod
import planner.optimise.pmedian as pmedian_mod
from planner.optimise import (
    MCLP,
    MEXCLP,
    Instance,
    MaxSurvival,
    PMedian,
    make_instance,
    make_sparse_instance,
    solve_exact,
    solve_heuristic,
)
from planner.optimise.benders import Cuts, start_master
from planner.optimise.heuristic import fast_swaps
from planner.optimise.mclp import CoverCuts, CoverSwaps, merge_rows
from planner.optimise.models import unreached_cost_s
from planner.optimise.orlib import read_orlib_optima, read_orlib_pmed
from planner.optimise.pmedian import RadiusCuts, lower_caps


def _case(seed: int, n: int = 40, m: int = 11, required: int = 1) -> Instance:
    """Euclidean times (s) on a 30 km square; some pairs unreachable, some weights 0."""
    rng = np.random.default_rng(seed)
    xy, sites = rng.uniform(0, 30_000, (n, 2)), rng.uniform(0, 30_000, (m, 2))
    cost = np.hypot(*(xy[:, None, :] - sites[None]).transpose(2, 0, 1)) / 15.0 + 60.0
    cost[rng.random(cost.shape) < 0.15] = np.inf
    cost[3] = np.inf  # a point no site reaches
    weight = rng.integers(0, 30, n).astype(float)
    mask = np.zeros(m, dtype=bool)
    mask[rng.choice(m, required, replace=False)] = True
    return make_instance(cost, weight, required=mask)


def _all_sets(instance: Instance, p: int) -> list[np.ndarray]:
    free = np.flatnonzero(~instance.required).tolist()
    out = []
    for added in itertools.combinations(free, p):
        mask = instance.required.copy()
        mask[list(added)] = True
        out.append(mask)
    return out


def _best(instance: Instance, model: PMedian | MCLP, p: int) -> float:
    values = [model.evaluate(instance, s) for s in _all_sets(instance, p)]
    return min(values) if model.sense == "min" else max(values)


# --------------------------------------------------------------------------
# p-median: the radius formulation's Benders cuts
# --------------------------------------------------------------------------


def _radius(instance: Instance) -> tuple[RadiusCuts, np.ndarray, np.ndarray]:
    """The separator of the instance's free sites (as solve_pmedian_radius builds it)."""
    u = unreached_cost_s(instance)
    rows = np.flatnonzero(instance.reachable() & (instance.weight > 0))
    cost = np.minimum(instance.cost_s[rows], u)
    req = instance.required
    cap = cost[:, req].min(axis=1) if req.any() else np.full(len(rows), u)
    free = np.flatnonzero(~req)
    return RadiusCuts(cost[:, free], cap, instance.weight[rows]), cost, cap


def _served(
    cost: np.ndarray, cap: np.ndarray, open_free: np.ndarray, free: np.ndarray
) -> np.ndarray:
    times = cost[:, free[open_free]].min(axis=1) if open_free.any() else np.full(len(cap), np.inf)
    return np.minimum(times, cap)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_radius_cuts_are_valid_everywhere_and_tight_at_their_point(seed: int) -> None:
    instance = _case(seed)
    sep, cost, cap = _radius(instance)
    free = np.flatnonzero(~instance.required)
    rng = np.random.default_rng(seed)
    points = [rng.dirichlet(np.ones(len(free))) * 3 for _ in range(5)]
    points += [np.isin(np.arange(len(free)), rng.choice(len(free), 3, replace=False)) * 1.0]
    for y in points:
        cuts = sep.separate(np.clip(y, 0, 1))
        for mask in _all_sets(instance, 3):
            open_free = mask[free]
            served = _served(cost, cap, open_free, free)
            # rhs - a . y <= the point's true time, for every 0/1 y
            for i in range(len(cuts.rhs)):
                lo, hi = cuts.indptr[i], cuts.indptr[i + 1]
                lhs = cuts.rhs[i] - cuts.data[lo:hi] @ open_free[cuts.indices[lo:hi]]
                assert lhs <= served[cuts.theta[i]] + 1e-9
    # at a 0/1 point the cut is the point's time
    y = points[-1]
    cuts = sep.separate(y)
    np.testing.assert_allclose(cuts.value, _served(cost, cap, y > 0.5, free), rtol=1e-12)
    assert sep.value(y > 0.5) == pytest.approx(
        PMedian().evaluate(instance, instance.required | np.isin(np.arange(11), free[y > 0.5]))
    )


def _subproblem_value(
    cost: np.ndarray, cap: np.ndarray, y: np.ndarray, free: np.ndarray
) -> np.ndarray:
    """Each point's linear subproblem at fractional ``y``, by its levels, one point at a time.

    ``D^1 + sum_k (D^{k+1} - D^k) max(0, 1 - Y^k)`` over the point's distinct
    times below its cap (and the cap), ``Y^k`` the sites within ``D^k``.
    """
    out = np.empty(len(cap))
    for i in range(len(cap)):
        times = cost[i, free]
        levels = np.unique(np.r_[times[times < cap[i]], cap[i]])
        total = levels[0]
        for k in range(len(levels) - 1):
            covered = y[times <= levels[k]].sum()
            total += (levels[k + 1] - levels[k]) * max(0.0, 1.0 - covered)
        out[i] = total
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_core_point_picks_a_valid_tight_cut_deepest_at_the_core(seed: int) -> None:
    """Magnanti-Wong: at a 0/1 or half-integral y several levels are tight; the core decides."""
    instance = _case(seed, required=0)
    sep, cost, cap = _radius(instance)
    free = np.flatnonzero(~instance.required)
    rng = np.random.default_rng(seed)
    deeper = 0
    for _ in range(4):
        y = np.zeros(len(free))
        y[rng.choice(len(free), 4, replace=False)] = rng.choice([0.5, 1.0], 4)
        core = 0.5 * y + 0.5 * rng.dirichlet(np.ones(len(free))) * 3
        plain, chosen = sep.separate(y), sep.separate(y, core)
        # tight at y: both are the subproblem's value there
        truth = _subproblem_value(cost, cap, y, free)
        np.testing.assert_allclose(chosen.value, truth, rtol=1e-12)
        np.testing.assert_allclose(plain.value, truth, rtol=1e-12)
        # valid for every 0/1 y with 3 sites
        for mask in _all_sets(instance, 3):
            open_free = mask[free]
            served = _served(cost, cap, open_free, free)
            assert (_cut_values(chosen, open_free * 1.0) <= served + 1e-9).all()
        # at least as deep at the core, and deeper somewhere
        at_core = _cut_values(chosen, core) - _cut_values(plain, core)
        assert (at_core >= -1e-9).all()
        deeper += int((at_core > 1e-6).sum())
    assert deeper > 0


def _cut_values(cuts: Cuts, y: np.ndarray) -> np.ndarray:
    """``rhs - a . y`` of each cut, one at a time."""
    return np.array(
        [
            cuts.rhs[i]
            - cuts.data[cuts.indptr[i] : cuts.indptr[i + 1]]
            @ y[cuts.indices[cuts.indptr[i] : cuts.indptr[i + 1]]]
            for i in range(len(cuts.rhs))
        ]
    )


def _classic_lp(
    cost: np.ndarray, cap: np.ndarray, w: np.ndarray, free: np.ndarray, p: int
) -> float:
    """The p-median LP with assignment variables (x_ij <= y_j, each point served once), by linprog.

    Each point may also be served at its cap by a virtual site that is always open.
    """
    from scipy.optimize import linprog

    n, m = len(cap), len(free)
    c = cost[:, free]
    # variables: x (n x m), x0 (n), y (m)
    nx = n * m
    obj = np.r_[(w[:, None] * np.where(np.isfinite(c), c, 0.0)).ravel(), w * cap, np.zeros(m)]
    ub = np.r_[np.where(c < cap[:, None], 1.0, 0.0).ravel(), np.ones(n), np.ones(m)]
    eye_n = sp.identity(n, format="csr")
    assign = sp.hstack([sp.kron(eye_n, np.ones((1, m))), eye_n, sp.csr_array((n, m))])
    link = sp.hstack(
        [sp.identity(nx), sp.csr_array((nx, n)), -sp.kron(np.ones((n, 1)), sp.identity(m))]
    )
    card = np.r_[np.zeros(nx + n), np.ones(m)][None, :]
    res = linprog(
        obj,
        A_ub=link,
        b_ub=np.zeros(nx),
        A_eq=sp.vstack([assign, sp.csr_array(card)]),
        b_eq=np.r_[np.ones(n), p],
        bounds=np.c_[np.zeros(len(ub)), ub],
        method="highs",
    )
    assert res.status == 0
    return float(res.fun)


@pytest.mark.parametrize(
    ("share", "purge"), [(1.0, 1000), (0.05, 1), (0.2, 1)], ids=["all cuts", "few", "default"]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relaxation_reaches_the_assignment_lp_with_purged_and_capped_cuts(
    seed: int, share: float, purge: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phase 1's bound, however few cuts it adds per round and however many it purges."""
    monkeypatch.setattr(benders_mod, "_MAX_CUTS", share)
    monkeypatch.setattr(benders_mod, "_LP_PURGE_EVERY", purge)
    instance = _case(seed, n=60, m=14, required=0)
    sep, cost, cap = _radius(instance)
    free = np.flatnonzero(~instance.required)
    p = 3
    sets = _all_sets(instance, p)
    worst = max(sets, key=lambda s: PMedian().evaluate(instance, s))
    master, _, core = start_master(sep, len(free), p, worst[free])
    lp = master.relax(core, math.inf)
    assert lp.solved
    expected = _classic_lp(cost, cap, sep.theta_cost, free, p)
    assert lp.lower == pytest.approx(expected, rel=1e-8)
    # and the whole search still ends at the brute-force optimum
    monkeypatch.setattr(
        exact_mod, "site_heuristic", lambda *a, **k: (worst.astype(np.int64), [], "")
    )
    solution = solve_exact(instance, PMedian(), p=p, mip_gap=1e-9)
    assert solution.optimal
    assert solution.objective_after == pytest.approx(_best(instance, PMedian(), p), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_relaxation_fixings_and_caps_keep_every_better_solution(seed: int) -> None:
    """Phases 1-2 against a solution 2 % above the optimum: nothing better is excluded."""
    instance = _case(seed, required=0)
    sep, cost, cap = _radius(instance)
    free = np.flatnonzero(~instance.required)
    p = 2
    sets = _all_sets(instance, p)
    values = np.array([PMedian().evaluate(instance, s) for s in sets])
    upper = values.min() * 1.02
    start = sets[int(np.argmin(np.abs(values - upper)))][free]
    master, _, core = start_master(sep, len(free), p, start)
    lp = master.relax(core, math.inf)
    assert lp.solved and lp.lower <= values.min() * (1 + 1e-9)
    master.fix_by_reduced_cost(lp, upper)
    before = sep.theta_ub.copy()
    lower_caps(master, sep, lp, upper)
    for mask, value in zip(sets, values, strict=True):
        if value >= upper:
            continue
        open_free = mask[free]
        assert not (open_free & master.fixed_closed).any(), (seed, np.flatnonzero(open_free))
        assert open_free[master.fixed_open].all()
        # every better solution serves each point within its (lowered) cap
        served = _served(cost, cap, open_free, free)
        assert (served <= sep.theta_ub + 1e-9).all()
    assert (sep.theta_ub <= before).all()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_pmedian_exact_equals_brute_force(seed: int, p: int) -> None:
    instance = _case(seed, required=seed % 3)
    solution = solve_exact(instance, PMedian(), p=p, mip_gap=1e-9)
    assert solution.optimal and len(solution.chosen) == p
    assert solution.objective_after == pytest.approx(_best(instance, PMedian(), p), rel=1e-12)


@pytest.mark.parametrize("restrict", [0.0, 2.0], ids=["smaller master", "same master"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_branch_and_cut_from_a_poor_incumbent_equals_brute_force(
    seed: int, restrict: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst set of sites as the incumbent: the search itself must find the optimum."""
    instance = _case(seed, n=60, m=14, required=0)
    p = 3
    sets = _all_sets(instance, p)
    worst = max(sets, key=lambda s: PMedian().evaluate(instance, s)).astype(np.int64)
    monkeypatch.setattr(exact_mod, "site_heuristic", lambda *a, **k: (worst, [], ""))
    monkeypatch.setattr(pmedian_mod, "_RESTRICT_SHARE", restrict)
    solution = solve_exact(instance, PMedian(), p=p, mip_gap=1e-9)
    assert solution.optimal
    assert solution.objective_after == pytest.approx(_best(instance, PMedian(), p), rel=1e-12)


def test_time_limit_keeps_a_true_bound() -> None:
    """Stopped early: the incumbent is kept and the optimum lies within the stated gap."""
    instance = _case(5, n=80, m=16, required=0)
    best = _best(instance, PMedian(), 3)
    solution = solve_exact(instance, PMedian(), p=3, time_limit_s=0.05)
    assert solution.gap is not None
    assert solution.objective_after >= best * (1 - 1e-12)
    assert solution.objective_after * (1 - solution.gap) <= best * (1 + 1e-12)


# --------------------------------------------------------------------------
# OR-Library p-median: published optima (small instances, for CI's time)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pmed2", "pmed6", "pmed7", "pmed11", "pmed12", "pmed16"])
def test_orlib_pmedian_proven_at_the_published_optimum(orlib_dir: Path, name: str) -> None:
    problem = read_orlib_pmed(orlib_dir / f"{name}.txt")
    optimum = read_orlib_optima(orlib_dir / "pmedopt.txt")[name]
    instance = make_instance(problem.distance)
    exact = solve_exact(instance, PMedian(), p=problem.p, mip_gap=1e-9, time_limit_s=120)
    assert exact.status == "optimal" and exact.objective_after == optimum
    heuristic = solve_heuristic(instance, PMedian(), p=problem.p, seed=0)
    assert optimum <= heuristic.objective_after <= optimum * 1.005


# --------------------------------------------------------------------------
# MCLP by Benders decomposition
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cover_cuts_are_valid_and_tight(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cover = sp.csr_array((rng.random((50, 9)) < 0.25).astype(float))
    weight = rng.integers(1, 9, 50).astype(float)
    cuts_at = CoverCuts(cover, weight, groups=4)
    for y in (rng.random(9), (rng.random(9) < 0.3) * 1.0):
        cuts = cuts_at.separate(y)
        dense = sp.csr_array((cuts.data, cuts.indices, cuts.indptr), shape=(4, 9)).toarray()
        for added in itertools.combinations(range(9), 3):
            z = np.isin(np.arange(9), added) * 1.0
            covered = (cover @ z >= 1) * weight
            per_group = -np.bincount(cuts_at.group, weights=covered, minlength=4)
            assert (cuts.rhs - dense @ z <= per_group + 1e-9).all()
        if set(np.unique(y)) <= {0.0, 1.0}:
            covered = (cover @ y >= 1) * weight
            np.testing.assert_allclose(
                cuts.value, -np.bincount(cuts_at.group, weights=covered, minlength=4)
            )


def test_merged_rows_keep_the_weight_of_each_covering_set() -> None:
    cover = sp.csr_array(np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1], [0, 0, 1]], dtype=float))
    merged, weight = merge_rows(cover, np.array([2.0, 3.0, 5.0, 7.0]))
    rows = {tuple(r): w for r, w in zip(merged.toarray().astype(int).tolist(), weight, strict=True)}
    assert rows == {(1, 0, 1): 7.0, (0, 1, 0): 3.0, (0, 0, 1): 7.0}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("p", [1, 2, 3])
def test_mclp_benders_equals_brute_force(
    seed: int, p: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = _case(seed, required=seed % 2)
    model = MCLP(900.0)
    best = _best(instance, model, p)
    monkeypatch.setattr(exact_mod, "_MCLP_BENDERS_CELLS", 0)  # the dense instance by Benders too
    dense = solve_exact(instance, model, p=p, mip_gap=1e-9)
    rows, cols = np.nonzero(np.isfinite(instance.cost_s))
    times = sp.csc_array((instance.cost_s[rows, cols], (rows, cols)), shape=instance.cost_s.shape)
    sparse = make_sparse_instance(
        times,
        cutoff_s=float(times.data.max()),
        weight=instance.weight,
        required=instance.required,
    )
    on_sparse = solve_exact(sparse, model, p=p, mip_gap=1e-9)
    for solution in (dense, on_sparse):
        assert solution.optimal and len(solution.chosen) == p
        assert solution.objective_after == pytest.approx(best, rel=1e-12)


def test_sparse_exact_refuses_the_other_models() -> None:
    instance = make_sparse_instance(np.full((3, 2), 60.0), cutoff_s=600.0)
    with pytest.raises(Exception, match=r"p-median on a dense Instance only .* cutoff \(10 min\)"):
        solve_exact(instance, PMedian(), p=1)
    with pytest.raises(Exception, match="above the sparse instance's cutoff"):
        solve_exact(instance, MCLP(900.0), p=1)


# --------------------------------------------------------------------------
# The fast interchange's swap values
# --------------------------------------------------------------------------


@pytest.mark.parametrize("model", [PMedian(), MCLP(900.0), MaxSurvival()], ids=lambda m: m.name)
def test_fast_swaps_equal_every_swap_evaluated(model: PMedian | MCLP | MaxSurvival) -> None:
    """After a run of swaps (incremental updates), the table equals a direct evaluation."""
    instance = _case(7, n=50, m=12, required=2)
    rng = np.random.default_rng(7)
    is_open = instance.required.copy()
    is_open[rng.choice(np.flatnonzero(~is_open), 4, replace=False)] = True
    moves = fast_swaps(instance, model, is_open, 4)
    for _ in range(6):  # random swaps, singly and two at once
        added = np.flatnonzero(moves.is_open & ~instance.required)
        closed = np.flatnonzero(~moves.is_open)
        k = int(rng.integers(1, 3))
        moves.swap_many(
            rng.choice(added, k, replace=False).tolist(),
            rng.choice(closed, k, replace=False).tolist(),
        )
    assert moves.value == pytest.approx(model.evaluate(instance, moves.is_open), rel=1e-12)
    added = np.flatnonzero(moves.is_open & ~instance.required)
    table = moves.table(added)
    for row, r in enumerate(added):
        for a in np.flatnonzero(~moves.is_open):
            trial = moves.is_open.copy()
            trial[r], trial[a] = False, True
            assert table[row, a] == pytest.approx(model.evaluate(instance, trial), rel=1e-9)


def test_cover_swaps_equal_every_swap_evaluated() -> None:
    rng = np.random.default_rng(3)
    cover = sp.csr_array((rng.random((60, 10)) < 0.3).astype(float))
    weight = rng.integers(1, 9, 60).astype(float)
    base = rng.random(60) < 0.1
    is_open = np.zeros(10, dtype=bool)
    is_open[[1, 4, 7]] = True
    swaps = CoverSwaps(cover, weight, base, is_open)
    swaps.swap(4, 5)

    def covered(mask: np.ndarray) -> float:
        return float(weight @ ((cover @ mask.astype(float) >= 1) | base))

    assert swaps.value == covered(swaps.is_open)
    added = np.flatnonzero(swaps.is_open)
    table = swaps.table(added)
    for row, r in enumerate(added):
        for a in np.flatnonzero(~swaps.is_open):
            trial = swaps.is_open.copy()
            trial[r], trial[a] = False, True
            assert table[row, a] == covered(trial)


# --------------------------------------------------------------------------
# The heuristics' VNS: seeded, time-bounded, between the greedy and the optimum
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [PMedian(), MCLP(1200.0), MEXCLP(1200.0, busy_fraction=0.4)],
    ids=lambda m: m.name,
)
def test_vns_is_seeded_time_bounded_and_between_greedy_and_optimum(
    model: PMedian | MCLP | MEXCLP,
) -> None:
    """Greedy <= VNS <= exact optimum; a spent time limit leaves the greedy; a seed repeats."""
    instance = _case(7, n=120, m=24, required=1)
    p, s = 4, (-1.0 if model.sense == "min" else 1.0)
    greedy = solve_heuristic(instance, model, p=p, max_iterations=0, seed=3)
    spent = solve_heuristic(instance, model, p=p, time_limit_s=1e-9, seed=3)
    assert spent.chosen == greedy.chosen and "VNS" not in spent.status
    full = solve_heuristic(instance, model, p=p, seed=3)
    again = solve_heuristic(instance, model, p=p, seed=3)
    assert again.chosen == full.chosen and again.objective_after == full.objective_after
    exact = solve_exact(instance, model, p=p, mip_gap=1e-9)
    assert exact.optimal
    tol = 1e-9 * abs(exact.objective_after)
    assert s * greedy.objective_after <= s * full.objective_after + tol
    assert s * full.objective_after <= s * exact.objective_after + tol
