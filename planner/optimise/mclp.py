"""Maximal covering at scale: Benders decomposition (Cordeau, Furini & Ljubić 2019).

Cordeau, Furini & Ljubić, "Benders decomposition for very large scale
partial set covering and maximal covering location problems", EJOR 275(3)
(2019) 882–896. With :math:`N_i` the candidate sites within the threshold of
demand point i and :math:`Y_i = \\sum_{j \\in N_i} y_j`, the MCLP

.. math::

    \\max \\sum_i w_i z_i \\quad \\text{s.t.} \\quad z_i \\le Y_i, \\quad
    z_i \\le 1, \\quad \\sum_j y_j \\le p, \\quad y_j \\in \\{0, 1\\}

splits, for fixed y, into one trivial subproblem per point, whose optimal
dual gives the cut :math:`w_i z_i \\le w_i Y_i` where :math:`Y_i < 1` and
:math:`w_i z_i \\le w_i` elsewhere. Summed over a group g of points, one
variable :math:`\\theta_g` (the covered weight of the group, negated here:
the master minimises) stands for the whole group:

.. math::

    -\\theta_g \\le \\sum_{i \\in g : Y_i^* \\ge 1} w_i +
    \\sum_j \\Big(\\sum_{i \\in g : Y_i^* < 1, j \\in N_i} w_i\\Big) y_j,

valid for every 0/1 y and tight at :math:`y^*`. One sparse product of the
cover matrix gives every group's cut. The master has one column per
candidate site and one per group, whatever the number of points, so it stays
small for hundreds of thousands of them; it is solved by
:func:`planner.optimise.benders`'s linear relaxation with in-out
stabilisation, reduced-cost fixing and branch-and-Benders-cut.

Before that, as in the compact model: points a required site covers are
served whatever is added and leave the model; points with the same set
:math:`N_i` are merged (their weights summed). The incumbent comes from
greedy + fast interchange + VNS on the cover matrix (:class:`CoverSwaps`).
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from planner.optimise.benders import BendersResult, Cuts, solve_benders
from planner.optimise.sparse import AnyInstance, SparseInstance
from planner.optimise.vns import pick, variable_neighbourhood_search

__all__ = ["CoverCuts", "CoverSwaps", "cover_matrix", "merge_rows", "solve_mclp_benders"]

#: Demand x site cells compared at once when a dense instance's cover matrix
#: is built (a bool block of this many bytes). Implementation choice.
_BLOCK_CELLS = 20_000_000

#: Demand rows per group of the master's aggregated cuts (one theta a group).
#: Fewer groups: a smaller master; more: tighter cuts. Implementation choice,
#: tuned on the SYNTHETIC 100,000 x 2,000 instance of ``benchmarks/optimise.py``.
ROWS_PER_GROUP = 1000


class CoverCuts:
    """Closed-form Benders cuts of MCLP, aggregated over groups of points (module docstring).

    Parameters
    ----------
    cover
        ``(n, m)`` 0/1 sparse: site j covers point i.
    weight
        ``(n,)`` weights of the points.
    groups
        Number of groups (each a theta of the master).
    """

    def __init__(self, cover: sp.csr_array, weight: np.ndarray, groups: int) -> None:
        n, m = cover.shape
        self.a = sp.csr_array(cover, dtype=np.float64)
        self.w = np.asarray(weight, dtype=np.float64)
        g = max(1, min(int(groups), n))
        # sites in reverse Cuthill-McKee order of the graph "cover a point in
        # common" (neighbours get near ranks), points in the order of their
        # first site in it, cut in g runs: a group's points are near one
        # another, so its cut has few sites
        together = sp.csr_array(self.a.T @ self.a)
        rank = np.empty(m, dtype=np.int64)
        rank[reverse_cuthill_mckee(together, symmetric_mode=True)] = np.arange(m)
        first = np.full(n, m)
        has = np.diff(self.a.indptr) > 0
        ranked = rank[self.a.indices]
        first[has] = np.minimum.reduceat(ranked, self.a.indptr[:-1][has]) if has.any() else m
        order = np.argsort(first, kind="stable")
        self.group = np.empty(n, dtype=np.int64)
        self.group[order] = np.arange(n) * g // max(n, 1)
        self.n_groups = g
        total = np.bincount(self.group, weights=self.w, minlength=g)
        self.theta_cost = np.ones(g)
        self.theta_lb = -total
        self.theta_ub = np.zeros(g)

    def separate(self, y: np.ndarray, core: np.ndarray | None = None) -> Cuts:
        """Every group's cut, tight at ``y`` (fractional sites in [0, 1]; ``core`` is not used)."""
        reach = self.a @ y
        under = reach < 1.0 - 1e-9
        g = self.n_groups
        rhs = -np.bincount(self.group, weights=np.where(under, 0.0, self.w), minlength=g)
        rows = np.flatnonzero(under)
        pick = sp.csr_array((self.w[rows], (self.group[rows], rows)), shape=(g, self.a.shape[0]))
        coef = sp.csr_array(pick @ self.a)
        coef.sum_duplicates()
        value = rhs - coef @ y
        return Cuts(
            theta=np.arange(g),
            indptr=coef.indptr.astype(np.int64),
            indices=coef.indices.astype(np.int64),
            data=coef.data,
            rhs=rhs,
            value=np.asarray(value, dtype=np.float64),
        )

    def value(self, y: np.ndarray) -> float:
        """Minus the weight covered by the open sites ``y`` (bool)."""
        covered = self.a @ np.asarray(y, dtype=np.float64) >= 1.0 - 1e-9
        return -float(self.w @ covered)


class CoverSwaps:
    """:class:`~planner.optimise.vns.Neighbourhood` of MCLP on a cover matrix.

    With ``k_i`` the open sites covering point i, a swap (close r, open a)
    gains ``gain[a] = sum of w_i over i in N_a with k_i = 0``, loses
    ``loss[r] = sum over i in N_r with k_i = 1``, and gives back
    ``extra[r, a] = sum over i in N_r and N_a with k_i = 1`` (the fast
    interchange of Resende & Werneck 2007, for coverage). Each table is one
    pass over the cover matrix's entries.

    Parameters
    ----------
    cover
        ``(n, m)`` 0/1 sparse: site j covers point i.
    weight
        ``(n,)`` weights.
    base
        ``(n,)`` bool: points covered whatever is open (a required site).
    is_open
        Bool per site.
    """

    def __init__(
        self, cover: sp.csr_array, weight: np.ndarray, base: np.ndarray, is_open: np.ndarray
    ) -> None:
        self.a = sp.csr_array(cover, dtype=np.float64)
        self.at = sp.csr_array(self.a.T)
        self.w = np.asarray(weight, dtype=np.float64)
        self.base = np.asarray(base, dtype=bool)
        self.is_open = np.asarray(is_open, dtype=bool).copy()
        self._count = self.a @ self.is_open.astype(np.float64)

    def copy(self) -> CoverSwaps:
        """An independent copy (sharing the cover matrix)."""
        other = object.__new__(CoverSwaps)
        other.__dict__.update(self.__dict__)
        other.is_open = self.is_open.copy()
        other._count = self._count.copy()
        return other

    @property
    def value(self) -> float:
        """The weight covered."""
        return float(self.w @ ((self._count > 0.5) | self.base))

    def opening(self) -> np.ndarray:
        """Weight covered after opening each site alone."""
        uncovered = self.w * ((self._count < 0.5) & ~self.base)
        return self.value + self.at @ uncovered

    def table(self, added: np.ndarray) -> np.ndarray:
        """Weight covered after each swap (close ``added[r]``, open site a): (r, sites)."""
        m = self.a.shape[1]
        free = ~self.base
        gain = self.at @ (self.w * ((self._count < 0.5) & free))
        slot = np.full(m, -1)
        slot[added] = np.arange(len(added))
        # points covered by one open site, and which: the largest open index in the row
        single = np.flatnonzero((np.abs(self._count - 1.0) < 0.5) & free)
        a = self.a
        starts, stops = a.indptr[single], a.indptr[single + 1]
        lengths = stops - starts
        at = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(
            int(lengths.sum())
        )
        cols = a.indices[at]
        marked = np.where(self.is_open[cols], cols, -1)
        owner = (
            np.maximum.reduceat(marked, np.r_[0, np.cumsum(lengths)[:-1]])
            if len(single)
            else marked
        )
        mine = slot[owner]
        w = self.w[single]
        use = mine >= 0
        loss = np.bincount(mine[use], weights=w[use], minlength=len(added))
        pairs = np.repeat(mine, lengths)
        keep = pairs >= 0
        extra = np.bincount(
            pairs[keep] * m + cols[keep],
            weights=np.repeat(w, lengths)[keep],
            minlength=len(added) * m,
        ).reshape(len(added), m)
        return self.value + gain[None, :] - loss[:, None] + extra

    def swap(self, out: int, into: int) -> None:
        """Close ``out``, open ``into``."""
        self.swap_many([out], [into])

    def swap_many(self, out: list[int], into: list[int]) -> None:
        """Close the sites ``out``, open ``into``."""
        self.is_open[out], self.is_open[into] = False, True
        self._count += _row_sum(self.at, into) - _row_sum(self.at, out)

    def open(self, into: int) -> None:
        """Open ``into``."""
        self.is_open[into] = True
        self._count += _row_sum(self.at, [into])


def _row_sum(a: sp.csr_array, rows: list[int]) -> np.ndarray:
    return np.asarray(a[rows].sum(axis=0), dtype=np.float64).ravel()


def group_count(n_rows: int) -> int:
    """Groups of the master's aggregated cuts for ``n_rows`` points."""
    return max(1, math.ceil(n_rows / ROWS_PER_GROUP))


def cover_matrix(instance: AnyInstance, threshold_s: float) -> sp.csr_array:
    """``(n_demand, n_sites)`` 0/1 CSR: site j within ``threshold_s`` of point i.

    A dense instance is read in blocks of rows, so no dense 0/1 copy is made.
    """
    if isinstance(instance, SparseInstance):
        return sp.csr_array(instance.within(threshold_s))
    cost = instance.cost_s
    n, m = cost.shape
    step = max(1, _BLOCK_CELLS // max(m, 1))
    parts = []
    for lo in range(0, n, step):
        r, c = np.nonzero(cost[lo : lo + step] <= threshold_s)
        parts.append((r + lo, c))
    rows = np.concatenate([r for r, _ in parts]) if parts else np.zeros(0, np.int64)
    cols = np.concatenate([c for _, c in parts]) if parts else np.zeros(0, np.int64)
    return sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, m))


def merge_rows(a: sp.csr_array, w: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
    """Distinct rows of a sparse 0/1 matrix and the summed weights of each."""
    a = sp.csr_array(a)
    a.sort_indices()
    keys: dict[bytes, int] = {}
    inverse = np.empty(a.shape[0], dtype=np.int64)
    for i in range(a.shape[0]):
        key = a.indices[a.indptr[i] : a.indptr[i + 1]].tobytes()
        inverse[i] = keys.setdefault(key, len(keys))
    first = np.zeros(len(keys), dtype=np.int64)
    first[inverse[::-1]] = np.arange(a.shape[0])[::-1]
    return sp.csr_array(a[first]), np.bincount(inverse, weights=w, minlength=len(keys))


def solve_mclp_benders(
    instance: AnyInstance,
    threshold_s: float,
    p: int,
    *,
    time_limit_s: float,
    mip_gap: float,
    heuristic_share: float,
) -> tuple[np.ndarray, float, float, BendersResult | None]:
    """MCLP by Benders decomposition (module docstring).

    Returns
    -------
    (open, value, bound, result)
        0/1 per site (required sites open, at most p added), the covered
        weight, the proven upper bound of the optimum, and the
        decomposition's account (None when there was nothing to decide).
    """
    deadline = time.perf_counter() + time_limit_s
    req = np.asarray(instance.required, dtype=bool)
    w = np.asarray(instance.weight, dtype=np.float64)
    within = cover_matrix(instance, threshold_s)
    free = np.flatnonzero(~req)
    done = (within @ req.astype(np.float64)) > 0
    counted = float(w[done].sum())
    sub = sp.csr_array(within[:, free])
    rows = np.flatnonzero((np.diff(sub.indptr) > 0) & (w > 0) & ~done)
    cover, weight = merge_rows(sp.csr_array(sub[rows]), w[rows])
    final = req.astype(np.int64)
    if len(weight) == 0 or p == 0:
        return final, counted, counted, None
    swaps = CoverSwaps(cover, weight, np.zeros(len(weight), dtype=bool), np.zeros(len(free), bool))
    order: list[int] = []
    rng = np.random.default_rng(0)
    for _ in range(min(p, len(free))):
        closed = np.flatnonzero(~swaps.is_open)
        j = int(closed[pick(swaps.opening()[closed], 1.0, rng.permutation(len(closed)))])
        swaps.open(j)
        order.append(j)
    start, _, _, _ = variable_neighbourhood_search(
        swaps,
        order,
        np.ones(len(free), dtype=bool),
        1.0,
        rng,
        max_moves=100,
        stall=0,  # the local search alone: the decomposition closes the rest
        deadline=time.perf_counter() + heuristic_share * time_limit_s,
    )
    sep = CoverCuts(cover, weight, group_count(len(weight)))
    left = max(deadline - time.perf_counter(), 1e-3)
    result = solve_benders(sep, len(free), p, start, time_limit_s=left, mip_gap=mip_gap, cap=True)
    final[free[result.y]] = 1
    return final, counted - result.value, counted - result.bound, result
