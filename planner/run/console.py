"""What the command line prints: lines above the progress bars, and summaries with their units.

Every number a summary line shows carries its unit: demand in its own unit
(people, buildings or calls; :func:`planner.inputs.demand.weight_unit`),
times in minutes, shares in per cent and changes of shares in percentage
points. The plan, the demo and the commands of :mod:`planner.run.cli` build
their lines here, so one figure reads the same everywhere, and every
sentence the console shows is in this one module.

:func:`echo` writes one line on stderr above any progress bar that is
running (:meth:`tqdm.tqdm.write`), so that stage messages never land on a
bar's line.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from planner.inputs.demand import demand_type, weight_unit

__all__ = [
    "MIXED_UNIT",
    "OUTPUT_GUIDE",
    "amount",
    "comparison_summary",
    "conclusion_lines",
    "coverage_summary",
    "demand_line",
    "echo",
    "minutes",
    "objective_summary",
    "output_guide",
    "percent",
    "run_weight_unit",
    "scenario_weight_unit",
    "site_lines",
    "solution_line",
    "stations_line",
    "traveltimes_summary",
]

#: Singular of each demand unit, for "person-minutes" and "1 building".
_SINGULAR = {"people": "person", "buildings": "building", "calls": "call"}

#: A scenario whose demand layers count different things.
MIXED_UNIT = "demand weight"


def echo(message: str) -> None:
    """Write one line on stderr, above any progress bar that is running."""
    tqdm.write(message, file=sys.stderr)


def amount(value: float, unit: str) -> str:
    """A demand weight with its unit: ``27,532 people``, ``1 building``, ``12.5 people``."""
    if not math.isfinite(value):
        return f"{value} {unit}"
    whole = abs(value - round(value)) < 1e-9 or abs(value) >= 100
    text = f"{value:,.0f}" if whole else f"{value:,.1f}"
    if text in ("1", "-1"):
        unit = _SINGULAR.get(unit, unit)
    return f"{text} {unit}"


def percent(share: float) -> str:
    """A share (0-1) in per cent with one decimal: ``87.9%`` (``n/a`` when unknown)."""
    return f"{100 * share:.1f}%" if math.isfinite(share) else "n/a"


def minutes(value: float) -> str:
    """A time in minutes with one decimal: ``12.5 min`` (``none reached`` when unknown)."""
    return f"{value:.1f} min" if math.isfinite(value) else "none reached"


def coverage_summary(
    total: Mapping[str, Any],
    thresholds_min: Sequence[float],
    unit: str,
    *,
    state: str | None = None,
) -> str:
    """One line on a coverage ``total`` table's row.

    ``demand 21 buildings: 95.2% within 5 min, 95.2% within 10 min; median
    response time 3.9 min, 90th percentile 4.3 min; unreachable 4.8% (1 building)``;
    with ``state`` (``before``, ``after``) it starts ``coverage after: ``.
    """
    shares = ", ".join(
        f"{percent(float(total[f'share_within_{t:g}_min']))} within {t:g} min"
        for t in thresholds_min
    )
    median, p90 = float(total["median_min"]), float(total["p90_min"])
    times = (
        f"median response time {minutes(median)}, 90th percentile {minutes(p90)}"
        if math.isfinite(median)
        else "no response times (nothing is reached)"
    )
    prefix = "" if state is None else f"coverage {state}: "
    return (
        f"{prefix}demand {amount(float(total['demand']), unit)}: {shares}; {times}; unreachable "
        f"{percent(float(total['share_unreachable']))} "
        f"({amount(float(total['demand_unreachable']), unit)})"
    )


def objective_summary(
    objective: str,
    before: float,
    after: float,
    *,
    unit: str,
    threshold_min: float,
    busy_fraction: float,
) -> str:
    """The optimiser's objective before and after, in words and units.

    ``objective`` is the command-line name (:data:`planner.run.pipeline.OBJECTIVES`);
    ``before`` and ``after`` are in the model's units (weight, weight x s, s,
    sites). ``mclp: 0 -> 20 buildings within 5 min (+20 buildings)``;
    p-median in person-minutes; p-center in minutes.
    """
    within = f"within {threshold_min:g} min"
    if objective == "mclp":
        return (
            f"mclp: {amount(before, unit)} -> {amount(after, unit)} {within} "
            f"(+{amount(after - before, unit)})"
        )
    if objective == "pmedian":
        each = _SINGULAR.get(unit, "weight")
        return (
            f"pmedian: total response time {before / 60:,.0f} -> {after / 60:,.0f} "
            f"{each}-minutes ({(after - before) / 60:+,.0f})"
        )
    if objective == "pcenter":
        return f"pcenter: longest response time {minutes(before / 60)} -> {minutes(after / 60)}"
    if objective == "lscp":
        start = (
            "the existing stations alone leave some demand beyond it"
            if not math.isfinite(before)
            else f"{before:g} sites needed before"
        )
        return f"lscp: {after:g} new sites reach every reachable point {within} ({start})"
    if objective == "mexclp":
        return (
            f"mexclp: expected covered demand {amount(before, unit)} -> {amount(after, unit)} "
            f"{within} (units busy {percent(busy_fraction)} of the time)"
        )
    return (
        f"{objective}: expected survivors {before:,.1f} -> {after:,.1f} "
        f"({unit} weighted by the survival probability of their response time)"
    )


def solution_line(
    summary: str, status: str, *, seconds: float | None = None, adding: bool = False
) -> str:
    """An objective summary with the solver's status, its time (s) and ``adding:`` before sites.

    ``mclp: ... (optimal; solved in 0.8 s)``.
    """
    solved = "" if seconds is None else f"; solved in {seconds:.1f} s"
    return f"{summary} ({status}{solved})" + (", adding:" if adding else "")


def traveltimes_summary(
    out: Path,
    rows: int,
    *,
    points: bool,
    reached: float,
    cutoff_min: float | None,
    median_min: float,
) -> str:
    """The line after a travel-time table is written.

    ``rows`` road nodes (or ``points``), the share ``reached`` (0-1) within
    the cutoff (min) and the median response time of those reached (min).
    """
    what = "points" if points else "road nodes"
    within = "" if cutoff_min is None else f" within a {cutoff_min:g} min drive"
    return (
        f"wrote {out}: {rows:,} {what}, {percent(reached)} reached{within}; "
        f"median response time {minutes(median_min)}"
    )


def site_lines(sites: pd.DataFrame, unit: str) -> list[str]:
    """One line per proposed site: its order, name and what it adds (in ``unit`` and minutes)."""
    newly = [c for c in sites.columns if str(c).startswith("demand_newly_within_")]
    lines = []
    for _, row in sites.iterrows():
        parts = []
        if newly:
            threshold = str(newly[0]).removeprefix("demand_newly_within_").removesuffix("_min")
            parts.append(f"+{amount(float(row[newly[0]]), unit)} within {threshold} min")
        if "person_minutes_saved" in sites.columns:
            each = _SINGULAR.get(unit, "weight")
            parts.append(f"{float(row['person_minutes_saved']):,.0f} {each}-minutes saved")
        extra = f": {', '.join(parts)}" if parts else ""
        lines.append(f"  {row['order']}. {row['site']}{extra}")
    return lines


def comparison_summary(
    total: pd.DataFrame, *, run_a: str, run_b: str, state_a: str, state_b: str, unit: str
) -> str:
    """The change between two runs (B - A) of the comparison's ``total`` row, with units.

    Shares change in percentage points, times in minutes, the Gini index in
    index points and the demand in its unit.
    """
    row = total.iloc[0]
    points = " percentage points"
    parts = []
    for column in (c for c in total.columns if str(c).endswith("_change")):
        name = str(column).removesuffix("_change")
        value = float(row[column])
        if name == "demand":
            parts.append(f"demand {_signed(value, ',.0f', ' ' + unit)}")
        elif name == "share_unreachable":
            parts.append(f"unreachable {_signed(100 * value, '.1f', points)}")
        elif name.startswith("share_within_"):
            threshold = name.removeprefix("share_within_").removesuffix("_min")
            parts.append(f"within {threshold} min {_signed(100 * value, '.1f', points)}")
        elif name == "median_min":
            parts.append(f"median response time {_signed(value, '.1f', ' min')}")
        elif name == "p90_min":
            parts.append(f"90th percentile {_signed(value, '.1f', ' min')}")
        elif name == "gini":
            parts.append(f"Gini index {_signed(value, '.3f')}")
        else:
            parts.append(f"{name} {_signed(value, '.4g')}")
    return f"{run_a} ({state_a}) -> {run_b} ({state_b}): " + ", ".join(parts)


def _signed(value: float, spec: str, unit: str = "") -> str:
    """A change with its sign and unit; ``n/a`` (no unit) when a run has no value."""
    return format(value, "+" + spec) + unit if math.isfinite(value) else "n/a"


def scenario_weight_unit(layers: Iterable[tuple[str | Path, str, float | None]]) -> str:
    """The unit of demand layers given as (path, type, total): theirs if they share one.

    Layers that count different things (people and calls) give
    :data:`MIXED_UNIT`.
    """
    units = {weight_unit(demand_type(path, kind), total=total) for path, kind, total in layers}
    return units.pop() if len(units) == 1 else MIXED_UNIT


def run_weight_unit(*runs: Path) -> str:
    """The demand unit of plan output folders, from their ``manifest.json``.

    :data:`MIXED_UNIT` when a folder has no readable manifest, or the
    layers count different things.
    """
    layers = []
    for run in runs:
        try:
            manifest = json.loads((Path(run) / "manifest.json").read_text(encoding="utf-8"))
            layers += [
                (d["path"], d["type"], d.get("total")) for d in manifest["settings"]["demand"]
            ]
        except (OSError, ValueError, KeyError, TypeError):
            return MIXED_UNIT
    return scenario_weight_unit(layers) if layers else MIXED_UNIT


def stations_line(count: int, units: int) -> str:
    """``stations: 12 stations with 15 units``."""
    return f"stations: {_count(count, 'station')} with {_count(units, 'unit')}"


def _count(number: int, singular: str) -> str:
    return f"{number:,} {singular}" + ("" if number == 1 else "s")


def demand_line(layers: Iterable[tuple[str, int, float, str]]) -> str:
    """The demand of each fleet, given as (fleet, points, total weight, unit).

    ``demand: ambulance 21 points, 21 buildings``.
    """
    return "demand: " + ", ".join(
        f"{fleet} {points:,} points, {amount(weight, unit)}"
        for fleet, points, weight, unit in layers
    )


#: What each output of a plan is and how to open it, by
#: :func:`planner.run.plan.write_plan`'s name, in the order they are listed.
OUTPUT_GUIDE: tuple[tuple[str, str], ...] = (
    ("map", "the map: open it in a browser (before/after switch, proposed sites)"),
    ("report", "the one-page report: open it in a browser, print it to PDF from there"),
    ("xlsx", "coverage tables with the existing stations: open it in Excel"),
    ("after_xlsx", "the same with the proposed units added: open it in Excel"),
    ("optimise_sites_csv", "the proposed sites and what each adds (optimise.xlsx beside it)"),
    ("gpkg", "map layers for QGIS (after/ and optimise/ hold theirs)"),
    ("manifest", "what was run: inputs, settings, versions, a checksum of every output"),
)


def output_guide(paths: Mapping[str, Path]) -> list[str]:
    """Lines naming a plan's main outputs and how to open each.

    ``paths`` are :func:`planner.run.plan.write_plan`'s (output name ->
    path, with a ``manifest``); outputs it lacks are left out.
    """
    shown = [(str(paths[name]), text) for name, text in OUTPUT_GUIDE if name in paths]
    width = max(len(path) for path, _ in shown)
    lines = [f"outputs in {Path(paths['manifest']).parent} (the main ones):"]
    return [*lines, *(f"  {path.ljust(width)}  {text}" for path, text in shown)]


def conclusion_lines(
    *,
    region: str,
    stations: int,
    unit: str,
    threshold_min: float,
    before: Mapping[str, Any],
    after: Mapping[str, Any] | None,
    proposed: Sequence[str],
    map_path: Path,
    report_path: Path,
    excel_path: Path | None,
) -> list[str]:
    """Three lines that end a run: what was found, what the proposed units change, where to look.

    Parameters
    ----------
    region
        The region's name.
    stations
        The number of existing stations.
    unit
        What the demand counts (people, buildings, calls).
    threshold_min
        The target response time, in minutes (a coverage threshold).
    before, after
        Coverage ``total`` rows before and after the proposed units (``after``
        None when nothing was optimised): ``demand``,
        ``share_within_<threshold>_min`` (0-1) and ``median_min``.
    proposed
        The proposed sites' names, in order.
    map_path, report_path, excel_path
        The outputs to look at (``excel_path`` None when there is none).
    """
    within = f"within {threshold_min:g} min"
    column = f"share_within_{threshold_min:g}_min"
    demand, share_b = float(before["demand"]), float(before[column])
    median_b = float(before["median_min"])
    if stations == 0:
        found = (
            f"Found: {region} has no ambulance station, so none of its "
            f"{amount(demand, unit)} is reached: where should the first units go?"
        )
    else:
        found = (
            f"Found: with the {stations:,} existing stations, "
            f"{amount(share_b * demand, unit)} of {amount(demand, unit)} ({percent(share_b)}) "
            f"are {within}; median response time {minutes(median_b)}."
        )
    if after is None:
        change = "Change: the scenario has no [optimise] section, so no units were proposed."
    elif not proposed:
        change = "Change: the optimiser proposed no new unit."
    else:
        share_a, median_a = float(after[column]), float(after["median_min"])
        median = (
            f"{minutes(median_b)} -> {minutes(median_a)}"
            if math.isfinite(median_b)
            else minutes(median_a)
        )
        change = (
            f"Change: {len(proposed)} proposed "
            f"{'unit' if len(proposed) == 1 else 'units'} ({', '.join(proposed)}) "
            f"{'brings' if len(proposed) == 1 else 'bring'} "
            f"{amount(share_a * demand, unit)} ({percent(share_a)}) {within}, up from "
            f"{amount(share_b * demand, unit)} ({percent(share_b)}); median response time "
            f"{median}."
        )
    excel = "" if excel_path is None else f", {excel_path} in Excel"
    look = (
        f"Look: open {map_path} (proposed sites, before/after switch) and "
        f"{report_path} in a browser{excel}."
    )
    return [found, change, look]
