"""Variable neighbourhood search around the fast interchange (p-median, MCLP, maximum survival).

These models' objectives are sums over demand points, ``sum_i w_i f(t_i)``
of each point's time to its nearest open site. Written as a cost to
minimise, ``h = f`` (p-median) or ``h = -f`` (MCLP, survival), with
``d1_i``, ``d2_i`` the best and second-best open times of point i and
``phi1_i`` its best site, the value of every swap (close an added site r,
open a closed candidate a) is ``gain[a] - loss[r] + extra[r, a]`` with

* ``gain[a] = sum_i w_i (h(d1_i) - h(c_ia))`` over the points a serves
  better than their best site;
* ``loss[r] = sum_{i : phi1_i = r} w_i (h(d2_i) - h(d1_i))``;
* ``extra[r, a] = sum_{i : phi1_i = r, c_ia < d2_i} w_i (h(d2_i) -
  h(max(c_ia, d1_i)))``.

This is the fast interchange of Whitaker (1983) in the form of Resende &
Werneck (2007, "A fast swap-based local search procedure for location
problems", Annals of Operations Research 150): after a swap only the points
whose best or second-best site changes (those r served, or a now serves
better than their second best) are taken out of the three arrays and put
back in, each over the sites nearer than its second best, so a swap costs
far less than a full pass over the demand x sites matrix (:class:`FastSwaps`,
dense instances). On a sparse (national) instance the same values come from
a full pass in blocks of candidates on an executor
(:mod:`planner.optimise.heuristic`).

*Local search*: the best swap (Teitz & Bart 1968) while it improves the
objective. *Variable neighbourhood search* (Mladenović & Hansen 1997,
"Variable neighborhood search", Computers & OR 24(11); for p-median Hansen
& Mladenović 1997, "Variable neighborhood search for the p-median",
Location Science 5(4)): the best solution is *shaken* by k random swaps (an
added site, chosen at random, replaced by a closed candidate, chosen at
random), the local search runs from there, and the result replaces the best
solution if it is better (k goes back to 1); otherwise k grows by one, up to
:data:`VNS_MAX_SHAKE`, then starts again at 1. The search stops after
``stall`` shakes in a row bring nothing (:data:`VNS_STALL` by default), or
at the time limit.

Every random choice comes from the caller's seeded generator, so a run
without a time limit is reproducible, and a dense and a sparse instance
holding the same times make the same choices.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol, Self

import numpy as np

__all__ = [
    "VNS_MAX_SHAKE",
    "VNS_MIN_STALL",
    "VNS_STALL",
    "FastSwaps",
    "Neighbourhood",
    "better",
    "local_search",
    "pick",
    "variable_neighbourhood_search",
]

#: Shakes in a row without improvement after which the search stops: twice
#: the number of added sites, at least :data:`VNS_MIN_STALL` and at most
#: :data:`VNS_STALL` (a larger p has more to improve: the greedy and the
#: local search leave it farther from the optimum). Tuned on the OR-Library
#: pmed instances (``benchmarks/optimise.py``); implementation choice.
VNS_STALL = 100
VNS_MIN_STALL = 20
#: Largest shake, in random swaps (k = 1 .. this, then back to 1), and at
#: most half the added sites (more would be a random restart). Tuned as above.
VNS_MAX_SHAKE = 10
#: Relative improvement a move must bring to count (guards against cycling on
#: floating-point noise).
IMPROVE_RTOL = 1e-12


def better(sign: float, new: float, cur: float) -> bool:
    """``new`` improves on ``cur`` in the model's sense (beyond :data:`IMPROVE_RTOL`)."""
    return sign * (new - cur) > IMPROVE_RTOL * max(1.0, abs(cur))


def pick(values: np.ndarray, sign: float, perm: np.ndarray) -> int:
    """Index of the best value, ties broken by the seeded order ``perm``."""
    v = sign * values[perm]
    return int(perm[int(np.argmax(v))])


class Neighbourhood(Protocol):
    """Open sites and the swap values around them."""

    is_open: np.ndarray

    @property
    def value(self) -> float:
        """The objective of the open sites, exactly."""
        ...

    def table(self, added: np.ndarray) -> np.ndarray:
        """Objective after each swap (close ``added[r]``, open site a): (r, sites).

        Columns of open sites hold no swap (their values mean nothing).
        """
        ...

    def swap(self, out: int, into: int) -> None:
        """Close ``out`` and open ``into``."""
        ...

    def swap_many(self, out: list[int], into: list[int]) -> None:
        """Close the sites ``out`` and open ``into`` (distinct sites)."""
        ...

    def copy(self) -> Self:
        """An independent copy."""
        ...


#: Demand x site cells a :class:`FastSwaps` update handles at once (bounds
#: its temporaries to a few arrays of this many float64). Implementation choice.
FAST_SWAP_BLOCK_CELLS = 2_000_000
#: Largest instance (demand x sites) for which :class:`FastSwaps` keeps each
#: point's sites sorted by time (16 bytes a cell), so that an update visits
#: only the sites nearer than a point's second best. Implementation choice.
FAST_SWAP_SORTED_CELLS = 20_000_000
#: ... which it does when they are fewer than this share of the row.
_NEAR_SHARE = 0.25


class FastSwaps:
    """Incremental swap values of a separable objective on a dense instance (module docstring).

    Parameters
    ----------
    cost
        ``(n, m)`` times, s (``inf``: unreachable), of the points that count.
    weight
        ``(n,)`` their weights.
    h
        The cost of a time, ``h(t)``, non-decreasing, finite for ``inf``.
    sense
        ``+1`` if the objective is ``-sum w h`` (a maximum), ``-1`` if it is
        ``sum w h``.
    is_open
        Bool per site: the sites open now (required ones included).
    capacity
        Most sites that will be open at once (``extra`` has one row each).
    """

    def __init__(
        self,
        cost: np.ndarray,
        weight: np.ndarray,
        h: Callable[[np.ndarray], np.ndarray],
        sense: float,
        is_open: np.ndarray,
        capacity: int,
    ) -> None:
        self.c, self.w, self.h, self.sense = cost, weight, h, sense
        self.hc = h(cost)  # the cost of every time, once
        n, m = cost.shape
        self.rank: np.ndarray | None = None
        if n * m <= FAST_SWAP_SORTED_CELLS:
            # each point's sites by time, and each site's place in that order
            self.rank = np.argsort(cost, axis=1, kind="stable").astype(np.int32)
            self.sorted_hc = np.take_along_axis(self.hc, self.rank, axis=1)
            self.place = np.empty_like(self.rank)
            np.put_along_axis(
                self.place, self.rank, np.arange(m, dtype=np.int32)[None, :].repeat(n, 0), axis=1
            )
        self.is_open = np.asarray(is_open, dtype=bool).copy()
        self.d1 = np.full(n, np.inf)
        self.d2 = np.full(n, np.inf)
        # each open site has a row ("slot") of extra; the last slot: no site
        self.slots = max(int(capacity), int(self.is_open.sum())) + 1
        self.slot = np.full(m + 1, -1, dtype=np.int64)
        self.slot[m] = self.slots - 1
        self.slot[np.flatnonzero(self.is_open)] = np.arange(int(self.is_open.sum()))
        self.phi1 = np.full(n, m, dtype=np.int64)  # m: no site
        self.phi2 = np.full(n, m, dtype=np.int64)
        self.gain = np.zeros(m)
        self.loss = np.zeros(m + 1)
        self.extra = np.zeros((self.slots, m))
        rows = np.arange(n)
        self._value: float | None = None
        self._top_two(rows)
        self._account(rows, 1.0)

    def copy(self) -> FastSwaps:
        """An independent copy."""
        other = object.__new__(FastSwaps)
        other.__dict__.update(self.__dict__)
        for name in ("is_open", "d1", "d2", "slot", "phi1", "phi2", "gain", "loss", "extra"):
            setattr(other, name, getattr(self, name).copy())
        return other

    @property
    def value(self) -> float:
        """The objective of the open sites, exactly."""
        if self._value is None:
            self._value = float(-self.sense * (self.w @ self.h(self.d1)))
        return self._value

    def _top_two(self, rows: np.ndarray) -> None:
        """Best and second-best open site of the points ``rows``."""
        cols = np.flatnonzero(self.is_open)
        m = self.c.shape[1]
        if len(rows) == 0:
            return
        if len(cols) == 0:
            self.d1[rows] = self.d2[rows] = np.inf
            self.phi1[rows] = self.phi2[rows] = m
            return
        sub = self.c[np.ix_(rows, cols)]
        if len(cols) == 1:
            self.d1[rows], self.phi1[rows] = sub[:, 0], cols[0]
            self.d2[rows], self.phi2[rows] = np.inf, m
            return
        two = np.argpartition(sub, 1, axis=1)[:, :2]
        vals = np.take_along_axis(sub, two, axis=1)
        flip = (vals[:, 1] < vals[:, 0]) | ((vals[:, 1] == vals[:, 0]) & (two[:, 1] < two[:, 0]))
        first = np.where(flip, two[:, 1], two[:, 0])
        second = np.where(flip, two[:, 0], two[:, 1])
        at = np.arange(len(rows))
        self.d1[rows], self.phi1[rows] = sub[at, first], cols[first]
        self.d2[rows], self.phi2[rows] = sub[at, second], cols[second]

    def _account(self, rows: np.ndarray, sign: float) -> None:
        """Add (sign +1) or take out (-1) the points ``rows`` from gain, loss and extra.

        ``h`` is non-decreasing, so ``max(h(d1) - h(c), 0)`` is a point's
        saving wherever a site is nearer than its best, and 0 elsewhere; the
        same holds for ``extra`` with ``d2``. Only the sites before a point's
        second best in its order by time can count: when those are few, only
        they are visited (:meth:`_account_near`), otherwise whole rows.
        """
        m = self.c.shape[1]
        if self.rank is not None and len(rows):
            phi2 = self.phi2[rows]
            near = np.where(phi2 < m, self.place[rows, np.minimum(phi2, m - 1)], m)
            if near.sum() < _NEAR_SHARE * len(rows) * m:
                self._account_near(rows, near, sign)
                return
        self.loss += sign * np.bincount(
            self.phi1[rows],
            weights=self.w[rows] * (self.h(self.d2[rows]) - self.h(self.d1[rows])),
            minlength=m + 1,
        )
        step = max(1, FAST_SWAP_BLOCK_CELLS // max(m, 1))
        for lo in range(0, len(rows), step):
            block = rows[lo : lo + step]
            hc = self.hc[block]
            w, phi1 = self.w[block], self.phi1[block]
            h1, h2 = self.h(self.d1[block]), self.h(self.d2[block])
            saved = h1[:, None] - hc
            np.maximum(saved, 0.0, out=saved)
            self.gain += sign * (w @ saved)
            # h(max(c, d1)) = max(h(c), h(d1)): h is non-decreasing
            kept = np.subtract(h2[:, None], hc, out=saved)
            np.minimum(kept, (h2 - h1)[:, None], out=kept)
            np.maximum(kept, 0.0, out=kept)
            kept *= w[:, None]
            slot = self.slot[phi1]
            order = np.argsort(slot, kind="stable")
            g = slot[order]
            starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
            sums = np.add.reduceat(kept[order], starts, axis=0)
            self.extra[g[starts]] += sign * sums

    def _account_near(self, rows: np.ndarray, near: np.ndarray, sign: float) -> None:
        """:meth:`_account` over each point's ``near`` nearest sites (those before its second)."""
        assert self.rank is not None
        m = self.c.shape[1]
        w, phi1 = self.w[rows], self.phi1[rows]
        h1, h2 = self.h(self.d1[rows]), self.h(self.d2[rows])
        self.loss += sign * np.bincount(phi1, weights=w * (h2 - h1), minlength=m + 1)
        owner = np.repeat(np.arange(len(rows)), near)
        k = np.arange(len(owner)) - np.repeat(np.cumsum(near) - near, near)
        at = rows[owner]
        site, hc = self.rank[at, k], self.sorted_hc[at, k]
        saved = w[owner] * np.maximum(h1[owner] - hc, 0.0)
        self.gain += sign * np.bincount(site, weights=saved, minlength=m)
        kept = w[owner] * np.maximum(np.minimum(h2[owner] - hc, (h2 - h1)[owner]), 0.0)
        np.add.at(self.extra, (self.slot[phi1[owner]], site), sign * kept)

    def _change(self, rows: np.ndarray, out: list[int], into: list[int]) -> None:
        self._account(rows, -1.0)
        free = [int(self.slot[j]) for j in out]
        for j in out:
            self.is_open[j] = False
            self.slot[j] = -1
            self.loss[j] = 0.0  # a closed site serves no point: clear rounding residue
        self.extra[free] = 0.0
        if len(into) > len(free):
            used = self.slot[:-1][self.slot[:-1] >= 0]
            spare = np.setdiff1d(np.arange(self.slots - 1), np.r_[used, free])
            free += spare[: len(into) - len(free)].tolist()
        for j, slot in zip(into, free, strict=False):
            self.is_open[j] = True
            self.slot[j] = slot
            self.gain[j] = 0.0
        self._top_two(rows)
        self._value = None
        self._account(rows, 1.0)

    def swap(self, out: int, into: int) -> None:
        """Close ``out`` and open ``into``, updating only the points whose two best change."""
        self.swap_many([out], [into])

    def swap_many(self, out: list[int], into: list[int]) -> None:
        """Close the sites ``out`` and open ``into`` (distinct sites), in one update."""
        if len(out) == 1:
            hit = (self.phi1 == out[0]) | (self.phi2 == out[0])
        else:
            hit = np.isin(self.phi1, out) | np.isin(self.phi2, out)
        if len(into) == 1:
            hit |= self.c[:, into[0]] < self.d2
        else:
            hit |= self.c[:, into].min(axis=1) < self.d2
        self._change(np.flatnonzero(hit), list(out), list(into))

    def open(self, into: int) -> None:
        """Open ``into`` (the greedy's step)."""
        self._change(np.flatnonzero(self.c[:, into] < self.d2), [], [into])

    def opening(self, cand: np.ndarray) -> np.ndarray:
        """Objective after opening each of ``cand`` alone."""
        return self.value + self.sense * self.gain[cand]

    def table(self, added: np.ndarray) -> np.ndarray:
        """Objective after each swap (close ``added[r]``, open site a): (r, sites).

        Columns of open sites hold no swap (their values mean nothing).
        """
        # value + s (extra + gain - loss) = s (extra + gain + s value - loss), s = +-1
        out = self.extra[self.slot[added]]
        out += self.gain[None, :]
        out += (self.sense * self.value - self.loss[added])[:, None]
        out *= self.sense
        return out


class _State:
    """A neighbourhood and the order its added sites were added in."""

    def __init__(self, moves: Neighbourhood, order: list[int]) -> None:
        self.moves, self.order = moves, order

    def copy(self) -> _State:
        return _State(self.moves.copy(), list(self.order))

    def swap(self, out: int, into: int) -> None:
        self.moves.swap(out, into)
        self.order[self.order.index(out)] = into


def local_search(
    state: _State,
    free: np.ndarray,
    sign: float,
    rng: np.random.Generator,
    *,
    max_moves: int,
    deadline: float = math.inf,
) -> int:
    """Best-improvement swaps (Teitz & Bart) until none improves; the number made."""
    moves = 0
    while moves < max_moves and time.perf_counter() < deadline:
        is_open = state.moves.is_open
        added = np.flatnonzero(is_open & free)
        cand = np.flatnonzero(~is_open & free)
        if len(added) == 0 or len(cand) == 0:
            break
        scores = state.moves.table(added)
        perm = rng.permutation(len(cand))
        scores[:, is_open] = -sign * np.inf  # no swap opens an open site
        # the first added site with the best swap, and its candidate that comes
        # first in the seeded order among the equally good ones
        top = scores.max(axis=1) if sign > 0 else scores.min(axis=1)
        row = int(np.argmax(top) if sign > 0 else np.argmin(top))
        value = float(top[row])
        if not better(sign, value, state.moves.value):
            break
        ties = np.searchsorted(cand, np.flatnonzero(scores[row] == value))
        rank = np.empty(len(cand), dtype=np.int64)
        rank[perm] = np.arange(len(cand))
        state.swap(int(added[row]), int(cand[ties[np.argmin(rank[ties])]]))
        moves += 1
    return moves


def _shake(state: _State, free: np.ndarray, k: int, rng: np.random.Generator) -> None:
    """k random swaps of an added site for a closed candidate (k distinct of each)."""
    is_open = state.moves.is_open
    added = np.flatnonzero(is_open & free)
    cand = np.flatnonzero(~is_open & free)
    k = min(k, len(added), len(cand))
    if k == 0:
        return
    out = rng.choice(added, size=k, replace=False).tolist()
    into = rng.choice(cand, size=k, replace=False).tolist()
    state.moves.swap_many(out, into)
    for a, b in zip(out, into, strict=True):
        state.order[state.order.index(a)] = b


def variable_neighbourhood_search(
    moves: Neighbourhood,
    order: list[int],
    free: np.ndarray,
    sign: float,
    rng: np.random.Generator,
    *,
    max_moves: int,
    stall: int | None = None,
    deadline: float = math.inf,
) -> tuple[np.ndarray, list[int], int, int]:
    """Local search, then VNS (module docstring); ``stall`` None: the default rule.

    Returns
    -------
    (open, order, moves, shakes)
        The best open sites (bool), their order, the improving swaps that
        led there and the shakes made.
    """
    state = _State(moves, list(order))
    made = local_search(state, free, sign, rng, max_moves=max_moves, deadline=deadline)
    best = state
    if max_moves == 0 or not (free & ~best.moves.is_open).any():
        return best.moves.is_open.copy(), best.order, made, 0
    n_added = int(np.count_nonzero(best.moves.is_open & free))
    if n_added <= 1:  # the best swap of the one added site already tried every site
        return best.moves.is_open.copy(), best.order, made, 0
    k_max = max(1, min(n_added // 2, VNS_MAX_SHAKE))
    if stall is None:
        stall = min(VNS_STALL, max(VNS_MIN_STALL, 2 * n_added))
    k, idle, shakes = 1, 0, 0
    while idle < stall and time.perf_counter() < deadline:
        trial = best.copy()
        _shake(trial, free, k, rng)
        found = local_search(trial, free, sign, rng, max_moves=max_moves, deadline=deadline)
        shakes += 1
        if better(sign, trial.moves.value, best.moves.value):
            best, k, idle = trial, 1, 0
            made += found
        else:
            k, idle = k % k_max + 1, idle + 1
    return best.moves.is_open.copy(), best.order, made, shakes
