"""p-median and p-center on costs of any size: no silent cap (issue 12, point 5).

Every finite response time counts in full; a point no open site reaches
counts as U = max(2 h, the instance's longest finite time). The optima are
checked against a brute force over every set of sites, written here from
that rule alone (it never calls the models' ``evaluate``), on seeded random
matrices whose costs span 1 s to 10^6 s with unreachable (inf) pairs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse as sp

from planner.optimise import (
    UNREACHED_PENALTY_S,
    Instance,
    PCenter,
    PMedian,
    make_instance,
    make_sparse_instance,
    solve_exact,
    solve_heuristic,
)
from planner.optimise.models import unreached_cost_s

SEEDS = range(6)


def _random_case(seed: int) -> Instance:
    """12 demand x 8 sites, costs log-uniform in [1, 1e6] s, 25 % inf, edge rows."""
    rng = np.random.default_rng(seed)
    n, m = 12, 8
    cost = np.exp(rng.uniform(0.0, math.log(1e6), (n, m)))
    cost[rng.random((n, m)) < 0.25] = np.inf
    cost[0] = np.inf  # no candidate reaches it: left out of both objectives
    cost[1] = np.inf
    cost[1, seed % m] = 9.5e5  # one candidate only, far: U decides until it opens
    weight = rng.integers(0, 10, n).astype(float)
    weight[2] = 0.0  # no weight: never sets p-center's radius
    required = np.zeros(m, dtype=bool)
    if seed % 2:
        required[(seed + 3) % m] = True
    return make_instance(cost, weight, required=required)


def _value(cost: np.ndarray, weight: np.ndarray, is_open: np.ndarray) -> tuple[float, float]:
    """(p-median, p-center) of the open sites, by the documented rule."""
    finite = np.isfinite(cost)
    unreached = max(2 * 3600.0, float(cost[finite].max()))
    rows = finite.any(axis=1)  # demand some candidate reaches
    t = cost[:, is_open].min(axis=1) if is_open.any() else np.full(len(cost), np.inf)
    t = np.where(np.isfinite(t), t, unreached)
    served = rows & (weight > 0)
    center = float(t[served].max()) if served.any() else 0.0
    return float(np.sum(weight[rows] * t[rows])), center


def _brute(cost: np.ndarray, weight: np.ndarray, required: np.ndarray, p: int) -> tuple[float, ...]:
    """(best p-median, best p-center) over every choice of p added sites."""
    best = [math.inf, math.inf]
    for added in itertools.combinations(np.flatnonzero(~required).tolist(), p):
        is_open = required.copy()
        is_open[list(added)] = True
        best = [min(b, v) for b, v in zip(best, _value(cost, weight, is_open), strict=True)]
    return tuple(best)


def _evaluate(instance: Instance, model: PMedian | PCenter, sites: tuple[str, ...]) -> float:
    """The documented rule for one solution: the required sites plus ``sites``."""
    is_open = instance.required.copy()
    is_open[[instance.site_names.index(s) for s in sites]] = True
    median, center = _value(np.asarray(instance.cost_s), instance.weight, is_open)
    return median if isinstance(model, PMedian) else center


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [1, 2, 3])
def test_exact_and_heuristic_match_brute_force_up_to_1e6(seed: int, p: int) -> None:
    instance = _random_case(seed)
    assert np.nanmax(np.where(np.isfinite(instance.cost_s), instance.cost_s, np.nan)) > 1e5
    median, center = _brute(np.asarray(instance.cost_s), instance.weight, instance.required, p)
    for model, optimum in ((PMedian(), median), (PCenter(), center)):
        exact = solve_exact(instance, model, p=p)
        assert exact.status == "optimal" and exact.optimal
        assert exact.objective_after == pytest.approx(optimum, rel=1e-9), (model.name, seed, p)
        assert len(exact.chosen) == p
        heur = solve_heuristic(instance, model, p=p, seed=seed)
        assert len(heur.chosen) == p
        # its reported value is the value of its sites, and never beats the optimum
        assert heur.objective_after == pytest.approx(
            _evaluate(instance, model, heur.chosen), rel=1e-12
        )
        assert heur.objective_after >= optimum * (1 - 1e-12)


def test_unreached_cost_is_two_hours_or_the_longest_time() -> None:
    short = make_instance([[100.0, np.inf], [np.inf, 200.0]])
    assert unreached_cost_s(short) == UNREACHED_PENALTY_S == 7200.0
    long = make_instance([[100.0, np.inf], [np.inf, 9.5e5]])
    assert unreached_cost_s(long) == 9.5e5
    sparse = make_sparse_instance(
        sp.csc_array([[100.0, 0.0], [0.0, 300.0]]),
        cutoff_s=400.0,
        base_s=[100.0, 8000.0],
        base_site=[0, 0],
        required=[True, False],
    )
    assert sparse.longest_s == 8000.0  # the existing station's time beyond the cutoff
    assert unreached_cost_s(sparse) == 8000.0


def test_times_over_two_hours_count_in_full() -> None:
    """Hand calculation: the old 7,200 s cap picked the wrong site for both models."""
    # site A reaches both points in 8,000 s; site B one point in 100 s, the other in 20,000 s
    instance = make_instance([[8000.0, 100.0], [8000.0, 20000.0]], site_names=["A", "B"])
    median = solve_exact(instance, PMedian(), p=1)
    assert median.chosen == ("A",) and median.objective_after == 16000.0  # B: 20,100
    center = solve_exact(instance, PCenter(), p=1)
    assert center.chosen == ("A",) and center.objective_after == 8000.0  # B: 20,000
    for model in (PMedian(), PCenter()):
        assert solve_heuristic(instance, model, p=1).chosen == ("A",)
    # capped at 7,200 s, B would have scored 7,300 (p-median) and tied A at 7,200 (p-center)


def test_other_units_give_the_same_sites() -> None:
    """Times given in milliseconds: the same sites, objectives x 1000 (no inf in the matrix)."""
    rng = np.random.default_rng(8)
    cost = rng.uniform(60.0, 5000.0, (20, 7))
    weight = rng.integers(1, 9, 20).astype(float)
    seconds, millis = make_instance(cost, weight), make_instance(cost * 1000.0, weight)
    for model in (PMedian(), PCenter()):
        for p in (1, 2, 3):
            a, b = solve_exact(seconds, model, p=p), solve_exact(millis, model, p=p)
            assert sorted(a.chosen) == sorted(b.chosen)
            assert b.objective_after == pytest.approx(1000.0 * a.objective_after, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_sparse_instance_counts_long_times_like_the_dense_one(seed: int) -> None:
    """With every pair stored, the sparse heuristic gives the dense one's sites and values."""
    instance = _random_case(seed)
    cost = np.asarray(instance.cost_s)
    sparse = make_sparse_instance(
        sp.csc_array(np.where(np.isfinite(cost), cost, 0.0)),
        cutoff_s=1e6,
        weight=instance.weight,
        required=instance.required,
    )
    assert sparse.longest_s == instance.longest_s
    for model in (PMedian(), PCenter()):
        a = solve_heuristic(instance, model, p=2, seed=seed)
        b = solve_heuristic(sparse, model, p=2, seed=seed)
        assert b.chosen == a.chosen
        assert b.objective_after == a.objective_after
        assert b.objective_before == a.objective_before
