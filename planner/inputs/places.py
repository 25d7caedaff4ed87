"""Place names for points: the nearest named settlement and its distance.

A proposed site called ``grid -203_1600`` means nothing in a decision
paper; "Visby, 1.2 km" does. :func:`read_osm_places` reads named OSM
``place`` nodes (towns, villages, suburbs ...) from any OSM file: SCB's
tätorter layer (``taetorter.osm.xml``, whose nodes are the urban areas) or
the roads extract itself. :func:`nearest_places` gives each point the
nearest of them, measured in the points' metric CRS (EPSG:3006 in Sweden).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from planner.constants import WGS84
from planner.errors import InputFileError, MissingFileError, ParameterError
from planner.inputs.sites import OSM_SUFFIXES
from planner.network.crs import metric_crs, metric_crs_of
from planner.network.osm import tagged_nodes

__all__ = ["SETTLEMENT_PLACES", "nearest_places", "read_osm_places"]

#: OSM ``place`` values of named settlements and parts of towns: what a
#: reader knows a spot by. (Administrative areas, farms, single dwellings and
#: unpopulated ``locality`` names are left out.) Source: OSM wiki, Key:place.
SETTLEMENT_PLACES: Final = (
    "city",
    "town",
    "village",
    "hamlet",
    "borough",
    "suburb",
    "quarter",
    "neighbourhood",
)


def read_osm_places(
    path: str | os.PathLike[str], *, kinds: tuple[str, ...] = SETTLEMENT_PLACES
) -> gpd.GeoDataFrame:
    """Read the named ``place`` nodes of an OSM file.

    Parameters
    ----------
    path
        An OSM file pyosmium reads (``.osm.pbf``, ``.osm``, ``.osm.xml`` ...),
        e.g. SCB's tätorter as OSM nodes, or a roads extract.
    kinds
        The ``place`` values kept (default :data:`SETTLEMENT_PLACES`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``name``, ``place`` (the kind) and ``population`` (people, NaN when
        not tagged) of each node with a name, in the metric CRS of the nodes
        (EPSG:3006 in Sweden), sorted by OSM id.

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        Not an OSM file, or a node outside ±180/±90 degrees.
    """
    path = Path(path)
    source = os.fspath(path)
    if not path.is_file():
        raise MissingFileError(f"{source}: file not found")
    if not path.name.lower().endswith(OSM_SUFFIXES):
        raise InputFileError(
            f"{source}: not an OSM file name; supported endings: {', '.join(OSM_SUFFIXES)}"
        )
    wanted = set(kinds)
    rows: list[tuple[int, float, float, str, str, str]] = []
    for node in tagged_nodes(source, "place"):
        tags = node.tags
        name = (tags.get("name") or "").strip()
        if name and tags.get("place") in wanted:
            row = (node.id, node.location.lon, node.location.lat, name, str(tags.get("place")))
            rows.append((*row, str(tags.get("population") or "")))
    rows.sort()
    frame = pd.DataFrame(rows, columns=["osm_id", "lon", "lat", "name", "place", "population"])
    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    crs = metric_crs(lon, lat)
    x, y = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform(lon, lat)
    people = pd.to_numeric(
        frame["population"].str.replace(r"[\s\u00a0\u202f,.]", "", regex=True), errors="coerce"
    )
    return gpd.GeoDataFrame(
        {"name": frame["name"], "place": frame["place"], "population": people.astype(float)},
        geometry=shapely.points(np.asarray(x), np.asarray(y)),
        crs=crs,
    )


def nearest_places(points: gpd.GeoDataFrame, places: gpd.GeoDataFrame) -> pd.DataFrame:
    """The nearest place of each point, and how far it is.

    Parameters
    ----------
    points
        Points (any CRS with a metric CRS of its own: EPSG:3006 in Sweden).
    places
        From :func:`read_osm_places` (``name`` and point geometries, any CRS).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``points``: ``place`` (the nearest place's name; None
        when there is no place, or the point is empty) and
        ``place_distance_m`` (m, straight line in the points' metric CRS).
    """
    if points.crs is None or places.crs is None:
        raise ParameterError("points and places need a CRS to be measured")
    out = pd.DataFrame(
        {
            "place": pd.Series(None, index=points.index, dtype=object),
            "place_distance_m": np.full(len(points), np.nan),
        },
        index=points.index,
    )
    if points.empty or places.empty:
        return out
    crs = metric_crs_of(points)
    geoms = points.to_crs(crs).geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    tree = shapely.STRtree(places.to_crs(crs).geometry.to_numpy())
    (which, target), distance = tree.query_nearest(
        geoms[ok], return_distance=True, all_matches=False
    )
    rows = np.flatnonzero(ok)[which]
    names = places["name"].astype(object).to_numpy()
    place = np.full(len(out), None, dtype=object)
    place[rows] = names[target]
    metres = np.full(len(out), np.nan)
    metres[rows] = np.round(distance, 1)
    return pd.DataFrame(
        {"place": pd.Series(place, index=points.index, dtype=object), "place_distance_m": metres},
        index=points.index,
    )
