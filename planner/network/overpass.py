"""OSMnx module settings, changed only for the duration of one call."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
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


def overpass_settings(download_cache_dir: Path | None) -> contextlib.AbstractContextManager[None]:
    """OSMnx settings for one Overpass download: quiet, cached under the folder if given.

    OSMnx caches only successful responses (not error statuses or remarks).
    """
    values: dict[str, Any] = {"log_console": False, "use_cache": download_cache_dir is not None}
    if download_cache_dir is not None:
        values["cache_folder"] = str(download_cache_dir)
    return osmnx_settings(**values)
