"""The map's what-if panel (issue 18): its data, compact, and its words.

A planning meeting asks "and without that unit?", "and one here instead?".
The panel answers in the map itself, offline: every existing station,
proposed site and candidate site is listed with its response times to the
demand points (and to one road node of each cell of the response-time
surface), and the browser works out the figures of any set of sites the
user switches on, with the same formulas as :mod:`planner.analysis.coverage`
(share within each threshold, unreachable share, weighted median and 90th
percentile, inverted-CDF) and the survival model of
:class:`planner.optimise.MaxSurvival` (:data:`planner.constants.SURVIVAL_COEFFICIENTS`,
:data:`planner.constants.OHCA_PER_PERSON_YEAR`).

Times are response times (turn-out plus drive), rounded *up* to whole
seconds: a time is within a threshold of whole seconds exactly when its
rounded value is, so the shares equal Python's; medians and percentiles
differ by less than a second. Only pairs within the scenario's cutoff are
kept (``cutoff_min``; every reachable pair without one).

In the page the arrays are base64 text of deflated (zlib) bytes: each
site's demand indices and times as differences from the previous entry
(the demand in a spatial order, so neighbouring times are close), split
into byte planes. A map whose panel data would exceed
:data:`planner.constants.WHATIF_MAX_BYTES` gets a note instead of the panel.

The panel's JavaScript is ``whatif.js`` next to this module; every text
from data reaches the page as escaped JSON and is shown with
``textContent``.
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner import constants
from planner.analysis.coverage import own_region
from planner.distributed import BlockExecutor
from planner.errors import ParameterError
from planner.i18n import Translator
from planner.network.index import NetworkIndex
from planner.network.matrix import compute_matrix
from planner.network.snapping import SnappedPoints, snap_points
from planner.outputs.labels import column_label

__all__ = [
    "SITE_KINDS",
    "WhatIfData",
    "WhatIfPanel",
    "representative_nodes",
    "whatif_data",
    "whatif_panel",
    "whatif_script",
]

#: Kinds of site in the panel: switched on at the start (stations, proposed
#: sites) or added by the user (candidates).
SITE_KINDS = ("station", "proposed", "candidate")


@dataclass(frozen=True, eq=False)
class WhatIfData:
    """What the panel needs (times in whole seconds, coordinates in degrees).

    Attributes
    ----------
    sites
        One row per site: ``name``, ``kind`` (:data:`SITE_KINDS`), ``fleet``,
        ``units``, ``lon``, ``lat`` (EPSG:4326) and ``on`` (in the plan: the
        stations and proposed sites).
    weight
        Demand weight of each demand point.
    times
        Sites × demand points: response time, s, whole seconds (rounded up),
        of each pair within the cutoff; pairs not stored are not reached.
    thresholds_min
        The coverage thresholds, min.
    cutoff_min
        Pairs above this many minutes are left out (None: none).
    groups
        Municipality of each demand point, as an index into
        ``group_names`` (-1: none), or None for no municipality figures.
    group_names
        Municipality names.
    cell_times
        Sites × surface cells: response time, s (as ``times``), to one road
        node of each cell of the map's response-time surface
        (:func:`representative_nodes`), or None.
    cell_m
        Width of those surface cells, m (the map uses the panel's surface only
        when its own cells have this width).
    demand_order
        A spatial order of the demand points, used only to pack the data
        compactly (None: as given).
    survival_coefficients, arrests_per_weight
        Expected survivors: weight × arrests per weight × S(t), S(t) = 1 / (1 + e^(a + b t)).
    estimated_pairs
        When the times were not computed because a sample of the sites showed
        that they would exceed :data:`planner.constants.WHATIF_MAX_PAIRS`: the
        estimated number of pairs (``times`` is then empty and the map gets a
        note instead of the panel).
    """

    sites: pd.DataFrame
    weight: np.ndarray
    times: sp.csr_array
    thresholds_min: tuple[float, ...] = constants.DEFAULT_THRESHOLDS_MIN
    cutoff_min: float | None = None
    groups: np.ndarray | None = None
    group_names: tuple[str, ...] = ()
    cell_times: sp.csr_array | None = None
    cell_m: float | None = None
    demand_order: np.ndarray | None = None
    survival_coefficients: tuple[float, float] = constants.SURVIVAL_COEFFICIENTS
    arrests_per_weight: float = constants.OHCA_PER_PERSON_YEAR
    estimated_pairs: int | None = None

    def __post_init__(self) -> None:
        missing = [c for c in ("name", "kind", "lon", "lat", "on") if c not in self.sites.columns]
        if missing:
            raise ParameterError(f"what-if sites: column {missing[0]!r} is missing")
        unknown = set(self.sites["kind"]) - set(SITE_KINDS)
        if unknown:
            raise ParameterError(f"what-if sites: kind {sorted(unknown)[0]!r} is not one of "
                                 f"{', '.join(SITE_KINDS)}")  # fmt: skip
        n_sites, n_demand = len(self.sites), len(self.weight)
        if self.times.shape != (n_sites, n_demand):
            raise ParameterError(
                f"what-if times: shape {self.times.shape}, expected ({n_sites}, {n_demand})"
            )
        if self.cell_times is not None and self.cell_times.shape[0] != n_sites:
            raise ParameterError("what-if cell times: one row per site is needed")
        if self.groups is not None and len(self.groups) != n_demand:
            raise ParameterError("what-if groups: one per demand point is needed")


def _whole_seconds(times: sp.csr_array | sp.csr_matrix, turnout_s: float) -> sp.csr_array:
    """Drive times (s, stored pairs) plus turn-out, rounded up to whole seconds."""
    out = sp.csr_array(times, copy=True)
    out.sum_duplicates()
    out.sort_indices()
    out.data = np.ceil(out.data + turnout_s)
    return out


def _within(times: sp.csr_array, limit_s: float | None) -> sp.csr_array:
    """Only the finite pairs up to ``limit_s`` (seconds; None: every finite pair)."""
    keep = np.isfinite(times.data)
    if limit_s is not None:
        keep &= times.data <= limit_s
    coo = times.tocoo()
    return sp.csr_array(
        (coo.data[keep].astype(np.int64), (coo.row[keep], coo.col[keep])), shape=times.shape
    )


def representative_nodes(cell_of_node: np.ndarray, response_min: np.ndarray) -> np.ndarray:
    """One road node per surface cell: the one whose time is nearest the cell's median.

    Parameters
    ----------
    cell_of_node
        The surface cell (0..k-1) of each road node.
    response_min
        Each node's response time, min (``inf`` where unreachable), in the state
        the map opens on: the panel's surface then starts in the map's colours.

    Returns
    -------
    numpy.ndarray
        Row (into the road nodes) of each cell's node, cells 0..k-1 in order.
    """
    cell = np.asarray(cell_of_node, dtype=np.int64)
    t = np.asarray(response_min, dtype=float)
    median = pd.Series(t).groupby(cell).transform("median").to_numpy()
    with np.errstate(invalid="ignore"):  # inf - inf: both unreachable, set to 0 below
        gap = np.abs(t - median)
    gap[np.isinf(t) & np.isinf(median)] = 0.0
    gap[np.isnan(gap)] = np.inf
    order = np.lexsort((np.arange(len(cell)), gap, cell))
    first = np.ones(len(order), dtype=bool)
    first[1:] = cell[order][1:] != cell[order][:-1]
    return np.asarray(order[first], dtype=np.int64)


def _site_table(sites: gpd.GeoDataFrame) -> pd.DataFrame:
    """The sites as the panel lists them (lon/lat, EPSG:4326; on: stations and proposed)."""
    lonlat = sites.to_crs(constants.WGS84)
    return pd.DataFrame(
        {
            "name": sites["name"].astype(str).to_numpy(),
            "kind": sites["kind"].astype(str).to_numpy(),
            "fleet": sites["fleet"].astype(str).to_numpy() if "fleet" in sites else "ambulance",
            "units": pd.to_numeric(sites.get("units", 1), errors="coerce"),
            "lon": lonlat.geometry.x.to_numpy(),
            "lat": lonlat.geometry.y.to_numpy(),
            "on": sites["kind"].isin(["station", "proposed"]).to_numpy(),
        }
    )


def _estimated_pairs(
    index: NetworkIndex, sites: SnappedPoints, demand: SnappedPoints, run: dict[str, Any]
) -> int:
    """Site-demand pairs within the cutoff, extrapolated from a seeded sample of sites."""
    n = len(sites.depart_node)
    if n <= constants.WHATIF_SAMPLE_SITES:
        return 0  # few sites: computed in full anyway
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, constants.WHATIF_SAMPLE_SITES, replace=False))
    found = compute_matrix(index.ttg, sites.take(sample), demand, **run).times.nnz
    return math.ceil(found * n / len(sample))


def _spatial_order(x: np.ndarray, y: np.ndarray, step_m: float = 2000.0) -> np.ndarray:
    """Points in rows of ``step_m``, each row walked west-east then east-west (a snake)."""
    row = np.floor((y - np.nanmin(y)) / step_m).astype(np.int64)
    along = np.where(row % 2 == 0, x, -x)
    return np.lexsort((along, row))


def whatif_data(
    index: NetworkIndex,
    graph: Any,
    sites: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    turnout_s: float,
    thresholds_min: tuple[float, ...],
    cutoff_min: float | None = None,
    serve_across: bool = True,
    road_nodes: gpd.GeoDataFrame | None = None,
    cell_of_node: np.ndarray | None = None,
    cell_m: float | None = None,
    groups: pd.Series | None = None,
    max_snap_m: float = constants.MAX_SNAP_DISTANCE_M,
    workers: int = 1,
    executor: BlockExecutor | None = None,
) -> WhatIfData:
    """Compute the panel's times from the road network.

    Parameters
    ----------
    index, graph
        The network's :class:`~planner.network.index.NetworkIndex` and graph
        (metric CRS).
    sites
        Points with ``name``, ``kind`` (:data:`SITE_KINDS`) and optionally
        ``fleet`` and ``units`` (any CRS).
    demand
        Demand points with ``weight`` (and ``region_code`` without mutual aid).
    turnout_s
        Turn-out time, s, added to each drive time.
    thresholds_min
        Coverage thresholds, min.
    cutoff_min
        Keep response times up to this many minutes (None: every reachable pair).
    serve_across
        Mutual aid. False: a site reaches only demand of its own region
        (``region_code`` of both layers), as in :func:`planner.run.pipeline.run_coverage`.
    road_nodes, cell_of_node, cell_m
        The response-time surface: road nodes with ``node_id`` and
        ``response_min``, the surface cell of each node
        (:func:`planner.outputs.maps.surface_cells`) and the cell width, m.
    groups
        Municipality name of each demand point (None: no municipality figures).
    max_snap_m
        Sites and demand points farther than this from a road (m) are not reached.
    workers, executor
        Cores for the travel times, or the executor that runs them in blocks
        of sites (:func:`planner.distributed.make_executor`).

    Returns
    -------
    WhatIfData
        With ``estimated_pairs`` set (and no times) when a sample of
        :data:`planner.constants.WHATIF_SAMPLE_SITES` sites shows that the
        times would exceed :data:`planner.constants.WHATIF_MAX_PAIRS`.
    """
    metric = sites.to_crs(demand.crs) if sites.crs != demand.crs else sites
    site_snap = snap_points(graph, metric, edges=index.edges, max_distance_m=max_snap_m)
    dm_snap = snap_points(graph, demand, edges=index.edges, max_distance_m=max_snap_m)
    drive_cut = None if cutoff_min is None else max(cutoff_min * 60.0 - turnout_s, 0.0)
    limit = None if cutoff_min is None else cutoff_min * 60.0
    table = _site_table(sites)
    run: dict[str, Any] = {"cutoff_s": drive_cut, "workers": workers, "executor": executor}
    estimate = _estimated_pairs(index, site_snap, dm_snap, run)
    if estimate > constants.WHATIF_MAX_PAIRS:  # never hold what the page cannot take
        return WhatIfData(
            sites=table,
            weight=demand["weight"].to_numpy(dtype=float),
            times=sp.csr_array((len(table), len(demand))),
            thresholds_min=tuple(float(t) for t in thresholds_min),
            estimated_pairs=estimate,
        )
    to_demand = compute_matrix(index.ttg, site_snap, dm_snap, **run)
    times = _within(_whole_seconds(to_demand.times, turnout_s), limit)
    if not serve_across:
        coo = times.tocoo()
        mine = own_region(
            sites["region_code"].astype(object).to_numpy()[coo.row],
            demand["region_code"].astype(object).to_numpy()[coo.col],
        )
        times = sp.csr_array((coo.data[mine], (coo.row[mine], coo.col[mine])), shape=times.shape)
    cell_times = None
    if road_nodes is not None and cell_of_node is not None:
        rows = representative_nodes(cell_of_node, road_nodes["response_min"].to_numpy(float))
        targets = road_nodes["node_id"].to_numpy()[rows]
        to_cells = compute_matrix(index.ttg, site_snap, targets, **run)
        cell_times = _within(_whole_seconds(to_cells.times, turnout_s), limit)
    codes: np.ndarray | None = None
    names: tuple[str, ...] = ()
    if groups is not None:
        labels = groups.astype(object).where(groups.notna(), None).to_numpy()
        present = sorted({str(v) for v in labels if v is not None})
        lookup = {name: k for k, name in enumerate(present)}
        codes = np.array([lookup.get(str(v), -1) if v is not None else -1 for v in labels])
        names = tuple(present)
    xy = demand.geometry
    return WhatIfData(
        sites=table,
        weight=demand["weight"].to_numpy(dtype=float),
        times=times,
        thresholds_min=tuple(float(t) for t in thresholds_min),
        cutoff_min=cutoff_min,
        groups=codes,
        group_names=names,
        cell_times=cell_times,
        cell_m=cell_m,
        demand_order=_spatial_order(xy.x.to_numpy(), xy.y.to_numpy()),
    )


# ---------------------------------------------------------------------------
# Packing
# ---------------------------------------------------------------------------


def _pack(values: np.ndarray, dtype: str) -> str:
    """Values as little-endian ``dtype``, byte planes apart, deflated (zlib), base64."""
    v = np.ascontiguousarray(values, dtype=dtype)
    planes = v.view(np.uint8).reshape(-1, v.dtype.itemsize).T
    return base64.b64encode(zlib.compress(planes.tobytes(), 9)).decode("ascii")


def _pack_csr(times: sp.csr_array, columns: np.ndarray | None) -> dict[str, str]:
    """A sites × targets CSR of whole seconds: counts, index and time differences per row."""
    if columns is not None:  # the targets in the given (spatial) order
        times = sp.csr_array(times[:, columns])
    times = sp.csr_array(times)
    times.sort_indices()
    indptr = np.asarray(times.indptr, dtype=np.int64)
    index = np.asarray(times.indices, dtype=np.int64)
    data = np.asarray(times.data, dtype=np.int64)
    starts = indptr[:-1][np.diff(indptr) > 0]
    d_index = np.diff(index, prepend=0)
    d_index[starts] = index[starts]
    d_time = np.diff(data, prepend=0)
    d_time[starts] = data[starts]
    zigzag = (d_time << 1) ^ (d_time >> 63)
    return {
        "counts": _pack(np.diff(indptr), "<u4"),
        "index": _pack(d_index, "<u4"),
        "time": _pack(zigzag, "<u4"),
    }


# ---------------------------------------------------------------------------
# The panel
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfPanel:
    """The panel's configuration for the page, or why it was left out.

    Attributes
    ----------
    config
        JSON-able settings of ``plannerWhatIf`` (None when left out).
    size_bytes
        Bytes of packed data the panel adds (its arrays as base64).
    note
        Why the panel was left out (in the map's language), or None.
    """

    config: dict[str, Any] | None
    size_bytes: int
    note: str | None = field(default=None)


def _words(data: WhatIfData, tr: Translator) -> dict[str, Any]:
    """Every text of the panel, in the map's language."""
    cutoff = None
    if data.cutoff_min is not None:
        cutoff = tr.gettext("Response times above {t} min count as not reached.").format(
            t=tr.number(data.cutoff_min, 0 if float(data.cutoff_min).is_integer() else 1)
        )
    return {
        "title": tr.gettext("What if?"),
        "fold": tr.gettext("Click to fold the panel away or open it"),
        "loading": tr.gettext("Reading the what-if data…"),
        "failed": tr.gettext("This browser cannot read the what-if data."),
        "figure": tr.gettext("Figure"),
        "whatif": tr.gettext("What-if"),
        "plan": tr.gettext("Plan"),
        "change": tr.gettext("Change"),
        "reset": tr.gettext("Reset to the plan"),
        "compare": tr.gettext("Compare with the plan"),
        "uncompare": tr.gettext("Hide the plan"),
        "copy": tr.gettext("Copy the sites as CSV"),
        "copied": tr.gettext(
            "Copied: save it as a .csv file; planner plan reads it as a stations "
            "or candidates file."
        ),
        "copy_by_hand": tr.gettext(
            "Copy the text below into a .csv file; planner plan reads it as a "
            "stations or candidates file."
        ),
        "stations": tr.gettext("Stations"),
        "proposed": tr.gettext("Proposed sites"),
        "added": tr.gettext("Added units"),
        "show_candidates": tr.gettext("Show candidate sites (click one to add a unit)"),
        "click_to_add": tr.gettext("Click the map to add a unit at the nearest candidate site"),
        "added_at": tr.gettext(
            "Unit added at candidate site {name}, {km} km from where you clicked: "
            "that site's road times are used."
        ),
        "added_site": tr.gettext("Unit added at candidate site {name}: its road times are used."),
        "municipalities": tr.gettext("Municipalities"),
        "municipality": tr.gettext("Municipality"),
        "surface": tr.gettext("Response time (what-if)"),
        "catchments": tr.gettext("Nearest-station catchments (what-if)"),
        "surface_note": tr.gettext(
            "Each cell of the surface shows one road node's time (the node "
            "nearest the cell's median time in the plan)."
        ),
        "cutoff": cutoff,
        "median": tr.gettext("Median response time"),
        "p90": tr.gettext("90th percentile"),
        "unreachable": tr.gettext("Unreachable demand"),
        "survivors": tr.gettext("Expected cardiac-arrest survivors per year"),
        "within": [column_label(f"share_within_{t:g}_min", tr) for t in data.thresholds_min],
        "update_ms": tr.gettext("Updated in {ms} ms"),
        "not_reached": tr.gettext("not reached"),
    }


def _formats(tr: Translator) -> dict[str, str]:
    """How the panel writes a share and minutes: patterns around the number ``{v}``."""
    v = tr.number(12.5, 1)
    return {
        "lang": tr.language,
        "percent": tr.percent(0.125, 1).replace(v, "{v}"),
        "minutes": tr.minutes(12.5).replace(v, "{v}"),
        "unreachable": tr.gettext("unreachable"),
    }


def whatif_panel(
    data: WhatIfData,
    tr: Translator,
    *,
    class_colours: list[str],
    with_cells: bool,
    max_bytes: int = constants.WHATIF_MAX_BYTES,
) -> WhatIfPanel:
    """The panel's configuration, or a note when its data would make the map too large.

    Parameters
    ----------
    data
        The panel's data (:func:`whatif_data`).
    tr
        The map's language.
    class_colours
        Colours of the response-time classes (below the first threshold first).
    with_cells
        Draw the panel's surface and catchments (the map's surface cells match
        ``data.cell_times``).
    max_bytes
        Most bytes the packed arrays may take.
    """
    pairs = data.times.nnz + (0 if data.cell_times is None else data.cell_times.nnz)
    pairs = max(pairs, data.estimated_pairs or 0)
    if pairs > constants.WHATIF_MAX_PAIRS:
        size = int(pairs * constants.WHATIF_BYTES_PER_PAIR)
        return WhatIfPanel(None, size, _too_large(tr, size, max_bytes))
    order = data.demand_order
    weight = data.weight if order is None else data.weight[order]
    arrays: dict[str, Any] = {
        "weight": _pack(weight, "<f8"),
        "demand": _pack_csr(data.times, order),
    }
    if data.groups is not None:
        groups = data.groups if order is None else data.groups[order]
        arrays["groups"] = _pack(np.asarray(groups, dtype=np.int64) + 1, "<u4")
    cells = with_cells and data.cell_times is not None
    if cells:
        assert data.cell_times is not None
        arrays["cells"] = _pack_csr(data.cell_times, None)
    size = len(arrays["weight"]) + len(arrays.get("groups", ""))
    size += sum(len(v) for k in ("demand", "cells") for v in arrays.get(k, {}).values())
    if size > max_bytes:
        return WhatIfPanel(None, size, _too_large(tr, size, max_bytes))
    sites = data.sites
    config = {
        "sites": [
            {
                "name": str(row.name_),
                "kind": str(row.kind),
                "fleet": str(row.fleet),
                "units": int(row.units) if pd.notna(row.units) and row.units >= 1 else 1,
                "lon": round(float(row.lon), 6),
                "lat": round(float(row.lat), 6),
                "on": bool(row.on),
            }
            for row in sites.assign(name_=sites["name"], units=sites.get("units", 1)).itertuples(
                index=False
            )
        ],
        "n_demand": len(data.weight),
        "n_cells": int(data.cell_times.shape[1]) if cells and data.cell_times is not None else 0,
        "arrays": arrays,
        "thresholds_s": [float(t) * 60.0 for t in data.thresholds_min],
        "survival": [float(c) for c in data.survival_coefficients],
        "arrests_per_weight": float(data.arrests_per_weight),
        "group_names": list(data.group_names),
        "class_colours": list(class_colours),
        "unreachable_colour": constants.MAP_UNREACHABLE_COLOUR,
        "catchment_colours": list(constants.WHATIF_CATCHMENT_PALETTE),
        "formula_prefixes": list(constants.SPREADSHEET_FORMULA_PREFIXES),
        "words": _words(data, tr),
        "format": _formats(tr),
    }
    return WhatIfPanel(config, size)


def _too_large(tr: Translator, size: int, max_bytes: int) -> str:
    return tr.gettext(
        "The what-if panel is left out: its data would add {size} MB to the map "
        "(at most {limit} MB). Rerun with fewer candidate sites or a shorter cutoff."
    ).format(size=tr.number(size / 1e6, 1), limit=tr.number(max_bytes / 1e6, 1))


@lru_cache(maxsize=1)
def whatif_script() -> str:
    """The panel's JavaScript (``whatif.js``), safe to put inside a ``<script>`` element."""
    path = resources.files("planner.outputs") / "whatif.js"
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")
