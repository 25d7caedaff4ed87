"""Isochrones: the areas ambulances reach within each response-time band.

Areas follow the roads. They are the reachable roads, including the reached
part of an edge at the limit, widened by a buffer (m); they are not convex
hulls, and holes stay where no road is reached.

How it is computed (all in the network's metric CRS, EPSG:3006 in Sweden;
:attr:`planner.network.road_network.RoadNetwork.crs`), so buffers, cells and
``area_km2`` are true metres and square kilometres wherever the data lie:

1. Every edge is sampled every ``cell_m / 2`` metres once per network
   (:func:`sample_edges`); each sample knows its edge's tail node and the
   drive time from that node to the sample (s). Every node is a sample too.
2. For an origin (a station, or the whole fleet), a sample's drive time is
   the tail node's time plus that offset. Samples within the largest band's
   budget are put on a grid (cells of at most ``cell_m``, sized so that the
   buffer is a whole number m of cells plus half a cell), each cell keeping
   its fastest sample.
3. Every cell takes the fastest time of the reached cells whose centres lie
   within m cells of its own (:func:`scipy.ndimage.minimum_filter` with a
   disc); a straight road's band is then ``2 × buffer_m`` wide. For
   catchments, a cell belongs to the station of its nearest reached cell
   (:func:`scipy.ndimage.distance_transform_edt`).
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
from planner.analysis.coverage import validate_thresholds
from planner.errors import ParameterError
from planner.network.snapping import SnappedPoints, edge_frame
from planner.network.travel_times import TravelTimeGraph

__all__ = [
    "EdgeSamples",
    "IsochroneSettings",
    "catchment_isochrones",
    "catchment_isochrones_from_nearest",
    "check_raster_memory",
    "demand_in_polygon",
    "demand_within",
    "fleet_isochrones",
    "fleet_isochrones_from_nearest",
    "origin_edge_samples",
    "sample_edges",
    "station_isochrones",
]


#: Discs of at most this many cells are widened by shifted minima instead of
#: scipy's generic minimum filter (faster for the default 1-cell radius).
_SHIFTED_MIN_MAX_CELLS = 13


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
        cell``, to 1/1024 m), so that a straight road's band is ``2 × buffer``
        wide on average rather than a cell too wide or too narrow.
        """
        m = max(math.ceil((2 * self.buffer_m / self.cell_m - 1) / 2), 0)
        # a multiple of 1/1024 m: cell corners are then exact binary numbers, so
        # grids of different extents share one lattice without float slivers
        return round(2 * self.buffer_m / (2 * m + 1) * 1024) / 1024, m

    def budgets_s(self, turnout_s: float) -> np.ndarray:
        """Drive-time budget of each band, s (negative when the turn-out alone exceeds it)."""
        limits = np.asarray(self.thresholds_min, dtype=float) * 60.0
        return limits - (turnout_s if self.include_turnout else 0.0)


@dataclass(frozen=True)
class EdgeSamples:
    """Points along every road, built once per network.

    Each physical road (an edge and, on a two-way road, its twin) is sampled
    once. A sample at fraction ``f`` of road ``r`` is reached from the road's
    tail node in ``f × forward_s[r]`` seconds and, on a two-way road, from
    its head node in ``(1 − f) × backward_s[r]`` seconds.

    Attributes
    ----------
    x, y
        Sample coordinates, m (in ``crs``).
    road
        The road of each sample.
    frac
        Position of each sample along its road, 0 at the tail, 1 at the head.
    tail, head
        Per road: node rows (:class:`~planner.network.travel_times.TravelTimeGraph`
        order) of its ends.
    forward_s, backward_s
        Per road: travel time tail -> head, and head -> tail (``inf`` on a
        one-way road), s.
    start, count
        Per road: index of its first sample and its number of samples.
    crs
        The network's metric CRS: that of the samples and of the polygons
        drawn from them.
    """

    x: np.ndarray
    y: np.ndarray
    road: np.ndarray
    frac: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    forward_s: np.ndarray
    backward_s: np.ndarray
    start: np.ndarray
    count: np.ndarray
    crs: str = constants.ANALYSIS_CRS

    def __len__(self) -> int:
        return len(self.x)

    def reached(self, node_time: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Samples reached within ``limit`` s given drive times to every node.

        Returns
        -------
        index, time
            Sample indices and their drive times, s.
        """
        ta = node_time[self.tail]
        tb = node_time[self.head]
        roads = np.flatnonzero(np.minimum(ta, tb) <= limit)
        counts = self.count[roads]
        first = np.repeat(self.start[roads] - (np.cumsum(counts) - counts), counts)
        index = first + np.arange(int(counts.sum()))
        road = self.road[index]
        f = self.frac[index]
        with np.errstate(invalid="ignore"):  # inf × 0 at the head of a one-way road
            back = tb[road] + (1.0 - f) * self.backward_s[road]
        time = np.fmin(ta[road] + f * self.forward_s[road], back)
        keep = time <= limit
        return index[keep], time[keep]


def _interpolate(lines: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``counts[i]`` evenly spaced points along each line (ends included), vectorised.

    Returns the coordinates (n, 2) and each point's fraction along its line.
    """
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    seg = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
    seg[owner[1:] != owner[:-1]] = 0.0  # no segment between two lines
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    first = np.searchsorted(owner, np.arange(len(lines)))
    last = np.searchsorted(owner, np.arange(len(lines)), side="right") - 1
    total = cum[last] - cum[first]
    line_of = np.repeat(np.arange(len(lines)), counts)
    within = np.arange(len(line_of)) - np.repeat(np.cumsum(counts) - counts, counts)
    frac = within / np.maximum(counts[line_of] - 1, 1)
    target = cum[first[line_of]] + frac * total[line_of]
    k = np.searchsorted(cum, target, side="right") - 1
    k = np.clip(k, first[line_of], np.maximum(last[line_of] - 1, first[line_of]))
    nxt = np.minimum(k + 1, last[line_of])
    step = cum[nxt] - cum[k]
    t = np.divide(target - cum[k], step, out=np.zeros_like(target), where=step > 0)
    xy = coords[k] + t[:, None] * (coords[nxt] - coords[k])
    return xy, frac


def sample_edges(
    graph: nx.MultiDiGraph,
    ttg: TravelTimeGraph,
    *,
    spacing_m: float,
    edges: gpd.GeoDataFrame | None = None,
) -> EdgeSamples:
    """Sample every road every ``spacing_m`` metres at most, ends included.

    Parameters
    ----------
    graph
        Projected network (its ``graph["crs"]``, metres) with ``travel_time`` (s) on edges.
    ttg
        Its travel-time graph (fixes the node order).
    spacing_m
        Largest distance between two samples along a road, m.
    edges
        Pre-computed :func:`planner.network.snapping.edge_frame` of ``graph``.

    Returns
    -------
    EdgeSamples
    """
    if not math.isfinite(spacing_m) or spacing_m <= 0:
        raise ParameterError(f"spacing_m = {spacing_m!r}: must be a positive distance (m)")
    if edges is None:
        edges = edge_frame(graph)
    twin = edges["twin"].to_numpy()
    rows = np.flatnonzero((twin < 0) | (np.arange(len(edges)) < twin))
    lines = edges.geometry.to_numpy()[rows]
    counts = np.maximum(np.ceil(shapely.length(lines) / spacing_m).astype(np.int64), 1) + 1
    xy, frac = _interpolate(lines, counts)
    travel = edges["travel_time"].to_numpy()
    has_twin = twin[rows] >= 0
    tail = ttg.positions(edges["u"].to_numpy()[rows], argument="edges")
    head = ttg.positions(edges["v"].to_numpy()[rows], argument="edges")
    return EdgeSamples(
        x=xy[:, 0],
        y=xy[:, 1],
        road=np.repeat(np.arange(len(rows)), counts),
        frac=frac,
        tail=tail,
        head=head,
        forward_s=travel[rows],
        backward_s=np.where(has_twin, travel[np.where(has_twin, twin[rows], 0)], np.inf),
        start=np.cumsum(counts) - counts,
        count=counts,
        crs=str(edges.crs or constants.ANALYSIS_CRS),
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
    cell = row * grid.shape[1] + col
    times = np.full(grid.shape[0] * grid.shape[1], np.inf)
    np.minimum.at(times, cell, t)
    if label is None:
        return times.reshape(grid.shape), None
    # the label of the fastest sample: write slowest first, fastest last
    order = np.argsort(-t, kind="stable")
    labels = np.full(times.shape, -1, dtype=np.int64)
    labels[cell[order]] = label[order]
    return times.reshape(grid.shape), labels.reshape(grid.shape)


def _spread(
    times: np.ndarray, labels: np.ndarray | None, *, radius_cells: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Widen reached cells by ``radius_cells``.

    Each cell takes the fastest time of the reached cells whose centres lie
    within ``radius_cells`` of its own (a minimum filter with a disc), so a
    band only grows when more stations are added. Its label is that of the
    nearest reached cell (a Euclidean distance transform), which splits a
    fleet's band into station catchments.
    """
    r = int(radius_cells)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = xx * xx + yy * yy <= r * r
    if disc.sum() <= _SHIFTED_MIN_MAX_CELLS:
        # a few shifted minima beat the generic filter for small discs
        padded = np.pad(times, r, constant_values=np.inf)
        h, w = times.shape
        out = times.copy()
        for dy, dx in zip(yy[disc], xx[disc], strict=True):
            np.minimum(out, padded[r + dy : r + dy + h, r + dx : r + dx + w], out=out)
    else:
        out = ndimage.minimum_filter(times, footprint=disc, mode="constant", cval=np.inf)
    if labels is None:
        return out, None
    _, (ri, ci) = ndimage.distance_transform_edt(~np.isfinite(times), return_indices=True)
    return out, np.where(np.isfinite(out), labels[ri, ci], -1)


def _ring(coords: list[tuple[float, float]]) -> shapely.LinearRing:
    return shapely.linearrings(np.asarray(coords, dtype=float))


def _polygons(values: np.ndarray, mask: np.ndarray, grid: _Grid) -> dict[int, shapely.Geometry]:
    """Cells of ``mask`` as one MultiPolygon (grid units, m) per value of ``values``, holes kept.

    :func:`rasterio.features.shapes` traces each connected group of equal
    cells once, so the parts of one value are disjoint. Only the bounding
    box of ``mask`` is traced.
    """
    from rasterio.features import shapes
    from rasterio.transform import Affine

    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return {}
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    transform = Affine(
        grid.cell, 0.0, grid.x0 + c0 * grid.cell, 0.0, grid.cell, grid.y0 + r0 * grid.cell
    )
    window = np.ascontiguousarray(values[r0:r1, c0:c1], dtype=np.int32)
    parts: dict[int, list[shapely.Geometry]] = {}
    for geom, value in shapes(window, mask=mask[r0:r1, c0:c1], transform=transform):
        rings = geom["coordinates"]
        holes = [_ring(h) for h in rings[1:]]
        parts.setdefault(int(value), []).append(shapely.polygons(_ring(rings[0]), holes or None))
    return {value: shapely.MultiPolygon(polys) for value, polys in parts.items()}


def _bands(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    *,
    budgets: np.ndarray,
    settings: IsochroneSettings,
    label: np.ndarray | None = None,
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
    zeros = np.zeros(times.shape, dtype=np.int32)
    for k, budget in enumerate(budgets):
        within = times <= budget
        if labels is None:
            for geom in _polygons(zeros, within, grid).values():
                yield k, -1, geom
        else:
            for j, geom in _polygons(labels, within & (labels >= 0), grid).items():
                yield k, j, geom


def _frame(rows: list[dict[str, object]], crs: str) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    frame["area_km2"] = frame.geometry.area / 1e6
    return frame


def _check_times(node_times: np.ndarray, samples: EdgeSamples, names: Sequence[str]) -> None:
    if node_times.ndim != 2 or node_times.shape[0] != len(names):
        raise ParameterError("names: one name per row of node_times is needed")
    if len(samples) and node_times.shape[1] <= max(samples.tail.max(), samples.head.max()):
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
        s (:func:`planner.network.travel_times.point_times`).
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
        ``drive_budget_s``, ``area_km2`` (km², measured in the network's
        metric CRS) and a MultiPolygon (``samples.crs``).
    """
    settings = settings or IsochroneSettings()
    _check_times(node_times, samples, names)
    budgets = settings.budgets_s(turnout_s)
    rows: list[dict[str, object]] = []
    for i in tqdm(range(len(names)), desc="isochrones", disable=not progress, leave=False):
        index, t = samples.reached(node_times[i], float(budgets.max()))
        x, y = samples.x[index], samples.y[index]
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
    return _frame(rows, samples.crs)


def _nearest_rows(node_times: np.ndarray, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the fastest row's time (s) and that row, ``-1`` where no row is finite.

    One row at a time (memory ``O(nodes)``); a smaller time wins and equal
    times go to the lower row, as :func:`numpy.argmin`.
    """
    best_t = np.full(node_times.shape[1], np.inf)
    best_o = np.full(node_times.shape[1], -1, dtype=np.int64)
    rows = tqdm(
        range(node_times.shape[0]), desc="fastest station", disable=not progress, leave=False
    )
    for i in rows:
        row = node_times[i]
        better = row < best_t
        best_t[better] = row[better]
        best_o[better] = i
    return best_t, best_o


def _check_nearest(
    samples: EdgeSamples,
    node_time: np.ndarray,
    node_origin: np.ndarray | None = None,
    n_origins: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``node_time`` as float and ``node_origin`` as int64, or a ParameterError."""
    time = np.asarray(node_time, dtype=np.float64)
    if time.ndim != 1:
        raise ParameterError("node_time: one drive time (s) per network node is needed")
    if len(samples) and len(time) <= max(samples.tail.max(), samples.head.max()):
        raise ParameterError("node_time: one drive time (s) per network node is needed")
    if node_origin is None:
        return time, None
    origin = np.asarray(node_origin)
    if origin.shape != time.shape or not np.issubdtype(origin.dtype, np.integer):
        raise ParameterError("node_origin: one station row (integer) per network node is needed")
    origin = origin.astype(np.int64, copy=False)
    reached = np.isfinite(time)
    if len(origin) and (
        origin.min() < -1
        or (n_origins is not None and origin.max() >= n_origins)
        or (origin[reached] < 0).any()
    ):
        raise ParameterError(
            "node_origin: give the row of each node's nearest station (0 .. stations - 1), "
            "-1 only where node_time is inf"
        )
    return time, origin


def _with_origin_samples(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    best: np.ndarray,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Append each origin's own-edge samples, labelled with the origin's row."""
    if origin_samples is None:
        return x, y, t, best
    x = np.concatenate([x, *(s[0] for s in origin_samples)])
    y = np.concatenate([y, *(s[1] for s in origin_samples)])
    t = np.concatenate([t, *(s[2] for s in origin_samples)])
    best = np.concatenate([best, *(np.full(len(s[0]), i) for i, s in enumerate(origin_samples))])
    return x, y, t, best


def _best_from_nearest(
    samples: EdgeSamples,
    node_time: np.ndarray,
    node_origin: np.ndarray,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None,
    limit: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Samples reached within ``limit`` s by the fastest origin: (x, y, time s, origin).

    From each node's nearest origin (:func:`_nearest_rows`, or merged block
    by block of origins) rather than every origin's times. A sample's time
    over all origins is ``min(T[tail] + f × forward, T[head] + (1 − f) ×
    backward)`` with ``T`` the nearest origin's time per node (rounding is
    monotone, so this is bit for bit the minimum over the origins one by
    one); its origin is the nearest origin of the end that gives that time,
    the lower row when both ends do. Memory is ``O(nodes + samples)``.
    """
    index, t = samples.reached(node_time, limit)
    finite = np.isfinite(t)  # an infinite limit keeps unreached samples
    index, t = index[finite], t[finite]
    road = samples.road[index]
    f = samples.frac[index]
    tail, head = samples.tail[road], samples.head[road]
    # the two terms of EdgeSamples.reached, computed the same way
    ahead = node_time[tail] + f * samples.forward_s[road]
    with np.errstate(invalid="ignore"):  # inf × 0 at the head of a one-way road
        back = node_time[head] + (1.0 - f) * samples.backward_s[road]
    via_tail, via_head = ahead == t, back == t
    best = np.where(
        via_tail & via_head,
        np.minimum(node_origin[tail], node_origin[head]),
        np.where(via_tail, node_origin[tail], node_origin[head]),
    )
    return _with_origin_samples(samples.x[index], samples.y[index], t, best, origin_samples)


def _fleet_frame(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    budgets: np.ndarray,
    settings: IsochroneSettings,
    crs: str,
) -> gpd.GeoDataFrame:
    found = {k: geom for k, _, geom in _bands(x, y, t, budgets=budgets, settings=settings)}
    return _frame(
        [
            {
                "band_min": threshold,
                "drive_budget_s": float(budgets[k]),
                "geometry": found.get(k, shapely.MultiPolygon()),
            }
            for k, threshold in enumerate(settings.thresholds_min)
        ],
        crs,
    )


def _catchment_frame(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    best: np.ndarray,
    names: Sequence[str],
    budgets: np.ndarray,
    settings: IsochroneSettings,
    crs: str,
) -> gpd.GeoDataFrame:
    found = {
        (k, j): geom
        for k, j, geom in _bands(x, y, t, budgets=budgets, settings=settings, label=best)
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
    return _frame(rows, crs)


def fleet_isochrones(
    samples: EdgeSamples,
    node_times: np.ndarray,
    *,
    turnout_s: float,
    settings: IsochroneSettings | None = None,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    progress: bool = False,
) -> gpd.GeoDataFrame:
    """Nested bands reached by the nearest station of a fleet (merged).

    Parameters are those of :func:`station_isochrones`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per band: ``band_min``, ``drive_budget_s``, ``area_km2``,
        MultiPolygon geometry (``samples.crs``). Equal to
        :func:`fleet_isochrones_from_nearest` on the fastest time per node.
    """
    if node_times.ndim != 2:
        raise ParameterError("node_times: one row of drive times per station is needed")
    node_time, _ = _nearest_rows(node_times, progress)
    return fleet_isochrones_from_nearest(
        samples, node_time, turnout_s=turnout_s, settings=settings, origin_samples=origin_samples
    )


def fleet_isochrones_from_nearest(
    samples: EdgeSamples,
    node_time: np.ndarray,
    *,
    turnout_s: float,
    settings: IsochroneSettings | None = None,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> gpd.GeoDataFrame:
    """:func:`fleet_isochrones` from the nearest station's drive time to every node.

    Memory is ``O(nodes + samples)`` whatever the number of stations, so the
    stations × nodes drive times need never be held at once (compute the
    minimum per node block by block of stations).

    Parameters
    ----------
    samples
        Edge samples of the network (:func:`sample_edges`).
    node_time
        ``(n_nodes,)`` drive time from the nearest station to every node, s
        (``inf`` where none reaches it), in
        :class:`~planner.network.travel_times.TravelTimeGraph` node order.
    turnout_s
        Turn-out time, s (subtracted from each band when bands are response times).
    settings
        Thresholds, buffer and cell size.
    origin_samples
        Samples along each station's own edge (:func:`origin_edge_samples`).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per band: ``band_min``, ``drive_budget_s``, ``area_km2``,
        MultiPolygon geometry (``samples.crs``).
    """
    settings = settings or IsochroneSettings()
    time, _ = _check_nearest(samples, node_time)
    budgets = settings.budgets_s(turnout_s)
    index, t = samples.reached(time, float(budgets.max()))
    x, y, t, _ = _with_origin_samples(
        samples.x[index], samples.y[index], t, np.zeros(len(index), np.int64), origin_samples
    )
    return _fleet_frame(x, y, t, budgets, settings, samples.crs)


def catchment_isochrones(
    samples: EdgeSamples,
    node_times: np.ndarray,
    *,
    names: Sequence[str],
    turnout_s: float,
    settings: IsochroneSettings | None = None,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    progress: bool = False,
) -> gpd.GeoDataFrame:
    """Fleet bands split by nearest station: each station's catchment per band.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per station and band: ``station``, ``band_min``,
        ``drive_budget_s``, ``area_km2``, MultiPolygon geometry (``samples.crs``).
        The catchments of one band do not overlap and together make the
        fleet's band. Equal to :func:`catchment_isochrones_from_nearest` on
        the fastest time and station per node.
    """
    _check_times(node_times, samples, names)
    node_time, node_origin = _nearest_rows(node_times, progress)
    return catchment_isochrones_from_nearest(
        samples,
        node_time,
        node_origin,
        names=names,
        turnout_s=turnout_s,
        settings=settings,
        origin_samples=origin_samples,
    )


def catchment_isochrones_from_nearest(
    samples: EdgeSamples,
    node_time: np.ndarray,
    node_origin: np.ndarray,
    *,
    names: Sequence[str],
    turnout_s: float,
    settings: IsochroneSettings | None = None,
    origin_samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> gpd.GeoDataFrame:
    """:func:`catchment_isochrones` from each node's nearest station and its time.

    A sample on a road is reached from the end whose nearest station gives
    it the smaller time, and belongs to that station; when both ends give
    the same time it belongs to the lower station row, so the result equals
    :func:`catchment_isochrones` on the full drive times. Memory is
    ``O(nodes + samples)`` whatever the number of stations.

    Parameters
    ----------
    samples
        Edge samples of the network (:func:`sample_edges`).
    node_time
        ``(n_nodes,)`` drive time from the nearest station to every node, s
        (``inf`` where none reaches it), in
        :class:`~planner.network.travel_times.TravelTimeGraph` node order.
    node_origin
        ``(n_nodes,)`` row (position in ``names``) of that station, the
        lowest row among equal times (as :func:`numpy.argmin`); ``-1``
        where ``node_time`` is ``inf``.
    names
        Station names, one per row.
    turnout_s
        Turn-out time, s (subtracted from each band when bands are response times).
    settings
        Thresholds, buffer and cell size.
    origin_samples
        Samples along each station's own edge (:func:`origin_edge_samples`),
        one entry per station.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`catchment_isochrones`.
    """
    settings = settings or IsochroneSettings()
    time, origin = _check_nearest(samples, node_time, node_origin, len(names))
    assert origin is not None
    if origin_samples is not None and len(origin_samples) != len(names):
        raise ParameterError("origin_samples: one entry per station (name) is needed")
    budgets = settings.budgets_s(turnout_s)
    x, y, t, best = _best_from_nearest(samples, time, origin, origin_samples, float(budgets.max()))
    return _catchment_frame(x, y, t, best, names, budgets, settings, samples.crs)


def origin_edge_samples(
    origins: SnappedPoints, graph: nx.MultiDiGraph, *, spacing_m: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Samples along each origin's own edge: ``[(x, y, drive time s), ...]`` per origin."""
    return _origin_samples(origins, graph, spacing_m=spacing_m)


def demand_in_polygon(bands: gpd.GeoDataFrame, demand: gpd.GeoDataFrame) -> pd.Series:
    """Total demand ``weight`` of the points lying inside each band polygon.

    A geometric count: a point inside a polygon may still be unreachable, or
    slower than the band, by the network (an island, the far side of a
    river, a point far from its road). The coverage tables and
    :func:`demand_within` count demand by its own response time instead.

    Parameters
    ----------
    bands
        Isochrone polygons (any projected CRS).
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


def _raster_bytes(settings: IsochroneSettings, width_m: float, height_m: float) -> float:
    """Peak bytes of the raster over an extent of ``width_m`` × ``height_m`` (m)."""
    cell, radius = settings.grid
    pad = radius + 1
    cells = (width_m / cell + 1 + 2 * pad) * (height_m / cell + 1 + 2 * pad)
    return cells * constants.ISOCHRONE_BYTES_PER_CELL


def _fitting_cell(settings: IsochroneSettings, width_m: float, height_m: float) -> float:
    """The smallest round cell (2 significant digits, m) that fits; inf if none up to 1000 m."""
    budget = constants.ISOCHRONE_RASTER_MAX_BYTES
    cell = math.sqrt(width_m * height_m * constants.ISOCHRONE_BYTES_PER_CELL / budget)
    cell = max(cell, settings.cell_m)
    while True:
        step = 10.0 ** (math.floor(math.log10(cell)) - 1)
        cell = min(math.ceil(cell / step - 1e-9) * step, 1000.0)
        trial = IsochroneSettings(
            thresholds_min=settings.thresholds_min,
            buffer_m=settings.buffer_m,
            cell_m=cell,
            include_turnout=settings.include_turnout,
        )
        if _raster_bytes(trial, width_m, height_m) <= budget:
            return cell
        if cell >= 1000.0:
            return math.inf
        cell += step


def _km(metres: float) -> str:
    km = metres / 1000
    return f"{km:,.0f} km" if km >= 100 else f"{km:.3g} km"


def _gib(size: float) -> str:
    gib = size / 1024**3
    return f"{gib:,.3g} GiB" if gib < 100 else f"{gib:,.0f} GiB"


def check_raster_memory(
    settings: IsochroneSettings, bounds: Sequence[float], *, argument: str = "cell_m"
) -> None:
    """Refuse a cell so small that the isochrone raster would not fit the memory budget.

    Parameters
    ----------
    settings
        The isochrone settings (their cell and buffer).
    bounds
        (xmin, ymin, xmax, ymax) of the roads, m (the network's metric CRS): the largest
        extent a raster of the fleet's bands can cover.
    argument
        How the message names the cell-size setting.

    Raises
    ------
    ParameterError
        If the raster would take more than
        :data:`planner.constants.ISOCHRONE_RASTER_MAX_BYTES` (at
        :data:`planner.constants.ISOCHRONE_BYTES_PER_CELL`); the message
        gives the estimate, the budget and the smallest cell that fits.
    """
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    width, height = xmax - xmin, ymax - ymin
    need = _raster_bytes(settings, width, height)
    budget = constants.ISOCHRONE_RASTER_MAX_BYTES
    if need <= budget:
        return
    fit = _fitting_cell(settings, width, height)
    advice = (
        f"use a cell of at least {fit:g} m"
        if math.isfinite(fit)
        else f"even 1000 m cells do not fit with a {settings.buffer_m:g} m buffer: narrow it"
    )
    raise ParameterError(
        f"{argument} = {settings.cell_m:g} m (buffer {settings.buffer_m:g} m): the isochrone "
        "raster over these roads "
        f"({_km(width)} × {_km(height)}) would take about {_gib(need)}, "
        f"above the memory budget of {_gib(budget)}; {advice}, or draw no isochrones"
    )


def demand_within(
    bands: pd.DataFrame,
    time_s: np.ndarray,
    weight: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    nearest: np.ndarray | None = None,
) -> pd.Series:
    """Weight of the demand reached within each band by its own network time.

    The count the coverage tables use (``share_within_<T>_min`` × demand):
    a point counts in a band of T minutes when its time is at most
    ``T × 60`` s, whether or not it lies inside the polygon.

    Parameters
    ----------
    bands
        Isochrone rows with ``band_min`` (minutes) and, for station bands
        and catchments, ``station``.
    time_s
        The demand's times in the bands' measure (response times, or drive
        times for drive-time bands), s, ``inf`` where unreachable: ``(n,)``
        from the fleet (each point's nearest station), for fleet bands and
        catchments; or ``(n_stations, n)`` from each station (rows in
        ``names`` order), for station bands.
    weight
        ``(n,)`` demand weight of each point.
    names
        Station names: the rows of a 2-D ``time_s``, and the values of
        ``nearest``.
    nearest
        ``(n,)`` row in ``names`` of each point's nearest station (``-1``
        if none): catchments, where a station's band counts only its own
        points.

    Returns
    -------
    pandas.Series
        Weight within each row of ``bands`` (same index).
    """
    times = np.asarray(time_s, dtype=float)
    w = np.asarray(weight, dtype=float)
    if times.shape[-1] != len(w) or times.ndim not in (1, 2):
        raise ParameterError("time_s: one time (s) per demand point, per station or for all")
    rows = {name: j for j, name in enumerate(names or [])}
    if (times.ndim == 2 or nearest is not None) and "station" not in bands.columns:
        raise ParameterError("bands: a 'station' column is needed for per-station counts")
    if times.ndim == 2 and times.shape[0] != len(rows):
        raise ParameterError("names: one name per row of time_s is needed")
    station = bands["station"] if "station" in bands.columns else pd.Series(None, bands.index)
    out = []
    for name, band_min in zip(station, bands["band_min"], strict=True):
        t = times if times.ndim == 1 else times[rows[name]]
        mine = t <= float(band_min) * 60.0  # as planner.analysis.coverage.summarise
        if nearest is not None:
            mine &= np.asarray(nearest) == rows[name]
        out.append(float(w[mine].sum()))
    return pd.Series(out, index=bands.index, dtype=float)
