"""A small on-disk cache keyed by a hash of the inputs, in formats that cannot run code.

Keys are SHA-256 digests of a JSON document that names every input that can
change the result: input file digests, boundary geometry, parameters and the
package version.

An entry is a folder ``<cache>/<kind>/<key>/`` of plain data files (Parquet,
JSON, ``.npz`` read with ``allow_pickle=False``; never pickle) written by the
caller's ``save``, plus ``entry.json``: the key the entry was made for, its
kind, the cache format and the size and SHA-256 of every file. A load checks
all of it before the caller's ``load`` reads a byte of data, so an entry of
another key (a copied or renamed folder), a truncated or altered file, or a
planted file is refused: it is removed with a :class:`~planner.errors.CacheWarning`
and rebuilt, never used and never a traceback.

Entries are written into a temporary folder beside their place and renamed
into it when complete, so an interrupted run never leaves a half-written
entry. Temporary names record the writer (``.<name>.<pid>@<host>.<random>.tmp``);
the next run removes those whose writer is dead (same machine) or that are
older than :data:`planner.constants.CACHE_ORPHAN_AGE_S`, and never touches a
live writer's file.

A cache folder that every user can write to (world-writable without the
sticky bit) is refused with :class:`~planner.errors.UnsafeCacheError`; one that
another user owns, that a group other than your private one can write to, or
that is world-writable with the sticky bit, gets a
:class:`~planner.errors.CacheWarning` naming it. Entries are checked, but
whoever can write to the folder could plant a well-formed entry of wrong data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from planner import __version__, constants
from planner.errors import CacheWarning, UnsafeCacheError

T = TypeVar("T")

#: Bump when the layout of cached objects changes. 1 was pickle; 2 is
#: entry folders of Parquet/JSON with ``entry.json``.
CACHE_FORMAT = 2

#: The file of an entry that records its key, kind, format and files.
ENTRY_FILE = "entry.json"

_TEMP_NAME = re.compile(
    r"^\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9_.-]+)\.(?P<token>[0-9a-f]+)\.tmp$"
)
_KEY = re.compile(r"^[0-9a-f]{64}$")


def file_digest(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def cache_key(kind: str, inputs: Mapping[str, Any]) -> str:
    """Return a stable hex key for ``inputs`` (JSON-serialisable), the kind and version."""
    doc = {
        "kind": kind,
        "inputs": inputs,
        "planner": __version__,
        "format": CACHE_FORMAT,
    }
    raw = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Temporary files: named for their writer, removed when it is gone
# ---------------------------------------------------------------------------


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def temp_path(path: Path) -> Path:
    """A fresh temporary name beside ``path`` that records this process (pid and host)."""
    token = secrets.token_hex(6)
    return path.with_name(f".{path.name}.{os.getpid()}@{_host()}.{token}.tmp")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, another user's
        return True
    return True


def _remove_path(path: Path) -> None:
    """Remove a file, a symbolic link (not its target) or a folder; gone already is fine."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def remove_orphans(folder: Path, *, max_age_s: float = constants.CACHE_ORPHAN_AGE_S) -> list[Path]:
    """Remove temporary files and folders in ``folder`` left behind by killed runs.

    A temporary name (``.*.tmp``) is an orphan when it records a process on
    this machine that no longer runs, or when it is older than ``max_age_s``
    (a writer on another machine, or a name without a process). A live
    writer's file is never removed.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    host, now, removed = _host(), time.time(), []
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue
        match = _TEMP_NAME.match(entry.name)
        orphan = bool(match and match["host"] == host and not _pid_alive(int(match["pid"])))
        if not orphan:
            try:
                orphan = now - entry.stat(follow_symlinks=False).st_mtime > max_age_s
            except FileNotFoundError:
                continue
        if orphan:
            path = Path(entry.path)
            try:
                _remove_path(path)
            except OSError:
                continue
            removed.append(path)
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    with open(tmp, "xb") as fh:
        try:
            fh.write(data)
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------
# Who may write to a cache folder
# ---------------------------------------------------------------------------


def _private_group(info: os.stat_result) -> bool:
    """Whether the folder's group is its owner's private group (user private groups)."""
    import grp
    import pwd

    try:
        owner = pwd.getpwuid(info.st_uid)
        group = grp.getgrgid(info.st_gid)
    except KeyError:
        return False
    return group.gr_name == owner.pw_name and set(group.gr_mem) <= {owner.pw_name}


def _user_name(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def check_cache_folder(folder: Path) -> None:
    """Refuse or warn about a cache folder that other users can write to.

    Raises
    ------
    UnsafeCacheError
        If every user may write to ``folder`` (world-writable without the
        sticky bit): anyone could replace its entries.

    Warns
    -----
    CacheWarning
        If ``folder`` belongs to another user (not root), if a group other
        than the owner's private group may write to it, or if it is
        world-writable with the sticky bit (anyone may add names to it).
    """
    if not hasattr(os, "getuid"):  # no POSIX ownership to check
        return
    try:
        info = folder.stat()
    except FileNotFoundError:
        return
    mode = info.st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise UnsafeCacheError(
            f"cache folder {folder} can be written by every user of this machine "
            f"(mode {stat.S_IMODE(mode):o}), so anyone could plant a cache entry; "
            f"make it private (chmod o-w {folder}) or use another --cache-dir"
        )
    reasons = []
    if info.st_uid not in (os.getuid(), 0):
        reasons.append(f"it belongs to another user, {_user_name(info.st_uid)}")
    if mode & stat.S_IWGRP and not _private_group(info):
        reasons.append(f"group {_group_name(info.st_gid)} can write to it")
    if mode & stat.S_IWOTH:
        reasons.append("every user can add files to it (sticky bit)")
    if reasons:
        warnings.warn(
            f"cache folder {folder}: {'; '.join(reasons)}. Cache entries are checked "
            "against their keys and never run code, but whoever can write there could "
            "plant a well-formed entry of wrong data; share it only with people you trust",
            CacheWarning,
            stacklevel=3,
        )


def make_cache_folder(folder: Path) -> None:
    """Create ``folder`` and missing parents, no more open than the folder above them.

    A new folder gets its parent's group permissions (a team folder stays
    shared with the team), unless the parent is world-writable (``/tmp``),
    and never access for other users; the umask applies on top.
    """
    missing = []
    here = folder
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for path in reversed(missing):
        above = stat.S_IMODE(path.parent.stat().st_mode)
        mode = 0o700 if above & stat.S_IWOTH else 0o700 | (above & 0o070)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=mode)


def prepare_cache_folder(folder: Path) -> None:
    """Check (above), create and check ``folder``, and remove its orphaned temporary files.

    The folder and the one above it are checked with :func:`check_cache_folder`:
    whoever can write to the parent can replace the folder itself.
    """
    for path in (folder.parent, folder):
        if path.exists():
            check_cache_folder(path)
    make_cache_folder(folder)
    check_cache_folder(folder)
    remove_orphans(folder)


# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------


class CacheEntryError(Exception):
    """A cache entry is not usable (another key, another format, damaged); it is rebuilt."""


def _entry_files(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: {"bytes": p.stat().st_size, "sha256": file_digest(p)}
        for p in sorted(folder.iterdir())
        if p.name != ENTRY_FILE
    }


def _check_entry(entry: Path, kind: str, key: str) -> None:
    """Raise :class:`CacheEntryError` unless ``entry`` is a complete entry made for ``key``."""
    if entry.is_symlink() or not entry.is_dir():
        raise CacheEntryError("is not a cache entry folder")
    doc_path = entry / ENTRY_FILE
    if doc_path.is_symlink() or not doc_path.is_file():
        raise CacheEntryError(f"has no {ENTRY_FILE}")
    if doc_path.stat().st_size > constants.CACHE_ENTRY_MAX_BYTES:
        raise CacheEntryError(f"has an oversized {ENTRY_FILE}")
    try:
        doc = json.loads(doc_path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CacheEntryError(f"has an unreadable {ENTRY_FILE}") from None
    if not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT or doc.get("kind") != kind:
        raise CacheEntryError("is not an entry of this kind and cache format")
    if doc.get("key") != key:
        made_for = str(doc.get("key"))[:16]
        raise CacheEntryError(f"was made for another key ({made_for}...), not for {key[:16]}...")
    files = doc.get("files")
    if not isinstance(files, dict):
        raise CacheEntryError(f"has no file list in {ENTRY_FILE}")
    present = {p.name for p in entry.iterdir()} - {ENTRY_FILE}
    if present != set(files):
        raise CacheEntryError(f"holds other files than its {ENTRY_FILE} lists")
    for name, info in files.items():
        path = entry / name
        if path.is_symlink() or not path.is_file():
            raise CacheEntryError(f"has {name} that is not a plain file")
        if not isinstance(info, dict) or path.stat().st_size != info.get("bytes"):
            raise CacheEntryError(f"has {name} of the wrong size (truncated?)")
        if file_digest(path) != info.get("sha256"):
            raise CacheEntryError(f"has {name} whose content changed after it was written")


def _read_entry(entry: Path, kind: str, key: str, load: Callable[[Path], T]) -> tuple[T] | None:
    """``(value,)`` from a valid entry, else ``None`` (an unusable entry is removed)."""
    if not entry.exists() and not entry.is_symlink():
        return None
    try:
        _check_entry(entry, kind, key)
        return (load(entry),)
    except MemoryError:
        raise
    except Exception as exc:  # a cache must never fail the run: anything wrong is rebuilt
        reason = str(exc) if isinstance(exc, CacheEntryError) else f"cannot be read ({exc!r})"
        warnings.warn(
            f"cache entry {entry} {reason}; it is not used and is built again",
            CacheWarning,
            stacklevel=4,
        )
    # move it aside first, so that no reader sees a half-removed entry; one that
    # cannot be removed stays (and is refused again), the value is then used uncached
    aside = temp_path(entry)
    try:
        os.rename(entry, aside)
    except FileNotFoundError:
        return None
    except OSError:
        aside = entry
    with contextlib.suppress(OSError):
        _remove_path(aside)
    return None


def _write_entry(
    entry: Path, kind: str, key: str, value: T, save: Callable[[T, Path], None]
) -> None:
    """Store ``value`` as the entry ``key``: written aside, renamed into place when complete."""
    tmp = temp_path(entry)
    try:
        tmp.mkdir(mode=0o700 | (stat.S_IMODE(entry.parent.stat().st_mode) & 0o050))
        save(value, tmp)
        doc = {
            "kind": kind,
            "key": key,
            "format": CACHE_FORMAT,
            "planner": __version__,
            "written": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": _entry_files(tmp),
        }
        (tmp / ENTRY_FILE).write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        try:
            os.rename(tmp, entry)
        except OSError:
            if not entry.is_dir():
                raise
            # another process stored the same key meanwhile: keep theirs
            _remove_path(tmp)
    except Exception as exc:
        _remove_path(tmp)
        warnings.warn(
            f"cache entry {entry} could not be stored ({exc}); the result is used uncached",
            CacheWarning,
            stacklevel=4,
        )
    except BaseException:
        _remove_path(tmp)
        raise


def _remove_legacy(folder: Path, key: str) -> None:
    """Delete, unread, what planner before cache format 2 stored for ``key`` (a pickle)."""
    if _KEY.match(key):
        _remove_path(folder / f"{key}.pickle")


def cached(
    cache_dir: Path | None,
    kind: str,
    key: str,
    compute: Callable[[], T],
    *,
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
) -> tuple[T, bool]:
    """Return ``(value, hit)``: the cached value for ``key`` or a freshly computed one.

    Parameters
    ----------
    cache_dir
        The cache folder; ``None`` reads and writes nothing.
    kind
        Subfolder of this kind of entry (``"networks"``).
    key
        The entry's key (:func:`cache_key`); the entry records it and a
        load checks it.
    compute
        Makes the value on a miss. Its exceptions propagate and nothing is
        stored.
    save
        Writes the value as plain data files (Parquet, JSON, ``.npz``; never
        pickle) into the folder it is given.
    load
        Reads them back from an entry folder that passed the checks; any
        exception it raises makes the entry count as unusable.

    Raises
    ------
    UnsafeCacheError
        If every user may write to the cache folder.

    Warns
    -----
    CacheWarning
        If an entry was refused and is rebuilt, could not be stored, or the
        cache folder is shared (see :func:`check_cache_folder`).
    """
    if cache_dir is None:
        return compute(), False
    if not _KEY.match(key):
        raise ValueError(f"cache key {key!r} is not a SHA-256 hex digest")
    folder = Path(cache_dir) / kind
    prepare_cache_folder(folder)
    _remove_legacy(folder, key)
    entry = folder / key
    found = _read_entry(entry, kind, key, load)
    if found is not None:
        return found[0], True
    value = compute()
    _write_entry(entry, kind, key, value, save)
    return value, False
