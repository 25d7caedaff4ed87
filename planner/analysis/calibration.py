"""Calibrate the speed model from observed trips: factors per road class and time band.

A trip is an ambulance drive with an origin and a destination position, a
start time and the observed drive time (s), and optionally whether lights and
sirens were used. Each usable trip is routed on the network with the speed
model; its routed time splits into the time driven on each road class
(:data:`planner.constants.CALIBRATION_ROAD_CLASSES`) plus a fixed part (the
access legs off the road and ferries). A *factor* multiplies the speeds of a
class, so the predicted drive time of trip i in time band b is

.. math::

    \\hat y_i = a_i + \\sum_c t_{ic} / f_{cb}

with :math:`t_{ic}` the routed time on class c (s) and :math:`a_i` the fixed
part. The factors are fitted by robust regression on log times
(:func:`scipy.optimize.least_squares`, Cauchy loss at scale
:data:`~planner.constants.CALIBRATION_LOSS_SCALE`, so that a stop on the way or
a clock error hardly moves the fit), with 95 % confidence
intervals from the Jacobian and a robust residual scale (1.4826 × MAD). A
class gets its own factor in a band only where enough trips drive on it
(:data:`~planner.constants.CALIBRATION_MIN_TRIPS`); elsewhere it uses its
factor over all bands (``pooled``), or 1 where it has no support at all
(``none``). K-fold cross-validation compares the error of the routed times
(factor 1) with the fitted ones: MAE, MAPE and bias (predicted − observed),
minutes.

The route of a trip is the fastest path of the current model: the path is
found once (Dijkstra with predecessor arrays,
:func:`scipy.sparse.csgraph.dijkstra`) and the per-class times are summed
along all paths at once, one step back along every path per iteration.

Trips file: a CSV (``;``, ``,`` or tab) with columns (case-insensitive)
``origin_x, origin_y, destination_x, destination_y`` in the CRS given, or
``origin_lon, origin_lat, destination_lon, destination_lat`` (WGS 84);
``start_time`` (ISO 8601, local time; times with a UTC offset are
converted to Swedish local time); ``drive_min`` or ``drive_s``
(observed drive time from the unit rolling to its arrival); optionally
``lights_sirens`` (yes/no, ja/nej, true/false, 1/0). Rows are named by
their Excel row (the header is row 1).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats
from scipy.optimize import least_squares
from scipy.sparse.csgraph import dijkstra

from planner import constants
from planner.errors import DataError, InputFileError, ParameterError
from planner.inputs.demand import CALLS_TIMEZONE
from planner.inputs.readers import (
    RowProblems,
    as_text,
    parse_numbers,
    read_csv_table,
    require_file,
)
from planner.network import engine
from planner.network.profiles import SpeedProfile, TimeBand
from planner.network.road_network import RoadNetwork
from planner.network.snapping import SnappedPoints, snap_points
from planner.network.travel_times import (
    arrival_rows,
    build_travel_time_graph,
    origin_sources,
)

__all__ = [
    "BAND_SETS",
    "Calibration",
    "RoutedTrips",
    "band_names",
    "calibrate_trips",
    "cross_validate",
    "describe_unused",
    "fit_factors",
    "read_trips",
    "road_class_names",
    "route_trips",
    "speed_profile",
    "trip_bands",
]

#: How trips are split into time bands: one band, the hours of the day, or
#: the hours on weekdays (Monday-Friday) and at weekends.
BAND_SETS = ("all", "hours", "week")
_WEEK_KINDS = ("weekday", "weekend")
_YES = {"1", "yes", "ja", "j", "y", "true", "sant", "x"}
_NO = {"0", "no", "nej", "n", "false", "falskt"}
_TIME_COLUMNS = ("start_time", "start", "time", "starttid", "tid")
#: Dijkstra rows held at once: rows × nodes cells (float64 + int32), implementation choice.
_BLOCK_CELLS = 5_000_000


def road_class_names() -> tuple[str, ...]:
    """The calibrated road classes, in order (``CALIBRATION_ROAD_CLASSES``)."""
    return tuple(constants.CALIBRATION_ROAD_CLASSES)


def band_names(bands: str) -> tuple[str, ...]:
    """Names of the time bands of a band set (:data:`BAND_SETS`)."""
    if bands not in BAND_SETS:
        raise ParameterError(f"bands {bands!r}: use one of {', '.join(BAND_SETS)}")
    hours = tuple(name for name, _, _ in constants.CALIBRATION_TIME_BANDS)
    if bands == "all":
        return ("all",)
    if bands == "hours":
        return hours
    return tuple(f"{kind}_{name}" for kind in _WEEK_KINDS for name in hours)


def trip_bands(start: pd.Series, bands: str) -> np.ndarray:
    """Band number (into :func:`band_names`) of each start time (local time)."""
    names = band_names(bands)
    times = pd.DatetimeIndex(start)
    if bands == "all":
        return np.zeros(len(times), dtype=np.int64)
    hour = times.hour.to_numpy()
    band = np.full(len(times), -1, dtype=np.int64)
    for k, (_, lo, hi) in enumerate(constants.CALIBRATION_TIME_BANDS):
        inside = (hour >= lo) & (hour < hi) if lo < hi else (hour >= lo) | (hour < hi)
        band[inside] = k
    if bands == "week":
        weekend = times.day_of_week.to_numpy() >= 5
        band = band + np.where(weekend, len(constants.CALIBRATION_TIME_BANDS), 0)
    if (band < 0).any() or (band >= len(names)).any():  # pragma: no cover - bands cover 0-24
        raise AssertionError("CALIBRATION_TIME_BANDS do not cover every hour")
    return band


# --------------------------------------------------------------------------
# Reading trips
# --------------------------------------------------------------------------
def _column(table: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).lower(): str(c) for c in table.columns}
    return next((lower[n] for n in names if n in lower), None)


def _positions(table: pd.DataFrame, source: str, crs: str) -> tuple[list[str], str]:
    """The four coordinate columns and their CRS."""
    for suffix, used in ((("x", "y"), crs), (("lon", "lat"), constants.WGS84)):
        cols = [
            _column(table, (f"{end}_{axis}",))
            for end in ("origin", "destination")
            for axis in suffix
        ]
        if all(cols):
            return [c for c in cols if c is not None], used
    raise InputFileError(
        f"{source}: needs the columns origin_x, origin_y, destination_x, destination_y "
        "(in --crs) or origin_lon, origin_lat, destination_lon, destination_lat (WGS 84); "
        f"it has {', '.join(map(str, table.columns[:-1]))}"
    )


def read_trips(path: str | os.PathLike[str], *, crs: str = constants.ANALYSIS_CRS) -> pd.DataFrame:
    """Read observed trips (see the module docstring for the columns).

    Parameters
    ----------
    path
        CSV file of trips.
    crs
        CRS of ``*_x``/``*_y`` coordinates (``*_lon``/``*_lat`` are WGS 84).

    Returns
    -------
    pandas.DataFrame
        ``row`` (Excel row), ``origin`` and ``destination`` (shapely points,
        EPSG:4326), ``start_time`` (datetime64, local), ``observed_s`` (s),
        ``lights_sirens`` (bool, True where the column is missing).

    Raises
    ------
    MissingFileError, InputFileError
        The file is missing, lacks a column, or a cell is unreadable (the
        message names the Excel row and the column).
    """
    path = Path(path)
    source = os.fspath(path)
    require_file(path)
    table = read_csv_table(path, source)
    if table.empty:
        raise InputFileError(f"{source}: no trips (only a header)")
    rows = table["source_row"].to_numpy(dtype=np.int64)  # already as Excel shows them
    problems = RowProblems(source, rows, np.full(len(table), "", dtype=object))
    coords, coord_crs = _positions(table, source, crs)
    xy = np.column_stack([parse_numbers(table[c]).to_numpy() for c in coords])
    for k, col in enumerate(coords):
        problems.add(~np.isfinite(xy[:, k]), _not_number(col, table[col]))
    time_col = _column(table, _TIME_COLUMNS)
    if time_col is None:
        raise InputFileError(f"{source}: needs a start time column ({', '.join(_TIME_COLUMNS)})")
    text = as_text(table[time_col])
    start = pd.to_datetime(text.where(text != "", None), format="ISO8601", errors="coerce")
    problems.add(
        start.isna().to_numpy(),
        lambda i: f"{time_col} {text.iloc[i]!r} is not an ISO 8601 time (YYYY-MM-DD HH:MM)",
    )
    observed = _observed_s(table, source, problems)
    lights = _lights(table, problems)
    problems.raise_if_any()
    if getattr(start.dt, "tz", None) is not None:  # offsets given: to Swedish local time
        start = start.dt.tz_convert(CALLS_TIMEZONE).dt.tz_localize(None)
    points = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=coord_crs)
    ends = gpd.GeoSeries(gpd.points_from_xy(xy[:, 2], xy[:, 3]), crs=coord_crs)
    return pd.DataFrame(
        {
            "row": rows,
            "origin": points.to_crs(constants.WGS84).to_numpy(),
            "destination": ends.to_crs(constants.WGS84).to_numpy(),
            "start_time": start.to_numpy(),
            "observed_s": observed,
            "lights_sirens": lights,
        }
    )


def _not_number(column: str, cells: pd.Series) -> Callable[[int], str]:
    return lambda i: f"{column} {cells.iloc[i]!r} is not a number"


def _observed_s(table: pd.DataFrame, source: str, problems: RowProblems) -> np.ndarray:
    col = _column(table, ("drive_min", "drive_s"))
    if col is None:
        raise InputFileError(f"{source}: needs the observed drive time, drive_min or drive_s")
    values = parse_numbers(table[col]).to_numpy()
    problems.add(
        ~np.isfinite(values) | (values <= 0),
        lambda i: f"{col} {table[col].iloc[i]!r} is not a positive number",
    )
    return values * (60.0 if col.lower() == "drive_min" else 1.0)


def _lights(table: pd.DataFrame, problems: RowProblems) -> np.ndarray:
    col = _column(table, ("lights_sirens", "lights_and_sirens", "blue_lights"))
    if col is None:
        return np.ones(len(table), dtype=bool)
    text = as_text(table[col]).str.lower()
    yes, no = text.isin(_YES).to_numpy(), text.isin(_NO).to_numpy()
    problems.add(
        ~(yes | no), lambda i: f"{col} {text.iloc[i]!r} is not yes/no (ja/nej, true/false, 1/0)"
    )
    return yes


# --------------------------------------------------------------------------
# Routing with per-class times
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class RoutedTrips:
    """Trips routed on the network with the speed model (s, m).

    Attributes
    ----------
    status
        ``ok``, or why the trip is unusable: ``unsnappable`` (origin or
        destination far from any road or on a minor part of the network),
        ``same_road`` (both on one road), ``unreachable``, ``beyond_limit``
        (not reached within the trip's search limit).
    class_s
        ``(n, classes)`` routed time on each road class, s (0 where unusable).
    fixed_s
        Access legs and ferries, s (not scaled by the factors).
    routed_s
        Total routed drive time, s (``inf`` where not routed).
    crow_m
        Straight-line distance origin to destination, m.
    """

    status: np.ndarray
    class_s: np.ndarray
    fixed_s: np.ndarray
    routed_s: np.ndarray
    crow_m: np.ndarray


def _class_codes(highway: np.ndarray, route: np.ndarray) -> np.ndarray:
    """Class number per edge; ``len(classes)`` for ferries (never scaled)."""
    names = road_class_names()
    lookup = {
        tag: k for k, name in enumerate(names) for tag in constants.CALIBRATION_ROAD_CLASSES[name]
    }
    minor = names.index("minor")

    def code(value: object) -> int:
        tags = value if isinstance(value, list | tuple) else (value,)
        return next((lookup[t] for t in tags if isinstance(t, str) and t in lookup), minor)

    text = pd.Series([repr(h) for h in highway], dtype=object)
    first = ~text.duplicated().to_numpy()
    table = {text.iloc[i]: code(highway[i]) for i in np.flatnonzero(first)}
    codes = text.map(table).to_numpy(dtype=np.int64)
    ferry = pd.Series(route, dtype=object).astype(str).eq("ferry").to_numpy()
    return np.where(ferry, len(names), codes)


@dataclass(frozen=True)
class _Edges:
    keys: np.ndarray  # sorted u_row * n + v_row, one per node pair (its fastest edge)
    seconds: np.ndarray  # that edge's time, s (the CSR matrix's entry)
    code: np.ndarray  # its class
    by_edge: pd.Series  # class per (u, v, key) of the graph


def _edge_table(graph: nx.MultiDiGraph, node_ids: np.ndarray) -> _Edges:
    data = list(graph.edges(keys=True, data=True))
    u = np.array([e[0] for e in data], dtype=np.int64)
    v = np.array([e[1] for e in data], dtype=np.int64)
    k = np.array([e[2] for e in data], dtype=np.int64)
    w = np.array([e[3]["travel_time"] for e in data], dtype=float)
    code = _class_codes(
        np.array([e[3].get("highway") for e in data], dtype=object),
        np.array([e[3].get("route") for e in data], dtype=object),
    )
    index = pd.Index(node_ids)
    n = len(node_ids)
    frame = pd.DataFrame(
        {"key": index.get_indexer(u) * n + index.get_indexer(v), "w": w, "code": code}
    )
    best = frame.sort_values(["key", "w"], kind="stable").drop_duplicates("key")
    by_edge = pd.Series(code, index=pd.MultiIndex.from_arrays([u, v, k]))
    return _Edges(best["key"].to_numpy(), best["w"].to_numpy(), best["code"].to_numpy(), by_edge)


def _snapped_class(edges: _Edges, points: SnappedPoints) -> np.ndarray:
    pos = edges.by_edge.index.get_indexer(
        pd.MultiIndex.from_arrays([points.edge_u, points.edge_v, points.edge_key])
    )
    return np.where(pos >= 0, edges.by_edge.to_numpy()[np.maximum(pos, 0)], 0)


@dataclass(frozen=True)
class _Paths:
    total_s: np.ndarray  # (b,) routed time, s
    depart_side: np.ndarray  # (b,) which of the origin's two departure nodes
    arrive_side: np.ndarray  # (b,) which of the destination's two arrival nodes
    class_s: np.ndarray  # (b, classes + 1) time on whole edges per class, s


def _route_block(
    matrix: sp.csr_array,
    sources: engine.VirtualSources,
    arrive: np.ndarray,
    arrive_s: np.ndarray,
    edges: _Edges,
    limit_s: float,
) -> _Paths:
    """Fastest paths of a block of trips (searched up to ``limit_s``), time summed per class."""
    n, b = matrix.shape[0], len(sources)
    dist, pred = dijkstra(
        engine.augmented_matrix(matrix, sources),
        indices=n + np.arange(b),
        return_predecessors=True,
        limit=limit_s,
    )
    r = np.arange(b)
    cand = np.full((b, 2), np.inf)
    for side in range(2):
        ok = arrive[:, side] >= 0
        cand[ok, side] = dist[r[ok], arrive[ok, side]] + arrive_s[ok, side]
    arrive_side = np.argmin(cand, axis=1)
    total = cand[r, arrive_side]
    acc = np.zeros((b, len(road_class_names()) + 1))
    depart_side = np.zeros(b, dtype=np.int64)
    cur = arrive[r, arrive_side]
    active = np.isfinite(total)
    while active.any():  # one step back along every unfinished path at once
        idx = np.flatnonzero(active)
        p = pred[idx, cur[idx]]
        home = p >= n  # reached the trip's virtual origin node
        done = idx[home]
        at = sources.nodes[done] == cur[done, None]
        offsets = np.where(at, sources.offset_s[done], np.inf)
        depart_side[done] = np.argmin(offsets, axis=1)
        active[done] = False
        step = idx[~home]
        pos = np.searchsorted(edges.keys, p[~home] * n + cur[step])
        np.add.at(acc, (step, edges.code[pos]), edges.seconds[pos])
        cur[step] = p[~home]
    return _Paths(total, depart_side, arrive_side, acc)


def route_trips(
    network: RoadNetwork,
    trips: pd.DataFrame,
    *,
    max_snap_m: float = constants.MAX_SNAP_DISTANCE_M,
    limit_s: np.ndarray | None = None,
) -> RoutedTrips:
    """Route each trip's fastest path and split its time by road class (s).

    Parameters
    ----------
    network
        The road network (its speed model gives the times).
    trips
        :func:`read_trips` output (``origin``, ``destination`` in EPSG:4326).
    max_snap_m
        Positions farther than this from a road (m) are unsnappable.
    limit_s
        Optional longest drive time of interest per trip, s: the searches
        stop there (trips are searched in blocks of similar limits), and a
        trip whose route is longer, or not found, gets status ``beyond_limit``.

    Returns
    -------
    RoutedTrips
        ``class_s.sum(1) + fixed_s == routed_s`` for every routed trip.
    """
    graph = network.graph
    ttg = build_travel_time_graph(graph)
    edges = _edge_table(graph, ttg.node_ids)
    origins, dests = (
        snap_points(
            graph, gpd.GeoSeries(trips[end], crs=constants.WGS84), max_distance_m=max_snap_m
        )
        for end in ("origin", "destination")
    )
    m, n_cls = len(trips), len(road_class_names())
    status = np.full(m, "ok", dtype=object)
    status[(origins.status != "ok") | (dests.status != "ok")] = "unsnappable"
    status[(origins.edge_group == dests.edge_group) & (status == "ok")] = "same_road"
    class_s = np.zeros((m, n_cls + 1))
    routed = np.full(m, np.inf)
    sources = origin_sources(ttg, origins)
    arrive = arrival_rows(ttg, dests)
    limit = np.full(m, np.inf) if limit_s is None else np.asarray(limit_s, dtype=float)
    todo = np.flatnonzero(status == "ok")
    todo = todo[np.argsort(limit[todo], kind="stable")]  # similar limits share a block
    block = max(1, _BLOCK_CELLS // max(ttg.n_nodes, 1))
    for start in range(0, len(todo), block):
        rows = todo[start : start + block]
        paths = _route_block(
            ttg.matrix,
            engine.VirtualSources(sources.nodes[rows], sources.offset_s[rows]),
            arrive[rows],
            dests.arrive_s[rows],
            edges,
            float(limit[rows].max()),
        )
        routed[rows] = paths.total_s
        class_s[rows] = paths.class_s
        ok = rows[np.isfinite(paths.total_s)]
        keep = np.isfinite(paths.total_s)
        for points, times, side in (
            (origins, origins.depart_s, paths.depart_side),
            (dests, dests.arrive_s, paths.arrive_side),
        ):
            part = times[ok, side[keep]] - points.access_s[ok]
            np.add.at(class_s, (ok, _snapped_class(edges, points)[ok]), np.maximum(part, 0.0))
    status[(status == "ok") & ~np.isfinite(routed) & ~np.isfinite(limit)] = "unreachable"
    status[(status == "ok") & ~(routed <= limit)] = "beyond_limit"
    bad = status != "ok"
    class_s[bad] = 0.0
    fixed = origins.access_s + dests.access_s + class_s[:, n_cls]
    return RoutedTrips(
        status=status.astype(str),
        class_s=class_s[:, :n_cls],
        fixed_s=np.where(bad, 0.0, fixed),
        routed_s=np.where(bad, np.inf, routed),
        crow_m=np.hypot(origins.x - dests.x, origins.y - dests.y),
    )


# --------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cells:
    """Which (class, band) cells get their own parameter."""

    cls: np.ndarray
    band: np.ndarray


def _support(class_s: np.ndarray, band: np.ndarray, n_bands: int) -> np.ndarray:
    """Trips per (class, band) that drive at least CALIBRATION_MIN_CLASS_S on the class."""
    on = class_s >= constants.CALIBRATION_MIN_CLASS_S
    out = np.zeros((class_s.shape[1], n_bands), dtype=np.int64)
    for b in range(n_bands):
        out[:, b] = on[band == b].sum(axis=0)
    return out


def _inverse(
    class_s: np.ndarray, fixed_s: np.ndarray, band: np.ndarray, g: np.ndarray
) -> np.ndarray:
    """Predicted drive time, s, for inverse factors ``g`` (classes × bands)."""
    return fixed_s + (class_s * g[:, band].T).sum(axis=1)


def _solve(
    class_s: np.ndarray,
    fixed_s: np.ndarray,
    observed_s: np.ndarray,
    band: np.ndarray,
    base: np.ndarray,
    cells: _Cells,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit inverse factors of ``cells`` (others stay at ``base``); returns (g, standard errors)."""
    log_obs = np.log(observed_s)
    lo, hi = (1.0 / b for b in reversed(constants.CALIBRATION_FACTOR_BOUNDS))

    def full(theta: np.ndarray) -> np.ndarray:
        g = base.copy()
        g[cells.cls, cells.band] = theta
        return g

    def residual(theta: np.ndarray) -> np.ndarray:
        return np.log(_inverse(class_s, fixed_s, band, full(theta))) - log_obs

    def jacobian(theta: np.ndarray) -> np.ndarray:
        pred = _inverse(class_s, fixed_s, band, full(theta))
        mine = band[:, None] == cells.band[None, :]
        return np.where(mine, class_s[:, cells.cls], 0.0) / pred[:, None]

    x0 = np.clip(base[cells.cls, cells.band], lo, hi)
    fit = least_squares(
        residual, x0, jac=jacobian, bounds=(lo, hi), loss="cauchy",
        f_scale=constants.CALIBRATION_LOSS_SCALE,
    )  # fmt: skip
    r = fit.fun
    dof = max(len(r) - len(x0), 1)
    mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    scale2 = mad**2 * len(r) / dof
    j = jacobian(fit.x)
    cov = np.linalg.pinv(j.T @ j) * scale2
    return full(fit.x), np.sqrt(np.clip(np.diag(cov), 0.0, None))


def fit_factors(
    class_s: np.ndarray,
    fixed_s: np.ndarray,
    observed_s: np.ndarray,
    band: np.ndarray,
    *,
    n_bands: int,
    confidence: float = constants.CALIBRATION_CONFIDENCE,
) -> pd.DataFrame:
    """Fit speed factors per road class and band by robust regression on log times.

    Parameters
    ----------
    class_s
        ``(n, classes)`` routed time per road class, s.
    fixed_s
        ``(n,)`` time not scaled (access legs, ferries), s.
    observed_s
        ``(n,)`` observed drive times, s (> 0).
    band
        ``(n,)`` band number of each trip, ``0 .. n_bands - 1``.
    n_bands
        Number of bands.
    confidence
        Two-sided level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (band, class): ``band`` (number), ``road_class``,
        ``factor`` (speed multiplier), ``ci_low``, ``ci_high``, ``trips``
        (trips driving at least ``CALIBRATION_MIN_CLASS_S`` on it in the band)
        and ``fitted`` (``band``, ``pooled`` or ``none``).
    """
    n_cls = class_s.shape[1]
    support = _support(class_s, band, n_bands)
    enough = support >= constants.CALIBRATION_MIN_TRIPS
    pooled = support.sum(axis=1) >= constants.CALIBRATION_MIN_TRIPS
    base = np.ones((n_cls, n_bands))
    se = np.full((n_cls, n_bands), np.nan)
    how = np.full((n_cls, n_bands), "none", dtype=object)
    if pooled.any():  # stage 1: one factor per class over all bands
        cls = np.flatnonzero(pooled)
        g1, se1 = _solve(
            class_s, fixed_s, observed_s, np.zeros_like(band), np.ones((n_cls, 1)),
            _Cells(cls, np.zeros(len(cls), dtype=np.int64)),
        )  # fmt: skip
        base[:] = g1[:, :1]
        se[cls] = se1[:, None]
        how[cls] = "pooled"
    if n_bands > 1 and enough.any():  # stage 2: own factors where the band has support
        cls, bnd = np.nonzero(enough)
        g2, se2 = _solve(class_s, fixed_s, observed_s, band, base, _Cells(cls, bnd))
        base = g2
        se[cls, bnd] = se2
        how[cls, bnd] = "band"
    dof = max(len(observed_s) - int(pooled.sum()) - int(enough.sum()), 1)
    t = float(stats.t.ppf(0.5 + confidence / 2, dof))
    with np.errstate(divide="ignore"):
        upper = np.where(base - t * se > 0, 1.0 / (base - t * se), np.inf)
        lower = 1.0 / (base + t * se)
    fitted = how != "none"
    b_idx, c_idx = np.meshgrid(np.arange(n_bands), np.arange(n_cls), indexing="ij")
    return pd.DataFrame(
        {
            "band": b_idx.ravel(),
            "road_class": np.array(road_class_names())[c_idx.ravel()],
            "factor": (1.0 / base).T.ravel(),
            "ci_low": np.where(fitted, lower, np.nan).T.ravel(),
            "ci_high": np.where(fitted, upper, np.nan).T.ravel(),
            "trips": support.T.ravel(),
            "fitted": how.T.ravel(),
        }
    )


def _factor_grid(factors: pd.DataFrame, n_cls: int, n_bands: int) -> np.ndarray:
    """Inverse factors (classes × bands) of a :func:`fit_factors` table."""
    return 1.0 / factors["factor"].to_numpy().reshape(n_bands, n_cls).T


def _errors(pred_s: np.ndarray, observed_s: np.ndarray) -> dict[str, float]:
    diff = pred_s - observed_s
    return {
        "mae_min": float(np.mean(np.abs(diff)) / 60.0),
        "mape_pct": float(100.0 * np.mean(np.abs(diff) / observed_s)),
        "bias_min": float(np.mean(diff) / 60.0),
    }


def cross_validate(
    class_s: np.ndarray,
    fixed_s: np.ndarray,
    observed_s: np.ndarray,
    band: np.ndarray,
    *,
    n_bands: int,
    folds: int = constants.CALIBRATION_FOLDS,
    seed: int = 0,
) -> pd.DataFrame:
    """K-fold cross-validation of :func:`fit_factors`: errors before and after, minutes.

    Returns
    -------
    pandas.DataFrame
        One row per fold and a last row ``all`` (every held-out trip once):
        ``fold``, ``trips``, then ``mae_min``, ``mape_pct`` and ``bias_min``
        (predicted − observed) ``_before`` (routed times, factor 1) and
        ``_after`` (factors fitted on the other folds).
    """
    n = len(observed_s)
    if not 2 <= folds <= n:
        raise ParameterError(f"folds = {folds}: need 2 <= folds <= the {n} usable trips")
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[order] = np.arange(n) % folds
    before = fixed_s + class_s.sum(axis=1)
    after = np.empty(n)
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        table = fit_factors(
            class_s[train], fixed_s[train], observed_s[train], band[train], n_bands=n_bands
        )
        g = _factor_grid(table, class_s.shape[1], n_bands)
        after[test] = _inverse(class_s[test], fixed_s[test], band[test], g)
    rows = []
    parts = [*((str(k + 1), fold_of == k) for k in range(folds)), ("all", np.ones(n, bool))]
    for name, mask in parts:
        b = _errors(before[mask], observed_s[mask])
        a = _errors(after[mask], observed_s[mask])
        rows.append(
            {"fold": name, "trips": int(mask.sum())}
            | {f"{key}_before": v for key, v in b.items()}
            | {f"{key}_after": v for key, v in a.items()}
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# The whole calibration
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate_trips`.

    Attributes
    ----------
    factors
        :func:`fit_factors` table with ``band`` as a name.
    validation
        :func:`cross_validate` table (minutes, %).
    unused
        Trips left out: ``row`` (Excel row), ``reason``, ``detail``.
    bands
        The band set (:data:`BAND_SETS`).
    trips_used
        Number of trips fitted.
    """

    factors: pd.DataFrame
    validation: pd.DataFrame
    unused: pd.DataFrame
    bands: str
    trips_used: int


def _unused(trips: pd.DataFrame, routed: RoutedTrips) -> tuple[np.ndarray, pd.DataFrame]:
    """Which trips can be fitted, and a table of the others with the reason."""
    obs = trips["observed_s"].to_numpy(dtype=float)
    reason = np.where(routed.status == "ok", "", routed.status).astype(object)
    detail = np.full(len(trips), "", dtype=object)
    detail[reason == "unsnappable"] = "origin or destination is not near a usable road"
    detail[reason == "same_road"] = "origin and destination lie on the same road"
    detail[reason == "unreachable"] = "no route from origin to destination"
    beyond = reason == "beyond_limit"
    reason[beyond] = "implausible_speed"
    detail[beyond] = (
        f"no route within {constants.CALIBRATION_MAX_RATIO:g} times the observed drive time"
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = obs / routed.routed_s
        crow_kph = routed.crow_m / obs * 3.6
    limit = constants.CALIBRATION_MAX_RATIO
    odd = (reason == "") & ((ratio > limit) | (ratio < 1 / limit))
    fast = (reason == "") & (crow_kph > constants.ABSURD_SPEED_KPH)
    for mask, text in (
        (odd, lambda i: f"observed {obs[i] / 60:.1f} min against {routed.routed_s[i] / 60:.1f} "
         f"min routed (more than {limit:g} times off)"),
        (fast, lambda i: f"{crow_kph[i]:.0f} km/h in a straight line"),
    ):  # fmt: skip
        for i in np.flatnonzero(mask):
            reason[i], detail[i] = "implausible_speed", text(i)
    lights = trips["lights_sirens"].to_numpy(dtype=bool)
    slow = (reason == "") & ~lights
    reason[slow] = "no_lights_sirens"
    detail[slow] = "driven without lights and sirens"
    usable = reason == ""
    table = pd.DataFrame(
        {
            "row": trips["row"].to_numpy()[~usable],
            "reason": reason[~usable],
            "detail": detail[~usable],
        }
    )
    return usable, table


def describe_unused(unused: pd.DataFrame) -> str:
    """Lines naming the trips left out by Excel row (the header is row 1), the first few."""
    limit = constants.CALIBRATION_LISTED_TRIPS
    lines = [f"{len(unused)} trip(s) not used:"]
    lines += [f"  row {r.row}: {r.reason}: {r.detail}" for r in unused.head(limit).itertuples()]
    if len(unused) > limit:
        lines.append(f"  ... and {len(unused) - limit} more (--table FILE.xlsx lists them all)")
    return "\n".join(lines)


def calibrate_trips(
    network: RoadNetwork,
    trips: pd.DataFrame,
    *,
    bands: str = "week",
    folds: int = constants.CALIBRATION_FOLDS,
    seed: int = 0,
    max_snap_m: float = constants.MAX_SNAP_DISTANCE_M,
) -> Calibration:
    """Route the trips, fit speed factors per class and band, cross-validate.

    Parameters
    ----------
    network
        The road network with the speed model to calibrate.
    trips
        :func:`read_trips` output.
    bands
        ``all``, ``hours`` or ``week`` (:data:`BAND_SETS`).
    folds
        Cross-validation folds (>= 2).
    seed
        Seed of the fold assignment.
    max_snap_m
        Positions farther than this from a road (m) are unsnappable.

    Raises
    ------
    DataError
        Fewer usable trips than :data:`~planner.constants.CALIBRATION_MIN_TRIPS`
        or than ``folds`` (the message lists the unusable trips by row).
    """
    names = band_names(bands)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ParameterError(f"folds = {folds!r}: need a whole number >= 2")
    limit = trips["observed_s"].to_numpy(dtype=float) * constants.CALIBRATION_MAX_RATIO
    routed = route_trips(network, trips, max_snap_m=max_snap_m, limit_s=limit)
    usable, unused = _unused(trips, routed)
    n = int(usable.sum())
    need = max(constants.CALIBRATION_MIN_TRIPS, folds)
    if n < need:
        raise DataError(
            f"only {n} of {len(trips)} trips are usable; calibration needs at least {need}\n"
            + describe_unused(unused)
        )
    band = trip_bands(trips["start_time"][usable], bands)
    args = (routed.class_s[usable], routed.fixed_s[usable], trips["observed_s"].to_numpy()[usable])
    factors = fit_factors(*args, band, n_bands=len(names))
    factors["band"] = np.array(names)[factors["band"].to_numpy()]
    validation = cross_validate(*args, band, n_bands=len(names), folds=folds, seed=seed)
    return Calibration(factors, validation, unused, bands, n)


# --------------------------------------------------------------------------
# The speed profile
# --------------------------------------------------------------------------
def _time_band(name: str, bands: str, other: float, factors: dict[str, float]) -> TimeBand:
    """The profile band of one calibration band: its days and hours."""
    if bands == "all":
        return TimeBand(name, "all", 0, 24 * 60, other, factors)
    kind, _, hours = name.partition("_") if bands == "week" else ("all", "", name)
    _, lo, hi = next(b for b in constants.CALIBRATION_TIME_BANDS if b[0] == hours)
    days = {"weekday": "weekday", "weekend": "weekend"}.get(kind, "all")
    return TimeBand(name, days, lo * 60, hi * 60 or 24 * 60, other, factors)  # type: ignore[arg-type]


def speed_profile(calibration: Calibration, *, name: str = "calibrated") -> SpeedProfile:
    """The fitted factors as a speed profile (:mod:`planner.network.profiles`).

    Each calibration band becomes a time band (band set ``all``: every day,
    00:00-24:00; ``hours``: every day, the hours of
    :data:`~planner.constants.CALIBRATION_TIME_BANDS`; ``week``: the same
    hours on weekdays and at weekends). A road class's factor goes to every
    OSM ``highway`` value of the class
    (:data:`~planner.constants.CALIBRATION_ROAD_CLASSES`); the ``minor``
    factor is the profile's ``other`` factor, as calibration counts every
    unlisted class as minor. Confidence intervals and how each factor was
    found stay in :attr:`Calibration.factors`.

    Parameters
    ----------
    calibration
        :func:`calibrate_trips` output.
    name
        The profile's name.

    Returns
    -------
    SpeedProfile
        One band per calibration band, in :func:`band_names` order.
    """
    table = calibration.factors.set_index(["band", "road_class"])["factor"]
    out = []
    for band in band_names(calibration.bands):
        fitted = {str(c): float(f) for c, f in table.loc[band].items()}
        factors = {
            tag: fitted[cls]
            for cls, tags in constants.CALIBRATION_ROAD_CLASSES.items()
            if cls != "minor"
            for tag in tags
        }
        out.append(_time_band(band, calibration.bands, fitted["minor"], factors))
    return SpeedProfile(name, tuple(out))
