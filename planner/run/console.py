"""What the command line prints: lines above the progress bars, and summaries with their units.

Every number a summary line shows carries its unit: demand in its own unit
(people, buildings or calls; :func:`planner.inputs.demand.weight_unit`),
times in minutes, shares in per cent and changes of shares in percentage
points. The plan, the demo and the commands of :mod:`planner.run.cli` build
their lines here, so one figure reads the same everywhere, and every
sentence the console shows is in this one module.

Every sentence goes through the run's :class:`planner.i18n.Translator`
(``tr``, Swedish or English: the scenario's ``language`` or ``--lang``) and
every number through its Babel formats: ``87,9 %``, ``12,5 min`` and
``7 363 324`` (no-break spaces) in Swedish, ``87.9%``, ``12.5 min`` and
``7,363,324`` in English. Error messages (:mod:`planner.errors`) stay in
English.

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

from planner.i18n import N_, Translator
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
    "matrix_lines",
    "minutes",
    "network_lines",
    "objective_summary",
    "output_guide",
    "percent",
    "run_language",
    "run_weight_unit",
    "scenario_line",
    "scenario_weight_unit",
    "site_lines",
    "solution_line",
    "stage_name",
    "stations_line",
    "traveltimes_summary",
    "wrote_line",
]

#: A scenario whose demand layers count different things.
MIXED_UNIT = N_("demand weight")


def echo(message: str) -> None:
    """Write one line on stderr, above any progress bar that is running."""
    tqdm.write(message, file=sys.stderr)


def _unit_word(unit: str, n: int, tr: Translator) -> str:
    """The unit's word for ``n`` of it (singular for 1): ``1 building``, ``2 buildings``."""
    if unit == "people":
        return tr.ngettext("person", "people", n)
    if unit == "buildings":
        return tr.ngettext("building", "buildings", n)
    if unit == "calls":
        return tr.ngettext("call", "calls", n)
    return tr.gettext(unit)


def _unit_minutes(unit: str, tr: Translator) -> str:
    """Minutes summed over demand: ``person-minutes`` (``personminuter``)."""
    if unit == "people":
        return tr.gettext("person-minutes")
    if unit == "buildings":
        return tr.gettext("building-minutes")
    if unit == "calls":
        return tr.gettext("call-minutes")
    return tr.gettext("weight-minutes")


def _plain(value: float, tr: Translator) -> str:
    """A threshold or count as written in settings: ``5``, ``7,5`` (sv), ``7.5`` (en)."""
    return tr.number(value, 0 if abs(value - round(value)) < 1e-9 else 1)


def amount(value: float, unit: str, *, tr: Translator) -> str:
    """A demand weight with its unit: ``27,532 people`` / ``27 532 personer``, ``1 building``.

    Whole numbers (and any of 100 or more) without decimals, others with one.
    """
    if not math.isfinite(value):
        return f"{tr.number(value)} {_unit_word(unit, 2, tr)}"
    whole = abs(value - round(value)) < 1e-9 or abs(value) >= 100
    text = tr.number(value, 0 if whole else 1)
    one = whole and round(abs(value)) == 1
    return f"{text} {_unit_word(unit, 1 if one else 2, tr)}"


def percent(share: float, *, tr: Translator) -> str:
    """A share (0-1) in per cent with one decimal: ``87.9%`` / ``87,9 %`` (``n/a`` when unknown)."""
    return tr.percent(share) if math.isfinite(share) else tr.gettext("n/a")


def minutes(value: float, *, tr: Translator) -> str:
    """A time in minutes with one decimal: ``12.5 min`` / ``12,5 min`` (``none reached``)."""
    return tr.minutes(value) if math.isfinite(value) else tr.gettext("none reached")


def stage_name(name: str, *, tr: Translator) -> str:
    """A plan stage's name (:data:`planner.run.plan.PLAN_STAGES`) for the progress bar."""
    names = {
        "network": tr.gettext("road network"),
        "stations": tr.gettext("stations"),
        "demand": tr.gettext("demand"),
        "coverage": tr.gettext("coverage"),
        "optimise": tr.gettext("optimisation"),
        "coverage after": tr.gettext("coverage after"),
        "map": tr.gettext("map"),
        "report": tr.gettext("report"),
        "export": tr.gettext("tables"),
    }
    return names.get(name, name)


def coverage_summary(
    total: Mapping[str, Any],
    thresholds_min: Sequence[float],
    unit: str,
    *,
    tr: Translator,
    state: str | None = None,
) -> str:
    """One line on a coverage ``total`` table's row.

    ``demand 21 buildings: 95.2% within 5 min, 95.2% within 10 min; median
    response time 3.9 min, 90th percentile 4.3 min; unreachable 4.8% (1 building)``;
    with ``state`` (``before``, ``after``) it starts ``coverage after: ``.
    """
    shares = ", ".join(
        tr.gettext("{share} within {t} min").format(
            share=percent(float(total[f"share_within_{t:g}_min"]), tr=tr), t=_plain(t, tr)
        )
        for t in thresholds_min
    )
    median, p90 = float(total["median_min"]), float(total["p90_min"])
    times = (
        tr.gettext("median response time {median}, 90th percentile {p90}").format(
            median=minutes(median, tr=tr), p90=minutes(p90, tr=tr)
        )
        if math.isfinite(median)
        else tr.gettext("no response times (nothing is reached)")
    )
    line = tr.gettext("demand {demand}: {shares}; {times}; unreachable {share} ({amount})").format(
        demand=amount(float(total["demand"]), unit, tr=tr),
        shares=shares,
        times=times,
        share=percent(float(total["share_unreachable"]), tr=tr),
        amount=amount(float(total["demand_unreachable"]), unit, tr=tr),
    )
    if state is None:
        return line
    prefix = tr.gettext("coverage after:") if state == "after" else tr.gettext("coverage before:")
    return f"{prefix} {line}"


def objective_summary(
    objective: str,
    before: float,
    after: float,
    *,
    unit: str,
    threshold_min: float,
    busy_fraction: float,
    tr: Translator,
) -> str:
    """The optimiser's objective before and after, in words and units.

    ``objective`` is the command-line name (:data:`planner.run.pipeline.OBJECTIVES`);
    ``before`` and ``after`` are in the model's units (weight, weight x s, s,
    sites). ``mclp: 0 -> 20 buildings within 5 min (+20 buildings)``;
    p-median in person-minutes; p-center in minutes.
    """
    t = _plain(threshold_min, tr)
    if objective == "mclp":
        text = tr.gettext("{before} -> {after} within {t} min (+{gain})").format(
            before=amount(before, unit, tr=tr), after=amount(after, unit, tr=tr), t=t,
            gain=amount(after - before, unit, tr=tr),
        )  # fmt: skip
    elif objective == "pmedian":
        text = tr.gettext("total response time {before} -> {after} {unit} ({change})").format(
            before=tr.number(before / 60), after=tr.number(after / 60),
            unit=_unit_minutes(unit, tr), change=tr.number((after - before) / 60, signed=True),
        )  # fmt: skip
    elif objective == "pcenter":
        text = tr.gettext("longest response time {before} -> {after}").format(
            before=minutes(before / 60, tr=tr), after=minutes(after / 60, tr=tr)
        )
    elif objective == "lscp":
        start = (
            tr.gettext("the existing stations alone leave some demand beyond it")
            if not math.isfinite(before)
            else tr.gettext("{n} sites needed before").format(n=_plain(before, tr))
        )
        text = tr.ngettext(
            "{n} new site reaches every reachable point within {t} min ({start})",
            "{n} new sites reach every reachable point within {t} min ({start})",
            int(after),
        ).format(n=_plain(after, tr), t=t, start=start)
    elif objective == "mexclp":
        text = tr.gettext(
            "expected covered demand {before} -> {after} within {t} min "
            "(units busy {busy} of the time)"
        ).format(
            before=amount(before, unit, tr=tr), after=amount(after, unit, tr=tr), t=t,
            busy=percent(busy_fraction, tr=tr),
        )  # fmt: skip
    else:
        text = tr.gettext(
            "expected survivors {before} -> {after} "
            "({unit} weighted by the survival probability of their response time)"
        ).format(
            before=tr.number(before, 1), after=tr.number(after, 1), unit=_unit_word(unit, 2, tr)
        )
    return f"{objective}: {text}"


def solution_line(
    summary: str,
    status: str,
    *,
    tr: Translator,
    seconds: float | None = None,
    adding: bool = False,
) -> str:
    """An objective summary with the solver's status, its time (s) and ``adding:`` before sites.

    ``mclp: ... (optimal; solved in 0.8 s)``; the status is the solver's word.
    """
    solved = (
        "" if seconds is None else tr.gettext("; solved in {s} s").format(s=tr.number(seconds, 1))
    )
    adds = tr.gettext(", adding:") if adding else ""
    return f"{summary} ({status}{solved}){adds}"


def traveltimes_summary(
    out: Path,
    rows: int,
    *,
    points: bool,
    reached: float,
    cutoff_min: float | None,
    median_min: float,
    tr: Translator,
) -> str:
    """The line after a travel-time table is written.

    ``rows`` road nodes (or ``points``), the share ``reached`` (0-1) within
    the cutoff (min) and the median response time of those reached (min).
    """
    what = (
        tr.ngettext("{n} point", "{n} points", rows)
        if points
        else tr.ngettext("{n} road node", "{n} road nodes", rows)
    ).format(n=tr.number(rows))
    share = percent(reached, tr=tr)
    got = (
        tr.gettext("{share} reached").format(share=share)
        if cutoff_min is None
        else tr.gettext("{share} reached within a {t} min drive").format(
            share=share, t=_plain(cutoff_min, tr)
        )
    )
    return tr.gettext("wrote {path}: {what}, {reached}; median response time {median}").format(
        path=out, what=what, reached=got, median=minutes(median_min, tr=tr)
    )


def site_lines(sites: pd.DataFrame, unit: str, *, tr: Translator) -> list[str]:
    """One line per proposed site: its order, name and what it adds (in ``unit`` and minutes)."""
    newly = [c for c in sites.columns if str(c).startswith("demand_newly_within_")]
    lines = []
    for _, row in sites.iterrows():
        parts = []
        if newly:
            threshold = str(newly[0]).removeprefix("demand_newly_within_").removesuffix("_min")
            parts.append(
                tr.gettext("+{amount} within {t} min").format(
                    amount=amount(float(row[newly[0]]), unit, tr=tr),
                    t=_plain(float(threshold), tr),
                )
            )
        if "person_minutes_saved" in sites.columns:
            parts.append(
                tr.gettext("{number} {unit} saved").format(
                    number=tr.number(float(row["person_minutes_saved"])),
                    unit=_unit_minutes(unit, tr),
                )
            )
        extra = f": {', '.join(parts)}" if parts else ""
        lines.append(f"  {row['order']}. {row['site']}{extra}")
    return lines


def _state(state: str, tr: Translator) -> str:
    return {"before": tr.gettext("before"), "after": tr.gettext("after")}.get(state, state)


def comparison_summary(
    total: pd.DataFrame,
    *,
    run_a: str,
    run_b: str,
    state_a: str,
    state_b: str,
    unit: str,
    tr: Translator,
) -> str:
    """The change between two runs (B - A) of the comparison's ``total`` row, with units.

    Shares change in percentage points, times in minutes, the Gini index in
    index points and the demand in its unit.
    """
    row = total.iloc[0]
    parts = []
    for column in (c for c in total.columns if str(c).endswith("_change")):
        name = str(column).removesuffix("_change")
        value = float(row[column])
        if name == "demand":
            change = _signed(value, tr, unit=_unit_word(unit, 2, tr))
            parts.append(tr.gettext("demand {change}").format(change=change))
        elif name == "share_unreachable":
            parts.append(tr.gettext("unreachable {change}").format(change=_points(value, tr)))
        elif name.startswith("share_within_"):
            threshold = name.removeprefix("share_within_").removesuffix("_min")
            parts.append(
                tr.gettext("within {t} min {change}").format(
                    t=_plain(float(threshold), tr), change=_points(value, tr)
                )
            )
        elif name == "median_min":
            change = _signed(value, tr, digits=1, unit="min")
            parts.append(tr.gettext("median response time {change}").format(change=change))
        elif name == "p90_min":
            change = _signed(value, tr, digits=1, unit="min")
            parts.append(tr.gettext("90th percentile {change}").format(change=change))
        elif name == "gini":
            change = _signed(value, tr, digits=3)
            parts.append(tr.gettext("Gini index {change}").format(change=change))
        else:
            parts.append(f"{name} {_signed(value, tr, digits=3)}")
    return tr.gettext("{run_a} ({state_a}) -> {run_b} ({state_b}): {changes}").format(
        run_a=run_a, state_a=_state(state_a, tr), run_b=run_b, state_b=_state(state_b, tr),
        changes=", ".join(parts),
    )  # fmt: skip


def _signed(value: float, tr: Translator, *, digits: int = 0, unit: str = "") -> str:
    """A change with its sign and unit; ``n/a`` (no unit) when a run has no value."""
    if not math.isfinite(value):
        return tr.gettext("n/a")
    text = tr.number(value, digits, signed=True)
    return f"{text} {unit}" if unit else text


def _points(change: float, tr: Translator) -> str:
    """A change of a share in percentage points: ``+5.2 percentage points``."""
    if not math.isfinite(change):
        return tr.gettext("n/a")
    return tr.gettext("{n} percentage points").format(n=tr.number(100 * change, 1, signed=True))


def scenario_weight_unit(layers: Iterable[tuple[str | Path, str, float | None]]) -> str:
    """The unit of demand layers given as (path, type, total): theirs if they share one.

    Layers that count different things (people and calls) give
    :data:`MIXED_UNIT`.
    """
    units = {weight_unit(demand_type(path, kind), total=total) for path, kind, total in layers}
    return units.pop() if len(units) == 1 else MIXED_UNIT


def _manifests(runs: Sequence[Path]) -> list[dict[str, Any]] | None:
    try:
        return [
            json.loads((Path(run) / "manifest.json").read_text(encoding="utf-8")) for run in runs
        ]
    except (OSError, ValueError):
        return None


def run_weight_unit(*runs: Path) -> str:
    """The demand unit of plan output folders, from their ``manifest.json``.

    :data:`MIXED_UNIT` when a folder has no readable manifest, or the
    layers count different things.
    """
    layers = []
    try:
        for manifest in _manifests(runs) or [{}]:
            layers += [
                (d["path"], d["type"], d.get("total")) for d in manifest["settings"]["demand"]
            ]
    except (KeyError, TypeError):
        return MIXED_UNIT
    return scenario_weight_unit(layers) if layers else MIXED_UNIT


def run_language(run: Path) -> str | None:
    """The language a plan output folder was written in (its manifest's), or None."""
    manifests = _manifests([run])
    language = manifests[0].get("language") if manifests else None
    return language if isinstance(language, str) else None


def stations_line(count: int, units: int, *, tr: Translator) -> str:
    """``stations: 12 stations with 15 units``."""
    return tr.gettext("stations: {stations} with {units}").format(
        stations=tr.ngettext("{n} station", "{n} stations", count).format(n=tr.number(count)),
        units=tr.ngettext("{n} unit", "{n} units", units).format(n=tr.number(units)),
    )


def demand_line(layers: Iterable[tuple[str, int, float, str]], *, tr: Translator) -> str:
    """The demand of each fleet, given as (fleet, points, total weight, unit).

    ``demand: ambulance 21 points, 21 buildings``.
    """
    fleets = {"ambulance": tr.gettext("ambulance"), "psychiatric": tr.gettext("psychiatric")}
    return tr.gettext("demand: {layers}").format(
        layers=", ".join(
            "{fleet} {points}, {amount}".format(
                fleet=fleets.get(fleet, fleet),
                points=tr.ngettext("{n} point", "{n} points", points).format(n=tr.number(points)),
                amount=amount(weight, unit, tr=tr),
            )
            for fleet, points, weight, unit in layers
        )
    )


def network_lines(
    summary: Mapping[str, Any], *, from_cache: bool, tr: Translator, detail: bool = False
) -> str:
    """The road network's size: nodes, edges, (km of road,) parts, OSM date, from the cache.

    ``summary`` is :meth:`planner.network.road_network.RoadNetwork.summary`;
    ``detail`` adds the km of road and the nodes outside the largest part.
    """
    s = summary
    parts = tr.ngettext(
        "{n} strongly connected part", "{n} strongly connected parts", int(s["components"])
    ).format(n=tr.number(s["components"]))
    date = tr.date(s["osm_timestamp"]) if s["osm_timestamp"] else tr.gettext("unknown date")
    if detail:
        text = tr.gettext(
            "{nodes} nodes, {edges} edges, {km} km of road; {parts}, {outside} nodes outside "
            "the largest; OSM data of {date}"
        ).format(
            nodes=tr.number(s["nodes"]), edges=tr.number(s["edges"]),
            km=tr.number(s["length_km"], 1), parts=parts,
            outside=tr.number(s["nodes_outside_largest"]), date=date,
        )  # fmt: skip
    else:
        text = tr.gettext("road network: {nodes} nodes, {edges} edges, {parts}; OSM data of {date}")
        text = text.format(
            nodes=tr.number(s["nodes"]), edges=tr.number(s["edges"]), parts=parts, date=date
        )
    return text + (tr.gettext(" (from cache)") if from_cache else "")


def scenario_line(name: str, region: str, path: Path, *, tr: Translator) -> str:
    """``scenario gotland: Gotlands län (data/regions/gotland.toml)``."""
    return tr.gettext("scenario {name}: {region} ({path})").format(
        name=name, region=region, path=path
    )


def wrote_line(path: Path, *, tr: Translator, name: str | None = None) -> str:
    """``wrote out/map.html`` (or ``wrote map: out/map.html`` with an output ``name``)."""
    if name is None:
        return tr.gettext("wrote {path}").format(path=path)
    return tr.gettext("wrote {name}: {path}").format(name=name, path=path)


#: What each output of a plan is and how to open it, by
#: :func:`planner.run.plan.write_plan`'s name, in the order they are listed.
OUTPUT_GUIDE: tuple[tuple[str, str], ...] = (
    ("map", N_("the map: open it in a browser (before/after switch, proposed sites)")),
    ("report", N_("the one-page report: open it in a browser, print it to PDF from there")),
    (
        "report_pdf",
        N_("the same report as a PDF: open it in a PDF reader, attach it to a decision paper"),
    ),
    ("xlsx", N_("coverage tables with the existing stations: open it in Excel")),
    ("after_xlsx", N_("the same with the proposed units added: open it in Excel")),
    ("optimise_sites_csv", N_("the proposed sites and what each adds (optimise.xlsx beside it)")),
    ("gpkg", N_("map layers for QGIS (after/ and optimise/ hold theirs)")),
    ("manifest", N_("what was run: inputs, settings, versions, a checksum of every output")),
)


def output_guide(paths: Mapping[str, Path], *, tr: Translator) -> list[str]:
    """Lines naming a plan's main outputs and how to open each.

    ``paths`` are :func:`planner.run.plan.write_plan`'s (output name ->
    path, with a ``manifest``); outputs it lacks are left out.
    """
    shown = [(str(paths[name]), tr.gettext(text)) for name, text in OUTPUT_GUIDE if name in paths]
    width = max(len(path) for path, _ in shown)
    folder = Path(paths["manifest"]).parent
    lines = [tr.gettext("outputs in {folder} (the main ones):").format(folder=folder)]
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
    tr: Translator,
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
    tr
        The language.
    """
    t = _plain(threshold_min, tr)
    column = f"share_within_{threshold_min:g}_min"
    demand, share_b = float(before["demand"]), float(before[column])
    median_b = float(before["median_min"])
    if stations == 0:
        found = tr.gettext(
            "Found: {region} has no ambulance station, so none of its {demand} is reached: "
            "where should the first units go?"
        ).format(region=region, demand=amount(demand, unit, tr=tr))
    else:
        found = tr.ngettext(
            "Found: with the {n} existing station, {covered} of {demand} ({share}) are within "
            "{t} min; median response time {median}.",
            "Found: with the {n} existing stations, {covered} of {demand} ({share}) are within "
            "{t} min; median response time {median}.",
            stations,
        ).format(
            n=tr.number(stations), covered=amount(share_b * demand, unit, tr=tr),
            demand=amount(demand, unit, tr=tr), share=percent(share_b, tr=tr), t=t,
            median=minutes(median_b, tr=tr),
        )  # fmt: skip
    change = _change_line(
        unit, demand, share_b, median_b, column, after=after, proposed=proposed, t=t, tr=tr
    )
    fields = {"map": map_path, "report": report_path, "excel": excel_path}
    look = (
        tr.gettext(
            "Look: open {map} (proposed sites, before/after switch) and {report} in a browser."
        )
        if excel_path is None
        else tr.gettext(
            "Look: open {map} (proposed sites, before/after switch) and {report} in a "
            "browser, {excel} in Excel."
        )
    ).format(**fields)
    return [found, change, look]


def _change_line(
    unit: str,
    demand: float,
    share_b: float,
    median_b: float,
    column: str,
    *,
    after: Mapping[str, Any] | None,
    proposed: Sequence[str],
    t: str,
    tr: Translator,
) -> str:
    """The conclusion's second line: what the proposed units change."""
    if after is None:
        return tr.gettext(
            "Change: the scenario has no [optimise] section, so no units were proposed."
        )
    if not proposed:
        return tr.gettext("Change: the optimiser proposed no new unit.")
    share_a, median_a = float(after[column]), float(after["median_min"])
    median = (
        f"{minutes(median_b, tr=tr)} -> {minutes(median_a, tr=tr)}"
        if math.isfinite(median_b)
        else minutes(median_a, tr=tr)
    )
    return tr.ngettext(
        "Change: {n} proposed unit ({sites}) brings {covered} ({share}) within {t} min, up "
        "from {before} ({share_before}); median response time {median}.",
        "Change: {n} proposed units ({sites}) bring {covered} ({share}) within {t} min, up "
        "from {before} ({share_before}); median response time {median}.",
        len(proposed),
    ).format(
        n=tr.number(len(proposed)), sites=", ".join(proposed),
        covered=amount(share_a * demand, unit, tr=tr), share=percent(share_a, tr=tr), t=t,
        before=amount(share_b * demand, unit, tr=tr), share_before=percent(share_b, tr=tr),
        median=median,
    )  # fmt: skip


def matrix_lines(
    stations: int, points: int, *, cutoff_s: float, matrix: Any | None, tr: Translator
) -> tuple[str, str]:
    """A national matrix run's two lines: its size and cutoff (min), then what was computed.

    ``matrix`` is the :class:`planner.network.matrix.TravelTimeMatrix` (None
    before it is computed: the second line is then empty). Sizes in MiB,
    the time in s.
    """
    first = tr.gettext("{stations} x {points}, cutoff {t} min").format(
        stations=tr.ngettext("{n} station", "{n} stations", stations).format(n=tr.number(stations)),
        points=tr.ngettext("{n} demand point", "{n} demand points", points).format(
            n=tr.number(points)
        ),
        t=_plain(cutoff_s / 60, tr),
    )
    if matrix is None:
        return first, ""
    mib = 2**20
    second = tr.gettext(
        "matrix: {pairs} pairs within the cutoff, {size} MiB (estimated peak {peak} MiB, "
        "{block} MiB per running block); blocks computed {computed}, loaded from the store "
        "{loaded}; {seconds} s"
    ).format(
        pairs=tr.number(matrix.nnz), size=tr.number(matrix.nbytes / mib, 2),
        peak=tr.number(matrix.peak_bytes / mib, 1), block=tr.number(matrix.block_bytes / mib, 1),
        computed=tr.number(len(matrix.computed_blocks)),
        loaded=tr.number(len(matrix.loaded_blocks)), seconds=tr.number(matrix.seconds, 1),
    )  # fmt: skip
    return first, second
