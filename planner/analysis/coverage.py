"""Coverage: response times for demand, summarised by region, municipality and station.

The response time of a demand point is the turn-out time plus the drive time
from the nearest station of the fleet in question (s inside, minutes in the
tables). Tables give, per group:

``demand``
    Total weight (people, calls ...).
``demand_unreachable``, ``share_unreachable``
    Weight no station reaches (no road, an island without a ferry, beyond the
    cutoff). It is counted, never dropped.
``share_within_<T>_min``
    Share of *all* demand (unreachable included) with a response time of at
    most T minutes.
``expected_share_within_<T>_min``
    Only with a dispersion setting (:attr:`CoverageSettings.drive_time_cv`):
    the expected share of all demand reached within T minutes when the drive
    time is lognormal around the modelled one
    (:func:`planner.network.dispersion.probability_within`; the turn-out time
    is fixed, the nearest station drives). Unreachable demand counts 0.
``mean_min``, ``median_min``, ``p90_min``, ``max_min``
    Demand-weighted mean, median, 90th percentile and maximum response time
    of the *reached* demand, minutes. Percentiles use the inverted CDF: the
    smallest time by which that share of the reached demand is served.
``gini``
    Demand-weighted Gini coefficient of the reached demand's response times:
    0 when everyone waits equally long, towards 1 when waiting is concentrated
    on a few. An equity measure.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner import constants
from planner.errors import DataError, ParameterError
from planner.network.dispersion import check_cv, probability_within

__all__ = [
    "WORST_PLACES",
    "CoverageSettings",
    "coverage_table",
    "coverage_tables",
    "gini",
    "mutual_aid_table",
    "own_region",
    "summarise",
    "unreachable_reasons",
    "validate_thresholds",
    "weighted_quantile",
    "worst_served",
]


def validate_thresholds(
    thresholds_min: Sequence[float], *, argument: str = "thresholds"
) -> tuple[float, ...]:
    """Return thresholds (minutes) as floats, refusing empty, non-positive or unsorted ones.

    Raises
    ------
    ParameterError
        Names the argument and the offending value.
    """
    try:
        values = tuple(float(t) for t in thresholds_min)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{argument} = {thresholds_min!r}: thresholds must be numbers (minutes)"
        ) from None
    if not values:
        raise ParameterError(f"{argument}: give at least one threshold (minutes)")
    for t in values:
        if not math.isfinite(t) or t <= 0:
            raise ParameterError(f"{argument}: {t:g} min is not a positive time")
        if t * 60 > constants.ABSURD_CUTOFF_S:
            raise ParameterError(f"{argument}: {t:g} min is absurd (more than 24 hours)")
    for a, b in itertools.pairwise(values):
        if b <= a:
            raise ParameterError(
                f"{argument} must be increasing: {a:g} min is followed by {b:g} min"
            )
    return values


@dataclass(frozen=True)
class CoverageSettings:
    """What a coverage table reports.

    Parameters
    ----------
    thresholds_min
        Response-time thresholds, minutes, strictly increasing.
    drive_time_cv
        Coefficient of variation of the drive time (lognormal, the modelled
        time its median; :data:`planner.constants.DRIVE_TIME_CV` is the
        usual figure). ``None`` (default): deterministic shares only; a
        number adds the ``expected_share_within_<T>_min`` columns.
    turnout_s
        The fixed part of a response time before the drive, s (the run sets
        it from the speed model); only the drive is uncertain.
    """

    thresholds_min: tuple[float, ...] = constants.DEFAULT_THRESHOLDS_MIN
    drive_time_cv: float | None = None
    turnout_s: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds_min", validate_thresholds(self.thresholds_min))
        if self.drive_time_cv is not None:
            object.__setattr__(self, "drive_time_cv", check_cv(self.drive_time_cv))
        turnout = float(self.turnout_s)
        if not (math.isfinite(turnout) and turnout >= 0):
            raise ParameterError(f"turnout_s = {self.turnout_s!r}: give a time >= 0 s")
        object.__setattr__(self, "turnout_s", turnout)

    def column(self, threshold_min: float) -> str:
        """Column name of the share within a threshold, e.g. ``share_within_20_min``."""
        return f"share_within_{threshold_min:g}_min"

    def expected_column(self, threshold_min: float) -> str:
        """Column of the expected share within a threshold, ``expected_share_within_20_min``."""
        return f"expected_share_within_{threshold_min:g}_min"


#: Why a demand point is not reached (the ``unreachable_reason`` column), in the
#: order they are checked: no road within the snap distance; its road is cut
#: off from the main network; no station serves the fleet at all; a cutoff
#: stopped the search; otherwise no station's route reaches it (stations on
#: cut-off roads, or each region served only by its own stations).
UNREACHABLE_REASONS = (
    "far_from_road",
    "minor_component",
    "no_station",
    "beyond_cutoff",
    "no_route",
)


def unreachable_reasons(
    response_s: np.ndarray,
    snap_status: Sequence[Any] | np.ndarray,
    *,
    n_stations: int,
    cutoff_s: float | None = None,
) -> np.ndarray:
    """Why each demand point is not reached (:data:`UNREACHABLE_REASONS`); None where reached.

    Parameters
    ----------
    response_s
        Response time per point, s (not finite where unreachable).
    snap_status
        Each point's ``snap_status`` (``ok``, ``far_from_road``, ``minor_component``).
    n_stations
        Stations serving; with none, every reachable-by-road point is ``no_station``.
    cutoff_s
        The search limit, s, if one was used (then a point with a road is
        ``beyond_cutoff`` rather than ``no_route``).
    """
    t = np.asarray(response_s, dtype=float).reshape(-1)
    status = np.asarray(snap_status, dtype=object).reshape(-1)
    if status.shape != t.shape:
        raise ParameterError("snap_status: give one status per response time")
    other = "no_station" if n_stations == 0 else "beyond_cutoff" if cutoff_s else "no_route"
    reasons = np.where(
        status == "far_from_road",
        "far_from_road",
        np.where(status == "minor_component", "minor_component", other),
    ).astype(object)
    reasons[np.isfinite(t)] = None
    return reasons


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Inverted-CDF weighted quantile: the smallest value whose cumulative weight share >= q.

    Returns NaN when the total weight is zero.
    """
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    keep = weights > 0
    if not keep.any():
        return math.nan
    return float(np.quantile(values[keep], q, weights=weights[keep], method="inverted_cdf"))


def gini(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted Gini coefficient: sum_ij w_i w_j |x_i - x_j| / (2 W^2 mean).

    Computed in O(n log n) by sorting. NaN for no weight; 0 when the mean is 0.
    """
    x = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    x, w = x[keep], w[keep]
    total = w.sum()
    if total <= 0:
        return math.nan
    mean = float(np.dot(w, x) / total)
    if mean == 0:
        return 0.0
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cum = np.cumsum(w)
    return float(np.dot(w * x, 2 * cum - w - total) / (total * total * mean))


def summarise(
    response_s: np.ndarray, weights: np.ndarray, *, settings: CoverageSettings
) -> dict[str, float]:
    """Coverage figures for one group of demand (see the module docstring).

    Parameters
    ----------
    response_s
        Response time of each demand point, s (``inf`` if unreachable).
    weights
        Demand weight of each point (>= 0).
    settings
        Thresholds.

    Returns
    -------
    dict
        Column name -> value, minutes for times.
    """
    t = np.asarray(response_s, dtype=float)
    w = np.asarray(weights, dtype=float)
    if np.isnan(t).any():
        raise DataError("response times hold NaN; unreachable demand must be inf")
    reached = np.isfinite(t)
    total = float(w.sum())
    unreachable = float(w[~reached].sum())
    row: dict[str, float] = {
        "demand": total,
        "demand_unreachable": unreachable,
        "share_unreachable": unreachable / total if total > 0 else math.nan,
    }
    for threshold in settings.thresholds_min:
        within = float(w[t <= threshold * 60.0].sum())
        row[settings.column(threshold)] = within / total if total > 0 else math.nan
    if settings.drive_time_cv is not None:
        drive = np.maximum(t - settings.turnout_s, 0.0)
        for threshold in settings.thresholds_min:
            p = probability_within(
                drive, threshold * 60.0 - settings.turnout_s, cv=settings.drive_time_cv
            )
            expected = float(w @ p)
            row[settings.expected_column(threshold)] = expected / total if total > 0 else math.nan
    tr, wr = t[reached] / 60.0, w[reached]
    has = wr.sum() > 0
    row["mean_min"] = float(np.dot(tr, wr) / wr.sum()) if has else math.nan
    row["median_min"] = weighted_quantile(tr, wr, 0.5)
    row["p90_min"] = weighted_quantile(tr, wr, 0.9)
    row["max_min"] = float(tr[wr > 0].max()) if has else math.nan
    row["gini"] = gini(tr, wr)
    return row


def coverage_table(
    response_s: np.ndarray,
    weights: np.ndarray,
    *,
    groups: pd.DataFrame | None = None,
    settings: CoverageSettings | None = None,
) -> pd.DataFrame:
    """Coverage figures per group (or one row for everything).

    Parameters
    ----------
    response_s
        Response time per demand point, s; ``inf`` where unreachable.
    weights
        Demand weight per point.
    groups
        Columns to group by, one row per demand point (for example
        ``municipality_code`` and ``municipality``). Points with a missing
        group value are reported under ``"(none)"``, never dropped.
    settings
        Thresholds (default 10, 20, 30 minutes).

    Returns
    -------
    pandas.DataFrame
        One row per group with the columns described in the module docstring.
    """
    settings = settings or CoverageSettings()
    t = np.asarray(response_s, dtype=float)
    w = np.asarray(weights, dtype=float)
    if t.shape != w.shape:
        raise ParameterError("weights: one weight per response time is needed")
    if (w < 0).any() or not np.isfinite(w).all():
        raise DataError("weights must be finite and non-negative")
    if groups is None:
        return pd.DataFrame([summarise(t, w, settings=settings)])
    if len(groups) != len(t):
        raise ParameterError("groups: one row per demand point is needed")
    keys = groups.astype(object).where(groups.notna(), "(none)").reset_index(drop=True)
    rows = []
    for key, index in keys.groupby(list(keys.columns), sort=True, dropna=False).indices.items():
        label = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(keys.columns, label, strict=True)),
                **summarise(t[index], w[index], settings=settings),
            }
        )
    return pd.DataFrame(rows)


def worst_served(table: pd.DataFrame, *, by: str = "p90_min", n: int = 10) -> pd.DataFrame:
    """The ``n`` rows with the longest ``by`` time, unreachable demand first.

    Rows with unreachable demand rank before all others (by their unreachable
    share), then by ``by`` descending.
    """
    if by not in table.columns:
        raise ParameterError(f"by = {by!r}: not a column of the table")
    ranked = table.assign(_u=table["share_unreachable"].fillna(0), _b=table[by].fillna(-1))
    ranked = ranked.sort_values(["_u", "_b"], ascending=False, kind="stable")
    return ranked.drop(columns=["_u", "_b"]).head(n).reset_index(drop=True)


def mutual_aid_table(
    response_s: np.ndarray,
    station_region: Sequence[str | None],
    demand_region: Sequence[str | None],
    weights: np.ndarray,
    *,
    settings: CoverageSettings | None = None,
) -> pd.DataFrame:
    """How much each region relies on its neighbours' stations (mutual aid).

    Parameters
    ----------
    response_s
        ``(stations, demand)`` response times, s (turn-out included), ``inf``
        where a station cannot reach a point.
    station_region, demand_region
        Region code of each station and demand point (None: outside every
        region; such a station only ever helps others, such demand is left out).
    weights
        Demand weight per point.
    settings
        Thresholds, minutes.

    Returns
    -------
    pandas.DataFrame
        One row per region code of the demand: ``demand``; for each threshold
        T ``share_within_T_min_own`` (only the region's own stations serve),
        ``share_within_T_min_all`` (every station may serve across the
        border) and ``share_within_T_min_change`` (all - own, the gain from
        mutual aid); ``median_min_own`` / ``median_min_all``;
        ``share_nearest_is_neighbour`` (share of demand whose nearest station
        is in another region); ``share_reached_only_by_neighbours`` (no own
        station reaches it, another region's does).
    """
    settings = settings or CoverageSettings()
    times = np.asarray(response_s, dtype=float)
    st_region = np.asarray([None if r is None else str(r) for r in station_region], dtype=object)
    dm_region = np.asarray([None if r is None else str(r) for r in demand_region], dtype=object)
    w = np.asarray(weights, dtype=float)
    if times.shape != (len(st_region), len(dm_region)) or len(w) != len(dm_region):
        raise ParameterError(
            f"mutual_aid_table: response_s has shape {times.shape}, expected "
            f"({len(st_region)}, {len(dm_region)}) with {len(dm_region)} weights"
        )
    n = len(dm_region)
    best_all = times.min(axis=0) if len(st_region) else np.full(n, np.inf)
    nearest = times.argmin(axis=0) if len(st_region) else np.full(n, -1)
    own = np.full(n, np.inf)
    for code in sorted({r for r in dm_region if r is not None}):
        rows = np.flatnonzero(st_region == code)
        cols = np.flatnonzero(dm_region == code)
        if len(rows):
            own[cols] = times[np.ix_(rows, cols)].min(axis=0)
    out = []
    for code in sorted({r for r in dm_region if r is not None}):
        cols = dm_region == code
        wc = w[cols]
        total = float(wc.sum())
        row: dict[str, Any] = {"region_code": code, "demand": total}
        for t in settings.thresholds_min:
            limit = t * 60.0
            name = settings.column(t)
            own_share = float(wc[own[cols] <= limit].sum() / total) if total > 0 else math.nan
            all_share = float(wc[best_all[cols] <= limit].sum() / total) if total > 0 else math.nan
            row[f"{name}_own"] = own_share
            row[f"{name}_all"] = all_share
            row[f"{name}_change"] = all_share - own_share
        for label, values in (("own", own[cols]), ("all", best_all[cols])):
            finite = np.isfinite(values)
            row[f"median_min_{label}"] = (
                weighted_quantile(values[finite], wc[finite], 0.5) / 60.0
                if finite.any()
                else math.nan
            )
        reached = np.isfinite(best_all[cols])
        neighbour = reached & (st_region[nearest[cols]] != code)
        row["share_nearest_is_neighbour"] = (
            float(wc[neighbour].sum() / total) if total > 0 else math.nan
        )
        only = reached & ~np.isfinite(own[cols])
        row["share_reached_only_by_neighbours"] = (
            float(wc[only].sum() / total) if total > 0 else math.nan
        )
        out.append(row)
    return pd.DataFrame(out)


#: Places listed in the "worst served" table of places.
WORST_PLACES = 20


def coverage_tables(demand: pd.DataFrame, settings: CoverageSettings) -> dict[str, pd.DataFrame]:
    """Every coverage table of one run, from the demand with its response times.

    Parameters
    ----------
    demand
        One row per demand point with ``weight``, ``response_s`` (s, ``inf``
        if unreachable), ``response_min``, ``nearest_station`` (None if
        unreachable), ``snap_status`` and the areas ``region_code``,
        ``region``, ``municipality_code`` and ``municipality``.
    settings
        Thresholds, minutes.

    Returns
    -------
    dict
        ``total``, ``region``, ``municipality``, ``station`` (the nearest
        station's catchment; unreachable demand as ``(unreachable)``), each
        from :func:`coverage_table`; ``worst_municipalities``
        (:func:`worst_served`); ``worst_places``, the :data:`WORST_PLACES`
        demand points with the longest times, unreachable first.
    """
    response = demand["response_s"].to_numpy()
    weight = demand["weight"].to_numpy()
    station = (
        demand["nearest_station"]
        .astype(object)
        .where(demand["nearest_station"].notna(), "(unreachable)")
    )
    tables = {
        "total": coverage_table(response, weight, settings=settings),
        "region": coverage_table(
            response, weight, groups=demand[["region_code", "region"]], settings=settings
        ),
        "municipality": coverage_table(
            response,
            weight,
            groups=demand[["municipality_code", "municipality", "region_code"]],
            settings=settings,
        ),
        "station": coverage_table(
            response, weight, groups=pd.DataFrame({"station": station}), settings=settings
        ),
    }
    tables["worst_municipalities"] = worst_served(tables["municipality"], n=10)
    places = demand.assign(
        _unreached=~np.isfinite(response), _t=np.where(np.isfinite(response), response, 0.0)
    ).sort_values(["_unreached", "_t"], ascending=False, kind="stable")
    columns = [
        c
        for c in ("demand_id", "name", "municipality", "region", "weight", "nearest_station")
        if c in places.columns
    ]
    tables["worst_places"] = (
        places.head(WORST_PLACES)[
            [*columns, "response_min", "snap_status"]
            + (["unreachable_reason"] if "unreachable_reason" in places else [])
        ]
        .reset_index(drop=True)
        .pipe(pd.DataFrame)
    )
    return tables


def own_region(site_region: np.ndarray, point_region: np.ndarray) -> np.ndarray:
    """Without mutual aid: may the site serve the point? (Arrays of region codes; broadcasts.)

    Only a site of the point's own region may, and a point in no region
    (``None`` or NaN) is served by none.
    """
    return np.asarray((site_region == point_region) & pd.notna(point_region), dtype=bool)
