"""Readable names of columns, codes and sheets, in the reader's language.

Machine-readable names (``share_within_20_min``, ``minor_component``) stay in
CSV, Parquet and GeoPackage files; what a person reads (XLSX headers and
sheet names, the map, the report) shows the words of :func:`column_label`,
:func:`value_label` and :func:`sheet_label`, translated with
:mod:`planner.i18n` (Swedish terms as in ``docs/glossary.md``).
"""

from __future__ import annotations

import re
from typing import Any

from planner.i18n import N_, Translator

__all__ = [
    "SIMULATION_FIGURES",
    "column_label",
    "fleet_label",
    "sheet_label",
    "simulation_label",
    "simulation_value",
    "value_label",
]

#: Column name -> English label (translated where shown).
_COLUMNS: dict[str, str] = {
    "municipality_code": N_("Municipality code"),
    "municipality": N_("Municipality"),
    "region_code": N_("Region code"),
    "region": N_("Region"),
    "station": N_("Station"),
    "demand": N_("Demand"),
    "demand_unreachable": N_("Demand unreachable"),
    "share_unreachable": N_("Share unreachable"),
    "mean_min": N_("Mean response time, min"),
    "median_min": N_("Median response time, min"),
    "p90_min": N_("Response time, 90th percentile, min"),
    "max_min": N_("Longest response time, min"),
    "gini": N_("Gini coefficient"),
    "demand_id": N_("Demand id"),
    "name": N_("Name"),
    "weight": N_("Weight"),
    "nearest_station": N_("Nearest station"),
    "response_min": N_("Response time, min"),
    "response_s": N_("Response time, s"),
    "drive_min": N_("Drive time, min"),
    "drive_s": N_("Drive time, s"),
    "snap_status": N_("Road access"),
    "snap_distance_m": N_("Distance to road, m"),
    "unreachable_reason": N_("Why unreachable"),
    "order": N_("Order"),
    "site": N_("Site"),
    "demand_newly_reached": N_("Newly reached"),
    "person_minutes_saved": N_("Person-minutes saved"),
    "mean_minutes_saved": N_("Minutes saved per person helped"),
    "expected_survivors_per_year": N_("Expected extra survivors per year"),
    "kind": N_("Kind"),
    "fleet": N_("Unit type"),
    "units": N_("Units"),
    "proposed": N_("Proposed"),
    "place": N_("Nearest locality"),
    "place_distance_m": N_("Distance to locality, m"),
    "lon": N_("Longitude"),
    "lat": N_("Latitude"),
    "k": N_("Units added"),
    "objective": N_("Objective value"),
    "gain": N_("Gain"),
    "gain_of_kth": N_("Gain of the k-th unit"),
    "gap": N_("Proven gap"),
    "status": N_("Status"),
    "solve_time_s": N_("Solve time, s"),
    "sites": N_("Sites"),
    "required": N_("Required"),
    "present_in": N_("Present in"),
    "area_km2": N_("Area, km²"),
    "band_min": N_("Band, min"),
    "demand_within": N_("Demand within"),
    "change_min": N_("Change, min"),
    # the simulation's tables (issue 15)
    "state": N_("State"),
    "priority": N_("Priority (0: all)"),
    "figure": N_("Figure"),
    "before": N_("Before"),
    "after": N_("After"),
    "difference": N_("Difference"),
    "replications": N_("Replications"),
    "calls": N_("Calls"),
    "served": N_("Served"),
    "share_unserved": N_("Share not served"),
    "share_waited": N_("Share that waited for a free unit"),
    "mean_wait_min": N_("Mean wait, min"),
    "share_from_other_municipality": N_("Share served from another municipality"),
    "share_from_other_region": N_("Share served from another region"),
    "psychiatric_calls": N_("Psychiatric calls"),
    "psychiatric_by_pam": N_("Share of psychiatric calls served by the psychiatric unit"),
    "unit": N_("Unit"),
    "dispatches": N_("Dispatches"),
    "on_duty_h": N_("On duty, h"),
    "busy_h": N_("Busy, h"),
    "committed_h": N_("Committed incl. return, h"),
    "utilisation": N_("Utilisation"),
    "utilisation_with_return": N_("Utilisation incl. return"),
    "setting": N_("Setting"),
    "value": N_("Value"),
    "source": N_("Source"),
}

#: Column name patterns -> English label with ``{t}`` (minutes).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"expected_share_within_([0-9.]+)_min"), N_("Expected share within {t} min")),
    (re.compile(r"share_within_([0-9.]+)_min"), N_("Share within {t} min")),
    (re.compile(r"demand_newly_within_([0-9.]+)_min"), N_("Newly within {t} min")),
)

#: Codes shown as words, by column.
_VALUES: dict[str, dict[str, str]] = {
    "snap_status": {
        "ok": N_("on the road network"),
        "far_from_road": N_("far from any road"),
        "minor_component": N_("road cut off from the network"),
    },
    "unreachable_reason": {
        "far_from_road": N_("far from any road"),
        "minor_component": N_("road cut off from the network"),
        "no_station": N_("no station"),
        "no_route": N_("no route from any station"),
        "beyond_cutoff": N_("beyond the search limit"),
    },
    "fleet": {
        "ambulance": N_("ambulance"),
        "psychiatric": N_("psychiatric emergency unit"),
    },
}

#: Sheet keys -> English sheet names.
_SHEETS: dict[str, str] = {
    "total": N_("Total"),
    "region": N_("Regions"),
    "municipality": N_("Municipalities"),
    "station": N_("Stations"),
    "worst_municipalities": N_("Worst-served municipalities"),
    "worst_places": N_("Worst-served places"),
    "mutual_aid": N_("Mutual aid"),
    "proposed_sites": N_("Proposed sites"),
    "gain_curve": N_("Marginal gain"),
    "municipalities": N_("Municipalities"),
    "comparison": N_("Comparison"),
    "kpi_summary": N_("Simulation summary"),
    "kpi_total": N_("Simulated KPIs, total"),
    "kpi_region": N_("Simulated KPIs, regions"),
    "kpi_municipality": N_("Simulated KPIs, municipalities"),
    "utilisation_units": N_("Utilisation per unit"),
    "utilisation_stations": N_("Utilisation per station"),
    "psychiatric": N_("Psychiatric fleet"),
    "settings": N_("Settings"),
}
_STATES = {"before": N_("Before"), "after": N_("After")}


def _minutes(text: str) -> str:
    return f"{float(text):g}"


def column_label(name: Any, tr: Translator) -> str:
    """A readable header for column ``name``; an unknown name is returned as it is.

    Comparison columns ``<metric>_a``, ``<metric>_b`` and ``<metric>_change``
    get "A", "B" and "change" after the metric's label.
    """
    text = str(name)
    if text in _COLUMNS:
        return tr.gettext(_COLUMNS[text])
    for pattern, label in _PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            return tr.gettext(label).format(t=_minutes(found.group(1)))
    for suffix, word in (("_ci_low", N_("interval low")), ("_ci_high", N_("interval high"))):
        base = text.removesuffix(suffix)
        if base != text:
            bound = tr.gettext(word)
            return f"{column_label(base, tr)}, {bound}"
    for suffix, word in (("_a", "A"), ("_b", "B")):
        base = text.removesuffix(suffix)
        if base != text and (base in _COLUMNS or any(p.fullmatch(base) for p, _ in _PATTERNS)):
            return f"{column_label(base, tr)}, {word}"
    base = text.removesuffix("_change")
    if base != text and (base in _COLUMNS or any(p.fullmatch(base) for p, _ in _PATTERNS)):
        return tr.gettext("{metric}, change").format(metric=column_label(base, tr))
    return text


def value_label(column: str, value: Any, tr: Translator) -> Any:
    """The words for a code in ``column`` (``minor_component`` -> "road cut off from the network").

    Values that are not known codes are returned as they are.
    """
    words = _VALUES.get(column, {})
    if isinstance(value, str) and value in words:
        return tr.gettext(words[value])
    return value


def fleet_label(fleet: Any, tr: Translator) -> str:
    """The unit type in words ("ambulance"); an unknown fleet as it is, or "station"."""
    text = str(fleet) if fleet is not None else ""
    return str(value_label("fleet", text, tr)) if text else tr.gettext("station")


def sheet_label(key: str, tr: Translator) -> str:
    """A readable sheet name for ``key`` (``before_total`` -> "Before – total")."""
    if key in _SHEETS:
        return tr.gettext(_SHEETS[key])
    state, _, rest = key.partition("_")
    if state in _STATES and rest in _SHEETS:
        when, what = tr.gettext(_STATES[state]), tr.gettext(_SHEETS[rest])
        return f"{when} – {what.lower()}"
    return key


#: How the simulated figures are named and shown (report, console): label, kind
#: (``min``, ``share``, ``number``).
SIMULATION_FIGURES: dict[str, tuple[str, str]] = {
    "prio1_median_min": (N_("Prio-1 median response time"), "min"),
    "prio1_p90_min": (N_("Prio-1 90th percentile"), "min"),
    "regular_prio1_median_min": (N_("Prio-1 median, regular ambulances"), "min"),
    "psychiatric_median_min": (N_("Median response time, psychiatric calls"), "min"),
    "psychiatric_by_pam": (N_("Psychiatric calls served by the psychiatric unit"), "share"),
    "share_waited": (N_("Calls that waited for a free unit"), "share"),
    "mean_wait_min": (N_("Mean wait for a free unit"), "min"),
    "share_from_other_municipality": (N_("Calls served from another municipality"), "share"),
    "ambulance_utilisation": (N_("Ambulance utilisation"), "share"),
    "expected_survivors_per_year": (N_("Expected cardiac-arrest survivors a year"), "number"),
    "calls_per_day": (N_("Calls a day"), "number"),
}


def simulation_label(figure: str, tr: Translator) -> str:
    """The words for a simulated figure (``prio1_median_min`` -> "Prio-1 median response time")."""
    if figure.startswith("prio1_share_within_"):
        limit = float(figure.removeprefix("prio1_share_within_").removesuffix("_min"))
        return tr.gettext("Prio-1 share within {t} min").format(t=tr.number(limit, 0))
    return tr.gettext(SIMULATION_FIGURES[figure][0])


def simulation_value(figure: str, value: Any, tr: Translator, *, change: bool = False) -> str:
    """A simulated figure's value as the reader writes it (min, %, a number); ``change``: signed."""
    kind = "share" if figure.startswith("prio1_share_within_") else SIMULATION_FIGURES[figure][1]
    if kind == "min":
        return tr.minutes(value, signed=change)
    if kind == "share":
        return tr.points(value) if change else tr.percent(value)
    digits = 2 if figure == "expected_survivors_per_year" else 1
    return tr.number(value, digits, signed=change)
