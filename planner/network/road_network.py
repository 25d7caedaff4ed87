"""Drivable road networks from OpenStreetMap, clipped to a region and cached.

Three sources give the same result:

* an OSM PBF file (for example Geofabrik's ``sweden-latest.osm.pbf``),
* an OSM XML file (``.osm``, ``.osm.bz2``),
* a download from the Overpass API through OSMnx, for a boundary polygon.

Files are read with pyosmium (libosmium), which streams PBF and XML alike and
fills in node locations. Only drivable ways (OSMnx's ``drive`` filter, see
:data:`planner.constants.DRIVE_FILTER`) and, optionally, car ferries
(``route=ferry``) are kept. The network is clipped to the boundary plus a
buffer (km), every edge gets ``length`` (m, great-circle), ``speed_kph``
(km/h, emergency speed) and ``travel_time`` (s) from
:mod:`planner.network.speeds`, the topology is simplified with OSMnx, and the graph is
projected to its metric CRS (:func:`planner.network.crs.metric_crs`): SWEREF 99 TM
(EPSG:3006) for a Swedish area, the UTM zone of the area's centre elsewhere.
The CRS is chosen from the boundary (or, without one, from the roads read),
the buffer is drawn in it, and :attr:`RoadNetwork.crs` records it; every
later stage measures distances in it. Lengths are great-circle distances
from the coordinates, so they, and the drive times, do not depend on the CRS.

Every strongly connected part is kept by default (an island with its own roads
still counts); each node carries its ``component`` number (0 is the largest)
and :attr:`RoadNetwork.components` reports the parts. Turn restrictions are
not modelled.

Built networks are cached under a key hashed from the source file's digest (or
the Overpass query polygon), the boundary, the settings and the package
version, as Parquet files and JSON (see :mod:`planner.cache`), never pickle.
"""

from __future__ import annotations

import bz2
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry
from tqdm.auto import tqdm

from planner import __version__, constants
from planner.cache import cache_key, cached, file_digest
from planner.errors import (
    DataError,
    DownloadError,
    InputFileError,
    MissingFileError,
    NoRoadsError,
    ParameterError,
    file_label,
)
from planner.network.crs import metric_crs
from planner.network.graph_files import load_frame, load_graph, save_frame, save_graph
from planner.network.osm import (
    OSM_READ_ERRORS,
    describe_osm_error,
    location_out_of_range,
    out_of_range_error,
)
from planner.network.overpass import overpass_settings
from planner.network.speeds import SpeedModel, add_edge_speeds

__all__ = [
    "NetworkSettings",
    "RoadNetwork",
    "build_network",
    "detect_source_kind",
    "download_osm_roads",
    "graph_edges",
    "read_osm_roads",
    "summarise_components",
]

SourceKind = Literal["pbf", "xml", "overpass"]

#: Version of the rules that turn the same inputs into a network, part of
#: the cache key: bump it when they change. 2: direction-specific speed
#: limits, comma-separated maxspeed lists, a local metric CRS outside Sweden.
_BUILD_RULES = 2

#: File endings of OSM files, by kind.
_PBF_SUFFIXES = (".pbf",)
_XML_SUFFIXES = (".osm", ".xml", ".osm.bz2", ".xml.bz2")


@dataclass(frozen=True)
class NetworkSettings:
    """How a road network is built.

    Parameters
    ----------
    buffer_km
        Buffer around the boundary before clipping, km.
    largest_component_only
        Keep only the largest strongly connected part (default keeps all).
    include_ferries
        Keep car ferries (``route=ferry`` open to motor vehicles).
    simplify
        Merge chains of degree-2 nodes into single edges (OSMnx).
    speed_model
        The emergency speed model that sets ``speed_kph`` and ``travel_time``.
    """

    buffer_km: float = constants.DEFAULT_BUFFER_KM
    largest_component_only: bool = False
    include_ferries: bool = True
    simplify: bool = True
    speed_model: SpeedModel = field(default_factory=SpeedModel)

    def __post_init__(self) -> None:
        if not np.isfinite(self.buffer_km) or not 0 <= self.buffer_km <= 200:
            raise ParameterError(
                f"buffer_km = {self.buffer_km!r} km: use a buffer between 0 and 200 km"
            )

    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON-serialisable values."""
        return {
            "buffer_km": self.buffer_km,
            "largest_component_only": self.largest_component_only,
            "include_ferries": self.include_ferries,
            "simplify": self.simplify,
            "speed_model": self.speed_model.to_dict(),
        }


@dataclass(frozen=True)
class RoadNetwork:
    """A built road network and what is known about it.

    Attributes
    ----------
    graph
        OSMnx-style MultiDiGraph in :attr:`crs`. Nodes have ``x``, ``y`` (m),
        ``lon``, ``lat`` (degrees) and ``component``; edges have ``length``
        (m), ``speed_kph`` (km/h), ``travel_time`` (s) and OSM tags.
    components
        One row per strongly connected part, largest first: ``component``,
        ``nodes``, ``edges``, ``length_km``.
    source
        The file path or ``"overpass"``.
    source_kind
        ``"pbf"``, ``"xml"`` or ``"overpass"``.
    osm_timestamp
        The OSM data date (ISO 8601, UTC) from the file header, or the newest
        way seen when the header has none; ``None`` if unknown.
    settings
        The settings the network was built with.
    boundary_name
        Name of the boundary it was clipped to, or ``None`` (whole source).
    cache_key
        The key under which it is cached.
    """

    graph: nx.MultiDiGraph
    components: pd.DataFrame
    source: str
    source_kind: SourceKind
    osm_timestamp: str | None
    settings: NetworkSettings
    boundary_name: str | None
    cache_key: str
    from_cache: bool = False

    @property
    def crs(self) -> str:
        """The metric CRS of the graph (``"EPSG:3006"`` in Sweden, else a UTM zone)."""
        return str(self.graph.graph.get("crs", constants.ANALYSIS_CRS))

    @property
    def nodes_outside_largest(self) -> int:
        """Number of nodes outside the largest strongly connected part."""
        if self.components.empty:
            return 0
        return int(self.components["nodes"].iloc[1:].sum())

    def metadata(self) -> dict[str, Any]:
        """What an export records about the network (source, OSM date, settings)."""
        return {
            "road_source": self.source,
            "road_source_kind": self.source_kind,
            "boundary": self.boundary_name,
            "osm_data_date": self.osm_timestamp,
            "crs": self.crs,
            "network_settings": self.settings.to_dict(),
            "network_cache_key": self.cache_key,
        }

    def summary(self) -> dict[str, Any]:
        """Counts and metadata, for printing and for export metadata."""
        g = self.graph
        length_km = sum(d["length"] for _, _, d in g.edges(data=True)) / 1000.0
        return {
            "source": self.source,
            "source_kind": self.source_kind,
            "boundary": self.boundary_name,
            "osm_timestamp": self.osm_timestamp,
            "nodes": g.number_of_nodes(),
            "edges": g.number_of_edges(),
            "length_km": round(length_km, 3),
            "components": len(self.components),
            "largest_component_nodes": int(self.components["nodes"].iloc[0])
            if len(self.components)
            else 0,
            "nodes_outside_largest": self.nodes_outside_largest,
            "crs": self.crs,
            "settings": self.settings.to_dict(),
            "planner_version": __version__,
            "cache_key": self.cache_key,
        }


# ---------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------


@cache
def _compiled_filter() -> tuple[tuple[str, re.Pattern[str], bool], ...]:
    return tuple((k, re.compile(rx), neg) for k, rx, neg in constants.DRIVE_FILTER)


def is_drivable(tags: Mapping[str, str]) -> bool:
    """Whether a way with these tags passes the drivable-road filter.

    Overpass semantics: ``["key"!~"rx"]`` passes when the tag is missing or
    its value does not contain a match of ``rx``.
    """
    if "highway" not in tags:
        return False
    for key, rx, negate in _compiled_filter():
        value = tags.get(key)
        if negate:
            if value is not None and rx.search(value):
                return False
        elif value is None or not rx.search(value):
            return False
    return True


def is_car_ferry(tags: Mapping[str, str]) -> bool:
    """Whether a way is a ferry route that carries cars.

    Only ferries with ``motor_vehicle`` or ``motorcar`` (or ``motorcar``'s
    sibling ``hgv``) set to a permissive value count, so passenger-only
    ferries are not mistaken for road links.
    """
    if tags.get("route") != "ferry":
        return False
    return any(
        tags.get(key) in constants.FERRY_MOTOR_VALUES for key in ("motor_vehicle", "motorcar")
    )


def _way_directions(tags: Mapping[str, str]) -> tuple[bool, bool]:
    """(forward, backward) travel allowed along the way's drawing direction."""
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in constants.ONEWAY_REVERSE:
        return False, True
    if oneway in constants.ONEWAY_FORWARD:
        return True, False
    if tags.get("junction") == "roundabout" and oneway != "no":
        return True, False
    return True, True


# ---------------------------------------------------------------------------
# Reading OSM files
# ---------------------------------------------------------------------------


def detect_source_kind(source: str | Path, *, name: str | None = None) -> SourceKind:
    """Return ``"pbf"``, ``"xml"`` or ``"overpass"`` for a source argument.

    ``name`` is how a message names the source (default the source itself).

    Raises
    ------
    InputFileError
        If the file ending is not an OSM format.
    """
    if str(source) == "overpass":
        return "overpass"
    suffix = Path(source).name.lower()
    if suffix.endswith(_PBF_SUFFIXES):
        return "pbf"
    if suffix.endswith(_XML_SUFFIXES):
        return "xml"
    raise InputFileError(
        f"{name or source}: not an OSM file; use .osm.pbf, .osm, .osm.bz2 or the Overpass download"
    )


def _check_readable(path: Path, name: str) -> None:
    if not path.exists():
        raise MissingFileError(f"{name}: no such file")
    if not path.is_file():
        raise InputFileError(f"{name}: not a file")
    if path.stat().st_size == 0:
        raise InputFileError(f"{name}: the file is empty")
    if path.name.lower().endswith(".bz2"):
        try:
            with bz2.open(path) as fh:
                fh.read(64)
        except (OSError, EOFError) as exc:
            raise InputFileError(f"{name}: not a readable bzip2 file ({exc})") from None


@dataclass
class _WayBuffer:
    """Columns collected while streaming ways (then turned into numpy arrays)."""

    refs: list[np.ndarray] = field(default_factory=list)
    lons: list[np.ndarray] = field(default_factory=list)
    lats: list[np.ndarray] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    newest: datetime | None = None
    include_ferries: bool = True
    bbox: tuple[float, float, float, float] | None = None

    def add(
        self,
        way_id: int,
        tags: Mapping[str, str],
        refs: np.ndarray,
        lons: np.ndarray,
        lats: np.ndarray,
    ) -> bool:
        """Keep a way if it is drivable (or a car ferry) and touches the bbox."""
        if not (is_drivable(tags) or (self.include_ferries and is_car_ferry(tags))):
            return False
        if self.bbox is not None:
            w, s, e, n = self.bbox
            if not ((lons >= w) & (lons <= e) & (lats >= s) & (lats <= n)).any():
                return False
        self.refs.append(refs)
        self.lons.append(lons)
        self.lats.append(lats)
        self.ids.append(int(way_id))
        self.tags.append({k: tags[k] for k in constants.EDGE_TAGS if k in tags})
        return True


def _xml_osm_base(path: Path) -> str | None:
    """The ``<meta osm_base="...">`` date that Overpass writes into its XML, if any."""
    opener = bz2.open if path.name.lower().endswith(".bz2") else open
    with opener(path, "rb") as fh:
        head = fh.read(4096).decode("utf-8", errors="replace")
    match = re.search(r'<meta\s[^>]*osm_base="([^"]+)"', head)
    return match.group(1) if match else None


def _stream_ways(
    path: Path,
    *,
    include_ferries: bool,
    bbox: tuple[float, float, float, float] | None,
    progress: bool = False,
    name: str,
) -> tuple[_WayBuffer, str | None]:
    """Read drivable ways (and car ferries) with node locations from an OSM file."""
    import osmium

    buf = _WayBuffer(include_ferries=include_ferries, bbox=bbox)
    bar = tqdm(desc=f"reading {path.name}", unit=" roads", disable=not progress, leave=False)
    bad: list[tuple[int, int, float, float]] = []  # (node, way, lon, lat) out of range
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.NOTHING)
        header = reader.header()
        stamp = header.get("osmosis_replication_timestamp") or header.get("timestamp") or None
        reader.close()
        if stamp is None and detect_source_kind(path) == "xml":
            stamp = _xml_osm_base(path)
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway", "route"))
        )
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way):
                continue
            n = len(obj.nodes)
            refs = np.empty(n, dtype=np.int64)
            lons = np.full(n, np.nan)
            lats = np.full(n, np.nan)
            outside = []
            for i, nd in enumerate(obj.nodes):
                refs[i] = nd.ref
                loc = nd.location
                if loc.valid():
                    lons[i] = loc.lon
                    lats[i] = loc.lat
                elif location_out_of_range(loc):
                    outside.append(
                        (nd.ref, obj.id, loc.lon_without_check(), loc.lat_without_check())
                    )
            if not buf.add(obj.id, {t.k: t.v for t in obj.tags}, refs, lons, lats):
                continue
            bad.extend(outside)
            bar.update()
            ts = obj.timestamp
            if ts is not None and ts.year > 1970 and (buf.newest is None or ts > buf.newest):
                buf.newest = ts
    except OSM_READ_ERRORS as exc:
        raise InputFileError(
            f"{name}: cannot be read as OSM data ({describe_osm_error(exc)})"
        ) from None
    finally:
        bar.close()
    if bad:
        node, way, lon, lat = bad[0]
        raise out_of_range_error(
            name, node, lon, lat, where=f"way {way}", count=len({b[0] for b in bad})
        )
    if stamp is None and buf.newest is not None:
        stamp = buf.newest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return buf, stamp


def _graph_from_ways(buf: _WayBuffer) -> nx.MultiDiGraph:
    """Build an unsimplified OSMnx-style MultiDiGraph (EPSG:4326) from streamed ways."""
    import osmnx as ox

    graph = nx.MultiDiGraph(crs=constants.WGS84, created_with=f"planner {__version__}")
    if not buf.refs:
        return graph
    sizes = np.fromiter((len(r) for r in buf.refs), dtype=np.int64, count=len(buf.refs))
    way_of = np.repeat(np.arange(len(sizes)), sizes)
    refs = np.concatenate(buf.refs)
    lons = np.concatenate(buf.lons)
    lats = np.concatenate(buf.lats)
    # consecutive node pairs of the same way, both located, not a repeated node
    a = np.arange(len(refs) - 1)
    b = a + 1
    ok = (
        (way_of[a] == way_of[b])
        & np.isfinite(lons[a])
        & np.isfinite(lons[b])
        & (refs[a] != refs[b])
    )
    a, b = a[ok], b[ok]
    seg_way = way_of[a]
    seg_len = ox.distance.great_circle(lats[a], lons[a], lats[b], lons[b])
    way_len = np.bincount(seg_way, weights=seg_len, minlength=len(sizes))

    used = np.unique(np.concatenate([a, b]))
    node_ids, first = np.unique(refs[used], return_index=True)
    graph.add_nodes_from(
        (int(nid), {"x": float(x), "y": float(y)})
        for nid, x, y in zip(node_ids, lons[used][first], lats[used][first], strict=True)
    )

    directions = [_way_directions(t) for t in buf.tags]
    edges: list[tuple[int, int, dict[str, Any]]] = []
    u_ids, v_ids = refs[a], refs[b]
    for i in range(len(a)):
        w = int(seg_way[i])
        tags = buf.tags[w]
        fwd, bwd = directions[w]
        base = {
            "osmid": buf.ids[w],
            **tags,
            "oneway": not (fwd and bwd),
            "length": float(seg_len[i]),
            "way_length": float(way_len[w]),
        }
        if fwd:
            edges.append((int(u_ids[i]), int(v_ids[i]), {**base, "reversed": False}))
        if bwd:
            edges.append((int(v_ids[i]), int(u_ids[i]), {**base, "reversed": True}))
    graph.add_edges_from(edges)
    return graph


def read_osm_roads(
    path: str | Path,
    *,
    include_ferries: bool = True,
    bbox: tuple[float, float, float, float] | None = None,
    progress: bool = False,
    source: str | None = None,
) -> tuple[nx.MultiDiGraph, str | None]:
    """Read drivable roads from an OSM PBF or XML file.

    Parameters
    ----------
    path
        ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` file.
    include_ferries
        Also read car ferries (``route=ferry``).
    bbox
        Optional (west, south, east, north) in degrees (EPSG:4326); ways with
        no node inside are skipped while streaming.
    progress
        Show a progress bar while streaming.
    source
        How messages name the file; default its path
        (:func:`planner.errors.file_label` adds the option it came from).

    Returns
    -------
    graph, osm_timestamp
        The unsimplified MultiDiGraph in EPSG:4326 (``x`` = lon, ``y`` = lat;
        edge ``length`` and ``way_length`` in m) and the data date.

    Raises
    ------
    MissingFileError, InputFileError
        If the file is missing, empty or not OSM data.
    """
    path = Path(path)
    name = source or str(path)
    detect_source_kind(path, name=name)
    _check_readable(path, name)
    buf, stamp = _stream_ways(
        path, include_ferries=include_ferries, bbox=bbox, progress=progress, name=name
    )
    return _graph_from_ways(buf), stamp


def _overpass_filters(include_ferries: bool) -> list[str]:
    """The drivable filter (and the car-ferry filter) in Overpass QL."""
    road = '["highway"]' + "".join(
        f'["{k}"{"!~" if neg else "~"}"{rx}"]' for k, rx, neg in constants.DRIVE_FILTER
    )
    filters = [road]
    if include_ferries:
        values = "|".join(sorted(constants.FERRY_MOTOR_VALUES))
        filters += [
            f'["route"="ferry"]["motor_vehicle"~"^({values})$"]',
            f'["route"="ferry"]["motorcar"~"^({values})$"]',
        ]
    return filters


def _ways_from_overpass(
    responses: Iterable[Mapping[str, Any]], *, include_ferries: bool
) -> _WayBuffer:
    """Collect drivable ways from Overpass JSON responses (same rules as files).

    Raises
    ------
    DownloadError
        If a response carries an error remark (Overpass answers a timed-out or
        out-of-memory query with HTTP 200, partial data and a remark).
    """
    buf = _WayBuffer(include_ferries=include_ferries)
    locations: dict[int, tuple[float, float]] = {}
    ways: list[Mapping[str, Any]] = []
    for response in responses:
        remark = str(response.get("remark", ""))
        if "error" in remark.lower():
            raise DownloadError(f"Overpass answered with an error, nothing was kept: {remark}")
        for element in response.get("elements", []):
            kind = element.get("type")
            if kind == "node":
                locations[int(element["id"])] = (float(element["lon"]), float(element["lat"]))
            elif kind == "way":
                ways.append(element)
    for way in ways:
        refs = np.asarray(way.get("nodes", []), dtype=np.int64)
        coords = np.array([locations.get(int(r), (np.nan, np.nan)) for r in refs], dtype=float)
        coords = coords.reshape(-1, 2)
        buf.add(int(way["id"]), way.get("tags", {}), refs, coords[:, 0], coords[:, 1])
    return buf


def download_osm_roads(
    polygon: BaseGeometry,
    *,
    include_ferries: bool = True,
    download_cache_dir: Path | None = None,
) -> nx.MultiDiGraph:
    """Download drivable roads inside ``polygon`` (EPSG:4326) from Overpass via OSMnx.

    OSMnx builds and sends the Overpass query (split into pieces for large
    polygons, pausing as the server asks) and caches each successful HTTP
    response under ``download_cache_dir``; responses with an error status or
    remark are never cached. The ways are then filtered and turned into a
    graph by the same code as OSM files, so every source follows the same
    rules.

    Parameters
    ----------
    polygon
        Area to download, lon/lat degrees (EPSG:4326).
    include_ferries
        Also download car ferries (``route=ferry``).
    download_cache_dir
        Folder for OSMnx's HTTP response cache; ``None`` disables it.

    Returns
    -------
    networkx.MultiDiGraph
        Unsimplified graph in EPSG:4326 with ``length`` and ``way_length`` (m).

    Raises
    ------
    DownloadError
        If Overpass cannot be reached or answers with an error.
    """
    import osmnx as ox
    from osmnx import _overpass  # the download step of ox.graph_from_polygon

    try:
        with overpass_settings(download_cache_dir):
            responses = _overpass._download_overpass_network(
                polygon, "drive", _overpass_filters(include_ferries)
            )
            buf = _ways_from_overpass(responses, include_ferries=include_ferries)
    except (ox._errors.InsufficientResponseError, ox._errors.ResponseStatusCodeError) as exc:
        raise DownloadError(f"Overpass download failed: {exc}") from None
    except (OSError, ValueError) as exc:  # requests' errors derive from OSError
        raise DownloadError(f"Overpass download failed: {exc}") from None
    return _graph_from_ways(buf)


# ---------------------------------------------------------------------------
# Post-processing shared by every source
# ---------------------------------------------------------------------------


def graph_edges(graph: nx.MultiDiGraph) -> pd.DataFrame:
    """Edge attributes as a DataFrame indexed by ``(u, v, key)``."""
    rows = list(graph.edges(keys=True, data=True))
    if not rows:
        return pd.DataFrame(index=pd.MultiIndex.from_arrays([[], [], []], names=["u", "v", "key"]))
    index = pd.MultiIndex.from_tuples([(u, v, k) for u, v, k, _ in rows], names=["u", "v", "key"])
    return pd.DataFrame([d for *_, d in rows], index=index)


def _node_lonlat(graph: nx.MultiDiGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node ids, longitudes and latitudes of an unprojected graph."""
    ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    lon = np.fromiter((d["x"] for _, d in graph.nodes(data=True)), dtype=float, count=len(ids))
    lat = np.fromiter((d["y"] for _, d in graph.nodes(data=True)), dtype=float, count=len(ids))
    return ids, lon, lat


def _clip(graph: nx.MultiDiGraph, area: BaseGeometry | None, crs: str) -> nx.MultiDiGraph:
    """Keep nodes inside ``area`` (in ``crs``) and the edges between them."""
    if area is None or graph.number_of_nodes() == 0:
        return graph
    ids, lon, lat = _node_lonlat(graph)
    x, y = _from_lonlat(crs).transform(lon, lat)
    shapely.prepare(area)
    inside = shapely.contains_xy(area, x, y)
    return graph.subgraph(ids[inside].tolist()).copy()


@cache
def _from_lonlat(crs: str) -> Transformer:
    return Transformer.from_crs(constants.WGS84, crs, always_xy=True)


def _add_speeds(graph: nx.MultiDiGraph, model: SpeedModel) -> None:
    edges = graph_edges(graph)
    for col in ("maxspeed", "route", "duration"):
        if col not in edges:
            edges[col] = None
    timed = add_edge_speeds(edges, model=model)
    nx.set_edge_attributes(graph, timed["speed_kph"].to_dict(), "speed_kph")
    nx.set_edge_attributes(graph, timed["travel_time"].to_dict(), "travel_time")


def _simplify(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    import osmnx as ox

    graph = ox.simplify_graph(graph, edge_attr_aggs={"length": sum, "travel_time": sum})
    for _, _, data in graph.edges(data=True):
        data.pop("way_length", None)
        tt = data["travel_time"]
        data["speed_kph"] = data["length"] / tt * 3.6 if tt > 0 else float("nan")
    return graph


def summarise_components(graph: nx.MultiDiGraph) -> pd.DataFrame:
    """Label strongly connected parts and return one row per part, largest first.

    Sets the node attribute ``component`` (0 = largest). Returns a DataFrame
    with ``component``, ``nodes``, ``edges`` and ``length_km``.
    """
    parts = sorted(nx.strongly_connected_components(graph), key=len, reverse=True)
    label: dict[Any, int] = {}
    for i, part in enumerate(parts):
        for node in part:
            label[node] = i
    nx.set_node_attributes(graph, label, "component")
    n_edges = np.zeros(len(parts), dtype=np.int64)
    length = np.zeros(len(parts))
    for u, v, d in graph.edges(data=True):
        if label[u] == label[v]:
            n_edges[label[u]] += 1
            length[label[u]] += d["length"]
    return pd.DataFrame(
        {
            "component": np.arange(len(parts)),
            "nodes": [len(p) for p in parts],
            "edges": n_edges,
            "length_km": length / 1000.0,
        }
    )


def _finish(
    raw: nx.MultiDiGraph,
    *,
    area: BaseGeometry | None,
    crs: str | None,
    settings: NetworkSettings,
    source: str,
    progress: bool = False,
) -> tuple[nx.MultiDiGraph, pd.DataFrame]:
    """Clip to ``area`` (in ``crs``), time, simplify and project to ``crs``.

    Without an area ``crs`` is None and is chosen from the roads' extent.
    """
    import osmnx as ox

    if raw.number_of_edges() == 0 and area is None:
        raise NoRoadsError(f"{source}: holds no drivable roads")
    if crs is None:
        _, lon, lat = _node_lonlat(raw)
        crs = metric_crs(lon, lat)
    bar = tqdm(total=5, desc="building network", unit=" step", disable=not progress, leave=False)
    with bar:
        bar.set_postfix_str("clip")
        graph = _clip(raw, area, crs)
        if graph.number_of_edges() == 0:
            raise NoRoadsError(
                f"{source}: no drivable road lies inside the boundary (plus "
                f"{settings.buffer_km:g} km); does the boundary overlap the data?"
            )
        bar.update()
        bar.set_postfix_str("speeds")
        _add_speeds(graph, settings.speed_model)
        bar.update()
        bar.set_postfix_str("simplify")
        if settings.simplify:
            graph = _simplify(graph)
        bar.update()
        bar.set_postfix_str("project")
        for _, data in graph.nodes(data=True):
            data["lon"], data["lat"] = data["x"], data["y"]
        graph = ox.project_graph(graph, to_crs=crs)
        graph.graph["crs"] = crs
        bar.update()
        bar.set_postfix_str("road parts")
        components = summarise_components(graph)
        if settings.largest_component_only and len(components) > 1:
            keep = [n for n, c in graph.nodes(data="component") if c == 0]
            graph = graph.subgraph(keep).copy()
            components = summarise_components(graph)
        bar.update()
    return graph, components


def _boundary_area(
    boundary: BaseGeometry | None, buffer_km: float
) -> tuple[BaseGeometry | None, BaseGeometry | None, str | None]:
    """The buffered area in the boundary's metric CRS, its EPSG:4326 equivalent, and that CRS.

    The CRS is :func:`planner.network.crs.metric_crs` of the boundary's extent, so
    the buffer (km) is measured where the boundary lies.
    """
    if boundary is None:
        return None, None, None
    if boundary.is_empty:
        raise DataError("the boundary is empty")
    west, south, east, north = boundary.bounds
    crs = metric_crs(np.array([west, east]), np.array([south, north]))
    to_metric = _from_lonlat(crs)
    area = shapely.transform(boundary, lambda xy: np.column_stack(to_metric.transform(*xy.T)))
    area = area.buffer(buffer_km * 1000.0) if buffer_km > 0 else area
    back = Transformer.from_crs(crs, constants.WGS84, always_xy=True)
    area_4326 = shapely.transform(area, lambda xy: np.column_stack(back.transform(*xy.T)))
    return area, area_4326, crs


def build_network(
    source: str | Path,
    *,
    boundary: BaseGeometry | None = None,
    boundary_name: str | None = None,
    settings: NetworkSettings | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    argument: str | None = None,
) -> RoadNetwork:
    """Build (or load from cache) the drivable road network for an area.

    Parameters
    ----------
    source
        Path to an ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` file, or the string
        ``"overpass"`` to download through OSMnx (needs ``boundary``).
    boundary
        Polygon in EPSG:4326 (for example :meth:`planner.network.regions.Area.geometry`).
        ``None`` keeps the whole file.
    boundary_name
        Name recorded in the result (for example ``"Gotlands län"``).
    settings
        Buffer (km), components, ferries, simplification and speed model.
    cache_dir
        Folder for cached networks and downloads; ``None`` disables caching.
    progress
        Show progress bars.
    argument
        The option or scenario key the source came from (``--pbf``,
        ``roads.path``), named in messages beside the file
        (:func:`planner.errors.file_label`).

    Returns
    -------
    RoadNetwork
        The projected graph (in its metric CRS: EPSG:3006 for a Swedish area,
        else the UTM zone of the area's centre; :attr:`RoadNetwork.crs`) and
        its component report.

    Raises
    ------
    MissingFileError, InputFileError
        For a missing or unreadable file.
    NoRoadsError
        If no drivable road lies in the source or inside the boundary.
    DownloadError
        If the Overpass download fails.
    """
    settings = settings or NetworkSettings()
    named = file_label(source, argument)
    kind = detect_source_kind(source, name=named)
    area, area_4326, crs = _boundary_area(boundary, settings.buffer_km)
    inputs: dict[str, Any] = {
        "settings": settings.to_dict(),
        "boundary": None if area_4326 is None else shapely.to_wkb(area_4326, hex=True),
        "build_rules": _BUILD_RULES,
    }
    if kind == "overpass":
        if area_4326 is None:
            raise ParameterError("boundary: a download from Overpass needs a region or boundary")
        inputs["source"] = "overpass"
        label = "overpass"
    else:
        path = Path(source)
        _check_readable(path, named)
        inputs["source"] = file_digest(path)
        label = str(path)
    key = cache_key("road_network", inputs)

    def compute() -> RoadNetwork:
        stamp: str | None
        if kind == "overpass":
            raw = download_osm_roads(
                area_4326,
                include_ferries=settings.include_ferries,
                download_cache_dir=None if cache_dir is None else Path(cache_dir) / "overpass",
            )
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            bbox = None if area_4326 is None else tuple(area_4326.bounds)
            raw, stamp = read_osm_roads(
                path,
                include_ferries=settings.include_ferries,
                bbox=bbox,
                progress=progress,
                source=named,
            )
        graph, components = _finish(
            raw, area=area, crs=crs, settings=settings, source=named, progress=progress
        )
        return RoadNetwork(
            graph=graph,
            components=components,
            source=label,
            source_kind=kind,
            osm_timestamp=stamp,
            settings=settings,
            boundary_name=boundary_name,
            cache_key=key,
        )

    def load(folder: Path) -> RoadNetwork:
        return _load_network(
            folder, key=key, settings=settings, source=label, boundary_name=boundary_name
        )

    network, hit = cached(
        None if cache_dir is None else Path(cache_dir),
        "networks",
        key,
        compute,
        save=_save_network,
        load=load,
    )
    return replace(network, from_cache=hit)


# ---------------------------------------------------------------------------
# The cache entry of a network: Parquet and JSON, never pickle
# ---------------------------------------------------------------------------


def _save_network(network: RoadNetwork, folder: Path) -> None:
    """Write a network's graph, road parts and facts into a cache entry folder."""
    key = network.cache_key
    save_graph(network.graph, folder, key=key)
    save_frame(network.components, folder / "components.parquet", key=key)
    facts = {
        "key": key,
        "source_kind": network.source_kind,
        "osm_timestamp": network.osm_timestamp,
        "settings": network.settings.to_dict(),
        "source": network.source,
        "boundary_name": network.boundary_name,
    }
    (folder / "network.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")


def _load_network(
    folder: Path,
    *,
    key: str,
    settings: NetworkSettings,
    source: str,
    boundary_name: str | None,
) -> RoadNetwork:
    """Read a cache entry written by :func:`_save_network` for ``key`` and these settings.

    The source label and boundary name are this call's (the same file may be
    given by another path); the data date and the graph are the entry's.

    Raises
    ------
    ValueError
        If the entry was written for another key or other settings.
    """
    facts = json.loads((folder / "network.json").read_text(encoding="utf-8"))
    if not isinstance(facts, dict) or facts.get("key") != key:
        raise ValueError("network.json was written for another network")
    if facts.get("settings") != json.loads(json.dumps(settings.to_dict())):
        raise ValueError("network.json was written with other settings")
    kind, stamp = facts.get("source_kind"), facts.get("osm_timestamp")
    if kind not in ("pbf", "xml", "overpass") or not isinstance(stamp, str | None):
        raise ValueError("network.json has no valid source kind or data date")
    return RoadNetwork(
        graph=load_graph(folder, key=key),
        components=load_frame(folder / "components.parquet", key=key),
        source=source,
        source_kind=kind,
        osm_timestamp=stamp,
        settings=settings,
        boundary_name=boundary_name,
        cache_key=key,
    )
