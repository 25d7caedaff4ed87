"""Greedy addition followed by Teitz–Bart vertex substitution.

Greedy adds, one at a time, the site (unit) that improves the objective most.
Vertex substitution (Teitz & Bart 1968) then repeatedly makes the best swap of
an *added* site for an unopened candidate while it improves the objective;
required sites are never swapped out.

Swaps are evaluated without re-evaluating every solution: for each demand
point the best and second-best open sites are kept, so closing site r leaves
``t_without_r = where(best == r, second, best)``, and opening each candidate
a at once is a vectorised ``minimum(t_without_r[:, None], cost[:, a])``.
MEXCLP works on unit counts per point instead (``n_i``), LSCP on coverage
(greedy, then dropping redundant sites).

Ties are broken in a seeded random order of the candidates, so a run is
deterministic for a given seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from planner.errors import ParameterError
from planner.optimise.instance import Instance
from planner.optimise.models import (
    LSCP,
    MCLP,
    MEXCLP,
    UNREACHED_PENALTY_S,
    InfeasibleError,
    Model,
    PMedian,
    SiteModel,
)
from planner.optimise.solution import Solution, check_p, make_solution

__all__ = ["solve_heuristic"]

#: Relative improvement a swap must bring to count (guards against cycling on
#: floating-point noise).
_IMPROVE_RTOL = 1e-12


def _better(sign: float, new: float, cur: float) -> bool:
    return sign * (new - cur) > _IMPROVE_RTOL * max(1.0, abs(cur))


def _best_two(cost: np.ndarray, open_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per demand point: best open time, its site index, second-best time (inf if none)."""
    n = cost.shape[0]
    if len(open_idx) == 0:
        return np.full(n, np.inf), np.full(n, -1), np.full(n, np.inf)
    sub = cost[:, open_idx]
    if len(open_idx) == 1:
        return sub[:, 0].copy(), np.full(n, open_idx[0]), np.full(n, np.inf)
    part = np.partition(sub, 1, axis=1)
    arg = open_idx[np.argmin(sub, axis=1)]
    return part[:, 0], arg, part[:, 1]


def _pick(values: np.ndarray, sign: float, perm: np.ndarray) -> int:
    """Index of the best value, ties broken by the seeded order ``perm``."""
    v = sign * values[perm]
    return int(perm[int(np.argmax(v))])


def site_heuristic(
    instance: Instance, model: SiteModel, p: int, rng: np.random.Generator, max_iterations: int
) -> tuple[np.ndarray, list[int], int]:
    cost = instance.cost_s
    sign = 1.0 if model.sense == "max" else -1.0
    is_open = instance.required.copy()
    times = instance.open_times(is_open)
    order: list[int] = []
    for _ in range(p):
        cand = np.flatnonzero(~is_open)
        scores = model.score(instance, np.minimum(times[:, None], cost[:, cand]))
        j = int(cand[_pick(scores, sign, rng.permutation(len(cand)))])
        is_open[j] = True
        order.append(j)
        times = np.minimum(times, cost[:, j])
    current = float(model.score(instance, times))
    point_value = _point_value(instance, model)
    swaps = 0
    for _ in range(max_iterations):
        added = np.flatnonzero(is_open & ~instance.required)
        cand = np.flatnonzero(~is_open)
        if len(added) == 0 or len(cand) == 0:
            break
        best, arg, second = _best_two(cost, np.flatnonzero(is_open))
        best_val, best_move = current, None
        perm = rng.permutation(len(cand))
        if point_value is not None:
            table = _swap_scores(cost, point_value, best, arg, second, added, cand)
        for row, r_ in enumerate(added):
            r = int(r_)
            if point_value is not None:
                scores = table[row]
            else:
                without = np.where(arg == r, second, best)
                scores = model.score(instance, np.minimum(without[:, None], cost[:, cand]))
            k = _pick(scores, sign, perm)
            if _better(sign, float(scores[k]), best_val):
                best_val, best_move = float(scores[k]), (r, int(cand[k]))
        if best_move is None:
            break
        out, into = best_move
        is_open[out], is_open[into] = False, True
        order[order.index(out)] = into
        # the table sums in another order: keep the exact objective of the new sites
        current = (
            best_val
            if point_value is None
            else float(model.score(instance, instance.open_times(is_open)))
        )
        swaps += 1
    return is_open.astype(np.int64), order, swaps


#: Demand rows per block in :func:`_swap_scores` (bounds its temporaries).
_BLOCK_ROWS = 2048


def _point_value(
    instance: Instance, model: SiteModel
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]] | None:
    """``(w, f)`` when the objective is ``sum_i w_i f(t_i)`` (p-median, MCLP), else None."""
    if isinstance(model, PMedian):
        w = np.where(instance.reachable(), instance.weight, 0.0)
        return w, lambda t: np.minimum(t, UNREACHED_PENALTY_S)
    if isinstance(model, MCLP):
        threshold = model.threshold_s
        return instance.weight, lambda t: (t <= threshold).astype(np.float64)
    return None


def _swap_scores(
    cost: np.ndarray,
    point_value: tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]],
    best: np.ndarray,
    arg: np.ndarray,
    second: np.ndarray,
    added: np.ndarray,
    cand: np.ndarray,
) -> np.ndarray:
    """Objective of every swap (close ``added[r]``, open ``cand[a]``), shape (r, a).

    For a separable objective ``sum_i w_i f(t_i)``: opening a alone gives
    ``S_a = sum_i w_i f(min(best_i, c_ia))``; closing r as well changes only the
    points whose best site is r, by ``w_i [f(min(second_i, c_ia)) -
    f(min(best_i, c_ia))]``. One pass over the cost matrix in row blocks
    replaces one dense evaluation per closed site.
    """
    w, f = point_value
    n = cost.shape[0]
    slot = np.full(int(max(arg.max(initial=0), added.max(initial=0))) + 2, -1)
    slot[added] = np.arange(len(added))
    owner = slot[arg]  # row in the table of the added site serving each point, or -1
    total = np.zeros(len(cand))
    extra = np.zeros((len(added), len(cand)))
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(lo + _BLOCK_ROWS, n)
        c = cost[lo:hi][:, cand]
        base = f(np.minimum(best[lo:hi, None], c))
        total += w[lo:hi] @ base
        own = owner[lo:hi]
        mine = np.flatnonzero(own >= 0)
        if len(mine) == 0:
            continue
        diff = f(np.minimum(second[lo:hi][mine, None], c[mine])) - base[mine]
        diff *= w[lo:hi][mine, None]
        _group_add(extra, own[mine], diff)
    return total[None, :] + extra


def _group_add(out: np.ndarray, groups: np.ndarray, rows: np.ndarray) -> None:
    """out[g] += sum of rows with group g (rows sorted by group, summed in blocks)."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    out[g[starts]] += np.add.reduceat(rows[order], starts, axis=0)


def _mexclp_heuristic(
    instance: Instance, model: MEXCLP, p: int, rng: np.random.Generator, max_iterations: int
) -> tuple[np.ndarray, list[int], int]:
    a = model.cover_matrix(instance)
    w, q = instance.weight, model.busy_fraction
    units = instance.existing_units.astype(np.int64).copy()
    n = a @ units
    order: list[int] = []
    m = instance.n_sites
    for _ in range(p):
        gain = (w * q**n * (1 - q)) @ a
        j = _pick(gain, 1.0, rng.permutation(m))
        units[j] += 1
        n += a[:, j]
        order.append(j)
    current = float(w @ (1 - q**n))
    swaps = 0
    for _ in range(max_iterations):
        movable = np.flatnonzero(units > instance.existing_units)
        best_val, best_move = current, None
        perm = rng.permutation(m)
        for r_ in movable:
            r = int(r_)
            n_r = n - a[:, r]
            base = float(w @ (1 - q**n_r))
            gain = (w * q**n_r * (1 - q)) @ a
            gain[r] = -np.inf  # moving a unit back where it was is no move
            k = _pick(gain, 1.0, perm)
            if _better(1.0, base + float(gain[k]), best_val):
                best_val, best_move = base + float(gain[k]), (r, k)
        if best_move is None:
            break
        out, into = best_move
        units[out] -= 1
        units[into] += 1
        n += a[:, into] - a[:, out]
        order[len(order) - 1 - order[::-1].index(out)] = into
        current = best_val
        swaps += 1
    return units, order, swaps


def _lscp_heuristic(
    instance: Instance, model: LSCP, p: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[int], int]:
    need = model.must_cover(instance)
    within = (instance.cost_s <= model.threshold_s) & need[:, None]
    is_open = instance.required.copy()
    uncovered = need & ~within[:, is_open].any(axis=1)
    order: list[int] = []
    m = instance.n_sites
    while uncovered.any():
        gain = within[uncovered].sum(axis=0).astype(float)
        gain[is_open] = -1.0
        j = _pick(gain, 1.0, rng.permutation(m))
        if len(order) == p:
            raise InfeasibleError(
                f"lscp: the greedy heuristic needs more than p = {p} added sites to cover "
                f"every point within {model.threshold_s:g} s; raise p or use solve_exact"
            )
        is_open[j] = True
        order.append(j)
        uncovered &= ~within[:, j]
    dropped = 0
    for j in reversed(list(order)):  # drop added sites made redundant by later ones
        trial = is_open.copy()
        trial[j] = False
        if not (need & ~within[:, trial].any(axis=1)).any():
            is_open = trial
            order.remove(j)
            dropped += 1
    return is_open.astype(np.int64), order, dropped


def solve_heuristic(
    instance: Instance,
    model: Model,
    *,
    p: int,
    seed: int = 0,
    max_iterations: int = 100,
) -> Solution:
    """Greedy addition then Teitz–Bart vertex substitution.

    Parameters
    ----------
    instance
        Costs (s), weights and required sites.
    model
        Any model of :mod:`planner.optimise.models`.
    p
        Sites to add (units for MEXCLP; a cap on added sites for LSCP).
    seed
        Seeds the tie-breaking order; the result is deterministic for a seed.
    max_iterations
        At most this many improving swaps.

    Returns
    -------
    Solution
        ``chosen`` in greedy order (a swapped-in site takes the place of the
        one it replaced); ``gap`` is ``None``.

    Raises
    ------
    ParameterError
        Bad p or max_iterations.
    InfeasibleError
        LSCP cannot be covered with at most p added sites by the greedy.
    """
    p = check_p(instance, model, p)
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or max_iterations < 0
    ):
        raise ParameterError(f"max_iterations = {max_iterations!r}: give a whole number >= 0")
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    if isinstance(model, MEXCLP):
        final, order, swaps = _mexclp_heuristic(instance, model, p, rng, max_iterations)
        status = f"heuristic: greedy + {swaps} unit moves"
    elif isinstance(model, LSCP):
        final, order, swaps = _lscp_heuristic(instance, model, p, rng)
        status = f"heuristic: greedy, {swaps} redundant sites dropped"
    else:
        final, order, swaps = site_heuristic(instance, model, p, rng, max_iterations)
        status = f"heuristic: greedy + {swaps} swaps"
    elapsed = time.perf_counter() - start
    return make_solution(
        instance, model, final, order=order, gap=None, solve_time_s=elapsed, status=status
    )
