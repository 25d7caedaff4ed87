"""Interactive HTML maps of a coverage or placement run (the only folium user).

:func:`build_map` draws plain GeoDataFrames (:class:`MapLayers`) on a Leaflet
map: region and municipality boundaries, stations with an icon per fleet,
isochrone bands with a step legend, a response-time surface of hexagons,
unreachable demand and proposed new sites with what each adds. Layers that
exist before and after new sites are added get a before/after switch. A
layer control, full-screen button, measuring tool and the OpenStreetMap
attribution are always on the map.

Every script and style sheet the page needs (Leaflet and the two plugins,
vendored in ``planner/outputs/assets``) is written into the HTML by default,
so the file works with no network at all; only the background tiles then stay
blank. ``cdn=True`` links them from CDNs instead, for a smaller file that
needs the network. folium's other default assets (jQuery, Bootstrap, Font
Awesome) are not needed and are left out in both modes.

A map with "after" layers opens on the "after" state (the proposed units
added), with a switch back to "before". Every word on the map is in the
chosen language (``language``, :mod:`planner.i18n`): layer names, legends,
tooltips, popups and the plugins' controls; codes such as ``snap_status``
``minor_component`` are shown as words ("road cut off from the network").
Stations and proposed sites get a popup with their own figures (the demand
in their catchment, its median and 90th percentile response time and the
share within each threshold) and, when given, their nearest locality and
municipality.

Text from data (titles, labels, names, ids, any property shown) never runs
as script: it is escaped for HTML where HTML is built
(:func:`html.escape`), passed to JavaScript only as JSON that cannot end
its ``<script>`` (:func:`_script_json`), and shown in tooltips with
``textContent``, never ``innerHTML``. No data value becomes a link.

Times are minutes (``*_min``), distances metres; inputs may be in any CRS
and are reprojected to EPSG:4326 for the map (the surface is binned in the
data's metric CRS: EPSG:3006 in Sweden, else the local UTM zone).
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import math
import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.colormap import LinearColormap
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from planner import constants
from planner.errors import DataError, ParameterError
from planner.i18n import DEFAULT_LANGUAGE, N_, Language, Translator, translator
from planner.network.crs import metric_crs_of
from planner.outputs.export import OSM_ATTRIBUTION, check_writable, write_atomic
from planner.outputs.labels import column_label, fleet_label, value_label
from planner.outputs.whatif import WhatIfData, whatif_panel, whatif_script

__all__ = [
    "ASSETS",
    "MapLayers",
    "build_map",
    "choose_cell_size",
    "classify_times",
    "layer_names",
    "response_surface",
    "surface_cells",
    "time_classes",
    "write_map",
]

#: Files inlined into every map (unless ``cdn=True``), in load order: (kind, path under
#: ``planner/outputs/assets``). Versions as folium 0.20 links them (see the README there).
ASSETS: tuple[tuple[str, str], ...] = (
    ("css", "leaflet/leaflet.css"),
    ("js", "leaflet/leaflet.js"),
    ("css", "leaflet-fullscreen/Control.FullScreen.css"),
    ("js", "leaflet-fullscreen/Control.FullScreen.js"),
    ("css", "leaflet-measure/leaflet-measure.css"),
    ("js", "leaflet-measure/leaflet-measure.min.js"),
)

#: folium default assets the maps use (by folium's name); the rest are dropped.
_KEEP_FOLIUM_ASSETS = frozenset({"leaflet", "leaflet_css"})

_IMAGE_TYPES = {".png": "image/png", ".svg": "image/svg+xml"}


@dataclass(frozen=True, eq=False)
class MapLayers:
    """What to draw; every layer is optional (``None`` leaves it out).

    GeoDataFrames may be in any CRS (they are reprojected to EPSG:4326; the
    surface is binned in their metric CRS, EPSG:3006 in Sweden). Times are minutes.

    Attributes
    ----------
    title
        Shown at the top of the map and as the page title (as text: any
        markup in it is shown, never run).
    label
        Shown prominently under the title when given, for example that the
        data are a sample (as text).
    thresholds_min
        Response-time thresholds, min: the colour classes of the isochrone
        bands and the surface ("≤ 10", "10-20", ... "> 30 min").
    boundaries
        Polygons with ``name``, ``code`` and ``level`` (``"region"`` or
        ``"municipality"``; without ``level`` one "Boundaries" layer).
    stations
        Points with ``name``, ``fleet`` (``"ambulance"``, ``"psychiatric"``
        or another fleet) and optionally ``units``, ``place`` (the nearest
        locality), ``place_distance_m`` and ``municipality``.
    isochrones, isochrones_after
        Fleet bands before and after new sites: polygons with ``band_min``,
        and optionally ``area_km2`` and ``demand_within`` (the demand whose
        own response time is within the band, as in the coverage tables;
        nested bands are drawn as rings).
    road_nodes, road_nodes_after
        Points with ``response_min`` (not finite where unreachable): the
        response-time surface before and after.
    demand, demand_after
        Points with ``response_min`` and ``weight``; those whose response
        time is not finite are drawn as unreachable demand.
    proposed_sites
        Points of the proposed new sites with the columns of
        :func:`planner.optimise.site_contributions` (``order``, ``site``,
        ``demand_newly_within_<T>_min``, ``demand_newly_reached``,
        ``person_minutes_saved``, ``mean_minutes_saved``,
        ``expected_survivors_per_year``), and optionally ``place``,
        ``place_distance_m`` and ``municipality`` (as for stations).
    band_isochrones
        Fleet isochrones with the existing stations in each time band of a
        speed profile (band name -> polygons with ``band_min``): the map gets
        a time-band selector that shows one band's isochrones at a time.
    station_coverage, station_coverage_after
        The coverage table per station (:mod:`planner.analysis.coverage`,
        keyed by ``station``: ``demand``, ``median_min``, ``p90_min``,
        ``share_within_<T>_min``) before and after: the figures of each
        station's (and proposed site's) popup.
    threshold_min
        The optimiser's threshold T, min, for "newly within T min"; found
        from the sites' column name when not given.
    simulated_areas
        The simulation's prio-1 figures per area and state
        (:class:`planner.run.simulation.SimulationRun` ``areas``: ``state``,
        ``municipality``, ``calls``, ``median_min``, ``p90_min``,
        ``share_within_<T>_min``, ``share_waited``, each with ``_ci_low`` and
        ``_ci_high``; polygons): drawn coloured by the simulated median, one
        overlay per state, off until chosen.
    simulated_stations
        The simulated utilisation per station and state (``state``,
        ``station``, ``fleet``, ``units``, ``dispatches``, ``utilisation``
        with its interval; points): circles coloured by utilisation.
    whatif
        The data of the what-if panel (:mod:`planner.outputs.whatif`), or
        None for no panel.
    """

    title: str
    label: str | None = None
    thresholds_min: tuple[float, ...] = constants.DEFAULT_THRESHOLDS_MIN
    boundaries: gpd.GeoDataFrame | None = None
    stations: gpd.GeoDataFrame | None = None
    isochrones: gpd.GeoDataFrame | None = None
    isochrones_after: gpd.GeoDataFrame | None = None
    road_nodes: gpd.GeoDataFrame | None = None
    road_nodes_after: gpd.GeoDataFrame | None = None
    demand: gpd.GeoDataFrame | None = None
    demand_after: gpd.GeoDataFrame | None = None
    proposed_sites: gpd.GeoDataFrame | None = None
    threshold_min: float | None = None
    station_coverage: pd.DataFrame | None = None
    station_coverage_after: pd.DataFrame | None = None
    simulated_areas: gpd.GeoDataFrame | None = None
    simulated_stations: gpd.GeoDataFrame | None = None
    band_isochrones: Mapping[str, gpd.GeoDataFrame] | None = None
    whatif: WhatIfData | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise ParameterError("title: give the map a title")
        limits = np.asarray(self.thresholds_min, dtype=float)
        if (
            limits.size == 0
            or not np.isfinite(limits).all()
            or (limits <= 0).any()
            or (np.diff(limits) <= 0).any()
        ):
            raise ParameterError(
                f"thresholds_min {tuple(self.thresholds_min)}: give increasing positive minutes"
            )
        if self.threshold_min is not None and not (
            math.isfinite(self.threshold_min) and self.threshold_min > 0
        ):
            raise ParameterError(f"threshold_min {self.threshold_min}: give positive minutes")
        for name in _FRAMES:
            frame = getattr(self, name)
            if frame is None:
                continue
            if not isinstance(frame, gpd.GeoDataFrame):
                raise ParameterError(f"{name}: expected a GeoDataFrame, got {type(frame).__name__}")
            if frame.crs is None and not frame.empty:
                raise ParameterError(f"{name}: the layer has no CRS; set one (EPSG:3006)")
        for band, frame in (self.band_isochrones or {}).items():
            if not isinstance(frame, gpd.GeoDataFrame) or "band_min" not in frame.columns:
                raise ParameterError(
                    f"band_isochrones[{band!r}]: expected fleet isochrones with 'band_min'"
                )
        for name in ("station_coverage", "station_coverage_after"):
            table = getattr(self, name)
            if table is not None and "station" not in getattr(table, "columns", ()):
                raise ParameterError(
                    f"{name}: give the coverage table 'station' (column 'station')"
                )
        for name, columns in _REQUIRED.items():
            frame = getattr(self, name)
            missing = [c for c in columns if frame is not None and c not in frame.columns]
            if missing:
                raise ParameterError(f"{name}: column {missing[0]!r} is missing")

    @property
    def has_after(self) -> bool:
        """Whether any "after" layer is given (the map then gets a before/after switch)."""
        return any(
            f is not None for f in (self.isochrones_after, self.road_nodes_after, self.demand_after)
        )


_FRAMES = (
    "boundaries",
    "stations",
    "isochrones",
    "isochrones_after",
    "road_nodes",
    "road_nodes_after",
    "demand",
    "demand_after",
    "proposed_sites",
)
_REQUIRED: dict[str, tuple[str, ...]] = {
    "isochrones": ("band_min",),
    "isochrones_after": ("band_min",),
    "road_nodes": ("response_min",),
    "road_nodes_after": ("response_min",),
    "demand": ("response_min",),
    "demand_after": ("response_min",),
}


def layer_names(layers: MapLayers, *, language: Language = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Names of the overlays in the layer control, by layer key, in ``language``.

    Keys are the :class:`MapLayers` attribute names (``boundaries`` gives
    ``regions`` and ``municipalities``, each when it has a polygon); a map
    with any "after" layer names its pairs "... (before)" and "... (after)".
    """
    tr = translator(language)
    names: dict[str, str] = {}
    if layers.boundaries is not None:
        if "level" in layers.boundaries.columns:
            level = layers.boundaries["level"].astype(str).str.lower()
            if (level == "region").any():
                names["regions"] = tr.gettext("Regions")
            if (level != "region").any():
                names["municipalities"] = tr.gettext("Municipalities")
        else:
            names["boundaries"] = tr.gettext("Boundaries")
    if layers.stations is not None:
        names["stations"] = tr.gettext("Stations")
    kinds = (
        ("road_nodes", tr.gettext("Response time")),
        ("isochrones", tr.gettext("Isochrones")),
        ("demand", tr.gettext("Unreachable demand")),
    )
    for key, title in kinds:
        for suffix, when in (("", tr.gettext("before")), ("_after", tr.gettext("after"))):
            if getattr(layers, key + suffix) is not None:
                names[key + suffix] = f"{title} ({when})" if layers.has_after else title
    if layers.proposed_sites is not None:
        names["proposed_sites"] = tr.gettext("Proposed sites")
    names.update(_simulation_names(layers, tr))
    return names


# ---------------------------------------------------------------------------
# Response-time surface
# ---------------------------------------------------------------------------


def _metric_points(frame: gpd.GeoDataFrame, crs: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y (m, in ``crs``) and response_min (inf where not finite) of non-empty points."""
    points = frame.to_crs(crs)
    geoms = points.geometry.to_numpy()
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    if (shapely.get_type_id(geoms[keep]) != 0).any():
        raise DataError("road_nodes: the response-time surface needs Point geometries")
    t = pd.to_numeric(points["response_min"], errors="coerce").to_numpy(dtype=float)[keep]
    return (
        shapely.get_x(geoms[keep]),
        shapely.get_y(geoms[keep]),
        np.where(np.isfinite(t), t, np.inf),
    )


def choose_cell_size(*road_nodes: gpd.GeoDataFrame | None) -> float:
    """Hexagon width (across flats, m) for the surface of these road nodes.

    About :data:`~planner.constants.MAP_SURFACE_TARGET_CELLS` cells cover the
    bounding box (in each layer's metric CRS, :func:`planner.network.crs.metric_crs_of`)
    of all the nodes; the width is rounded up to a
    multiple of :data:`~planner.constants.MAP_SURFACE_CELL_STEP_M` and kept
    within the minimum and maximum cell sizes.
    """
    boxes = [
        f.to_crs(metric_crs_of(f)).total_bounds for f in road_nodes if f is not None and not f.empty
    ]
    lo, hi = constants.MAP_SURFACE_MIN_CELL_M, constants.MAP_SURFACE_MAX_CELL_M
    if not boxes:
        return lo
    box = np.asarray(boxes)
    dx = max(float(box[:, 2].max() - box[:, 0].min()), constants.MAP_SURFACE_CELL_STEP_M)
    dy = max(float(box[:, 3].max() - box[:, 1].min()), constants.MAP_SURFACE_CELL_STEP_M)
    width = math.sqrt(dx * dy / (constants.MAP_SURFACE_TARGET_CELLS * math.sqrt(3) / 2))
    step = constants.MAP_SURFACE_CELL_STEP_M
    return float(min(max(math.ceil(width / step) * step, lo), hi))


def _hex_index(x: np.ndarray, y: np.ndarray, width_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Axial (q, r) of the pointy-top hexagon (width across flats) holding each point."""
    side = width_m / math.sqrt(3)
    rf = y / (1.5 * side)
    qf = x / width_m - rf / 2
    sf = -qf - rf
    q, r, s = np.round(qf), np.round(rf), np.round(sf)
    dq, dr, ds = np.abs(q - qf), np.abs(r - rf), np.abs(s - sf)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int64), r.astype(np.int64)


def _hexagons(q: np.ndarray, r: np.ndarray, width_m: float) -> np.ndarray:
    """Pointy-top hexagon polygons (metres of the lattice's CRS) of axial cells (q, r)."""
    side = width_m / math.sqrt(3)
    cx = width_m * (q + r / 2.0)
    cy = 1.5 * side * r
    angles = np.radians(30.0 + 60.0 * np.arange(7))  # closed ring
    xs = cx[:, None] + side * np.cos(angles)[None, :]
    ys = cy[:, None] + side * np.sin(angles)[None, :]
    return shapely.polygons(np.stack([xs, ys], axis=-1))


def response_surface(road_nodes: gpd.GeoDataFrame, *, cell_m: float) -> gpd.GeoDataFrame:
    """Bin road nodes into hexagons and summarise their response times.

    Parameters
    ----------
    road_nodes
        Points (any CRS) with ``response_min`` (min; not finite where no
        station reaches the node).
    cell_m
        Hexagon width across flats, m (the distance between the centres of
        neighbouring cells). The lattice is anchored at the origin of the
        nodes' metric CRS (:func:`planner.network.crs.metric_crs_of`: EPSG:3006 in
        Sweden), so surfaces of the same area and width share their cells.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per hexagon holding at least one node (in that CRS): ``q``,
        ``r`` (axial cell index), ``n_nodes``, ``fastest_min`` (the minimum)
        and ``median_min`` (the median over all nodes of the cell; ``inf``
        when at least half of them are unreachable).
    """
    if not (math.isfinite(cell_m) and cell_m > 0):
        raise ParameterError(f"surface_cell_m {cell_m}: give a positive cell width in metres")
    if "response_min" not in road_nodes.columns:
        raise ParameterError("road_nodes: column 'response_min' is missing")
    crs = metric_crs_of(road_nodes)
    x, y, t = _metric_points(road_nodes, crs)
    q, r = _hex_index(x, y, cell_m)
    stats = (
        pd.DataFrame({"q": q, "r": r, "t": t})
        .groupby(["q", "r"], sort=True)["t"]
        .agg(n_nodes="size", fastest_min="min", median_min="median")
        .reset_index()
    )
    return gpd.GeoDataFrame(
        stats,
        geometry=_hexagons(stats["q"].to_numpy(), stats["r"].to_numpy(), cell_m),
        crs=crs,
    )


def surface_cells(road_nodes: gpd.GeoDataFrame, *, cell_m: float) -> np.ndarray:
    """The cell of each road node: its row in :func:`response_surface` (-1: no geometry)."""
    points = road_nodes.to_crs(metric_crs_of(road_nodes))
    geoms = points.geometry.to_numpy()
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    q, r = _hex_index(shapely.get_x(geoms[keep]), shapely.get_y(geoms[keep]), cell_m)
    cells = pd.DataFrame({"q": q, "r": r})
    ordered = cells.drop_duplicates().sort_values(["q", "r"]).reset_index(drop=True)
    row = cells.merge(ordered.reset_index(), on=["q", "r"], how="left")["index"].to_numpy()
    out = np.full(len(road_nodes), -1, dtype=np.int64)
    out[keep] = row
    return out


# ---------------------------------------------------------------------------
# Colours and GeoJSON
# ---------------------------------------------------------------------------


def _class_colours(n_classes: int) -> list[str]:
    ramp = LinearColormap(list(constants.MAP_RESPONSE_PALETTE), vmin=0.0, vmax=1.0)
    return [ramp.rgb_hex_str(k / max(n_classes - 1, 1)) for k in range(n_classes)]


def _g(tr: Translator, minutes: float) -> str:
    """Minutes as in a threshold: whole numbers without decimals, else one ("12,5")."""
    return tr.number(minutes, 0 if float(minutes).is_integer() else 1)


def _class_labels(limits: Sequence[float], tr: Translator) -> list[str]:
    labels = [f"≤ {_g(tr, limits[0])} min"]
    labels += [f"{_g(tr, a)}–{_g(tr, b)} min" for a, b in itertools.pairwise(limits)]
    return [*labels, f"> {_g(tr, limits[-1])} min"]


def _classify(values: np.ndarray, limits: Sequence[float]) -> np.ndarray:
    """Class of each time: k for (limit[k-1], limit[k]], len(limits) above; -1 not finite."""
    values = np.asarray(values, dtype=float)
    k = np.searchsorted(np.asarray(limits, dtype=float), values, side="left")
    return np.where(np.isfinite(values), k, -1)


def time_classes(
    limits: Sequence[float], *, language: Language = DEFAULT_LANGUAGE
) -> list[tuple[str, str]]:
    """(colour, label) of each response-time class: ``≤ 10 min``, ``10–20 min`` ... ``> 30 min``.

    The colours and labels of the map's bands and surface (and the report's static map).
    """
    tr = translator(language)
    return list(zip(_class_colours(len(limits) + 1), _class_labels(limits, tr), strict=True))


def classify_times(values_min: np.ndarray, limits: Sequence[float]) -> np.ndarray:
    """Class of each time, min: k for (limit[k-1], limit[k]]; ``len(limits)`` above, -1 if inf."""
    return _classify(values_min, limits)


def _to_map(frame: gpd.GeoDataFrame, *, simplify_m: float | None = None) -> gpd.GeoDataFrame:
    """Non-empty rows in EPSG:4326, optionally simplified in metres, coordinates rounded."""
    frame = frame[~(frame.geometry.is_empty | frame.geometry.isna())]
    if simplify_m:
        metric = frame.to_crs(metric_crs_of(frame))
        metric = metric.set_geometry(
            shapely.simplify(metric.geometry.to_numpy(), simplify_m, preserve_topology=True)
        )
        frame = metric[~metric.geometry.is_empty]
    lonlat = frame.to_crs(constants.WGS84)
    rounded = shapely.transform(
        lonlat.geometry.to_numpy(), lambda c: np.round(c, constants.MAP_COORD_DECIMALS)
    )
    return lonlat.set_geometry(rounded)


def _clean(value: Any, decimals: int = 2) -> Any:
    """A JSON-safe property value: rounded floats, None for NaN/inf and missing."""
    if isinstance(value, (float, np.floating)):
        return round(float(value), decimals) if math.isfinite(value) else None
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value if isinstance(value, (str, int, bool)) else str(value)


def _collection(frame: gpd.GeoDataFrame, properties: pd.DataFrame) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the (EPSG:4326) geometries and these properties."""
    geometries = shapely.to_geojson(frame.geometry.to_numpy())
    records = properties.to_dict(orient="records")
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": str(i),
                "geometry": json.loads(geometry),
                "properties": {k: _clean(v) for k, v in record.items()},
            }
            for i, (geometry, record) in enumerate(zip(geometries, records, strict=True))
        ],
    }


#: Characters that JSON leaves alone but that must not appear raw in a
#: ``<script>`` element: with ``<`` and ``>`` escaped no ``</script>``, ``<!--``
#: or ``-->`` can end or confuse the element; U+2028/U+2029 end a line in
#: older JavaScript engines. (``&`` needs no escape: script text has no
#: character references.)
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _script_json(value: Any) -> str:
    """``value`` as a JavaScript literal (JSON) that is safe inside a ``<script>`` element."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False).translate(_SCRIPT_ESCAPES)


# ---------------------------------------------------------------------------
# Small Leaflet elements
# ---------------------------------------------------------------------------


class _Bind(MacroElement):
    """Bind a tooltip and optionally a popup (HTML strings) to the parent layer.

    Leaflet shows them with ``innerHTML``: callers escape every text from
    data in them with :func:`html.escape`.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.bindTooltip({{ this.tooltip|tojson }}, {"sticky": true});
{%- if this.popup %}
{{ this._parent.get_name() }}.bindPopup({{ this.popup|tojson }},
    {"maxWidth": 460, "minWidth": 260});
{%- endif %}
{% endmacro %}"""
    )

    def __init__(self, tooltip: str, popup: str | None = None) -> None:
        super().__init__()
        self._name = "Bind"
        self.tooltip = tooltip
        self.popup = popup


class _PropertyTooltip(MacroElement):
    """A tooltip on each feature of the parent GeoJson layer: a table of its properties.

    Replaces folium's ``GeoJsonTooltip``, which writes the property values
    into the page with ``innerHTML`` (so a name holding markup would run).
    Here every label and value is set as ``textContent`` by
    :data:`_PROPERTY_TABLE_JS` and shows exactly as it is in the data.

    Parameters
    ----------
    fields
        Property name -> label shown in the tooltip, in order.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.bindTooltip(function (layer) {
    return plannerPropertyTable((layer.feature || {}).properties || {}, {{ this.fields|tojson }});
}, {"sticky": true, "className": "planner-tooltip"});
{% endmacro %}"""
    )

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__()
        self._name = "PropertyTooltip"
        self.fields = [[key, label] for key, label in fields.items()]


#: Builds a tooltip's table from feature properties as DOM nodes, text only.
_PROPERTY_TABLE_JS = """<script>
function plannerPropertyTable(properties, fields) {
    var table = document.createElement('table');
    fields.forEach(function (field) {
        var value = properties[field[0]];
        var row = table.insertRow();
        var head = document.createElement('th');
        head.textContent = field[1];
        row.appendChild(head);
        row.insertCell().textContent = value === null || value === undefined ? ''
            : typeof value === 'object' ? JSON.stringify(value) : String(value);
    });
    return table;
}
/* A box of radio buttons on the map (the before/after switch, the time-band
   selector), its inputs named ``name``: ``values`` with their ``labels``,
   ``checked`` first; a change
   calls ``onChange(value)``. Returns a function that ticks a value. */
function plannerRadios(map, cls, name, title, values, labels, checked, onChange) {
    var inputs = [], control = L.control({position: 'topleft'});
    control.onAdd = function () {
        var div = L.DomUtil.create('div', cls + ' leaflet-bar');
        L.DomUtil.create('b', '', div).textContent = title;
        values.forEach(function (value, i) {
            var label = L.DomUtil.create('label', '', div);
            var input = L.DomUtil.create('input', '', label);
            input.type = 'radio';
            input.name = name;
            input.value = value;
            input.checked = value === checked;
            label.appendChild(document.createTextNode(' ' + labels[i]));
        });
        inputs = Array.prototype.slice.call(div.querySelectorAll('input'));
        inputs.forEach(function (input) {
            input.addEventListener('change', function () { onChange(this.value); });
        });
        L.DomEvent.disableClickPropagation(div);
        return div;
    };
    control.addTo(map);
    return function (value) {
        inputs.forEach(function (input) { input.checked = input.value === value; });
    };
}
</script>"""


class _Script(MacroElement):
    """A piece of JavaScript run after the map and its layers exist.

    ``code`` may use ``map`` (the Leaflet map) and ``layers`` (the groups
    given, in order, as JavaScript variables).
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
(function (map, layers) {
{{ this.code }}
})({{ this._parent.get_name() }}, [{% for layer in this.layers %}{{ layer.get_name() if layer else 'null' }}{{ ', ' if not loop.last }}{% endfor %}]);
{% endmacro %}"""  # noqa: E501
    )

    def __init__(self, code: str, layers: Sequence[Any | None] = ()) -> None:
        super().__init__()
        self._name = "PlannerScript"
        self.code = code
        self.layers = list(layers)


_LEGEND_JS = """
var legend = L.control({position: %(position)s});
legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'planner-legend');
    div.setAttribute('data-legend', %(key)s);
    div.innerHTML = %(html)s;
    return div;
};
function update() {
    var on = layers.some(function (l) { return l && map.hasLayer(l); });
    if (on && !legend._map) { legend.addTo(map); }
    else if (!on && legend._map) { legend.remove(); }
}
map.on('layeradd layerremove', update);
update();
"""

_SCENARIO_JS = """
var pairs = [];
for (var i = 0; i < layers.length; i += 2) { pairs.push([layers[i], layers[i + 1]]); }
var tick = null;
function set(state) {
    pairs.forEach(function (p) {
        var from = state === 'after' ? p[0] : p[1], to = state === 'after' ? p[1] : p[0];
        if (from && map.hasLayer(from)) {
            map.removeLayer(from);
            if (to && !map.hasLayer(to)) { map.addLayer(to); }
        }
    });
    if (tick) { tick(state); }
    window.plannerScenario = state;
}
var words = %(words)s;
tick = plannerRadios(map, 'planner-scenario', 'planner-scenario', words.title,
                     ['before', 'after'], [words.before, words.after], 'after', set);
window.plannerScenario = 'after';
window.plannerSetScenario = set;
"""

_TITLE_JS = """
var div = L.DomUtil.create('div', 'planner-title', map.getContainer());
L.DomUtil.create('span', '', div).textContent = %(title)s;
var label = %(label)s;
if (label) { L.DomUtil.create('span', 'planner-label', div).textContent = label; }
"""

_REGISTRY_JS = """
window.plannerMap = map;
window.plannerLayers = {};
window.plannerBounds = %(bounds)s;
var names = %(names)s;
names.forEach(function (name, i) { window.plannerLayers[name] = layers[i]; });
map.attributionControl.addAttribution(%(attribution)s);
"""


def _svg_url(svg: str) -> str:
    return "data:image/svg+xml," + urllib.parse.quote(svg, safe="")


def _icon_svg(kind: str, colour: str) -> str:
    head = "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'>"
    if kind == "ambulance":
        body = (
            f"<circle cx='12' cy='12' r='10.5' fill='{colour}' stroke='white' stroke-width='2'/>"
            "<path d='M10 5.5h4v4.5h4.5v4H14v4.5h-4V14H5.5v-4H10z' fill='white'/>"
        )
    elif kind == "psychiatric":
        body = (
            f"<rect x='2' y='2' width='20' height='20' rx='4' fill='{colour}' stroke='white' "
            "stroke-width='2'/><path d='M8 18V6h5a3.5 3.5 0 0 1 0 7H11v5z' fill='white'/>"
        )
    elif kind == "proposed":
        body = (
            f"<path d='M12 1.5l3.1 6.6 7.2.9-5.3 5 1.4 7.1L12 17.6l-6.4 3.5 1.4-7.1-5.3-5 "
            f"7.2-.9z' fill='{colour}' stroke='#222' stroke-width='1.2'/>"
        )
    else:
        body = (
            f"<path d='M12 1.5L22.5 12 12 22.5 1.5 12z' fill='{colour}' stroke='white' "
            "stroke-width='2'/><circle cx='12' cy='12' r='3' fill='white'/>"
        )
    return head + body + "</svg>"


def _fleet_kind(fleet: Any) -> str:
    return str(fleet) if str(fleet) in constants.MAP_FLEET_COLOURS else "other"


def _icon_colour(kind: str) -> str:
    if kind == "proposed":
        return constants.MAP_PROPOSED_COLOUR
    return constants.MAP_FLEET_COLOURS.get(kind, constants.MAP_OTHER_FLEET_COLOUR)


def _css() -> str:
    icons = "\n".join(
        f'.planner-icon-{kind} {{ background-image: url("{_svg_url(_icon_svg(kind, _icon_colour(kind)))}"); }}'  # noqa: E501
        for kind in (*constants.MAP_FLEET_COLOURS, "other", "proposed")
    )
    return f"""<style>
.planner-icon {{ background-size: contain; background-repeat: no-repeat; }}
{icons}
.planner-order {{ display: block; text-align: center; font: bold 11px/26px sans-serif;
  color: #222; }}
.planner-legend, .planner-scenario {{ background: rgba(255, 255, 255, 0.93); padding: 6px 9px;
  font: 12px/1.4 sans-serif; color: #222; border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35); }}
.planner-legend b {{ display: block; margin-bottom: 3px; }}
.planner-legend i {{ display: inline-block; width: 16px; height: 16px; margin-right: 6px;
  vertical-align: middle; border: 1px solid rgba(0, 0, 0, 0.35); background-size: contain; }}
.planner-scenario label {{ cursor: pointer; display: block; }}
.planner-title {{ position: absolute; top: 10px; left: 50%; transform: translateX(-50%);
  z-index: 1000; max-width: 60%; text-align: center; pointer-events: none;
  font: bold 15px/1.3 sans-serif; color: #111; background: rgba(255, 255, 255, 0.9);
  padding: 5px 12px; border-radius: 5px; box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35); }}
.planner-title .planner-label {{ display: block; margin-top: 4px; padding: 3px 8px;
  background: #b71c1c; color: #fff; font-size: 13px; border-radius: 3px; }}
.planner-tooltip table {{ margin: auto; }}
.planner-tooltip th {{ text-align: left; padding: 2px 8px 2px 2px; }}
.planner-tooltip td {{ text-align: left; }}
.planner-popup {{ font-size: 12px; line-height: 1.3; }}
.planner-popup th {{ text-align: left; font-weight: normal; padding: 1px 10px 1px 0;
  min-width: 180px; }}
.planner-popup td {{ text-align: right; font-weight: bold; white-space: nowrap;
  padding: 1px 0 1px 6px; }}
</style>"""


def _legend(
    m: folium.Map,
    key: str,
    title: str,
    rows: Sequence[tuple[str, str]],
    layers: Sequence[Any],
    *,
    position: str = "bottomright",
) -> None:
    """Add a legend that shows while any of ``layers`` is on the map.

    ``rows`` are (swatch, text): a colour ``#rrggbb`` or an icon class name.
    """
    items = []
    for swatch, text in rows:
        style = (
            f"style='background:{swatch}'"
            if swatch.startswith("#")
            else f"class='planner-icon {swatch}'"
        )
        items.append(f"<i {style}></i>{html.escape(text)}")
    body = f"<b>{html.escape(title)}</b>" + "<br>".join(items)
    code = _LEGEND_JS % {
        "position": _script_json(position),
        "key": _script_json(key),
        "html": _script_json(body),
    }
    m.add_child(_Script(code, layers))


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------


def _add_boundaries(
    m: folium.Map, frame: gpd.GeoDataFrame, names: dict[str, str], tr: Translator
) -> dict[str, folium.FeatureGroup]:
    data = _to_map(frame, simplify_m=constants.MAP_SIMPLIFY_M)
    groups = {}
    parts: list[tuple[str, gpd.GeoDataFrame, dict[str, Any]]]
    if "level" in data.columns:
        level = data["level"].astype(str).str.lower()
        parts = [
            ("regions", data[level == "region"], {"color": "#222", "weight": 2.5}),
            (
                "municipalities",
                data[level != "region"],
                {"color": "#555", "weight": 1, "dashArray": "4 3"},
            ),
        ]
    else:
        parts = [("boundaries", data, {"color": "#333", "weight": 1.5})]
    for key, part, style in parts:
        if key not in names:  # no polygon of that level
            continue
        group = folium.FeatureGroup(name=names[key], show=True)
        props = pd.DataFrame(
            {
                "name": part["name"].astype(str) if "name" in part else "",
                "code": part["code"].astype(str) if "code" in part else "",
            },
            index=part.index,
        )
        fixed = {**style, "fill": False, "fillOpacity": 0}
        tooltip = {"name": tr.gettext("Name"), "code": tr.gettext("Code")}
        folium.GeoJson(
            _collection(part, props),
            name=names[key],
            style_function=lambda _f, s=fixed: s,
        ).add_child(_PropertyTooltip(tooltip)).add_to(group)
        group.add_to(m)
        groups[key] = group
    return groups


def _popup_html(title: str, rows: Sequence[Sequence[str]], head: Sequence[str] = ()) -> str:
    """A popup: a bold title and a table (every text escaped here)."""
    parts = [f"<div class='planner-popup'><b>{html.escape(title)}</b><table>"]
    if head:
        parts.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
    for row in rows:
        cells = [f"<th>{html.escape(row[0])}</th>"]
        cells += [f"<td>{html.escape(v)}</td>" for v in row[1:]]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    return "".join(parts) + "</table></div>"


def _place_rows(row: pd.Series, tr: Translator) -> list[tuple[str, str]]:
    """Nearest locality (with its distance) and municipality of a station or site."""
    rows = []
    place = row.get("place")
    if isinstance(place, str) and place:
        distance = pd.to_numeric(row.get("place_distance_m"), errors="coerce")
        if pd.notna(distance) and math.isfinite(float(distance)):
            place = f"{place} ({tr.number(float(distance) / 1000, 1)} km)"
        rows.append((tr.gettext("Nearest locality"), place))
    municipality = row.get("municipality")
    if isinstance(municipality, str) and municipality:
        rows.append((tr.gettext("Municipality"), municipality))
    return rows


def _catchment_rows(
    name: str, tables: Sequence[pd.DataFrame | None], limits: Sequence[float], tr: Translator
) -> list[list[str]]:
    """A station's own figures (its catchment), one column per given table."""
    found = []
    for table in tables:
        match = None if table is None else table[table["station"].astype(str) == name]
        found.append(None if match is None or match.empty else match.iloc[0])
    if all(r is None for r in found):
        return []

    def cells(column: str, show: Any) -> list[str]:
        return [show(r[column]) if r is not None and column in r.index else "–" for r in found]

    rows = [[tr.gettext("Demand in catchment"), *cells("demand", tr.weight)]]
    rows.append([tr.gettext("Median response time"), *cells("median_min", tr.minutes)])
    rows.append([tr.gettext("90th percentile"), *cells("p90_min", tr.minutes)])
    for limit in limits:
        label = column_label(f"share_within_{limit:g}_min", tr)
        rows.append([label, *cells(f"share_within_{limit:g}_min", tr.percent)])
    return rows


def _station_popup(
    row: pd.Series, layers: MapLayers, limits: Sequence[float], tr: Translator
) -> str:
    name = str(row.get("name", ""))
    rows: list[Sequence[str]] = list(_place_rows(row, tr))
    tables = [layers.station_coverage]
    head: tuple[str, ...] = ()
    if layers.station_coverage_after is not None:
        tables.append(layers.station_coverage_after)
        head = ("", tr.gettext("before"), tr.gettext("after"))
    figures = _catchment_rows(name, tables, limits, tr)
    if head and rows:
        rows = [(a, b, "") for a, b in rows]
    return _popup_html(name, [*rows, *figures], head if figures else ())


def _add_stations(
    m: folium.Map,
    layers: MapLayers,
    name: str,
    limits: Sequence[float],
    tr: Translator,
) -> folium.FeatureGroup:
    assert layers.stations is not None
    data = _to_map(layers.stations)
    group = folium.FeatureGroup(name=name, show=True)
    size = constants.MAP_ICON_PX
    for _, row in data.iterrows():
        label, kind, unit = row.get("name", ""), row.get("fleet", ""), row.get("units")
        text = f"{label} — {fleet_label(kind, tr)}"
        if unit is not None and pd.notna(unit):
            count = int(unit)
            text += ", " + tr.ngettext("{n} unit", "{n} units", count).format(n=count)
        marker = folium.Marker(
            [row.geometry.y, row.geometry.x],
            icon=folium.DivIcon(
                class_name=f"planner-icon planner-icon-{_fleet_kind(kind)}",
                icon_size=(size, size),
                icon_anchor=(size // 2, size // 2),
            ),
        )
        marker.add_child(_Bind(html.escape(text), _station_popup(row, layers, limits, tr)))
        marker.add_to(group)
    group.add_to(m)
    return group


def _isochrone_rings(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Nested bands (one polygon per band) as rings: band k minus band k-1."""
    bands = frame.sort_values("band_min", kind="stable").reset_index(drop=True)
    if bands["band_min"].duplicated().any() or len(bands) < 2:
        return bands  # several stations' bands overlap: draw them as they are
    geoms = bands.geometry.to_numpy()
    rings = np.concatenate([geoms[:1], shapely.difference(geoms[1:], geoms[:-1])])
    return bands.set_geometry(rings)


def _add_isochrones(
    m: folium.Map,
    frame: gpd.GeoDataFrame,
    name: str,
    limits: Sequence[float],
    show: bool,
    tr: Translator,
) -> folium.FeatureGroup:
    rings = _to_map(_isochrone_rings(frame), simplify_m=constants.MAP_SIMPLIFY_M)
    rings = rings.iloc[::-1]  # slowest first, so the faster bands lie on top
    band = rings["band_min"].to_numpy(dtype=float)
    colours = np.asarray(_class_colours(len(limits) + 1))
    area = pd.to_numeric(rings.get("area_km2", np.nan), errors="coerce")
    within = pd.to_numeric(rings.get("demand_within", np.nan), errors="coerce")
    props = pd.DataFrame(
        {
            "within": [f"{_g(tr, b)} min" for b in band],
            "band_min": band,
            "area_km2": area,
            "demand_within": within,
            "area": [f"{tr.number(a, 1)} km²" if pd.notna(a) else "–" for a in np.ravel(area)],
            "demand": [tr.weight(v) for v in np.ravel(within)],
            "colour": colours[np.clip(_classify(band, limits), 0, len(limits))],
        },
        index=rings.index,
    )
    return _add_coloured(
        m,
        rings,
        props,
        name=name,
        show=show,
        weight=1,
        opacity=constants.MAP_BAND_OPACITY,
        tooltip={
            "within": tr.gettext("Reached within"),
            "area": tr.gettext("Area within"),
            "demand": tr.gettext("Demand within"),
        },
    )


def _add_coloured(
    m: folium.Map,
    data: gpd.GeoDataFrame,
    props: pd.DataFrame,
    *,
    name: str,
    show: bool,
    weight: float,
    opacity: float,
    tooltip: dict[str, str],
) -> folium.FeatureGroup:
    """Polygons filled and outlined in their ``colour`` property, with a tooltip (field: label)."""
    group = folium.FeatureGroup(name=name, show=show)
    folium.GeoJson(
        _collection(data, props),
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "color": f["properties"]["colour"],
            "weight": weight,
            "fillOpacity": opacity,
        },
    ).add_child(_PropertyTooltip(tooltip)).add_to(group)
    group.add_to(m)
    return group


def _add_surface(
    m: folium.Map,
    frame: gpd.GeoDataFrame,
    name: str,
    limits: Sequence[float],
    cell_m: float,
    show: bool,
    tr: Translator,
) -> folium.FeatureGroup:
    cells = response_surface(frame, cell_m=cell_m)
    data = _to_map(cells)
    colours = np.asarray([*_class_colours(len(limits) + 1), constants.MAP_UNREACHABLE_COLOUR])
    median = data["median_min"].to_numpy(dtype=float)
    props = pd.DataFrame(
        {
            "median_min": median,
            "fastest_min": data["fastest_min"].to_numpy(dtype=float),
            "n_nodes": data["n_nodes"].to_numpy(),
            "median": [tr.minutes(v) for v in median],
            "fastest": [tr.minutes(v) for v in data["fastest_min"]],
            "nodes": [tr.number(v) for v in data["n_nodes"]],
            "colour": colours[_classify(median, limits)],  # -1: the unreachable colour
        },
        index=data.index,
    )
    return _add_coloured(
        m,
        data,
        props,
        name=name,
        show=show,
        weight=0.5,
        opacity=constants.MAP_SURFACE_OPACITY,
        tooltip={
            "median": tr.gettext("Median response time"),
            "fastest": tr.gettext("Fastest response time"),
            "nodes": tr.gettext("Road nodes"),
        },
    )


def _unreachable(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    times = pd.to_numeric(frame["response_min"], errors="coerce").to_numpy(dtype=float)
    return frame[~np.isfinite(times)]


#: Fields of an unreachable demand point's tooltip (shown as words where coded).
_UNREACHABLE_FIELDS = ("demand_id", "name", "weight", "snap_status", "unreachable_reason")


def _add_unreachable(
    m: folium.Map, frame: gpd.GeoDataFrame, name: str, show: bool, tr: Translator
) -> tuple[folium.FeatureGroup, int, float]:
    points = _to_map(_unreachable(frame))
    fields = [c for c in _UNREACHABLE_FIELDS if c in points.columns]
    props = pd.DataFrame(index=points.index)
    for field in fields:
        values = points[field]
        if field == "weight":
            props[field] = [tr.weight(v) for v in values]
        else:
            props[field] = [value_label(field, v, tr) for v in values.astype(object)]
    group = folium.FeatureGroup(name=name, show=show)
    layer = folium.GeoJson(
        _collection(points, props),
        name=name,
        marker=folium.CircleMarker(
            radius=5,
            color="#ffffff",
            weight=1.5,
            fill=True,
            fill_color=constants.MAP_UNREACHABLE_COLOUR,
            fill_opacity=0.9,
        ),
    )
    if fields:
        layer.add_child(_PropertyTooltip({f: column_label(f, tr) for f in fields}))
    layer.add_to(group)
    group.add_to(m)
    weight = float(points["weight"].sum()) if "weight" in points else float(len(points))
    return group, len(points), weight


#: What a proposed site adds: column, label, how it is shown.
_SITE_FIELDS = (
    ("demand_newly_reached", N_("People newly reached (no station reached them)"), "weight"),
    ("person_minutes_saved", N_("Person-minutes saved"), "whole"),
    ("mean_minutes_saved", N_("Minutes saved per person helped"), "minutes"),
    ("expected_survivors_per_year", N_("Expected extra cardiac-arrest survivors per year"), "3"),
)


def _newly_within_column(
    frame: gpd.GeoDataFrame, threshold_min: float | None
) -> tuple[str, float] | None:
    if threshold_min is not None:
        column = f"demand_newly_within_{threshold_min:g}_min"
        return (column, threshold_min) if column in frame.columns else None
    for column in frame.columns:
        found = re.fullmatch(r"demand_newly_within_([0-9.]+)_min", str(column))
        if found:
            return column, float(found.group(1))
    return None


def _site_title(row: pd.Series, order: Any, tr: Translator) -> str:
    """ "Proposed site 1: Visby" (the nearest locality), else the site's own name."""
    place = row.get("place")
    label = place if isinstance(place, str) and place else row.get("site", row.get("name", ""))
    return tr.gettext("Proposed site {order}: {place}").format(order=order, place=label)


def _site_popup(
    row: pd.Series, layers: MapLayers, newly: tuple[str, float] | None, tr: Translator
) -> str:
    """HTML popup of one proposed site: where it is and what it adds (see :class:`MapLayers`)."""
    order = _clean(row.get("order", ""))
    rows: list[Sequence[str]] = list(_place_rows(row, tr))
    rows.append((tr.gettext("Site"), str(row.get("site", row.get("name", "")))))
    if newly is not None:
        column, limit = newly
        label = tr.gettext("People newly within {t} min").format(t=_g(tr, limit))
        rows.append((label, tr.weight(row[column])))
    shows = {
        "weight": tr.weight,
        "whole": lambda v: tr.number(v, 0),
        "minutes": tr.minutes,
        "3": lambda v: tr.number(v, 3),
    }
    for column, label, how in _SITE_FIELDS:
        if column in row.index:
            rows.append((tr.gettext(label), shows[how](row[column])))
    site = str(row.get("site", row.get("name", "")))
    limits = layers.thresholds_min
    for figure in _catchment_rows(site, [layers.station_coverage_after], limits, tr):
        after = tr.gettext("after")
        rows.append((f"{figure[0]} ({after})", figure[1]))
    return _popup_html(_site_title(row, order, tr), rows)


def _add_proposed(
    m: folium.Map, layers: MapLayers, name: str, tr: Translator
) -> folium.FeatureGroup:
    assert layers.proposed_sites is not None
    data = _to_map(layers.proposed_sites)
    newly = _newly_within_column(data, layers.threshold_min)
    group = folium.FeatureGroup(name=name, show=True)
    size = constants.MAP_ICON_PX + 4
    for position, (_, row) in enumerate(data.iterrows(), start=1):
        order = _clean(row.get("order", position))
        marker = folium.Marker(
            [row.geometry.y, row.geometry.x],
            icon=folium.DivIcon(
                html=f"<span class='planner-order'>{html.escape(str(order))}</span>",
                class_name="planner-icon planner-icon-proposed",
                icon_size=(size, size),
                icon_anchor=(size // 2, size // 2),
            ),
        )
        tooltip = html.escape(_site_title(row, order, tr))
        marker.add_child(_Bind(tooltip, _site_popup(row, layers, newly, tr)))
        marker.add_to(group)
    group.add_to(m)
    return group


# ---------------------------------------------------------------------------
# Simulation layers (issue 15): simulated prio-1 response per area, utilisation per station
# ---------------------------------------------------------------------------


def _simulation_names(layers: MapLayers, tr: Translator) -> dict[str, str]:
    """Overlay names of the simulation layers by key (``..._after`` for the after state)."""
    names: dict[str, str] = {}
    kinds = (
        ("simulated_areas", layers.simulated_areas, tr.gettext("Simulated prio-1 response")),
        ("simulated_stations", layers.simulated_stations, tr.gettext("Simulated utilisation")),
    )
    for key, frame, title in kinds:
        if frame is None or frame.empty:
            continue
        states = set(frame["state"].astype(str))
        for suffix, state in (("", "before"), ("_after", "after")):
            if state in states:
                when = tr.gettext(state)
                names[key + suffix] = f"{title} ({when})" if "after" in states else title
    return names


def _state_rows(frame: gpd.GeoDataFrame | None, state: str) -> gpd.GeoDataFrame | None:
    """The rows of one simulated state that can be drawn (with a geometry), or None."""
    if frame is None or frame.empty:
        return None
    rows = frame[(frame["state"].astype(str) == state) & frame.geometry.notna()]
    return None if rows.empty else rows


def _with_interval(value: Any, low: Any, high: Any, show: Any) -> str:
    """ "9,0 min (8,8–9,2)": a simulated figure and its confidence interval."""
    if _missing_number(value):
        return ""
    if _missing_number(low) or _missing_number(high):
        return str(show(value))
    return f"{show(value)} ({show(low)}–{show(high)})"


def _missing_number(value: Any) -> bool:
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def _add_simulated_areas(
    m: folium.Map,
    frame: gpd.GeoDataFrame,
    name: str,
    limits: Sequence[float],
    tr: Translator,
) -> folium.FeatureGroup:
    """Areas coloured by the simulated prio-1 median response (min, the time classes)."""
    data = _to_map(frame)
    colours = np.asarray([*_class_colours(len(limits) + 1), constants.MAP_UNREACHABLE_COLOUR])
    median = pd.to_numeric(data["median_min"], errors="coerce").to_numpy(dtype=float)

    def interval(column: str, show: Any) -> list[str]:
        low, high = f"{column}_ci_low", f"{column}_ci_high"
        return [
            _with_interval(row[column], row.get(low), row.get(high), show)
            for _, row in data.iterrows()
        ]

    props = pd.DataFrame(
        {
            "area": data["municipality"].astype(object).where(data["municipality"].notna(), ""),
            "calls": [tr.number(v, 1) for v in data["calls"]],
            "median": interval("median_min", tr.minutes),
            "p90": interval("p90_min", tr.minutes),
            "colour": colours[_classify(median, limits)],
        },
        index=data.index,
    )
    tooltip = {
        "area": tr.gettext("Municipality"),
        "calls": tr.gettext("Prio-1 calls (mean per replication)"),
        "median": tr.gettext("Median response time (confidence interval)"),
        "p90": tr.gettext("90th percentile (confidence interval)"),
    }
    for limit in limits:
        column = f"share_within_{limit:g}_min"
        if column in data:
            key = f"within_{limit:g}"
            props[key] = interval(column, tr.percent)
            tooltip[key] = tr.gettext("Share within {t} min").format(t=_g(tr, limit))
    if "share_waited" in data:
        props["waited"] = interval("share_waited", tr.percent)
        tooltip["waited"] = tr.gettext("Calls that waited for a free unit")
    return _add_coloured(
        m, data, props, name=name, show=False, weight=1.0,
        opacity=constants.MAP_SURFACE_OPACITY, tooltip=tooltip,
    )  # fmt: skip


def _add_simulated_stations(
    m: folium.Map, frame: gpd.GeoDataFrame, name: str, tr: Translator
) -> folium.FeatureGroup:
    """Stations as circles coloured by their units' simulated utilisation (busy share)."""
    data = _to_map(frame)
    limits = constants.MAP_UTILISATION_CLASSES
    palette = np.asarray(constants.MAP_UTILISATION_COLOURS)
    busy = pd.to_numeric(data["utilisation"], errors="coerce").to_numpy(dtype=float)
    index = np.clip(np.searchsorted(np.asarray(limits), busy, side="left"), 0, len(palette) - 1)
    utilisation = [
        _with_interval(r["utilisation"], r.get("utilisation_ci_low"), r.get("utilisation_ci_high"),
                       tr.percent)
        for _, r in data.iterrows()
    ]  # fmt: skip
    props = pd.DataFrame(
        {
            "station": data["station"].astype(str),
            "fleet": [fleet_label(v, tr) for v in data["fleet"]],
            "units": [tr.number(v, 0) for v in data["units"]],
            "dispatches": [tr.number(v, 0) for v in data["dispatches"]],
            "utilisation": utilisation,
            "colour": np.where(np.isfinite(busy), palette[index], constants.MAP_UNREACHABLE_COLOUR),
        },
        index=data.index,
    )
    group = folium.FeatureGroup(name=name, show=False)
    folium.GeoJson(
        _collection(data, props),
        name=name,
        marker=folium.CircleMarker(radius=9, weight=2, fill=True, fill_opacity=0.85),
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "color": "#ffffff",
        },
    ).add_child(
        _PropertyTooltip(
            {
                "station": tr.gettext("Station"),
                "fleet": tr.gettext("Fleet"),
                "units": tr.gettext("Units"),
                "dispatches": tr.gettext("Dispatches (mean per replication)"),
                "utilisation": tr.gettext("Utilisation (confidence interval)"),
            }
        )
    ).add_to(group)
    group.add_to(m)
    return group


def _add_simulation(
    m: folium.Map, layers: MapLayers, limits: Sequence[float], tr: Translator
) -> dict[str, folium.FeatureGroup]:
    """The simulation's overlays (off until chosen), keyed as :func:`_simulation_names`."""
    names = _simulation_names(layers, tr)
    groups: dict[str, folium.FeatureGroup] = {}
    for suffix, state in (("", "before"), ("_after", "after")):
        areas = _state_rows(layers.simulated_areas, state)
        if areas is not None:
            key = "simulated_areas" + suffix
            groups[key] = _add_simulated_areas(m, areas, names[key], limits, tr)
        stations = _state_rows(layers.simulated_stations, state)
        if stations is not None:
            key = "simulated_stations" + suffix
            groups[key] = _add_simulated_stations(m, stations, names[key], tr)
    return groups


# ---------------------------------------------------------------------------
# Assets: inlined (default) or linked from CDNs
# ---------------------------------------------------------------------------


def _asset_root() -> Path:
    return Path(str(resources.files("planner.outputs") / "assets"))


def _inline_urls(css: str, folder: Path) -> str:
    """Replace relative ``url(...)`` of files next to a style sheet with data: URIs."""

    def replace(match: re.Match[str]) -> str:
        target = folder / match.group(2)
        mime = _IMAGE_TYPES.get(target.suffix.lower())
        if mime is None or not target.is_file():
            return match.group(0)
        data = base64.b64encode(target.read_bytes()).decode("ascii")
        return f'url("data:{mime};base64,{data}")'

    return re.sub(r"url\((['\"]?)([^)'\"#:]+)\1\)", replace, css)


@lru_cache(maxsize=1)
def _inline_assets() -> tuple[tuple[str, str], ...]:
    """(name, HTML) of the vendored scripts and style sheets, inlined."""
    root = _asset_root()
    out = []
    for kind, relative in ASSETS:
        path = root / relative
        if not path.is_file():
            raise DataError(f"{path}: a vendored map asset is missing from this installation")
        text = path.read_text(encoding="utf-8")
        if kind == "css":
            text = _inline_urls(text, path.parent).replace("</style", "<\\/style")
            out.append((f"planner_{relative}", f"<style>\n{text}\n</style>"))
        else:
            text = text.replace("</script", "<\\/script")
            out.append((f"planner_{relative}", f"<script>\n{text}\n</script>"))
    return tuple(out)


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _use_assets(m: folium.Map, *, cdn: bool) -> None:
    """Drop folium's unused defaults; unless ``cdn``, drop every link and inline our copies."""
    offline = not cdn
    figure: Any = m.get_root()
    for element in _walk(figure):
        if not isinstance(element, JSCSSMixin):
            continue
        if offline:
            element.default_js, element.default_css = [], []
        elif element is m:
            element.default_js = [p for p in m.default_js if p[0] in _KEEP_FOLIUM_ASSETS]
            element.default_css = [p for p in m.default_css if p[0] in _KEEP_FOLIUM_ASSETS]
    if offline:
        for name, text in _inline_assets():
            figure.header.add_child(Element(text), name=name)


_REMOTE = re.compile(
    r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE
)


def _remote_assets(page: str) -> list[str]:
    """The ``<script src>`` and ``<link href>`` tags of a page that load from the network."""
    return _REMOTE.findall(page)


# ---------------------------------------------------------------------------
# The map
# ---------------------------------------------------------------------------


def _bounds(frames: Sequence[gpd.GeoDataFrame | None]) -> list[list[float]] | None:
    boxes = []
    for frame in frames:
        if frame is None or frame.empty:
            continue
        box = frame.to_crs(constants.WGS84).total_bounds
        if np.isfinite(box).all():
            boxes.append(box)
    if not boxes:
        return None
    b = np.round(np.asarray(boxes), constants.MAP_COORD_DECIMALS)
    return [
        [float(b[:, 1].min()), float(b[:, 0].min())],
        [float(b[:, 3].max()), float(b[:, 2].max())],
    ]


class _Page(Figure):
    """folium's page, with the language in ``<html lang>`` (for screen readers and spelling)."""

    _template = Template(
        "<!DOCTYPE html>\n"
        '<html lang="{{ this.lang }}">\n'
        "<head>\n"
        "    {{ this.header.render(**kwargs) }}\n"
        "</head>\n"
        "<body>\n"
        "    {{ this.html.render(**kwargs) }}\n"
        "</body>\n"
        "<script>\n"
        "    {{ this.script.render(**kwargs) }}\n"
        "</script>\n"
        "</html>\n"
    )

    def __init__(self, lang: Language) -> None:
        super().__init__()  # no title: it would go into <title> unescaped, before the charset
        self.lang = lang


def build_map(
    layers: MapLayers,
    *,
    language: Language = DEFAULT_LANGUAGE,
    cdn: bool = False,
    surface_cell_m: float | None = None,
) -> folium.Map:
    """Draw the layers on an interactive Leaflet map.

    Parameters
    ----------
    layers
        What to draw (see :class:`MapLayers`; any CRS, reprojected to
        EPSG:4326; times in minutes).
    language
        The language of every word on the map: ``"sv"`` or ``"en"``.
    cdn
        Link Leaflet and the plugins from CDNs (a smaller file that needs
        the network) instead of writing them into the page. By default the
        saved HTML needs no network (the OpenStreetMap background tiles
        still need one and otherwise stay blank). Elements added to the
        returned map afterwards may link remote files again.
    surface_cell_m
        Hexagon width (across flats, m, in the nodes' metric CRS) of the response-time
        surface; by default chosen from the extent (:func:`choose_cell_size`).

    Returns
    -------
    folium.Map
        The map; its overlays are named as :func:`layer_names` says. In the
        page, ``window.plannerLayers`` maps those names to the Leaflet layers
        and ``window.plannerSetScenario("before" | "after")`` switches the
        before/after pairs like the on-map switch (the map opens on "after"
        when it has "after" layers); ``window.plannerBounds``
        is the extent of all layers ([[south, west], [north, east]]).
    """
    tr = translator(language)
    names = layer_names(layers, language=language)
    limits = tuple(float(v) for v in layers.thresholds_min)
    lat, lon, zoom = constants.MAP_DEFAULT_VIEW
    figure = _Page(tr.language)
    figure.header.add_child(Element(f"<title>{html.escape(layers.title)}</title>"), name="title")
    m = folium.Map(
        location=[lat, lon], zoom_start=zoom, tiles=None, control_scale=False, zoom_control=False
    )
    osm = '<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
    credit = html.escape(tr.gettext("© {osm} contributors")).replace("{osm}", osm)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap", attr=credit).add_to(m)
    figure.add_child(m)
    figure.header.add_child(Element(_css()), name="planner_css")
    figure.header.add_child(Element(_PROPERTY_TABLE_JS), name="planner_property_table")
    groups: dict[str, folium.FeatureGroup] = {}

    if layers.boundaries is not None:
        groups.update(_add_boundaries(m, layers.boundaries, names, tr))
    state_groups, unreachable = _add_state_layers(m, layers, names, limits, surface_cell_m, tr)
    groups.update(state_groups)
    if layers.stations is not None:
        groups["stations"] = _add_stations(m, layers, names["stations"], limits, tr)
    if layers.proposed_sites is not None:
        groups["proposed_sites"] = _add_proposed(m, layers, names["proposed_sites"], tr)
    groups.update(_add_simulation(m, layers, limits, tr))

    _add_legends(m, layers, groups, unreachable, limits, tr)
    _add_controls(m, layers, groups, tr)
    _add_band_selector(m, layers, groups, limits, tr)
    if layers.whatif is not None:
        _add_whatif(m, layers, groups, surface_cell_m, tr)
    text = {"title": _script_json(layers.title), "label": _script_json(layers.label or None)}
    m.add_child(_Script(_TITLE_JS % text))
    ordered = list(groups)
    bounds = _bounds([getattr(layers, k) for k in _FRAMES])
    m.add_child(
        _Script(
            _REGISTRY_JS
            % {
                "names": _script_json([names[k] for k in ordered]),
                "bounds": _script_json(bounds),
                "attribution": _script_json(html.escape(tr.gettext(OSM_ATTRIBUTION))),
            },
            [groups[k] for k in ordered],
        )
    )
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if bounds is not None:
        m.fit_bounds(bounds)
    _use_assets(m, cdn=cdn)
    return m


def _add_state_layers(
    m: folium.Map,
    layers: MapLayers,
    names: dict[str, str],
    limits: Sequence[float],
    surface_cell_m: float | None,
    tr: Translator,
) -> tuple[dict[str, folium.FeatureGroup], dict[str, tuple[int, float]]]:
    """The layers drawn before and after: surface, isochrones, unreachable demand.

    Returns the groups by key, and (points, weight) of each unreachable-demand layer.

    A map with "after" layers shows those first (the before/after switch
    opens on "after"); the surface shows only when there are no isochrones.
    """
    groups: dict[str, folium.FeatureGroup] = {}
    unreachable: dict[str, tuple[int, float]] = {}
    first = "_after" if layers.has_after else ""

    def shown(key: str, base: str) -> bool:
        wanted = base + first
        return key == wanted if getattr(layers, wanted) is not None else key == base

    surfaces = [layers.road_nodes, layers.road_nodes_after]
    if any(f is not None for f in surfaces):
        cell = surface_cell_m if surface_cell_m is not None else choose_cell_size(*surfaces)
        for key, frame in (("road_nodes", surfaces[0]), ("road_nodes_after", surfaces[1])):
            if frame is not None:
                no_bands = layers.isochrones is None and layers.isochrones_after is None
                show = shown(key, "road_nodes") and no_bands
                groups[key] = _add_surface(m, frame, names[key], limits, cell, show, tr)
    for key in ("isochrones", "isochrones_after", "demand", "demand_after"):
        frame = getattr(layers, key)
        if frame is None:
            continue
        base = key.removesuffix("_after")
        if base == "isochrones":
            groups[key] = _add_isochrones(m, frame, names[key], limits, shown(key, base), tr)
        else:
            groups[key], count, weight = _add_unreachable(
                m, frame, names[key], shown(key, base), tr
            )
            unreachable[key] = (count, weight)
    return groups, unreachable


def _add_controls(
    m: folium.Map, layers: MapLayers, groups: dict[str, folium.FeatureGroup], tr: Translator
) -> None:
    """Zoom, full screen, measuring tool and the before/after switch, in the map's language."""
    zoom = {"zoomInTitle": tr.gettext("Zoom in"), "zoomOutTitle": tr.gettext("Zoom out")}
    m.add_child(_Script(f"L.control.zoom({_script_json(zoom)}).addTo(map);"))
    m.add_child(_Script("L.control.scale({imperial: false}).addTo(map);"))  # metric only
    folium.plugins.Fullscreen(
        position="topleft",
        title=tr.gettext("Full screen"),
        title_cancel=tr.gettext("Leave full screen"),
    ).add_to(m)
    folium.plugins.MeasureControl(
        position="topleft",
        primary_length_unit="kilometers",
        primary_area_unit="sqkilometers",
        secondary_length_unit="meters",
        secondary_area_unit="hectares",
        localization=tr.language,
    ).add_to(m)
    if layers.has_after:
        pairs: list[Any] = []
        for key in ("road_nodes", "isochrones", "demand", "simulated_areas", "simulated_stations"):
            if key in groups or f"{key}_after" in groups:
                pairs += [groups.get(key), groups.get(f"{key}_after")]
        words = {
            "title": tr.gettext("Scenario"),
            "before": tr.gettext("before"),
            "after": tr.gettext("after new sites"),
        }
        m.add_child(_Script(_SCENARIO_JS % {"words": _script_json(words)}, pairs))


#: Labels of the built-in profile's bands (planner.constants.SPEED_PROFILE_BANDS);
#: the bands of a profile file are shown by their names.
_BAND_LABELS = {
    "night": N_("night"),
    "morning_peak": N_("morning peak"),
    "day": N_("day"),
    "afternoon_peak": N_("afternoon peak"),
    "evening": N_("evening"),
    "weekend_day": N_("weekend day"),
}

_BAND_JS = """
var main = layers.slice(0, 2), bandLayers = layers.slice(2);
var words = %(words)s, tick = null;
function set(band) {
    bandLayers.forEach(function (l) { if (l && map.hasLayer(l)) { map.removeLayer(l); } });
    var shown = main.filter(function (l) { return l && map.hasLayer(l); });
    if (band === '') {
        if (!shown.length) {
            var wanted = window.plannerScenario === 'before' ? main[0] : (main[1] || main[0]);
            if (wanted) { map.addLayer(wanted); }
        }
    } else {
        main.forEach(function (l) { if (l && map.hasLayer(l)) { map.removeLayer(l); } });
        map.addLayer(bandLayers[words.bands.indexOf(band)]);
    }
    if (tick) { tick(band); }
    window.plannerBand = band;
}
tick = plannerRadios(map, 'planner-scenario planner-bands', 'planner-band', words.title,
                     [''].concat(words.bands), words.labels, '', set);
window.plannerBand = '';
window.plannerSetBand = set;
window.plannerBandLayers = {};
words.bands.forEach(function (band, i) { window.plannerBandLayers[band] = bandLayers[i]; });
"""


def _add_band_selector(
    m: folium.Map,
    layers: MapLayers,
    groups: dict[str, folium.FeatureGroup],
    limits: Sequence[float],
    tr: Translator,
) -> None:
    """The time-band selector: each band's isochrones, one at a time, or the model's own.

    In the page, ``window.plannerSetBand(name)`` switches like the control
    (``""``: the speed model's isochrones) and ``window.plannerBandLayers``
    maps band names to their Leaflet layers.
    """
    if not layers.band_isochrones:
        return
    bands = list(layers.band_isochrones)
    band_groups = []
    for band in bands:
        label = tr.gettext(_BAND_LABELS[band]) if band in _BAND_LABELS else band
        name = tr.gettext("Isochrones, time band {band}").format(band=label)
        group = _add_isochrones(m, layers.band_isochrones[band], name, limits, False, tr)
        group.control = False  # the band selector shows it, not the layer list
        band_groups.append(group)
    labels = [tr.gettext("speed model")] + [
        tr.gettext(_BAND_LABELS[b]) if b in _BAND_LABELS else b for b in bands
    ]
    words = {"title": tr.gettext("Time band"), "bands": bands, "labels": labels}
    frames = layers.band_isochrones.values()
    top = max((float(f["band_min"].max()) for f in frames if len(f)), default=limits[-1])
    n = int(np.clip(_classify(np.array([top]), limits)[0], 0, len(limits))) + 1
    colours, texts = _class_colours(len(limits) + 1)[:n], _class_labels(limits, tr)[:n]
    rows = list(zip(colours, texts, strict=True))
    _legend(m, "isochrones_bands", tr.gettext("Isochrones: reached within"), rows, band_groups)
    main = [groups.get("isochrones"), groups.get("isochrones_after")]
    m.add_child(_Script(_BAND_JS % {"words": _script_json(words)}, [*main, *band_groups]))


def _add_whatif(
    m: folium.Map,
    layers: MapLayers,
    groups: dict[str, folium.FeatureGroup],
    surface_cell_m: float | None,
    tr: Translator,
) -> None:
    """The what-if panel (:mod:`planner.outputs.whatif`), or a note on why it is left out."""
    data = layers.whatif
    assert data is not None
    surfaces = [layers.road_nodes, layers.road_nodes_after]
    cell = surface_cell_m if surface_cell_m is not None else choose_cell_size(*surfaces)
    with_cells = data.cell_m is not None and math.isclose(cell, data.cell_m)
    limits = layers.thresholds_min
    panel = whatif_panel(
        data, tr, class_colours=_class_colours(len(limits) + 1), with_cells=with_cells
    )
    if panel.config is None:
        m.add_child(_Script(_WHATIF_NOTE_JS % {"note": _script_json(panel.note)}))
        return
    script = Element(f"<script>\n{whatif_script()}\n</script>")
    figure: Any = m.get_root()
    figure.header.add_child(script, name="planner_whatif")
    surface_groups = [groups.get("road_nodes"), groups.get("road_nodes_after")]
    code = f"plannerWhatIf(map, layers, {_script_json(panel.config)});"
    m.add_child(_Script(code, surface_groups))


_WHATIF_NOTE_JS = """
var note = L.control({position: 'bottomright'});
note.onAdd = function () {
    var div = L.DomUtil.create('div', 'planner-legend planner-whatif-note');
    div.textContent = %(note)s;
    return div;
};
note.addTo(map);
"""


def _add_legends(
    m: folium.Map,
    layers: MapLayers,
    groups: dict[str, folium.FeatureGroup],
    unreachable: dict[str, tuple[int, float]],
    limits: Sequence[float],
    tr: Translator,
) -> None:
    colours = _class_colours(len(limits) + 1)
    labels = _class_labels(limits, tr)
    iso = [groups[k] for k in ("isochrones", "isochrones_after") if k in groups]
    if iso:
        frames = [f for f in (layers.isochrones, layers.isochrones_after) if f is not None]
        top = max((float(f["band_min"].max()) for f in frames if len(f)), default=limits[-1])
        n = int(np.clip(_classify(np.array([top]), limits)[0], 0, len(limits))) + 1
        rows = list(zip(colours[:n], labels[:n], strict=True))
        _legend(m, "isochrones", tr.gettext("Isochrones: reached within"), rows, iso)
    surface = [groups[k] for k in ("road_nodes", "road_nodes_after") if k in groups]
    if surface:
        rows = [
            *zip(colours, labels, strict=True),
            (constants.MAP_UNREACHABLE_COLOUR, tr.gettext("not reachable")),
        ]
        _legend(m, "response_time", tr.gettext("Response time (median per cell)"), rows, surface)
    names = layer_names(layers, language=tr.language)
    for key, (count, weight) in unreachable.items():
        text = tr.ngettext(
            "{n} point, total weight {w}", "{n} points, total weight {w}", count
        ).format(n=tr.number(count), w=tr.weight(weight))
        rows = [(constants.MAP_UNREACHABLE_COLOUR, text)]
        _legend(m, key, names[key], rows, [groups[key]])
    marks = [groups[k] for k in ("stations", "proposed_sites") if k in groups]
    if marks:
        kinds: list[str] = []
        if layers.stations is not None and "fleet" in layers.stations:
            kinds = sorted({_fleet_kind(f) for f in layers.stations["fleet"]})
        rows = [
            (
                f"planner-icon-{k}",
                tr.gettext("other station") if k == "other" else fleet_label(k, tr),
            )
            for k in kinds
        ]
        if layers.proposed_sites is not None:
            rows.append(("planner-icon-proposed", tr.gettext("proposed new site")))
        _legend(m, "stations", tr.gettext("Stations"), rows, marks, position="bottomleft")


def write_map(
    layers: MapLayers,
    path: str | Path,
    *,
    language: Language = DEFAULT_LANGUAGE,
    cdn: bool = False,
    overwrite: bool = False,
    surface_cell_m: float | None = None,
) -> Path:
    """Build the map and write it as one HTML file, atomically.

    Parameters
    ----------
    layers, language, cdn, surface_cell_m
        As for :func:`build_map` (by default the page needs no network).
    path
        Target ``.html`` file (its folder must exist).
    overwrite
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OutputExistsError
        If the file exists and ``overwrite`` is false.
    ParameterError
        If the folder is missing or the name does not end in ``.html``.
    DataError
        If a page made without ``cdn`` would still load a script or style
        sheet from the network.
    """
    path = check_writable(path, overwrite=overwrite)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"out: {path.name}: a map is written as .html")
    built = build_map(layers, language=language, cdn=cdn, surface_cell_m=surface_cell_m)
    page = built.get_root().render()
    if not cdn and (remote := _remote_assets(page)):
        raise DataError(f"offline map would still load {remote[0]} from the network")

    def write(tmp: Path) -> None:
        tmp.write_text(page, encoding="utf-8")

    write_atomic(path, write)
    return path
