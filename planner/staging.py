"""All-or-nothing runs: outputs are written into a staging folder and swapped in at the end.

Every command that writes outputs runs its computation and its writing inside
:func:`stage_outputs`. Before any computation it

1. checks each output: a folder output that is an existing file, or any
   output that lies under a file, is a :class:`~planner.errors.ParameterError`
   naming the option; an existing output is refused
   (:class:`~planner.errors.OutputExistsError`) unless ``overwrite``; a
   non-empty folder that planner did not make (no :data:`MARKER` and no
   ``manifest.json``) is never written into without ``overwrite``; and
   ``overwrite`` never replaces a folder that holds the current folder, the
   home folder or one of the run's inputs (``protect``);
2. takes a lock on each output: the file ``.<name>.planner-lock`` beside it,
   locked with ``flock``. The kernel drops the lock when the process ends,
   however it ends (SIGKILL included), so a crashed run never leaves it stuck.
   A second run on the same output is refused with
   :class:`~planner.errors.OutputLockedError`, naming the process that holds it;
3. cleans up after killed runs on the same output: their staging folders are
   deleted, and an output that a run had set aside in the middle of its swap
   is put back (see below);
4. makes the staging folder ``.<name>.planner-staging-<pid>-<random>`` beside
   the output. Writers write there: :func:`staged_path` maps an output path to
   its place in the staging folder, and :func:`planner.outputs.export.check_writable`
   applies it to every file a writer writes.

When the ``with`` block ends without an exception, the outputs are swapped in,
one after the other, while SIGINT and SIGTERM wait:

* a folder: the staging folder gets the :data:`MARKER` file; then the old folder
  is renamed aside (``.<name>.planner-old-<pid>-<random>``), the staging folder
  is renamed into place and the old folder is deleted. Where the output does
  not exist, or is an empty folder, one rename does it;
* a file (with its ``.meta.json`` sidecar): :func:`os.replace`, the sidecar first.

On an exception or an interrupt, the staging folders are deleted, the parent
folders the run made are removed again, and any earlier output is left as it
was, byte for byte.

The swap window: between the two renames of a folder (two system calls,
microseconds apart) the output's path does not exist, and a reader that opens
it at that instant finds nothing. A run killed exactly then (SIGKILL) leaves
the old folder set aside; the next run on that output puts it back before it
starts. The outputs of one run (``plan``: the folder and the map) are swapped
one after the other, so a run killed in those microseconds can leave one new
and one old. Locks need a file system with ``flock`` (local disks; NFS through
its lock manager).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Literal

from planner import __version__
from planner.errors import OutputExistsError, OutputLockedError, ParameterError

__all__ = [
    "MARKER",
    "OutputTarget",
    "committed_outputs",
    "made_by_planner",
    "stage_outputs",
    "staged_path",
]

#: File that marks a folder as a planner output (JSON: planner version, time written).
MARKER = ".planner-output"

_STAGING = ".planner-staging-"
_OLD = ".planner-old-"
_LOCK = ".planner-lock"

#: Outputs of runs in progress in this process: output path -> where it is written now.
_ACTIVE: dict[Path, Path] = {}
_ACTIVE_GUARD = threading.Lock()
#: Outputs swapped in by this process, in order.
_COMMITTED: list[Path] = []
#: File descriptors of the locks this process holds (closed in forked children).
_HELD: set[int] = set()
_FORK_HOOK: list[bool] = []


@dataclass(frozen=True)
class OutputTarget:
    """One output of a run.

    Attributes
    ----------
    path
        The folder or file, as the user gave it.
    argument
        The option or key that named it (``--out-dir``), for messages.
    kind
        ``"folder"`` (replaced whole) or ``"file"`` (replaced with its sidecars).
    """

    path: Path
    argument: str = "out_dir"
    kind: Literal["folder", "file"] = "folder"


def committed_outputs() -> tuple[Path, ...]:
    """Outputs this process has swapped into place so far, in order (absolute paths)."""
    return tuple(_COMMITTED)


def staged_path(path: str | Path) -> Path:
    """Where to write ``path`` now.

    Inside a run in progress in this process (:func:`stage_outputs`), an
    output path, or a path inside an output folder, maps to its place in the
    run's staging folder; any other path is returned as it is.
    """
    path = Path(path)
    if not _ACTIVE:
        return path
    found = _lookup(_absolute(path))
    return path if found is None else found


def made_by_planner(folder: Path) -> Path | None:
    """A file showing that ``folder`` is a planner output, or None.

    The :data:`MARKER`, or (outputs of earlier versions) a ``manifest.json``
    or ``.meta.json`` sidecar that records a ``planner_version``.
    """
    marker = folder / MARKER
    if marker.is_file():
        return marker
    for candidate in [folder / "manifest.json", *sorted(folder.glob("*.meta.json"))[:3]]:
        try:
            doc = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "planner_version" in doc:
            return candidate
    return None


@contextlib.contextmanager
def stage_outputs(
    targets: Sequence[OutputTarget],
    *,
    overwrite: bool,
    protect: Sequence[str | Path | None] = (),
) -> Iterator[None]:
    """Run the ``with`` block as one all-or-nothing run writing ``targets``.

    Parameters
    ----------
    targets
        The run's outputs. A target that lies inside an output of a run
        already in progress in this process (an outer command, or a folder
        of this run) joins that run: it is checked, locked and swapped with it.
    overwrite
        Replace existing outputs whole; otherwise an existing one is refused.
    protect
        The run's inputs (files or folders; None is skipped): a folder that
        holds one is never replaced, nor is a file output that is one.

    Raises
    ------
    ParameterError
        An output is a file where a folder is expected (or the reverse), lies
        under a file, or would replace a protected folder.
    OutputExistsError
        An output exists and ``overwrite`` is false.
    OutputLockedError
        Another run holds the lock on an output.
    """
    run = _Run(overwrite=overwrite, protect=protect)
    try:
        with _signals_deferred():
            for target in sorted(targets, key=_target_order):
                run.open(target)
        yield
    except BaseException:  # an error, SIGINT or SIGTERM: nothing is swapped in
        with _signals_deferred():
            run.abort()
        raise
    with _signals_deferred():
        run.commit()


# ---------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------


@dataclass
class _Own:
    """An output this run locks, stages and swaps (not joined to an outer run)."""

    target: OutputTarget
    final: Path  # absolute, symbolic links resolved
    keys: tuple[Path, ...]  # the registry keys (absolute and resolved)
    staging: Path | None = None
    lock: int | None = None


class _Run:
    def __init__(self, *, overwrite: bool, protect: Sequence[str | Path | None]) -> None:
        self.overwrite = overwrite
        self.protect = [_absolute(Path(p)).resolve() for p in protect if p is not None]
        self.own: list[_Own] = []
        self.made: list[Path] = []  # parent folders this run created, deepest last

    def open(self, target: OutputTarget) -> None:
        absolute = _absolute(Path(target.path))
        if _lookup(absolute) is not None:
            return  # part of a run in progress: checked, locked and swapped there
        final = absolute.resolve()
        own = _Own(target=target, final=final, keys=tuple(dict.fromkeys((absolute, final))))
        _check_place(target, final)
        self.own.append(own)
        try:
            self._make_parents(final.parent)
            own.lock = _take_lock(final, target)
        except PermissionError as exc:
            raise ParameterError(
                f"{target.argument}: cannot write beside {target.path}: {exc.strerror} "
                f"({exc.filename})"
            ) from None
        _repair(final)
        _check_existing(target, final, overwrite=self.overwrite, protect=self.protect)
        own.staging = final.parent / f".{final.name}{_STAGING}{os.getpid()}-{secrets.token_hex(4)}"
        own.staging.mkdir()
        written = own.staging if target.kind == "folder" else own.staging / final.name
        with _ACTIVE_GUARD:
            for key in own.keys:
                _ACTIVE[key] = written

    def commit(self) -> None:
        try:
            for own in self.own:
                assert own.staging is not None
                if own.target.kind == "folder":
                    _write_marker(own.staging)
                    _swap_folder(own.staging, own.final)
                else:
                    _swap_files(own.staging, own.final)
                own.staging = None
                _COMMITTED.append(own.final)
        except BaseException:
            self.abort()
            raise
        self._release()

    def abort(self) -> None:
        for own in self.own:
            if own.staging is not None:
                _remove(own.staging)
                own.staging = None
        self._release()
        for folder in reversed(self.made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty

    def _release(self) -> None:
        with _ACTIVE_GUARD:
            for own in self.own:
                for key in own.keys:
                    _ACTIVE.pop(key, None)
        for own in self.own:
            if own.lock is not None:
                _drop_lock(own.lock, _lock_path(own.final))
                own.lock = None

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for item in reversed(missing):
            item.mkdir()
            self.made.append(item)


def _absolute(path: Path) -> Path:
    """Absolute and normalised (``..`` folded), without resolving symbolic links."""
    return Path(os.path.abspath(path.expanduser()))


def _lookup(absolute: Path) -> Path | None:
    with _ACTIVE_GUARD:
        for final, written in _ACTIVE.items():
            if absolute == final or absolute.is_relative_to(final):
                return written / absolute.relative_to(final)
    return None


def _target_order(target: OutputTarget) -> tuple[int, int]:
    """Folders before files, outer before inner (so an inner output joins its folder)."""
    return (target.kind != "folder", len(_absolute(Path(target.path)).parts))


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def _check_place(target: OutputTarget, final: Path) -> None:
    """Refuse an output under a file, a folder output that is a file, and the reverse."""
    shown = Path(target.path)
    for parent in [*shown.parents, *final.parents]:  # as given, then with links resolved
        if parent.exists() and not parent.is_dir():
            raise ParameterError(
                f"{target.argument}: {shown} lies under {parent}, which is a file, not a folder"
            )
    if target.kind == "folder" and final.exists() and not final.is_dir():
        raise ParameterError(
            f"{target.argument}: {shown} is a file, not a folder; give a folder name"
        )
    if target.kind == "file" and final.is_dir():
        raise ParameterError(f"{target.argument}: {shown} is a folder; give a file name")


def _check_existing(
    target: OutputTarget, final: Path, *, overwrite: bool, protect: Sequence[Path]
) -> None:
    shown = target.path
    if not final.exists():
        return
    if target.kind == "file":
        if not overwrite:
            raise OutputExistsError(
                f"{target.argument}: {shown} exists; pass --overwrite to replace it"
            )
        if final in protect:
            raise ParameterError(
                f"{target.argument}: {shown} is an input of this run; choose another file"
            )
        return
    holds = _holds(final, protect)
    if holds is not None:
        raise ParameterError(
            f"{target.argument}: {shown} holds {holds}; an output folder is replaced whole, "
            "so planner never writes there: choose a new folder"
        )
    entries = sorted(p.name for p in final.iterdir())
    if not entries or overwrite:
        return
    evidence = made_by_planner(final)
    if evidence is None:
        raise OutputExistsError(
            f"{target.argument}: {shown} exists and was not made by planner (it has no "
            f"{MARKER} marker or manifest.json); planner never writes into such a folder: "
            "choose a new or empty folder, or pass --overwrite to replace it whole"
        )
    if (final / "manifest.json").is_file():
        first = "manifest.json"
    else:
        first = next((name for name in entries if not name.startswith(".")), evidence.name)
    raise OutputExistsError(
        f"{target.argument}: {Path(shown) / first} exists (the folder holds a planner output); "
        "pass --overwrite (or [outputs] overwrite = true) to replace the whole folder"
    )


def _holds(folder: Path, protect: Sequence[Path]) -> str | None:
    """What ``folder`` holds that a swap must never delete, or None."""
    cwd = Path.cwd().resolve()
    if cwd.is_relative_to(folder):
        return "the current folder" if cwd == folder else f"the current folder {cwd}"
    with contextlib.suppress(RuntimeError, KeyError):  # no home folder known
        home = Path.home().resolve()
        if home.is_relative_to(folder):
            return f"the home folder {home}"
    for item in protect:
        if item.is_relative_to(folder):
            return f"an input of this run ({item})"
    return None


# ---------------------------------------------------------------------------
# Locks
# ---------------------------------------------------------------------------


def _lock_path(final: Path) -> Path:
    return final.parent / f".{final.name}{_LOCK}"


def _take_lock(final: Path, target: OutputTarget) -> int:
    """Lock ``final`` for this process (``flock`` on ``.<name>.planner-lock``); return the fd."""
    path = _lock_path(final)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            holder = _holder(fd)
            os.close(fd)
            raise OutputLockedError(
                f"{target.argument}: {target.path} is being written by another planner run"
                f"{holder}; wait for it to finish, or choose another output"
            )
        # the holder before us may have deleted the lock file after we opened it
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    note = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(note).encode("utf-8"))
    if not _FORK_HOOK and hasattr(os, "register_at_fork"):
        # a forked worker (ProcessPoolExecutor) shares the lock; it may outlive a killed
        # parent, so it closes its copy and the lock ends with the process that took it
        os.register_at_fork(after_in_child=_close_held_in_child)
        _FORK_HOOK.append(True)
    _HELD.add(fd)
    return fd


def _close_held_in_child() -> None:
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)  # not flock(LOCK_UN), which would unlock the parent too
    _HELD.clear()


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _holder(fd: int) -> str:
    """`` (pid 123 on host, since ...)`` from the lock file, or an empty string."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        note = json.loads(os.read(fd, 4096).decode("utf-8"))
        return f" (pid {note['pid']} on {note['host']}, since {note['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _drop_lock(fd: int, path: Path) -> None:
    """Delete the lock file while still holding it, then let it go."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    _HELD.discard(fd)
    os.close(fd)


# ---------------------------------------------------------------------------
# Swap and clean up
# ---------------------------------------------------------------------------


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _repair(final: Path) -> None:
    """Undo what killed runs left beside ``final`` (the caller holds its lock).

    An old output set aside during a swap is put back when ``final`` is
    missing; staging folders and other set-aside folders are deleted.
    """
    prefix = glob_escape(f".{final.name}")
    old = sorted(final.parent.glob(f"{prefix}{_OLD}*"), key=lambda p: p.stat().st_mtime)
    if old and not final.exists():
        os.rename(old.pop(), final)
    for leftover in [*old, *final.parent.glob(f"{prefix}{_STAGING}*")]:
        _remove(leftover)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _write_marker(folder: Path) -> None:
    doc = {"made_by": "planner", "planner_version": __version__, "written": _now()}
    (folder / MARKER).write_text(json.dumps(doc) + "\n", encoding="utf-8")


def _swap_folder(staging: Path, final: Path) -> None:
    try:
        os.rename(staging, final)  # no output yet, or an empty folder: one atomic rename
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    aside = final.parent / f".{final.name}{_OLD}{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(final, aside)
    os.rename(staging, final)  # between these two renames `final` does not exist
    _remove(aside)


def _swap_files(staging: Path, final: Path) -> None:
    # sidecars first, the file itself last
    for item in sorted(staging.iterdir(), key=lambda p: p.name == final.name):
        os.replace(item, final.parent / item.name)
    staging.rmdir()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends, then deliver them.

    Only the main thread can set handlers; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: Any) -> None:
        caught.append(signum)

    saved: dict[int, Callable[..., Any] | int] = {}
    for which in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(which)
        if previous is not None:  # None: a handler not set from Python, which cannot be restored
            saved[which] = previous
            signal.signal(which, note)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)
