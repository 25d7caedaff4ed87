"""Sparse, bounded travel-time matrices computed in blocks of origins.

:func:`compute_matrix` gives the drive times (s) from many origins (stations,
candidate sites: snapped points or node ids) to many targets (demand points,
candidate sites: snapped points or node ids, or every node) as a sparse
matrix that holds only the times within a cutoff. It never holds a dense
``origins × nodes`` array: origins are split into blocks, each block is one
Dijkstra call on the CSR graph of :mod:`planner.network.travel_times` (the same
compiled search and the same helpers as :func:`~planner.network.travel_times.point_times`
and :func:`~planner.network.travel_times.node_times`, so the times are identical to
theirs, bit for bit), and only the block's entries within the cutoff are
kept.

Storage convention (:class:`TravelTimeMatrix`): a ``scipy.sparse.csr_array``
of shape ``(n_origins, n_targets)``, float64 seconds. **Stored entries are
the reachable pairs with a time <= the cutoff; a pair that is not stored is
unreachable or beyond the cutoff (time ``inf``), never 0.** An origin on a
target has time 0, and that 0 is stored as an explicit entry: never apply
``eliminate_zeros()`` or sparse arithmetic that drops zeros to this matrix;
use :meth:`TravelTimeMatrix.to_dense`, :meth:`~TravelTimeMatrix.nearest` and
:meth:`~TravelTimeMatrix.k_nearest`, which read the stored entries.

Blocks run where an executor from :mod:`planner.distributed` puts them: in
this process by default, or on a Dask cluster. Results are assembled in
block order, so they are identical however they were run.

With ``store=<folder>``, each finished block is written there at once (one
``.npz`` file per block, written atomically) next to a ``manifest.json`` that
records a key hashed from the graph, the origins, the targets, the cutoff,
the block size, the store format and the planner version. A later run with the
same inputs loads the finished blocks and computes only the missing ones, so
an interrupted run resumes where it stopped; a store made for other inputs is
refused with an error naming what differs, never mixed in. Every block file
records the store's key and its own index too and is read with
``allow_pickle=False``: a block of another store or of another place in this
one, a damaged block or one holding Python objects is computed again (with a
:class:`~planner.errors.CacheWarning`), never used. The store folder is
checked like a cache folder (:func:`planner.cache.prepare_cache_folder`:
refused if every user may write to it, a warning if others may) and temporary
files of killed runs are removed.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import hashlib
import io
import json
import math
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from planner import __version__, constants
from planner.cache import atomic_write_bytes, prepare_cache_folder
from planner.distributed import BlockExecutor, InProcessExecutor
from planner.errors import CacheWarning, InputFileError, ParameterError
from planner.network import engine
from planner.network.cch import BATCH
from planner.network.travel_times import (
    TravelTimeGraph,
    arrival_rows,
    arrival_times,
    nearest_rows,
    origin_sources,
    same_road_pairs,
    validate_cutoff,
)

if TYPE_CHECKING:  # workers need not import geopandas through snapping
    from planner.network.snapping import SnappedPoints

__all__ = [
    "NearestTimes",
    "TravelTimeMatrix",
    "compute_matrix",
    "compute_nearest",
    "default_block_size",
    "merge_nearest",
    "resolve_block_size",
    "store_folder",
]

#: Bump when the layout of a block store changes (2: blocks record the store key).
STORE_FORMAT = 2
_MANIFEST = "manifest.json"

#: Test hook: seconds each block sleeps before its search (0 in real runs).
#: Set by the tests to make blocks slow enough to kill a worker mid-run.
_BLOCK_DELAY_S = 0.0


@dataclass(frozen=True, eq=False)
class TravelTimeMatrix:
    """Drive times from origins to targets within a cutoff, stored sparse.

    Compare two matrices with :meth:`same_times` (``==`` is identity).

    Attributes
    ----------
    times
        ``(n_origins, n_targets)`` CSR array of drive times, s (float64).
        Stored entries are the pairs reached within ``cutoff_s`` (explicit
        zeros included: an origin on a target has time 0); absent pairs are
        unreachable or beyond the cutoff (``inf``).
    cutoff_s
        Drive-time limit, s (``inf`` for none).
    block_size
        Origins per block.
    computed_blocks, loaded_blocks
        Blocks computed in this run and blocks loaded from the store.
    block_bytes
        Estimated working memory of one block while it runs, bytes (dense
        Dijkstra rows and the block's target columns): the peak of each
        worker beyond the graph.
    peak_bytes
        Estimated peak memory of the calling process for the result, bytes:
        the finished blocks plus the assembled matrix, plus one running block
        when blocks run in this process.
    seconds
        Wall-clock time of the run, s.
    """

    times: sp.csr_array
    cutoff_s: float
    block_size: int
    computed_blocks: tuple[int, ...] = ()
    loaded_blocks: tuple[int, ...] = ()
    block_bytes: int = 0
    peak_bytes: int = 0
    seconds: float = field(default=0.0, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_origins, n_targets)``."""
        rows, cols = self.times.shape
        return int(rows), int(cols)

    @property
    def nnz(self) -> int:
        """Number of stored (reached) pairs."""
        return int(self.times.nnz)

    @property
    def nbytes(self) -> int:
        """Memory of the stored matrix, bytes (data, column indices and row pointers)."""
        t = self.times
        return int(t.data.nbytes + t.indices.nbytes + t.indptr.nbytes)

    def same_times(self, other: TravelTimeMatrix) -> bool:
        """Whether ``other`` stores exactly the same pairs and times, bit for bit."""
        a, b = self.times, other.times
        return (
            a.shape == b.shape
            and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.data.view(np.int64), b.data.view(np.int64))
        )

    def _coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.times
        rows = np.repeat(np.arange(t.shape[0], dtype=np.int64), np.diff(t.indptr))
        return rows, t.indices.astype(np.int64, copy=False), t.data

    def to_dense(self) -> np.ndarray:
        """The full ``(n_origins, n_targets)`` array, s, ``inf`` for absent pairs."""
        out = np.full(self.shape, np.inf)
        rows, cols, data = self._coo()
        out[rows, cols] = data
        return out

    def _by_target(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Entries grouped by target: (column pointers, origin rows, times)."""
        # CSR -> CSC keeps every stored entry (zeros too), rows ascending per column
        csc = self.times.tocsc()
        return csc.indptr, csc.indices.astype(np.int64, copy=False), csc.data

    def nearest(self) -> tuple[np.ndarray, np.ndarray]:
        """Time from the nearest origin, and which one, per target.

        Returns
        -------
        times, origin
            ``(n_targets,)`` drive time, s (``inf`` if no origin reaches the
            target within the cutoff), and the row of the nearest origin
            (``-1`` if none; the first origin among equal times, as
            :func:`numpy.argmin` on the dense matrix).
        """
        times, origin = self.k_nearest(1)
        return times[:, 0], origin[:, 0]

    def k_nearest(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest origins per target, nearest first.

        Parameters
        ----------
        k
            How many origins per target (>= 1).

        Returns
        -------
        times, origin
            ``(n_targets, k)`` drive times, s, and origin rows; ``inf`` and
            ``-1`` where fewer than ``k`` origins reach the target. Equal
            times are ordered by origin row.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ParameterError(f"k = {k!r}: must be a whole number >= 1")
        n_targets = self.shape[1]
        times = np.full((n_targets, k), np.inf)
        origin = np.full((n_targets, k), -1, dtype=np.int64)
        indptr, rows, data = self._by_target()
        col = np.repeat(np.arange(n_targets, dtype=np.int64), np.diff(indptr))
        if k == 1:
            # minimum per column, then its first (lowest) row: O(nnz), no sort
            nonempty = np.flatnonzero(np.diff(indptr) > 0)
            if len(nonempty):
                best = np.minimum.reduceat(data, indptr[nonempty])
                col_best = np.full(n_targets, np.inf)
                col_best[nonempty] = best
                hit = np.flatnonzero(data == col_best[col])
                first = hit[np.r_[True, np.diff(col[hit]) != 0]]
                times[col[first], 0] = data[first]
                origin[col[first], 0] = rows[first]
            return times, origin
        order = np.lexsort((rows, data, col))
        rank = np.arange(len(order)) - indptr[col[order]]
        keep = rank < k
        sel = order[keep]
        times[col[sel], rank[keep]] = data[sel]
        origin[col[sel], rank[keep]] = rows[sel]
        return times, origin


@dataclass(frozen=True, eq=False)
class NearestTimes:
    """Time from the nearest origin, and which one, per target (no matrix kept).

    Attributes
    ----------
    times
        ``(n_targets,)`` drive time from the nearest origin, s; ``inf`` if no
        origin reaches the target within ``cutoff_s``.
    origin
        ``(n_targets,)`` row (position in the origins) of the nearest
        origin, ``-1`` if none; the first origin among equal times, as
        :func:`numpy.argmin` on the dense matrix.
    cutoff_s, block_size, computed_blocks, loaded_blocks, block_bytes, seconds
        As in :class:`TravelTimeMatrix`.
    """

    times: np.ndarray
    origin: np.ndarray
    cutoff_s: float
    block_size: int
    computed_blocks: tuple[int, ...] = ()
    loaded_blocks: tuple[int, ...] = ()
    block_bytes: int = 0
    seconds: float = field(default=0.0, compare=False)


# ---------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shared:
    """What every block needs, sent to each worker once."""

    plan: engine.QueryPlan  # the engine and its graph, to the node columns below
    n_nodes: int  # real nodes (columns kept of the rows when every node is a target)
    limit: float
    all_nodes: bool  # targets are every node (the plan's columns may include virtual nodes)
    arrive_pos: np.ndarray | None  # (T, 2) arrival columns of the plan's rows (point targets)
    arrive_s: np.ndarray | None  # (T, 2) arrival times, s
    reduce: bool = False  # keep only the nearest origin per target
    # cores for each block, when blocks run in this process (never sent to a worker)
    pool: engine.EnginePool | None = field(default=None, compare=False)


@dataclass(frozen=True)
class _Task:
    """One block: its graph rows and the same-road pairs of its origins."""

    sources: engine.Sources  # node rows of the plan's graph, or virtual sources
    pair_row: np.ndarray  # row within the block
    pair_col: np.ndarray
    pair_s: np.ndarray
    delay_s: float = 0.0
    first_row: int = 0  # origin row of the block's first source


@dataclass(frozen=True)
class _Block:
    """A finished block: CSR parts of its rows."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes + self.data.nbytes)


@dataclass(frozen=True)
class _Nearest:
    """A finished block of :func:`compute_nearest`: its nearest origin per target."""

    times: np.ndarray
    origin: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.times.nbytes + self.origin.nbytes)


def _block_times(shared: _Shared, task: _Task) -> _Block | _Nearest:
    """Drive times of one block of origins to the targets, as CSR parts (pure)."""
    if task.delay_s:
        time.sleep(task.delay_s)
    if shared.pool is not None and len(task.sources) <= shared.pool.max_rows:
        dist = shared.pool.rows(task.sources)
    else:
        dist = shared.plan.rows(task.sources)
    if shared.arrive_pos is not None:
        assert shared.arrive_s is not None
        out = arrival_times(dist, shared.arrive_pos, shared.arrive_s)
        if len(task.pair_row):
            np.minimum.at(out, (task.pair_row, task.pair_col), task.pair_s)
        out[out > shared.limit] = np.inf
    elif shared.all_nodes:
        out = dist[:, : shared.n_nodes]
    else:
        out = dist
    del dist
    if shared.reduce:
        best, row = nearest_rows(out)
        return _Nearest(best, np.where(row >= 0, row + task.first_row, -1))
    keep = np.isfinite(out)
    counts = keep.sum(axis=1)
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    _, cols = np.nonzero(keep)
    index_dtype = np.int32 if out.shape[1] < 2**31 else np.int64
    return _Block(indptr=indptr, indices=cols.astype(index_dtype), data=out[keep])


def default_block_size(n_nodes: int, n_origins: int) -> int:
    """Origins per block for ``n_origins`` origins on a graph of ``n_nodes`` nodes.

    At most :data:`planner.constants.MATRIX_MAX_BLOCK`; small enough that a
    block's dense Dijkstra rows (``block × n_nodes × 8`` bytes) stay under
    :data:`planner.constants.MATRIX_BLOCK_BYTES`; and small enough to make at
    least :data:`planner.constants.MATRIX_MIN_BLOCKS` blocks, so that every
    worker gets a share. Above :data:`planner.network.cch.BATCH` it is a
    multiple of it (the compiled hierarchy answers whole batches of sources).
    It does not depend on the executor, so a block store can be resumed
    anywhere.
    """
    fits = constants.MATRIX_BLOCK_BYTES // max(8 * int(n_nodes), 1)
    share = math.ceil(int(n_origins) / constants.MATRIX_MIN_BLOCKS)
    size = int(max(1, min(constants.MATRIX_MAX_BLOCK, fits, share)))
    return size - size % BATCH if size > BATCH else size


def resolve_block_size(block_size: int | None, n_nodes: int, n_origins: int) -> int:
    """``block_size`` checked, or :func:`default_block_size` when it is ``None``.

    Raises
    ------
    ParameterError
        When ``block_size`` is not a whole number >= 1.
    """
    size = default_block_size(n_nodes, n_origins) if block_size is None else block_size
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ParameterError(f"block_size = {block_size!r}: must be a whole number >= 1")
    return int(size)


def _is_points(obj: object) -> TypeGuard[SnappedPoints]:
    return hasattr(obj, "depart_node") and hasattr(obj, "arrive_node")


def _digest(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        arr = np.asarray(a)
        if arr.dtype == object:
            arr = arr.astype(str)
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _points_digest(points: SnappedPoints) -> str:
    return _digest(*(getattr(points, f.name) for f in dataclasses.fields(points)))


def _graph_digest(ttg: TravelTimeGraph) -> str:
    m = ttg.matrix
    return _digest(m.indptr, m.indices, m.data, ttg.node_ids)


def _endpoint_key(ttg: TravelTimeGraph, points: Any, argument: str) -> str:
    """What a store records of origins or targets: a digest of the points or node positions."""
    if points is None:
        return "all nodes"
    if _is_points(points):
        return "points:" + _points_digest(points)
    return "nodes:" + _digest(ttg.positions(points, argument=argument))


def store_folder(
    parent: str | Path,
    ttg: TravelTimeGraph,
    origins: SnappedPoints | Sequence[int] | np.ndarray,
    targets: SnappedPoints | Sequence[int] | np.ndarray | None = None,
    *,
    cutoff_s: float | None,
    kind: str = "matrix",
) -> Path:
    """A block-store folder under ``parent`` named for these inputs.

    Pass it as ``store`` to :func:`compute_matrix` (``kind="matrix"``) or
    :func:`compute_nearest` (``kind="nearest"``): a rerun with the same
    graph, origins, targets, cutoff and engine settings resumes from (or
    reuses) its finished blocks, and other inputs get a folder of their own instead of being
    refused. The name is 16 hex digits of a SHA-256 of the inputs and the
    planner version.
    """
    if kind not in ("matrix", "nearest"):
        raise ParameterError(f"kind = {kind!r}: use 'matrix' or 'nearest'")
    limit = validate_cutoff(cutoff_s, argument="cutoff_s")
    inputs = [
        kind,
        _graph_digest(ttg),
        _endpoint_key(ttg, origins, "origins"),
        _endpoint_key(ttg, targets, "targets"),
        None if math.isinf(limit) else limit,
        # the engine is chosen from these (and the query): another engine, another folder
        ttg.engine_settings.engine,
        None if ttg.hierarchy is None else ttg.hierarchy.topology_key,
        __version__,
        STORE_FORMAT,
    ]
    key = _digest(np.frombuffer(json.dumps(inputs).encode(), np.uint8))[:16]
    return Path(parent) / f"{kind}-{key}"


# ---------------------------------------------------------------------------
# Block store
# ---------------------------------------------------------------------------


def _block_path(store: Path, index: int) -> Path:
    return store / f"block-{index:06d}.npz"


def _open_store(store: Path, manifest: dict[str, Any]) -> None:
    """Create the store, or check that an existing one was made for these inputs."""
    path = store / _MANIFEST
    if store.exists() and not store.is_dir():
        raise ParameterError(f"store: {store} exists and is not a folder")
    prepare_cache_folder(store)
    if path.exists():
        try:
            old = json.loads(path.read_text())
            if not isinstance(old, dict) or not isinstance(old.get("inputs"), dict):
                raise ValueError("not a JSON object with inputs")
        except (OSError, ValueError) as exc:
            raise InputFileError(f"store: {path} is not a readable block-store manifest") from exc
        if old.get("key") != manifest["key"]:
            differ = [
                name
                for name in (
                    "kind",
                    "graph",
                    "origins",
                    "targets",
                    "cutoff_s",
                    "block_size",
                    "engine",
                    "planner",
                    "format",
                )
                if old["inputs"].get(name) != manifest["inputs"][name]
            ] or ["format"]
            raise ParameterError(
                f"store: {store} holds blocks of another matrix (different "
                f"{', '.join(differ)}); use another folder or delete it"
            )
        return
    if any(store.glob("block-*.npz")):
        raise ParameterError(f"store: {store} holds block files but no {_MANIFEST}; delete them")
    atomic_write_bytes(path, json.dumps(manifest, indent=1, sort_keys=True).encode())


def _save_block(store: Path, index: int, block: _Block | _Nearest, key: str) -> None:
    buf = io.BytesIO()
    arrays = {f.name: getattr(block, f.name) for f in dataclasses.fields(block)}
    np.savez(buf, store_key=np.array(key), block_index=np.array(index, dtype=np.int64), **arrays)
    atomic_write_bytes(_block_path(store, index), buf.getvalue())


#: The arrays of a stored block, with the dtype kinds each may have.
_BLOCK_ARRAYS = {"indptr": "iu", "indices": "iu", "data": "f"}
_NEAREST_ARRAYS = {"times": "f", "origin": "i"}


def _read_block_arrays(
    path: Path, key: str, index: int, kinds: dict[str, str]
) -> dict[str, np.ndarray]:
    """The arrays of block ``index`` of store ``key`` (no pickle); ValueError if it is not."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise ValueError("it is not an .npz file")
        fh.seek(0)
        try:
            f = np.load(fh, allow_pickle=False)
        except zipfile.BadZipFile as exc:
            raise ValueError(f"it is a damaged .npz file: {exc}") from None
        with f:
            if set(f.files) != {"store_key", "block_index", *kinds}:
                raise ValueError("it holds other arrays than a block")
            made_for, made_as = f["store_key"], f["block_index"]
            if made_for.dtype.kind != "U" or made_for.shape != () or str(made_for) != key:
                raise ValueError("it was made for another store")
            if made_as.dtype.kind != "i" or made_as.shape != () or int(made_as) != index:
                raise ValueError("it was made as another block of the store")
            try:
                arrays = {name: f[name] for name in kinds}
            except zipfile.BadZipFile as exc:
                raise ValueError(f"it is a damaged .npz file: {exc}") from None
    for name, allowed in kinds.items():
        if arrays[name].ndim != 1 or arrays[name].dtype.kind not in allowed:
            raise ValueError(f"its {name} is not a 1-d array of the right type")
    return arrays


def _load_block(
    store: Path, index: int, n_rows: int, n_targets: int, *, reduce: bool, key: str
) -> _Block | _Nearest | None:
    """A stored block, or ``None`` if missing or unusable (then recomputed)."""
    path = _block_path(store, index)
    if not path.exists():
        return None
    try:
        if reduce:
            a = _read_block_arrays(path, key, index, _NEAREST_ARRAYS)
            near = _Nearest(times=a["times"], origin=a["origin"])
            if not len(near.times) == len(near.origin) == n_targets:
                raise ValueError("it has the wrong number of targets")
            return near
        a = _read_block_arrays(path, key, index, _BLOCK_ARRAYS)
        block = _Block(indptr=a["indptr"], indices=a["indices"], data=a["data"])
        ok = (
            len(block.indptr) == n_rows + 1
            and block.indptr[0] == 0
            and block.indptr[-1] == len(block.indices) == len(block.data)
            and (len(block.indices) == 0 or int(block.indices.min()) >= 0)
            and (len(block.indices) == 0 or int(block.indices.max()) < n_targets)
        )
        if not ok:
            raise ValueError("its rows or columns do not fit the matrix")
        return block
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(
            f"store: block file {path} is not usable ({exc}); its block is computed again",
            CacheWarning,
            stacklevel=2,
        )
        return None


# ---------------------------------------------------------------------------
# The matrix
# ---------------------------------------------------------------------------


def compute_matrix(
    ttg: TravelTimeGraph,
    origins: SnappedPoints | Sequence[int] | np.ndarray,
    targets: SnappedPoints | Sequence[int] | np.ndarray | None = None,
    *,
    cutoff_s: float | None,
    block_size: int | None = None,
    store: str | Path | None = None,
    executor: BlockExecutor | None = None,
    progress: bool = False,
    on_block: Callable[[int], None] | None = None,
    settings: engine.EngineSettings | None = None,
    workers: int = 1,
) -> TravelTimeMatrix:
    """Drive times from origins to targets within a cutoff, as a sparse matrix.

    Parameters
    ----------
    ttg
        The CSR travel-time graph (:func:`planner.network.travel_times.build_travel_time_graph`).
    origins
        Snapped points (:class:`planner.network.snapping.SnappedPoints`, EPSG:3006)
        or OSM node ids to start from.
    targets
        Snapped points or OSM node ids to reach; ``None`` for every node in
        ``ttg.node_ids`` order.
    cutoff_s
        Drive-time limit, s; pairs beyond it are not stored. ``None`` stores
        every reachable pair (the matrix may then be large).
    block_size
        Origins per block; default :func:`default_block_size` of the graph.
    store
        Folder of finished blocks: written as they finish, read back on a
        rerun with the same inputs (see the module docstring).
    executor
        Where blocks run (:func:`planner.distributed.make_executor`); default
        in this process. The caller closes it.
    progress
        Show a progress bar over blocks, with the memory of the blocks so far.
    on_block
        Called with each block's index once it is finished (and stored).
        An exception it raises stops the run; stored blocks stay stored.
    settings
        The engine (default ``"auto"``: Dijkstra, or the network's contraction
        hierarchy where it is faster; :func:`planner.network.engine.choose_engine`).
        The engine chosen is part of a block store's key.
    workers
        Cores for each block when blocks run in this process (no executor):
        worker processes writing into shared memory, or threads for the
        hierarchy (:class:`planner.network.engine.EnginePool`).

    Returns
    -------
    TravelTimeMatrix
        Times, s, equal to ``point_times``/``node_times`` for the same
        inputs wherever those are within the cutoff.

    Raises
    ------
    ParameterError
        For a bad cutoff or block size, unknown node ids, no origins or
        targets, or a store made for other inputs.
    """
    result = _compute(
        ttg,
        origins,
        targets,
        cutoff_s=cutoff_s,
        block_size=block_size,
        store=store,
        executor=executor,
        progress=progress,
        on_block=on_block,
        settings=settings,
        workers=workers,
        reduce=False,
    )
    assert isinstance(result, TravelTimeMatrix)
    return result


def compute_nearest(
    ttg: TravelTimeGraph,
    origins: SnappedPoints | Sequence[int] | np.ndarray,
    targets: SnappedPoints | Sequence[int] | np.ndarray | None = None,
    *,
    cutoff_s: float | None,
    block_size: int | None = None,
    store: str | Path | None = None,
    executor: BlockExecutor | None = None,
    progress: bool = False,
    on_block: Callable[[int], None] | None = None,
    settings: engine.EngineSettings | None = None,
    workers: int = 1,
) -> NearestTimes:
    """Time from the nearest origin, and which one, per target, without a matrix.

    The same blocks as :func:`compute_matrix` (same arguments, same
    executors, same block store semantics; a store of one is refused by the
    other), but each block keeps only its nearest origin per target, so
    memory is ``O(targets)`` whatever the number of origins: the reduction
    isochrones and coverage need over every node of a national graph.

    Returns
    -------
    NearestTimes
        Equal to ``compute_matrix(...).nearest()``, bit for bit.
    """
    result = _compute(
        ttg,
        origins,
        targets,
        cutoff_s=cutoff_s,
        block_size=block_size,
        store=store,
        executor=executor,
        progress=progress,
        on_block=on_block,
        settings=settings,
        workers=workers,
        reduce=True,
    )
    assert isinstance(result, NearestTimes)
    return result


@dataclass(frozen=True)
class _Endpoints:
    """Origins and targets as the engine sees them."""

    sources: engine.Sources  # node rows, or virtual sources (points)
    n_origins: int
    graph_rows: int  # rows of Dijkstra's graph (one virtual node per origin point)
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]  # same-road pairs (row, column, s)
    cols: np.ndarray | None  # node columns the engine returns (None: every node)
    arrive_pos: np.ndarray | None  # (T, 2) arrival columns of point targets
    arrive_s: np.ndarray | None
    n_targets: int


def _endpoints(
    ttg: TravelTimeGraph,
    origins: SnappedPoints | Sequence[int] | np.ndarray,
    targets: SnappedPoints | Sequence[int] | np.ndarray | None,
) -> _Endpoints:
    """Origins -> node rows or virtual sources; targets -> the node columns to return."""
    n = ttg.n_nodes
    pairs = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    sources: engine.Sources
    if _is_points(origins):
        sources = origin_sources(ttg, origins)
        n_origins, graph_rows = len(origins), n + len(origins)
        if targets is not None and _is_points(targets):
            pairs = same_road_pairs(origins, targets)
    else:
        sources = ttg.positions(origins, argument="origins")  # type: ignore[arg-type]
        n_origins, graph_rows = len(sources), n
    if n_origins == 0:
        raise ParameterError("origins: no origins given")
    cols = arrive_pos = arrive_s = None
    if targets is None:
        n_targets = n
    elif _is_points(targets):
        arrive_all = arrival_rows(ttg, targets)
        arrive_s = np.asarray(targets.arrive_s, dtype=np.float64)
        n_targets = len(arrive_all)
        has = arrive_all >= 0
        cols, inverse = np.unique(arrive_all[has], return_inverse=True)
        arrive_pos = np.full(arrive_all.shape, -1, dtype=np.int64)
        arrive_pos[has] = inverse.ravel()
    else:
        cols = ttg.positions(targets, argument="targets")  # type: ignore[arg-type]
        n_targets = len(cols)
    if n_targets == 0:
        raise ParameterError("targets: no targets given")
    return _Endpoints(sources, n_origins, graph_rows, pairs, cols, arrive_pos, arrive_s, n_targets)


def _tasks(sources: engine.Sources, ends: _Endpoints, size: int) -> list[_Task]:
    """One task per block of ``size`` origins, with its same-road pairs (rows in the block)."""
    m = ends.n_origins
    starts = list(range(0, m, size))
    pair_i, pair_j, pair_t = ends.pairs
    order = np.argsort(pair_i, kind="stable")
    pair_i, pair_j, pair_t = pair_i[order], pair_j[order], pair_t[order]
    bounds: np.ndarray = np.searchsorted(pair_i, np.asarray([*starts, m]))
    tasks = []
    for b, lo in enumerate(starts):
        hi, p = min(lo + size, m), slice(bounds[b], bounds[b + 1])
        tasks.append(
            _Task(sources[lo:hi], pair_i[p] - lo, pair_j[p], pair_t[p], _BLOCK_DELAY_S, lo)
        )
    return tasks


def _stored_blocks(
    store: Path,
    inputs: dict[str, Any],
    ends: _Endpoints,
    tasks: list[_Task],
    *,
    reduce: bool,
) -> tuple[str, list[Any]]:
    """Open (or create) the store for these inputs: its key and the blocks it holds."""
    key = _digest(np.frombuffer(json.dumps(inputs, sort_keys=True).encode(), np.uint8))
    manifest = {
        "key": key,
        "format": STORE_FORMAT,
        "inputs": inputs,
        "shape": [ends.n_origins, ends.n_targets],
        "n_blocks": len(tasks),
    }
    _open_store(store, manifest)
    blocks = [
        _load_block(store, b, len(task.sources), ends.n_targets, reduce=reduce, key=key)
        for b, task in enumerate(tasks)
    ]
    return key, blocks


def _compute(
    ttg: TravelTimeGraph,
    origins: SnappedPoints | Sequence[int] | np.ndarray,
    targets: SnappedPoints | Sequence[int] | np.ndarray | None = None,
    *,
    cutoff_s: float | None,
    block_size: int | None = None,
    store: str | Path | None = None,
    executor: BlockExecutor | None = None,
    progress: bool = False,
    on_block: Callable[[int], None] | None = None,
    settings: engine.EngineSettings | None = None,
    workers: int = 1,
    reduce: bool,
) -> TravelTimeMatrix | NearestTimes:
    """:func:`compute_matrix` (``reduce=False``) or :func:`compute_nearest`."""
    started = time.perf_counter()
    limit = validate_cutoff(cutoff_s, argument="cutoff_s")
    executor = executor if executor is not None else InProcessExecutor()
    ends = _endpoints(ttg, origins, targets)
    plan, sources = engine.plan_query(
        ttg, ends.sources, ends.cols, cutoff_s=limit, settings=settings, hierarchy=ttg.hierarchy
    )
    size = resolve_block_size(block_size, ends.graph_rows, ends.n_origins)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError(f"workers = {workers!r}: must be a whole number >= 1")
    tasks = _tasks(sources, ends, size)
    shared = _Shared(
        plan, ttg.n_nodes, limit, targets is None, ends.arrive_pos, ends.arrive_s, reduce
    )
    blocks: list[Any] = [None] * len(tasks)
    key = ""
    store_path = None if store is None else Path(store)
    if store_path is not None:
        inputs = {
            "kind": "nearest" if reduce else "matrix",
            "graph": _graph_digest(ttg),
            "origins": _endpoint_key(ttg, origins, "origins"),
            "targets": _endpoint_key(ttg, targets, "targets"),
            "cutoff_s": None if math.isinf(limit) else limit,
            "block_size": size,
            "engine": plan.engine,
            "planner": __version__,
            "format": STORE_FORMAT,
        }
        key, blocks = _stored_blocks(store_path, inputs, ends, tasks, reduce=reduce)
    loaded = [b for b, block in enumerate(blocks) if block is not None]
    block_bytes = 8 * size * (ends.graph_rows + 2 * ends.n_targets) + size * ends.n_targets
    todo = [(b, task) for b, task in enumerate(tasks) if blocks[b] is None]
    if workers > 1 and isinstance(executor, InProcessExecutor) and len(todo) > 1:
        shared = dataclasses.replace(shared, pool=engine.EnginePool(plan, workers, size))
    run = _BlockRun(blocks, ends.n_targets, reduce, store_path, key, on_block, progress)
    run.execute(executor, shared, todo)
    if reduce:
        times, origin = run.nearest
        return NearestTimes(
            times=times,
            origin=origin,
            cutoff_s=limit,
            block_size=size,
            computed_blocks=tuple(sorted(run.computed)),
            loaded_blocks=tuple(loaded),
            block_bytes=int(block_bytes),
            seconds=time.perf_counter() - started,
        )
    matrix = _assemble(blocks, ends.n_origins, ends.n_targets)
    in_process = isinstance(executor, InProcessExecutor)
    return TravelTimeMatrix(
        times=matrix,
        cutoff_s=limit,
        block_size=size,
        computed_blocks=tuple(sorted(run.computed)),
        loaded_blocks=tuple(loaded),
        block_bytes=int(block_bytes),
        # assembling copies block by block into arrays whose pages are touched
        # only as they fill, freeing each block: about one copy of the matrix
        peak_bytes=int(run.held + matrix.indptr.nbytes + (block_bytes if in_process else 0)),
        seconds=time.perf_counter() - started,
    )


class _BlockRun:
    """The blocks of one run: computed ones stored and merged (nearest) or kept (matrix)."""

    def __init__(
        self,
        blocks: list[Any],
        n_targets: int,
        reduce: bool,
        store: Path | None,
        key: str,
        on_block: Callable[[int], None] | None,
        progress: bool,
    ) -> None:
        self.blocks, self.reduce, self.store, self.key = blocks, reduce, store, key
        self.on_block, self.progress = on_block, progress
        self.computed: list[int] = []
        self.nearest = (np.full(n_targets, np.inf), np.full(n_targets, -1, dtype=np.int64))
        self.held = sum(blk.nbytes for blk in blocks if blk is not None)
        if reduce:  # loaded blocks are merged at once, not kept
            for b, block in enumerate(blocks):
                if block is not None:
                    merge_nearest(*self.nearest, block.times, block.origin)
                    blocks[b] = None
            self.held = 0

    def execute(
        self, executor: BlockExecutor, shared: _Shared, todo: list[tuple[int, _Task]]
    ) -> None:
        """Run the blocks still to do on ``executor``; store and merge each as it finishes."""
        n_blocks = len(self.blocks)
        bar = tqdm(
            total=n_blocks,
            initial=n_blocks - len(todo),
            desc="travel-time matrix",
            unit="block",
            disable=not self.progress,
            leave=False,
        )
        try:
            with closing(executor.map_blocks(_block_times, shared, todo)) as finished:
                for b, result in finished:
                    if self.store is not None:
                        _save_block(self.store, b, result, self.key)
                    self.computed.append(b)
                    if self.reduce:
                        merge_nearest(*self.nearest, result.times, result.origin)
                    else:
                        self.blocks[b] = result
                        self.held += result.nbytes
                    bar.update(1)
                    bar.set_postfix_str(f"{self.held / 2**20:,.0f} MiB")
                    if self.on_block is not None:
                        self.on_block(b)
        finally:
            bar.close()
            if shared.pool is not None:
                shared.pool.close()


def merge_nearest(
    times: np.ndarray, origin: np.ndarray, block_times: np.ndarray, block_origin: np.ndarray
) -> None:
    """Fold one block's nearest origins into the nearest so far, in place, in any block order.

    Parameters
    ----------
    times, origin
        ``(n_targets,)`` the nearest time so far, s (``inf`` for none), and
        its origin row (``-1`` for none); updated in place.
    block_times, block_origin
        The same for one block of origins, with origin rows counted over all
        origins (not within the block).

    A smaller time wins; equal times go to the lower origin row, so the result
    is the dense argmin's (first of equal times) whatever order blocks finish in.
    """
    better = (block_times < times) | (
        (block_times == times) & (block_origin >= 0) & (block_origin < origin)
    )
    times[better] = block_times[better]
    origin[better] = block_origin[better]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _release_freed_memory() -> None:
    """Return freed heap pages to the operating system (glibc ``malloc_trim``).

    Blocks of a few MB come from the heap, and glibc keeps freed heap pages
    mapped: without this, assembling the matrix while freeing the blocks
    would hold both, twice the matrix. Does nothing where there is no glibc.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _assemble(blocks: list[_Block | None], n_rows: int, n_targets: int) -> sp.csr_array:
    """One CSR array from the blocks in order; empties ``blocks`` as it goes."""
    counts = [0 if blk is None else int(blk.indptr[-1]) for blk in blocks]
    assert all(blk is not None for blk in blocks)
    nnz = sum(counts)
    index_dtype = np.int32 if max(nnz, n_targets) < 2**31 else np.int64
    data = np.empty(nnz, dtype=np.float64)
    indices = np.empty(nnz, dtype=index_dtype)
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    pos = row = 0
    for b, count in enumerate(counts):
        blk = blocks[b]
        assert blk is not None
        rows = len(blk.indptr) - 1
        data[pos : pos + count] = blk.data
        indices[pos : pos + count] = blk.indices
        indptr[row + 1 : row + rows + 1] = blk.indptr[1:] + pos
        pos += count
        row += rows
        blocks[b] = None
        del blk
        _release_freed_memory()
    return sp.csr_array((data, indices, indptr), shape=(n_rows, n_targets))
