"""Greedy addition, then local search inside a variable neighbourhood search.

Greedy adds, one at a time, the site (unit) that improves the objective most.
The improvement phase depends on the model:

* p-median, MCLP, maximum survival (sums over demand points): best swaps of
  an *added* site for an unopened candidate (Teitz & Bart 1968) evaluated by
  the fast interchange (Whitaker 1983; Resende & Werneck 2007), inside a
  variable neighbourhood search (Hansen & Mladenović 1997): see
  :mod:`planner.optimise.vns`. Required sites are never swapped out.
* p-center, whose objective (a maximum) plateaus where plain swaps stall: a
  local search around its critical client inside a VNS
  (:mod:`planner.optimise.pcenter`).
* MEXCLP works on unit counts per point (``n_i``): the best move of an added
  unit to another site while it improves, inside a VNS whose shake moves k
  random added units (the same stall and largest shake as
  :mod:`planner.optimise.vns`).
* LSCP: greedy, then dropping redundant sites.

Every improvement phase stops at ``time_limit_s`` if one is given.

Ties are broken in a seeded random order of the candidates, so a run is
deterministic for a given seed.

National instances (:class:`~planner.optimise.sparse.SparseInstance`: times
stored only up to a cutoff) run the same greedy and swaps without any dense
demand × candidates array. For objectives that are a sum over points,
``sum_i w_i f(t_i)`` (MCLP, p-median, maximum survival), the value of every
swap (close added site r, open candidate a) is

``F(best) + L_r + D_a + E_ra``

with ``F(best) = sum_i w_i f(best_i)``, ``L_r = sum_{i: best at r} w_i
(f(second_i) - f(best_i))`` (closing r), ``D_a = sum_{i in S_a} w_i
(f(min(best_i, c_ia)) - f(best_i))`` (opening a) and the correction ``E_ra``
over the points of ``S_a`` (the points a reaches within the cutoff) that r
serves: the fast interchange of Whitaker (1983), as in Resende & Werneck
(2007). ``D`` and ``E`` need one pass over the stored pairs, which is split
into blocks of candidate columns (:data:`planner.constants.SPARSE_BLOCK_PAIRS`
pairs each). The blocks run on an executor of :mod:`planner.distributed`: in
process, or spread over a Dask cluster that holds the instance once for the
whole run. A block sums each column in the same order wherever it runs, so
the result is identical either way. p-center's greedy (a maximum, not a sum)
scores blocks of candidates densified to at most
:data:`~planner.constants.SPARSE_DENSE_BLOCK_CELLS` cells; its improvement
runs in process. MEXCLP and LSCP work on the sparse cover matrix in process.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from planner import constants
from planner.distributed import BlockExecutor, BlockSession, InProcessExecutor
from planner.errors import ParameterError
from planner.optimise.instance import Instance
from planner.optimise.models import (
    LSCP,
    MCLP,
    MEXCLP,
    InfeasibleError,
    MaxSurvival,
    Model,
    PCenter,
    PMedian,
    SiteModel,
    unreached_cost_s,
)
from planner.optimise.pcenter import pcenter_heuristic
from planner.optimise.solution import Solution, check_p, make_solution
from planner.optimise.sparse import AnyInstance, SparseInstance
from planner.optimise.vns import (
    VNS_MAX_SHAKE,
    VNS_MIN_STALL,
    VNS_STALL,
    FastSwaps,
    variable_neighbourhood_search,
)
from planner.optimise.vns import (
    better as _better,
)
from planner.optimise.vns import (
    pick as _pick,
)

__all__ = ["solve_heuristic"]


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


def site_heuristic(
    instance: Instance,
    model: SiteModel,
    p: int,
    rng: np.random.Generator,
    max_iterations: int,
    *,
    time_limit_s: float | None = None,
    stall: int | None = None,
) -> tuple[np.ndarray, list[int], str]:
    """Greedy, then swaps and VNS (p-center: :func:`pcenter_heuristic`); open, order, detail."""
    if isinstance(model, PCenter):
        return pcenter_heuristic(
            instance, p, rng, max_moves=max_iterations, time_limit_s=time_limit_s
        )
    deadline = math.inf if time_limit_s is None else time.perf_counter() + time_limit_s
    sign = 1.0 if model.sense == "max" else -1.0
    moves = fast_swaps(instance, model, instance.required, p)
    order: list[int] = []
    for _ in range(p):
        cand = np.flatnonzero(~moves.is_open)
        j = int(cand[_pick(moves.opening(cand), sign, rng.permutation(len(cand)))])
        moves.open(j)
        order.append(j)
    final, order, made, shakes = variable_neighbourhood_search(
        moves,
        order,
        ~instance.required,
        sign,
        rng,
        max_moves=max_iterations,
        stall=stall,
        deadline=deadline,
    )
    return final.astype(np.int64), order, _detail(made, shakes)


def fast_swaps(instance: Instance, model: _Separable, is_open: np.ndarray, p: int) -> FastSwaps:
    """The fast interchange's arrays (:class:`~planner.optimise.vns.FastSwaps`) for ``is_open``.

    ``p`` is the number of sites that will be added (the arrays get a row
    for each site open at once).
    """
    w = _separable_weight(instance, model)
    rows = np.flatnonzero(w > 0)
    sign = 1.0 if model.sense == "max" else -1.0

    def h(t: np.ndarray) -> np.ndarray:
        return -sign * _point_values(instance, model, t)

    capacity = int(instance.required.sum()) + p
    cost = instance.cost_s if len(rows) == instance.n_demand else instance.cost_s[rows]
    return FastSwaps(cost, w[rows], h, sign, is_open, capacity)


def _detail(moves: int, shakes: int) -> str:
    return f"greedy + {moves} swaps" + (f", VNS with {shakes} shakes" if shakes else "")


#: Demand rows per block in :func:`_swap_scores` (bounds its temporaries).
_BLOCK_ROWS = 2048


#: The site models whose objective is a sum over demand points, ``sum_i w_i f(t_i)``.
_Separable = MCLP | PMedian | MaxSurvival


def _separable_weight(instance: AnyInstance, model: _Separable) -> np.ndarray:
    """``w`` of an objective ``sum_i w_i f(t_i)`` (see :func:`_point_values`)."""
    if isinstance(model, PMedian):
        return np.where(instance.reachable(), instance.weight, 0.0)
    return np.asarray(instance.weight)


def _point_values(instance: AnyInstance, model: SiteModel, t: np.ndarray) -> np.ndarray:
    """``f(t)`` of a separable objective, for response times ``t``, s."""
    if isinstance(model, PMedian):
        return np.minimum(t, unreached_cost_s(instance))
    if isinstance(model, MCLP):
        return (t <= model.threshold_s).astype(np.float64)
    if isinstance(model, MaxSurvival):
        return model.survival(t / 60.0)
    raise TypeError(f"{model.name} is not a sum over demand points")


def _point_value(
    instance: Instance, model: SiteModel
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]] | None:
    """``(w, f)`` when the objective is ``sum_i w_i f(t_i)`` (p-median, MCLP), else None."""
    if not isinstance(model, _Separable):
        return None
    return _separable_weight(instance, model), lambda t: _point_values(instance, model, t)


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


def _column(a: np.ndarray | sp.csc_array, j: int) -> np.ndarray:
    """Column j of a dense or sparse (CSC) matrix, dense."""
    if isinstance(a, np.ndarray):
        return np.asarray(a[:, j], dtype=np.float64)
    out = np.zeros(a.shape[0])
    lo, hi = a.indptr[j], a.indptr[j + 1]
    out[a.indices[lo:hi]] = a.data[lo:hi]
    return out


def _weighted_cover(a: np.ndarray | sp.csc_array, v: np.ndarray) -> np.ndarray:
    """``v @ a`` (one value per column) for a dense or sparse matrix."""
    if isinstance(a, np.ndarray):
        return np.asarray(v @ a, dtype=np.float64)
    return np.asarray(a.T @ v, dtype=np.float64)


@dataclass
class _Units:
    """MEXCLP's units per site, the units covering each point, and the added units' sites."""

    units: np.ndarray
    n: np.ndarray
    order: list[int]
    value: float

    def copy(self) -> _Units:
        return _Units(self.units.copy(), self.n.copy(), list(self.order), self.value)


def _mexclp_move(
    state: _Units, a: Any, out: int, into: int, value: Callable[[np.ndarray], float]
) -> None:
    """Move one added unit from ``out`` to ``into``."""
    state.units[out] -= 1
    state.units[into] += 1
    state.n += _column(a, into) - _column(a, out)
    state.order[len(state.order) - 1 - state.order[::-1].index(out)] = into
    state.value = value(state.n)


def _mexclp_local_search(
    state: _Units,
    instance: AnyInstance,
    model: MEXCLP,
    rng: np.random.Generator,
    max_moves: int,
    deadline: float,
) -> int:
    """The best unit move (an added unit to another site) while it improves; moves made."""
    a = model.cover_matrix(instance)
    w, q = instance.weight, model.busy_fraction
    m = instance.n_sites
    moves = 0
    while moves < max_moves and time.perf_counter() < deadline:
        movable = np.flatnonzero(state.units > instance.existing_units)
        best_val, best_move = state.value, None
        perm = rng.permutation(m)
        for r_ in movable:
            r = int(r_)
            n_r = state.n - _column(a, r)
            base = float(w @ (1 - q**n_r))
            gain = _weighted_cover(a, w * q**n_r * (1 - q))
            gain[r] = -np.inf  # moving a unit back where it was is no move
            k = _pick(gain, 1.0, perm)
            if _better(1.0, base + float(gain[k]), best_val):
                best_val, best_move = base + float(gain[k]), (r, k)
        if best_move is None:
            break
        _mexclp_move(state, a, *best_move, lambda n: float(w @ (1 - q**n)))
        moves += 1
    return moves


def _mexclp_heuristic(
    instance: AnyInstance,
    model: MEXCLP,
    p: int,
    rng: np.random.Generator,
    max_iterations: int,
    deadline: float,
) -> tuple[np.ndarray, list[int], str]:
    """Greedy units, then unit moves inside a VNS (:mod:`planner.optimise.vns`'s rules).

    A shake moves k random added units to random sites; the stall and the
    largest k follow :func:`~planner.optimise.vns.variable_neighbourhood_search`.
    """
    a = model.cover_matrix(instance)
    w, q = instance.weight, model.busy_fraction

    def value(n: np.ndarray) -> float:
        return float(w @ (1 - q**n))

    units = instance.existing_units.astype(np.int64).copy()
    n = a @ units.astype(np.float64)
    order: list[int] = []
    m = instance.n_sites
    for _ in range(p):
        gain = _weighted_cover(a, w * q**n * (1 - q))
        j = _pick(gain, 1.0, rng.permutation(m))
        units[j] += 1
        n += _column(a, j)
        order.append(j)
    best = _Units(units, n, order, value(n))
    moves = _mexclp_local_search(best, instance, model, rng, max_iterations, deadline)
    stall = min(VNS_STALL, max(VNS_MIN_STALL, 2 * p))
    k_max = max(1, min(p // 2, VNS_MAX_SHAKE))
    k, idle, shakes = 1, 0, 0
    if max_iterations == 0 or p == 0 or m < 2:
        idle = stall
    while idle < stall and time.perf_counter() < deadline:
        trial = best.copy()
        for _ in range(k):
            out = int(rng.choice(np.flatnonzero(trial.units > instance.existing_units)))
            into = int(rng.integers(m - 1))
            _mexclp_move(trial, a, out, into + (into >= out), value)
        found = _mexclp_local_search(trial, instance, model, rng, max_iterations, deadline)
        shakes += 1
        if _better(1.0, trial.value, best.value):
            best, k, idle = trial, 1, 0
            moves += found
        else:
            k, idle = k % k_max + 1, idle + 1
    detail = f"greedy + {moves} unit moves" + (f", VNS with {shakes} shakes" if shakes else "")
    return best.units, best.order, detail


def _lscp_heuristic(
    instance: AnyInstance, model: LSCP, p: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[int], int]:
    need = model.must_cover(instance)
    within = instance.within(model.threshold_s)
    is_open = instance.required.copy()
    uncovered = need & ~(within @ is_open.astype(np.float64) > 0)
    order: list[int] = []
    m = instance.n_sites
    while uncovered.any():
        gain = _weighted_cover(within, uncovered.astype(np.float64))
        gain[is_open] = -1.0
        j = _pick(gain, 1.0, rng.permutation(m))
        if len(order) == p:
            raise InfeasibleError(
                f"lscp: the greedy heuristic needs more than p = {p} added sites to cover "
                f"every point within {model.threshold_s:g} s; raise p or use solve_exact"
            )
        is_open[j] = True
        order.append(j)
        uncovered &= ~(_column(within, j) > 0)
    dropped = 0
    for j in reversed(list(order)):  # drop added sites made redundant by later ones
        trial = is_open.copy()
        trial[j] = False
        if not (need & ~(within @ trial.astype(np.float64) > 0)).any():
            is_open = trial
            order.remove(j)
            dropped += 1
    return is_open.astype(np.int64), order, dropped


# ---------------------------------------------------------------------------
# Sparse (national) instances: rounds of candidate blocks on an executor
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _SparseShared:
    """What every block needs, sent to each worker once per run."""

    instance: SparseInstance
    model: _Separable
    weight: np.ndarray  # w of the objective sum_i w_i f(t_i)


@dataclass(frozen=True)
class _SwapRound:
    """One block of candidate columns ``lo:hi`` in one round of a separable model."""

    lo: int
    hi: int
    best: np.ndarray
    second: np.ndarray | None = None
    owner: np.ndarray | None = None
    n_added: int = 0


def _block_pairs(instance: SparseInstance, lo: int, hi: int) -> tuple[np.ndarray, ...]:
    c = instance.cost_s
    a, b = int(c.indptr[lo]), int(c.indptr[hi])
    cols = np.repeat(np.arange(hi - lo), np.diff(c.indptr[lo : hi + 1]))
    return c.indices[a:b], c.data[a:b], cols


def _swap_block(shared: _SparseShared, task: _SwapRound) -> tuple[np.ndarray, np.ndarray]:
    """``D`` and ``E`` (module docstring) of one block of candidates (pure)."""
    inst, model, width = shared.instance, shared.model, task.hi - task.lo
    rows, t, cols = _block_pairs(shared.instance, task.lo, task.hi)
    w = shared.weight[rows]
    best = task.best[rows]
    f_best = _point_values(inst, model, best)
    f_open = _point_values(inst, model, np.minimum(best, t))
    opened = np.bincount(cols, weights=w * (f_open - f_best), minlength=width)
    if not task.n_added:
        return opened, np.zeros((0, width))
    assert task.owner is not None and task.second is not None
    owner = task.owner[rows]
    mine = np.flatnonzero(owner >= 0)
    second = task.second[rows[mine]]
    delta = (_point_values(inst, model, np.minimum(second, t[mine])) - f_open[mine]) - (
        _point_values(inst, model, second) - f_best[mine]
    )
    extra = np.bincount(
        owner[mine] * width + cols[mine],
        weights=w[mine] * delta,
        minlength=task.n_added * width,
    )
    return opened, extra.reshape(task.n_added, width)


def _column_blocks(instance: SparseInstance, concurrency: int) -> list[tuple[int, int]]:
    """Column ranges: at most a block's pairs, at least 2 per worker when there is work."""
    m = instance.n_sites
    per_col = np.diff(instance.cost_s.indptr).astype(np.float64)
    limit = float(constants.SPARSE_BLOCK_PAIRS)
    total = float(per_col.sum())
    wanted = max(math.ceil(total / limit), constants.SPARSE_BLOCKS_PER_WORKER * concurrency)
    n_blocks = max(1, min(m, wanted))
    # cut where the running pair count crosses each share; a column is never split
    edges = np.searchsorted(np.cumsum(per_col), total * np.arange(1, n_blocks) / n_blocks)
    bounds = np.unique(np.r_[0, np.minimum(edges + 1, m), m])
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]


def _sparse_best_two(
    instance: SparseInstance, added: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best time, its added site (-1: a required site), second-best time, per point.

    The required sites act as one site that is never closed: their time is
    ``base_s``.
    """
    best = instance.base_s.copy()
    arg = np.full(instance.n_demand, -1, dtype=np.int64)
    second = np.full(instance.n_demand, np.inf)
    for j in added:
        rows, c = instance.entries(int(j))
        b = best[rows]
        better = c < b
        second[rows] = np.where(better, b, np.minimum(second[rows], c))
        best[rows[better]] = c[better]
        arg[rows[better]] = j
    return best, arg, second


class _SparseRounds:
    """Scores of every candidate for the greedy and the swaps, from blocks on a session."""

    def __init__(
        self, session: BlockSession, shared: _SparseShared, blocks: list[tuple[int, int]]
    ) -> None:
        self.session, self.shared, self.blocks = session, shared, blocks

    def _gather(self, fn: Callable[[_SparseShared, Any], Any], tasks: Sequence[Any]) -> list[Any]:
        parts = dict(self.session.map_blocks(fn, list(enumerate(tasks))))
        return [parts[k] for k in range(len(tasks))]

    def open_scores(self, times: np.ndarray) -> np.ndarray:
        """Objective of opening each site (all columns) on top of ``times``."""
        parts = self._gather(_swap_block, [_SwapRound(lo, hi, times) for lo, hi in self.blocks])
        shared = self.shared
        base = float(shared.weight @ _point_values(shared.instance, shared.model, times))
        return base + np.concatenate([d for d, _ in parts])

    def swap_scores(self, added: np.ndarray) -> np.ndarray:
        """Objective of closing each added site and opening each site: (n_added, n_sites)."""
        inst, model, w = self.shared.instance, self.shared.model, self.shared.weight
        best, arg, second = _sparse_best_two(inst, added)
        slot = np.full(inst.n_sites + 1, -1)
        slot[added] = np.arange(len(added))
        owner = slot[arg]  # arg -1 (a required site) reads slot[-1] = -1
        tasks = [_SwapRound(lo, hi, best, second, owner, len(added)) for lo, hi in self.blocks]
        parts = self._gather(_swap_block, tasks)
        opened = np.concatenate([d for d, _ in parts])
        extra = np.concatenate([e for _, e in parts], axis=1)
        f_best = _point_values(inst, model, best)
        mine = np.flatnonzero(owner >= 0)
        closed = np.bincount(
            owner[mine],
            weights=w[mine] * (_point_values(inst, model, second[mine]) - f_best[mine]),
            minlength=len(added),
        )
        return float(w @ f_best) + closed[:, None] + opened[None, :] + extra


class _SparseMoves:
    """:class:`~planner.optimise.vns.Neighbourhood` of a sparse instance: full rounds of blocks."""

    def __init__(self, rounds: _SparseRounds, is_open: np.ndarray) -> None:
        self.rounds, self.is_open = rounds, is_open.copy()
        self._value = self._evaluate()

    def _evaluate(self) -> float:
        shared = self.rounds.shared
        return float(shared.model.score(shared.instance, shared.instance.open_times(self.is_open)))

    @property
    def value(self) -> float:
        """The objective of the open sites."""
        return self._value

    def table(self, added: np.ndarray) -> np.ndarray:
        """Objective after each swap (close ``added[r]``, open site a): (r, sites)."""
        return self.rounds.swap_scores(added)

    def swap(self, out: int, into: int) -> None:
        """Close ``out``, open ``into``."""
        self.swap_many([out], [into])

    def swap_many(self, out: list[int], into: list[int]) -> None:
        """Close the sites ``out``, open ``into``."""
        self.is_open[out], self.is_open[into] = False, True
        self._value = self._evaluate()

    def copy(self) -> _SparseMoves:
        """An independent copy (sharing the rounds)."""
        other = object.__new__(_SparseMoves)
        other.rounds, other.is_open, other._value = self.rounds, self.is_open.copy(), self._value
        return other


def _sparse_site_heuristic(
    instance: SparseInstance,
    model: _Separable,
    p: int,
    rng: np.random.Generator,
    max_iterations: int,
    executor: BlockExecutor,
    deadline: float,
) -> tuple[np.ndarray, list[int], str]:
    """:func:`site_heuristic` on a sparse instance, its rounds in candidate blocks."""
    sign = 1.0 if model.sense == "max" else -1.0
    weight = _separable_weight(instance, model)
    blocks = _column_blocks(instance, executor.concurrency)
    shared = _SparseShared(instance=instance, model=model, weight=weight)
    is_open = instance.required.copy()
    times = instance.open_times(is_open)
    order: list[int] = []
    with executor.session(shared) as session:
        rounds = _SparseRounds(session, shared, blocks)
        for _ in range(p):
            cand = np.flatnonzero(~is_open)
            scores = rounds.open_scores(times)[cand]
            j = int(cand[_pick(scores, sign, rng.permutation(len(cand)))])
            is_open[j] = True
            order.append(j)
            rows, c = instance.entries(j)
            times[rows] = np.minimum(times[rows], c)
        final, order, made, shakes = variable_neighbourhood_search(
            _SparseMoves(rounds, is_open),
            order,
            ~instance.required,
            sign,
            rng,
            max_moves=max_iterations,
            deadline=deadline,
        )
    return final.astype(np.int64), order, _detail(made, shakes)


def solve_heuristic(
    instance: AnyInstance,
    model: Model,
    *,
    p: int,
    seed: int = 0,
    max_iterations: int = 100,
    executor: BlockExecutor | None = None,
    time_limit_s: float | None = None,
) -> Solution:
    """Greedy addition, then local search in a variable neighbourhood search (module docstring).

    Parameters
    ----------
    instance
        Costs (s), weights and required sites: a dense
        :class:`~planner.optimise.instance.Instance`, or a national
        :class:`~planner.optimise.sparse.SparseInstance` (times up to a cutoff).
    model
        Any model of :mod:`planner.optimise.models`.
    p
        Sites to add (units for MEXCLP; a cap on added sites for LSCP).
    seed
        Seeds the tie-breaking order; the result is deterministic for a seed.
    max_iterations
        At most this many improving swaps (p-center: moves of each local
        search).
    executor
        Sparse instances: where the rounds of candidate blocks run
        (:func:`planner.distributed.make_executor`; default in process). The
        result is identical wherever they run. The caller closes it.
    time_limit_s
        Wall-clock limit, s, of the improvement after the greedy (every
        model but LSCP, whose greedy has none). None (default): the VNS
        stops when its stall count of shakes in a row bring nothing
        (:data:`planner.optimise.vns.VNS_STALL`;
        :data:`planner.constants.PCENTER_VNS_STALL` for p-center), and the
        result depends only on the seed; with a limit that binds, also on
        the machine's speed.

    Returns
    -------
    Solution
        ``chosen`` in greedy order (a swapped-in site takes the place of the
        one it replaced); ``gap`` is ``None`` and ``status`` starts with
        ``"feasible, no bound"``: a heuristic proves no bound.

    Raises
    ------
    ParameterError
        Bad p, max_iterations or time_limit_s.
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
    if time_limit_s is not None and not time_limit_s > 0:
        raise ParameterError(f"time_limit_s = {time_limit_s!r}: give a positive time, s, or None")
    if isinstance(instance, SparseInstance):
        instance.check_threshold(getattr(model, "threshold_s", None))
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    deadline = math.inf if time_limit_s is None else start + time_limit_s
    if isinstance(model, MEXCLP):
        final, order, detail = _mexclp_heuristic(instance, model, p, rng, max_iterations, deadline)
    elif isinstance(model, LSCP):
        final, order, swaps = _lscp_heuristic(instance, model, p, rng)
        detail = f"greedy, {swaps} redundant sites dropped"
    elif isinstance(model, PCenter):
        final, order, detail = pcenter_heuristic(
            instance, p, rng, max_moves=max_iterations, time_limit_s=time_limit_s
        )
    elif isinstance(instance, SparseInstance):
        final, order, detail = _sparse_site_heuristic(
            instance, model, p, rng, max_iterations, executor or InProcessExecutor(), deadline
        )
    else:
        final, order, detail = site_heuristic(
            instance, model, p, rng, max_iterations, time_limit_s=time_limit_s
        )
    elapsed = time.perf_counter() - start
    return make_solution(
        instance,
        model,
        final,
        order=order,
        gap=None,
        solve_time_s=elapsed,
        detail=f"heuristic: {detail}",
    )
