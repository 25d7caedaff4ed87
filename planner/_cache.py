"""A small on-disk cache keyed by a hash of the inputs.

Keys are SHA-256 digests of a JSON document that names every input that can
change the result: input file digests, boundary geometry, parameters and the
package version. Entries are written atomically (temporary file, then
rename), so an interrupted run never leaves a half-written entry behind, and
nothing is written when the computation fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from planner import __version__

T = TypeVar("T")

#: Bump when the layout of cached objects changes.
CACHE_FORMAT = 1


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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached(cache_dir: Path | None, kind: str, key: str, compute: Callable[[], T]) -> tuple[T, bool]:
    """Return ``(value, hit)``: the cached value for ``key`` or a freshly computed one.

    With ``cache_dir=None`` nothing is read or written. A corrupt entry is
    recomputed and replaced. Exceptions from ``compute`` propagate and nothing
    is stored.
    """
    if cache_dir is None:
        return compute(), False
    path = Path(cache_dir) / kind / f"{key}.pickle"
    if path.exists():
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh), True
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
            path.unlink(missing_ok=True)
    value = compute()
    atomic_write_bytes(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    return value, False
