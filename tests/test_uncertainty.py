"""Uncertain drive times: lognormal probabilities against scipy.stats.lognorm, expected shares in
coverage tables by hand, and the expected-coverage objective against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from planner import constants
from planner.analysis.coverage import CoverageSettings, coverage_table
from planner.errors import ParameterError
from planner.network.dispersion import (
    check_cv,
    draw_drive_times,
    lognormal_sigma,
    probability_within,
)
from planner.optimise import MCLP, ExpectedCoverage, make_instance, solve_exact, solve_heuristic

TURNOUT_S = 180.0


def test_sigma_by_hand() -> None:
    # cv² = exp(σ²) - 1 for a lognormal
    assert lognormal_sigma(0.3) == pytest.approx(math.sqrt(math.log(1.09)))
    sigma = lognormal_sigma(0.5)
    assert math.sqrt(math.exp(sigma**2) - 1) == pytest.approx(0.5)
    assert lognormal_sigma(0) == 0.0


@pytest.mark.parametrize("cv", [0.1, 0.3, 0.8])
def test_probability_within_equals_scipy_lognorm(cv: float) -> None:
    medians = np.array([60.0, 300.0, 599.0, 600.0, 601.0, 1200.0, 3000.0])
    limit = 600.0
    dist = [stats.lognorm(s=math.sqrt(math.log(1 + cv * cv)), scale=m) for m in medians]
    expected = [d.cdf(limit) for d in dist]
    np.testing.assert_allclose(probability_within(medians, limit, cv=cv), expected, rtol=1e-12)
    # the median is the modelled time: exactly at the limit the chance is one half
    assert probability_within(600.0, 600.0, cv=cv) == pytest.approx(0.5)
    # lognorm's own mean: the modelled time is the median, so the mean is above it
    assert dist[1].mean() == pytest.approx(300.0 * math.exp(math.log(1 + cv * cv) / 2))


def test_probability_within_edges() -> None:
    p = probability_within(np.array([np.inf, 0.0, 300.0, 300.0]), np.array([600, 0, 0, -5.0]))
    np.testing.assert_array_equal(p, [0.0, 1.0, 0.0, 0.0])
    # cv = 0 is the deterministic model
    np.testing.assert_array_equal(
        probability_within(np.array([599.0, 600.0, 601.0, np.inf]), 600.0, cv=0.0),
        [1.0, 1.0, 0.0, 0.0],
    )


def test_draw_drive_times_seeded_and_lognormal() -> None:
    medians = np.full(200_000, 420.0)
    a = draw_drive_times(medians, cv=0.3, seed=5)
    b = draw_drive_times(medians, cv=0.3, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, draw_drive_times(medians, cv=0.3, seed=6))
    # moments of the lognormal with median 420 s and cv 0.3, computed by hand
    sigma = math.sqrt(math.log(1.09))
    assert np.median(a) == pytest.approx(420.0, rel=0.01)
    assert a.mean() == pytest.approx(420.0 * math.exp(sigma**2 / 2), rel=0.01)
    assert a.std() / a.mean() == pytest.approx(0.3, rel=0.02)
    # Kolmogorov-Smirnov against scipy's lognorm
    ks = stats.kstest(a, stats.lognorm(s=sigma, scale=420.0).cdf)
    assert ks.pvalue > 0.01
    # a generator advances; inf stays inf; cv 0 gives the medians
    rng = np.random.default_rng(1)
    assert draw_drive_times(300.0, cv=0.3, seed=rng) != draw_drive_times(300.0, cv=0.3, seed=rng)
    assert np.isinf(draw_drive_times(np.array([np.inf]), cv=0.3, seed=0)[0])
    np.testing.assert_array_equal(draw_drive_times(np.array([1.0, 2.0]), cv=0, seed=0), [1, 2])
    assert draw_drive_times(60.0, cv=0.3, seed=0, size=(3, 4)).shape == (3, 4)


@pytest.mark.parametrize("bad", [-0.1, math.nan, 10.0, "abc", True])
def test_bad_cv_is_refused(bad: object) -> None:
    with pytest.raises(ParameterError, match=r"drive_time_cv = .*(between 0 and 3|a number)"):
        check_cv(bad)  # type: ignore[arg-type]


def test_coverage_table_expected_share_by_hand() -> None:
    response = np.array([400.0, 700.0, 1000.0, np.inf]) + TURNOUT_S
    weight = np.array([1.0, 2.0, 3.0, 4.0])
    plain = coverage_table(response, weight, settings=CoverageSettings(thresholds_min=(10, 20)))
    settings = CoverageSettings(thresholds_min=(10, 20), drive_time_cv=0.3, turnout_s=TURNOUT_S)
    table = coverage_table(response, weight, settings=settings)
    # the deterministic columns are unchanged; the expected ones are added
    assert [c for c in table.columns if c in set(plain.columns)] == list(plain.columns)
    assert set(table.columns) - set(plain.columns) == {
        "expected_share_within_10_min",
        "expected_share_within_20_min",
    }
    for column in plain.columns:
        assert table[column].iloc[0] == plain[column].iloc[0]
    sigma = math.sqrt(math.log(1.09))
    for t in (10, 20):
        limit = t * 60 - TURNOUT_S
        by_hand = (
            sum(
                w * stats.lognorm(s=sigma, scale=d).cdf(limit)
                for w, d in zip(weight[:3], [400.0, 700.0, 1000.0], strict=True)
            )
            / weight.sum()
        )
        assert table[f"expected_share_within_{t}_min"].iloc[0] == pytest.approx(by_hand)
    # more spread, fewer sure arrivals within 10 min: 400 s of 420 s available
    assert table["expected_share_within_10_min"].iloc[0] < plain["share_within_10_min"].iloc[0]


def _instance() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    cost = rng.uniform(200, 1500, (14, 7)) + TURNOUT_S
    cost[rng.random(cost.shape) < 0.15] = np.inf
    return cost, rng.integers(1, 30, 14).astype(float)


def _brute_force(cost: np.ndarray, weight: np.ndarray, p: int, required: list[int]) -> float:
    """Best expected coverage over every set of p added sites, from scipy's lognorm."""
    sigma = math.sqrt(math.log(1.09))
    limit = 900.0 - TURNOUT_S
    optional = [j for j in range(cost.shape[1]) if j not in required]
    best = 0.0
    for combo in itertools.combinations(optional, p):
        nearest = cost[:, [*required, *combo]].min(axis=1)
        total = sum(
            w * stats.lognorm(s=sigma, scale=c - TURNOUT_S).cdf(limit)
            for w, c in zip(weight, nearest, strict=True)
            if np.isfinite(c)
        )
        best = max(best, total)
    return best


@pytest.mark.parametrize("p", [1, 2, 3])
def test_expected_coverage_exact_equals_brute_force(p: int) -> None:
    cost, weight = _instance()
    instance = make_instance(cost, weight, required=["site_0"])
    model = ExpectedCoverage(threshold_s=900.0, drive_time_cv=0.3, turnout_s=TURNOUT_S)
    brute = _brute_force(cost, weight, p, [0])
    exact = solve_exact(instance, model, p=p)
    assert exact.status == "optimal"
    assert exact.objective_after == pytest.approx(brute, rel=1e-6)
    heuristic = solve_heuristic(instance, model, p=p)
    assert heuristic.objective_after <= exact.objective_after + 1e-9
    assert heuristic.objective_after == pytest.approx(brute, rel=0.02)


def test_expected_coverage_with_no_spread_is_mclp() -> None:
    cost, weight = _instance()
    instance = make_instance(cost, weight, required=["site_0"])
    mask = np.zeros(7, bool)
    mask[[0, 3, 5]] = True
    reliable = ExpectedCoverage(threshold_s=900.0, drive_time_cv=0.0, turnout_s=TURNOUT_S)
    assert reliable.evaluate(instance, mask) == MCLP(900.0).evaluate(instance, mask)
    # spread changes the choice's value, and never above the total weight
    spread = ExpectedCoverage(threshold_s=900.0, drive_time_cv=0.5, turnout_s=TURNOUT_S)
    assert 0 < spread.evaluate(instance, mask) < weight.sum()
    assert spread.evaluate(instance, mask) != reliable.evaluate(instance, mask)
    assert spread.name == "expected-coverage" and "drive_time_cv=0.5" in repr(spread)


def test_expected_coverage_refuses_bad_settings() -> None:
    with pytest.raises(
        ParameterError, match=r"turnout_s = 900.0: need 0 <= turn-out < threshold_s"
    ):
        ExpectedCoverage(threshold_s=600.0, turnout_s=900.0)
    with pytest.raises(ParameterError, match=r"drive_time_cv = -1"):
        ExpectedCoverage(threshold_s=600.0, drive_time_cv=-1)
    assert ExpectedCoverage().drive_time_cv == constants.DRIVE_TIME_CV
