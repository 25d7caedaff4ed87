"""A compiled customizable contraction hierarchy: contraction, customisation, RPHAST queries.

The query side of the ``"cch"`` engine of :mod:`planner.network.engine`
where numba is installed (the ``fast`` extra). The contraction *order*
still comes from RoutingKit's nested dissection
(:func:`planner.network.engine.compute_order`); everything after it is here,
in numba code that holds no Python lock:

* :func:`contract_order` -- the chordal supergraph of the network in that
  order (every node's *upper* neighbours, the elimination tree), the
  "contraction" of Dibbelt, Strasser & Wagner, *Customizable Contraction
  Hierarchies*, ACM JEA 21 (2016), section 3, computed like the symbolic
  factorisation of sparse Cholesky (each node inherits its children's upper
  neighbours).
* :func:`customize_metric` -- their *basic customisation*: each arc's time
  in both directions, improved through every lower triangle, bottom-up.
* :func:`prepare_targets` and :func:`query_rows` -- many-to-many queries
  by the RPHAST idea (Delling, Goldberg & Werneck, *Faster Batched
  Shortest Paths in Road Networks*, ATMOS 2011) on the elimination tree:
  the targets select their ancestors once; then each *batch* of sources
  (:data:`BATCH` at a time, one lane each) makes one upward pass over the
  union of its elimination-tree paths and one downward sweep over the
  selection, in rank order, with no priority queue. A sweep moves
  :data:`BATCH` times per cache line instead of one, which is what makes it
  faster than RoutingKit's per-source queries.

Times are whole milliseconds held in float64 (sums of integers below 2**53
are exact), so the results equal scipy's Dijkstra on the same
millisecond-rounded weights exactly, as RoutingKit's do, with ``inf`` for
unreachable: no 32-bit limit on a path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from planner.network.dijkstra import kernel_available, numba_module

__all__ = [
    "BATCH",
    "CompiledMetric",
    "Contraction",
    "TargetSweep",
    "batch_units",
    "contract_order",
    "customize_metric",
    "prepare_targets",
    "query_rows",
    "warm_up",
]

#: Sources per downward sweep: one lane each; 8 float64 lanes fill a 64-byte
#: cache line (measured on the SYNTHETIC 200k grid: 8 lanes beat 4 and 16).
BATCH = 8
#: Lanes of the sweep that takes the last few sources of a call, when at most
#: this many are left ...
TAIL_BATCH = 4
#: ... and its cost relative to a full batch (measured on the SYNTHETIC 200k
#: grid: 4 lanes take 4.1 ms per source, 8 lanes 3.1 ms).
TAIL_COST = 0.66


@dataclass(frozen=True, eq=False)
class Contraction:
    """The chordal supergraph of a network in a contraction order (weights apart).

    Nodes are numbered by *rank* (position in the order) here.

    Attributes
    ----------
    rank
        ``(n,)`` rank of each node row (int32; the order is its inverse).
    up_first, up_head
        CSR of the upper neighbours: those of rank ``x`` are
        ``up_head[up_first[x]:up_first[x + 1]]``, ascending ranks. Each entry
        is one *arc* of the hierarchy, an undirected pair ``{x, y}``, ``x < y``.
    parent
        ``(n,)`` elimination-tree parent of each rank (its lowest upper
        neighbour), ``-1`` for a root.
    arc_of_input
        ``(m,)`` hierarchy arc of each arc of the network (``-1`` for a loop).
    upward
        ``(m,)`` whether that network arc runs from the lower to the higher rank.
    """

    rank: np.ndarray
    up_first: np.ndarray
    up_head: np.ndarray
    parent: np.ndarray
    arc_of_input: np.ndarray
    upward: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.rank)

    @property
    def n_arcs(self) -> int:
        """Number of hierarchy arcs (shortcuts included)."""
        return len(self.up_head)


@dataclass(frozen=True, eq=False)
class CompiledMetric:
    """A contraction customised with arc times (made by :func:`customize_metric`).

    Attributes
    ----------
    contraction
        The topology.
    up_ms, down_ms
        ``(n_arcs,)`` time of each hierarchy arc ``{x, y}`` (``x < y``) from
        ``x`` up to ``y`` and from ``y`` down to ``x``, whole ms as float64
        (``inf`` where there is no such path through lower nodes).
    """

    contraction: Contraction
    up_ms: np.ndarray
    down_ms: np.ndarray


@dataclass(frozen=True, eq=False)
class TargetSweep:
    """The part of a hierarchy one set of targets needs (made by :func:`prepare_targets`).

    Attributes
    ----------
    selected
        ``(s,)`` ranks of the targets and all their elimination-tree
        ancestors, ascending: the nodes a downward sweep visits (every
        upper neighbour of one of them is one of them).
    target_ranks
        ``(n_targets,)`` rank of each target, in the order of the columns.
    """

    selected: np.ndarray
    target_ranks: np.ndarray


# ---------------------------------------------------------------------------
# Kernels (compiled once per process, on first use)
# ---------------------------------------------------------------------------


def _contract_kernel(njit: Any) -> Any:
    @njit(nogil=True)
    def push(buf: Any, size: int, y: int) -> Any:
        if size == len(buf):  # grow the output
            grown = np.empty(2 * len(buf), dtype=np.int32)
            grown[:size] = buf[:size]
            buf = grown
        buf[size] = y
        return buf

    @njit(nogil=True)
    def contract(n: int, adj_first: Any, adj: Any) -> Any:
        buf = np.empty(max(16, 4 * len(adj)), dtype=np.int32)
        up_first = np.zeros(n + 1, dtype=np.int64)
        parent = np.full(n, -1, dtype=np.int32)
        child = np.full(n, -1, dtype=np.int32)
        sibling = np.full(n, -1, dtype=np.int32)
        mark = np.full(n, -1, dtype=np.int32)
        size = 0
        for x in range(n):
            start = size
            mark[x] = x
            for e in range(adj_first[x], adj_first[x + 1]):  # its own upper neighbours
                y = adj[e]
                if mark[y] != x:
                    mark[y] = x
                    buf = push(buf, size, y)
                    size += 1
            c = child[x]
            while c != -1:  # and those of its children (fill-in)
                for e in range(up_first[c], up_first[c + 1]):
                    y = buf[e]
                    if mark[y] != x:
                        mark[y] = x
                        buf = push(buf, size, y)
                        size += 1
                c = sibling[c]
            up_first[x + 1] = size
            if size > start:  # the lowest upper neighbour is the parent
                p = buf[start]
                for e in range(start + 1, size):
                    p = min(p, buf[e])
                parent[x] = p
                sibling[x] = child[p]
                child[p] = x
        return up_first, buf[:size].copy(), parent

    return contract


def _customize_kernel(njit: Any) -> Any:
    @njit(nogil=True)
    def customize(up_first: Any, up_head: Any, arc_of_input: Any, upward: Any, w_ms: Any) -> Any:
        m = len(up_head)
        up = np.full(m, np.inf)
        down = np.full(m, np.inf)
        for i in range(len(arc_of_input)):
            a = arc_of_input[i]
            if a < 0:
                continue
            if upward[i]:
                up[a] = min(up[a], w_ms[i])
            else:
                down[a] = min(down[a], w_ms[i])
        n = len(up_first) - 1
        for x in range(n):
            end = up_first[x + 1]
            for i in range(up_first[x], end):
                y = up_head[i]
                k = up_first[y]
                for j in range(i + 1, end):
                    z = up_head[j]
                    while up_head[k] != z:  # {x, y, z} is a triangle: z is above y
                        k += 1
                    via = down[i] + up[j]  # y -> x -> z
                    if via < up[k]:
                        up[k] = via
                    via = down[j] + up[i]  # z -> x -> y
                    if via < down[k]:
                        down[k] = via
        return up, down

    return customize


def _select_kernel(njit: Any) -> Any:
    @njit(nogil=True)
    def select(parent: Any, targets: Any) -> Any:
        chosen = np.zeros(len(parent), dtype=np.bool_)
        for t in targets:
            x = t
            while x != -1 and not chosen[x]:
                chosen[x] = True
                x = parent[x]
        return np.flatnonzero(chosen).astype(np.int32)

    return select


def _climb_kernel(njit: Any) -> Any:
    @njit(nogil=True)
    def climb(parent: Any, seeds: Any, seed_ms: Any, b0: int, nb: int, scratch: Any) -> int:
        """The union of a batch's elimination-tree paths, in rank order, into ``on_path``."""
        stamp, path, on_path, seg_at, seg_end = scratch
        size = 0
        n_seg = 0
        for b in range(nb):
            for j in range(seeds.shape[1]):
                x = seeds[b0 + b, j]
                if x < 0 or not seed_ms[b0 + b, j] < np.inf:
                    continue
                seg_at[n_seg] = size  # each new stretch of a path climbs: ascending
                while x != -1 and stamp[x] != b0:
                    stamp[x] = b0
                    path[size] = x
                    size += 1
                    x = parent[x]
                seg_end[n_seg] = size
                n_seg += 1
        for i in range(size):  # merge the ascending stretches
            best = -1
            for g in range(n_seg):
                if seg_at[g] < seg_end[g] and (best == -1 or path[seg_at[g]] < path[seg_at[best]]):
                    best = g
            on_path[i] = path[seg_at[best]]
            seg_at[best] += 1
        return size

    return climb


def _query_kernel(njit: Any, lanes: int) -> Any:
    climb = _climb_kernel(njit)

    @njit(nogil=True)
    def upward(up_first: Any, up_head: Any, up_ms: Any, on_path: Any, size: int, dist: Any) -> None:
        """Each path node relaxes its arcs to the nodes above it (on the path too)."""
        for i in range(size):
            x = on_path[i]
            for a in range(up_first[x], up_first[x + 1]):
                t = up_head[a]
                w = up_ms[a]
                for c in range(lanes):
                    dist[t, c] = min(dist[t, c], dist[x, c] + w)

    @njit(nogil=True)
    def downward(
        up_first: Any, up_head: Any, down_ms: Any, sel: Any, stamp: Any, b0: int, dist: Any
    ) -> None:
        """Each selected node, from the top, takes the best of its upward time (on the
        path) and of every node above it (selected too)."""
        for i in range(len(sel) - 1, -1, -1):
            x = sel[i]
            if stamp[x] != b0:
                for c in range(lanes):
                    dist[x, c] = np.inf
            for a in range(up_first[x], up_first[x + 1]):
                t = up_head[a]
                w = down_ms[a]
                for c in range(lanes):
                    dist[x, c] = min(dist[x, c], dist[t, c] + w)

    @njit(nogil=True)
    def query(
        parent: Any,
        up_first: Any,
        up_head: Any,
        up_ms: Any,
        down_ms: Any,
        sel: Any,
        targets: Any,
        seeds: Any,
        seed_ms: Any,
        limit_s: float,
        out: Any,
        dist: Any,
        stamp: Any,
        path: Any,
        on_path: Any,
    ) -> None:
        # dist: (n, lanes) by rank, a row is read only after it is written;
        # stamp: -1 everywhere on entry, and again on return
        n_seg = lanes * seeds.shape[1]
        scratch = (
            stamp,
            path,
            on_path,
            np.empty(n_seg, dtype=np.int64),
            np.empty(n_seg, dtype=np.int64),
        )
        for b0 in range(0, seeds.shape[0], lanes):
            nb = min(lanes, seeds.shape[0] - b0)
            size = climb(parent, seeds, seed_ms, b0, nb, scratch)
            for i in range(size):
                for c in range(lanes):
                    dist[on_path[i], c] = np.inf
            for b in range(nb):
                for j in range(seeds.shape[1]):
                    x = seeds[b0 + b, j]
                    if x >= 0 and seed_ms[b0 + b, j] < dist[x, b]:
                        dist[x, b] = seed_ms[b0 + b, j]
            upward(up_first, up_head, up_ms, on_path, size, dist)
            downward(up_first, up_head, down_ms, sel, stamp, b0, dist)
            for b in range(nb):
                o = out[b0 + b]
                for k in range(len(targets)):
                    v = dist[targets[k], b] / 1000.0
                    o[k] = v if v <= limit_s else np.inf
            for i in range(size):
                stamp[on_path[i]] = -1

    return query


@cache
def _kernels() -> dict[str, Any]:
    njit = numba_module().njit
    return {
        "contract": _contract_kernel(njit),
        "customize": _customize_kernel(njit),
        "select": _select_kernel(njit),
        "query": _query_kernel(njit, BATCH),
        "query_tail": _query_kernel(njit, TAIL_BATCH),
    }


# ---------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------


def contract_order(
    order: np.ndarray, tail: np.ndarray, head: np.ndarray, n_nodes: int
) -> Contraction:
    """The chordal supergraph of a network in a contraction order.

    Parameters
    ----------
    order
        ``(n,)`` node rows, first contracted first.
    tail, head
        ``(m,)`` the network's arcs (node rows); their direction does not matter here.
    n_nodes
        Number of nodes ``n``.

    Returns
    -------
    Contraction
        Its upper neighbours, elimination tree and the hierarchy arc of each
        network arc.
    """
    n = n_nodes
    rank = np.empty(n, dtype=np.int32)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(n, dtype=np.int32)
    rt = rank[np.asarray(tail, dtype=np.int64)]
    rh = rank[np.asarray(head, dtype=np.int64)]
    lo, hi = np.minimum(rt, rh), np.maximum(rt, rh)
    edge = np.unique((lo.astype(np.int64) << 32 | hi)[lo != hi])
    e_lo, e_hi = (edge >> 32).astype(np.int32), (edge & 0xFFFFFFFF).astype(np.int32)
    adj_first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(e_lo, minlength=n), out=adj_first[1:])
    up_first, up_head, parent = _kernels()["contract"](n, adj_first, e_hi)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(up_first))
    up_head = up_head[np.lexsort((up_head, owner))]  # each node's upper neighbours ascending
    # each network arc's hierarchy arc: the pair's place among the lower end's upper neighbours
    key = owner << 32 | up_head
    arc = np.searchsorted(key, lo.astype(np.int64) << 32 | hi)
    arc_of_input = np.where(lo != hi, arc, -1).astype(np.int64)
    return Contraction(
        rank=rank,
        up_first=up_first,
        up_head=up_head,
        parent=parent,
        arc_of_input=arc_of_input,
        upward=rt < rh,
    )


def customize_metric(contraction: Contraction, weights_ms: np.ndarray) -> CompiledMetric:
    """Give a contraction arc times: the basic customisation.

    Parameters
    ----------
    contraction
        From :func:`contract_order`.
    weights_ms
        ``(m,)`` time of each network arc, whole ms, in the order of the
        arcs the contraction was made from.
    """
    c = contraction
    up, down = _kernels()["customize"](
        c.up_first, c.up_head, c.arc_of_input, c.upward, np.asarray(weights_ms, dtype=np.float64)
    )
    return CompiledMetric(contraction=c, up_ms=up, down_ms=down)


def prepare_targets(metric: CompiledMetric, targets: np.ndarray | None) -> TargetSweep:
    """The part of the hierarchy that reaches ``targets`` (node rows; ``None``: every node)."""
    c = metric.contraction
    # None: every node, in row order
    rows = c.rank if targets is None else c.rank[np.asarray(targets, dtype=np.int64)]
    ranks = np.ascontiguousarray(rows, dtype=np.int32)
    return TargetSweep(_kernels()["select"](c.parent, ranks), ranks)


def query_rows(
    metric: CompiledMetric,
    sweep: TargetSweep,
    seed_nodes: np.ndarray,
    seed_ms: np.ndarray,
    *,
    limit_s: float = np.inf,
) -> np.ndarray:
    """Times from sources to the sweep's targets, s (whole ms / 1000).

    Parameters
    ----------
    metric
        The customised hierarchy.
    sweep
        The targets, from :func:`prepare_targets` of the same metric.
    seed_nodes
        ``(m, k)`` node rows each source starts from (``-1`` for none).
    seed_ms
        ``(m, k)`` head start at each of them, whole ms (``inf`` for none).
    limit_s
        Cutoff, s: longer times are ``inf``.

    Returns
    -------
    numpy.ndarray
        ``(m, n_targets)`` float64 seconds, ``inf`` where unreachable or beyond the cutoff.
    """
    c = metric.contraction
    nodes = np.asarray(seed_nodes, dtype=np.int64)
    seeds = np.where(nodes >= 0, c.rank[np.maximum(nodes, 0)], -1).astype(np.int32)
    head_ms = np.ascontiguousarray(seed_ms, dtype=np.float64)
    out = np.empty((len(seeds), len(sweep.target_ranks)))
    m = len(seeds)
    if m == 0 or len(sweep.target_ranks) == 0:
        return out
    # whole batches; a tail of at most TAIL_BATCH sources on the narrower sweep
    full = m if m % BATCH > TAIL_BATCH else m - m % BATCH
    for lo, hi, kernel, lanes in ((0, full, "query", BATCH), (full, m, "query_tail", TAIL_BATCH)):
        if hi > lo:
            _kernels()[kernel](
                c.parent, c.up_first, c.up_head, metric.up_ms, metric.down_ms,
                sweep.selected, sweep.target_ranks,
                seeds[lo:hi], head_ms[lo:hi], float(limit_s), out[lo:hi],
                *_work_arrays(c.n_nodes, lanes),
            )  # fmt: skip
    return out


_THREAD = threading.local()


def _work_arrays(n: int, lanes: int) -> tuple[np.ndarray, ...]:
    """This thread's working arrays for queries on ``n`` nodes with ``lanes`` lanes.

    Kept between calls (the largest: ``n × lanes × 8`` bytes, 64 MB for a
    million nodes), so that a call does not pay to allocate and first touch
    them; the kernel leaves ``stamp`` at -1 again. A thread keeps one set per
    lane count, for the network it queried last.
    """
    cached = getattr(_THREAD, "work", None)
    if cached is None:
        cached = _THREAD.work = {}
    arrays = cached.get(lanes)
    if arrays is None or len(arrays[1]) != n:
        arrays = (
            np.empty((n, lanes)),
            np.full(n, -1, dtype=np.int64),
            np.empty(n, dtype=np.int32),
            np.empty(n, dtype=np.int32),
        )
        cached[lanes] = arrays
    return arrays


def batch_units(n_sources: int) -> float:
    """What :func:`query_rows` costs for ``n_sources`` sources, in full batches.

    Whole batches of :data:`BATCH`, and a last one of at most
    :data:`TAIL_BATCH` sources at :data:`TAIL_COST` of a batch.
    """
    full, rest = divmod(int(n_sources), BATCH)
    if rest == 0:
        return float(full)
    return full + (TAIL_COST if rest <= TAIL_BATCH else 1.0)


def warm_up() -> None:
    """Compile the kernels now (a few seconds, once per process) instead of at first use."""
    if kernel_available():
        arcs = np.array([0, 1], dtype=np.int64)
        c = contract_order(np.array([1, 0]), arcs, arcs[::-1].copy(), 2)
        m = customize_metric(c, np.array([1.0, 2.0]))
        sweep = prepare_targets(m, None)
        for k in (1, BATCH):  # the tail's sweep and the full one
            query_rows(m, sweep, np.zeros((k, 1), dtype=np.int64), np.zeros((k, 1)))
