"""Where blocks of work run: in this process, or on a Dask cluster.

A *block function* is a pure, module-level function ``fn(shared, task)``:
``shared`` is the large read-only input every block needs (for example the
CSR road graph), sent to each worker once; ``task`` is the small description
of one block. An executor runs the function over many tasks and yields
``(index, result)`` pairs as the blocks finish, in any order; callers put the
results back in block order, so a result never depends on where or in which
order its blocks ran.

* :class:`InProcessExecutor` runs the blocks one after the other in this
  process. It needs no Dask at all: Dask is an optional dependency
  (``pip install planner[dask]``) and is imported only by
  :class:`DaskExecutor`.
* :class:`DaskExecutor` runs them on a ``dask.distributed`` cluster: an
  existing one (``scheduler="tcp://host:port"``) or a local cluster of worker
  processes it starts on the loopback interface (``workers=N``). The shared
  input is scattered once to every worker; results are gathered as they
  complete. A block whose task raised is retried by Dask
  (:data:`planner.constants.BLOCK_RETRIES` times); a block whose worker died
  is rescheduled elsewhere by the scheduler and, if the scheduler gives up on
  it (``KilledWorker``), submitted again, up to the same number of times.

An iterative algorithm that maps over the same large input many times (the
optimiser's swap search: one round of candidate blocks per swap) opens a
*session* with that input, ``with executor.session(shared) as s``, and calls
``s.map_blocks(fn, tasks)`` once per round: the input is sent to the workers
once for the whole session, not once per round.

Use :func:`make_executor` and close the executor (it is a context manager).
Workers of an existing cluster must have the same version of planner
installed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, Protocol

from planner import constants
from planner.errors import ParameterError

__all__ = [
    "BlockExecutor",
    "BlockSession",
    "DaskExecutor",
    "InProcessExecutor",
    "make_executor",
]

log = logging.getLogger(__name__)


class BlockSession(Protocol):
    """A shared input already on the workers; map block functions over it."""

    def map_blocks(
        self, fn: Callable[[Any, Any], Any], tasks: Sequence[tuple[int, Any]]
    ) -> Generator[tuple[int, Any], None, None]:
        """Yield ``(index, fn(shared, task))`` for every ``(index, task)``, as they finish."""
        ...


class BlockExecutor(Protocol):
    """Runs a block function over tasks; see the module docstring."""

    #: Blocks that can run at the same time (worker processes or 1).
    concurrency: int

    def map_blocks(
        self,
        fn: Callable[[Any, Any], Any],
        shared: Any,
        tasks: Sequence[tuple[int, Any]],
    ) -> Generator[tuple[int, Any], None, None]:
        """Yield ``(index, fn(shared, task))`` for every ``(index, task)``, as they finish."""
        ...

    def session(self, shared: Any) -> AbstractContextManager[BlockSession]:
        """Send ``shared`` to the workers once, for several rounds of ``map_blocks``."""
        ...

    def close(self) -> None:
        """Release the executor's resources."""
        ...


class _ExecutorBase:
    concurrency: int = 1

    def session(self, shared: Any) -> AbstractContextManager[BlockSession]:
        raise NotImplementedError

    def map_blocks(
        self,
        fn: Callable[[Any, Any], Any],
        shared: Any,
        tasks: Sequence[tuple[int, Any]],
    ) -> Generator[tuple[int, Any], None, None]:
        """Yield ``(index, fn(shared, task))`` as blocks finish: a session of one round.

        Nothing is sent anywhere when there are no tasks.
        """
        if not tasks:
            return
        with self.session(shared) as session:
            yield from session.map_blocks(fn, tasks)

    def close(self) -> None:
        """Release the executor's resources (nothing to release here)."""

    def __enter__(self) -> _ExecutorBase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _InProcessSession:
    def __init__(self, shared: Any) -> None:
        self.shared = shared

    def map_blocks(
        self, fn: Callable[[Any, Any], Any], tasks: Sequence[tuple[int, Any]]
    ) -> Generator[tuple[int, Any], None, None]:
        """Yield ``(index, fn(shared, task))`` in task order."""
        for index, task in tasks:
            yield index, fn(self.shared, task)


class InProcessExecutor(_ExecutorBase):
    """Run the blocks one after the other in this process (no Dask needed)."""

    concurrency = 1

    @contextmanager
    def session(self, shared: Any) -> Iterator[_InProcessSession]:
        """A session over ``shared`` (nothing is copied in process)."""
        yield _InProcessSession(shared)

    def __repr__(self) -> str:
        return "InProcessExecutor()"


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ParameterError(
            "scheduler/workers: running on a Dask cluster needs dask.distributed; "
            "install it with `pip install 'planner[dask]'`, or run in process "
            "(give neither scheduler nor workers)"
        ) from None
    return distributed


class DaskExecutor(_ExecutorBase):
    """Run the blocks on a ``dask.distributed`` cluster.

    Parameters
    ----------
    client
        A connected ``distributed.Client``.
    cluster
        The local cluster the client belongs to, if this executor started it
        (closed with the executor); ``None`` for an existing cluster, which is
        left running.
    retries
        Times one block is retried after an error or a lost worker.
    """

    def __init__(self, client: Any, *, cluster: Any = None, retries: int = 0) -> None:
        self.client = client
        self.cluster = cluster
        self.retries = retries

    @property
    def concurrency(self) -> int:  # type: ignore[override]
        """Worker threads of the cluster now (at least 1)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    @contextmanager
    def session(self, shared: Any) -> Iterator[_DaskSession]:
        """Scatter ``shared`` to every worker once; released when the session ends."""
        _import_distributed()
        [future] = self.client.scatter([shared], broadcast=True, hash=False)
        try:
            yield _DaskSession(self, future)
        finally:
            future.release()

    def close(self) -> None:
        """Close the client, and the local cluster if this executor started it."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client.scheduler.address!r})"


class _DaskSession:
    """Rounds of blocks over one scattered input (see :meth:`DaskExecutor.session`)."""

    def __init__(self, executor: DaskExecutor, shared_future: Any) -> None:
        self.executor = executor
        self.shared_future = shared_future

    def map_blocks(
        self, fn: Callable[[Any, Any], Any], tasks: Sequence[tuple[int, Any]]
    ) -> Generator[tuple[int, Any], None, None]:
        """Yield ``(index, fn(shared, task))`` as blocks finish on the cluster.

        Failed or lost blocks are retried (see :class:`DaskExecutor`); any
        other failure is raised once its retries are spent, and the remaining
        blocks are cancelled.
        """
        distributed = _import_distributed()
        if not tasks:
            return
        client, retries = self.executor.client, self.executor.retries
        run = uuid.uuid4().hex[:12]
        pending: dict[str, tuple[int, Any, int, Any]] = {}

        def submit(index: int, task: Any, attempt: int) -> Any:
            future = client.submit(
                fn,
                self.shared_future,
                task,
                key=f"planner-block-{run}-{index}-{attempt}",
                retries=retries,
                pure=False,
            )
            pending[future.key] = (index, task, attempt, future)
            return future

        queue = distributed.as_completed([submit(index, task, 0) for index, task in tasks])
        try:
            for future in queue:
                index, task, attempt, _ = pending.pop(future.key)
                if future.status == "error":
                    exc = future.exception()
                    if isinstance(exc, distributed.KilledWorker) and attempt < retries:
                        log.warning("block %d lost with its worker; submitting it again", index)
                        queue.add(submit(index, task, attempt + 1))
                        future.release()
                        continue
                    raise exc
                result = future.result()
                future.release()
                yield index, result
        finally:
            queue.clear()
            if pending:
                client.cancel([entry[3] for entry in pending.values()])


def make_executor(
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    retries: int = constants.BLOCK_RETRIES,
) -> InProcessExecutor | DaskExecutor:
    """Choose where blocks run.

    Parameters
    ----------
    scheduler
        Address of a running Dask scheduler (``"tcp://host:port"``): use
        that cluster.
    workers
        Start a local Dask cluster of this many single-threaded worker
        processes on 127.0.0.1.
    retries
        Times one block is retried after an error or a lost worker (Dask only).

    Returns
    -------
    InProcessExecutor or DaskExecutor
        In process (no Dask imported) when neither ``scheduler`` nor
        ``workers`` is given. Close it when done (``with make_executor(...)``).

    Raises
    ------
    ParameterError
        For both options at once, a bad worker count or address, Dask not
        installed, or a scheduler that cannot be reached.
    """
    if scheduler is not None and workers is not None:
        raise ParameterError("scheduler, workers: give one of them, not both")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise ParameterError(f"workers = {workers!r}: must be a whole number >= 1")
    if workers is not None and workers < 1:
        raise ParameterError(f"workers = {workers!r}: must be a whole number >= 1")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ParameterError(f"retries = {retries!r}: must be a whole number >= 0")
    if scheduler is None and workers is None:
        return InProcessExecutor()
    distributed = _import_distributed()
    if scheduler is not None:
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise ParameterError(
                f"scheduler = {scheduler!r}: give the scheduler's address, e.g. tcp://host:8786"
            )
        try:
            client = distributed.Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ParameterError(
                f"scheduler = {scheduler!r}: cannot connect to a Dask scheduler ({exc})"
            ) from exc
        return DaskExecutor(client, retries=retries)
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # no dashboard; the scheduler's small HTTP server (health, metrics) on
        # a free loopback port, not 8787, which another cluster may hold
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    try:
        client = distributed.Client(cluster)
    except BaseException:
        cluster.close()
        raise
    return DaskExecutor(client, cluster=cluster, retries=retries)
