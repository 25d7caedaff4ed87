"""OSMnx module settings, changed only for the duration of one call."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def osmnx_settings(**values: Any) -> Iterator[None]:
    """Temporarily change OSMnx's module settings, restoring them afterwards."""
    import osmnx as ox

    old = {k: getattr(ox.settings, k) for k in values}
    try:
        for k, v in values.items():
            setattr(ox.settings, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(ox.settings, k, v)
