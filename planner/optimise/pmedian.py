"""Exact p-median: the radius formulation with Benders cuts.

*Radius formulation* (Elloumi 2010, "A tighter formulation of the p-median
problem", J. Comb. Optim. 19; García, Labbé & Marín 2011, "Solving large
p-median problems with a radius formulation", INFORMS J. Computing 23(4)).
For each demand point i let :math:`D_i^1 < D_i^2 < \\dots < D_i^{K_i}` be
its distinct response times (s) to the free candidate sites, cut at
:math:`r_i`, the time from its nearest required site or the cost U of an
unreached point (:func:`~planner.optimise.models.unreached_cost_s`),
whichever is smaller: no solution serves i worse than :math:`r_i`, the last
level. With :math:`z_i^k = 1` when no open site is within :math:`D_i^k` of
i, p-median is

.. math::

    \\min \\sum_i w_i \\Big(D_i^1 + \\sum_{k < K_i} (D_i^{k+1} - D_i^k) z_i^k\\Big)
    \\quad \\text{s.t.} \\quad z_i^k + \\sum_{j : c_{ij} \\le D_i^k} y_j \\ge 1,
    \\quad \\sum_j y_j = p, \\quad y_j \\in \\{0, 1\\}, \\quad z \\ge 0.

*Benders cuts* (Duran-Mateluna, Alès & Elloumi 2023, "An efficient Benders
decomposition for the p-median problem", EJOR 308(1)). For fixed y the
problem splits into one subproblem per demand point, whose linear
relaxation is solved in closed form: with :math:`Y_i^k = \\sum_{j : c_{ij}
\\le D_i^k} y_j` and :math:`k^*` the first level with :math:`Y_i^{k^*} \\ge
1` (the last level if none), :math:`z_i^k = 1 - Y_i^k` below :math:`k^*` and
0 from it on, and its dual gives the cut

.. math::

    \\theta_i \\ge D_i^{k^*} - \\sum_{j : c_{ij} < D_i^{k^*}} (D_i^{k^*} - c_{ij})\\, y_j,

valid for every 0/1 y (for any level in place of :math:`k^*`), and tight at
y. Where :math:`Y_i` reaches exactly 1 and stays there for some levels (at a
0/1 y, or a half-integral one) each of those levels gives a tight cut; the
one deepest at the stability centre is taken (Magnanti & Wong 1981).
Separation for all points is one pass over each point's sites in
increasing order of time (a cumulative sum of y, sorted once), vectorised
over the points. The master, :math:`\\min \\sum_i w_i \\theta_i` over these
cuts, is solved by :func:`planner.optimise.benders.solve_benders`:
linear relaxation by stabilised cutting planes, reduced-cost fixing of the
sites against the heuristic's incumbent, then integer masters cut at their
solutions until one violates no cut. The answer is proven optimal when its
value meets the masters' proven bound (relative gap at most ``mip_gap``).

Points with no weight or that no candidate reaches are not in the
objective; points no free site serves better than :math:`r_i` add the
constant :math:`w_i r_i`. With p = 1 every choice is evaluated at once
(one pass over the demand x sites matrix), which proves the best one.
"""

from __future__ import annotations

import time

import numpy as np

from planner.optimise.benders import (
    MIN_GAP,
    BendersMaster,
    BendersResult,
    Cuts,
    Incumbent,
    Relaxation,
    branch_and_cut,
    finish,
    start_master,
)
from planner.optimise.instance import Instance
from planner.optimise.models import unreached_cost_s

__all__ = ["RadiusCuts", "solve_pmedian_radius"]


class RadiusCuts:
    """Closed-form Benders cuts of the p-median radius formulation (module docstring).

    Parameters
    ----------
    cost
        ``(n, m)`` response times, s, of the demand points to the free sites.
    cap
        ``(n,)`` the last level :math:`r_i` of each point, s: no solution
        serves it worse (its nearest required site, or U).
    weight
        ``(n,)`` demand weights.

    :meth:`lower_caps` may later lower the last levels for the search
    (every better solution serves the point within them);
    :meth:`value` always uses the ``cap`` given here.
    """

    def __init__(self, cost: np.ndarray, cap: np.ndarray, weight: np.ndarray) -> None:
        n, m = cost.shape
        self.cost, self.cap = cost, np.asarray(cap, dtype=np.float64).copy()
        order = np.argsort(cost, axis=1, kind="stable")
        dist = np.take_along_axis(cost, order, axis=1)
        valid = dist < cap[:, None]
        width = int(valid.sum(axis=1).max(initial=0))
        # a last column at the cap: a virtual site, always open, that serves at r_i
        self.order = np.ascontiguousarray(order[:, :width], dtype=np.int32)
        self.valid = valid[:, :width]
        self.dist = np.hstack([np.where(self.valid, dist[:, :width], cap[:, None]), cap[:, None]])
        self.theta_cost = np.asarray(weight, dtype=np.float64)
        self.theta_lb = self.dist[:, 0].copy()
        self.theta_ub = np.asarray(cap, dtype=np.float64).copy()
        self.n, self.m = n, m
        self._index()

    def _index(self) -> None:
        """Lookup tables of :meth:`separate` for the current levels.

        ``_padded``: ``order`` with the positions past the last level
        pointing at site m (read as closed); ``_group``: for each position
        (the cap column included) the first position of its distinct time,
        i.e. how many sites are strictly nearer.
        """
        self._padded = np.where(self.valid, self.order, self.m).astype(np.int32)
        d = self.dist
        start = np.ones(d.shape, dtype=bool)
        start[:, 1:] = d[:, 1:] > d[:, :-1]
        pos = np.arange(d.shape[1], dtype=np.int32)
        self._group = np.maximum.accumulate(np.where(start, pos, 0), axis=1)

    def value(self, y: np.ndarray) -> float:
        """Weighted response time of the open sites ``y`` (bool), each point at most its cap."""
        cols = np.flatnonzero(y)
        best = self.cost[:, cols].min(axis=1) if len(cols) else np.full(self.n, np.inf)
        return float(self.theta_cost @ np.minimum(best, self.cap))

    def lower_caps(self, cap: np.ndarray) -> None:
        """Lower the last level of each point to ``cap`` (never raised), s."""
        cap = np.minimum(cap, self.theta_ub)
        width = self.order.shape[1]
        self.valid &= self.dist[:, :width] < cap[:, None]
        self.dist[:, :width] = np.where(self.valid, self.dist[:, :width], cap[:, None])
        self.dist[:, width] = cap
        self.theta_ub = cap
        self.theta_lb = np.minimum(self.theta_lb, cap)
        self._index()

    def next_levels(self) -> np.ndarray:
        """``(n, width + 1)``: for each level, the next larger one (the cap after the last), s."""
        d = self.dist
        n, width = d.shape
        pos = np.broadcast_to(np.arange(width), (n, width))
        start = np.ones((n, width), dtype=bool)
        start[:, 1:] = d[:, 1:] > d[:, :-1]  # first position of each distinct time
        first = np.where(start, pos, width)
        # the first group start to the right of each position
        after = np.minimum.accumulate(first[:, ::-1], axis=1)[:, ::-1]
        after = np.hstack([after[:, 1:], np.full((n, 1), width)])
        return np.where(
            after < width, d[np.arange(n)[:, None], np.minimum(after, width - 1)], d[:, -1:]
        )

    def _cumulative(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n, width)``: the sites' values in each point's order, and their cumulative sums."""
        ys = np.append(y, 0.0)[self._padded]
        return ys, np.cumsum(ys, axis=1)

    def separate(self, y: np.ndarray, core: np.ndarray | None = None) -> Cuts:
        """The cut of every point tight at ``y`` (fractional sites in [0, 1]).

        A point's level is the first position where the cumulative y
        reaches 1 (the cap column, position ``width``, if it never does);
        the cut's sites are those strictly nearer than that level's time.
        Where several levels give a cut tight at ``y`` (the cumulative y
        reaches exactly 1 before a level and stays 1 up to it), the one
        deepest at ``core`` is chosen (Magnanti & Wong 1981, "Accelerating
        Benders decomposition", Oper. Res. 29(3)): the level at which the
        cumulative ``core`` reaches 1, kept within the tight range.
        """
        n = self.n
        ys, cum = self._cumulative(y)
        level = (cum < 1.0 - 1e-9).sum(axis=1)  # cum is non-decreasing
        if core is not None:
            deepest = (cum <= 1.0 + 1e-9).sum(axis=1)
            at_core = (self._cumulative(core)[1] < 1.0 - 1e-9).sum(axis=1)
            level = np.clip(at_core, level, deepest)
        points = np.arange(n)
        d = self.dist[points, level]
        nearer = self._group[points, level]
        indptr = np.r_[0, np.cumsum(nearer)]
        rows = np.repeat(points, nearer)
        cols = np.arange(indptr[-1]) - np.repeat(indptr[:-1], nearer)
        coef = d[rows] - self.dist[rows, cols]
        value = d - np.bincount(rows, weights=coef * ys[rows, cols], minlength=n)
        return Cuts(
            theta=points,
            indptr=indptr,
            indices=self.order[rows, cols],
            data=coef,
            rhs=d,
            value=value,
        )


#: Rounds of reduction (site fixing and lower caps) and re-solved relaxation
#: before the integer phase.
_REDUCTION_ROUNDS = 4
#: Share of the sites fixed by phase 2 from which phase 3 runs on a new,
#: smaller master over the sites left. Implementation choice.
_RESTRICT_SHARE = 0.2
#: Margin, as a share of the incumbent's value, that a reduction's bound must
#: exceed it by (guards against HiGHS's dual tolerances).
_CAP_MARGIN = 1e-7


def _group_sum(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """``out[r] = sum of values[k] with rows[k] == r`` for 2-D ``values``."""
    out = np.zeros((n, values.shape[1]))
    if len(rows) == 0:
        return out
    order = np.argsort(rows, kind="stable")
    r = rows[order]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    out[r[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return out


def lower_caps(master: BendersMaster, sep: RadiusCuts, lp: Relaxation, upper: float) -> int:
    """Lower the points' last levels by the relaxation's duals; how many were lowered.

    For a feasible 0/1 y serving point i at :math:`t_i`, the value is at
    least :math:`L + \\sum_c \\mu_c (t_i - D_c)^+ + \rho_i (t_i - D_i^1)`
    over the cuts c of i (duals :math:`\\mu_c`, levels :math:`D_c`) and the
    reduced cost :math:`\rho_i` of :math:`\theta_i` (the slacks of valid
    cuts times their duals, García, Labbé & Marín 2011 fix the radius
    variables :math:`z_i^k` so). When that exceeds the incumbent's value
    for every :math:`t_i` above a level :math:`D_i^k`, every better solution
    serves i within :math:`D_i^k`: it becomes i's last level, and the
    master gets the row :math:`\\sum_{j : c_{ij} \\le D_i^k} y_j \\ge 1`.
    """
    theta, rhs, dual, reduced = master.cut_duals()
    use = dual > 0
    ti, level, mu = theta[use], rhs[use], dual[use]
    nxt = sep.next_levels()
    bound = np.maximum(reduced, 0.0)[:, None] * np.maximum(nxt - sep.theta_lb[:, None], 0.0)
    bound += _group_sum(ti, mu[:, None] * np.maximum(nxt[ti] - level[:, None], 0.0), sep.n)
    slack = upper * (1 + _CAP_MARGIN) + _CAP_MARGIN - lp.lower
    width = sep.order.shape[1]
    hit = (bound[:, :width] > slack) & sep.valid
    has = np.flatnonzero(hit.any(axis=1))
    new_cap = sep.dist[has, np.argmax(hit[has], axis=1)]
    lowered = new_cap < sep.theta_ub[has]
    has, new_cap = has[lowered], new_cap[lowered]
    if len(has) == 0:
        return 0
    within = sep.valid[has] & (sep.dist[has, :width] <= new_cap[:, None])
    covers = [sep.order[i][within[k]] for k, i in enumerate(has)]
    cap = sep.theta_ub.copy()
    cap[has] = new_cap
    sep.lower_caps(cap)
    master.set_theta_upper(sep.theta_ub)
    master.add_covers(covers)
    return len(has)


def solve_pmedian_radius(
    instance: Instance,
    p: int,
    incumbent: np.ndarray,
    *,
    time_limit_s: float,
    mip_gap: float,
) -> tuple[np.ndarray, float, float, BendersResult | None]:
    """p-median by the radius formulation's Benders decomposition.

    Parameters
    ----------
    instance
        Dense instance, times in s.
    p
        Sites to add to the required ones.
    incumbent
        0/1 per site: a solution with p added sites (the heuristic's).
    time_limit_s, mip_gap
        Wall-clock limit, s, and the relative gap at which to stop.

    Returns
    -------
    (open, value, bound, result)
        0/1 per site of the best solution, its p-median value, the proven
        lower bound, and the decomposition's account (None when there was
        nothing to decide).
    """
    deadline = time.perf_counter() + time_limit_s
    mip_gap = max(mip_gap, MIN_GAP)
    u = unreached_cost_s(instance)
    rows = np.flatnonzero(instance.reachable() & (instance.weight > 0))
    req = instance.required
    free = np.flatnonzero(~req)
    w = instance.weight[rows]
    cost = np.minimum(instance.cost_s[rows], u)
    cap = cost[:, req].min(axis=1) if req.any() else np.full(len(rows), u)
    sub = cost[:, free]
    useful = (sub < cap[:, None]).any(axis=1)
    offset = float(w[~useful] @ cap[~useful])
    start = np.asarray(incumbent) > 0
    if p == 0 or p == len(free) or not useful.any():
        best = np.where(start[free], sub, np.inf).min(axis=1, initial=u)
        value = float(w @ np.minimum(cap, best))
        return start.astype(np.int64), value, value, None
    if p == 1:  # every choice evaluated: the best one is proven optimal
        values = w @ np.minimum(sub, cap[:, None])
        j = int(np.argmin(values))
        if start[free].sum() == 1 and values[start[free]][0] <= values[j]:
            j = int(np.flatnonzero(start[free])[0])  # the incumbent's, among equals
        final = req.copy()
        final[free[j]] = True
        return final.astype(np.int64), float(values[j]), float(values[j]), None
    sep = RadiusCuts(sub[useful], cap[useful], w[useful])
    y, value, bound, result = _solve(sep, p, start[free], deadline, mip_gap)
    final = req.copy()
    final[free[y]] = True
    return final.astype(np.int64), value + offset, bound + offset, result


def _reduce(
    master: BendersMaster,
    sep: RadiusCuts,
    state: Incumbent,
    lp: Relaxation,
    deadline: float,
    mip_gap: float,
) -> Relaxation:
    """Phase 2, repeated: fix sites, lower caps, re-solve the relaxation, while it helps."""
    for _ in range(_REDUCTION_ROUNDS):
        if state.gap <= mip_gap or not lp.solved:
            break
        changed = master.fix_by_reduced_cost(lp, state.value)
        changed += lower_caps(master, sep, lp, state.value)
        if not changed:
            break
        assert lp.y is not None
        lp = master.relax(lp.y, deadline, state, mip_gap)
        state.raise_bound(lp.lower)
    return lp


def _solve(
    sep: RadiusCuts, p: int, start: np.ndarray, deadline: float, mip_gap: float
) -> tuple[np.ndarray, float, float, BendersResult]:
    """Phases 1 and 2 on every site, then phase 3 on the sites left (module docstring)."""
    m = sep.m
    master, state, core = start_master(sep, m, p, start)
    lp = master.relax(core, deadline, state, mip_gap)
    state.raise_bound(lp.lower)
    lp = _reduce(master, sep, state, lp, deadline, mip_gap)
    closed, opened = master.fixed_closed, master.fixed_open
    consistent = not (state.y & closed).any() and state.y[opened].all()
    if state.gap <= mip_gap or not lp.solved:
        stopped = "" if state.gap <= mip_gap else "time limit"
    elif consistent and closed.sum() + opened.sum() >= _RESTRICT_SHARE * m:
        # a smaller master over the sites left: its relaxations re-solve faster
        keep = ~(closed | opened)
        sub = sep.cost[:, keep]
        true_cap = sep.cap
        if opened.any():
            true_cap = np.minimum(true_cap, sep.cost[:, opened].min(axis=1))
        small = RadiusCuts(sub, true_cap, sep.theta_cost)
        search_cap = np.minimum(sep.theta_ub, true_cap)
        lowered = np.flatnonzero(search_cap < true_cap)
        small.lower_caps(search_cap)
        covers = [np.flatnonzero(sub[i] <= search_cap[i]) for i in lowered]
        inner, state2, core2 = start_master(
            small, int(keep.sum()), p - int(opened.sum()), state.y[keep]
        )
        inner.add_covers(covers)
        state2.raise_bound(state.bound)
        lp2 = inner.relax(core2, deadline, state2, mip_gap)
        state2.raise_bound(lp2.lower)
        lp2 = _reduce(inner, small, state2, lp2, deadline, mip_gap)
        stopped = ""
        if state2.gap > mip_gap:
            stopped = (
                branch_and_cut(inner, state2, deadline, mip_gap) if lp2.solved else "time limit"
            )
        if state2.value < state.value:
            y = opened.copy()
            y[keep] = state2.y
            state.offer(y, sep.value(y))
        state.raise_bound(state2.bound)
        state.rounds = state2.rounds
        master.n_cuts += inner.n_cuts
    else:
        stopped = branch_and_cut(master, state, deadline, mip_gap)
    result = finish(master, state, lp, stopped)
    return result.y, result.value, result.bound, result
