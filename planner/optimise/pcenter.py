"""p-center heuristic: vertex substitution around the critical client, inside a VNS.

*Greedy*: add p sites one at a time, each the one that lowers the radius
R (the worst response time) most, ties in a seeded random order. Only a
site closer than R to a critical client (a point at R) can lower R; every
other site leaves it at exactly R, so only those are scored. The greedy is
then improved in two ways.

*Local search* in the critical-client neighbourhood of Mladenović, Labbé &
Hansen (2003), "Solving the p-center problem with tabu search and variable
neighborhood search", Networks 42(1) 48–64. The radius R (the worst
response time) can only fall if a site closer than R to a critical client
(a point at R) opens, so only those sites are tried for opening, each with
every added site for closing. A move is scored lexicographically by (new
radius, number of points at or above R), so the search also crosses the
plateaus where several points share the worst time. The best move is made
while it improves the score; at most ``max_moves`` moves.

*Variable neighbourhood search* (Mladenović & Hansen 1997, as applied to
p-center in the paper above): shake the best solution by k random swaps,
each opening a site closer than R to a random critical client; run the local
search; keep the result if it scores better and go back to k = 1, otherwise
try k + 1 (cycling up to :data:`planner.constants.PCENTER_VNS_MAX_SHAKE`).
A result that scores the same replaces the best too, so the search walks
along plateaus instead of shaking the same solution again.
It stops after :data:`planner.constants.PCENTER_VNS_STALL` shakes in a row
bring nothing, or at the time limit. Every random choice comes from the
caller's seeded generator, so a run without a time limit is reproducible.

Scoring every (close added site r, open candidate j) at once: with
``best_i``, ``second_i`` the best and second-best open times of point i and
``g_i`` the site serving it, the new time of i is ``min(c_ij, second_i)`` if
``g_i = r`` and ``min(c_ij, best_i)`` otherwise. Grouping the points by
``g_i``, the group maxima of both kinds (and the two largest group maxima of
the first kind) give the new radius of every r for a candidate column in
O(n); counts of points at or above R are group sums the same way. Required
sites are one group that is never closed.

Dense and sparse instances run the same code: a sparse instance's columns
are densified a block at a time (``inf`` beyond the cutoff) and its required
sites give ``base_s``, so the two give identical results on the same times.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from planner import constants
from planner.optimise.models import unreached_cost_s
from planner.optimise.sparse import AnyInstance, SparseInstance

__all__ = ["pcenter_heuristic"]


@dataclass(frozen=True)
class _Columns:
    """Response times of p-center's points, s, column by column, unreached as U.

    Points outside I' (no weight, or no candidate reaches them) read as 0,
    so they never set the radius.
    """

    instance: AnyInstance
    active: np.ndarray
    unreached_s: float

    def block(self, cols: np.ndarray) -> np.ndarray:
        """``(n_demand, len(cols))`` times of the sites ``cols``, s."""
        inst = self.instance
        if isinstance(inst, SparseInstance):
            out = np.full((inst.n_demand, len(cols)), np.inf)
            for k, j in enumerate(cols):
                rows, c = inst.entries(int(j))
                out[rows, k] = c
        else:
            out = np.array(inst.cost_s[:, cols], dtype=np.float64)
        np.minimum(out, self.unreached_s, out=out)
        out[~self.active] = 0.0
        return out

    def fixed(self) -> np.ndarray:
        """Time from the nearest required site (always open), s; U where none reaches."""
        inst = self.instance
        if isinstance(inst, SparseInstance):
            t = np.array(inst.base_s, dtype=np.float64)
        else:
            t = inst.open_times(inst.required)
        t = np.minimum(t, self.unreached_s)
        t[~self.active] = 0.0
        return t

    def near(self, i: int, radius: float) -> np.ndarray:
        """Sites that reach point ``i`` in less than ``radius``, s."""
        inst = self.instance
        if isinstance(inst, SparseInstance):
            c = inst.cost_s
            at = np.flatnonzero(c.indices == i)
            at = at[c.data[at] < radius]
            return np.searchsorted(c.indptr, at, side="right") - 1
        return np.flatnonzero(inst.cost_s[i] < radius)


class _Search:
    """One solution: the added sites (slots), their times and each point's best two."""

    def __init__(
        self, columns: _Columns, fixed: np.ndarray, slots: np.ndarray, is_open: np.ndarray
    ) -> None:
        self.columns, self.fixed = columns, fixed
        self.slots = np.array(slots, dtype=np.int64)
        self.is_open = np.array(is_open, dtype=bool)
        self.times = columns.block(self.slots)
        self._refresh()

    def copy(self) -> _Search:
        other = object.__new__(_Search)
        other.__dict__.update(self.__dict__)
        for name in ("slots", "is_open", "times", "best", "second", "group"):
            setattr(other, name, getattr(self, name).copy())
        return other

    def _refresh(self) -> None:
        every = np.column_stack([self.fixed, self.times])  # group 0: the required sites
        part = np.partition(every, 1, axis=1)
        self.best, self.second = part[:, 0].copy(), part[:, 1].copy()
        self.group = np.argmin(every, axis=1)
        self._measure()

    def _measure(self) -> None:
        self.radius = float(self.best.max(initial=0.0))
        self.n_critical = int(np.count_nonzero(self.best == self.radius))

    @property
    def key(self) -> tuple[float, int]:
        """What the search minimises: (radius, points at the radius)."""
        return self.radius, self.n_critical

    def swap(self, slot: int, site: int) -> None:
        """Close the site in ``slot`` and open ``site`` in its place.

        Only the points whose best or second-best time was the closed site's
        are recomputed from every column; the others just meet the new one.
        """
        self.is_open[self.slots[slot]] = False
        self.is_open[site] = True
        self.slots[slot] = site
        old = self.times[:, slot].copy()
        new = self.columns.block(np.array([site]))[:, 0]
        self.times[:, slot] = new
        group = slot + 1
        stale = (self.group == group) | (old <= self.second)
        rest = np.flatnonzero(~stale)
        t, b = new[rest], self.best[rest]
        better = t < b
        self.second[rest] = np.where(better, b, np.minimum(self.second[rest], t))
        self.best[rest] = np.where(better, t, b)
        self.group[rest] = np.where(better, group, self.group[rest])
        rows = np.flatnonzero(stale)
        every = np.column_stack([self.fixed[rows], self.times[rows]])
        if len(rows):
            part = np.partition(every, 1, axis=1)
            self.best[rows], self.second[rows] = part[:, 0], part[:, 1]
            self.group[rows] = np.argmin(every, axis=1)
        self._measure()

    def closed(self, sites: np.ndarray) -> np.ndarray:
        """The sites of ``sites`` that are not open."""
        return sites[~self.is_open[sites]]

    def best_move(self, cand: np.ndarray, rng: np.random.Generator) -> tuple[float, int, int, int]:
        """Best (new radius, points >= R, slot, site) over closing any slot and opening a ``cand``.

        Ties are broken by ``rng`` among all equally good moves. Points at or
        above R are counted only where they decide: a move to a radius below
        R leaves none, and one above R never improves (counted as n).
        """
        n = self.times.shape[0]
        order = np.argsort(self.group, kind="stable")
        g = self.group[order]
        starts = np.flatnonzero(np.concatenate(([True], g[1:] != g[:-1])))
        groups = (order, starts, g[starts])
        width = max(1, constants.PCENTER_BLOCK_CELLS // max(n, 1))
        top: tuple[float, int] = (math.inf, 0)
        ties: list[np.ndarray] = []
        for lo in range(0, len(cand), width):
            cols = cand[lo : lo + width]
            c = self.columns.block(cols)[order]
            value = self._values(c, groups)
            v = float(value.min())
            if v > top[0]:
                continue
            if v == self.radius:
                at_r = self._at_radius(c, groups)
                n_at = int(at_r[value == v].min())
                chosen = (value == v) & (at_r == n_at)
            else:
                n_at = 0 if v < self.radius else n
                chosen = value == v
            if (v, n_at) < top:
                top, ties = (v, n_at), []
            if (v, n_at) == top:
                r_, j_ = np.nonzero(chosen)
                ties.append(np.column_stack([r_, cols[j_]]))
        moves = np.concatenate(ties)
        slot, site = moves[int(rng.integers(len(moves)))]
        return top[0], top[1], int(slot), int(site)

    def _values(self, c: np.ndarray, groups: tuple[np.ndarray, ...]) -> np.ndarray:
        """New radius (slots, columns) of closing each slot and opening each column of ``c``."""
        order, starts, present = groups
        p, k = self.times.shape[1], c.shape[1]
        radius = np.full((2, p + 1, k), -np.inf)
        for s, base in enumerate((self.best, self.second)):
            radius[s, present] = np.maximum.reduceat(np.minimum(c, base[order, None]), starts)
        keep, drop = radius[0], radius[1]  # points kept by their site / moved off it
        first = np.argmax(keep, axis=0)
        top1 = keep[first, np.arange(k)]
        keep[first, np.arange(k)] = -np.inf
        slots = np.arange(1, p + 1)[:, None]
        others = np.where(slots == first[None, :], keep.max(axis=0), top1)
        return np.maximum(others, drop[1:])

    def _at_radius(self, c: np.ndarray, groups: tuple[np.ndarray, ...]) -> np.ndarray:
        """Points at or above R (slots, columns) after each move of :meth:`_values`."""
        order, starts, present = groups
        p, k = self.times.shape[1], c.shape[1]
        count = np.zeros((2, p + 1, k))
        for s, base in enumerate((self.best, self.second)):
            hit = (np.minimum(c, base[order, None]) >= self.radius).astype(np.float64)
            count[s, present] = np.add.reduceat(hit, starts)
        return count[0].sum(axis=0) - count[0, 1:] + count[1, 1:]


def _local_search(
    state: _Search, free: np.ndarray, rng: np.random.Generator, max_moves: int, deadline: float
) -> int:
    """Best improving critical-client moves until none improves; the number made."""
    moves = 0
    while moves < max_moves and state.radius > 0 and time.perf_counter() < deadline:
        critical = np.flatnonzero(state.best == state.radius)
        i = int(critical[rng.integers(len(critical))])
        cand = state.closed(state.columns.near(i, state.radius))
        cand = cand[free[cand]]
        if len(cand) == 0:
            break
        value, n_at, slot, site = state.best_move(cand, rng)
        if (value, n_at) >= state.key:
            break
        state.swap(slot, site)
        moves += 1
    return moves


def _shake(state: _Search, free: np.ndarray, k: int, rng: np.random.Generator) -> None:
    """k random swaps, each opening a site closer than R to a random critical client."""
    p = len(state.slots)
    for _ in range(k):
        critical = np.flatnonzero(state.best == state.radius)
        i = int(critical[rng.integers(len(critical))])
        cand = state.closed(state.columns.near(i, state.radius))
        cand = cand[free[cand]]
        if len(cand) == 0:
            cand = state.closed(np.flatnonzero(free))
            if len(cand) == 0:
                return
        state.swap(int(rng.integers(p)), int(cand[rng.integers(len(cand))]))


def _greedy(
    columns: _Columns, fixed: np.ndarray, is_open: np.ndarray, p: int, rng: np.random.Generator
) -> list[int]:
    """Add p sites one at a time, each the one that lowers the radius most.

    Ties go to the first in a seeded random order of the closed sites. Only
    sites closer than R to one critical client can lower the radius R; every
    other site leaves it at exactly R, so only those are scored.
    """
    t = fixed.copy()
    n = len(t)
    width = max(1, constants.PCENTER_BLOCK_CELLS // max(n, 1))
    order: list[int] = []
    for _ in range(p):
        cand = np.flatnonzero(~is_open)
        radius = float(t.max(initial=0.0))
        scores = np.full(len(cand), radius)
        if radius > 0:
            near = columns.near(int(np.argmax(t)), radius)
            near = np.flatnonzero(np.isin(cand, near))
            for lo in range(0, len(near), width):
                at = near[lo : lo + width]
                scores[at] = np.minimum(t[:, None], columns.block(cand[at])).max(axis=0)
        perm = rng.permutation(len(cand))
        j = int(cand[perm[int(np.argmin(scores[perm]))]])
        is_open[j] = True
        order.append(j)
        t = np.minimum(t, columns.block(np.array([j]))[:, 0])
    return order


def pcenter_heuristic(
    instance: AnyInstance,
    p: int,
    rng: np.random.Generator,
    *,
    max_moves: int,
    time_limit_s: float | None = None,
) -> tuple[np.ndarray, list[int], str]:
    """p-center: greedy, then local search and variable neighbourhood search.

    Parameters
    ----------
    instance
        Dense or sparse instance; times in s.
    p
        Sites to add to the required ones.
    rng
        The run's seeded generator (greedy ties, shakes, move ties).
    max_moves
        Most moves of each local search; 0: the greedy alone.
    time_limit_s
        Wall-clock limit of the improvement after the greedy, s; None: stop
        only when :data:`planner.constants.PCENTER_VNS_STALL` shakes in a row
        bring nothing (reproducible for a seed).

    Returns
    -------
    (open, order, detail)
        0/1 open per site; the added sites in the order the greedy added
        them (a site swapped in takes the place of the one it replaced); a
        short account of the search.
    """
    deadline = math.inf if time_limit_s is None else time.perf_counter() + time_limit_s
    free = ~np.asarray(instance.required, dtype=bool)
    active = instance.reachable() & (instance.weight > 0)
    columns = _Columns(instance, active, unreached_cost_s(instance))
    fixed = columns.fixed()
    is_open = instance.required.copy()
    order = _greedy(columns, fixed, is_open, p, rng)
    if not order or not active.any() or max_moves == 0:
        return is_open.astype(np.int64), order, "greedy"
    best = _Search(columns, fixed, np.array(order), is_open)
    moves = _local_search(best, free, rng, max_moves, deadline)
    k_max = max(1, min(len(order), constants.PCENTER_VNS_MAX_SHAKE))
    k, stall, shakes = 1, 0, 0
    if len(best.closed(np.flatnonzero(free))) == 0:
        stall = constants.PCENTER_VNS_STALL  # every site is open: nothing to swap
    while stall < constants.PCENTER_VNS_STALL and best.radius > 0:
        if time.perf_counter() >= deadline:
            break
        trial = best.copy()
        _shake(trial, free, k, rng)
        found = _local_search(trial, free, rng, max_moves, deadline)
        shakes += 1
        if trial.key < best.key:
            best, k, stall = trial, 1, 0
            moves += found
        else:
            if trial.key == best.key:  # as good: move there, off the plateau's dead end
                best = trial
            k, stall = k % k_max + 1, stall + 1
    detail = f"greedy + {moves} moves, VNS with {shakes} shakes"
    return best.is_open.astype(np.int64), best.slots.tolist(), detail
