"""A Benders master over site variables, solved with HiGHS (highspy), for p-median and MCLP.

The location problems solved here share one shape: choose p sites (0/1
variables :math:`y_j`, the *master*), and the rest of the objective is a sum
of subproblems that, for fixed y, have a closed-form optimum. Each
subproblem k is represented in the master by a variable :math:`\\theta_k`
with cost :math:`c_k`, bounded below by *Benders cuts*

.. math::

    \\theta_k + a_k \\cdot y \\ge b_k,

which are valid for every 0/1 y, and the separator of the problem (see
:class:`Separator`) gives, for any fractional y, the cut of each subproblem
that is tight there (the optimal dual solution of the subproblem's linear
relaxation). The master is

.. math::

    \\min \\sum_k c_k \\theta_k \\quad \\text{s.t. the cuts}, \\quad
    \\sum_j y_j = p \\;(\\text{or} \\le p), \\quad y_j \\in \\{0, 1\\}.

HiGHS has no lazy-constraint callback, so instead of a branch-and-Benders-cut
the master is solved in three phases (the scheme of Duran-Mateluna, Alès &
Elloumi 2023, sec. 4, without the callback):

1. **Linear relaxation by cutting planes** with the *in-out* stabilisation of
   Ben-Ameur & Neto (2007), as used by Fischetti, Ljubić & Sinnl (2017,
   "Redesigning Benders decomposition for large-scale facility location",
   Management Science 63(7)): the cuts are separated at a point between the
   master's LP solution and a stability centre, and added where the LP
   solution violates them. The master's LP value is a lower bound; the
   subproblems' value at each separated (feasible, fractional) point is an
   upper bound of the relaxation; the phase ends when they meet. The first
   LP starts from the incumbent's basis (primal feasible: every valid cut
   holds at the incumbent and its subproblem values), later ones from the
   previous basis (dual simplex). Each round first deletes the cuts slack at
   the LP solution, then adds at most :data:`_MAX_CUTS` of the subproblems'
   violated cuts, the most violated first. Each LP solution, rounded to its
   p largest sites, is a solution offered to the incumbent; the phase stops
   as soon as its bound proves the incumbent optimal.
2. **Reduced-cost fixing.** With the relaxation's value L, a site at 0 in
   the LP solution whose reduced cost r_j gives L + r_j above the incumbent's
   value (the heuristic's, plus a safety margin) is in no better solution, so
   it is fixed closed; one at 1 with L - r_j above it is fixed open. This is
   valid for any set of valid cuts.
3. **The MILP, cut at integer solutions.** y is made integer and the master
   (with the binding cuts of phase 1, the fixings and the incumbent as a
   starting solution) is solved by HiGHS. If the y it returns violates no cut
   (its subproblems' value equals the master's objective), HiGHS's proof of
   optimality is a proof for the whole problem; otherwise the violated cuts
   of y, and of every integer solution HiGHS met on the way, are added and
   the MILP is solved again. Every master is a relaxation, so its proven
   bound is a lower bound of the problem, and every y is a solution, whose
   true value bounds it from above: the gap reported is between the two.

Everything is a minimisation here; a maximisation (MCLP) passes negated
costs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from highspy import _core as highs_core

from planner import constants

__all__ = ["MIN_GAP", "BendersResult", "Cuts", "Separator", "solve_benders"]

#: In-out stabilisation: the weight of the LP solution in the separation
#: point at the start (the rest is the stability centre), and the rounds
#: without progress of the lower bound after which it separates at the LP
#: solution itself (Fischetti, Ljubić & Sinnl 2017 use 0.2 and 5).
_INOUT_ALPHA = 0.3
_INOUT_PATIENCE = 5
#: Relative tolerance at which the relaxation counts as solved (its lower
#: and upper bounds meet) and a cut as violated.
_LP_RTOL = 1e-9
#: Most cutting-plane rounds of phase 1 (a guard; the bounds meet far sooner).
_LP_MAX_ROUNDS = 500
#: Nodes of phase 3 between purges of the slack cuts (a smaller master
#: re-solves faster). Implementation choice.
_PURGE_EVERY = 20
#: Phase 1 purges the slack cuts before each round of new ones: the
#: relaxation's later rounds move far from its first points, whose cuts
#: would only slow the dual simplex. Implementation choice (on Andorra
#: 3,000 x 300 it saves about a fifth of the LP time).
_LP_PURGE_EVERY = 1
#: Most cuts added per round of cutting planes (phase 1 and each node of
#: phase 3), as a share of the subproblems: the most violated (by weighted
#: excess) first. The dual simplex needs about one iteration per added cut,
#: and cuts from an early LP solution are mostly replaced by later ones.
#: Implementation choice (Andorra 3,000 x 300, p = 1 ... 20: 0.2 against all
#: cuts saves a further fifth of the time; OR-Library pmed36: 231 nodes
#: against about 300).
_MAX_CUTS = 0.2
#: Every proven bound is moved this share of its size towards the safe side
#: (HiGHS solves to tolerances of about 1e-9 relative to the objective's
#: scale); far below the optimality claim of :data:`planner.constants.OPTIMAL_GAP`.
_BOUND_RTOL = 1e-9
#: The smallest relative gap the decomposition claims: its proven bounds are
#: lowered by :data:`_BOUND_RTOL`, so a smaller ``mip_gap`` could never be met
#: and would only make it search on after the optimum is proven.
MIN_GAP = 2 * _BOUND_RTOL
#: A fixing by reduced cost needs L + r_j above the incumbent by this share
#: of its value (guards against HiGHS's dual tolerances).
_FIX_MARGIN = 1e-7


@dataclass(frozen=True)
class Cuts:
    """Benders cuts ``theta[k] + a_k . y >= rhs_k``, one row per subproblem k in ``theta``.

    ``indptr``, ``indices`` and ``data`` hold the rows ``a_k`` in CSR form over
    the master's site variables; ``value`` is each subproblem's value at the
    point the cuts were separated at, ``rhs - a . y``.
    """

    theta: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    rhs: np.ndarray
    value: np.ndarray


class Separator(Protocol):
    """The subproblems of a Benders decomposition, in closed form."""

    #: cost of each theta_k in the objective, and its bounds
    theta_cost: np.ndarray
    theta_lb: np.ndarray
    theta_ub: np.ndarray

    def separate(self, y: np.ndarray, core: np.ndarray | None = None) -> Cuts:
        """The cut of every subproblem tight at ``y`` (fractional, in [0, 1]).

        Among cuts tight at ``y`` one deepest at ``core`` (an interior
        point) is preferred, where the separator can tell.
        """
        ...

    def value(self, y: np.ndarray) -> float:
        """The problem's objective at the 0/1 sites ``y`` (bool), exactly."""
        ...


@dataclass(frozen=True)
class BendersResult:
    """What :func:`solve_benders` proved.

    Attributes
    ----------
    y
        Bool per master site: the best solution found (p sites).
    value
        Its objective (sum of ``theta_cost`` x subproblem values).
    bound
        Proven lower bound of the optimum.
    lp_bound
        The linear relaxation's value (phase 1).
    fixed_closed, fixed_open
        Sites fixed by reduced cost (phase 2).
    lp_rounds, milp_rounds, cuts
        Rounds of phases 1 and 3 and cuts added in all.
    stopped
        ``""`` if the phases ran to the end, else why they stopped
        (``"time limit"``).
    """

    y: np.ndarray
    value: float
    bound: float
    lp_bound: float
    fixed_closed: int
    fixed_open: int
    lp_rounds: int
    milp_rounds: int
    cuts: int
    stopped: str


def _objective(sep: Separator, cuts: Cuts) -> float:
    return float(sep.theta_cost @ cuts.value)


def _values_at(cuts: Cuts, y: np.ndarray) -> np.ndarray:
    """Each cut's right-hand side minus its site terms at ``y``: ``rhs - a . y``."""
    lengths = np.diff(cuts.indptr)
    owner = np.repeat(np.arange(len(cuts.rhs)), lengths)
    terms = np.bincount(owner, weights=cuts.data * y[cuts.indices], minlength=len(lengths))
    return np.asarray(cuts.rhs - terms, dtype=np.float64)


def _violated(values: np.ndarray, cuts: Cuts, theta: np.ndarray, scale: float) -> np.ndarray:
    """Cuts whose value at the master's y exceeds its theta (beyond a relative tolerance)."""
    return np.flatnonzero(values > theta[cuts.theta] + _LP_RTOL * scale)


def _gap(upper: float, lower: float) -> float:
    """Relative gap (upper - lower) / |upper|, 0 when they meet."""
    if upper - lower <= 0:
        return 0.0
    return (upper - lower) / max(abs(upper), 1e-12)


@dataclass
class Relaxation:
    """The master's linear relaxation after phase 1.

    ``lower`` is its value (a lower bound of the problem), ``y`` and
    ``reduced`` the sites' values and reduced costs, ``solved`` false if
    the time ran out first.
    """

    lower: float = -math.inf
    upper: float = math.inf
    y: np.ndarray | None = None
    reduced: np.ndarray | None = None
    rounds: int = 0
    solved: bool = False


class BendersMaster:
    """The master problem in HiGHS: site columns, then one theta column per subproblem.

    Row 0 is the cardinality row; the other rows are cuts (``row_theta``
    their subproblem, ``row_rhs`` their right-hand side) or constraints on
    the sites alone (``row_theta`` -1).
    """

    def __init__(self, sep: Separator, n_sites: int, p: int, *, cap: bool = False) -> None:
        self.sep, self.m, self.p = sep, n_sites, p
        self.n_theta = len(sep.theta_cost)
        h = highs_core._Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 1)
        n = n_sites + self.n_theta
        h.addVars(
            n,
            np.concatenate([np.zeros(n_sites), sep.theta_lb]),
            np.concatenate([np.ones(n_sites), sep.theta_ub]),
        )
        h.changeColsCost(
            n, np.arange(n, dtype=np.int32), np.concatenate([np.zeros(n_sites), sep.theta_cost])
        )
        self.h = h
        self.row_theta = np.zeros(0, dtype=np.int64)
        self.row_rhs = np.zeros(0)
        self._site_rows(
            [np.arange(n_sites)], np.array([0.0 if cap else float(p)]), np.array([float(p)])
        )
        self.n_cuts = 0
        self.fixed_closed = np.zeros(n_sites, dtype=bool)
        self.fixed_open = np.zeros(n_sites, dtype=bool)

    def _site_rows(self, sites: list[np.ndarray], lower: np.ndarray, upper: np.ndarray) -> None:
        lengths = np.array([len(s) for s in sites])
        idx = np.concatenate(sites).astype(np.int32) if sites else np.zeros(0, np.int32)
        self.h.addRows(
            len(sites),
            lower,
            upper,
            len(idx),
            np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int32),
            idx,
            np.ones(len(idx)),
        )
        self.row_theta = np.r_[self.row_theta, np.full(len(sites), -1)]
        self.row_rhs = np.r_[self.row_rhs, lower]

    def add_covers(self, sites: list[np.ndarray]) -> None:
        """Rows ``sum of y over each list >= 1`` (at least one of these sites open)."""
        if sites:
            self._site_rows(sites, np.ones(len(sites)), np.full(len(sites), np.inf))

    def add_cuts(self, cuts: Cuts, rows: np.ndarray) -> None:
        """Add the cuts ``rows`` (indices into ``cuts``)."""
        if len(rows) == 0:
            return
        starts = cuts.indptr[rows]
        lengths = cuts.indptr[rows + 1] - starts
        total = int(lengths.sum())
        take = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(total)
        row_start = np.r_[0, np.cumsum(lengths + 1)[:-1]]
        idx = np.empty(total + len(rows), dtype=np.int32)
        val = np.empty(total + len(rows))
        at_site = np.ones(total + len(rows), dtype=bool)
        at_site[row_start] = False  # each row: its theta column first, then its sites
        idx[row_start] = self.m + cuts.theta[rows]
        val[row_start] = 1.0
        idx[at_site] = cuts.indices[take]
        val[at_site] = cuts.data[take]
        rhs = np.asarray(cuts.rhs[rows], dtype=np.float64)
        self.h.addRows(
            len(rows),
            rhs,
            np.full(len(rows), np.inf),
            len(idx),
            row_start.astype(np.int32),
            idx,
            val,
        )
        self.row_theta = np.r_[self.row_theta, cuts.theta[rows]]
        self.row_rhs = np.r_[self.row_rhs, rhs]
        self.n_cuts += len(rows)

    def start_at(self, y: np.ndarray) -> None:
        """A first basis at the 0/1 sites ``y``, when the rows are one cut per theta.

        The sites are nonbasic at their values, every theta basic with its
        cut tight, the cardinality row basic: the point (y, its subproblem
        values) satisfies every valid cut, so the first LP starts primal
        feasible at the incumbent instead of from the slack basis.
        """
        if len(self.row_rhs) != 1 + self.n_theta:
            return
        status = highs_core.HighsBasisStatus
        basis = highs_core.HighsBasis()
        basis.col_status = [status.kUpper if v else status.kLower for v in y] + [
            status.kBasic
        ] * self.n_theta
        basis.row_status = [status.kBasic] + [status.kLower] * self.n_theta
        basis.valid = True
        self.h.setBasis(basis)

    def cut_duals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Subproblem, right-hand side and LP dual of every cut, and theta's reduced costs."""
        solution = self.h.getSolution()
        dual = np.asarray(solution.row_dual)
        cut = self.row_theta >= 0
        reduced = np.asarray(solution.col_dual)[self.m :]
        return self.row_theta[cut], self.row_rhs[cut], dual[cut], reduced

    def set_theta_upper(self, ub: np.ndarray) -> None:
        """New upper bounds of the theta columns."""
        n = self.n_theta
        lb = np.minimum(self.sep.theta_lb, ub)
        cols = (self.m + np.arange(n)).astype(np.int32)
        self.h.changeColsBounds(n, cols, lb, ub)

    def fix(self, closed: np.ndarray, opened: np.ndarray) -> None:
        """Fix sites closed (ub 0) or open (lb 1)."""
        self.fixed_closed |= closed
        self.fixed_open |= opened
        for mask, bound in ((closed, 0.0), (opened, 1.0)):
            cols = np.flatnonzero(mask).astype(np.int32)
            if len(cols):
                both = np.full(len(cols), bound)
                self.h.changeColsBounds(len(cols), cols, both, both)

    def run(self, time_limit_s: float) -> tuple[str, np.ndarray]:
        """Solve within ``time_limit_s``; the model status and the column values."""
        # HiGHS's clock runs on across the runs of one object: the limit is on its total
        spent = float(self.h.getRunTime())
        self.h.setOptionValue("time_limit", spent + max(float(time_limit_s), 1e-3))
        self.h.run()
        status = self.h.modelStatusToString(self.h.getModelStatus())
        return status, np.asarray(self.h.getSolution().col_value)

    def relax(
        self,
        core: np.ndarray,
        deadline: float,
        best: Incumbent | None = None,
        mip_gap: float = 0.0,
    ) -> Relaxation:
        """Phase 1: the linear relaxation by in-out cutting planes (module docstring).

        With ``best``, each LP solution rounded to its p largest sites is
        offered to it as a solution, and the cutting planes stop as soon as
        the relaxation's value proves ``best`` within ``mip_gap`` and
        :data:`planner.constants.OPTIMAL_GAP` (the relaxation is then not
        solved to its end: ``solved`` stays false). A looser ``mip_gap``
        does not stop it early: the relaxation's full bound is cheap next
        to what it proves.
        """
        m, sep = self.m, self.sep
        state = Relaxation()
        alpha, stall = _INOUT_ALPHA, 0
        while state.rounds < _LP_MAX_ROUNDS:
            left = deadline - time.perf_counter()
            if left <= 0:
                return state
            status, x = self.run(left)
            if status != "Optimal":
                return state
            state.rounds += 1
            lower = float(self.h.getInfo().objective_function_value)
            y_lp, theta = np.clip(x[:m], 0.0, 1.0), x[m:]
            if not self._consistent(x, lower):
                return state
            state.y, state.reduced = y_lp, np.asarray(self.h.getSolution().col_dual)[:m]
            if lower > state.lower + _LP_RTOL * max(abs(lower), 1.0):
                stall = 0
            else:
                stall += 1
                if stall >= _INOUT_PATIENCE:
                    alpha = 1.0
            state.lower = max(state.lower, lower)
            if best is not None:
                top = np.zeros(m, dtype=bool)
                top[np.argsort(-y_lp, kind="stable")[: min(self.p, m)]] = True
                best.offer(top, sep.value(top))
                best.raise_bound(state.lower)
                if best.gap <= min(mip_gap, constants.OPTIMAL_GAP):
                    return state
            scale = max(abs(lower), 1.0)
            rows = np.zeros(0, dtype=np.int64)
            for weight in (alpha, 1.0) if alpha < 1.0 else (1.0,):
                point = weight * y_lp + (1.0 - weight) * core
                cuts = sep.separate(point, core)
                state.upper = min(state.upper, _objective(sep, cuts))
                values = cuts.value if weight == 1.0 else _values_at(cuts, y_lp)
                rows = _violated(values, cuts, theta, scale)
                if len(rows):
                    break
            if len(rows) == 0:
                state.solved = True
                return state
            rows = self._most_violated(rows, cuts, values, theta)
            if state.rounds % _LP_PURGE_EVERY == 0:
                self.purge()
            self.add_cuts(cuts, rows)
            core = 0.5 * (core + y_lp)
        state.solved = True
        return state

    def _most_violated(
        self, rows: np.ndarray, cuts: Cuts, values: np.ndarray, theta: np.ndarray
    ) -> np.ndarray:
        """At most :data:`_MAX_CUTS` of the violated cuts: the largest weighted excess first."""
        most = max(int(_MAX_CUTS * self.n_theta), 1)
        if len(rows) <= most:
            return rows
        own = cuts.theta[rows]
        excess = self.sep.theta_cost[own] * (values[rows] - theta[own])
        return rows[np.argsort(-excess, kind="stable")[:most]]

    def fix_by_reduced_cost(self, lp: Relaxation, upper: float) -> int:
        """Phase 2: fix the sites the relaxation's reduced costs decide; how many."""
        if lp.y is None or lp.reduced is None or not lp.solved:
            return 0
        margin = _FIX_MARGIN * max(abs(upper), 1.0)
        free = ~(self.fixed_closed | self.fixed_open)
        closed = free & (lp.y <= 1e-9) & (lp.lower + lp.reduced > upper + margin)
        opened = free & (lp.y >= 1.0 - 1e-9) & (lp.lower - lp.reduced > upper + margin)
        self.fix(closed, opened)
        return int(closed.sum() + opened.sum())

    def set_bounds(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Bounds of the site columns (a node of the search)."""
        cols = np.arange(self.m, dtype=np.int32)
        self.h.changeColsBounds(self.m, cols, lo.astype(np.float64), hi.astype(np.float64))

    def node_lp(self, deadline: float, cutoff: float) -> tuple[str, float, np.ndarray, np.ndarray]:
        """The relaxation at the current bounds, cut at its solutions until none is violated.

        Returns ``(status, value, y, reduced)``: status ``"bound"`` when the
        value is proven (no cut violated), ``"cutoff"`` when it reached
        ``cutoff`` (no better solution below), ``"infeasible"``, or
        ``"time limit"``.
        """
        m = self.m
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return "time limit", -math.inf, np.zeros(m), np.zeros(m)
            status, x = self.run(left)
            if status == "Infeasible":
                return "infeasible", math.inf, np.zeros(m), np.zeros(m)
            value = float(self.h.getInfo().objective_function_value)
            if status != "Optimal" or not self._consistent(x, value):
                return "time limit", -math.inf, np.zeros(m), np.zeros(m)
            y = np.clip(x[:m], 0.0, 1.0)
            reduced = np.asarray(self.h.getSolution().col_dual)[:m]
            if value >= cutoff:
                return "cutoff", value, y, reduced
            cuts = self.sep.separate(y)
            rows = _violated(cuts.value, cuts, x[m:], max(abs(value), 1.0))
            if len(rows) == 0:
                return "bound", value, y, reduced
            rows = self._most_violated(rows, cuts, cuts.value, x[m:])
            self.add_cuts(cuts, rows)

    def purge(self) -> int:
        """Delete the cuts slack at the last LP solution (with no dual); how many.

        They stay valid; the separation finds them again where they bind.
        """
        solution = self.h.getSolution()
        slack = np.asarray(solution.row_value) - self.row_rhs
        dual = np.asarray(solution.row_dual)
        drop = np.flatnonzero(
            (self.row_theta >= 0)
            & (slack > _LP_RTOL * np.maximum(1.0, np.abs(self.row_rhs)))
            & (dual == 0)
        )
        if len(drop):
            self.h.deleteRows(len(drop), drop.astype(np.int32))
            keep = np.ones(len(self.row_rhs), dtype=bool)
            keep[drop] = False
            self.row_theta, self.row_rhs = self.row_theta[keep], self.row_rhs[keep]
        return len(drop)

    def _consistent(self, x: np.ndarray, reported: float) -> bool:
        """HiGHS's reported objective equals the cost of its solution (a check on its bounds)."""
        own = float(self.sep.theta_cost @ x[self.m :])
        return abs(own - reported) <= 1e-6 * max(abs(own), 1.0)


class Incumbent:
    """The best solution known, its value, and the best proven lower bound."""

    def __init__(self, y: np.ndarray, value: float) -> None:
        self.y, self.value = np.asarray(y, dtype=bool), float(value)
        self.bound = -math.inf
        self.rounds = 0

    def offer(self, y: np.ndarray, value: float) -> None:
        """Keep ``y`` if it is better."""
        if value < self.value:
            self.y, self.value = np.asarray(y, dtype=bool), float(value)

    def raise_bound(self, bound: float) -> None:
        """A proven lower bound of every solution better than the incumbent.

        It is lowered by :data:`_BOUND_RTOL` of its size: the linear
        programs that prove it are solved to HiGHS's tolerances, not exactly.
        """
        safe = float(bound) - _BOUND_RTOL * max(1.0, abs(float(bound)))
        self.bound = max(self.bound, min(safe, self.value))

    @property
    def gap(self) -> float:
        """Relative gap between the incumbent and the bound."""
        return _gap(self.value, self.bound)


@dataclass
class _Node:
    """A node of the search: its parent's bound, then its site bounds."""

    bound: float
    serial: int
    lo: np.ndarray = field(compare=False)
    hi: np.ndarray = field(compare=False)
    #: the branching that made it: site, direction (0 down, 1 up), distance moved
    branch: tuple[int, int, float] | None = field(default=None, compare=False)


class _PseudoCosts:
    """Average bound gain per unit of change of each site, down and up (pseudo-costs)."""

    def __init__(self, m: int) -> None:
        self.total = np.zeros((2, m))
        self.count = np.zeros((2, m))

    def record(self, node: _Node, value: float) -> None:
        """The bound of ``node`` (``value``) against its parent's."""
        if node.branch is None or not math.isfinite(value):
            return
        j, side, moved = node.branch
        self.total[side, j] += max(value - node.bound, 0.0) / max(moved, 1e-9)
        self.count[side, j] += 1

    def choose(self, y: np.ndarray, frac: np.ndarray, free: np.ndarray) -> int:
        """The site to branch on: the largest product of the two estimated gains."""
        cand = free & (frac > 1e-6)
        known = self.count > 0
        mean = np.where(known, self.total / np.maximum(self.count, 1), 0.0)
        fill = np.array([mean[s][known[s]].mean() if known[s].any() else 1.0 for s in (0, 1)])
        psi = np.where(known, mean, fill[:, None])
        score = np.maximum(psi[0] * y, 1e-6) * np.maximum(psi[1] * (1.0 - y), 1e-6)
        score = np.where(cand, score + 1e-9 * frac, -1.0)
        return int(np.argmax(score))


def branch_and_cut(master: BendersMaster, state: Incumbent, deadline: float, mip_gap: float) -> str:
    """Phase 3: LP-based branch and bound over the sites, Benders cuts at every node.

    Each node's relaxation is solved to its true value (:meth:`BendersMaster.node_lp`:
    cuts separated at its LP solutions until none is violated; the cuts are
    valid everywhere and stay in the master). A node whose value is within
    ``mip_gap`` of the incumbent's is pruned; an integral LP solution is a
    solution (its value is the node's). Otherwise the node's reduced costs fix
    sites for its subtree (as in phase 2), and it branches on the most
    fractional site, diving into the child its LP value rounds to; the other
    child waits in a queue ordered by bound. Returns ``""`` when the queue is
    empty (the incumbent is proven within ``mip_gap``), else why it stopped;
    ``state.bound`` is the least bound of the nodes left.
    """
    m, p = master.m, master.p
    lo0 = master.fixed_open.astype(np.float64)
    hi0 = (~master.fixed_closed).astype(np.float64)
    queue: list[_Node] = [_Node(state.bound, 0, lo0, hi0)]
    serial, nodes, pruned_at = 1, 0, math.inf
    node: _Node | None = None
    costs = _PseudoCosts(m)
    while True:
        if node is None:
            if not queue:
                break
            node = queue.pop()
        cutoff = state.value - mip_gap * abs(state.value)
        if node.bound >= cutoff:
            pruned_at = min(pruned_at, node.bound)
            node = None
            continue
        master.set_bounds(node.lo, node.hi)
        status, value, y, reduced = master.node_lp(deadline, cutoff)
        if status in ("bound", "cutoff"):
            costs.record(node, value)
        nodes += 1
        state.rounds = nodes
        if status == "time limit":
            queue.append(node)
            state.raise_bound(min([q.bound for q in queue] + [pruned_at, state.value]))
            return "time limit"
        if nodes % _PURGE_EVERY == 0:
            master.purge()
        if status != "bound":
            if status == "cutoff":
                pruned_at = min(pruned_at, value)
            node = None
            continue
        frac = np.minimum(y, 1.0 - y)
        if frac.max() <= 1e-6:  # integral, and no cut violated: a solution at its value
            state.offer(y > 0.5, master.sep.value(y > 0.5))
            pruned_at = min(pruned_at, value)
            node = None
            continue
        top = np.zeros(m)
        top[np.argsort(-(y + node.lo), kind="stable")[:p]] = 1.0  # rounded: a solution
        state.offer(top > 0.5, master.sep.value(top > 0.5))
        gap = state.value - value
        lo, hi = node.lo.copy(), node.hi.copy()
        free = hi > lo
        hi[free & (y <= 1e-9) & (reduced > gap)] = 0.0
        lo[free & (y >= 1.0 - 1e-9) & (-reduced > gap)] = 1.0
        j = costs.choose(y, frac, hi > lo)
        children = []
        for side in (1.0, 0.0) if y[j] >= 0.5 else (0.0, 1.0):
            a, b = lo.copy(), hi.copy()
            a[j] = b[j] = side
            if a.sum() <= p:
                moved = 1.0 - y[j] if side else y[j]
                children.append(_Node(value, serial, a, b, (j, int(side), float(moved))))
                serial += 1
        node = children[0] if children else None
        queue.extend(children[1:])
    state.raise_bound(min(pruned_at, state.value))
    return ""


def start_master(
    sep: Separator, n_sites: int, p: int, incumbent: np.ndarray, *, cap: bool = False
) -> tuple[BendersMaster, Incumbent, np.ndarray]:
    """The master with the cuts tight at the incumbent; the incumbent; the stability centre."""
    y0 = np.asarray(incumbent, dtype=bool)
    core = 0.5 * y0 + 0.5 * (min(p, n_sites) / max(n_sites, 1))
    first = sep.separate(y0.astype(np.float64), core)
    master = BendersMaster(sep, n_sites, p, cap=cap)
    master.add_cuts(first, np.arange(len(first.rhs)))
    master.start_at(y0)
    return master, Incumbent(y0, sep.value(y0)), core


def solve_benders(
    sep: Separator,
    n_sites: int,
    p: int,
    incumbent: np.ndarray,
    *,
    time_limit_s: float,
    mip_gap: float,
    cap: bool = False,
) -> BendersResult:
    """Solve ``min sum_k c_k theta_k`` over p of ``n_sites`` sites by the three phases above.

    Parameters
    ----------
    sep
        The subproblems (their costs, bounds and cut separation).
    n_sites
        Site variables of the master.
    p
        Sites to open: exactly p, or at most p with ``cap``.
    incumbent
        Bool per site: a known solution (the heuristic's).
    time_limit_s
        Wall-clock limit, s (HiGHS checks it between its steps).
    mip_gap
        Relative gap at which to stop.
    """
    deadline = time.perf_counter() + time_limit_s
    mip_gap = max(mip_gap, MIN_GAP)
    master, state, core = start_master(sep, n_sites, p, incumbent, cap=cap)
    lp = master.relax(core, deadline, state, mip_gap)
    state.raise_bound(lp.lower)
    stopped = ""
    if state.gap > mip_gap:
        if lp.solved:
            master.fix_by_reduced_cost(lp, state.value)
            stopped = branch_and_cut(master, state, deadline, mip_gap)
        else:
            stopped = "time limit"
    return finish(master, state, lp, stopped)


def finish(master: BendersMaster, state: Incumbent, lp: Relaxation, stopped: str) -> BendersResult:
    """The account of a run."""
    return BendersResult(
        y=state.y,
        value=state.value,
        bound=state.bound,
        lp_bound=lp.lower,
        fixed_closed=int(master.fixed_closed.sum()),
        fixed_open=int(master.fixed_open.sum()),
        lp_rounds=lp.rounds,
        milp_rounds=state.rounds,
        cuts=master.n_cuts,
        stopped=stopped,
    )
