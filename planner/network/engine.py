"""Shortest-path engines: drive times from many sources to many target nodes.

This is the node level of the travel-time stack: the point layer
(:mod:`planner.network.travel_times`, :mod:`planner.network.matrix`) turns stations and
demand points into *sources* (node rows, or :class:`VirtualSources` that join
the network at a few nodes after a head start) and *target* node rows, and
asks :func:`iter_blocks` or :func:`many_to_many` for the times. Three engines
answer, with the same meaning (seconds as float64, ``inf`` where
unreachable or beyond the cutoff, never NaN):

``"dijkstra"``
    The compiled Dijkstra of :mod:`planner.network.dijkstra` (numba, the
    ``fast`` extra) on the CSR graph of
    :class:`~planner.network.travel_times.TravelTimeGraph`: it writes only the
    target columns, stops at the cutoff, starts from points without an
    augmented graph and runs in several threads. Exact float64 sums of the
    edge times, equal to scipy's Dijkstra bit for bit, and so to networkx.
    Without numba it is scipy's Dijkstra (the same numbers).
``"scipy"``
    :func:`scipy.sparse.csgraph.dijkstra` on the same graph (point origins as
    virtual nodes of an augmented graph): the engine of planner 0.1, kept as
    the reference.
``"cch"``
    A customizable contraction hierarchy (CCH). The order of the nodes comes
    from RoutingKit's nested dissection (the optional ``routingkit-cch``
    wheel, ``pip install planner[cch]``). With numba, the compiled code of
    :mod:`planner.network.cch` contracts, customises and answers: the
    targets select their part of the hierarchy once, then each batch of
    :data:`planner.network.cch.BATCH` sources costs one upward pass along
    the elimination tree and one downward sweep over that part (the RPHAST
    idea), whatever the cutoff. Without numba, RoutingKit's own queries
    answer (the same numbers). **Resolution: edge times are rounded to whole
    milliseconds** (:data:`planner.constants.CCH_RESOLUTION_S`; RoutingKit
    sums 32-bit integers). Its times equal scipy's Dijkstra on the same
    rounded weights exactly, and differ from the exact times by at most
    0.5 ms per edge of the path (the tests check both).

``"auto"`` (the default) picks, per query, the engine expected to be faster,
from the query's shape and a profile of the network measured once when its
hierarchy is built (:func:`choose_engine`). It never depends on timings of
the query itself or on the machine's load, so the same network and query
always get the same engine and the same numbers. Without a hierarchy, or
without the wheel (it has no build for Linux on ARM, for example), it is
the exact Dijkstra.

Every engine uses several cores when asked (``workers``): the compiled
Dijkstra and the CCH in threads of this process (both run without Python's
GIL, writing into one result array), scipy in worker processes that write
their rows straight into shared memory (nothing is pickled back).

The contraction order (the slow part of a hierarchy: about 15 s for 200,000
nodes) depends only on the network's topology. :func:`build_hierarchy`
computes it, :func:`save_hierarchy` stores it as an ``.npz`` of plain arrays
(never pickle) under a key of the topology, and :func:`load_hierarchy`
reads it back for the same network. :meth:`Hierarchy.customize` applies new
edge times (another speed profile or time band) to the same order in about a
second on a region.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import RawArray
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from planner import constants
from planner.cache import atomic_write_bytes
from planner.errors import InputFileError, ParameterError
from planner.network import cch as compiled
from planner.network.dijkstra import KernelGraph, kernel_available, search_rows


class TravelTimeGraph(Protocol):
    """What the engine reads of a graph (:class:`planner.network.travel_times.TravelTimeGraph`)."""

    @property
    def matrix(self) -> sp.csr_array: ...  # n × n edge times, s

    @property
    def x(self) -> np.ndarray: ...  # node coordinates, m (EPSG:3006)

    @property
    def y(self) -> np.ndarray: ...

    @property
    def n_nodes(self) -> int: ...

    @property
    def kernel(self) -> KernelGraph: ...  # the graph renumbered for the compiled Dijkstra

    @property
    def hierarchy(self) -> Hierarchy | None: ...  # the network's CCH, if it has one

    @property
    def engine_settings(self) -> EngineSettings: ...  # the engine its searches use


__all__ = [
    "ENGINES",
    "EnginePool",
    "EngineSettings",
    "Hierarchy",
    "QueryPlan",
    "VirtualSources",
    "augmented_matrix",
    "build_hierarchy",
    "cch_available",
    "choose_engine",
    "compute_order",
    "exact_engine",
    "fast_cch_available",
    "iter_blocks",
    "iter_plan_blocks",
    "load_hierarchy",
    "many_to_many",
    "plan_query",
    "rearc_hierarchy",
    "require_cch",
    "save_hierarchy",
    "scipy_plan",
    "scipy_rows",
]

#: Engine names accepted by :class:`EngineSettings`.
ENGINES = ("auto", "dijkstra", "scipy", "cch")
#: Layout version of a saved hierarchy (:func:`save_hierarchy`; 2: the profile
#: records the exact engine it was measured against; 3: and the CCH's query code).
HIERARCHY_FORMAT = 3
#: RoutingKit's "no path" weight (2**31 - 1); every edge must stay below it, ms.
_INF_WEIGHT_MS = 2**31 - 1
#: Integer weight units per second (the CCH's resolution is their inverse).
_TICKS_PER_S = round(1.0 / constants.CCH_RESOLUTION_S)
#: Sources per block of one engine call: bounds the memory of a block's rows.
_BLOCK = 64
#: ... for the compiled CCH on several cores (still under :data:`_SHARED_BYTES`).
_CCH_PARALLEL_BLOCK = 1024
#: Below this many source × node pairs, worker processes cost more than they
#: save, and so do threads for the compiled CCH (a source takes it a small
#: share of a search).
_PARALLEL_MIN_WORK = 5_000_000
#: ... and threads for the compiled Dijkstra and RoutingKit's CCH, which start
#: in microseconds.
_THREAD_MIN_WORK = 500_000
#: Most bytes of the shared result buffer of a parallel run (two blocks in flight).
_SHARED_BYTES = 256 * 1024**2


# ---------------------------------------------------------------------------
# Settings and inputs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineSettings:
    """Which engine answers node-level queries.

    Attributes
    ----------
    engine
        ``"auto"`` (default: the faster engine for each query, see
        :func:`choose_engine`), ``"dijkstra"`` (the compiled exact Dijkstra;
        scipy's where numba is not installed), ``"scipy"`` (scipy's Dijkstra,
        the reference) or ``"cch"`` (contraction hierarchy, millisecond
        resolution; needs the ``routingkit-cch`` wheel and a :class:`Hierarchy`).
    """

    engine: str = "auto"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ParameterError(
                f"engine = {self.engine!r}: use one of {', '.join(repr(e) for e in ENGINES)}"
            )


@dataclass(frozen=True)
class VirtualSources:
    """Sources that join the network at a few nodes each, after a head start.

    Source ``i`` reaches node ``nodes[i, j]`` after ``offset_s[i, j]``
    seconds (for example a station part-way along a road reaches both ends
    of it). The time to any node ``v`` is ``min_j offset_s[i, j] + d(nodes[i, j], v)``,
    as if a virtual node with these out-links were added to the graph.

    Attributes
    ----------
    nodes
        ``(m, k)`` node rows (positions in ``TravelTimeGraph.node_ids``);
        ``-1`` for none.
    offset_s
        ``(m, k)`` head starts, s (non-negative; ``inf`` or NaN for none).
    """

    nodes: np.ndarray
    offset_s: np.ndarray

    def __post_init__(self) -> None:
        if self.nodes.ndim != 2 or self.nodes.shape != self.offset_s.shape:
            raise ParameterError("sources: nodes and offset_s must both be (sources, k) arrays")
        ok = (self.nodes >= 0) & np.isfinite(self.offset_s)
        if (self.offset_s[ok] < 0).any():
            raise ParameterError("sources: a head start (offset_s) is negative")

    def __len__(self) -> int:
        return int(self.nodes.shape[0])

    def __getitem__(self, rows: slice) -> VirtualSources:
        return VirtualSources(self.nodes[rows], self.offset_s[rows])


Sources = np.ndarray | VirtualSources


def _import_cch() -> ModuleType | None:
    """The ``routingkit_cch`` module, or ``None`` where the wheel is not installed."""
    try:
        import routingkit_cch
    except ImportError:
        return None
    return routingkit_cch


def _import_pyroutingkit() -> ModuleType | None:
    """``pyroutingkit`` (a faster numpy interface, Linux x86-64 and macOS arm64), or ``None``."""
    if _import_cch() is None:  # the engine needs routingkit-cch in any case
        return None
    try:
        import pyroutingkit
    except ImportError:
        return None
    return pyroutingkit


def exact_engine() -> str:
    """The exact engine that runs here: ``"dijkstra"`` with numba installed, else ``"scipy"``."""
    return "dijkstra" if kernel_available() else "scipy"


def profiled_engines() -> str:
    """What a network's profile measures here: the exact engine and the CCH's query code.

    ``"dijkstra+compiled"`` with numba (the compiled Dijkstra and the
    compiled CCH queries of :mod:`planner.network.cch`), ``"scipy+routingkit"``
    without it (scipy's Dijkstra and RoutingKit's own queries).
    """
    return "dijkstra+compiled" if kernel_available() else "scipy+routingkit"


def cch_available() -> bool:
    """Whether the contraction-hierarchy engine can run here (``routingkit-cch`` installed)."""
    return _import_cch() is not None


def fast_cch_available() -> bool:
    """Whether pyroutingkit, the CCH's faster numpy interface, is installed too."""
    return _import_pyroutingkit() is not None


def require_cch() -> ModuleType:
    """The ``routingkit_cch`` module, or a :class:`ParameterError` saying how to install it."""
    module = _import_cch()
    if module is None:
        raise ParameterError(
            "engine = 'cch' needs the routingkit-cch package: pip install 'planner[cch]' "
            "(no wheel for this platform? use engine 'auto' or 'scipy')"
        )
    return module


# ---------------------------------------------------------------------------
# The hierarchy: order (once per topology) + customisation (once per weights)
# ---------------------------------------------------------------------------


def _arcs(matrix: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """(tail, head) of every stored entry of a CSR matrix, in storage order."""
    n = matrix.shape[0]
    tail = np.repeat(np.arange(n, dtype=np.int64), np.diff(matrix.indptr))
    return tail, matrix.indices.astype(np.int64, copy=False)


def _topology_key(n: int, tail: np.ndarray, head: np.ndarray) -> str:
    h = hashlib.sha256(f"nodes={n};arcs={len(tail)};".encode())
    h.update(np.ascontiguousarray(tail, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(head, dtype=np.int64).tobytes())
    return h.hexdigest()


def _to_ms(weights_s: np.ndarray) -> np.ndarray:
    """Edge times, s -> whole milliseconds (int64), refusing what RoutingKit cannot hold."""
    w = np.asarray(weights_s, dtype=np.float64)
    if len(w) and (not np.isfinite(w).all() or (w < 0).any()):
        raise ParameterError("weights: every edge needs a finite, non-negative time (s)")
    ms = np.rint(w * _TICKS_PER_S).astype(np.int64)
    if len(ms) and ms.max() >= _INF_WEIGHT_MS:
        raise ParameterError(
            f"weights: an edge takes {w.max():g} s, more than the hierarchy can hold "
            f"({(_INF_WEIGHT_MS - 1) * constants.CCH_RESOLUTION_S:g} s)"
        )
    return ms


def compute_order(ttg: TravelTimeGraph) -> np.ndarray:
    """The contraction order of a network: nested dissection by inertial flow.

    RoutingKit cuts the network along lines through the node coordinates
    (EPSG:3006 metres; any planar coordinates do) into balanced parts with
    small separators, recursively, and contracts separators last. Nodes
    without coordinates are placed at the centre. A network without any
    coordinates gets RoutingKit's degree order (correct, slower queries).

    Parameters
    ----------
    ttg
        The CSR travel-time graph.

    Returns
    -------
    numpy.ndarray
        ``(n_nodes,)`` node rows, first contracted first (int64).

    Raises
    ------
    ParameterError
        If ``routingkit-cch`` is not installed.
    """
    rk = require_cch()
    n = ttg.n_nodes
    tail, head = _arcs(ttg.matrix)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    x = np.asarray(ttg.x, dtype=np.float64)
    y = np.asarray(ttg.y, dtype=np.float64)
    if np.isfinite(x).any() and np.isfinite(y).any():
        # centred coordinates (float32 inside RoutingKit keeps 0.01 m resolution)
        xc = np.where(np.isfinite(x), x - np.nanmean(x), 0.0)
        yc = np.where(np.isfinite(y), y - np.nanmean(y), 0.0)
        order = rk.compute_order_inertial(n, tail.tolist(), head.tolist(), yc.tolist(), xc.tolist())
    else:
        order = rk.compute_order_degree(n, tail.tolist(), head.tolist())
    return np.asarray(order, dtype=np.int64)


def _check_order(order: np.ndarray, n: int) -> np.ndarray:
    order = np.asarray(order)
    if order.shape != (n,) or not np.issubdtype(order.dtype, np.integer):
        raise ParameterError(f"order: need {n:,} node rows, got shape {order.shape}")
    seen = np.zeros(n, dtype=bool)
    if n and (order.min() < 0 or order.max() >= n):
        raise ParameterError("order: node rows out of range")
    seen[order] = True
    if not seen.all():
        raise ParameterError("order: not a permutation of the nodes (a node repeats)")
    return order.astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """A customised contraction hierarchy of a network, ready for queries.

    Build it with :func:`build_hierarchy` or :func:`load_hierarchy`; give new
    edge times with :meth:`customize`. The query structures (the compiled
    contraction and metric of :mod:`planner.network.cch` with numba, else
    RoutingKit's objects) are built the first time a query needs them, once
    per process (a copy sent to a worker process carries only the arrays
    below).

    Attributes
    ----------
    order
        ``(n,)`` node rows, first contracted first.
    tail, head
        ``(m,)`` arcs: the stored entries of the CSR matrix, in storage order.
    weights_ms
        ``(m,)`` arc times, whole milliseconds.
    topology_key
        SHA-256 of the node count and the arcs: what a saved order is checked against.
    reach_s
        Sorted sample of drive times (s, ``inf`` for unreachable) from a few
        seeded nodes to every node: the network's profile for
        :meth:`reach_fraction`.
    cch_ratio
        CPU time of one CCH query to every node over that of one full
        search of the exact engine, measured once when the hierarchy was
        first built (kept with the saved order): how much the hierarchy helps
        on this network (about 0.3 on real roads, 1-2 on a grid).
    profile_engine
        The engines ``cch_ratio`` was measured with (:func:`profiled_engines`).
    """

    order: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    weights_ms: np.ndarray
    topology_key: str
    reach_s: np.ndarray
    cch_ratio: float
    profile_engine: str = "scipy+routingkit"
    _runtime: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # the RoutingKit objects cannot be pickled: rebuild them on the other side
        return (
            _rebuild_hierarchy,
            (
                self.order,
                self.tail,
                self.head,
                self.weights_ms,
                self.topology_key,
                self.reach_s,
                self.cch_ratio,
                self.profile_engine,
            ),
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.order)

    def reach_fraction(self, cutoff_s: float) -> float:
        """Share of (source, node) pairs within ``cutoff_s`` in the profile (1 for ``inf``)."""
        if math.isinf(cutoff_s) or len(self.reach_s) == 0:
            return 1.0
        return float(np.searchsorted(self.reach_s, cutoff_s, side="right") / len(self.reach_s))

    def customize(self, weights_s: np.ndarray) -> Hierarchy:
        """The same hierarchy with new arc times (another speed profile or time band).

        Parameters
        ----------
        weights_s
            ``(m,)`` times of the arcs, s, in the order of :attr:`tail`/:attr:`head`
            (the CSR storage order: ``TravelTimeGraph.matrix.data`` of the new weights).

        Returns
        -------
        Hierarchy
            Sharing the order and the contracted topology; the new metric is
            customised at once (about a second on a region).
        """
        w = np.asarray(weights_s)
        if w.shape != self.weights_ms.shape:
            raise ParameterError(
                f"weights: need one time per arc ({len(self.weights_ms):,}), got shape {w.shape}"
            )
        new = Hierarchy(
            order=self.order,
            tail=self.tail,
            head=self.head,
            weights_ms=_to_ms(w),
            topology_key=self.topology_key,
            reach_s=self.reach_s,
            cch_ratio=self.cch_ratio,
            profile_engine=self.profile_engine,
        )
        for topology in ("cch", "prk_topology", "contraction"):  # weights apart, the same
            if topology in self._runtime:
                new._runtime[topology] = self._runtime[topology]
        new.prepare()
        return new

    def prepare(self) -> None:
        """Customise now the metric this process's queries use (compiled or RoutingKit's)."""
        if kernel_available():
            self.compiled()
        else:
            self.metric()

    def compiled(self) -> compiled.CompiledMetric:
        """The compiled customised hierarchy (:mod:`planner.network.cch`; numba, once per process).

        The contraction (the hierarchy's arcs, from the order and the
        network's arcs) is made once and shared by every customisation.
        """
        with _RUNTIME_LOCK:
            metric = self._runtime.get("compiled")
            if metric is None:
                contraction = self._runtime.get("contraction")
                if contraction is None:
                    contraction = compiled.contract_order(
                        self.order, self.tail, self.head, self.n_nodes
                    )
                    self._runtime["contraction"] = contraction
                metric = compiled.customize_metric(contraction, self.weights_ms)
                self._runtime["compiled"] = metric
            return metric

    def metric(self) -> Any:
        """The customised RoutingKit metric (built once per process, thread-safe)."""
        with _RUNTIME_LOCK:
            metric = self._runtime.get("metric")
            if metric is None:
                rk = require_cch()
                cch = self._runtime.get("cch")
                if cch is None:
                    cch = rk.CCH(self.order.tolist(), self.tail.tolist(), self.head.tolist(), False)
                    self._runtime["cch"] = cch
                metric = rk.CCHMetric(cch, self.weights_ms.tolist())
                self._runtime["metric"] = metric
            return metric

    @contextmanager
    def fast_metric(self) -> Iterator[Any | None]:
        """Borrow a pyroutingkit metric (``None`` without the package).

        pyroutingkit's metric answers many-to-many queries into numpy arrays
        (RoutingKit's code, so the same numbers), but one metric must not
        serve two threads at once: each concurrent user borrows its own. A
        metric is customised on first need and kept for later calls, so at
        most as many exist as threads ever ran queries at once. The topology
        is loaded from this hierarchy's order (no dissection).
        """
        prk = _import_pyroutingkit()
        if prk is None:
            yield None
            return
        with _RUNTIME_LOCK:
            topo = self._runtime.get("prk_topology")
            if topo is None:
                topo = _pyroutingkit_topology(prk, self)
                self._runtime["prk_topology"] = topo
            idle: list[Any] = self._runtime.setdefault("prk_idle", [])
            metric = idle.pop() if idle else None
        if metric is None:
            metric = prk.CCHMetric(topo)
            metric.customize(self.weights_ms.astype(np.uint32))
        try:
            yield metric
        finally:
            with _RUNTIME_LOCK:
                idle.append(metric)


_RUNTIME_LOCK = threading.Lock()


def _pyroutingkit_topology(prk: ModuleType, h: Hierarchy) -> Any:
    """pyroutingkit's topology from the hierarchy's order (its saved layout, no dissection)."""
    import tempfile

    rank = np.empty(len(h.order), dtype=np.uint32)
    rank[h.order] = np.arange(len(h.order), dtype=np.uint32)
    with tempfile.TemporaryDirectory(prefix="planner-cch-") as tmp:
        folder = Path(tmp)
        np.asarray(h.order, dtype=np.uint32).tofile(folder / "order")
        rank.tofile(folder / "rank")
        np.asarray(h.tail, dtype=np.uint32).tofile(folder / "tail")
        np.asarray(h.head, dtype=np.uint32).tofile(folder / "head")
        np.asarray([len(h.order)], dtype=np.uint32).tofile(folder / "node_count")
        topo = prk.CCHTopology()
        topo.load(str(folder))
    return topo


def _rebuild_hierarchy(*fields: Any) -> Hierarchy:
    return Hierarchy(*fields)


def _cpu_per_round(run: Any) -> float:
    """CPU seconds of one call of ``run``, repeated until the total is measurable."""
    rounds, spent = 0, 0.0
    while spent < constants.ENGINE_PROFILE_MIN_S and rounds < 1000:
        t0 = time.process_time()
        run()
        spent += time.process_time() - t0
        rounds += 1
    return spent / rounds


def _profile(ttg: TravelTimeGraph, h: Hierarchy) -> tuple[np.ndarray, float, str]:
    """(sorted sample of drive times, CCH/exact CPU ratio, :func:`profiled_engines`).

    From seeded nodes, each engine as its queries run here.
    """
    n = ttg.n_nodes
    exact = exact_engine()
    k = min(constants.ENGINE_PROFILE_SOURCES, n)
    if k == 0:
        return np.empty(0), 1.0, profiled_engines()
    src = np.random.default_rng(constants.ENGINE_PROFILE_SEED).choice(n, size=k, replace=False)
    dist = dijkstra(ttg.matrix, directed=True, indices=src)
    if exact == "dijkstra":
        kernel, seeds, zero = ttg.kernel, src[:, None], np.zeros((k, 1))
        search_rows(kernel, seeds[:1], zero[:1], None, math.inf)  # compiles: not timed
        exact_s = _cpu_per_round(lambda: search_rows(kernel, seeds, zero, None, math.inf))
    else:
        exact_s = _cpu_per_round(lambda: dijkstra(ttg.matrix, directed=True, indices=src))
    sweep = _target_sweep(h, None)
    _cch_rows(h, src[:1], None, math.inf, sweep)  # builds this thread's metric: not timed
    cch_s = _cpu_per_round(lambda: _cch_rows(h, src, None, math.inf, sweep))
    sample = np.sort(dist.ravel())
    step = max(1, len(sample) // constants.ENGINE_PROFILE_SAMPLE)
    ratio = cch_s / exact_s if exact_s > 0 else 1.0
    return sample[::step].copy(), float(ratio), profiled_engines()


def build_hierarchy(ttg: TravelTimeGraph, *, order: np.ndarray | None = None) -> Hierarchy:
    """Build (or, given its order, rebuild) the contraction hierarchy of a network.

    Parameters
    ----------
    ttg
        The CSR travel-time graph; its edge times (s) are the metric.
    order
        A contraction order from :func:`compute_order` (for example read
        back by :func:`load_hierarchy`); ``None`` computes it (the slow part:
        about 15 s for 200,000 nodes).

    Returns
    -------
    Hierarchy
        Customised with the graph's times, with its profile measured.

    Raises
    ------
    ParameterError
        Without ``routingkit-cch``, or for an order that is not a permutation
        of the nodes.
    """
    require_cch()
    n = ttg.n_nodes
    order = compute_order(ttg) if order is None else _check_order(order, n)
    tail, head = _arcs(ttg.matrix)
    h = Hierarchy(
        order=order,
        tail=tail.astype(np.int32 if n < 2**31 else np.int64),
        head=head.astype(np.int32 if n < 2**31 else np.int64),
        weights_ms=_to_ms(ttg.matrix.data),
        topology_key=_topology_key(n, tail, head),
        reach_s=np.empty(0),
        cch_ratio=1.0,
    )
    h.prepare()
    return _with_profile(ttg, h)


def rearc_hierarchy(hierarchy: Hierarchy, matrix: sp.csr_array) -> Hierarchy:
    """The hierarchy's order and profile on other arcs between the same nodes.

    For the reversed network (every arc turned round): the contraction order
    depends only on which nodes are joined, so it serves both directions.
    The RoutingKit objects are built for the new arcs (a contraction and a
    customisation, no new order).

    Parameters
    ----------
    hierarchy
        A hierarchy of the network.
    matrix
        ``n × n`` CSR matrix of the new arcs' times, s (same nodes).
    """
    n = hierarchy.n_nodes
    if matrix.shape != (n, n):
        raise ParameterError(f"matrix: need {n:,} × {n:,} nodes, got {matrix.shape}")
    tail, head = _arcs(matrix)
    index_type = np.int32 if n < 2**31 else np.int64
    out = Hierarchy(
        order=hierarchy.order,
        tail=tail.astype(index_type),
        head=head.astype(index_type),
        weights_ms=_to_ms(matrix.data),
        topology_key=_topology_key(n, tail, head),
        reach_s=hierarchy.reach_s,
        cch_ratio=hierarchy.cch_ratio,
        profile_engine=hierarchy.profile_engine,
    )
    out.prepare()
    return out


def _with_profile(ttg: TravelTimeGraph, h: Hierarchy) -> Hierarchy:
    """``h`` with the network's profile measured now (its customised metrics kept)."""
    reach, ratio, engines = _profile(ttg, h)
    out = dataclasses.replace(h, reach_s=reach, cch_ratio=ratio, profile_engine=engines)
    out._runtime.update(h._runtime)
    return out


def save_hierarchy(path: str | Path, hierarchy: Hierarchy) -> None:
    """Store a hierarchy's order and profile as an ``.npz`` of plain arrays (no pickle).

    The edge times are not stored: they come from the network on loading.
    The file is written whole or not at all.
    """
    buf = io.BytesIO()
    np.savez(
        buf,
        format=np.int64(HIERARCHY_FORMAT),
        topology_key=np.str_(hierarchy.topology_key),
        order=hierarchy.order,
        reach_s=hierarchy.reach_s,
        cch_ratio=np.float64(hierarchy.cch_ratio),
        profile_engine=np.str_(hierarchy.profile_engine),
        resolution_s=np.float64(constants.CCH_RESOLUTION_S),
    )
    atomic_write_bytes(Path(path), buf.getvalue())


def load_hierarchy(path: str | Path, ttg: TravelTimeGraph) -> Hierarchy:
    """Read a saved order back for the same network and customise it with its times.

    The profile is kept, unless it was measured against another exact engine
    than the one that runs here (:func:`exact_engine`): it is then measured
    again (a fraction of a second on a region).

    Raises
    ------
    InputFileError
        If the file is unreadable, of another format, or made for another
        network topology (the message says which).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            fmt = int(f["format"])
            key = str(f["topology_key"])
            order = f["order"]
            reach = f["reach_s"]
            ratio = float(f["cch_ratio"])
            profiled = str(f["profile_engine"])
            resolution = float(f["resolution_s"])
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise InputFileError(f"{path}: not a readable hierarchy file ({exc})") from exc
    if fmt != HIERARCHY_FORMAT or resolution != constants.CCH_RESOLUTION_S:
        raise InputFileError(f"{path}: hierarchy of another format ({fmt}); rebuild it")
    tail, head = _arcs(ttg.matrix)
    if key != _topology_key(ttg.n_nodes, tail, head):
        raise InputFileError(f"{path}: hierarchy of another road network (topology differs)")
    h = Hierarchy(
        order=_check_order(order, ttg.n_nodes),
        tail=tail.astype(np.int32 if ttg.n_nodes < 2**31 else np.int64),
        head=head.astype(np.int32 if ttg.n_nodes < 2**31 else np.int64),
        weights_ms=_to_ms(ttg.matrix.data),
        topology_key=key,
        reach_s=reach,
        cch_ratio=ratio,
        profile_engine=profiled,
    )
    h.prepare()
    # measured with other engines (numba added or removed since): measure again
    return h if profiled == profiled_engines() else _with_profile(ttg, h)


# ---------------------------------------------------------------------------
# Choosing the engine
# ---------------------------------------------------------------------------


def _target_share_cost(share: float, compiled_queries: bool) -> float:
    """CCH cost for a share of the nodes as targets, relative to all nodes (grid-measured).

    The compiled queries and RoutingKit's have their own curves.
    """
    pts = constants.CCH_COMPILED_TARGET_COST if compiled_queries else constants.CCH_TARGET_COST
    xs = np.log10([p[0] for p in pts])
    ys = [p[1] for p in pts]
    return float(np.interp(math.log10(max(share, pts[0][0])), xs, ys))


def choose_engine(
    n_nodes: int,
    n_targets: int,
    cutoff_s: float,
    *,
    settings: EngineSettings | None = None,
    hierarchy: Hierarchy | None = None,
    seeds_per_source: float = 1.0,
    n_sources: int | None = None,
) -> str:
    """The engine a query runs on: ``"dijkstra"``, ``"scipy"`` or ``"cch"``.

    ``"auto"`` takes the CCH when a hierarchy is given, the wheel is
    installed, and its expected cost is below the exact engine's. The exact
    engine's cost grows with the share ``r`` of the network within the cutoff
    (read from the hierarchy's profile; 1 without a cutoff); the CCH's does
    not depend on the cutoff, only on the share of nodes that are targets (a
    measured curve, :data:`planner.constants.CCH_TARGET_COST`) times the
    network's measured CCH/exact ratio, times the nodes each source starts
    from (a point on a two-way road starts from both ends: two CCH searches,
    one Dijkstra; the compiled queries start from both at once), times the
    lanes left empty in the last batch (compiled queries: a batch costs the
    same however full it is; :func:`planner.network.cch.batch_units`). So:
    CCH if ``cch_ratio × target_cost(n_targets / n_nodes) × seeds ×
    batch_fill < margin × r``, with the margin
    :data:`planner.constants.CCH_MARGIN` (near ties go to the exact engine).
    Otherwise the exact engine: ``"dijkstra"`` where numba is installed,
    ``"scipy"`` elsewhere (:func:`exact_engine`).

    Raises
    ------
    ParameterError
        For ``engine="cch"`` without a hierarchy or without the wheel.
    """
    engine = (settings or EngineSettings()).engine
    if engine in ("scipy", "dijkstra"):
        return exact_engine() if engine == "dijkstra" else "scipy"
    if engine == "cch":
        require_cch()
        if hierarchy is None:
            raise ParameterError(
                "engine = 'cch' needs the network's contraction hierarchy (build_hierarchy)"
            )
        return "cch"
    if hierarchy is None or not cch_available() or n_nodes == 0:
        return exact_engine()
    share = n_targets / n_nodes
    compiled_queries = hierarchy.profile_engine.endswith("+compiled")
    cch_cost = hierarchy.cch_ratio * _target_share_cost(share, compiled_queries)
    if compiled_queries:
        if n_sources:
            cch_cost *= compiled.batch_units(n_sources) * compiled.BATCH / n_sources
    else:
        cch_cost *= max(seeds_per_source, 1.0)
    exact_cost = hierarchy.reach_fraction(cutoff_s)
    return "cch" if cch_cost < constants.CCH_MARGIN * exact_cost else exact_engine()


# ---------------------------------------------------------------------------
# The engines on one chunk of sources (pure)
# ---------------------------------------------------------------------------


def augmented_matrix(matrix: sp.csr_array, sources: VirtualSources) -> sp.csr_array:
    """The CSR matrix with one virtual node per source appended (rows ``n .. n+m-1``).

    The virtual node of source ``i`` has an arc to each of its nodes,
    weighted by the head start (the faster one where a node repeats).
    """
    n, m = matrix.shape[0], len(sources)
    rows = np.repeat(np.arange(m), sources.nodes.shape[1]) + n
    cols = sources.nodes.ravel()
    vals = sources.offset_s.ravel()
    ok = (cols >= 0) & np.isfinite(vals)
    links = pd.DataFrame({"r": rows[ok], "c": cols[ok], "w": vals[ok]})
    links = links.groupby(["r", "c"], sort=False)["w"].min()
    coo = matrix.tocoo()
    r = np.concatenate([coo.row, links.index.get_level_values(0).to_numpy()])
    c = np.concatenate([coo.col, links.index.get_level_values(1).to_numpy()])
    w = np.concatenate([coo.data, links.to_numpy()])
    return sp.csr_array((w, (r, c)), shape=(n + m, n + m))


def _seeds(sources: Sources) -> tuple[np.ndarray, np.ndarray]:
    """``(m, k)`` start nodes and head starts (s) of sources: nodes start at 0 s."""
    if isinstance(sources, VirtualSources):
        return sources.nodes, sources.offset_s
    nodes = np.asarray(sources, dtype=np.int64).reshape(-1, 1)
    return nodes, np.zeros(nodes.shape)


def _cch_node_ms(hierarchy: Hierarchy, nodes: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
    """CCH times from node rows to target nodes ``cols`` (all if None), whole ms (int64).

    Unreachable pairs hold :data:`_INF_WEIGHT_MS` or more.
    """
    n_cols = hierarchy.n_nodes if cols is None else len(cols)
    if len(nodes) == 0 or n_cols == 0:
        return np.full((len(nodes), n_cols), _INF_WEIGHT_MS, dtype=np.int64)
    with hierarchy.fast_metric() as fast:
        if fast is not None:
            targets = np.arange(n_cols) if cols is None else cols
            return fast.distances_many_to_many(
                np.asarray(nodes, dtype=np.uint32), np.asarray(targets, dtype=np.uint32)
            ).astype(np.int64)
    rk = require_cch()
    query = rk.CCHOneToMany(
        hierarchy.metric(), list(range(n_cols)) if cols is None else cols.tolist()
    )
    rows = [query.distances_from(int(s)) for s in nodes]
    del query  # used and dropped in this thread (RoutingKit's query is not thread-safe)
    out = np.array(rows, dtype=np.float64)  # None -> NaN
    out[np.isnan(out)] = _INF_WEIGHT_MS
    return out.astype(np.int64)


def _target_sweep(hierarchy: Hierarchy, cols: np.ndarray | None) -> compiled.TargetSweep | None:
    """The compiled hierarchy's part for targets ``cols`` (``None`` without numba)."""
    if not kernel_available():
        return None
    return compiled.prepare_targets(hierarchy.compiled(), cols)


def _cch_rows(
    hierarchy: Hierarchy,
    sources: Sources,
    cols: np.ndarray | None,
    limit: float,
    sweep: compiled.TargetSweep | None = None,
) -> np.ndarray:
    """CCH rows from ``sources`` to target nodes ``cols`` (all if None), s.

    A source that starts from several nodes takes, per target, the best of
    (head start rounded to whole ms) + (the node's time in whole ms): the
    same integer sums as a search on the millisecond graph with a virtual
    node, so equal to scipy's Dijkstra on the rounded augmented graph.
    With ``sweep`` (from :func:`_target_sweep` for the same ``cols``) the
    compiled queries answer, else RoutingKit's.
    """
    seed_nodes, seed_s = _seeds(sources)
    if sweep is not None:
        ok = (seed_nodes >= 0) & np.isfinite(seed_s)
        head_ms = np.where(ok, np.rint(np.where(ok, seed_s, 0.0) * _TICKS_PER_S), np.inf)
        return compiled.query_rows(
            hierarchy.compiled(), sweep, np.where(ok, seed_nodes, -1), head_ms, limit_s=limit
        )
    n_cols = hierarchy.n_nodes if cols is None else len(cols)
    best = np.full((len(seed_nodes), n_cols), _INF_WEIGHT_MS, dtype=np.int64)
    for j in range(seed_nodes.shape[1]):
        ok = (seed_nodes[:, j] >= 0) & np.isfinite(seed_s[:, j])
        if not ok.any():
            continue
        head_ms = np.rint(seed_s[ok, j] * _TICKS_PER_S).astype(np.int64)
        ms = _cch_node_ms(hierarchy, seed_nodes[ok, j], cols)
        ms = np.where(ms >= _INF_WEIGHT_MS, _INF_WEIGHT_MS, ms + head_ms[:, None])
        best[ok] = np.minimum(best[ok], ms) if seed_nodes.shape[1] > 1 else ms
    out = best.astype(np.float64)
    out /= _TICKS_PER_S
    out[(best >= _INF_WEIGHT_MS) | (out > limit)] = np.inf
    return out


@dataclass(frozen=True, eq=False)
class QueryPlan:
    """One query, ready to run on chunks of sources (made by :func:`plan_query`).

    Everything but the sources, so that it can be sent to each worker once.

    Attributes
    ----------
    engine
        ``"dijkstra"``, ``"scipy"`` or ``"cch"``.
    matrix
        scipy: the CSR graph (with the virtual sources' nodes appended).
    hierarchy
        cch: the hierarchy.
    cols
        Target node rows, ``None`` for every node.
    limit
        Cutoff, s (``inf`` for none).
    n_cols
        Number of targets (columns of every row).
    kernel
        dijkstra: the graph renumbered for the compiled Dijkstra.
    sweep
        cch with numba: the part of the compiled hierarchy the targets need.
    """

    engine: str
    matrix: sp.csr_array | None
    hierarchy: Hierarchy | None
    cols: np.ndarray | None
    limit: float
    n_cols: int
    kernel: KernelGraph | None = None
    sweep: compiled.TargetSweep | None = None

    def rows(self, sources: Sources) -> np.ndarray:
        """``(len(sources), n_cols)`` times, s, from sources as returned by :func:`plan_query`."""
        if self.engine == "cch":
            assert self.hierarchy is not None
            return _cch_rows(self.hierarchy, sources, self.cols, self.limit, self.sweep)
        if self.engine == "dijkstra":
            assert self.kernel is not None
            return search_rows(self.kernel, *_seeds(sources), self.cols, self.limit)
        assert self.matrix is not None and isinstance(sources, np.ndarray)
        rows = scipy_rows(self.matrix, sources, targets=self.cols, cutoff_s=self.limit)
        # all nodes: not the virtual nodes appended after them
        return rows if rows.shape[1] == self.n_cols else rows[:, : self.n_cols]

    @property
    def n_nodes(self) -> int:
        """Nodes of the graph the plan searches (with any virtual nodes appended)."""
        if self.matrix is not None:
            return int(self.matrix.shape[0])
        if self.kernel is not None:
            return self.kernel.n_nodes
        return self.hierarchy.n_nodes if self.hierarchy is not None else self.n_cols


def plan_query(
    ttg: TravelTimeGraph,
    sources: Sources,
    targets: np.ndarray | None = None,
    *,
    cutoff_s: float = math.inf,
    settings: EngineSettings | None = None,
    hierarchy: Hierarchy | None = None,
) -> tuple[QueryPlan, Sources]:
    """Choose the engine for a query and prepare it.

    Parameters are those of :func:`iter_blocks`.

    Returns
    -------
    plan, sources
        The plan, and the sources to pass (in chunks) to :meth:`QueryPlan.rows`:
        for scipy, virtual sources become rows of the augmented graph.
    """
    n = ttg.n_nodes
    settings = settings or ttg.engine_settings
    hierarchy = hierarchy or ttg.hierarchy
    cols = None if targets is None else np.asarray(targets, dtype=np.int64)
    if cols is not None and len(cols) and (cols.min() < 0 or cols.max() >= n):
        raise ParameterError("targets: node rows out of range")
    if hierarchy is not None and hierarchy.n_nodes != n:
        raise ParameterError("hierarchy: built for another network (node count differs)")
    n_cols = n if cols is None else len(cols)
    if not isinstance(sources, VirtualSources):
        sources = np.asarray(sources, dtype=np.int64)
        if len(sources) and (sources.min() < 0 or sources.max() >= n):
            raise ParameterError("sources: node rows out of range")
    seeds = 1.0
    if isinstance(sources, VirtualSources) and len(sources):
        seeds = float(((sources.nodes >= 0) & np.isfinite(sources.offset_s)).sum() / len(sources))
    engine = choose_engine(
        n,
        n_cols,
        cutoff_s,
        settings=settings,
        hierarchy=hierarchy,
        seeds_per_source=seeds,
        n_sources=len(sources),
    )
    if engine == "cch":
        assert hierarchy is not None
        sweep = _target_sweep(hierarchy, cols)
        return QueryPlan("cch", None, hierarchy, cols, cutoff_s, n_cols, sweep=sweep), sources
    if engine == "dijkstra":
        return QueryPlan("dijkstra", None, None, cols, cutoff_s, n_cols, ttg.kernel), sources
    if isinstance(sources, VirtualSources):
        matrix = augmented_matrix(ttg.matrix, sources)
        plan = QueryPlan("scipy", matrix, None, cols, cutoff_s, n_cols)
        return plan, np.arange(len(sources), dtype=np.int64) + n
    return QueryPlan("scipy", ttg.matrix, None, cols, cutoff_s, n_cols), sources


# ---------------------------------------------------------------------------
# Threads (compiled Dijkstra, CCH); worker processes writing into shared memory (scipy)
# ---------------------------------------------------------------------------

_PROC: dict[str, Any] = {}


def _proc_init(plan: QueryPlan, buffer: Any, shape: tuple[int, int, int]) -> None:
    _PROC["plan"] = plan
    _PROC["out"] = np.frombuffer(buffer, dtype=np.float64)[: math.prod(shape)].reshape(shape)


def _proc_chunk(slot: int, row0: int, sources: Sources) -> None:
    out = _PROC["out"]
    out[slot, row0 : row0 + len(sources)] = _PROC["plan"].rows(sources)


class EnginePool:
    """Several cores for many chunks of one query plan.

    The compiled Dijkstra and the CCH release Python's GIL, so they run in
    threads of this process that share the graph and write into one buffer.
    scipy holds the GIL, so its rows come from worker processes, which
    write them straight into a shared-memory buffer (nothing is pickled
    back). The buffer holds
    two slots of ``max_rows`` rows: one being filled while the caller reads
    the other. Use as a context manager.
    """

    def __init__(self, plan: QueryPlan, workers: int, max_rows: int) -> None:
        self.plan = plan
        self.workers = workers
        self.max_rows = max_rows
        shape = (2, max_rows, plan.n_cols)
        self._pool: ProcessPoolExecutor | ThreadPoolExecutor
        if plan.engine == "scipy":
            buffer = RawArray("d", max(1, math.prod(shape)))
            self._out = np.frombuffer(buffer, dtype=np.float64)[: math.prod(shape)].reshape(shape)
            self._pool = ProcessPoolExecutor(
                max_workers=workers, initializer=_proc_init, initargs=(plan, buffer, shape)
            )
        else:
            self._out = np.empty(shape)
            self._pool = ThreadPoolExecutor(max_workers=workers)

    def __enter__(self) -> EnginePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _fill(self, slot: int, row0: int, chunk: Sources) -> None:
        self._out[slot, row0 : row0 + len(chunk)] = self.plan.rows(chunk)

    def submit(self, slot: int, sources: Sources) -> list[Future[None]]:
        """Start filling ``slot`` (0 or 1) with the rows of ``sources`` (at most ``max_rows``)."""
        m = len(sources)
        if m > self.max_rows:
            raise ValueError(f"{m} sources: the pool holds at most {self.max_rows} per slot")
        size = max(1, math.ceil(m / (2 * self.workers)))  # a few chunks per worker
        if self.plan.sweep is not None:  # compiled CCH: whole batches of sources
            size = math.ceil(size / compiled.BATCH) * compiled.BATCH
        futures = []
        for lo in range(0, m, size):
            chunk = sources[lo : lo + size]
            if self.plan.engine == "scipy":
                futures.append(self._pool.submit(_proc_chunk, slot, lo, chunk))
            else:
                futures.append(self._pool.submit(self._fill, slot, lo, chunk))
        return futures

    def collect(self, slot: int, n_rows: int, futures: list[Future[None]]) -> np.ndarray:
        """Wait for ``futures`` and return a copy of the first ``n_rows`` rows of ``slot``."""
        for f in futures:
            f.result()
        return self._out[slot, :n_rows].copy()

    def rows(self, sources: Sources) -> np.ndarray:
        """:meth:`QueryPlan.rows` on all the cores (at most ``max_rows`` sources)."""
        return self.collect(0, len(sources), self.submit(0, sources))


def _parallel_blocks(
    plan: QueryPlan, sources: Sources, blocks: list[slice], workers: int
) -> Iterator[tuple[slice, np.ndarray]]:
    """Blocks computed on ``workers`` cores, in order, two in flight."""
    rows = max(b.stop - b.start for b in blocks)
    with EnginePool(plan, workers, rows) as pool:
        pending = pool.submit(0, sources[blocks[0]])
        for k, blk in enumerate(blocks):
            following = (
                pool.submit((k + 1) % 2, sources[blocks[k + 1]]) if k + 1 < len(blocks) else []
            )
            yield blk, pool.collect(k % 2, blk.stop - blk.start, pending)
            pending = following


# ---------------------------------------------------------------------------
# The interface
# ---------------------------------------------------------------------------


def iter_blocks(
    ttg: TravelTimeGraph,
    sources: Sources,
    targets: np.ndarray | None = None,
    *,
    cutoff_s: float = math.inf,
    settings: EngineSettings | None = None,
    hierarchy: Hierarchy | None = None,
    workers: int = 1,
    block_size: int | None = None,
    progress: bool = False,
    desc: str = "travel times",
) -> Iterator[tuple[slice, np.ndarray]]:
    """Drive times from sources to target nodes, block by block, in source order.

    Parameters
    ----------
    ttg
        The CSR travel-time graph.
    sources
        Node rows (positions in ``ttg.node_ids``), or :class:`VirtualSources`.
    targets
        Target node rows; ``None`` for every node, in row order.
    cutoff_s
        Drive-time limit, s; times beyond it are ``inf``. ``inf`` for none.
    settings
        The engine to use (default: the graph's ``engine_settings``, ``"auto"``
        unless set otherwise; see :func:`choose_engine`).
    hierarchy
        A contraction hierarchy of the network (:func:`build_hierarchy`);
        default: the graph's own, if it has one.
    workers
        Cores to use (:class:`EnginePool`: threads, or processes for scipy).
        Small queries run in the calling thread regardless.
    block_size
        Sources per block (default 64; fewer with several workers, so that
        the shared buffer stays under 256 MiB and every worker gets a share).
    progress
        Show a progress bar.
    desc
        Its label.

    Yields
    ------
    (slice, numpy.ndarray)
        The sources of the block and their ``(block, n_targets)`` times, s
        (``inf`` where unreachable or beyond the cutoff), the caller's to keep.
    """
    plan, src = plan_query(
        ttg, sources, targets, cutoff_s=cutoff_s, settings=settings, hierarchy=hierarchy
    )
    yield from iter_plan_blocks(
        plan, src, workers=workers, block_size=block_size, progress=progress, desc=desc
    )


def iter_plan_blocks(
    plan: QueryPlan,
    sources: Sources,
    *,
    workers: int = 1,
    block_size: int | None = None,
    progress: bool = False,
    desc: str = "travel times",
) -> Iterator[tuple[slice, np.ndarray]]:
    """:func:`iter_blocks` for a plan made by :func:`plan_query` (or :func:`scipy_plan`)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(f"workers = {workers!r}: must be a whole number >= 1")
    m = len(sources)
    compiled_cch = plan.sweep is not None
    least = _PARALLEL_MIN_WORK if plan.engine == "scipy" or compiled_cch else _THREAD_MIN_WORK
    if m * max(plan.n_nodes, 1) < least:
        workers = 1
    size = _BLOCK if block_size is None else int(block_size)
    if workers > 1 and compiled_cch and block_size is None:
        size = _CCH_PARALLEL_BLOCK  # its chunks are cheap: fewer, larger ones pay
    if workers > 1:
        size = min(size, max(workers, _SHARED_BYTES // (16 * max(plan.n_cols, 1))))
        size = max(1, min(size, math.ceil(m / workers)))
        if plan.sweep is not None:  # compiled CCH: whole batches of sources
            size = math.ceil(size / compiled.BATCH) * compiled.BATCH
    blocks = [slice(i, min(i + size, m)) for i in range(0, m, size)]
    if len(blocks) == 1 and not progress:  # a small query: no bar, no pool
        yield blocks[0], plan.rows(sources[blocks[0]])
        return
    bar = tqdm(total=m, desc=desc, unit="source", disable=not progress, leave=False)
    try:
        if workers <= 1 or len(blocks) <= 1:
            for blk in blocks:
                rows = plan.rows(sources[blk])
                bar.update(blk.stop - blk.start)
                yield blk, rows
        else:
            for blk, rows in _parallel_blocks(plan, sources, blocks, workers):
                bar.update(blk.stop - blk.start)
                yield blk, rows
    finally:
        bar.close()


def scipy_plan(
    matrix: sp.csr_array, targets: np.ndarray | None = None, *, cutoff_s: float = math.inf
) -> QueryPlan:
    """A plan for Dijkstra on a given CSR matrix (for example one with virtual nodes appended)."""
    cols = None if targets is None else np.asarray(targets, dtype=np.int64)
    n_cols = int(matrix.shape[0]) if cols is None else len(cols)
    return QueryPlan("scipy", matrix, None, cols, cutoff_s, n_cols)


def scipy_rows(
    matrix: sp.csr_array,
    sources: np.ndarray,
    *,
    targets: np.ndarray | None = None,
    cutoff_s: float = math.inf,
) -> np.ndarray:
    """Dijkstra rows from ``sources`` (rows of ``matrix``) to ``targets`` (all if None), s."""
    dist = dijkstra(matrix, directed=True, indices=sources, limit=cutoff_s)
    return dist if targets is None else dist[:, targets]


def many_to_many(
    ttg: TravelTimeGraph,
    sources: Sources,
    targets: np.ndarray | None = None,
    *,
    cutoff_s: float = math.inf,
    settings: EngineSettings | None = None,
    hierarchy: Hierarchy | None = None,
    workers: int = 1,
    progress: bool = False,
) -> np.ndarray:
    """All of :func:`iter_blocks` as one ``(len(sources), n_targets)`` array, s."""
    n_cols = ttg.n_nodes if targets is None else len(targets)
    out = np.empty((len(sources), n_cols), dtype=np.float64)
    for blk, rows in iter_blocks(
        ttg,
        sources,
        targets,
        cutoff_s=cutoff_s,
        settings=settings,
        hierarchy=hierarchy,
        workers=workers,
        progress=progress,
    ):
        out[blk] = rows
    return out
