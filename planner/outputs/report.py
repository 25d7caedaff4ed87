"""A report of a coverage (and optimisation) run for a decision paper: HTML and PDF.

:func:`render_report` turns a :class:`ReportInputs` into a single
self-contained HTML page in Swedish or English (``language``,
:mod:`planner.i18n`; ``<html lang>`` says which): inline CSS, plots and a
static map as inline SVG drawn with matplotlib's object-oriented API
(:class:`matplotlib.figure.Figure`, never ``pyplot``, so no global backend or
state is touched), no script and no network resource. Its print CSS
(``@page``) gives clean A4 pages; :func:`write_report` also writes it as a
PDF with WeasyPrint (:func:`pdf_unavailable` says why it cannot, where the
libraries it needs are missing).

The page holds

* the title, the sample label (if any, shown prominently), scenario, date,
  planner version, OSM data date and the OpenStreetMap attribution;
* headline figures: share of demand within each threshold, unreachable share,
  median and 90th percentile response time, before and after, and the
  expected extra survivors per year of the proposed sites, each explained in
  one sentence;
* a static map before and after (response time per hexagon of road nodes,
  boundaries, stations, proposed sites; no background tiles), when
  :attr:`ReportInputs.map_layers` is given;
* the demand-weighted distribution of response times before and after (a
  cumulative curve: x minutes, y share of *all* demand; unreachable demand is
  stated in the text and makes the curve end below 100 %);
* the marginal-gain curve (units added vs gain, in the objective's unit);
* the table per municipality, before and after side by side with the change
  (split into several tables of at most
  :data:`~planner.constants.REPORT_TABLE_MAX_METRICS` metrics, so that each
  fits the printed page);
* the proposed sites in the order they were added, with their nearest
  locality and municipality, lon/lat (WGS 84) and what each adds, every
  column explained;
* the settings, in minutes.

Everything "after" is optional: a coverage-only run gives a report without
those columns and sections.

Number formats (so a reader, or a test, can find a figure), English / Swedish
(Babel, CLDR; the Swedish spaces are U+00A0): shares ``83.4%`` / ``83,4 %``,
changes of shares ``+5.2 pp`` / ``+5,2 p.e.`` (percentage points), times
``12.3 min`` / ``12,3 min`` in the headline and ``12.3`` / ``12,3`` in tables
whose header carries the unit, changes of times ``-1.2`` / ``-1,2``, Gini
coefficients ``0.123`` / ``0,123``, demand weights ``1,234`` / ``1 234``
(whole numbers) or ``1,234.5`` / ``1 234,5``.
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
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from planner import __version__, constants
from planner.analysis.coverage import validate_thresholds
from planner.errors import DataError, ParameterError
from planner.i18n import DEFAULT_LANGUAGE, N_, Language, Translator, translator
from planner.outputs.export import (
    OSM_ATTRIBUTION,
    check_writable,
    export_metadata,
    write_atomic,
    write_sidecar,
)
from planner.outputs.labels import simulation_label, simulation_value

if TYPE_CHECKING:  # the map module (folium) is loaded only when a static map is drawn
    from planner.outputs.maps import MapLayers

__all__ = [
    "ReportInputs",
    "format_change_min",
    "format_change_pp",
    "format_min",
    "format_share",
    "pdf_unavailable",
    "render_report",
    "weighted_cdf",
    "write_report",
]

#: What the gain curve's y axis shows per objective (command-line name or
#: model name): label, unit and the factor from the model's unit to the shown one.
_OBJECTIVE_AXES: dict[str, tuple[str, str, float]] = {
    "mclp": (N_("demand newly within {t} min"), N_("demand weight"), 1.0),
    "pmedian": (N_("weighted response time saved"), N_("weight × min"), 1 / 60.0),
    "pcenter": (N_("longest response time cut"), "min", 1 / 60.0),
    "lscp": (N_("sites saved"), N_("sites"), 1.0),
    "mexclp": (N_("expected covered demand gained"), N_("demand weight"), 1.0),
    "survival": (N_("expected survivors gained"), N_("weight × survival probability"), 1.0),
    "maxsurvival": (N_("expected survivors gained"), N_("weight × survival probability"), 1.0),
    "expected": (N_("expected demand within {t} min gained"), N_("demand weight"), 1.0),
}

#: The objectives in words (the command-line name follows in brackets).
_OBJECTIVE_NAMES = {
    "mclp": N_("most demand within the target time"),
    "pmedian": N_("shortest mean response time"),
    "pcenter": N_("shortest longest response time"),
    "lscp": N_("fewest units reaching everyone"),
    "mexclp": N_("most demand covered, counting busy units"),
    "survival": N_("most cardiac-arrest survivors"),
    "expected": N_("most demand expected within the target time, with uncertain drive times"),
}

#: Headers of the site-contribution columns (prefix match) and one sentence on each.
_SITE_COLUMNS = (
    (
        "demand_newly_within_",
        N_("Newly within {t} min"),
        N_(
            "Newly within {t} min: demand that no station reached within {t} minutes and "
            "this site does."
        ),
    ),
    (
        "demand_newly_reached",
        N_("Newly reached"),
        N_("Newly reached: demand that no station could reach at all and this site reaches."),
    ),
    (
        "person_minutes_saved",
        N_("Person-min saved"),
        N_(
            "Person-min saved: the minutes of response time saved, added up over the demand "
            "(a person helped 3 minutes sooner counts 3)."
        ),
    ),
    (
        "mean_minutes_saved",
        N_("Mean min saved"),
        N_("Mean min saved: the minutes saved per person whose response time gets shorter."),
    ),
    (
        "expected_survivors_per_year",
        N_("Survivors / year"),
        N_(
            "Survivors / year: expected extra survivors of out-of-hospital cardiac arrest per "
            "year, from the shorter response times (survival by response time, De Maio et al. "
            "2003, with 55 cardiac arrests per 100,000 people a year as in the Swedish "
            "resuscitation register)."
        ),
    ),
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
        optimiser's), ``settings`` (a mapping shown in the footer, seconds
        shown as minutes) ...
    map_layers
        The map's layers (:class:`planner.outputs.maps.MapLayers`): the
        static before/after map is drawn from their road nodes (the
        response-time surface), boundaries, stations and proposed sites;
        ``None`` for no map.
    simulation
        The simulated figures before and after with their confidence
        intervals and paired difference
        (:func:`planner.simulate.states.summary_comparison`), or None for no
        simulation section.
    simulation_figures
        Which of its figures the report shows, in order
        (:func:`planner.simulate.states.headline_figures`).
    simulation_replications, simulation_days
        The replications, and the days each simulated, named in the text.
    simulation_speed_profile, simulation_drive_time_cv
        The speed profile whose bands the simulated drives followed, and the
        coefficient of variation of the simulated drive times (None: none).

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
    map_layers: MapLayers | None = None
    simulation: pd.DataFrame | None = None
    simulation_figures: tuple[str, ...] = ()
    simulation_replications: int = 0
    simulation_days: float = 0.0
    simulation_speed_profile: str | None = None
    simulation_drive_time_cv: float | None = None

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


def _missing(value: Any) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def format_share(value: Any, *, language: Language = DEFAULT_LANGUAGE) -> str:
    """A share 0-1 as a percentage, ``"83.4%"`` / ``"83,4 %"``; ``"–"`` when missing."""
    return translator(language).percent(value)


def format_change_pp(value: Any, *, language: Language = DEFAULT_LANGUAGE) -> str:
    """A change of a share as signed percentage points, ``"+5.2 pp"`` / ``"+5,2 p.e."``."""
    return translator(language).points(value)


def format_min(value: Any, *, unit: bool = False, language: Language = DEFAULT_LANGUAGE) -> str:
    """Minutes with one decimal, ``"12.3"`` (``"12.3 min"`` with ``unit``); inf: unreachable."""
    return translator(language).minutes(value, unit=unit)


def format_change_min(
    value: Any, *, unit: bool = False, language: Language = DEFAULT_LANGUAGE
) -> str:
    """A change in minutes, signed, ``"-1.2"`` (``"-1.2 min"`` with ``unit``)."""
    return translator(language).minutes(value, unit=unit, signed=True)


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


def _percent_axis(ax: Any, tr: Translator) -> None:
    """The y axis as shares 0-1 shown in percent, the locale's way."""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: tr.percent(v, 0)))


def _number_axis(axis: Any, tr: Translator) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: tr.number(v, 0 if v == int(v) else 1)))


def _cdf_figure(inputs: ReportInputs, tr: Translator) -> str:
    fig = Figure(figsize=constants.REPORT_FIGURE_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    # "after" first, so that the dashed "before" stays visible where they coincide
    curves = [
        (tr.gettext("before"), inputs.response_before_s, constants.REPORT_COLOUR_BEFORE, "--")
    ]
    if inputs.response_after_s is not None:
        curves.insert(
            0, (tr.gettext("after"), inputs.response_after_s, constants.REPORT_COLOUR_AFTER, "-")
        )
    right = 0.0
    for name, response, colour, style in curves:
        minutes, share = weighted_cdf(response, inputs.weight)
        if minutes.size == 0:
            continue
        x, y = _step_points(minutes, share)
        ax.step(
            np.append(x[0], x),
            np.append(0.0, y),
            where="post",
            color=colour,
            linestyle=style,
            linewidth=1.4,
            label=name,
        )
        right = max(right, float(minutes[-1]))
    for threshold in inputs.thresholds_min:
        ax.axvline(threshold, color="#cccccc", linewidth=0.8, zorder=0)
    right = max(right, max(inputs.thresholds_min))
    ax.set_xlim(0, right * 1.03)
    ax.set_ylim(0, 1.0)
    _percent_axis(ax, tr)
    _number_axis(ax.xaxis, tr)
    ax.set_xlabel(tr.gettext("response time, min"))
    ax.set_ylabel(tr.gettext("share of demand reached"))
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    if len(curves) > 1:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="lower right", frameon=False, fontsize="small")
    return _svg(fig, "cdf")


def _objective_axis(
    objective: str | None, metadata: Mapping[str, Any], tr: Translator
) -> tuple[str, str, float]:
    """What the gain means, its unit, and the factor from the model's unit to it."""
    key = re.sub(r"[^a-z]", "", (objective or "").lower())
    fallback = (N_("gain in the objective"), N_("model units"), 1.0)
    label, unit, factor = _OBJECTIVE_AXES.get(key, fallback)
    threshold = metadata.get("threshold_min")
    t = "T" if threshold is None or _missing(threshold) else tr.number(float(threshold), 0)
    return tr.gettext(label).format(t=t), tr.gettext(unit), factor


def _gain_figure(inputs: ReportInputs, tr: Translator) -> str | None:
    curve = inputs.gain_curve
    if curve is None or curve.empty or not {"k", "gain"} <= set(curve.columns):
        return None
    k = curve["k"].to_numpy(dtype=float)
    label, unit, factor = _objective_axis(inputs.objective, inputs.metadata, tr)
    gain = curve["gain"].to_numpy(dtype=float) * factor
    finite = np.isfinite(gain)
    if not finite.any():
        return None
    fig = Figure(figsize=constants.REPORT_FIGURE_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    if "gain_of_kth" in curve.columns:
        kth = curve["gain_of_kth"].to_numpy(dtype=float) * factor
        ok = np.isfinite(kth)
        ax.bar(
            k[ok],
            kth[ok],
            width=0.6,
            color=constants.REPORT_COLOUR_GAIN,
            alpha=0.35,
            label=tr.gettext("what the k-th unit adds"),
        )
    ax.plot(
        k[finite],
        gain[finite],
        marker="o",
        color=constants.REPORT_COLOUR_GAIN,
        linewidth=1.4,
        markersize=4,
        label=tr.gettext("total gain"),
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _number_axis(ax.yaxis, tr)
    ax.set_xlabel(tr.gettext("units added, k"))
    ax.set_ylabel(tr.gettext("gain, {unit}").format(unit=unit))
    ax.set_title(label, fontsize="small")
    ax.axhline(0, color="#999999", linewidth=0.6)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.6)
    ax.legend(loc="best", frameon=False, fontsize="small")
    return _svg(fig, "gain")


# ---------------------------------------------------------------------------
# The static map (no tiles)
# ---------------------------------------------------------------------------


def _rings(geometry: Any) -> list[np.ndarray]:
    """Exterior rings (x, y arrays) of the polygons in a geometry."""
    parts = getattr(geometry, "geoms", [geometry])
    return [np.asarray(p.exterior.coords) for p in parts if hasattr(p, "exterior")]


def _scale_bar(ax: Any, tr: Translator) -> None:
    """A scale bar of a round length (1, 2, 5 × 10^n m) at the lower left."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    step = 10 ** math.floor(math.log10(target))
    length = max(m * step for m in (1, 2, 5) if m * step <= target)
    x, y = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.05
    ax.plot([x, x + length], [y, y], color="#111111", linewidth=2, solid_capstyle="butt")
    text = f"{tr.number(length / 1000, 0 if length >= 1000 else 1)} km"
    ax.text(x + length / 2, y + (y1 - y0) * 0.02, text, ha="center", va="bottom", fontsize=6)


def _map_panel(
    ax: Any, layers: MapLayers, nodes: gpd.GeoDataFrame, cell_m: float, crs: str, with_sites: bool
) -> None:
    """One state on ``ax``: surface hexagons, boundaries, stations, proposed sites (in ``crs``)."""
    from matplotlib.collections import PolyCollection

    from planner.outputs.maps import classify_times, response_surface, time_classes

    limits = layers.thresholds_min
    colours = [c for c, _ in time_classes(limits)] + [constants.MAP_UNREACHABLE_COLOUR]
    cells = response_surface(nodes, cell_m=cell_m).to_crs(crs)
    classes = classify_times(cells["median_min"].to_numpy(dtype=float), limits)
    polygons = [ring for g in cells.geometry for ring in _rings(g)]
    ax.add_collection(
        PolyCollection(
            polygons,
            facecolors=[colours[c] for c in classes],
            edgecolors="none",
            alpha=0.85,
            zorder=1,
        )
    )
    if layers.boundaries is not None and not layers.boundaries.empty:
        for geometry in layers.boundaries.to_crs(crs).geometry:
            for ring in _rings(geometry):
                ax.plot(ring[:, 0], ring[:, 1], color="#333333", linewidth=0.8, zorder=2)
    if layers.stations is not None and not layers.stations.empty:
        points = layers.stations.to_crs(crs)
        fleet = points["fleet"] if "fleet" in points else pd.Series("", index=points.index)
        ax.scatter(
            points.geometry.x,
            points.geometry.y,
            s=30,
            zorder=3,
            facecolors="white",
            linewidths=1.8,
            marker="o",
            edgecolors=[
                constants.MAP_FLEET_COLOURS.get(str(f), constants.MAP_OTHER_FLEET_COLOUR)
                for f in fleet
            ],
        )
    if with_sites and layers.proposed_sites is not None and not layers.proposed_sites.empty:
        sites = layers.proposed_sites.to_crs(crs)
        ax.scatter(
            sites.geometry.x,
            sites.geometry.y,
            s=70,
            marker="*",
            zorder=4,
            c=constants.MAP_PROPOSED_COLOUR,
            edgecolors="#222222",
            linewidths=0.6,
        )
        orders = sites["order"] if "order" in sites else range(1, len(sites) + 1)
        for x, y, order in zip(sites.geometry.x, sites.geometry.y, orders, strict=True):
            ax.annotate(
                str(order),
                (x, y),
                xytext=(4, 3),
                textcoords="offset points",
                fontsize=6,
                fontweight="bold",
                zorder=5,
            )


def _map_figure(inputs: ReportInputs, tr: Translator) -> str | None:
    """Before and after side by side: the response-time surface, stations and new sites."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from planner.network.crs import metric_crs_of
    from planner.outputs.maps import choose_cell_size, time_classes

    layers = inputs.map_layers
    if layers is None or layers.road_nodes is None or layers.road_nodes.empty:
        return None
    states = [(tr.gettext("Before"), layers.road_nodes, False)]
    if layers.road_nodes_after is not None:
        states.append((tr.gettext("After, with the proposed sites"), layers.road_nodes_after, True))
    crs = metric_crs_of(layers.road_nodes)
    cell = choose_cell_size(*(nodes for _, nodes, _ in states))
    fig = Figure(figsize=constants.REPORT_MAP_SIZE_IN, layout="constrained")
    axes = fig.subplots(1, len(states), squeeze=False)[0]
    boxes = [layers.road_nodes.to_crs(crs).total_bounds]
    if layers.boundaries is not None and not layers.boundaries.empty:
        boxes.append(layers.boundaries.to_crs(crs).total_bounds)
    box = np.asarray(boxes)
    x0, y0 = box[:, 0].min(), box[:, 1].min()
    x1, y1 = box[:, 2].max(), box[:, 3].max()
    pad = max(x1 - x0, y1 - y0) * 0.04 + cell
    for ax, (title, nodes, with_sites) in zip(axes, states, strict=True):
        _map_panel(ax, layers, nodes, cell, crs, with_sites or len(states) == 1)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize="small")
        _scale_bar(ax, tr)
    handles: list[Any] = [
        Patch(facecolor=c, label=label)
        for c, label in time_classes(layers.thresholds_min, language=tr.language)
    ]
    handles.append(
        Patch(facecolor=constants.MAP_UNREACHABLE_COLOUR, label=tr.gettext("not reachable"))
    )
    handles.append(
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markerfacecolor="white",
            markeredgewidth=1.8,
            color=constants.MAP_FLEET_COLOURS["ambulance"],
            label=tr.gettext("station"),
        )
    )
    if layers.proposed_sites is not None:
        handles.append(
            Line2D(
                [],
                [],
                marker="*",
                linestyle="",
                markersize=9,
                label=tr.gettext("proposed new site"),
                color=constants.MAP_PROPOSED_COLOUR,
                markeredgecolor="#222222",
            )
        )
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 6),
        fontsize=6,
        frameon=False,
    )
    return _svg(fig, "map")


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_CSS = """
@page { size: %(page)s; margin: %(margin)gmm; }
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; font-size: 10pt;
       color: #111; max-width: 190mm; margin: 8mm auto; line-height: 1.3; }
h1 { font-size: 16pt; margin: 0 0 2mm 0; }
h2 { font-size: 11pt; margin: 4mm 0 1.5mm 0; border-bottom: 0.4pt solid #999; }
.sample { border: 1.5pt solid #b00020; color: #b00020; font-weight: bold; padding: 1.5mm 3mm;
          margin: 1mm 0 2mm 0; font-size: 11pt; }
.meta { color: #333; font-size: 8.5pt; margin: 0; }
.meta span { margin-right: 4mm; white-space: nowrap; }
table { border-collapse: collapse; font-size: 7.5pt; width: 100%%; margin-bottom: 2mm; }
th, td { padding: 0.5mm 1mm; border-bottom: 0.3pt solid #ddd; text-align: right; }
td { white-space: nowrap; }
td.name, td.explain { white-space: normal; }
th { background: #f2f2f2; font-weight: 600; }
th.group { text-align: center; border-left: 0.6pt solid #fff; }
td.name, th.name { text-align: left; }
td.change { color: #333; font-style: italic; }
td.explain { text-align: left; color: #333; font-size: 7.5pt; width: 45%%; }
table.headline { font-size: 8.5pt; }
.plots { display: flex; gap: 4mm; align-items: flex-start; }
figure { margin: 0; flex: 1 1 0; min-width: 0; }
figure svg { width: 100%%; height: auto; display: block; }
figcaption, .note { font-size: 8pt; color: #333; margin-top: 1mm; }
ul.note { margin: 1mm 0 0 0; padding-left: 4mm; }
footer { margin-top: 4mm; font-size: 7.5pt; color: #444; border-top: 0.4pt solid #999;
         padding-top: 1.5mm; }
@media print {
  body { margin: 0; max-width: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section, figure, tr { break-inside: avoid; page-break-inside: avoid; }
  section#municipalities { break-inside: auto; page-break-inside: auto; }
  thead { display: table-header-group; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _tag(tag: str, text: str, attributes: str = "") -> str:
    """``<tag attributes>text</tag>`` with the text escaped (headers, titles)."""
    return f"<{tag}{' ' + attributes if attributes else ''}>{_e(text)}</{tag}>"


def _first(metadata: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = metadata.get(key)
        if value not in (None, ""):
            return value
    return None


def _header(inputs: ReportInputs, tr: Translator) -> str:
    meta = inputs.metadata
    label = inputs.label or _first(meta, "sample")
    date = _first(meta, "date", "created") or dt.date.today().isoformat()
    items = [
        (tr.gettext("Scenario"), _first(meta, "scenario", "name") or "–"),
        (tr.gettext("Date"), tr.date(str(date))),
        ("planner", _first(meta, "planner_version") or __version__),
        (tr.gettext("OSM data"), tr.date(str(_first(meta, "osm_data_date") or "–"))),
    ]
    if inputs.objective:
        name = _OBJECTIVE_NAMES.get(inputs.objective.lower())
        words = tr.gettext(name) if name else ""
        shown = f"{words} ({inputs.objective})" if words else inputs.objective
        items.append((tr.gettext("Objective"), shown))
    parts = [f"<h1>{_e(inputs.title)}</h1>"]
    if label:
        parts.append(f'<p class="sample">{_e(label)}</p>')
    spans = " ".join(f"<span><b>{_e(k)}:</b> {_e(v)}</span>" for k, v in items)
    parts.append(f'<p class="meta">{spans}</p>')
    return "<header>" + "".join(parts) + "</header>"


def _value(table: pd.DataFrame | None, column: str) -> Any:
    if table is None or column not in table.columns:
        return None
    return table[column].iloc[0]


def _survivors(inputs: ReportInputs) -> float | None:
    sites = inputs.sites
    if sites is None or "expected_survivors_per_year" not in getattr(sites, "columns", ()):
        return None
    values = pd.to_numeric(sites["expected_survivors_per_year"], errors="coerce")
    return float(values.sum()) if values.notna().any() else None


def _headline(inputs: ReportInputs, tr: Translator) -> str:
    before, after = inputs.total_before, inputs.total_after
    rows: list[tuple[str, str, str, str, str]] = []

    def row(label: str, column: str, fmt: Any, change: Any, explain: str) -> None:
        b, a = _value(before, column), _value(after, column)
        diff = None if _missing(a) or _missing(b) else float(a) - float(b)
        rows.append((label, fmt(b), fmt(a), change(diff), explain))

    for threshold in inputs.thresholds_min:
        t = tr.number(threshold, 0 if float(threshold).is_integer() else 1)
        row(
            tr.gettext("Within {t} min").format(t=t), _share_column(threshold), tr.percent,
            tr.points,
            tr.gettext(
                "The share of all demand that an ambulance reaches within {t} minutes of the "
                "call."
            ).format(t=t),
        )  # fmt: skip
    row(
        tr.gettext("Unreachable"), "share_unreachable", tr.percent, tr.points,
        tr.gettext(
            "The share of demand that no station reaches by road: no road nearby, a road cut "
            "off from the network, or no station."
        ),
    )  # fmt: skip

    def signed(v: Any) -> str:
        return tr.minutes(v, signed=True)

    row(
        tr.gettext("Median response time"), "median_min", tr.minutes, signed,
        tr.gettext("Half of the demand reached is reached within this time."),
    )  # fmt: skip
    row(
        tr.gettext("90th percentile"), "p90_min", tr.minutes, signed,
        tr.gettext("Nine in ten of the demand reached are reached within this time."),
    )  # fmt: skip
    has_after = after is not None
    survivors = _survivors(inputs) if has_after else None
    if survivors is not None:
        rows.append(
            (
                tr.gettext("Expected extra survivors per year"), "", "",
                tr.number(survivors, 2 if abs(survivors) >= 1 else 3, signed=True),
                tr.gettext(
                    "Expected extra survivors of out-of-hospital cardiac arrest per year with "
                    "the proposed sites, from the shorter response times (De Maio et al. 2003)."
                ),
            )
        )  # fmt: skip
    head = _tag("th", tr.gettext("Share of demand / time"), 'class="name"')
    head += _tag("th", tr.gettext("Before"))
    if has_after:
        head += _tag("th", tr.gettext("After")) + _tag("th", tr.gettext("Change"))
    head += _tag("th", tr.gettext("What it means"), 'class="name"')
    body = []
    for label, b, a, c, explain in rows:
        cells = f'<td class="name">{_e(label)}</td><td>{_e(b)}</td>'
        if has_after:
            cells += f'<td>{_e(a)}</td><td class="change">{_e(c)}</td>'
        cells += f'<td class="explain">{_e(explain)}</td>'
        body.append(f"<tr>{cells}</tr>")
    note = tr.gettext(
        "Total demand (weight): {demand}. Response time = turn-out time plus emergency drive "
        "time from the nearest station."
    ).format(demand=tr.weight(_value(before, "demand")))
    title = _tag("h2", tr.gettext("Headline figures"))
    return (
        f'<section id="headline">{title}'
        f'<table class="headline"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="note">{_e(note)}</p></section>'
    )


def _unreachable_text(inputs: ReportInputs, tr: Translator) -> str:
    total = float(inputs.weight.sum())
    if total <= 0:
        return tr.gettext("No demand weight.")
    parts = []
    curves = (
        (tr.gettext("before"), inputs.response_before_s),
        (tr.gettext("after"), inputs.response_after_s),
    )
    for name, response in curves:
        if response is None:
            continue
        unreached = float(inputs.weight[~np.isfinite(response)].sum())
        parts.append(f"{tr.percent(unreached / total)} {name} ({tr.weight(unreached)})")
    return tr.gettext(
        "Unreachable demand (no road, or no station reaches it): {parts}; it is not plotted, "
        "so the curves end below 100%."
    ).format(parts=", ".join(parts))


def _plots(inputs: ReportInputs, tr: Translator) -> str:
    cdf = _cdf_figure(inputs, tr)
    caption = tr.gettext(
        "Response-time distribution (demand-weighted): the share of all demand reached within "
        "x minutes. {unreachable} Grey vertical lines: the thresholds."
    ).format(unreachable=_unreachable_text(inputs, tr))
    figures = [f"<figure>{cdf}<figcaption>{_e(caption)}</figcaption></figure>"]
    gain = _gain_figure(inputs, tr)
    if gain is not None:
        label, unit, _ = _objective_axis(inputs.objective, inputs.metadata, tr)
        caption = tr.gettext(
            "Marginal gain: {label} ({unit}) for k units added (each k solved on its own); "
            "bars show what the k-th unit adds."
        ).format(label=label, unit=unit)
        figures.append(f"<figure>{gain}<figcaption>{_e(caption)}</figcaption></figure>")
    title = (
        tr.gettext("Response times and marginal gain")
        if gain is not None
        else tr.gettext("Response times")
    )
    body = "".join(figures)
    return f'<section id="plots"><h2>{_e(title)}</h2><div class="plots">{body}</div></section>'


def _map_section(inputs: ReportInputs, tr: Translator) -> str | None:
    figure = _map_figure(inputs, tr)
    if figure is None:
        return None
    caption = tr.gettext(
        "Map: the median response time of the road nodes in each hexagon, before and after "
        "the proposed sites (numbered stars), with the stations (circles); drawn from "
        "OpenStreetMap roads without a background map (© OpenStreetMap contributors, ODbL)."
    )
    title = _tag("h2", tr.gettext("Map: before and after"))
    return (
        f'<section id="map">{title}'
        f"<figure>{figure}<figcaption>{_e(caption)}</figcaption></figure></section>"
    )


def _merged_municipalities(inputs: ReportInputs) -> pd.DataFrame:
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
    return merged


def _municipality_metrics(inputs: ReportInputs, tr: Translator) -> list[tuple[str, str, Any, Any]]:
    before, after = inputs.municipality_before, inputs.municipality_after
    show_unreachable = bool(
        (before.get("share_unreachable", pd.Series(dtype=float)).fillna(0) > 0).any()
        or (
            after is not None
            and (after.get("share_unreachable", pd.Series(dtype=float)).fillna(0) > 0).any()
        )
    )
    metrics: list[tuple[str, str, Any, Any]] = []
    if show_unreachable:
        metrics.append((tr.gettext("Unreachable"), "share_unreachable", tr.percent, tr.points))
    for threshold in inputs.thresholds_min:
        t = tr.number(threshold, 0 if float(threshold).is_integer() else 1)
        label = tr.gettext("Within {t} min").format(t=t)
        metrics.append((label, _share_column(threshold), tr.percent, tr.points))

    def minutes(v: Any) -> str:
        return tr.minutes(v, unit=False)

    def change(v: Any) -> str:
        return tr.minutes(v, unit=False, signed=True)

    metrics.append((tr.gettext("Median, min"), "median_min", minutes, change))
    metrics.append((tr.gettext("90th pct, min"), "p90_min", minutes, change))
    return metrics


def _municipality_table(inputs: ReportInputs, tr: Translator) -> str:
    merged = _merged_municipalities(inputs)
    metrics = _municipality_metrics(inputs, tr)
    has_after = inputs.municipality_after is not None
    span = constants.REPORT_TABLE_MAX_METRICS if has_after else (
        constants.REPORT_TABLE_MAX_METRICS_SINGLE
    )  # fmt: skip
    chunks = [metrics[i : i + span] for i in range(0, len(metrics), span)]
    tables = [_municipality_chunk(merged, chunk, has_after, tr) for chunk in chunks]
    note = tr.gettext(
        "Shares are of each municipality's demand, unreachable included; times are of the "
        "demand reached. Change = after - before."
    )
    title = _tag("h2", tr.gettext("Per municipality"))
    return (
        f'<section id="municipalities">{title}'
        + "".join(tables)
        + f'<p class="note">{_e(note) if has_after else ""}</p></section>'
    )


def _municipality_chunk(
    merged: pd.DataFrame, metrics: list[tuple[str, str, Any, Any]], has_after: bool, tr: Translator
) -> str:
    """One table of the municipality section: name, demand and some metrics."""
    span = 3 if has_after else 1
    top = _tag("th", tr.gettext("Municipality"), 'class="name" rowspan="2"')
    top += _tag("th", tr.gettext("Demand"), 'rowspan="2"')
    sub = ""
    words = [tr.gettext("before"), tr.gettext("after"), tr.gettext("change")]
    for label, *_ in metrics:
        top += f'<th class="group" colspan="{span}">{_e(label)}</th>'
        sub += (
            "".join(f"<th>{_e(w)}</th>" for w in words)
            if has_after
            else _tag("th", tr.gettext("now"))
        )
    rows = []
    for _, r in merged.iterrows():
        name = r.get("municipality")
        code = r["municipality_code"]
        label = f"{name} ({code})" if not _missing_text(name) and name != code else str(code)
        cells = [f'<td class="name">{_e(label)}</td><td>{_e(tr.weight(r.get("demand")))}</td>']
        for _, column, fmt, change in metrics:
            b = r.get(column)
            cells.append(f"<td>{_e(fmt(b))}</td>")
            if has_after:
                a = r.get(f"{column}_after")
                diff = None if _missing(a) or _missing(b) else float(a) - float(b)
                cells.append(f'<td>{_e(fmt(a))}</td><td class="change">{_e(change(diff))}</td>')
        rows.append(f'<tr data-code="{_e(code)}">{"".join(cells)}</tr>')
    return (
        f"<table><thead><tr>{top}</tr><tr>{sub}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
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


def _site_columns(sites: pd.DataFrame, tr: Translator) -> list[tuple[str, str, str]]:
    """(column, header, explanation) of the site-contribution columns present."""
    columns = []
    for prefix, header, explain in _SITE_COLUMNS:
        for column in sites.columns:
            if str(column).startswith(prefix):
                t = str(column).removeprefix("demand_newly_within_").removesuffix("_min")
                t = tr.number(float(t), 0 if float(t).is_integer() else 1) if t != column else t
                columns.append(
                    (column, tr.gettext(header).format(t=t), tr.gettext(explain).format(t=t))
                )
    return columns


def _site_cell(column: str, value: Any, tr: Translator) -> str:
    if column == "expected_survivors_per_year":
        return tr.number(value, 3)
    if column == "mean_minutes_saved":
        return tr.minutes(value, unit=False)
    if column == "person_minutes_saved":
        return tr.number(value, 0)
    return tr.weight(value)


def _sites_table(inputs: ReportInputs, tr: Translator) -> str | None:
    sites = inputs.sites
    if sites is None or len(sites) == 0:
        return None
    lonlat = _site_lonlat(sites)
    name_column = "site" if "site" in sites.columns else "name" if "name" in sites.columns else None
    columns = _site_columns(sites, tr)
    places = "place" in sites.columns
    head = _tag("th", tr.gettext("Order")) + _tag("th", tr.gettext("Site"), 'class="name"')
    if places:
        head += _tag("th", tr.gettext("Nearest locality"), 'class="name"')
    if "municipality" in sites.columns:
        head += _tag("th", tr.gettext("Municipality"), 'class="name"')
    if lonlat is not None:
        head += _tag("th", tr.gettext("Lon")) + _tag("th", tr.gettext("Lat"))
    head += "".join(f"<th>{_e(h)}</th>" for _, h, _ in columns)
    rows = []
    for i, (_, r) in enumerate(sites.iterrows()):
        cells = f"<td>{_e(r.get('order', i + 1))}</td>"
        cells += f'<td class="name">{_e(r[name_column] if name_column else "–")}</td>'
        if places:
            distance = pd.to_numeric(r.get("place_distance_m"), errors="coerce")
            place = r["place"] if isinstance(r["place"], str) else "–"
            if isinstance(r["place"], str) and pd.notna(distance):
                place += f" ({tr.number(float(distance) / 1000, 1)} km)"
            cells += f'<td class="name">{_e(place)}</td>'
        if "municipality" in sites.columns:
            cells += f'<td class="name">{_e(r["municipality"])}</td>'
        if lonlat is not None:
            cells += f"<td>{lonlat[0][i]:.6f}</td><td>{lonlat[1][i]:.6f}</td>"
        cells += "".join(f"<td>{_e(_site_cell(c, r[c], tr))}</td>" for c, _, _ in columns)
        rows.append(f"<tr>{cells}</tr>")
    note = tr.gettext(
        "Sites in the order they were added; each row is what the site adds on top of the "
        "existing stations and the sites above it (demand weight; minutes). Coordinates WGS 84 "
        "(EPSG:4326)."
    )
    explained = "".join(f"<li>{_e(text)}</li>" for _, _, text in columns)
    title = _tag("h2", tr.gettext("Proposed sites"))
    return (
        f'<section id="sites">{title}'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="note">{_e(note)}</p><ul class="note">{explained}</ul></section>'
    )


#: Settings shown in the footer: key -> label; ``_s`` values are shown in minutes.
_SETTINGS = {
    "thresholds_min": N_("response-time thresholds"),
    "turnout_s": N_("turn-out time (dispatch and roll-out)"),
    "objective": N_("objective"),
    "add": N_("units added"),
    "solver": N_("solver"),
    "solver status": N_("solver status"),
    "threshold_min": N_("target time"),
    "time_limit_s": N_("solver time limit"),
    "cutoff_min": N_("search limit"),
}


def _setting_text(key: str, value: Any, tr: Translator) -> str:
    label = tr.gettext(_SETTINGS[key]) if key in _SETTINGS else key
    if key.endswith("_s") and not _missing(value):
        shown = tr.minutes(float(value) / 60.0, digits=1)
    elif key.endswith("_min") and isinstance(value, list | tuple):
        shown = ", ".join(tr.number(v, 0 if float(v).is_integer() else 1) for v in value) + " min"
    elif key.endswith("_min") and not _missing(value):
        shown = tr.minutes(value, digits=0 if float(value).is_integer() else 1)
    else:
        shown = str(value)
    return f"{label}: {shown}"


def _footer(inputs: ReportInputs, tr: Translator) -> str:
    settings = inputs.metadata.get("settings")
    parts = [_tag("p", tr.gettext(OSM_ATTRIBUTION) + ".")]
    if isinstance(settings, Mapping) and settings:
        text = "; ".join(_setting_text(str(k), v, tr) for k, v in settings.items())
        settings_word = tr.gettext("Settings")
        parts.append(f"<p>{_e(settings_word)}: {_e(text)}</p>")
    version = _first(inputs.metadata, "planner_version") or __version__
    parts.append(
        "<p>"
        + _e(
            tr.gettext(
                "Made with planner {version}. Times are modelled from the road network, not "
                "measured."
            ).format(version=version)
        )
        + "</p>"
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


# ---------------------------------------------------------------------------
# The simulation (issue 15)
# ---------------------------------------------------------------------------


def _simulation_cell(row: pd.Series, column: str, tr: Translator, *, change: bool = False) -> str:
    """A figure with its confidence interval below it, as HTML."""
    figure = str(row["figure"])
    value = simulation_value(figure, row[column], tr, change=change)
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if _missing(low) or _missing(high):
        return _e(value)
    low_text = simulation_value(figure, low, tr, change=change)
    high_text = simulation_value(figure, high, tr, change=change)
    interval = f"{low_text} – {high_text}"
    return f"{_e(value)}<br><small>{_e(interval)}</small>"


def _simulation_drives(inputs: ReportInputs, tr: Translator) -> str:
    """Sentences on the simulated drive times: time bands and spread (empty without them)."""
    parts = []
    if inputs.simulation_speed_profile is not None:
        parts.append(
            tr.gettext(
                "Each call drives at the speeds of the time band of its call time "
                "(speed profile {profile})."
            ).format(profile=inputs.simulation_speed_profile)
        )
    if inputs.simulation_drive_time_cv:
        parts.append(
            tr.gettext(
                "Drive times vary around the network time: lognormal with the network time as "
                "the median and coefficient of variation {cv}."
            ).format(cv=tr.number(inputs.simulation_drive_time_cv, 2))
        )
    return "".join(" " + p for p in parts)


def _simulation_section(inputs: ReportInputs, tr: Translator) -> str | None:
    """The simulated KPIs before and after, with confidence intervals and the change."""
    table = inputs.simulation
    if table is None or table.empty:
        return None
    states = [s for s in ("before", "after") if s in table.columns]
    head = [tr.gettext("Figure"), *(tr.gettext(s) for s in states)]
    if "difference" in table.columns:
        head.append(tr.gettext("Change"))
    rows = []
    wanted = [f for f in inputs.simulation_figures if f in set(table["figure"])]
    for _, row in table.set_index("figure").loc[wanted].reset_index().iterrows():
        cells = [_e(simulation_label(str(row["figure"]), tr))]
        cells += [_simulation_cell(row, s, tr) for s in states]
        if "difference" in table.columns:
            cells.append(_simulation_cell(row, "difference", tr, change=True))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"
    text = tr.gettext(
        "Simulation of the fleet under load: units are busy on scene, at hospital and on "
        "their way back, calls queue, and a neighbour's unit comes instead. Response time "
        "runs from the call entering the queue to the unit on scene. Each figure is the mean "
        "over {replications} independent replications of {days} days, with its confidence "
        "interval below; before and after see the same calls."
    ).format(
        replications=tr.number(inputs.simulation_replications, 0),
        days=tr.number(inputs.simulation_days, 0),
    )
    text += _simulation_drives(inputs, tr)
    title = _tag("h2", tr.gettext("Simulated response times"))
    return (
        f'<section id="simulation">{title}<p>{_e(text)}</p>'
        f'<table class="simulation">{header}{"".join(rows)}</table></section>'
    )


def render_report(inputs: ReportInputs, *, language: Language = DEFAULT_LANGUAGE) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no URL).

    Parameters
    ----------
    inputs
        Tables, per-point response times (s) and metadata of one run.
    language
        ``"sv"`` or ``"en"``: every word and number format of the page.

    Returns
    -------
    str
        The HTML document (UTF-8 text).

    Raises
    ------
    ParameterError
        If the weights do not add up to the total table's demand.
    """
    tr = translator(language)
    _check_consistent(inputs)
    css = _CSS % {"page": constants.REPORT_PAGE_SIZE, "margin": constants.REPORT_PAGE_MARGIN_MM}
    sections = [_header(inputs, tr), _headline(inputs, tr), _plots(inputs, tr)]
    for optional in (_map_section(inputs, tr), _simulation_section(inputs, tr)):
        if optional is not None:
            sections.append(optional)
    sections.append(_municipality_table(inputs, tr))
    sites = _sites_table(inputs, tr)
    if sites is not None:
        sections.append(sites)
    sections.append(_footer(inputs, tr))
    return (
        f'<!DOCTYPE html>\n<html lang="{tr.language}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="generator" content="planner {_e(__version__)}">\n'
        f"<title>{_e(inputs.title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


def pdf_unavailable() -> str | None:
    """Why the report cannot be written as PDF here, or None when it can.

    The PDF is made by WeasyPrint, which needs the Pango text libraries of
    the system (present on most Linux desktops and servers; on Windows and
    macOS see WeasyPrint's installation notes). Where they are missing, print
    ``report.html`` to PDF from a browser instead.
    """
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: a system library is missing
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"WeasyPrint cannot be loaded ({first}); install it with its system libraries "
            "(pip install weasyprint; Pango) or print report.html to PDF from a browser"
        )
    return None


def _pdf_bytes(page: str) -> bytes:
    import logging

    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # font-fallback chatter
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return bytes(weasyprint.HTML(string=page).write_pdf())


def write_report(
    inputs: ReportInputs,
    path: Path,
    *,
    language: Language = DEFAULT_LANGUAGE,
    overwrite: bool = False,
    pdf_path: Path | None = None,
) -> Path:
    """Write the report as an HTML file (and a PDF), atomically, with a ``.meta.json`` sidecar.

    Parameters
    ----------
    inputs
        What to report.
    path
        Target file (``.html``); its folder must exist.
    language
        ``"sv"`` or ``"en"``.
    overwrite
        Replace existing files.
    pdf_path
        Also write the same page as an A4 PDF here (``.pdf``), made with
        WeasyPrint; see :func:`pdf_unavailable`.

    Returns
    -------
    pathlib.Path
        The written HTML file.

    Raises
    ------
    OutputExistsError
        If a file exists and ``overwrite`` is false.
    ParameterError
        If the folder does not exist or a suffix is wrong.
    DataError
        If a PDF is asked for but WeasyPrint cannot be loaded (the reason).
    """
    path = check_writable(Path(path), overwrite=overwrite)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ParameterError(f"out: {path.name}: the report is written as .html")
    pdf_target = None
    if pdf_path is not None:
        pdf_target = check_writable(Path(pdf_path), overwrite=overwrite, argument="pdf")
        if pdf_target.suffix.lower() != ".pdf":
            raise ParameterError(f"pdf: {Path(pdf_path).name}: the PDF report is written as .pdf")
        reason = pdf_unavailable()
        if reason is not None:
            raise DataError(f"{pdf_path}: {reason}")
    text = render_report(inputs, language=language)

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    write_atomic(path, write)
    if pdf_target is not None:
        data = _pdf_bytes(text)

        def write_pdf(tmp: Path) -> None:
            tmp.write_bytes(data)

        write_atomic(pdf_target, write_pdf)
    meta = export_metadata(
        **{**inputs.metadata, "report_title": inputs.title, "language": language}
    )
    write_sidecar(path, meta)
    return path
