"""Exact solution of the location models as MILPs (``scipy.optimize.milp``, HiGHS).

Constraint matrices are sparse and built only from the pairs that matter
(finite cost, within the threshold, better than the unreached cost ...). The
formulations are written out in each model's docstring in
:mod:`planner.optimise.models`. Variable order: site variables ``x`` (or unit
counts ``u``) first, then the model's auxiliary variables. Assignment and
coverage variables are continuous in [0, 1]: with integer ``x`` the LP puts
them at their integral optimum, so only ``x`` (``u``) are integer.

p-center is solved as a binary search over set-covering problems (see
:class:`~planner.optimise.models.PCenter`), whose LP bounds are far tighter
than the min-max assignment MILP's, between the heuristic's radius and the
covering relaxation's lower bound.

A result is reported ``"optimal"`` only for a proven relative gap of at most
:data:`planner.constants.OPTIMAL_GAP`; the gap is computed here from the
incumbent and the proven bound (never taken as 0 when HiGHS gives none).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from planner import constants
from planner.errors import DataError, ParameterError
from planner.optimise.heuristic import site_heuristic
from planner.optimise.instance import Instance
from planner.optimise.mclp import solve_mclp_benders
from planner.optimise.models import (
    LSCP,
    MCLP,
    MEXCLP,
    InfeasibleError,
    MaxSurvival,
    Model,
    PCenter,
    PMedian,
    unreached_cost_s,
)
from planner.optimise.pmedian import solve_pmedian_radius
from planner.optimise.solution import (
    Solution,
    check_p,
    describe_optimality,
    greedy_order,
    make_solution,
)
from planner.optimise.sparse import AnyInstance, SparseInstance

__all__ = ["solve_exact"]

#: Sites compared at once in the dominance test (memory: block x sites x 4 B).
_DOMINANCE_BLOCK = 512
#: Share of the time limit the heuristic (the incumbent) may take, p-median
#: and p-center.
_HEURISTIC_SHARE = 0.25
#: p-median: VNS shakes without improvement after which the exact solver's
#: incumbent search stops. 0: greedy + fast interchange only. On OR-Library
#: pmed26/39/40 and Andorra 3,000 x 300 (p = 3, 5) the shakes cost more time
#: than the better incumbent saved in the decomposition (measured 2026-12-06:
#: pmed40 23 s -> 14 s, Andorra p = 5 28 s -> 20 s on a loaded machine).
#: Implementation choice.
_PMEDIAN_INCUMBENT_STALL = 0
#: MCLP on a dense instance larger than this (demand x sites) is solved by
#: Benders decomposition (:mod:`planner.optimise.mclp`), smaller ones by the
#: compact MILP; a sparse instance always by Benders. Implementation choice.
_MCLP_BENDERS_CELLS = 10_000_000
#: A covering relaxation needing more than p + this many sites proves a radius
#: infeasible (well above HiGHS's LP tolerances, far below one site).
_COVER_LP_TOL = 1e-6


@dataclass(frozen=True)
class _Milp:
    """A MILP in scipy's form: minimise ``c @ v``."""

    c: np.ndarray
    integrality: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    rows: list[LinearConstraint]
    #: constant part of the objective left out of ``c`` (demand already served)
    offset: float = 0.0


def _site_block(instance: Instance, p: int, n_aux: int, *, cap: bool = False) -> LinearConstraint:
    """sum_{j not required} x_j = p (or <= p with ``cap``)."""
    a = np.concatenate([(~instance.required).astype(float), np.zeros(n_aux)])
    return LinearConstraint(a[None, :], 0 if cap else p, p)


def _assignment(
    instance: Instance, pairs_i: np.ndarray, pairs_j: np.ndarray, n_extra: int
) -> tuple[sp.csr_array, sp.csr_array]:
    """Rows y_ij - x_j <= 0 and the per-demand sum of y (without extra columns)."""
    n, m = instance.n_demand, instance.n_sites
    k = len(pairs_i)
    link = sp.hstack(
        [
            sp.csr_array((-np.ones(k), (np.arange(k), pairs_j)), shape=(k, m)),
            sp.eye_array(k, format="csr"),
            sp.csr_array((k, n_extra)),
        ],
        format="csr",
    )
    total = sp.csr_array((np.ones(k), (pairs_i, np.arange(k))), shape=(n, k))
    return link, total


def _merge_rows(within: np.ndarray, w: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
    """Distinct rows of a bool matrix (as a sparse 0/1 matrix) and their summed weights."""
    if len(w) == 0:
        return sp.csr_array(within.astype(float)), w.copy()
    packed = np.ascontiguousarray(np.packbits(within, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    agg_w = np.bincount(inverse.ravel(), weights=w, minlength=len(first))
    return sp.csr_array(within[first].astype(float)), agg_w


def _undominated(cover: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Free sites whose covered set no other free site's contains (ties: the first).

    Parameters
    ----------
    cover
        Bool (rows, sites): site j covers row i.
    free
        Bool (sites,): sites that may be chosen.

    Returns
    -------
    numpy.ndarray
        Bool (sites,), true for the free sites kept. Dropping a site j whose
        set lies inside another site k's never lowers the best coverage: a
        solution with j does at least as well with k instead (or without j
        if k is in it). Dominance is transitive, so the maximal sets, one per
        set of identical columns, are kept. Sites covering nothing are
        dropped. Skipped (every free site with a nonempty set kept) above
        :data:`planner.constants.DOMINANCE_MAX_FLOPS`.
    """
    cols = np.flatnonzero(free)
    sub = cover[:, cols]
    size = sub.sum(axis=0)
    keep = np.zeros(len(free), dtype=bool)
    useful = size > 0
    c = len(cols)
    if sub.shape[0] * float(c) ** 2 > constants.DOMINANCE_MAX_FLOPS or c < 2:
        keep[cols[useful]] = True
        return keep
    # exact counts: float32 holds integers up to 2**24
    dense: np.ndarray = sub.astype(np.float32 if sub.shape[0] < 2**24 else np.float64)
    index = np.arange(c)
    for start in range(0, c, _DOMINANCE_BLOCK):
        stop = min(start + _DOMINANCE_BLOCK, c)
        inter = np.matmul(dense[:, start:stop].T, dense)  # |N_j & N_k|
        sj, sk = size[start:stop, None], size[None, :]
        inside = inter >= sj - 0.5  # N_j within N_k
        bigger = (sk > sj) | ((sk == sj) & (index[None, :] < index[start:stop, None]))
        useful[start:stop] &= ~(inside & bigger).any(axis=1)
    keep[cols[useful]] = True
    return keep


def _site_bounds(instance: Instance) -> tuple[np.ndarray, np.ndarray]:
    return instance.required.astype(float), np.ones(instance.n_sites)


def _build(instance: Instance, model: Model, p: int) -> _Milp:
    """The model's MILP (the formulations are in :mod:`planner.optimise.models`)."""
    if isinstance(model, LSCP):
        return _build_lscp(instance, model, p)
    if isinstance(model, MCLP):
        return _build_mclp(instance, model, p)
    if isinstance(model, MEXCLP):
        return _build_mexclp(instance, model, p)
    if isinstance(model, MaxSurvival):
        return _build_survival(instance, model, p)
    raise ParameterError(f"unknown model {model!r}")


def _build_lscp(instance: Instance, model: LSCP, p: int) -> _Milp:
    """min sum of free x subject to every point to cover being covered, <= p added sites."""
    within = instance.cost_s <= model.threshold_s
    free = ~instance.required
    xlb, xub = _site_bounds(instance)
    # points a required site already covers are served whatever is added
    done = within[:, instance.required].any(axis=1)
    need = np.flatnonzero(model.must_cover(instance) & ~done)
    keep = _undominated(within[need], free)
    a = sp.csr_array((within[need] & keep).astype(float))
    return _Milp(
        free.astype(float),
        np.ones(instance.n_sites),
        xlb,
        np.where(keep | instance.required, xub, 0.0),
        [LinearConstraint(a, 1, np.inf), _site_block(instance, p, 0, cap=True)],
    )


def _build_mclp(instance: Instance, model: MCLP, p: int) -> _Milp:
    """The compact MCLP over the points no required site covers, rows merged."""
    m, w = instance.n_sites, instance.weight
    within = instance.cost_s <= model.threshold_s
    xlb, xub = _site_bounds(instance)
    done = within[:, instance.required].any(axis=1)
    rows = np.flatnonzero(within.any(axis=1) & (w > 0) & ~done)
    keep = _undominated(within[rows], ~instance.required)
    # points with the same covering set N_i (on the kept sites) share one z,
    # their weights summed: the same optimum, often far fewer rows
    cover, agg_w = _merge_rows(within[rows] & keep, w[rows])
    k = len(agg_w)
    # z_i - sum_{j in N_i} x_j <= 0; sum_j x_j <= p (coverage never falls
    # with more sites, so the optimum equals that of "= p"; padded later)
    a = sp.hstack([-cover, sp.eye_array(k, format="csr")], format="csr")
    c = np.concatenate([np.zeros(m), -agg_w])
    return _Milp(
        c,
        np.concatenate([np.ones(m), np.zeros(k)]),
        np.concatenate([xlb, np.zeros(k)]),
        np.concatenate([np.where(keep | instance.required, xub, 0.0), np.ones(k)]),
        [LinearConstraint(a, -np.inf, 0), _site_block(instance, p, k, cap=True)],
        offset=-float(w[done & (w > 0)].sum()),
    )


def _build_mexclp(instance: Instance, model: MEXCLP, p: int) -> _Milp:
    """Unit counts u and one y_ik per possible coverage level k of each point."""
    m, w = instance.n_sites, instance.weight
    within = sp.csr_array(model.cover_matrix(instance))
    e = instance.existing_units.astype(float)
    # at most e(N_i) + p units can cover i: one y_ik per possible level k
    reach_units = within @ e + p
    rows = np.flatnonzero((within.sum(axis=1) > 0) & (w > 0) & (reach_units > 0))
    levels = reach_units[rows].astype(np.int64)
    k = int(levels.sum())
    owner = np.repeat(np.arange(len(rows)), levels)
    level = np.arange(k) - np.repeat(np.cumsum(levels) - levels, levels)
    q = model.busy_fraction
    # sum_k y_ik - sum_{j in N_i} u_j <= 0
    ysum = sp.csr_array((np.ones(k), (owner, np.arange(k))), shape=(len(rows), k))
    a = sp.hstack([-within[rows], ysum], format="csr")
    c = np.concatenate([np.zeros(m), -w[rows][owner] * (1 - q) * q**level])
    units_row = np.concatenate([np.ones(m), np.zeros(k)])
    return _Milp(
        c,
        np.concatenate([np.ones(m), np.zeros(k)]),
        np.concatenate([e, np.zeros(k)]),
        np.concatenate([e + p, np.ones(k)]),
        [
            LinearConstraint(a, -np.inf, 0),
            LinearConstraint(units_row[None, :], p + e.sum(), p + e.sum()),
        ],
    )


def _build_survival(instance: Instance, model: MaxSurvival, p: int) -> _Milp:
    """Assignment y_ij to open sites, maximising the survival-weighted demand."""
    n, m, w = instance.n_demand, instance.n_sites, instance.weight
    xlb, xub = _site_bounds(instance)
    s = model.survival(instance.cost_s / 60.0)
    pi, pj = np.nonzero((s > 0) & (w[:, None] > 0))
    k = len(pi)
    link, total = _assignment(instance, pi, pj, 0)
    c = np.concatenate([np.zeros(m), -w[pi] * s[pi, pj]])
    one = sp.hstack([sp.csr_array((n, m)), total], format="csr")
    return _Milp(
        c,
        np.concatenate([np.ones(m), np.zeros(k)]),
        np.concatenate([xlb, np.zeros(k)]),
        np.concatenate([xub, np.ones(k)]),
        [
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(one, -np.inf, 1),
            _site_block(instance, p, k),
        ],
    )


def _cover_problem(
    instance: Instance, rows: np.ndarray, radius_s: float
) -> tuple[sp.csr_array, np.ndarray] | None:
    """The rows to cover within ``radius_s`` (merged) over the undominated free sites.

    Returns ``(cover, keep)``: the 0/1 rows no required site covers (an
    empty matrix if there are none) and the free sites kept; None if some
    point no site reaches within the radius.
    """
    within = instance.cost_s[rows] <= radius_s
    need = ~within[:, instance.required].any(axis=1)
    within = within[need]
    if not within.any(axis=1).all():
        return None
    keep = _undominated(within, ~instance.required)
    cover, _ = _merge_rows(within & keep, np.ones(len(within)))
    return cover, keep


def _cover_feasible(
    instance: Instance, rows: np.ndarray, radius_s: float, p: int, time_limit_s: float
) -> tuple[np.ndarray | None, bool]:
    """Open mask covering every demand row within ``radius_s`` with <= p added sites.

    Returns ``(mask, decided)``: ``mask`` None if infeasible or undecided;
    ``decided`` false when the time limit stopped HiGHS first.
    """
    problem = _cover_problem(instance, rows, radius_s)
    req = instance.required
    if problem is None:
        return None, True
    cover, keep = problem
    if cover.shape[0] == 0:
        return req.copy(), True
    res = milp(
        np.zeros(instance.n_sites),
        integrality=np.ones(instance.n_sites),
        bounds=Bounds(req.astype(float), (keep | req).astype(float)),
        constraints=[
            LinearConstraint(cover, 1, np.inf),
            _site_block(instance, p, 0, cap=True),
        ],
        options={"time_limit": max(time_limit_s, 1e-3)},
    )
    if res.status == 2:
        return None, True
    if res.x is None:
        return None, False
    return np.rint(res.x).astype(bool), True


def _cover_relaxation_exceeds(
    instance: Instance, rows: np.ndarray, radius_s: float, p: int, time_limit_s: float
) -> bool | None:
    """True if even fractional sites need more than p to cover every row within ``radius_s``.

    The linear relaxation of the covering problem (min sum of free x,
    0 <= x <= 1) is a lower bound on the sites any cover needs, so above p
    it proves the radius infeasible; False when it does not; None when the
    time limit stopped HiGHS first.
    """
    problem = _cover_problem(instance, rows, radius_s)
    if problem is None:
        return True
    cover, keep = problem
    if cover.shape[0] == 0:
        return False
    free = keep & ~instance.required
    res = milp(
        free.astype(float),
        integrality=np.zeros(instance.n_sites),
        bounds=Bounds(np.zeros(instance.n_sites), free.astype(float)),
        constraints=[LinearConstraint(cover, 1, np.inf)],
        options={"time_limit": max(time_limit_s, 1e-3)},
    )
    if res.status == 2:
        return True
    if res.status != 0:
        return None
    return bool(float(res.fun) > p + _COVER_LP_TOL)


def _solve_pcenter(
    instance: Instance, p: int, time_limit_s: float
) -> tuple[np.ndarray, float, str]:
    """Binary search between a lower bound and the heuristic's radius, by set-covering MILPs.

    The smallest radius r such that <= p added sites cover every point of I'
    within r is the p-center optimum (Minieka 1970). The search starts from
    the heuristic's solution (greedy + VNS, :mod:`planner.optimise.pcenter`,
    given :data:`_HEURISTIC_SHARE` of the time), whose radius is an
    upper bound, and from the lower bound ``max_i min_j c_ij`` (no point is
    served faster than by its nearest candidate), and tries only the
    distinct times between them. A binary search with the covering problem's
    linear relaxation (:func:`_cover_relaxation_exceeds`) first raises the
    lower bound past every radius it proves infeasible (on the OR-Library
    instances it usually reaches the optimum). Set-covering MILPs then
    decide the rest, the first at the lower bound. Each cover found is
    filled to p added sites (:func:`_pad_sites`, the MCLP rule, with its own
    radius as the threshold) and its radius, at most the one tried, becomes
    the new upper bound. The answer is never worse than the heuristic's; at
    the time limit the gap is (upper - lower) / upper, where lower is the
    smallest radius not proven infeasible.
    """
    start = time.perf_counter()
    model = PCenter()
    final, _, _ = site_heuristic(
        instance,
        model,
        p,
        np.random.default_rng(0),
        100,
        time_limit_s=time_limit_s * _HEURISTIC_SHARE,
    )
    upper = model.evaluate(instance, final > 0)
    rows = np.flatnonzero(instance.reachable() & (instance.weight > 0))
    if len(rows) == 0:  # every choice of sites is worth 0
        return final, 0.0, ""
    sub = instance.cost_s[rows]
    lower = min(float(sub.min(axis=1).max()), unreached_cost_s(instance))
    radii = np.unique(sub[(sub >= lower) & (sub < upper)])  # the radii that would be better
    del sub

    def left() -> float:
        return time_limit_s - (time.perf_counter() - start)

    lo, hi = 0, len(radii)  # radii[lo:hi] undecided; "radii[len]" stands for upper
    top = hi  # the relaxation's search: radii[lo:top] undecided by it
    while lo < top and left() > 0:
        mid = (lo + top) // 2
        exceeds = _cover_relaxation_exceeds(instance, rows, float(radii[mid]), p, left())
        if exceeds is None:
            break
        lo, top = (mid + 1, top) if exceeds else (lo, mid)
    first = True
    while lo < hi and left() > 0:
        mid = lo if first else (lo + hi) // 2  # the relaxation's bound is often the optimum
        first = False
        mask, decided = _cover_feasible(instance, rows, float(radii[mid]), p, left())
        if not decided:
            break
        if mask is None:
            lo = mid + 1
            continue
        cover = mask.astype(np.int64)
        cover = _pad_sites(instance, cover, p, model.evaluate(instance, mask))
        value = model.evaluate(instance, cover > 0)  # <= radii[mid] < upper
        final, upper = cover, value
        hi = int(np.searchsorted(radii, value, side="left"))
    if lo >= hi:
        return final, 0.0, ""
    gap = float((upper - radii[lo]) / upper) if upper > 0 else 0.0
    return final, gap, "time limit"


def _mclp_full_cover(instance: Instance, model: MCLP, p: int) -> np.ndarray | None:
    """Greedy max cover; its open mask if it covers all coverable weight, else None.

    No choice of sites covers more than the weight of the points some
    candidate covers, so a greedy answer reaching it is optimal; otherwise
    the MILP decides.
    """
    within = instance.cost_s <= model.threshold_s
    w = instance.weight
    need = within.any(axis=1) & (w > 0)
    is_open = instance.required.copy()
    left = need & ~within[:, is_open].any(axis=1)
    cover = sp.csc_array(within[left].astype(np.float32))
    lw = w[left]
    added = 0
    while lw.any():
        if added == p:
            return None
        gain = cover.T @ lw
        gain[is_open] = -1.0
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            return None
        is_open[j] = True
        added += 1
        col = cover[:, [j]].toarray().ravel() > 0
        lw = np.where(col, 0.0, lw)
    if added < p:  # open any further sites: the coverage cannot fall
        spare = np.flatnonzero(~is_open)[: p - added]
        is_open[spare] = True
    return is_open.astype(np.int64)


def _pad_sites(instance: AnyInstance, final: np.ndarray, p: int, threshold_s: float) -> np.ndarray:
    """Open further sites until p are added: those covering most weight within the threshold first.

    The rule MCLP uses (its threshold) and p-center (its radius): opening a
    site never lowers coverage nor raises the worst time.
    """
    short = p - int(final[~instance.required].sum())
    if short <= 0:
        return final
    score = np.asarray(instance.weight @ instance.within(threshold_s), dtype=np.float64)
    score[final > 0] = -np.inf
    final = final.copy()
    final[np.argsort(-score, kind="stable")[:short]] = 1
    return final


def _solve_pmedian(
    instance: Instance, p: int, time_limit_s: float, mip_gap: float
) -> tuple[np.ndarray, float | None, str]:
    """p-median: the heuristic's incumbent, then the radius formulation's Benders decomposition.

    The heuristic (greedy + fast interchange, given
    :data:`_HEURISTIC_SHARE` of the time; no VNS shakes, see
    :data:`_PMEDIAN_INCUMBENT_STALL`) gives the incumbent;
    :func:`planner.optimise.pmedian.solve_pmedian_radius` proves it optimal
    or finds a better one. The answer is never worse than the heuristic's.
    """
    start = time.perf_counter()
    incumbent, _, _ = site_heuristic(
        instance,
        PMedian(),
        p,
        np.random.default_rng(0),
        100,
        time_limit_s=time_limit_s * _HEURISTIC_SHARE,
        stall=_PMEDIAN_INCUMBENT_STALL,
    )
    left = max(time_limit_s - (time.perf_counter() - start), 1e-3)
    final, value, bound, result = solve_pmedian_radius(
        instance, p, incumbent, time_limit_s=left, mip_gap=mip_gap
    )
    bound = max(bound, 0.0)  # times are >= 0: 0 bounds the objective when nothing better is proven
    gap = max(0.0, (value - bound) / value) if value > 0 else 0.0
    return final, gap, "" if result is None else result.stopped


def solve_exact(
    instance: AnyInstance,
    model: Model,
    *,
    p: int,
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
) -> Solution:
    """Solve a location model to proven optimality (or the time limit) with HiGHS.

    Parameters
    ----------
    instance
        Costs (s), weights and required sites.
    model
        One of :class:`MCLP`, :class:`PMedian`, :class:`PCenter`,
        :class:`LSCP`, :class:`MEXCLP`, :class:`MaxSurvival`.
    p
        Sites to add to the required ones (units to add for MEXCLP; a cap on
        the added sites for LSCP).
    time_limit_s
        Wall-clock limit, s (approximate: HiGHS checks it between steps).
        When it is hit the incumbent is returned with its proven gap.
    mip_gap
        Relative optimality gap at which HiGHS stops.

    Returns
    -------
    Solution
        ``objective_after`` is recomputed with ``model.evaluate`` from the
        rounded solution; ``gap`` is the proven relative gap, (value -
        bound) / |value| (None if HiGHS proved no bound). ``status`` is
        ``"optimal"`` only for a gap <= :data:`planner.constants.OPTIMAL_GAP`,
        otherwise ``"within X %"`` and why the solver stopped, e.g.
        ``"within 2.2 % (time limit)"`` or ``"within 0.0077 % (solver
        stopped at mip_gap 0.0001)"``.

    Raises
    ------
    ParameterError
        Bad p, time limit or gap, or a sparse instance (national instances
        with a cutoff are solved by :func:`planner.optimise.solve_heuristic`).
    InfeasibleError
        The model has no feasible solution (LSCP needing more than p sites,
        or uncoverable demand with ``require_all``).
    DataError
        The time limit passed before any feasible solution was found.
    """
    if isinstance(instance, SparseInstance) and not isinstance(model, MCLP):
        raise ParameterError(
            f"solver 'exact' solves {model.name} on a dense Instance only (every response "
            f"time); an instance with a cutoff ({instance.cutoff_s / 60:g} min) is solved by "
            "the heuristic, or exactly for MCLP"
        )
    if isinstance(instance, SparseInstance):
        instance.check_threshold(getattr(model, "threshold_s", None))
    p = check_p(instance, model, p)
    if not time_limit_s > 0:
        raise ParameterError(f"time_limit_s = {time_limit_s!r}: give a positive time, s")
    if not 0 <= mip_gap < 1:
        raise ParameterError(f"mip_gap = {mip_gap!r}: give a relative gap in [0, 1)")
    start = time.perf_counter()
    gap: float | None
    if isinstance(model, PCenter | PMedian):
        assert isinstance(instance, Instance)  # sparse ones were refused above
        if isinstance(model, PCenter):
            final, gap, detail = _solve_pcenter(instance, p, float(time_limit_s))
        else:
            final, gap, detail = _solve_pmedian(instance, p, float(time_limit_s), float(mip_gap))
        elapsed = time.perf_counter() - start
        return _solution(instance, model, final, gap, elapsed, detail, mip_gap)
    if isinstance(model, MCLP) and (
        isinstance(instance, SparseInstance)
        or instance.n_demand * instance.n_sites > _MCLP_BENDERS_CELLS
    ):
        return _solve_mclp_large(instance, model, p, float(time_limit_s), float(mip_gap))
    assert isinstance(instance, Instance)
    if isinstance(model, MCLP):
        covered = _mclp_full_cover(instance, model, p)
        if covered is not None:  # meets the upper bound: proven optimal
            elapsed = time.perf_counter() - start
            return _solution(instance, model, covered, 0.0, elapsed, "", mip_gap)
    return _solve_milp(instance, model, p, float(time_limit_s), float(mip_gap), start)


def _solve_mclp_large(
    instance: AnyInstance, model: MCLP, p: int, time_limit_s: float, mip_gap: float
) -> Solution:
    """MCLP by Benders decomposition (:func:`planner.optimise.mclp.solve_mclp_benders`)."""
    start = time.perf_counter()
    final, value, bound, result = solve_mclp_benders(
        instance,
        model.threshold_s,
        p,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        heuristic_share=_HEURISTIC_SHARE,
    )
    final = _pad_sites(instance, final, p, model.threshold_s)
    gap = max(0.0, (bound - value) / value) if value > 0 else 0.0
    simple = _simple_gap(instance, model, final, p)
    if simple is not None:
        gap = min(gap, simple)
    elapsed = time.perf_counter() - start
    detail = "" if result is None else result.stopped
    return _solution(instance, model, final, gap, elapsed, detail, mip_gap)


def _solve_milp(
    instance: Instance, model: Model, p: int, time_limit_s: float, mip_gap: float, start: float
) -> Solution:
    """The compact MILP of :func:`_build` by HiGHS; ``start`` is when the solve began."""
    prob = _build(instance, model, p)
    left = max(time_limit_s - (time.perf_counter() - start), 1e-3)
    res = milp(
        prob.c,
        integrality=prob.integrality,
        bounds=Bounds(prob.lb, prob.ub),
        constraints=prob.rows,
        options={"time_limit": left, "mip_rel_gap": mip_gap},
    )
    elapsed = time.perf_counter() - start
    if res.status == 2:
        what = (
            f"no set of at most p = {p} added sites covers every point within "
            f"{model.threshold_s:g} s; raise p"
            if isinstance(model, LSCP)
            else "the model has no feasible solution"
        )
        raise InfeasibleError(f"{model.name}: {what}")
    if res.x is None:
        raise DataError(
            f"{model.name}: HiGHS found no feasible solution within {time_limit_s:g} s "
            f"({res.message}); raise time_limit_s"
        )
    final = np.rint(res.x[: instance.n_sites]).astype(np.int64)
    gap = _highs_gap(res, prob.offset)
    if isinstance(model, MCLP):
        final = _pad_sites(instance, final, p, model.threshold_s)
    simple = _simple_gap(instance, model, final, p)
    if simple is not None and (gap is None or simple < gap):
        gap = simple
    detail = "" if res.status == 0 else "time limit" if res.status == 1 else str(res.message)
    return _solution(instance, model, final, gap, elapsed, detail, mip_gap)


def _solution(
    instance: AnyInstance,
    model: Model,
    final: np.ndarray,
    gap: float | None,
    elapsed: float,
    detail: str,
    mip_gap: float,
) -> Solution:
    """The Solution, sites in greedy order; says why a finished solve is not called optimal."""
    if not detail and describe_optimality(gap) != "optimal":
        detail = f"solver stopped at mip_gap {mip_gap:g}"
    order = greedy_order(instance, model, final)
    return make_solution(
        instance, model, final, order=order, gap=gap, solve_time_s=elapsed, detail=detail
    )


def _simple_gap(instance: AnyInstance, model: Model, final: np.ndarray, p: int) -> float | None:
    """The gap a bound that needs no solver proves; it caps HiGHS's when that is weak.

    No choice of sites covers more, or saves more lives, than opening every
    candidate (MCLP, maximum survival); no point is covered by more units
    than stand within the threshold plus the p added (MEXCLP); LSCP adds at
    least 0 sites.
    """
    if isinstance(model, MEXCLP):
        value = model.evaluate(instance, final)
        most = instance.within(model.threshold_s) @ instance.existing_units + p
        bound = float(instance.weight @ (1.0 - model.busy_fraction**most))
    elif isinstance(model, MCLP | MaxSurvival):
        value = model.evaluate(instance, final > 0)
        bound = model.evaluate(instance, np.ones(instance.n_sites, dtype=bool))
    elif isinstance(model, LSCP):
        value, bound = model.evaluate(instance, final > 0), 0.0
    else:
        return None
    if not np.isfinite(value) or value == 0:
        return 0.0 if value == bound else None
    return abs(bound - value) / abs(value)


def _highs_gap(res: Any, offset: float = 0.0) -> float | None:
    """Proven relative gap of a HiGHS result: |primal - dual| / |objective|, None without a bound.

    ``offset`` is the constant left out of the MILP's objective (demand
    already served), so the gap is relative to the whole objective.
    """
    dual = getattr(res, "mip_dual_bound", None)
    if res.fun is None or dual is None or not np.isfinite(dual):
        return None
    whole = abs(float(res.fun) + offset)
    diff = abs(float(res.fun) - float(dual))
    if whole == 0:
        return 0.0 if diff <= 1e-9 else None
    return diff / whole
