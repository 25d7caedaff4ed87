"""Coverage tables against brute-force recomputation and hand calculations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from planner.analysis.coverage import (
    CoverageSettings,
    coverage_table,
    gini,
    validate_thresholds,
    weighted_quantile,
    worst_served,
)
from planner.errors import DataError, ParameterError


def brute_gini(x: np.ndarray, w: np.ndarray) -> float:
    """The definition: double sum over all pairs."""
    total = w.sum()
    mean = float(np.dot(w, x) / total)
    pairs = sum(
        w[i] * w[j] * abs(x[i] - x[j]) for i, j in itertools.product(range(len(x)), repeat=2)
    )
    return pairs / (2 * total * total * mean)


def brute_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """Repeat each value by its integer weight, then take the inverted-CDF quantile."""
    expanded = np.repeat(x, w.astype(int))
    ordered = np.sort(expanded)
    k = math.ceil(q * len(ordered)) - 1
    return float(ordered[max(k, 0)])


def test_gini_by_hand() -> None:
    # two people, 10 and 30 min: sum |xi-xj| over ordered pairs = 40; /(2*4*20) = 0.25
    assert gini(np.array([10.0, 30.0]), np.array([1.0, 1.0])) == pytest.approx(0.25)
    assert gini(np.array([7.0, 7.0, 7.0]), np.array([1.0, 5.0, 2.0])) == 0.0


def test_gini_and_quantiles_equal_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.uniform(1, 60, size=rng.integers(2, 12))
        w = rng.integers(1, 9, size=len(x)).astype(float)
        assert gini(x, w) == pytest.approx(brute_gini(x, w), rel=1e-12)
        for q in (0.5, 0.9, 1.0):
            assert weighted_quantile(x, w, q) == brute_quantile(x, w, q)


def test_thresholds_must_increase() -> None:
    with pytest.raises(ParameterError, match="must be increasing: 20 min is followed by 10 min"):
        validate_thresholds([20, 10, 30])
    with pytest.raises(ParameterError, match="-5 min is not a positive time"):
        CoverageSettings(thresholds_min=(-5, 10))
    with pytest.raises(ParameterError, match="at least one threshold"):
        validate_thresholds([])


def test_summary_by_hand() -> None:
    # 4 points: 5 min (w 2), 15 min (w 1), 25 min (w 1), unreachable (w 1)
    t = np.array([5, 15, 25, np.inf]) * 60.0
    w = np.array([2.0, 1.0, 1.0, 1.0])
    row = coverage_table(t, w).iloc[0]
    assert row["demand"] == 5
    assert row["demand_unreachable"] == 1
    assert row["share_unreachable"] == pytest.approx(0.2)
    assert row["share_within_10_min"] == pytest.approx(2 / 5)
    assert row["share_within_20_min"] == pytest.approx(3 / 5)
    assert row["share_within_30_min"] == pytest.approx(4 / 5)
    assert row["mean_min"] == pytest.approx((5 * 2 + 15 + 25) / 4)
    assert row["median_min"] == 5  # cumulative share of reached demand: 0.5 at 5 min
    assert row["p90_min"] == 25
    assert row["max_min"] == 25


def test_grouped_table_equals_brute_force() -> None:
    rng = np.random.default_rng(11)
    n = 400
    t = rng.uniform(60, 3600, n)
    t[rng.random(n) < 0.05] = np.inf
    w = rng.integers(0, 50, n).astype(float)
    groups = pd.DataFrame({"municipality_code": rng.choice(["0180", "0114", "0980", None], n)})
    table = coverage_table(t, w, groups=groups).set_index("municipality_code")
    for code, part in groups.fillna("(none)").groupby("municipality_code"):
        idx = part.index.to_numpy()
        tt, ww = t[idx], w[idx]
        row = table.loc[code]
        assert row["demand"] == pytest.approx(ww.sum())
        assert row["demand_unreachable"] == pytest.approx(ww[~np.isfinite(tt)].sum())
        for minutes in (10, 20, 30):
            expected = ww[tt <= minutes * 60].sum() / ww.sum()
            assert row[f"share_within_{minutes}_min"] == pytest.approx(expected)
        reached = np.isfinite(tt) & (ww > 0)
        assert row["median_min"] == brute_quantile(tt[reached] / 60, ww[reached], 0.5)
        assert row["p90_min"] == brute_quantile(tt[reached] / 60, ww[reached], 0.9)
        assert row["max_min"] == pytest.approx(tt[reached].max() / 60)
        assert row["mean_min"] == pytest.approx(np.average(tt[reached] / 60, weights=ww[reached]))
    assert table["demand"].sum() == pytest.approx(w.sum())  # nothing dropped


def test_bad_weights() -> None:
    with pytest.raises(DataError, match="finite and non-negative"):
        coverage_table(np.array([60.0]), np.array([-1.0]))
    with pytest.raises(DataError, match="NaN"):
        coverage_table(np.array([np.nan]), np.array([1.0]))


def test_worst_served_puts_unreachable_first() -> None:
    table = pd.DataFrame(
        {
            "municipality": ["A", "B", "C"],
            "share_unreachable": [0.0, 0.1, 0.0],
            "p90_min": [40.0, 12.0, 55.0],
        }
    )
    assert worst_served(table, n=3)["municipality"].tolist() == ["B", "C", "A"]
    with pytest.raises(ParameterError, match="not a column"):
        worst_served(table, by="p95_min")
