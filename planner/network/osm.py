"""What every pyosmium reader shares: which errors mean a bad file, and bad node locations.

libosmium refuses some malformed OSM files with exceptions other than
``RuntimeError``: an id that does not fit in 64 bits raises ``ValueError``
("illegal id") and a coordinate it cannot parse raises
``osmium.InvalidLocationError``. A coordinate it can parse but that lies
outside ±180/±90 degrees is kept as an *invalid* location, which looks like
a node missing from a clipped extract unless it is told apart here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import osmium

from planner.errors import InputFileError

__all__ = [
    "OSM_READ_ERRORS",
    "describe_osm_error",
    "location_out_of_range",
    "out_of_range_error",
    "tagged_nodes",
]

#: Exceptions pyosmium raises for a file it cannot read or parse.
OSM_READ_ERRORS: tuple[type[BaseException], ...] = (
    RuntimeError,
    ValueError,
    osmium.InvalidLocationError,
)

#: libosmium's stored coordinate of a location that was never set (a node
#: missing from the file), in units of 1e-7 degrees.
_UNDEFINED_COORDINATE = 2**31 - 1


def describe_osm_error(exc: BaseException) -> str:
    """pyosmium's message for a bad file, with what the file should hold instead."""
    text = str(exc)
    if isinstance(exc, osmium.InvalidLocationError) or "coordinate" in text:
        return (
            f"{text}; node coordinates must be decimal degrees, longitude within ±180 and "
            "latitude within ±90"
        )
    if "illegal id" in text:
        return f"{text}; OSM ids must be whole numbers that fit in 64 bits (|id| < 2^63)"
    return text


def location_out_of_range(location: Any) -> bool:
    """Whether a node's location was given but lies outside ±180 / ±90 degrees."""
    return not location.valid() and location.x != _UNDEFINED_COORDINATE


def out_of_range_error(
    source: str, node_id: int, lon: float, lat: float, *, where: str = "", count: int = 1
) -> InputFileError:
    """The error for a node whose coordinates (degrees) are not a longitude/latitude.

    ``where`` names the object that uses the node (``"way 10"``); ``count``
    is the number of such nodes found.
    """
    used = f" (in {where})" if where else ""
    more = f"; {count} such nodes in all" if count > 1 else ""
    return InputFileError(
        f"{source}: node {node_id}{used} has longitude {lon:g}, latitude {lat:g}, outside "
        f"±180/±90 degrees; fix or remove it{more}"
    )


def tagged_nodes(
    source: str | os.PathLike[str],
    key: str,
    *,
    label: str | None = None,
    unlocated: list[int] | None = None,
) -> Iterator[Any]:
    """The nodes of an OSM file that carry tag ``key``, with a valid location.

    Nodes without a location are skipped (their ids appended to ``unlocated``
    when it is given). A node whose coordinates lie outside ±180/±90 degrees,
    and a file pyosmium cannot read, raise
    :class:`~planner.errors.InputFileError` naming the file as ``label``
    (default its path).
    """
    path = os.fspath(source)
    name = label or path
    try:
        processor = osmium.FileProcessor(path, osmium.osm.NODE).with_filter(
            osmium.filter.KeyFilter(key)
        )
        for node in processor:
            if not isinstance(node, osmium.osm.Node):
                continue
            if location_out_of_range(node.location):
                loc = node.location
                raise out_of_range_error(
                    name, node.id, loc.lon_without_check(), loc.lat_without_check()
                )
            if node.location.valid():
                yield node
            elif unlocated is not None:
                unlocated.append(node.id)
    except InputFileError:
        raise
    except OSM_READ_ERRORS as exc:
        raise InputFileError(
            f"{name} is not a readable OSM file: {describe_osm_error(exc)}"
        ) from exc
