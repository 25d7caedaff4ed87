"""A compiled many-to-many Dijkstra that writes only the target columns.

The exact engine of :mod:`planner.network.engine` (``"dijkstra"``). It gives
the same numbers as :func:`scipy.sparse.csgraph.dijkstra`, bit for bit (the
tests check it on every real network), but

* it writes only the columns of the targets asked for, not a row of every
  node per source;
* it stops each search at the cutoff and resets only the nodes it touched,
  so a short search on a large network costs what it reaches;
* it starts from several nodes at once, each after a head start (a point
  part-way along a road), without an augmented graph;
* it holds no Python lock (numba ``nogil``), so several threads of one
  process search at once (``workers``), sharing the graph and writing into
  one result array: nothing is copied or pickled;
* it renumbers the nodes once per network along a Z-order (Morton) curve of
  their coordinates, so that nodes near each other on the map are near each
  other in memory: a search's frontier then touches fewer cache lines.

Why the numbers are equal: every engine here sums float64 edge times from the
source along a path, one edge at a time, and keeps the smallest sum; with
non-negative times that minimum is unique whatever order the nodes are
settled in (for every edge ``u -> v``, ``d(v) <= fl(d(u) + w)``, and each
``d(v)`` is such a sum along some path). Head starts are added first, as the
augmented graph's virtual node does (``0 + offset``).

The kernel needs ``numba`` (``pip install 'planner[fast]'``; wheels for
Linux, macOS and Windows on x86-64 and ARM). Without it, :func:`kernel_available`
is false and the engine falls back on scipy's Dijkstra, with the same
numbers. The kernel is compiled the first time a process uses it (about 1-2
s, once per process; nothing is cached on disk).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

__all__ = [
    "KernelGraph",
    "kernel_available",
    "morton_order",
    "numba_module",
    "prepare_kernel_graph",
    "reweight_kernel_graph",
    "search_rows",
    "warm_up",
]

#: Bits per axis of the Z-order curve (2**16 cells across the network's extent).
_MORTON_BITS = 16


@cache
def _numba() -> Any:
    """The numba module, or ``None`` where it is not installed or cannot be imported.

    numba's import can fail for other reasons than its absence: it imports
    ``coverage`` if it can, and a folder named ``coverage`` beside the
    script (planner's own coverage output, say) is then taken for it. The
    engine then runs scipy's Dijkstra, with the same numbers.
    """
    try:
        import numba
    except ImportError:
        return None
    except Exception as exc:  # a broken install or a shadowed dependency
        warnings.warn(
            f"numba could not be imported ({type(exc).__name__}: {exc}); the exact engine "
            "runs scipy's Dijkstra instead (the same times, slower)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return numba


def numba_module() -> Any:
    """The numba module (check :func:`kernel_available` first)."""
    module = _numba()
    if module is None:
        raise RuntimeError("numba is not available")
    return module


def kernel_available() -> bool:
    """Whether the compiled Dijkstra can run here (``numba`` installed)."""
    return _numba() is not None


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Put a zero bit between every bit of 16-bit integers (Morton interleave)."""
    v = v.astype(np.uint64) & np.uint64(0xFFFF)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def morton_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Node rows sorted along a Z-order curve of their coordinates (m, any planar CRS).

    Nodes without coordinates go to the centre. Equal codes keep their row
    order (a stable sort), so the order is the same on every machine.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` int64: position ``i`` holds the row placed ``i``-th.
    """
    n = len(x)
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if n == 0 or not (np.isfinite(xs).any() and np.isfinite(ys).any()):
        return np.arange(n, dtype=np.int64)
    scale = 2**_MORTON_BITS - 1

    def cells(a: np.ndarray) -> np.ndarray:
        lo, hi = np.nanmin(a), np.nanmax(a)
        span = hi - lo if hi > lo else 1.0
        q = np.where(np.isfinite(a), (a - lo) / span, 0.5)
        return np.rint(q * scale).astype(np.int64)

    code = _spread_bits(cells(xs)) | (_spread_bits(cells(ys)) << np.uint64(1))
    return np.argsort(code, kind="stable").astype(np.int64)


@dataclass(frozen=True, eq=False)
class KernelGraph:
    """A CSR travel-time graph renumbered for the kernel (made by :func:`prepare_kernel_graph`).

    Attributes
    ----------
    indptr, heads, weights
        The renumbered CSR arrays: arcs of new node ``u`` are
        ``heads[indptr[u]:indptr[u+1]]`` with times ``weights[...]``, s.
    rank
        ``(n,)`` new number of each original row.
    order
        ``(n,)`` original row of each new number (the inverse of ``rank``).
    """

    indptr: np.ndarray
    heads: np.ndarray
    weights: np.ndarray
    rank: np.ndarray
    order: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.rank)


def prepare_kernel_graph(matrix: sp.csr_array, x: np.ndarray, y: np.ndarray) -> KernelGraph:
    """Renumber a CSR graph of edge times (s) along the Z-order of its nodes' coordinates.

    Parameters
    ----------
    matrix
        ``n × n`` CSR matrix of edge times, s (every stored entry is an arc,
        explicit zeros included, as for scipy's Dijkstra).
    x, y
        Node coordinates, m (NaN where unknown).
    """
    n = int(matrix.shape[0])
    order = morton_order(x, y)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    indptr, take = _renumbered_arcs(matrix, order)
    heads = rank[np.asarray(matrix.indices, dtype=np.int64)[take]].astype(np.int32)
    weights = np.ascontiguousarray(np.asarray(matrix.data, dtype=np.float64)[take])
    return KernelGraph(indptr=indptr, heads=heads, weights=weights, rank=rank, order=order)


def _renumbered_arcs(matrix: sp.csr_array, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row pointers of the renumbered graph, and the stored entry of ``matrix`` of each arc."""
    n = len(order)
    counts = np.diff(matrix.indptr)[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    # arcs of each node in its new place: gather the old row slices in new order
    starts = np.asarray(matrix.indptr[:-1], dtype=np.int64)[order]
    take = np.repeat(starts - indptr[:-1], counts) + np.arange(int(indptr[-1]), dtype=np.int64)
    return indptr, take


def reweight_kernel_graph(graph: KernelGraph, matrix: sp.csr_array) -> KernelGraph:
    """``graph`` with the times of ``matrix``: the same nodes and arcs, in the same numbering."""
    _, take = _renumbered_arcs(matrix, graph.order)
    weights = np.ascontiguousarray(np.asarray(matrix.data, dtype=np.float64)[take])
    if len(weights) != len(graph.weights):
        raise ValueError("matrix: other arcs than the graph's")
    return KernelGraph(graph.indptr, graph.heads, weights, graph.rank, graph.order)


def _heap(njit: Any) -> tuple[Any, Any]:
    """``push`` and ``pop`` of a 4-ary min-heap of (time, node) in two arrays, compiled."""

    @njit(nogil=True, inline="always")
    def push(keys: Any, nodes: Any, size: int, key: float, node: int) -> None:
        j = size
        while j > 0:
            parent = (j - 1) >> 2
            if keys[parent] <= key:
                break
            keys[j] = keys[parent]
            nodes[j] = nodes[parent]
            j = parent
        keys[j] = key
        nodes[j] = node

    @njit(nogil=True, inline="always")
    def pop(keys: Any, nodes: Any, size: int) -> None:
        # the root was taken; the last of the ``size + 1`` entries sinks from the root
        last_key = keys[size]
        last_node = nodes[size]
        j = 0
        while True:
            child = 4 * j + 1
            if child >= size:
                break
            best = child
            best_key = keys[child]
            for q in range(child + 1, min(child + 4, size)):
                if keys[q] < best_key:
                    best_key = keys[q]
                    best = q
            if best_key >= last_key:
                break
            keys[j] = best_key
            nodes[j] = nodes[best]
            j = best
        keys[j] = last_key
        nodes[j] = last_node

    return push, pop


def _kernel_source() -> Any:
    """Compile the search (once per process)."""
    njit = _numba().njit
    push, pop = _heap(njit)

    @njit(nogil=True)
    def search(
        indptr: Any,
        heads: Any,
        weights: Any,
        seed_nodes: Any,
        seed_s: Any,
        col_of: Any,
        limit: float,
        out: Any,
        dist: Any,
        keys: Any,
        nodes: Any,
        touched: Any,
        first: int,
    ) -> int:
        capacity = len(keys)
        for i in range(first, seed_nodes.shape[0]):
            size = 0
            n_touched = 0
            full = False
            for j in range(seed_nodes.shape[1]):
                v = seed_nodes[i, j]
                d = seed_s[i, j]
                if v >= 0 and d < dist[v] and d <= limit:
                    if dist[v] == np.inf:
                        touched[n_touched] = v
                        n_touched += 1
                    dist[v] = d
                    push(keys, nodes, size, d, v)
                    size += 1
            while size > 0 and not full:
                d = keys[0]
                u = nodes[0]
                size -= 1
                if size > 0:
                    pop(keys, nodes, size)
                if d > dist[u]:
                    continue  # a stale entry: u was reached faster since
                c = col_of[u]
                if c >= 0:
                    out[i, c] = d
                for e in range(indptr[u], indptr[u + 1]):
                    v = heads[e]
                    nd = d + weights[e]
                    if nd < dist[v] and nd <= limit:
                        if size == capacity:
                            full = True
                            break
                        if dist[v] == np.inf:
                            touched[n_touched] = v
                            n_touched += 1
                        dist[v] = nd
                        push(keys, nodes, size, nd, v)
                        size += 1
            for t in range(n_touched):
                dist[touched[t]] = np.inf
            if full:
                return i  # the heap is too small: the caller grows it and resumes here
        return seed_nodes.shape[0]

    return search


@cache
def _kernel() -> Any:
    return _kernel_source()


def warm_up() -> None:
    """Compile the kernel now (about 1-2 s, once per process) instead of at the first search."""
    if kernel_available():
        g = prepare_kernel_graph(
            sp.csr_array((np.ones(1), (np.zeros(1), np.ones(1))), shape=(2, 2)),
            np.zeros(2),
            np.zeros(2),
        )
        search_rows(g, np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1)), None, math.inf)


def _scipy_rows(
    graph: KernelGraph,
    seeds: np.ndarray,
    offsets: np.ndarray,
    col_of: np.ndarray,
    n_cols: int,
    limit: float,
) -> np.ndarray:
    """:func:`search_rows` by scipy's Dijkstra (no numba): one virtual node per source.

    The same sums as the kernel (``0 + head start``, then edge by edge), so
    the same numbers. ``seeds`` are renumbered rows; ``col_of`` the column of
    each renumbered node (``-1`` for none).
    """
    n, m = graph.n_nodes, len(seeds)
    k = seeds.shape[1]
    ok = ((seeds >= 0) & np.isfinite(offsets)).ravel()
    r = (np.repeat(np.arange(m, dtype=np.int64), k) + n)[ok]
    c = seeds.ravel()[ok]
    w = offsets.ravel()[ok]
    first = np.lexsort((w, c, r))  # the fastest link where a source repeats a node
    keep = (
        first[np.r_[True, (np.diff(r[first]) != 0) | (np.diff(c[first]) != 0)]] if len(r) else first
    )
    tail = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.indptr))
    matrix = sp.csr_array(
        (
            np.concatenate([graph.weights, w[keep]]),
            (np.concatenate([tail, r[keep]]), np.concatenate([graph.heads, c[keep]])),
        ),
        shape=(n + m, n + m),
    )
    dist = dijkstra(matrix, directed=True, indices=np.arange(n, n + m), limit=limit)
    out = np.full((m, n_cols), np.inf)
    has = np.flatnonzero(col_of >= 0)
    out[:, col_of[has]] = dist[:, has]
    return out


def search_rows(
    graph: KernelGraph,
    seed_nodes: np.ndarray,
    seed_s: np.ndarray,
    targets: np.ndarray | None,
    limit: float,
) -> np.ndarray:
    """Drive times from each source to the targets, s, in the calling thread.

    Parameters
    ----------
    graph
        The renumbered graph.
    seed_nodes
        ``(m, k)`` original node rows each source starts from (``-1`` for none).
    seed_s
        ``(m, k)`` head start at each of them, s (``inf`` or NaN for none).
    targets
        Original node rows of the columns (repeats allowed); ``None`` for
        every node in row order.
    limit
        Cutoff, s: times above it are ``inf`` (``inf`` for none).

    Returns
    -------
    numpy.ndarray
        ``(m, n_targets)`` float64 seconds, ``inf`` where unreachable or
        beyond the cutoff.
    """
    n = graph.n_nodes
    col_of = np.full(n, -1, dtype=np.int32)
    expand = None
    if targets is None:
        col_of[graph.rank] = np.arange(n, dtype=np.int32)
        n_cols = n
    else:
        cols = np.asarray(targets, dtype=np.int64)
        unique, inverse = np.unique(cols, return_inverse=True)
        if len(unique) < len(cols):
            expand, cols = inverse.ravel(), unique
        col_of[graph.rank[cols]] = np.arange(len(cols), dtype=np.int32)
        n_cols = len(cols)
    nodes_in = np.asarray(seed_nodes, dtype=np.int64)
    seeds = np.where(nodes_in >= 0, graph.rank[np.maximum(nodes_in, 0)] if n else -1, -1)
    offsets = np.ascontiguousarray(seed_s, dtype=np.float64)
    out = np.full((len(seeds), n_cols), np.inf)
    if len(seeds) and n and not kernel_available():  # planned where numba ran, run here
        out = _scipy_rows(graph, seeds, offsets, col_of, n_cols, float(limit))
    elif len(seeds) and n:
        dist = np.full(n, np.inf)
        touched = np.empty(n, dtype=np.int32)
        capacity = n // 4 + seeds.shape[1] + 64
        first = 0
        while True:
            keys = np.empty(capacity)
            heap_nodes = np.empty(capacity, dtype=np.int32)
            first = _kernel()(
                graph.indptr, graph.heads, graph.weights, seeds, offsets, col_of,
                float(limit), out, dist, keys, heap_nodes, touched, first,
            )  # fmt: skip
            if first >= len(seeds):
                break
            # a lazy heap holds at most one entry per arc relaxed, plus the seeds
            capacity = len(graph.heads) + seeds.shape[1] + 1
            out[first] = np.inf
    return out if expand is None else out[:, expand]
