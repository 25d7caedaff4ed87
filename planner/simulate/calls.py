"""The calls a simulation serves: generated from the demand, or replayed from a file.

A call stream (:class:`Calls`) is a table with one row per call, sorted by
time:

``time_s``
    When the call enters SOS Alarm's queue, s after time 0, which is a Monday
    00:00 local time (so that the hour-of-week profile and the shifts line up).
``point``
    Row of the call's point in the model (demand point, or the call's own
    position when replayed).
``priority``
    1, 2 or 3 (int8).
``psychiatric``
    bool.
``on_scene_s``, ``transported``, ``hospital``
    Optional, replay only: the recorded time on scene (s), whether the
    patient was transported (1.0 / 0.0) and the hospital's name; NaN / None
    where the simulation draws them.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.errors import InputFileError, ParameterError
from planner.inputs.demand import read_calls as read_call_points
from planner.simulate.model import SimulationModel
from planner.simulate.settings import PRIORITIES, SimulationSettings

__all__ = [
    "CALL_COLUMNS",
    "Calls",
    "generate_calls",
    "parse_priority",
    "read_calls",
]

#: Columns every call table has.
CALL_COLUMNS = ("time_s", "point", "priority", "psychiatric")

#: A priority as written in Swedish dispatch data: ``1``, ``prio 1``,
#: ``Prio 1``, ``prioritet 1``, ``P1``, ``1.0`` (case and spaces ignored).
PRIORITY_RE = re.compile(r"^(?:prio(?:ritet)?\.?|p)?\s*([123])(?:[.,]0+)?$", re.IGNORECASE)
#: Values of a ``type`` column that mark a psychiatric call (case-insensitive).
PSYCHIATRIC_TYPES = frozenset({"psychiatric", "psykiatri", "psykiatrisk", "psy", "pam"})
#: Yes/no spellings (case-insensitive) of a true/false column.
_YES = frozenset({"yes", "y", "true", "1", "ja", "j", "x"})
_NO = frozenset({"no", "n", "false", "0", "nej"})
TYPE_COLUMNS = ("type", "typ", "kind", "call_type")
PSYCHIATRIC_COLUMNS = ("psychiatric", "psykiatrisk", "psykiatri")
ON_SCENE_COLUMNS = {"on_scene_min": 60.0, "on_scene_s": 1.0, "tid_pa_plats_min": 60.0}
TRANSPORTED_COLUMNS = ("transported", "transport", "transporterad")
HOSPITAL_COLUMNS = ("hospital", "sjukhus", "destination")


@dataclass(frozen=True, eq=False)
class Calls:
    """A stream of calls (see the module docstring for ``table``).

    Attributes
    ----------
    table
        One row per call, sorted by ``time_s``.
    horizon_s
        End of the simulated period, s (utilisation is measured up to it).
    start
        The wall-clock time of time 0 (a Monday 00:00) for replayed calls,
        None for generated ones.
    points
        Replay only: the calls' positions (the network's metric CRS) as points of weight 1,
        to pass to :func:`planner.simulate.precompute_times` and
        :func:`planner.simulate.build_model`; ``table["point"]`` is the row.
    source
        Where the calls come from.
    """

    table: pd.DataFrame
    horizon_s: float
    start: pd.Timestamp | None = None
    points: gpd.GeoDataFrame | None = None
    source: str = "generated"

    def __post_init__(self) -> None:
        missing = [c for c in CALL_COLUMNS if c not in self.table.columns]
        if missing:
            raise ParameterError(f"calls: no {', '.join(missing)} column")
        t = self.table["time_s"].to_numpy(dtype=float)
        if len(t) and (not np.isfinite(t).all() or (t < 0).any() or (np.diff(t) < 0).any()):
            raise ParameterError("calls: time_s must be finite, >= 0 and sorted")
        if not set(np.unique(self.table["priority"])) <= set(PRIORITIES):
            raise ParameterError("calls: priority must be 1, 2 or 3")

    def __len__(self) -> int:
        return len(self.table)


def generate_calls(
    model: SimulationModel | np.ndarray,
    settings: SimulationSettings,
    *,
    seed: int | np.random.SeedSequence | np.random.Generator = 0,
    population: float | None = None,
) -> Calls:
    """Generate a seeded Poisson stream of calls from the demand.

    The rate is ``settings.calls_per_year``, or ``calls_per_1000`` per 1,000
    people of ``population``. Over ``settings.days`` days it varies by hour of
    the week as ``settings.hour_of_week`` (a non-homogeneous Poisson process,
    piecewise constant per hour: a Poisson count per hour, spread uniformly
    within it). Each call falls on a point with probability proportional to
    its weight and gets a priority and the psychiatric type with
    ``settings.priority_shares`` and ``settings.psychiatric_share``.

    Parameters
    ----------
    model
        The model (its points' weights and population) or an array of weights.
    settings
        The call settings.
    seed
        Seed, seed sequence or generator; the same seed gives the same calls.
    population
        People the weights stand for (default: the model's population, or the
        sum of the weights).

    Returns
    -------
    Calls
    """
    if isinstance(model, SimulationModel):
        weights = model.points["weight"].to_numpy(dtype=float)
        people = model.population if population is None else float(population)
    else:
        weights = np.asarray(model, dtype=float)
        people = float(weights.sum()) if population is None else float(population)
    if weights.ndim != 1 or not np.isfinite(weights).all() or (weights < 0).any():
        raise ParameterError("generate_calls: weights must be finite numbers >= 0")
    if weights.sum() <= 0:
        raise ParameterError("generate_calls: the demand has no weight; no call can be placed")
    per_year = (
        settings.calls_per_year
        if settings.calls_per_year is not None
        else settings.calls_per_1000 * people / 1000.0
    )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    horizon = settings.days * 86400.0
    n_hours = math.ceil(settings.days * 24)
    hours = np.arange(n_hours)
    length = np.minimum(3600.0, horizon - hours * 3600.0)
    profile = np.asarray(settings.hour_of_week)[hours % 168]
    expected = per_year / (365.0 * 24 * 3600) * profile * length
    counts = rng.poisson(expected)
    start = np.repeat(hours * 3600.0, counts)
    times = np.sort(start + rng.random(len(start)) * np.repeat(length, counts))
    n = len(times)
    point = rng.choice(len(weights), size=n, p=weights / weights.sum())
    priority = rng.choice(np.array(PRIORITIES, dtype=np.int8), size=n, p=settings.priority_shares)
    psychiatric = rng.random(n) < settings.psychiatric_share
    table = pd.DataFrame(
        {
            "time_s": times,
            "point": point.astype(np.int64),
            "priority": priority,
            "psychiatric": psychiatric,
        }
    )
    return Calls(table=table, horizon_s=horizon)


def parse_priority(value: Any) -> int | None:
    """1, 2 or 3 from ``1``, ``"prio 1"``, ``"Prio 2"``, ``"P3"`` ...; None if not a priority."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return int(value) if value in PRIORITIES else None
    match = PRIORITY_RE.match(str(value).strip())
    return int(match.group(1)) if match else None


def read_calls(
    path: str | os.PathLike[str],
    *,
    crs: str | None = None,
    x: str | None = None,
    y: str | None = None,
    priority: str | None = None,
    time: str | None = None,
    layer: str | None = None,
    check_sweden: bool = True,
    source: str | None = None,
) -> Calls:
    """Read a historical calls file to replay.

    Each row is a call: a time and a position (read by
    :func:`planner.inputs.demand.read_calls`: CSV with coordinates, GeoJSON, GPKG,
    GeoParquet), a priority (``1``, ``prio 1``, ``Prio 1``, ``P1`` ...), and
    optionally its type (a ``type``/``typ`` column where ``psychiatric``,
    ``psykiatri`` or ``PAM`` mark psychiatric calls, or a yes/no
    ``psychiatric`` column), the time on scene (``on_scene_min`` in minutes
    or ``on_scene_s``), whether the patient was transported (``transported``:
    yes/no, ja/nej, 1/0) and the ``hospital`` (a name, matched when the
    model's hospitals are known).

    Times are local wall-clock times (daylight-saving steps are ignored).
    Time 0 is the Monday 00:00 of the first call's week.

    ``source`` is how messages name the file (default its path; the command
    line passes it with its option, :func:`planner.errors.file_label`).

    Returns
    -------
    Calls
        With ``points`` (the positions, one per call) and ``start``;
        ``table`` also has ``source_row`` (the file's row as Excel shows it).

    Raises
    ------
    InputFileError
        Bad rows, each named by file and row as Excel shows it (the header is
        row 1, the first call row 2): a missing or unknown priority, a bad type, time
        on scene or transported value; bad times or positions (from
        :func:`planner.inputs.demand.read_calls`); no time column.
    """
    named = source is not None
    source = source or os.fspath(path)
    raw = read_call_points(
        path,
        crs=crs,
        x=x,
        y=y,
        priority=priority,
        time=time,
        layer=layer,
        check_sweden=check_sweden,
        source=source,
    )
    if raw["time"].isna().all():
        raise InputFileError(f"{source}: no time column (time, tid, datetime or timestamp)")
    rows = raw["source_row"].to_numpy()
    problems: list[str] = []
    prio = [parse_priority(v) for v in raw["priority"]]
    for r, v, p in zip(rows, raw["priority"], prio, strict=True):
        if p is None:
            what = "is missing" if v is None else f"{v!r} is not a priority (1, 2, 3 or 'prio 1')"
            problems.append(f"{source} row {r}: priority {what}")
    psychiatric = _psychiatric(raw, source, rows, problems)
    on_scene = _on_scene(raw, source, rows, problems)
    transported = _yes_no(raw, TRANSPORTED_COLUMNS, source, rows, problems)
    hospital = _column(raw, HOSPITAL_COLUMNS)
    if problems:
        more = (
            f"\n{source}: ... and {len(problems) - 10} more problems" if len(problems) > 10 else ""
        )
        raise InputFileError("\n".join(problems[:10]) + more)
    table, start = _call_table(raw, prio, psychiatric, on_scene, transported, hospital)
    seconds = table["time_s"].to_numpy()
    horizon = max(math.ceil(float(seconds.max()) / 86400.0), 1) * 86400.0
    points = gpd.GeoDataFrame(
        {"demand_id": raw["demand_id"].astype(str), "weight": 1.0},
        geometry=raw.geometry.to_numpy(),
        crs=raw.crs,
    )
    return Calls(
        table=table,
        horizon_s=horizon,
        start=start,
        points=points,
        source=source if named else Path(source).name,
    )


def _call_table(
    raw: pd.DataFrame,
    prio: list[int | None],
    psychiatric: np.ndarray,
    on_scene: np.ndarray,
    transported: np.ndarray,
    hospital: str | None,
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The call table, sorted by time, and the wall-clock time of time 0 (a Monday 00:00)."""
    wall = pd.to_datetime(raw["time"])
    if wall.dt.tz is not None:
        wall = wall.dt.tz_localize(None)
    first = wall.min()
    start = first.normalize() - pd.Timedelta(days=int(first.weekday()))
    hospitals = (
        pd.Series([None] * len(raw), dtype=object)
        if hospital is None
        else raw[hospital].astype(object).where(raw[hospital].notna(), None).map(_blank_none)
    )
    table = pd.DataFrame(
        {
            "time_s": (wall - start).dt.total_seconds().to_numpy(),
            "point": np.arange(len(raw), dtype=np.int64),
            "priority": np.asarray(prio, dtype=np.int8),
            "psychiatric": psychiatric,
            "on_scene_s": on_scene,
            "transported": transported,
            "hospital": hospitals.to_numpy(dtype=object),
            "source_row": raw["source_row"].to_numpy(),
        }
    )
    return table.sort_values("time_s", kind="stable").reset_index(drop=True), start


def _blank_none(value: Any) -> Any:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _column(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    lower = {str(c).casefold(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def _psychiatric(
    raw: pd.DataFrame, source: str, rows: np.ndarray, problems: list[str]
) -> np.ndarray:
    kind = _column(raw, TYPE_COLUMNS)
    if kind is not None:
        text = raw[kind].astype(object).where(raw[kind].notna(), "").astype(str).str.strip()
        return text.str.casefold().isin(PSYCHIATRIC_TYPES).to_numpy()
    flags = _yes_no(raw, PSYCHIATRIC_COLUMNS, source, rows, problems)
    return np.nan_to_num(flags, nan=0.0).astype(bool)


def _yes_no(
    raw: pd.DataFrame, names: tuple[str, ...], source: str, rows: np.ndarray, problems: list[str]
) -> np.ndarray:
    """1.0 / 0.0 per row, NaN where blank or without the column."""
    col = _column(raw, names)
    out = np.full(len(raw), np.nan)
    if col is None:
        return out
    for i, value in enumerate(raw[col].tolist()):
        text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else value
        word = str(text).strip().casefold()
        if word.endswith(".0"):
            word = word[:-2]
        if word in _YES:
            out[i] = 1.0
        elif word in _NO:
            out[i] = 0.0
        elif word:
            problems.append(f"{source} row {rows[i]}: {col} {value!r} is not yes or no")
    return out


def _on_scene(raw: pd.DataFrame, source: str, rows: np.ndarray, problems: list[str]) -> np.ndarray:
    """Recorded time on scene, s (NaN where blank or without the column)."""
    lower = {str(c).casefold(): c for c in raw.columns}
    name = next((n for n in ON_SCENE_COLUMNS if n in lower), None)
    if name is None:
        return np.full(len(raw), np.nan)
    col = lower[name]
    text = raw[col].astype(object).where(raw[col].notna(), "").astype(str).str.strip()
    numbers = pd.to_numeric(
        text.str.replace(",", ".", regex=False).where(text != ""), errors="coerce"
    ).to_numpy(dtype=float)
    bad = (text != "").to_numpy() & ~(np.isfinite(numbers) & (numbers >= 0))
    for i in np.flatnonzero(bad):
        problems.append(f"{source} row {rows[i]}: {col} {text.iloc[i]!r} is not a time >= 0")
    seconds = numbers * ON_SCENE_COLUMNS[name]
    too_long = np.isfinite(seconds) & (seconds > 24 * 3600)
    for i in np.flatnonzero(too_long):
        problems.append(f"{source} row {rows[i]}: {col} {text.iloc[i]!r} is over 24 hours")
    return np.where(bad | too_long, np.nan, seconds)
