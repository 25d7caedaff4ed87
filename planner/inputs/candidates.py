"""Candidate sites for new ambulances.

Every source returns a *candidate layer*: a :class:`geopandas.GeoDataFrame`
in a metric CRS (SWEREF 99 TM, EPSG:3006, for Swedish data; the UTM zone of
the data elsewhere; the network's CRS for road-node candidates), indexed
0..n-1, with the columns

``name``
    Candidate name (str), unique within the layer (compared
    case-insensitively). Repeated names get `` (<source> <source_id>)``
    appended.
``kind``
    What the site is (str): ``existing``, ``hospital``, ``health_centre``,
    ``fire_station``, ``grid`` or ``file`` (see :data:`CANDIDATE_KINDS`).
``required``
    True only for existing stations, which every plan keeps (bool).
``source``
    Where the layer came from (str): the stations' source, ``OSM``, ``grid
    <spacing> m`` or the file name.
``source_id``
    Which object of that source (str): the station's ``source_row``, the OSM
    object (``node 123``), the grid cell (``<cell_x>_<cell_y>``) or the file
    row (``row 3``).
``geometry``
    A Point in the layer's CRS.

Existing stations also keep ``fleet`` and ``units``; grid candidates keep the
road ``node`` they sit on. :func:`combine_candidates` joins layers,
:func:`check_candidates` snaps them to the road network and leaves out those
no road reaches.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from planner import constants
from planner.errors import DataError, ParameterError
from planner.inputs.readers import as_text, boundary_lonlat
from planner.inputs.sites import read_osm_pois, read_points, validate_stations
from planner.network.crs import metric_crs_of
from planner.network.road_network import RoadNetwork
from planner.network.snapping import STATUS_FAR, SnappedPoints, snap_points

__all__ = [
    "CANDIDATE_COLUMNS",
    "CANDIDATE_KINDS",
    "MAX_GRID_SPACING_M",
    "MIN_GRID_SPACING_M",
    "OSM_CANDIDATE_TAGS",
    "SAME_POSITION_DECIMALS",
    "candidates_from_file",
    "candidates_from_osm",
    "candidates_from_stations",
    "candidates_on_grid",
    "check_candidates",
    "collect_candidates",
    "combine_candidates",
]

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------
#: Kinds of candidate site.
CANDIDATE_KINDS: Final[tuple[str, ...]] = (
    "existing",
    "hospital",
    "health_centre",
    "fire_station",
    "grid",
    "file",
)

#: Columns every candidate layer has, in this order (``geometry`` last).
CANDIDATE_COLUMNS: Final[tuple[str, ...]] = ("name", "kind", "required", "source", "source_id")

#: OSM tags of each kind of candidate site (key -> accepted values; an object
#: matches if any pair matches). Sources:
#:
#: * hospitals: OSM wiki Tag:amenity=hospital and Key:healthcare
#:   (``healthcare=hospital`` is the healthcare-schema twin of the amenity tag);
#: * health centres ("vårdcentral", Swedish primary care): OSM wiki
#:   Key:healthcare (``healthcare=centre``, ``clinic``, ``doctor``) and the
#:   older Tag:amenity=clinic / Tag:amenity=doctors. Swedish mappers tag a
#:   vårdcentral ``amenity=clinic`` + ``healthcare=clinic`` (OSM wiki
#:   Sv:Map Features / the Swedish community's tagging of vårdcentraler),
#:   while some use ``amenity=doctors`` or ``healthcare=centre``, so all are
#:   accepted;
#: * fire stations: OSM wiki Tag:amenity=fire_station.
OSM_CANDIDATE_TAGS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = MappingProxyType(
    {
        "hospital": MappingProxyType({"amenity": ("hospital",), "healthcare": ("hospital",)}),
        "health_centre": MappingProxyType(
            {
                "amenity": ("clinic", "doctors"),
                "healthcare": ("centre", "clinic", "doctor"),
            }
        ),
        "fire_station": MappingProxyType({"amenity": ("fire_station",)}),
    }
)

#: Smallest accepted grid spacing, m. Planning choice: finer than about a
#: city block, cells hold no more than one road node and the grid is just the
#: node list.
MIN_GRID_SPACING_M: Final = 100.0
#: Largest accepted grid spacing, m. Planning choice: 100 km cells are
#: already coarser than any Swedish region's response-time geography (Sweden
#: is about 500 km wide); larger values are almost surely a unit mistake.
MAX_GRID_SPACING_M: Final = 100_000.0

#: Candidates whose coordinates (m, in the combined layer's CRS) agree when rounded to this many
#: decimals (1 mm) are at the same position. Planning choice: a reprojection
#: round trip moves points by ~1e-10 m, which must not make two sites.
SAME_POSITION_DECIMALS: Final = 3

#: Source label of OSM candidates.
OSM_SOURCE: Final = "OSM"


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------
def candidates_from_stations(
    stations: gpd.GeoDataFrame, *, source: str = "stations"
) -> gpd.GeoDataFrame:
    """Existing stations as required candidates.

    Parameters
    ----------
    stations
        Stations as returned by :func:`planner.inputs.sites.read_stations` (or any
        frame :func:`planner.inputs.sites.validate_stations` accepts; it is checked
        again, without the Sweden box, which the reader already applied).
    source
        What to call the stations in ``source`` and in messages.

    Returns
    -------
    geopandas.GeoDataFrame
        A candidate layer (the stations' CRS, metres) with ``kind="existing"``,
        ``required=True``, ``source_id`` the station's ``source_row``, and the
        stations' ``fleet`` and ``units`` columns.

    Raises
    ------
    ParameterError
        ``stations`` is not a GeoDataFrame.
    InputFileError
        The stations fail :func:`planner.inputs.sites.validate_stations`.
    """
    if isinstance(stations, gpd.GeoDataFrame) and len(stations) == 0:
        return _layer(
            [], [], kind="existing", required=True, source=source, source_ids=[],
            extra={"fleet": pd.Series([], dtype=object), "units": pd.Series([], dtype="int64")},
            crs=stations.crs or constants.ANALYSIS_CRS,
        )  # fmt: skip
    checked = validate_stations(stations, source=source, check_sweden=False)
    return _layer(
        checked["name"].to_numpy(dtype=object),
        checked.geometry.to_numpy(),
        kind="existing",
        required=True,
        source=source,
        source_ids=checked["source_row"].astype(str).to_numpy(dtype=object),
        extra={"fleet": checked["fleet"].to_numpy(), "units": checked["units"].to_numpy()},
        crs=checked.crs,
    )


def candidates_from_osm(
    path: str | os.PathLike[str],
    *,
    kinds: Iterable[str] = ("hospital", "health_centre", "fire_station"),
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Hospitals, health centres and fire stations from an OSM file.

    Parameters
    ----------
    path
        An OSM file (``.osm.pbf``, ``.osm``, ``.osm.bz2`` ...; see
        :func:`planner.inputs.sites.read_osm_pois`).
    kinds
        Which kinds to read: any of ``hospital``, ``health_centre`` and
        ``fire_station`` (tags in :data:`OSM_CANDIDATE_TAGS`).
    boundary
        Keep only objects inside this area: a shapely geometry in EPSG:4326
        (longitude/latitude degrees), or a GeoSeries/GeoDataFrame with a CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        A candidate layer (metres, the CRS of
        :func:`planner.inputs.sites.read_osm_pois`), ``required=False``,
        ``source="OSM"``, ``source_id`` like ``"node 123"``, plus ``osm_id``,
        ``osm_type`` and ``tag`` (the matching ``key=value``). Areas become
        their centroid. An object matching several kinds counts once, as the
        first kind in ``kinds``. Unnamed objects are called ``<kind> <osm id>``
        (``health_centre`` written ``health centre``). Possibly empty.

    Raises
    ------
    ParameterError
        ``kinds`` is empty or names an unknown kind, or ``boundary`` is unusable.
    MissingFileError, InputFileError
        As :func:`planner.inputs.sites.read_osm_pois`.
    """
    wanted = _osm_kinds(kinds)
    frames = []
    for kind in wanted:
        pois = read_osm_pois(path, tags=OSM_CANDIDATE_TAGS[kind], boundary=boundary)
        frames.append(pois.assign(kind=kind))
    crs = next((f.crs for f in frames if len(f)), frames[0].crs)  # each read's metric CRS
    pois = pd.concat([f.to_crs(crs) for f in frames], ignore_index=True)
    pois = pois.drop_duplicates(["osm_type", "osm_id"], keep="first").reset_index(drop=True)
    ids = pois["osm_id"].astype("int64").astype(str)
    default = pois["kind"].str.replace("_", " ", regex=False) + " " + ids
    names = as_text(pois["name"])
    names = names.where(names != "", default)
    return _layer(
        names.to_numpy(dtype=object),
        pois.geometry.to_numpy(),
        kind=pois["kind"].to_numpy(dtype=object),
        required=False,
        source=OSM_SOURCE,
        source_ids=(pois["osm_type"] + " " + ids).to_numpy(dtype=object),
        crs=pois.crs,
        extra={
            "osm_id": pois["osm_id"].astype("int64").to_numpy(),
            "osm_type": pois["osm_type"].to_numpy(dtype=object),
            "tag": pois["tag"].to_numpy(dtype=object),
        },
    )


def candidates_on_grid(
    network: RoadNetwork | nx.MultiDiGraph,
    *,
    spacing_m: float,
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    all_components: bool = False,
) -> gpd.GeoDataFrame:
    """One road node per cell of a square grid laid over the network.

    The grid is anchored at the origin of the network's CRS (EPSG:3006 in
    Sweden): cell ``(i, j)`` covers
    ``i * spacing_m <= x < (i + 1) * spacing_m`` and likewise in y. In every
    cell holding road nodes the node nearest the cell centre is taken (ties:
    the lowest node id).

    Parameters
    ----------
    network
        A :class:`planner.network.road_network.RoadNetwork` or its graph (nodes with
        ``x``, ``y`` in metres of its CRS, and ``component``).
    spacing_m
        Cell side, m, between :data:`MIN_GRID_SPACING_M` and
        :data:`MAX_GRID_SPACING_M`.
    boundary
        Use only nodes inside this area: a shapely geometry in EPSG:4326
        (longitude/latitude degrees), or a GeoSeries/GeoDataFrame with a CRS.
    all_components
        Use nodes of every strongly connected part; by default only those of
        the largest (``component == 0``), so that every candidate can reach
        and be reached from the main network.

    Returns
    -------
    geopandas.GeoDataFrame
        A candidate layer (the network's CRS, metres), ``kind="grid"``,
        ``required=False``, ``source="grid <spacing_m> m"``, named
        ``grid <cell_x>_<cell_y>`` (``source_id`` ``<cell_x>_<cell_y>``), with
        the chosen ``node`` id; sorted by cell.

    Raises
    ------
    ParameterError
        ``spacing_m`` is not a number in the accepted range, or ``boundary``
        is unusable.
    DataError
        The network has no nodes (inside the boundary, in the chosen parts).
    """
    spacing = _spacing(spacing_m)
    graph = _graph(network)
    nodes = pd.DataFrame.from_dict(dict(graph.nodes(data=True)), orient="index")
    if nodes.empty:
        raise DataError("candidates_on_grid: the road network has no nodes")
    nodes.index = nodes.index.astype("int64")
    nodes = nodes.sort_index()
    if not all_components and "component" in nodes.columns:
        nodes = nodes[nodes["component"].to_numpy() == 0]
    x = nodes["x"].to_numpy(dtype=float)
    y = nodes["y"].to_numpy(dtype=float)
    crs = str(graph.graph.get("crs", constants.ANALYSIS_CRS))
    area = _boundary_metric(boundary, crs)
    if area is not None:
        inside = shapely.covers(area, shapely.points(x, y))
        nodes, x, y = nodes[inside], x[inside], y[inside]
    if len(nodes) == 0:
        where = " inside the boundary" if area is not None else ""
        raise DataError(f"candidates_on_grid: no road nodes{where} in the chosen parts")

    cell_x = np.floor_divide(x, spacing).astype(np.int64)
    cell_y = np.floor_divide(y, spacing).astype(np.int64)
    distance = np.hypot(x - (cell_x + 0.5) * spacing, y - (cell_y + 0.5) * spacing)
    cells = pd.DataFrame(
        {"cell_x": cell_x, "cell_y": cell_y, "distance": distance, "x": x, "y": y},
        index=pd.Index(nodes.index.to_numpy(), name="node"),
    )
    best = cells.groupby(["cell_x", "cell_y"], sort=True)["distance"].idxmin()
    chosen = cells.loc[best.to_numpy()]
    ids = chosen["cell_x"].astype(str) + "_" + chosen["cell_y"].astype(str)
    return _layer(
        ("grid " + ids).to_numpy(dtype=object),
        shapely.points(chosen["x"].to_numpy(), chosen["y"].to_numpy()),
        kind="grid",
        required=False,
        source=f"grid {spacing:g} m",
        source_ids=ids.to_numpy(dtype=object),
        extra={"node": chosen.index.to_numpy(dtype=np.int64)},
        crs=crs,
    )


def candidates_from_file(
    path: str | os.PathLike[str],
    *,
    crs: str | None = None,
    x: str | None = None,
    y: str | None = None,
    layer: str | None = None,
    check_sweden: bool = True,
    source: str | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from a CSV, GeoJSON, GeoPackage or GeoParquet file.

    Parameters
    ----------
    path, crs, x, y, layer, check_sweden, source
        As :func:`planner.inputs.sites.read_points` (and
        :func:`planner.inputs.sites.read_stations`); ``source`` names the
        file in messages.

    Returns
    -------
    geopandas.GeoDataFrame
        A candidate layer (metres, the CRS of
        :func:`planner.inputs.sites.read_points`), ``kind="file"``,
        ``required=False``, ``source`` the file name and ``source_id``
        ``row <n>`` (a table's row as Excel shows it, the first data row
        being 2, or the feature number from 1). Names come from
        a ``name``/``namn``/``station`` column; rows without one are called
        ``candidate <n>``. The file's other columns are not kept.

    Raises
    ------
    MissingFileError, InputFileError, ParameterError
        As :func:`planner.inputs.sites.read_points`: bad rows are named by file and row.
    """
    points = read_points(
        path, crs=crs, x=x, y=y, layer=layer, check_sweden=check_sweden, source=source
    )
    rows = points["source_row"].astype("int64").astype(str)
    if "name" in points.columns:
        names = as_text(points["name"])
    else:
        names = pd.Series("", index=points.index, dtype=object)
    names = names.where(names != "", "candidate " + rows)
    return _layer(
        names.to_numpy(dtype=object),
        points.geometry.to_numpy(),
        kind="file",
        required=False,
        source=Path(path).name,
        source_ids=("row " + rows).to_numpy(dtype=object),
        crs=points.crs,
    )


# --------------------------------------------------------------------------
# Combining and checking
# --------------------------------------------------------------------------
def combine_candidates(*layers: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Join candidate layers into one.

    Candidates at the same position (coordinates in the combined CRS equal
    to the millimetre, see :data:`SAME_POSITION_DECIMALS`) are one site: a required
    candidate is always kept; of the others only the first (in the order of
    ``layers``, then of rows) is kept, and only if no required candidate is
    there. Names are then made unique by appending
    `` (<source> <source_id>)`` to repeated ones.

    Parameters
    ----------
    *layers
        Candidate layers (from the functions of this module) in any CRS; they
        are reprojected to the CRS of the first layer that holds a candidate
        (its metric CRS, :func:`planner.network.crs.metric_crs_of`, if that one is
        longitude/latitude).

    Returns
    -------
    geopandas.GeoDataFrame
        One candidate layer (that CRS, metres), indexed 0..n-1, with the
        union of the layers' columns (missing values NA). Empty (with the
        layer columns) when no layer is given.

    Raises
    ------
    ParameterError
        A layer is not a candidate layer (not a GeoDataFrame, no CRS, a layer
        column missing).
    """
    if not layers:
        return _layer(
            [], [], kind="file", required=False, source="", source_ids=[],
            crs=constants.ANALYSIS_CRS,
        )  # fmt: skip
    checked = [
        _require_layer(layer, f"combine_candidates: layer {i + 1}")
        for i, layer in enumerate(layers)
    ]
    first = next((f for f in checked if len(f)), checked[0])
    crs = first.crs if first.crs.is_projected else metric_crs_of(first)
    frames = [frame.to_crs(crs) for frame in checked if len(frame)] or [checked[0].to_crs(crs)]
    combined = pd.concat(frames, ignore_index=True)
    combined = gpd.GeoDataFrame(combined, geometry="geometry", crs=crs)
    xy = shapely.get_coordinates(combined.geometry.to_numpy())
    required = combined["required"].to_numpy(dtype=bool)
    xy = np.round(xy, SAME_POSITION_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    key = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "rank": ~required})
    # within each position, the required ones come first, then input order
    ordered = key.sort_values("rank", kind="stable")
    first = ~ordered.duplicated(["x", "y"], keep="first")
    keep = (first.sort_index().to_numpy()) | required
    combined = combined.loc[keep].reset_index(drop=True)
    combined["name"] = _unique_names(
        as_text(combined["name"]), combined["source"], combined["source_id"]
    ).to_numpy(dtype=object)
    return combined


def check_candidates(
    network: RoadNetwork | nx.MultiDiGraph,
    candidates: gpd.GeoDataFrame,
    *,
    max_distance_m: float = constants.MAX_SNAP_DISTANCE_M,
    edges: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, SnappedPoints, gpd.GeoDataFrame]:
    """Snap candidates to the road network and leave out those no road reaches.

    Parameters
    ----------
    network
        A :class:`planner.network.road_network.RoadNetwork` or its graph (its CRS).
    candidates
        A candidate layer (any CRS; snapped in the network's CRS).
    max_distance_m
        Candidates farther than this from any road, m, have status
        ``far_from_road``.
    edges
        Pre-computed :func:`planner.network.snapping.edge_frame` of the graph.

    Returns
    -------
    kept : geopandas.GeoDataFrame
        The candidates roads reach, plus every required one; indexed 0..k-1,
        with ``status`` (``ok``, ``minor_component``, or ``far_from_road`` for a
        required candidate that no road reaches: it is kept but reaches
        nothing) and ``snap_distance_m`` (m).
    snapped : planner.network.snapping.SnappedPoints
        The snapping of ``kept``, row for row (``labels`` 0..k-1).
    unreachable : pandas.DataFrame
        One row per candidate with status ``far_from_road`` (required ones
        included): ``name``, ``kind``, ``required``, ``snap_distance_m`` (m) and
        ``status``; indexed 0..m-1.

    Raises
    ------
    ParameterError
        ``candidates`` is not a candidate layer, or ``max_distance_m`` is not
        a positive distance.
    DataError
        ``candidates`` is empty.
    """
    layer = _require_layer(candidates, "check_candidates: candidates")
    if len(layer) == 0:
        raise DataError("check_candidates: there are no candidates")
    snapped = snap_points(_graph(network), layer, max_distance_m=max_distance_m, edges=edges)
    status = np.asarray(snapped.status, dtype=object)
    far = status == STATUS_FAR
    required = layer["required"].to_numpy(dtype=bool)
    keep = ~far | required
    checked = layer.assign(status=status, snap_distance_m=snapped.snap_distance_m)
    kept = checked.loc[keep].reset_index(drop=True)
    kept_snapped = dataclasses.replace(
        _subset_snapped(snapped, keep), labels=np.arange(int(keep.sum()))
    )
    report = pd.DataFrame(
        checked.loc[far, ["name", "kind", "required", "snap_distance_m", "status"]]
    ).reset_index(drop=True)
    return kept, kept_snapped, report


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def _subset_snapped(snapped: SnappedPoints, mask: np.ndarray) -> SnappedPoints:
    """The points of ``snapped`` where the boolean ``mask`` (one per point) is True."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (len(snapped),):
        raise ValueError(f"mask has shape {mask.shape}; expected ({len(snapped)},)")
    values = {
        field.name: getattr(snapped, field.name)[mask] for field in dataclasses.fields(snapped)
    }
    return type(snapped)(**values)


def _layer(
    names: Any,
    geometries: Any,
    *,
    kind: str | np.ndarray,
    required: bool,
    source: str,
    source_ids: Any,
    extra: Mapping[str, Any] | None = None,
    crs: Any,
) -> gpd.GeoDataFrame:
    """Build a candidate layer (in ``crs``, metres) with unique names."""
    names = pd.Series(np.asarray(names, dtype=object), dtype=object)
    n = len(names)
    sources = pd.Series([source] * n, dtype=object)
    ids = pd.Series(np.asarray(source_ids, dtype=object), dtype=object)
    table: dict[str, Any] = {
        "name": _unique_names(names, sources, ids).to_numpy(dtype=object),
        "kind": np.broadcast_to(np.asarray(kind, dtype=object), (n,)).copy(),
        "required": np.full(n, required, dtype=bool),
        "source": sources.to_numpy(dtype=object),
        "source_id": ids.to_numpy(dtype=object),
    }
    for column, values in (extra or {}).items():
        table[column] = np.asarray(values)
    return gpd.GeoDataFrame(table, geometry=np.asarray(geometries, dtype=object), crs=crs)


def _unique_names(names: pd.Series, sources: pd.Series, ids: pd.Series) -> pd.Series:
    """Append `` (<source> <id>)`` to names that occur more than once (case-insensitively).

    Names still repeated after that (the same object twice) get `` [2]``, `` [3]`` ...
    """
    names = names.reset_index(drop=True).astype(object)
    repeated = names.str.casefold().duplicated(keep=False)
    suffix = " (" + as_text(sources.reset_index(drop=True)) + " "
    suffix = suffix + as_text(ids.reset_index(drop=True)) + ")"
    names = names.where(~repeated, names + suffix)
    count = names.groupby(names.str.casefold()).cumcount()
    return names.where(count == 0, names + " [" + (count + 1).astype(str) + "]")


def _require_layer(layer: Any, what: str) -> gpd.GeoDataFrame:
    """A candidate layer with Point geometry, checked (in its own CRS)."""
    if not isinstance(layer, gpd.GeoDataFrame):
        raise ParameterError(
            f"{what} must be a candidate layer (GeoDataFrame), not {type(layer).__name__}"
        )
    missing = [c for c in CANDIDATE_COLUMNS if c not in layer.columns]
    if missing:
        raise ParameterError(
            f"{what} lacks the column(s) {', '.join(missing)}; build layers with the "
            "candidates_* functions"
        )
    if layer.crs is None:
        raise ParameterError(f"{what} has no CRS")
    geoms = layer.geometry
    if len(layer) and ((geoms.geom_type != "Point").any() or geoms.is_empty.any()):
        raise ParameterError(f"{what} holds geometries that are not points")
    return layer if layer.geometry.name == "geometry" else layer.rename_geometry("geometry")


def _osm_kinds(kinds: Iterable[str]) -> list[str]:
    listed = [kinds] if isinstance(kinds, str) else list(kinds)
    known = ", ".join(OSM_CANDIDATE_TAGS)
    if not listed:
        raise ParameterError(f"kinds is empty; use some of: {known}")
    unknown = [k for k in listed if k not in OSM_CANDIDATE_TAGS]
    if unknown:
        raise ParameterError(f"kinds holds {unknown[0]!r}, not an OSM candidate kind; use: {known}")
    return list(dict.fromkeys(listed))


def _spacing(spacing_m: Any) -> float:
    ok = isinstance(spacing_m, int | float | np.integer | np.floating) and not isinstance(
        spacing_m, bool
    )
    if (
        not ok
        or not np.isfinite(spacing_m)
        or not (MIN_GRID_SPACING_M <= spacing_m <= MAX_GRID_SPACING_M)
    ):
        raise ParameterError(
            f"spacing_m = {spacing_m!r}: the grid spacing must be a distance between "
            f"{MIN_GRID_SPACING_M:g} and {MAX_GRID_SPACING_M:g} m"
        )
    return float(spacing_m)


def _graph(network: RoadNetwork | nx.MultiDiGraph) -> nx.MultiDiGraph:
    if isinstance(network, RoadNetwork):
        return network.graph
    if isinstance(network, nx.MultiDiGraph):
        return network
    raise ParameterError(
        f"network must be a RoadNetwork or its graph, not {type(network).__name__}"
    )


def _boundary_metric(
    boundary: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None, crs: str
) -> BaseGeometry | None:
    """The boundary (checked as :func:`planner.inputs.sites.read_osm_pois` does) in ``crs``."""
    area = boundary_lonlat(boundary)
    if area is None:
        return None
    projected = gpd.GeoSeries([area], crs=constants.WGS84).to_crs(crs)
    geometry: BaseGeometry = projected.iloc[0]
    return geometry


def collect_candidates(
    network: RoadNetwork,
    kinds: Sequence[str],
    *,
    spacing_m: float = constants.CANDIDATE_GRID_SPACING_M,
    path: Path | None = None,
    crs: str | None = None,
    check_sweden: bool = True,
    osm_source: Path | None = None,
    boundary: Any = None,
    argument: str = "candidates",
    file_argument: str = "a candidates file",
    file_source: str | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from the named sources, combined (in the first source's CRS).

    Parameters
    ----------
    network
        The road network (for the ``grid`` of road nodes).
    kinds
        Any of ``"osm"`` (hospitals, health centres, fire stations in
        ``osm_source``), ``"grid"`` (one road node per square of
        ``spacing_m``, m) and ``"file"`` (``path``).
    argument, file_argument
        How errors name the sources and the file argument (CLI flags or
        scenario keys).
    file_source
        How messages about the file's contents name it (default its path;
        :func:`planner.errors.file_label`).
    """
    layers = []
    for kind in kinds:
        if kind == "osm":
            if osm_source is None:
                raise ParameterError(
                    f"{argument} osm needs an OSM file (pbf or osm) as the road source"
                )
            layers.append(candidates_from_osm(osm_source, boundary=boundary))
        elif kind == "grid":
            layers.append(candidates_on_grid(network, spacing_m=spacing_m))
        elif kind == "file":
            if path is None:
                raise ParameterError(f"{argument} file needs {file_argument}")
            layers.append(
                candidates_from_file(path, crs=crs, check_sweden=check_sweden, source=file_source)
            )
        else:
            raise ParameterError(f"{argument} {kind!r}: use osm, grid and/or file")
    if not layers:
        raise ParameterError(f"{argument}: name at least one source: osm, grid, file")
    return combine_candidates(*layers)
