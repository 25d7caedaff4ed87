"""Figures from a call log: the Swedish KPIs, utilisation, and intervals over replications.

Response time is measured the Swedish way: from the moment the call enters
SOS Alarm's queue (``t_call``) to the unit's arrival on scene. Only calls
that enter the queue after the warm-up count. Shares (within a threshold,
waited) are over all counted calls, unserved ones included (they are never
within any threshold); medians, percentiles and means are over the calls
served, as in the coverage tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from planner.optimise import MaxSurvival
from planner.simulate.model import SimulationModel
from planner.simulate.settings import SimulationSettings

__all__ = [
    "GROUP_KEYS",
    "call_kpis",
    "confidence_tables",
    "kpi_tables",
    "station_table",
    "summary_row",
    "unit_table",
]

#: Key columns of each KPI table.
GROUP_KEYS: Mapping[str, tuple[str, ...]] = {
    "total": ("priority",),
    "region": ("region_code", "priority"),
    "municipality": ("municipality_code", "priority"),
    "units": ("unit",),
    "stations": ("station",),
    "summary": (),
}


#: The ``status`` of a served call in the log.
SERVED = "served"


def _within(threshold: float) -> str:
    return f"share_within_{threshold:g}_min"


def call_kpis(
    log: pd.DataFrame, keys: Sequence[str], thresholds_min: Sequence[float]
) -> pd.DataFrame:
    """KPIs of counted calls grouped by ``keys`` (one row per group).

    Columns: ``calls``, ``served``, ``share_unserved``, ``median_min``,
    ``p90_min``, ``mean_min``, ``share_within_<T>_min``, ``share_waited``,
    ``mean_wait_min`` (over served calls), ``share_from_other_municipality``
    and ``share_from_other_region`` (served calls whose unit's station lies
    elsewhere, of those where both are known), ``psychiatric_calls`` and
    ``psychiatric_by_pam`` (share of them a psychiatric unit served).
    """
    served = log["status"].to_numpy() == SERVED
    response = np.where(served, log["response_s"].to_numpy() / 60.0, np.nan)
    psy = log["psychiatric"].to_numpy(dtype=bool)
    within = {
        _within(t): (np.nan_to_num(response, nan=np.inf) <= t).astype(float) for t in thresholds_min
    }
    # one frame, built at once, and few grouped passes (this runs per replication)
    frame = pd.DataFrame(
        {
            **{k: log[k].to_numpy() for k in keys},
            "calls": np.ones(len(log), dtype=np.int64),
            "served": served.astype(np.int64),
            "psy": psy.astype(np.int64),
            "response": response,
            **within,
            "waited": log["waited"].to_numpy(dtype=float),
            "wait": np.where(served, log["wait_s"].to_numpy() / 60.0, np.nan),
            "other_municipality": log["from_other_municipality"].to_numpy(dtype=float),
            "other_region": log["from_other_region"].to_numpy(dtype=float),
            "pam": np.where(psy, log["fleet"].to_numpy() == "psychiatric", np.nan),
        }
    )
    grouped = frame.groupby(list(keys), dropna=False, sort=True)
    sums = grouped[["calls", "served", "psy"]].sum()
    mean_columns = ["response", *within, "waited", "wait", "other_municipality", "other_region"]
    means = grouped[[*mean_columns, "pam"]].mean()
    out = pd.DataFrame(
        {
            "calls": sums["calls"],
            "served": sums["served"],
            "share_unserved": 1.0 - sums["served"] / sums["calls"],
            "median_min": grouped["response"].median(),
            "p90_min": grouped["response"].quantile(0.9),
            "mean_min": means["response"],
            **{name: means[name] for name in within},
            "share_waited": means["waited"],
            "mean_wait_min": means["wait"],
            "share_from_other_municipality": means["other_municipality"],
            "share_from_other_region": means["other_region"],
            "psychiatric_calls": sums["psy"],
            "psychiatric_by_pam": means["pam"],
        }
    )
    return out.reset_index()


def kpi_tables(log: pd.DataFrame, thresholds_min: Sequence[float]) -> dict[str, pd.DataFrame]:
    """The ``total``, ``region`` and ``municipality`` tables, per priority and for all.

    ``log`` holds the counted calls with the columns :func:`call_kpis` reads;
    ``priority`` ``0`` stands for all priorities together.
    """
    needed = [
        "priority", "region_code", "municipality_code", "status", "response_s", "waited",
        "wait_s", "from_other_municipality", "from_other_region", "psychiatric", "fleet",
    ]  # fmt: skip
    slim = log[needed]
    both = pd.concat([slim, slim.assign(priority=0)], ignore_index=True)
    return {
        level: call_kpis(both, GROUP_KEYS[level], thresholds_min)
        for level in ("total", "region", "municipality")
    }


def unit_table(
    log: pd.DataFrame,
    model: SimulationModel,
    unit_station: np.ndarray,
    unit_slot: np.ndarray,
    *,
    window: tuple[float, float],
) -> pd.DataFrame:
    """Per unit: dispatches, hours on duty, busy and committed hours, utilisation.

    Busy is from dispatch until the unit clears the scene or the hospital;
    committed adds the drive home (until home or sent again). Both are
    clipped to ``window`` (s), the measured period, as are the hours on duty.
    """
    start, end = window
    d = log.loc[log["unit"] >= 0].sort_values(["unit", "t_dispatch"], kind="stable")
    unit = d["unit"].to_numpy()
    t0 = d["t_dispatch"].to_numpy()
    nxt = np.append(t0[1:], np.nan)
    nxt[np.append(unit[1:] != unit[:-1], True)] = np.nan
    home = d["t_home"].to_numpy()
    committed_end = np.where(np.isnan(home), nxt, home)
    committed_end = np.where(np.isnan(committed_end), end, committed_end)
    busy = np.clip(d["t_clear"].to_numpy(), start, end) - np.clip(t0, start, end)
    committed = np.clip(committed_end, start, end) - np.clip(t0, start, end)
    counted = (t0 >= start) & (t0 < end)
    n_units = len(unit_station)
    out = pd.DataFrame(
        {
            "unit": np.arange(n_units),
            "station": model.stations["name"].to_numpy()[unit_station],
            "fleet": model.stations["fleet"].to_numpy()[unit_station],
            "slot": unit_slot,
            "dispatches": np.bincount(unit[counted], minlength=n_units),
            "on_duty_h": _on_duty_seconds(model.shifts, unit_station, unit_slot, start, end)
            / 3600.0,
            "busy_h": np.bincount(unit, weights=busy, minlength=n_units) / 3600.0,
            "committed_h": np.bincount(unit, weights=committed, minlength=n_units) / 3600.0,
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out["utilisation"] = out["busy_h"] / out["on_duty_h"]
        out["utilisation_with_return"] = out["committed_h"] / out["on_duty_h"]
    return out


def _on_duty_seconds(
    shifts: np.ndarray, station: np.ndarray, slot: np.ndarray, start: float, end: float
) -> np.ndarray:
    first, last = math.floor(start / 3600.0), math.ceil(end / 3600.0)
    hours = np.arange(first, max(last, first))
    overlap = np.minimum((hours + 1) * 3600.0, end) - np.maximum(hours * 3600.0, start)
    on = shifts[station][:, hours % 168] > slot[:, None]
    return np.asarray(on @ np.clip(overlap, 0, None), dtype=float)


def station_table(units: pd.DataFrame) -> pd.DataFrame:
    """Per station: units, dispatches, hours on duty and busy, utilisation."""
    grouped = units.groupby("station", sort=False)
    out = grouped.agg(
        fleet=("fleet", "first"),
        units=("unit", "size"),
        dispatches=("dispatches", "sum"),
        on_duty_h=("on_duty_h", "sum"),
        busy_h=("busy_h", "sum"),
        committed_h=("committed_h", "sum"),
    ).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["utilisation"] = out["busy_h"] / out["on_duty_h"]
        out["utilisation_with_return"] = out["committed_h"] / out["on_duty_h"]
    return out


def summary_row(
    log: pd.DataFrame,
    units: pd.DataFrame,
    model: SimulationModel,
    settings: SimulationSettings,
    *,
    measured_days: float,
) -> pd.DataFrame:
    """One row of headline figures of a replication.

    ``expected_survivors_per_year`` assumes out-of-hospital cardiac arrests
    (``arrests_per_person_year`` × the model's population) are distributed
    like the non-psychiatric prio-1 calls in place and time, and survive with
    the optimiser's survival model (:class:`planner.optimise.MaxSurvival`)
    at their simulated response time (0 if unserved).
    """
    served = log["status"].to_numpy() == SERVED
    minutes = np.where(served, log["response_s"].to_numpy() / 60.0, np.inf)
    prio1 = log["priority"].to_numpy() == 1
    psy = log["psychiatric"].to_numpy(dtype=bool)
    regular1 = prio1 & ~psy
    row: dict[str, float] = {
        "calls": float(len(log)),
        "calls_per_day": len(log) / measured_days if measured_days > 0 else math.nan,
        "share_unserved": float(np.mean(~served)) if len(log) else math.nan,
        "prio1_median_min": _quantile(minutes[prio1 & served], 0.5),
        "prio1_p90_min": _quantile(minutes[prio1 & served], 0.9),
    }
    for t in settings.thresholds_min:
        row[f"prio1_{_within(t)}"] = _share(minutes[prio1] <= t)
    row["regular_prio1_median_min"] = _quantile(minutes[regular1 & served], 0.5)
    row["regular_prio1_p90_min"] = _quantile(minutes[regular1 & served], 0.9)
    row["psychiatric_median_min"] = _quantile(minutes[psy & served], 0.5)
    row["psychiatric_by_pam"] = _share(log["fleet"].to_numpy()[psy] == "psychiatric")
    row["share_waited"] = _share(log["waited"].to_numpy(dtype=bool))
    wait = log["wait_s"].to_numpy()[served] / 60.0
    row["mean_wait_min"] = float(wait.mean()) if len(wait) else math.nan
    for level in ("municipality", "region"):
        other = log[f"from_other_{level}"].to_numpy(dtype=float)
        known = other[~np.isnan(other)]
        row[f"share_from_other_{level}"] = float(known.mean()) if len(known) else math.nan
    ambulance = units["fleet"] == "ambulance"
    on_duty = units.loc[ambulance, "on_duty_h"].sum()
    row["ambulance_utilisation"] = (
        units.loc[ambulance, "busy_h"].sum() / on_duty if on_duty > 0 else math.nan
    )
    model_s = MaxSurvival(coefficients=settings.survival_coefficients)
    survival = model_s.survival(minutes[regular1])
    arrests = settings.arrests_per_person_year * model.population
    row["cardiac_arrests_per_year"] = arrests
    row["expected_survivors_per_year"] = (
        float(arrests * survival.mean()) if len(survival) else math.nan
    )
    return pd.DataFrame([row])


def _quantile(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q)) if len(values) else math.nan


def _share(mask: np.ndarray) -> float:
    return float(np.mean(mask)) if len(mask) else math.nan


def confidence_tables(
    replications: Sequence[Mapping[str, pd.DataFrame]], confidence: float
) -> dict[str, pd.DataFrame]:
    """Mean of every figure over replications with a t confidence interval.

    Each table gets, for every numeric figure ``x``, the mean ``x`` over the
    replications where it is defined, ``x_ci_low`` and ``x_ci_high``
    (Student t, ``confidence`` two-sided; NaN with fewer than 2 values), and
    ``replications``, the number of replications.
    """
    out: dict[str, pd.DataFrame] = {}
    for name in replications[0]:
        keys = list(GROUP_KEYS.get(name, ()))
        frames = [reps[name].assign(_rep=r) for r, reps in enumerate(replications)]
        stacked = pd.concat(frames, ignore_index=True)
        value_cols = [
            c
            for c in stacked.columns
            if c not in keys and c != "_rep" and pd.api.types.is_numeric_dtype(stacked[c])
        ]
        if not keys:
            stacked["_all"] = 0
            keys = ["_all"]
        grouped = stacked.groupby(keys, dropna=False, sort=True)
        mean = grouped[value_cols].mean()
        sd = grouped[value_cols].std(ddof=1)
        n = grouped[value_cols].count()
        with np.errstate(invalid="ignore", divide="ignore"):
            q = stats.t.ppf((1 + confidence) / 2, np.maximum(n - 1, 1))
            half = pd.DataFrame(q, index=n.index, columns=n.columns) * sd / np.sqrt(n)
        half = half.where(n >= 2)
        table = mean.copy()
        for c in value_cols:
            table[f"{c}_ci_low"] = mean[c] - half[c]
            table[f"{c}_ci_high"] = mean[c] + half[c]
        table["replications"] = len(replications)
        text = [c for c in stacked.columns if c not in value_cols and c not in keys and c != "_rep"]
        if text:
            table = table.join(grouped[text].first())
        table = table.reset_index()
        out[name] = table.drop(columns=["_all"], errors="ignore")
    return out
