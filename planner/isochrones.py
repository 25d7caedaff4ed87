"""Isochrones: the areas ambulances reach within each response-time band.

Areas follow the roads. They are the reachable roads, including the reached
part of an edge at the limit, widened by a buffer (m); they are not convex
hulls, and holes stay where no road is reached.

How it is computed (all in EPSG:3006):

1. Every edge is sampled every ``cell_m / 2`` metres once per network
   (:func:`sample_edges`); each sample knows its edge's tail node and the
   drive time from that node to the sample (s). Every node is a sample too.
2. For an origin (a station, or the whole fleet), a sample's drive time is
   the tail node's time plus that offset. Samples within the largest band's
   budget are put on a grid (cells of at most ``cell_m``, sized so that the
   buffer is a whole number m of cells plus half a cell), each cell keeping
   its fastest sample.
3. Every cell whose centre lies within m cells of a reached cell's centre
   takes that cell's time (a Euclidean distance transform,
   :func:`scipy.ndimage.distance_transform_edt`); a straight road's band is
   then ``2 × buffer_m`` wide.
4. Each band is the set of cells whose time is within its budget, turned
   into polygons by :func:`rasterio.features.shapes`. Bands are cumulative,
   so they nest.

Guarantees (tested): every node reached within a band lies inside its
polygon, and no point of a polygon is farther than ``buffer_m`` plus one
cell diagonal from a road reached within the band. Areas (km²) are those of
the cells, within a few per cent of an exact buffer.

Bands are response times by default: the drive budget of a band of T minutes
is ``T × 60 − turn-out time`` (s).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage
from tqdm.auto import tqdm

from planner import constants
from planner.coverage import validate_thresholds
from planner.errors import ParameterError
from planner.snapping import SnappedPoints, edge_frame
from planner.travel_times import TravelTimeGraph

__all__ = [
    "EdgeSamples",
    "IsochroneSettings",
    "catchment_isochrones",
    "demand_inside",
    "fleet_isochrones",
    "origin_edge_samples",
    "sample_edges",
    "station_isochrones",
]


@dataclass(frozen=True)
class IsochroneSettings:
    """How isochrones are drawn.

    Parameters
    ----------
    thresholds_min
        Band limits, minutes, strictly increasing.
    buffer_m
        Width added on each side of a reached road, m.
    cell_m
        Grid cell size, m. Polygon edges follow cells, so a smaller cell
        gives finer outlines at more cost.
    include_turnout
        Bands are response times (turn-out included) when true, drive times
        when false.
    """

    thresholds_min: tuple[float, ...] = constants.DEFAULT_THRESHOLDS_MIN
    buffer_m: float = constants.ISOCHRONE_BUFFER_M
    cell_m: float = constants.ISOCHRONE_CELL_M
    include_turnout: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds_min", validate_thresholds(self.thresholds_min))
        for name in ("buffer_m", "cell_m"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ParameterError(f"{name} = {value!r}: must be a positive distance (m)")
        if self.cell_m > 1000:
            raise ParameterError(f"cell_m = {self.cell_m:g} m is too coarse (at most 1000 m)")

    @property
    def grid(self) -> tuple[float, int]:
        """The cell size actually used (m) and the buffer in whole cells.

        The cell is the largest size not above ``cell_m`` that fits the
        buffer's width an odd number of times (``2 × buffer = (2m + 1) ×
        cell``), so that a straight road's band is ``2 × buffer`` wide on
        average rather than a cell too wide or too narrow.
        """
        m = max(math.ceil((2 * self.buffer_m / self.cell_m - 1) / 2), 0)
        return 2 * self.buffer_m / (2 * m + 1), m

    def budgets_s(self, turnout_s: float) -> np.ndarray:
        """Drive-time budget of each band, s (negative when the turn-out alone exceeds it)."""
        limits = np.asarray(self.thresholds_min, dtype=float) * 60.0
        return limits - (turnout_s if self.include_turnout else 0.0)


@dataclass(frozen=True)
class EdgeSamples:
    """Points along every edge, with the drive time to them from the edge's tail.

    Attributes
    ----------
    x, y
        Sample coordinates, m (EPSG:3006).
    tail
        Row (in :class:`~planner.travel_times.TravelTimeGraph` order) of the
        node the sample is reached from.
    offset_s
        Drive time from that node to the sample, s.
    """

    x: np.ndarray
    y: np.ndarray
    tail: np.ndarray
    offset_s: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def sample_edges(graph: nx.MultiDiGraph, ttg: TravelTimeGraph, *, spacing_m: float) -> EdgeSamples:
    """Sample every edge every ``spacing_m`` metres (ends included), and every node.

    Parameters
    ----------
    graph
        Projected network (EPSG:3006) with ``travel_time`` (s) on edges.
    ttg
        Its travel-time graph (fixes the node order).
    spacing_m
        Largest distance between two samples along an edge, m.

    Returns
    -------
    EdgeSamples
    """
    if not math.isfinite(spacing_m) or spacing_m <= 0:
        raise ParameterError(f"spacing_m = {spacing_m!r}: must be a positive distance (m)")
    edges = edge_frame(graph)
    lines = edges.geometry.to_numpy()
    geo_len = shapely.length(lines)
    counts = np.maximum(np.ceil(geo_len / spacing_m).astype(np.int64), 1) + 1
    edge_of = np.repeat(np.arange(len(edges)), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    frac = (np.arange(len(edge_of)) - start) / (counts[edge_of] - 1)
    points = shapely.line_interpolate_point(lines[edge_of], frac, normalized=True)
    xy = shapely.get_coordinates(points)
    tail = ttg.positions(edges["u"].to_numpy(), argument="edges")[edge_of]
    offset = frac * edges["travel_time"].to_numpy()[edge_of]
    nodes = np.arange(ttg.n_nodes)
    return EdgeSamples(
        x=np.concatenate([xy[:, 0], ttg.x]),
        y=np.concatenate([xy[:, 1], ttg.y]),
        tail=np.concatenate([tail, nodes]),
        offset_s=np.concatenate([offset, np.zeros(ttg.n_nodes)]),
    )


def _origin_samples(
    origins: SnappedPoints, graph: nx.MultiDiGraph, *, spacing_m: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per origin: samples along its own edge from its snapped position (x, y, time s).

    Edge samples are timed from the edge's tail node, which misses the stretch
    between a station and the next node; these samples fill it.
    """
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for i in range(len(origins)):
        if origins.status[i] == "far_from_road":
            out.append((np.empty(0), np.empty(0), np.empty(0)))
            continue
        data = graph.edges[origins.edge_u[i], origins.edge_v[i], origins.edge_key[i]]
        line = data.get("geometry")
        if line is None:
            a, b = graph.nodes[origins.edge_u[i]], graph.nodes[origins.edge_v[i]]
            line = shapely.LineString([(a["x"], a["y"]), (b["x"], b["y"])])
        f0 = origins.fraction[i]
        n = max(math.ceil(line.length / spacing_m), 1) + 1
        frac = np.linspace(0.0, 1.0, n)
        times = np.full(n, np.inf)
        ahead = frac >= f0
        times[ahead] = (frac[ahead] - f0) * origins.forward_s[i]
        times[~ahead] = (f0 - frac[~ahead]) * origins.backward_s[i]  # inf if one-way
        times = times + origins.access_s[i]
        xy = shapely.get_coordinates(shapely.line_interpolate_point(line, frac, normalized=True))
        keep = np.isfinite(times)
        out.append((xy[keep, 0], xy[keep, 1], times[keep]))
    return out


@dataclass(frozen=True)
class _Grid:
    x0: float
    y0: float
    cell: float
    shape: tuple[int, int]


def _grid(x: np.ndarray, y: np.ndarray, *, cell: float, pad: int) -> _Grid:
    x0 = math.floor(x.min() / cell) * cell - pad * cell
    y0 = math.floor(y.min() / cell) * cell - pad * cell
    w = math.floor((x.max() - x0) / cell) + 1 + pad
    h = math.floor((y.max() - y0) / cell) + 1 + pad
    return _Grid(x0, y0, cell, (h, w))


def _rasterise(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, label: np.ndarray | None, grid: _Grid
) -> tuple[np.ndarray, np.ndarray | None]:
    """Fastest time (and its label) per cell; ``inf`` / -1 where no sample lies."""
    col = ((x - grid.x0) / grid.cell).astype(np.int64)
    row = ((y - grid.y0) / grid.cell).astype(np.int64)
    order = np.argsort(-t, kind="stable")  # slowest first: the fastest is written last
    times = np.full(grid.shape, np.inf)
    times[row[order], col[order]] = t[order]
    labels = None
    if label is not None:
        labels = np.full(grid.shape, -1, dtype=np.int64)
        labels[row[order], col[order]] = label[order]
    return times, labels


def _spread(
    times: np.ndarray, labels: np.ndarray | None, *, radius_cells: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """Give every cell within ``radius_cells`` of a reached cell that cell's time and label."""
    reached = np.isfinite(times)
    dist, (ri, ci) = ndimage.distance_transform_edt(~reached, return_indices=True)
    near = dist <= radius_cells
    out = np.where(near, times[ri, ci], np.inf)
    out_labels = None if labels is None else np.where(near, labels[ri, ci], -1)
    return out, out_labels


def _polygons(mask: np.ndarray, grid: _Grid) -> shapely.Geometry:
    """The cells of ``mask`` as one (Multi)Polygon in EPSG:3006, holes kept."""
    from rasterio.features import shapes
    from rasterio.transform import Affine

    if not mask.any():
        return shapely.MultiPolygon()
    transform = Affine(grid.cell, 0.0, grid.x0, 0.0, grid.cell, grid.y0)
    parts = [
        shapely.geometry.shape(geom)
        for geom, value in shapes(mask.astype(np.uint8), mask=mask, transform=transform)
        if value == 1
    ]
    merged = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    return merged if isinstance(merged, shapely.MultiPolygon) else shapely.MultiPolygon([merged])


def _bands(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    *,
    budgets: np.ndarray,
    settings: IsochroneSettings,
    label: np.ndarray | None = None,
    n_labels: int = 0,
) -> Iterator[tuple[int, int, shapely.Geometry]]:
    """Yield (band index, label or -1, polygon) for samples with drive times ``t`` (s)."""
    keep = t <= budgets.max()
    if not keep.any():
        return
    x, y, t = x[keep], y[keep], t[keep]
    lab = None if label is None else label[keep]
    cell, radius = settings.grid
    grid = _grid(x, y, cell=cell, pad=radius + 1)
    times, labels = _rasterise(x, y, t, lab, grid)
    times, labels = _spread(times, labels, radius_cells=radius)
    for k, budget in enumerate(budgets):
        within = times <= budget
        if labels is None:
            yield k, -1, _polygons(within, grid)
        else:
            for j in range(n_labels):
                yield k, j, _polygons(within & (labels == j), grid)


def _frame(rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=constants.ANALYSIS_CRS)
    frame["area_km2"] = frame.geometry.area / 1e6
    return frame


def _check_times(node_times: np.ndarray, samples: EdgeSamples, names: Sequence[str]) -> None:
    if node_times.ndim != 2 or node_times.shape[0] != len(names):
        raise ParameterError("names: one name per row of node_times is needed")
    if len(samples) and node_times.shape[1] <= samples.tail.max():
        raise ParameterError("node_times: one column per network node is needed")


def station_isochrones(
    samples: EdgeSamples,
    node_times: np.ndarray,
    *,
    names: Sequence[str],
    turnout_s: float,
    settings: IsochroneSettings | None = None,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    progress: bool = False,
) -> gpd.GeoDataFrame:
    """Nested response-time bands for each station.

    Parameters
    ----------
    samples
        Edge samples of the network (:func:`sample_edges`).
    node_times
        ``(n_stations, n_nodes)`` drive times from each station to every node,
        s (:func:`planner.travel_times.point_times`).
    names
        Station names, one per row.
    turnout_s
        Turn-out time, s (subtracted from each band when bands are response times).
    settings
        Thresholds, buffer and cell size.
    origin_samples
        Samples along each station's own edge (:func:`origin_edge_samples`).
    progress
        Show a progress bar.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per station and band: ``station``, ``band_min``,
        ``drive_budget_s``, ``area_km2`` and a MultiPolygon (EPSG:3006).
    """
    settings = settings or IsochroneSettings()
    _check_times(node_times, samples, names)
    budgets = settings.budgets_s(turnout_s)
    rows: list[dict[str, object]] = []
    for i in tqdm(range(len(names)), desc="isochrones", disable=not progress, leave=False):
        t = node_times[i, samples.tail] + samples.offset_s
        x, y = samples.x, samples.y
        if origin_samples is not None:
            ox_, oy_, ot_ = origin_samples[i]
            x, y, t = np.concatenate([x, ox_]), np.concatenate([y, oy_]), np.concatenate([t, ot_])
        found = {k: geom for k, _, geom in _bands(x, y, t, budgets=budgets, settings=settings)}
        for k, threshold in enumerate(settings.thresholds_min):
            rows.append(
                {
                    "station": names[i],
                    "band_min": threshold,
                    "drive_budget_s": float(budgets[k]),
                    "geometry": found.get(k, shapely.MultiPolygon()),
                }
            )
    return _frame(rows)


def _best(
    samples: EdgeSamples,
    node_times: np.ndarray,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Samples with the fastest origin: (x, y, time s, origin index)."""
    per = node_times[:, samples.tail] + samples.offset_s[None, :]
    best = np.argmin(per, axis=0)
    t = per[best, np.arange(per.shape[1])]
    x, y = samples.x, samples.y
    if origin_samples is not None:
        extra_x = [s[0] for s in origin_samples]
        extra_y = [s[1] for s in origin_samples]
        extra_t = [s[2] for s in origin_samples]
        extra_o = [np.full(len(s[0]), i) for i, s in enumerate(origin_samples)]
        x = np.concatenate([x, *extra_x])
        y = np.concatenate([y, *extra_y])
        t = np.concatenate([t, *extra_t])
        best = np.concatenate([best, *extra_o])
    return x, y, t, best


def fleet_isochrones(
    samples: EdgeSamples,
    node_times: np.ndarray,
    *,
    turnout_s: float,
    settings: IsochroneSettings | None = None,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> gpd.GeoDataFrame:
    """Nested bands reached by the nearest station of a fleet (merged).

    Parameters are those of :func:`station_isochrones`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per band: ``band_min``, ``drive_budget_s``, ``area_km2``,
        MultiPolygon geometry (EPSG:3006).
    """
    settings = settings or IsochroneSettings()
    budgets = settings.budgets_s(turnout_s)
    x, y, t, _ = _best(samples, node_times, origin_samples)
    found = {k: geom for k, _, geom in _bands(x, y, t, budgets=budgets, settings=settings)}
    return _frame(
        [
            {
                "band_min": threshold,
                "drive_budget_s": float(budgets[k]),
                "geometry": found.get(k, shapely.MultiPolygon()),
            }
            for k, threshold in enumerate(settings.thresholds_min)
        ]
    )


def catchment_isochrones(
    samples: EdgeSamples,
    node_times: np.ndarray,
    *,
    names: Sequence[str],
    turnout_s: float,
    settings: IsochroneSettings | None = None,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> gpd.GeoDataFrame:
    """Fleet bands split by nearest station: each station's catchment per band.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per station and band: ``station``, ``band_min``,
        ``drive_budget_s``, ``area_km2``, MultiPolygon geometry (EPSG:3006).
        The catchments of one band do not overlap and together make the
        fleet's band.
    """
    settings = settings or IsochroneSettings()
    _check_times(node_times, samples, names)
    budgets = settings.budgets_s(turnout_s)
    x, y, t, best = _best(samples, node_times, origin_samples)
    found = {
        (k, j): geom
        for k, j, geom in _bands(
            x, y, t, budgets=budgets, settings=settings, label=best, n_labels=len(names)
        )
    }
    rows: list[dict[str, object]] = [
        {
            "station": names[j],
            "band_min": threshold,
            "drive_budget_s": float(budgets[k]),
            "geometry": found.get((k, j), shapely.MultiPolygon()),
        }
        for j in range(len(names))
        for k, threshold in enumerate(settings.thresholds_min)
    ]
    return _frame(rows)


def origin_edge_samples(
    origins: SnappedPoints, graph: nx.MultiDiGraph, *, spacing_m: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Samples along each origin's own edge: ``[(x, y, drive time s), ...]`` per origin."""
    return _origin_samples(origins, graph, spacing_m=spacing_m)


def demand_inside(bands: gpd.GeoDataFrame, demand: gpd.GeoDataFrame) -> pd.Series:
    """Total demand ``weight`` of the points lying inside each band polygon.

    Parameters
    ----------
    bands
        Isochrone polygons (EPSG:3006).
    demand
        Demand points with a ``weight`` column (any CRS).

    Returns
    -------
    pandas.Series
        Weight inside each row of ``bands`` (same index).
    """
    if "weight" not in demand.columns:
        raise ParameterError("demand: a 'weight' column is needed")
    points = demand.to_crs(bands.crs)[["weight", "geometry"]]
    joined = gpd.sjoin(points, bands[["geometry"]], predicate="within", how="inner")
    sums = joined.groupby("index_right")["weight"].sum()
    return sums.reindex(bands.index, fill_value=0.0).astype(float)
