"""The metric CRS of an analysis: SWEREF 99 TM in Sweden, the local UTM zone elsewhere.

Distances, buffers and areas are measured in a projected CRS. SWEREF 99 TM
(EPSG:3006) is exact enough across Sweden, but it is a transverse Mercator
projection centred on 15° E and stretches distances away from it: by 1.5 %
at 1.5° E in Andorra and by a factor 2.09 at 55° W. Data whose centre lies
outside Sweden's extent therefore use the WGS 84 UTM zone of that centre
(6° wide, so the scale error stays within 0.1 %), and data inside it
SWEREF 99 TM, so every Swedish result stays as it was.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np

from planner import constants

__all__ = ["metric_crs", "metric_crs_of"]


def metric_crs(lon: np.ndarray | float, lat: np.ndarray | float) -> str:
    """The metric CRS for data at these longitudes and latitudes (degrees, EPSG:4326).

    Parameters
    ----------
    lon, lat
        Coordinates of the data (or of its bounding box), degrees.

    Returns
    -------
    str
        ``"EPSG:3006"`` (SWEREF 99 TM) when the centre of their bounding box
        lies inside :data:`planner.constants.ANALYSIS_CRS_EXTENT_LONLAT`;
        otherwise the WGS 84 UTM zone of that centre (``"EPSG:326zz"`` north
        of the equator, ``"EPSG:327zz"`` south of it, standard 6° zones), or
        UPS (``"EPSG:32661"`` / ``"EPSG:32761"``) beyond 84° N / 80° S where
        UTM is not defined. With no finite coordinate, ``"EPSG:3006"``.
    """
    x = np.asarray(lon, dtype=float).ravel()
    y = np.asarray(lat, dtype=float).ravel()
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return constants.ANALYSIS_CRS
    cx = (float(x[ok].min()) + float(x[ok].max())) / 2
    cy = (float(y[ok].min()) + float(y[ok].max())) / 2
    west, south, east, north = constants.ANALYSIS_CRS_EXTENT_LONLAT
    if west <= cx <= east and south <= cy <= north:
        return constants.ANALYSIS_CRS
    if cy > 84.0:
        return "EPSG:32661"
    if cy < -80.0:
        return "EPSG:32761"
    zone = min(max(math.floor((cx + 180.0) / 6.0) + 1, 1), 60)
    return f"EPSG:{32600 + zone if cy >= 0 else 32700 + zone}"


def metric_crs_of(data: gpd.GeoDataFrame | gpd.GeoSeries) -> str:
    """:func:`metric_crs` of a layer's extent (any CRS that is set).

    Returns ``"EPSG:3006"`` for a layer with no CRS or no geometry.
    """
    geoms = data.geometry if isinstance(data, gpd.GeoDataFrame) else data
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    if geoms.crs is None or geoms.empty:
        return constants.ANALYSIS_CRS
    west, south, east, north = geoms.to_crs(constants.WGS84).total_bounds
    return metric_crs(np.array([west, east]), np.array([south, north]))
