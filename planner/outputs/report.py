"""A one-page HTML report of a coverage (and optimisation) run, for a decision paper.

:func:`render_report` turns a :class:`ReportInputs` into a single
self-contained HTML page: inline CSS, plots as inline SVG drawn with
matplotlib's object-oriented API (:class:`matplotlib.figure.Figure`, never
``pyplot``, so no global backend or state is touched), no script and no
network resource. Its print CSS (``@page``) makes "Print to PDF" give a clean
A4 page.

The page holds

* the title, the sample label (if any, shown prominently), scenario, date,
  planner version, OSM data date and the OpenStreetMap attribution;
* headline figures: share of demand within each threshold, unreachable share,
  median and 90th percentile response time, before and after;
* the demand-weighted distribution of response times before and after (a
  cumulative curve: x minutes, y share of *all* demand; unreachable demand is
  stated in the text and makes the curve end below 100 %);
* the marginal-gain curve (units added vs gain, in the objective's unit);
* the table per municipality, before and after side by side with the change;
* the proposed sites in the order they were added, with lon/lat (WGS 84) and
  what each adds.

Everything "after" is optional: a coverage-only run gives a report without
those columns and sections.

Number formats (so a reader, or a test, can find a figure): shares as
``83.4%``, changes of shares as ``+5.2 pp`` (percentage points), times as
``12.3 min`` in the headline and ``12.3`` in tables whose header carries the
unit, changes of times as ``-1.2``, Gini coefficients as ``0.123``, demand
weights as ``1,234`` (whole numbers) or ``1,234.5``.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from planner import __version__, constants
from planner.analysis.coverage import validate_thresholds
from planner.errors import ParameterError
from planner.outputs.export import (
    OSM_ATTRIBUTION,
    check_writable,
    export_metadata,
    write_atomic,
    write_sidecar,
)

__all__ = [
    "ReportInputs",
    "format_change_min",
    "format_change_pp",
    "format_min",
    "format_share",
    "render_report",
    "weighted_cdf",
    "write_report",
]

#: What the gain curve's y axis shows per objective (command-line name or
#: model name): label, unit and the factor from the model's unit to the shown one.
_OBJECTIVE_AXES: dict[str, tuple[str, str, float]] = {
    "mclp": ("demand newly within {t} min", "demand weight", 1.0),
    "pmedian": ("weighted response time saved", "weight × min", 1 / 60.0),
    "pcenter": ("longest response time cut", "min", 1 / 60.0),
    "lscp": ("sites saved", "sites", 1.0),
    "mexclp": ("expected covered demand gained", "demand weight", 1.0),
    "survival": ("expected survivors gained", "weight × survival probability", 1.0),
    "maxsurvival": ("expected survivors gained", "weight × survival probability", 1.0),
}

#: Readable headers of the site-contribution columns (prefix match).
_SITE_COLUMNS = (
    ("demand_newly_within_", "Newly within {t} min"),
    ("demand_newly_reached", "Newly reached"),
    ("person_minutes_saved", "Person-min saved"),
    ("mean_minutes_saved", "Mean min saved"),
    ("expected_survivors_per_year", "Survivors / year"),
)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _frozen_array(values: Any, name: str) -> np.ndarray:
    try:
        a = np.array(values, dtype=float, copy=True).reshape(-1)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: give one number per demand point") from None
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """Everything the report shows; seconds and minutes, shares 0-1.

    Attributes
    ----------
    title
        Page title.
    label
        A label shown prominently under the title, e.g. ``"SAMPLE: ..."``;
        ``None`` for none (``metadata["sample"]`` is used if present).
    thresholds_min
        Response-time thresholds, minutes, increasing (the coverage tables'
        ``share_within_<T>_min`` columns).
    response_before_s
        Response time of each demand point with the existing stations, s
        (``inf`` where unreachable).
    weight
        Demand weight of each point (>= 0, finite).
    response_after_s
        Response time of each point with the proposed sites added, s, or
        ``None`` (then no "after" curve is drawn).
    municipality_before, municipality_after
        Coverage tables ``"municipality"`` (:mod:`planner.analysis.coverage` columns,
        keyed by ``municipality_code``) before and after; after may be ``None``.
    total_before, total_after
        Coverage tables ``"total"`` (one row) before and after.
    gain_curve
        :func:`planner.optimise.gain_curve` table, or ``None``.
    objective
        Objective name (``"mclp"``, ``"pmedian"`` ...), or ``None``.
    sites
        Proposed sites in the order they were added, with the
        :func:`planner.optimise.site_contributions` columns: a GeoDataFrame
        (any CRS; lon/lat are computed in WGS 84) or a table with ``lon`` and
        ``lat`` columns (as ``sites.csv``); ``None`` for none.
    metadata
        Run metadata: ``scenario`` (or ``name``), ``date`` (or ``created``),
        ``planner_version``, ``osm_data_date``, ``threshold_min`` (the
        optimiser's), ``settings`` (a mapping shown in the footer) ...

    Raises
    ------
    ParameterError
        If the arrays differ in length, a weight is negative or not finite, a
        response time is NaN, the thresholds are not increasing, or "after"
        tables come without the "before" ones.
    """

    title: str
    label: str | None
    thresholds_min: tuple[float, ...]
    response_before_s: np.ndarray
    weight: np.ndarray
    response_after_s: np.ndarray | None
    municipality_before: pd.DataFrame
    municipality_after: pd.DataFrame | None
    total_before: pd.DataFrame
    total_after: pd.DataFrame | None
    gain_curve: pd.DataFrame | None
    objective: str | None
    sites: pd.DataFrame | gpd.GeoDataFrame | None
    metadata: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "thresholds_min", validate_thresholds(self.thresholds_min, argument="thresholds")
        )
        before = _frozen_array(self.response_before_s, "response_before_s")
        weight = _frozen_array(self.weight, "weight")
        if before.shape != weight.shape:
            raise ParameterError(
                f"weight: {weight.size} weights for {before.size} response times; "
                "give one per demand point"
            )
        if (~np.isfinite(weight)).any() or (weight < 0).any():
            raise ParameterError("weight: demand weights must be finite and >= 0")
        object.__setattr__(self, "weight", weight)
        for name in ("response_before_s", "response_after_s"):
            values = before if name == "response_before_s" else self.response_after_s
            if values is None:
                continue
            values = _frozen_array(values, name)
            if values.shape != before.shape:
                raise ParameterError(
                    f"{name}: {values.size} response times for {before.size} demand points"
                )
            if np.isnan(values).any():
                raise ParameterError(f"{name}: NaN response time; unreachable demand must be inf")
            object.__setattr__(self, name, values)
        for table in ("municipality_before", "total_before"):
            if not isinstance(getattr(self, table), pd.DataFrame):
                raise ParameterError(f"{table}: give the coverage table as a DataFrame")
        if len(self.total_before) != 1:
            raise ParameterError("total_before: the coverage table 'total' has one row")
        if self.total_after is not None and len(self.total_after) != 1:
            raise ParameterError("total_after: the coverage table 'total' has one row")
        for threshold in self.thresholds_min:
            column = _share_column(threshold)
            for table in ("total_before", "total_after", "municipality_before"):
                frame = getattr(self, table)
                if frame is not None and column not in frame.columns:
                    raise ParameterError(
                        f"{table}: column {column!r} is missing; thresholds_min must be "
                        "the coverage run's thresholds"
                    )


def _share_column(threshold_min: float) -> str:
    return f"share_within_{threshold_min:g}_min"


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------


def weighted_cdf(response_s: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Demand-weighted cumulative distribution of response times.

    Parameters
    ----------
    response_s
        Response time per demand point, s (``inf`` where unreachable).
    weight
        Demand weight per point (>= 0).

    Returns
    -------
    minutes, share
        ``minutes``: the distinct finite response times with positive weight,
        increasing, minutes; ``share``: the share of *all* demand (unreachable
        included) with a response time of at most that, so the last value is
        ``1 - share_unreachable``. Both empty when there is no weight.
    """
    t = np.asarray(response_s, dtype=float).reshape(-1)
    w = np.asarray(weight, dtype=float).reshape(-1)
    if t.shape != w.shape:
        raise ParameterError("weight: one weight per response time is needed")
    total = float(w.sum())
    keep = np.isfinite(t) & (w > 0)
    if total <= 0 or not keep.any():
        return np.empty(0), np.empty(0)
    order = np.argsort(t[keep], kind="stable")
    minutes = t[keep][order] / 60.0
    share = np.cumsum(w[keep][order]) / total
    last = np.append(minutes[1:] != minutes[:-1], True)  # last of each run of ties
    return minutes[last], share[last]


def _clean(value: float, digits: int) -> float:
    """Round, and turn -0.0 into 0.0 so that no "-0.0" is printed."""
    rounded = round(float(value), digits)
    return 0.0 if rounded == 0 else rounded


def _missing(value: Any) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def format_share(value: Any) -> str:
    """A share 0-1 as a percentage, ``"83.4%"``; ``"–"`` when missing."""
    return "–" if _missing(value) else f"{_clean(100 * float(value), 1):.1f}%"


def format_change_pp(value: Any) -> str:
    """A change of a share as signed percentage points, ``"+5.2 pp"``."""
    return "–" if _missing(value) else f"{_clean(100 * float(value), 1):+.1f} pp"


def format_min(value: Any, *, unit: bool = False) -> str:
    """Minutes with one decimal, ``"12.3"`` (``"12.3 min"`` with ``unit``)."""
    if _missing(value):
        return "–"
    if math.isinf(float(value)):
        return "unreachable"
    text = f"{_clean(float(value), 1):.1f}"
    return f"{text} min" if unit else text


def format_change_min(value: Any, *, unit: bool = False) -> str:
    """A change in minutes, signed, ``"-1.2"`` (``"-1.2 min"`` with ``unit``)."""
    if _missing(value) or math.isinf(float(value)):
        return "–"
    text = f"{_clean(float(value), 1):+.1f}"
    return f"{text} min" if unit else text


def _format_weight(value: Any) -> str:
    if _missing(value):
        return "–"
    v = float(value)
    if abs(v - round(v)) < 1e-9:
        return f"{round(v):,}"
    return f"{v:,.1f}"


def _format_number(value: Any, digits: int) -> str:
    return "–" if _missing(value) else f"{_clean(float(value), digits):,.{digits}f}"


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------

_SVG_ID = re.compile(r'\bid="([^"]+)"')


def _svg(fig: Figure, prefix: str) -> str:
    """The figure as an inline ``<svg>`` element with ids unique to ``prefix``.

    The XML prologue, DOCTYPE, metadata and namespace URLs are dropped (the
    HTML parser puts ``<svg>`` in its namespace), and matplotlib's random
    ids are renumbered, so the output is deterministic and holds no URL.
    """
    buffer = io.StringIO()
    fig.savefig(
        buffer,
        format="svg",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    names = {old: f"{prefix}{n}" for n, old in enumerate(dict.fromkeys(_SVG_ID.findall(text)))}

    def rename(match: re.Match[str]) -> str:
        before, old, after = match.group(1), match.group(2), match.group(3)
        return f"{before}{names.get(old, old)}{after}"

    text = re.sub(r'(\bid=")([^"]+)(")', rename, text)
    text = re.sub(r'(href="#)([^"]+)(")', rename, text)
    text = re.sub(r"(url\(#)([^)]+)(\))", rename, text)
    return text.strip()


def _step_points(minutes: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CDF's points to draw: all, or an even grid when there are too many."""
    n = constants.REPORT_CDF_MAX_POINTS
    if len(minutes) <= n:
        return minutes, share
    grid = np.linspace(minutes[0], minutes[-1], n)
    return grid, share[np.searchsorted(minutes, grid, side="right") - 1]


def _cdf_figure(inputs: ReportInputs) -> str:
    fig = Figure(figsize=constants.REPORT_FIGURE_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    # "after" first, so that the dashed "before" stays visible where they coincide
    curves = [("before", inputs.response_before_s, constants.REPORT_COLOUR_BEFORE, "--")]
    if inputs.response_after_s is not None:
        curves.insert(0, ("after", inputs.response_after_s, constants.REPORT_COLOUR_AFTER, "-"))
    right = 0.0
    for name, response, colour, style in curves:
        minutes, share = weighted_cdf(response, inputs.weight)
        if minutes.size == 0:
            continue
        x, y = _step_points(minutes, share)
        ax.step(
            np.append(x[0], x), np.append(0.0, y), where="post", color=colour,
            linestyle=style, linewidth=1.4, label=name,
        )  # fmt: skip
        right = max(right, float(minutes[-1]))
    for threshold in inputs.thresholds_min:
        ax.axvline(threshold, color="#cccccc", linewidth=0.8, zorder=0)
    right = max(right, max(inputs.thresholds_min))
    ax.set_xlim(0, right * 1.03)
    ax.set_ylim(0, 1.0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("response time, min")
    ax.set_ylabel("share of demand reached")
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    if len(curves) > 1:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="lower right", frameon=False, fontsize="small")
    return _svg(fig, "cdf")


def _objective_axis(objective: str | None, metadata: Mapping[str, Any]) -> tuple[str, str, float]:
    """What the gain means, its unit, and the factor from the model's unit to it."""
    key = re.sub(r"[^a-z]", "", (objective or "").lower())
    label, unit, factor = _OBJECTIVE_AXES.get(key, ("gain in the objective", "model units", 1.0))
    threshold = metadata.get("threshold_min")
    label = label.format(
        t="T" if threshold is None or _missing(threshold) else f"{float(threshold):g}"
    )
    return label, unit, factor


def _gain_figure(inputs: ReportInputs) -> str | None:
    curve = inputs.gain_curve
    if curve is None or curve.empty or not {"k", "gain"} <= set(curve.columns):
        return None
    k = curve["k"].to_numpy(dtype=float)
    label, unit, factor = _objective_axis(inputs.objective, inputs.metadata)
    gain = curve["gain"].to_numpy(dtype=float) * factor
    finite = np.isfinite(gain)
    if not finite.any():
        return None
    fig = Figure(figsize=constants.REPORT_FIGURE_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    if "gain_of_kth" in curve.columns:
        kth = curve["gain_of_kth"].to_numpy(dtype=float) * factor
        ok = np.isfinite(kth)
        ax.bar(k[ok], kth[ok], width=0.6, color=constants.REPORT_COLOUR_GAIN, alpha=0.35,
               label="what the k-th unit adds")  # fmt: skip
    ax.plot(k[finite], gain[finite], marker="o", color=constants.REPORT_COLOUR_GAIN,
            linewidth=1.4, markersize=4, label="total gain")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("units added, k")
    ax.set_ylabel(f"gain, {unit}")
    ax.set_title(label, fontsize="small")
    ax.axhline(0, color="#999999", linewidth=0.6)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    ax.legend(loc="best", frameon=False, fontsize="small")
    return _svg(fig, "gain")


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_CSS = """
@page { size: %(page)s; margin: %(margin)gmm; }
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Arial, sans-serif; font-size: 10pt; color: #111;
       max-width: 190mm; margin: 8mm auto; line-height: 1.3; }
h1 { font-size: 16pt; margin: 0 0 2mm 0; }
h2 { font-size: 11pt; margin: 4mm 0 1.5mm 0; border-bottom: 0.4pt solid #999; }
.sample { border: 1.5pt solid #b00020; color: #b00020; font-weight: bold; padding: 1.5mm 3mm;
          margin: 1mm 0 2mm 0; font-size: 11pt; }
.meta { color: #333; font-size: 8.5pt; margin: 0; }
.meta span { margin-right: 4mm; white-space: nowrap; }
table { border-collapse: collapse; font-size: 8pt; width: 100%%; }
th, td { padding: 0.6mm 1.2mm; border-bottom: 0.3pt solid #ddd; text-align: right; }
th { background: #f2f2f2; font-weight: 600; }
th.group { text-align: center; border-left: 0.6pt solid #fff; }
td.name, th.name { text-align: left; }
td.change { color: #333; font-style: italic; }
table.headline { width: auto; font-size: 9pt; }
.plots { display: flex; gap: 4mm; align-items: flex-start; }
figure { margin: 0; flex: 1 1 0; min-width: 0; }
figure svg { width: 100%%; height: auto; display: block; }
figcaption, .note { font-size: 8pt; color: #333; margin-top: 1mm; }
footer { margin-top: 4mm; font-size: 7.5pt; color: #444; border-top: 0.4pt solid #999;
         padding-top: 1.5mm; }
@media print {
  body { margin: 0; max-width: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section, figure, tr { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _first(metadata: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = metadata.get(key)
        if value not in (None, ""):
            return value
    return None


def _header(inputs: ReportInputs) -> str:
    meta = inputs.metadata
    label = inputs.label or _first(meta, "sample")
    date = _first(meta, "date", "created") or dt.date.today().isoformat()
    items = [
        ("Scenario", _first(meta, "scenario", "name") or "–"),
        ("Date", str(date)[:10] if re.match(r"\d{4}-\d\d-\d\d", str(date)) else date),
        ("planner", _first(meta, "planner_version") or __version__),
        ("OSM data", _first(meta, "osm_data_date") or "unknown"),
    ]
    if inputs.objective:
        items.append(("Objective", inputs.objective))
    parts = [f"<h1>{_e(inputs.title)}</h1>"]
    if label:
        parts.append(f'<p class="sample">{_e(label)}</p>')
    spans = "".join(f"<span><b>{_e(k)}:</b> {_e(v)}</span>" for k, v in items)
    parts.append(f'<p class="meta">{spans}</p>')
    return "<header>" + "".join(parts) + "</header>"


def _value(table: pd.DataFrame | None, column: str) -> Any:
    if table is None or column not in table.columns:
        return None
    return table[column].iloc[0]


def _headline(inputs: ReportInputs) -> str:
    before, after = inputs.total_before, inputs.total_after
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, column: str, fmt: Any, change: Any) -> None:
        b, a = _value(before, column), _value(after, column)
        diff = None if _missing(a) or _missing(b) else float(a) - float(b)
        rows.append((label, fmt(b), fmt(a), change(diff)))

    for threshold in inputs.thresholds_min:
        row(f"Within {threshold:g} min", _share_column(threshold), format_share, format_change_pp)
    row("Unreachable", "share_unreachable", format_share, format_change_pp)

    def minutes(v: Any) -> str:
        return format_min(v, unit=True)

    def change_minutes(v: Any) -> str:
        return format_change_min(v, unit=True)

    row("Median response time", "median_min", minutes, change_minutes)
    row("90th percentile", "p90_min", minutes, change_minutes)
    has_after = after is not None
    head = '<th class="name">Share of demand / time</th><th>Before</th>'
    if has_after:
        head += "<th>After</th><th>Change</th>"
    body = []
    for label, b, a, c in rows:
        cells = f'<td class="name">{_e(label)}</td><td>{_e(b)}</td>'
        if has_after:
            cells += f'<td>{_e(a)}</td><td class="change">{_e(c)}</td>'
        body.append(f"<tr>{cells}</tr>")
    demand = _format_weight(_value(before, "demand"))
    note = (
        f"Total demand (weight): {demand}. Shares are of all demand, unreachable included; "
        "median and 90th percentile are of the demand reached. Response time = turn-out "
        "plus emergency drive time from the nearest station."
    )
    return (
        '<section id="headline"><h2>Headline figures</h2>'
        f'<table class="headline"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="note">{_e(note)}</p></section>'
    )


def _unreachable_text(inputs: ReportInputs) -> str:
    total = float(inputs.weight.sum())
    if total <= 0:
        return "No demand weight."
    parts = []
    curves = (("before", inputs.response_before_s), ("after", inputs.response_after_s))
    for name, response in curves:
        if response is None:
            continue
        unreached = float(inputs.weight[~np.isfinite(response)].sum())
        parts.append(f"{format_share(unreached / total)} {name} ({_format_weight(unreached)})")
    return (
        "Unreachable demand (no road, or no station reaches it): "
        + ", ".join(parts)
        + "; it is not plotted, so the curves end below 100%."
    )


def _plots(inputs: ReportInputs) -> str:
    cdf = _cdf_figure(inputs)
    lines = "Grey vertical lines: the thresholds."
    figures = [
        "<figure>"
        + cdf
        + "<figcaption>Response-time distribution (demand-weighted): share of all demand "
        + f"reached within x minutes. {_e(_unreachable_text(inputs))} {lines}</figcaption>"
        + "</figure>"
    ]
    gain = _gain_figure(inputs)
    if gain is not None:
        label, unit, _ = _objective_axis(inputs.objective, inputs.metadata)
        figures.append(
            "<figure>"
            + gain
            + f"<figcaption>Marginal gain: {_e(label)} ({_e(unit)}) for k units added "
            "(each k solved on "
            "its own); bars show what the k-th unit adds.</figcaption></figure>"
        )
    title = "Response times" + (" and marginal gain" if gain is not None else "")
    body = "".join(figures)
    return f'<section id="plots"><h2>{title}</h2><div class="plots">{body}</div></section>'


def _municipality_table(inputs: ReportInputs) -> str:
    before = inputs.municipality_before
    after = inputs.municipality_after
    key = "municipality_code"
    if key not in before.columns:
        raise ParameterError("municipality_before: column 'municipality_code' is missing")
    merged = before.copy()
    if after is not None:
        if key not in after.columns:
            raise ParameterError("municipality_after: column 'municipality_code' is missing")
        merged = before.merge(after, on=key, how="outer", suffixes=("", "_after"), sort=True)
        for column in ("municipality", "demand"):
            if column in merged and f"{column}_after" in merged:
                merged[column] = merged[column].where(
                    merged[column].notna(), merged[f"{column}_after"]
                )
    show_unreachable = bool(
        (before.get("share_unreachable", pd.Series(dtype=float)).fillna(0) > 0).any()
        or (
            after is not None
            and (after.get("share_unreachable", pd.Series(dtype=float)).fillna(0) > 0).any()
        )
    )
    metrics: list[tuple[str, str, Any, Any]] = []
    if show_unreachable:
        metrics.append(("Unreachable", "share_unreachable", format_share, format_change_pp))
    for threshold in inputs.thresholds_min:
        metrics.append(
            (f"Within {threshold:g} min", _share_column(threshold), format_share, format_change_pp)
        )
    metrics.append(("Median, min", "median_min", format_min, format_change_min))
    metrics.append(("90th pct, min", "p90_min", format_min, format_change_min))
    has_after = after is not None
    span = 3 if has_after else 1
    top = '<th class="name" rowspan="2">Municipality</th><th rowspan="2">Demand</th>'
    sub = ""
    for label, *_ in metrics:
        top += f'<th class="group" colspan="{span}">{_e(label)}</th>'
        sub += "<th>before</th><th>after</th><th>change</th>" if has_after else "<th>now</th>"
    rows = []
    for _, r in merged.iterrows():
        name = r.get("municipality")
        code = r[key]
        label = f"{name} ({code})" if not _missing_text(name) and name != code else str(code)
        cells = [f'<td class="name">{_e(label)}</td><td>{_e(_format_weight(r.get("demand")))}</td>']
        for _, column, fmt, change in metrics:
            b = r.get(column)
            cells.append(f"<td>{_e(fmt(b))}</td>")
            if has_after:
                a = r.get(f"{column}_after")
                diff = None if _missing(a) or _missing(b) else float(a) - float(b)
                cells.append(f'<td>{_e(fmt(a))}</td><td class="change">{_e(change(diff))}</td>')
        rows.append(f'<tr data-code="{_e(code)}">{"".join(cells)}</tr>')
    note = (
        "Shares are of each municipality's demand, unreachable included; times are of "
        "the demand reached. Change = after - before."
    )
    return (
        '<section id="municipalities"><h2>Per municipality</h2>'
        f"<table><thead><tr>{top}</tr><tr>{sub}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="note">{_e(note) if has_after else ""}</p></section>'
    )


def _missing_text(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _site_lonlat(sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    if isinstance(sites, gpd.GeoDataFrame) and sites.geometry.name in sites.columns:
        geometry = sites.geometry
        if geometry.crs is not None:
            geometry = geometry.to_crs(constants.WGS84)
        points = geometry.representative_point()
        return points.x.to_numpy(), points.y.to_numpy()
    if {"lon", "lat"} <= set(sites.columns):
        return sites["lon"].to_numpy(dtype=float), sites["lat"].to_numpy(dtype=float)
    return None


def _sites_table(inputs: ReportInputs) -> str | None:
    sites = inputs.sites
    if sites is None or len(sites) == 0:
        return None
    lonlat = _site_lonlat(sites)
    name_column = "site" if "site" in sites.columns else "name" if "name" in sites.columns else None
    columns: list[tuple[str, str]] = []
    for prefix, header in _SITE_COLUMNS:
        for column in sites.columns:
            if column.startswith(prefix):
                t = column.removeprefix("demand_newly_within_").removesuffix("_min")
                columns.append((column, header.format(t=t)))
    head = "<th>Order</th>" + '<th class="name">Site</th>'
    if lonlat is not None:
        head += "<th>Lon</th><th>Lat</th>"
    head += "".join(f"<th>{_e(h)}</th>" for _, h in columns)
    rows = []
    for i, (_, r) in enumerate(sites.iterrows()):
        order = r.get("order", i + 1)
        cells = f"<td>{_e(order)}</td>"
        cells += f'<td class="name">{_e(r[name_column] if name_column else "–")}</td>'
        if lonlat is not None:
            cells += f"<td>{lonlat[0][i]:.6f}</td><td>{lonlat[1][i]:.6f}</td>"
        for column, _ in columns:
            v = r[column]
            if column == "expected_survivors_per_year":
                text = _format_number(v, 3)
            elif column == "mean_minutes_saved":
                text = format_min(v)
            elif column == "person_minutes_saved":
                text = _format_number(v, 0)
            else:
                text = _format_weight(v)
            cells += f"<td>{_e(text)}</td>"
        rows.append(f"<tr>{cells}</tr>")
    note = (
        "Sites in the order they were added; each row is what the site adds on top of "
        "the existing stations and the sites above it (demand weight; minutes). "
        "Coordinates WGS 84 (EPSG:4326)."
    )
    return (
        '<section id="sites"><h2>Proposed sites</h2>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="note">{_e(note)}</p></section>'
    )


def _footer(inputs: ReportInputs) -> str:
    settings = inputs.metadata.get("settings")
    parts = [f"<p>{_e(OSM_ATTRIBUTION)}.</p>"]
    if isinstance(settings, Mapping) and settings:
        text = "; ".join(f"{k}: {v}" for k, v in settings.items())
        parts.append(f"<p>Settings: {_e(text)}</p>")
    parts.append(
        f"<p>Made with planner {_e(_first(inputs.metadata, 'planner_version') or __version__)}. "
        "Times are modelled from the road network, not measured.</p>"
    )
    return "<footer>" + "".join(parts) + "</footer>"


def _check_consistent(inputs: ReportInputs) -> None:
    demand = _value(inputs.total_before, "demand")
    total = float(inputs.weight.sum())
    if not _missing(demand) and not math.isclose(float(demand), total, rel_tol=1e-6, abs_tol=1e-6):
        raise ParameterError(
            f"weight: the demand weights add up to {total:g} but total_before has demand "
            f"{float(demand):g}; give the arrays and tables of the same run"
        )


def render_report(inputs: ReportInputs) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no URL).

    Parameters
    ----------
    inputs
        Tables, per-point response times (s) and metadata of one run.

    Returns
    -------
    str
        The HTML document (UTF-8 text).

    Raises
    ------
    ParameterError
        If the weights do not add up to the total table's demand.
    """
    _check_consistent(inputs)
    css = _CSS % {"page": constants.REPORT_PAGE_SIZE, "margin": constants.REPORT_PAGE_MARGIN_MM}
    sections = [_header(inputs), _headline(inputs), _plots(inputs), _municipality_table(inputs)]
    sites = _sites_table(inputs)
    if sites is not None:
        sections.append(sites)
    sections.append(_footer(inputs))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="generator" content="planner {_e(__version__)}">\n'
        f"<title>{_e(inputs.title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def write_report(inputs: ReportInputs, path: Path, *, overwrite: bool = False) -> Path:
    """Write the report as an HTML file, atomically, with a ``.meta.json`` sidecar.

    Parameters
    ----------
    inputs
        What to report.
    path
        Target file (``.html``); its folder must exist.
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
        If the folder does not exist or the suffix is not ``.html``/``.htm``.
    """
    path = check_writable(Path(path), overwrite=overwrite)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"out: {path.name}: the report is written as .html")
    text = render_report(inputs)

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_atomic(path, write)
    write_sidecar(path, export_metadata(**{**inputs.metadata, "report_title": inputs.title}))
    return path
