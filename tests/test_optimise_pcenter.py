"""p-center: published OR-Library optima, the heuristic's improvement, the exact solver's limits.

Checked against the published optimal radii of the OR-Library pmed
instances (:data:`planner.optimise.orlib.PCENTER_OPTIMA`, Pullan 2008), the
published p-median optima (``pmedopt.txt``, for the reader), and brute force
over every swap or every set of sites on small seeded instances.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import planner.optimise.exact as exact_mod
from planner.errors import InputFileError, MissingFileError
from planner.optimise import (
    Instance,
    PCenter,
    PMedian,
    make_instance,
    solve_exact,
    solve_heuristic,
)
from planner.optimise.orlib import (
    PCENTER_OPTIMA,
    OrlibInstance,
    read_orlib_optima,
    read_orlib_pmed,
)

Reader = Callable[[str], OrlibInstance]


@pytest.fixture(scope="module")
def orlib(orlib_dir: Path) -> Reader:
    cache: dict[str, OrlibInstance] = {}

    def read(name: str) -> OrlibInstance:
        if name not in cache:
            cache[name] = read_orlib_pmed(orlib_dir / f"{name}.txt")
        return cache[name]

    return read


def _instance(orlib: Reader, name: str) -> tuple[Instance, int]:
    problem = orlib(name)
    return make_instance(problem.distance), problem.p


# --------------------------------------------------------------------------
# The OR-Library reader
# --------------------------------------------------------------------------


def test_reader_reproduces_the_published_pmedian_optimum(orlib: Reader, orlib_dir: Path) -> None:
    problem = orlib("pmed1")
    assert (problem.n, problem.p) == (100, 5)
    np.testing.assert_array_equal(problem.distance, problem.distance.T)
    assert np.isfinite(problem.distance).all() and (np.diag(problem.distance) == 0).all()
    optima = read_orlib_optima(orlib_dir / "pmedopt.txt")
    assert len(optima) == 40 and optima["pmed1"] == 5819
    solution = solve_exact(make_instance(problem.distance), PMedian(), p=problem.p)
    assert solution.optimal and solution.objective_after == optima["pmed1"]


def test_reader_keeps_the_last_copy_of_an_edge_and_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("3 3 1\n1 2 10\n2 3 5\n2 1 4\n")  # edge 1-2 listed twice: 4 holds
    tiny = read_orlib_pmed(path)
    assert tiny.name == "tiny" and tiny.p == 1
    np.testing.assert_array_equal(tiny.distance, [[0, 4, 9], [4, 0, 5], [9, 5, 0]])
    path.write_text("3 2 1\n1 2 10\n2 x 5\n")
    with pytest.raises(InputFileError, match=r"tiny.txt: line 3: expected 3 numbers"):
        read_orlib_pmed(path)
    path.write_text("3 2 1\n1 2 10\n2 4 5\n")
    with pytest.raises(InputFileError, match=r"line 3: bad edge '2 4 5' \(n = 3\)"):
        read_orlib_pmed(path)
    with pytest.raises(MissingFileError, match="no such OR-Library file"):
        read_orlib_pmed(tmp_path / "none.txt")


# --------------------------------------------------------------------------
# Exact p-center on published instances
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pmed1", "pmed2", "pmed5", "pmed6"])
def test_exact_reaches_the_published_optimum(orlib: Reader, name: str) -> None:
    instance, p = _instance(orlib, name)
    solution = solve_exact(instance, PCenter(), p=p, time_limit_s=120.0)
    assert solution.status == "optimal" and solution.gap == 0.0
    assert solution.objective_after == PCENTER_OPTIMA[name]
    assert len(solution.chosen) == p == int(solution.open_mask.sum())


def test_exact_is_never_worse_than_its_incumbent(
    orlib: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case of the issue: pmed27 (p = 10) under a time limit that stops every MILP.

    Before, the search returned radius 55 with 2 of 10 sites while the
    heuristic found 32. Now HiGHS is made to stop undecided on every step:
    the answer is the heuristic's, with 10 sites and the gap the bounds prove.
    """
    instance, p = _instance(orlib, "pmed27")
    heuristic = solve_heuristic(instance, PCenter(), p=p, seed=0)
    monkeypatch.setattr(exact_mod, "_cover_feasible", lambda *args: (None, False))
    monkeypatch.setattr(exact_mod, "_cover_relaxation_exceeds", lambda *args: None)
    # a limit so long that the heuristic's share never binds: it is the same search as above
    solution = solve_exact(instance, PCenter(), p=p, time_limit_s=10_000.0)
    assert solution.objective_after == heuristic.objective_after <= 33
    assert len(solution.chosen) == p
    assert solution.status.startswith("within ") and solution.status.endswith("(time limit)")
    # every node is a candidate, so the only bound left is 0: "within 100 %" is all it proves
    assert solution.gap == 1.0 and solution.status == "within 100 % (time limit)"
    assert not solution.optimal


def test_relaxation_bound_proves_pmed27(orlib: Reader) -> None:
    """The covering relaxation's lower bound meets the heuristic's 32: proven without a MILP."""
    instance, p = _instance(orlib, "pmed27")
    rows = np.arange(instance.n_demand)
    assert exact_mod._cover_relaxation_exceeds(instance, rows, 31.0, p, 60.0) is True
    assert exact_mod._cover_relaxation_exceeds(instance, rows, 32.0, p, 60.0) is False


def test_exact_fills_up_to_p_sites_by_the_mclp_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cover needing fewer than p sites is filled by the MCLP rule: most weight within r."""
    # site 0 reaches every point in 100 s; sites 1-5 one point each in 50 s; weights differ
    cost = np.full((6, 6), np.inf)
    cost[:, 0] = 100.0
    cost[np.arange(1, 6), np.arange(1, 6)] = 50.0
    cost[0, 1] = 90.0
    weight = np.array([1.0, 9.0, 2.0, 8.0, 3.0, 7.0])
    instance = make_instance(cost, weight)
    # a poor incumbent, so that the covering MILPs find the optimum (radius 100, one site)
    poor = np.array([0, 1, 0, 1, 0, 1])
    monkeypatch.setattr(exact_mod, "site_heuristic", lambda *a, **k: (poor, [1, 3, 5], ""))
    solution = solve_exact(instance, PCenter(), p=3)
    assert solution.optimal and solution.objective_after == 100.0
    # site 0 plus the two covering most weight within 100 s: site 1 (points 0 and 1,
    # weight 10) and site 3 (8); not site 5 (7)
    assert sorted(solution.chosen) == ["site_0", "site_1", "site_3"]


# --------------------------------------------------------------------------
# The heuristic's improvement phase
# --------------------------------------------------------------------------


def test_heuristic_gap_on_published_instances(orlib: Reader) -> None:
    """pmed1-10: never below the optimum, and within 5 % (greedy + swaps was up to 110 % off)."""
    gaps = []
    for k in range(1, 11):
        instance, p = _instance(orlib, f"pmed{k}")
        solution = solve_heuristic(instance, PCenter(), p=p, seed=0)
        assert solution.status.startswith("feasible, no bound (heuristic: greedy + ")
        assert len(solution.chosen) == p
        gaps.append(
            (solution.objective_after - PCENTER_OPTIMA[f"pmed{k}"]) / PCENTER_OPTIMA[f"pmed{k}"]
        )
    assert min(gaps) >= 0
    assert max(gaps) <= 0.05, gaps
    assert sum(g == 0 for g in gaps) >= 7, gaps


def _radius(cost: np.ndarray, is_open: np.ndarray) -> float:
    return float(cost[:, is_open].min(axis=1).max())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_heuristic_ends_where_no_swap_lowers_the_radius(seed: int) -> None:
    """Brute force over every (close, open) swap of the answer: none lowers the radius."""
    rng = np.random.default_rng(seed)
    points = rng.random((60, 2)) * 30_000.0
    sites = rng.random((15, 2)) * 30_000.0
    cost = np.hypot(*(points[:, None, :] - sites[None]).transpose(2, 0, 1)) / 15.0 + 60.0
    required = np.zeros(15, dtype=bool)
    required[seed] = True
    instance = make_instance(cost, rng.integers(1, 9, 60), required=required)
    solution = solve_heuristic(instance, PCenter(), p=4, seed=seed)
    is_open = solution.open_mask
    radius = _radius(cost, is_open)
    assert solution.objective_after == radius
    for out, into in itertools.product(
        np.flatnonzero(is_open & ~required), np.flatnonzero(~is_open)
    ):
        trial = is_open.copy()
        trial[out], trial[into] = False, True
        assert _radius(cost, trial) >= radius, (out, into)
    # and the exact optimum, by brute force over every set of 4 added sites
    best = min(
        _radius(cost, required | np.isin(np.arange(15), added))
        for added in itertools.combinations(np.flatnonzero(~required).tolist(), 4)
    )
    assert radius >= best
    assert solve_exact(instance, PCenter(), p=4).objective_after == best


def test_heuristic_time_limit_bounds_the_improvement(orlib: Reader) -> None:
    instance, p = _instance(orlib, "pmed10")
    quick = solve_heuristic(instance, PCenter(), p=p, seed=0, time_limit_s=1e-6)
    assert quick.status.endswith("VNS with 0 shakes)")
    assert quick.objective_after >= PCENTER_OPTIMA["pmed10"]
    full = solve_heuristic(instance, PCenter(), p=p, seed=0)
    assert full.objective_after <= quick.objective_after
    again = solve_heuristic(instance, PCenter(), p=p, seed=0)
    assert again.chosen == full.chosen  # no time limit: reproducible for a seed
