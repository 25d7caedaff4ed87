"""A scenario's system simulated: ``[simulate]`` in ``planner plan``, and ``planner simulate``.

:func:`simulate_system` takes what a plan has already built (the network and
its index, the existing stations, the stations with the proposed units
added, the demand and the area polygons), reads the hospitals and the calls
the ``[simulate]`` section names, computes every drive time once, and runs
each state of the system on the same calls (common random numbers):

``before``
    The existing stations.
``after``
    The existing stations with the proposed units (``planner plan`` with
    ``[optimise]``); a proposed unit at an existing station of its fleet
    (``mexclp``) adds a unit there.
``without_psychiatric``
    With ``compare_psychiatric = true``: the ``before`` system without its
    psychiatric fleet (or the ``after`` system when only it has one).

:func:`write_simulation` writes the call log, the KPI tables and the layers
into a plan's ``simulate/`` folder or the folder of ``planner simulate``.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.distributed import BlockExecutor
from planner.errors import DataError, ParameterError, PlannerWarning, file_label
from planner.i18n import DEFAULT_LANGUAGE, N_, Language, Translator, translator
from planner.network.bands import BandNetwork
from planner.network.index import NetworkIndex
from planner.network.road_network import RoadNetwork
from planner.outputs.export import TableStyle, write_layers, write_table, write_workbook
from planner.outputs.labels import simulation_label, simulation_value
from planner.run.scenario import Scenario, SimulateSection, default_simulate_section
from planner.simulate import (
    Calls,
    ReplicationsResult,
    SimulationModel,
    SimulationSettings,
    SimulationTimes,
    build_model,
    hospitals_from_osm,
    paired_differences,
    precompute_band_times,
    precompute_times,
    read_calls,
    read_hospitals,
    run_replications,
    settings_table,
    shift_table,
)
from planner.simulate.states import (
    headline_figures,
    stacked_logs,
    stacked_table,
    summary_comparison,
)

__all__ = [
    "SIMULATION_FOLDER",
    "SimulationRun",
    "echo_simulation",
    "format_comparison",
    "simulate_system",
    "simulation_manifest",
    "simulation_metadata",
    "simulation_section",
    "write_simulation",
]

#: The folder of a plan's simulation outputs, inside the plan's output folder.
SIMULATION_FOLDER = "simulate"


#: How the figures of the KPI tables read on the command line (figure -> label).
@dataclass(frozen=True)
class SimulationRun:
    """Every state of a scenario's system, simulated on the same calls.

    Attributes
    ----------
    section
        The ``[simulate]`` section (settings, calls and hospitals).
    runs
        State (``before``, ``after``, ``without_psychiatric``) -> its
        replications; every state has the same seed and replications.
    comparison
        Every summary figure of ``before`` and ``after`` (with its confidence
        interval) and their paired difference, after minus before
        (:func:`planner.simulate.states.summary_comparison`); ``before`` only
        without an after state.
    psychiatric
        With ``compare_psychiatric``: the figures with and without the
        psychiatric fleet and their paired difference, with minus without;
        else None.
    psychiatric_state
        The state the psychiatric comparison was run on (None without one).
    areas
        The map's layer of simulated response per area: one row per state
        and municipality (the region's polygon outside Sweden) for prio-1
        calls: ``state``, ``municipality_code``, ``municipality``, ``calls``,
        ``median_min``, ``p90_min``, ``share_within_<T>_min``,
        ``share_waited``, ``mean_wait_min``, each with ``_ci_low`` and
        ``_ci_high``, and the area's polygon (the network's CRS; empty where
        no polygon is known).
    stations
        The map's layer of utilisation per station: one row per state and
        station: ``state``, ``station``, ``fleet``, ``units``,
        ``dispatches``, ``on_duty_h``, ``busy_h``, ``utilisation`` and
        ``utilisation_with_return`` (with intervals), and the station's point.
    hospitals
        The hospitals used (``name``, point; the network's CRS).
    calls
        Where the calls came from, in words.
    seconds
        Wall-clock time of the simulation (drive times, models, runs), s.
    speed_profile
        The speed profile whose time bands the drives followed, or None.
    """

    section: SimulateSection
    runs: Mapping[str, ReplicationsResult]
    comparison: pd.DataFrame
    psychiatric: pd.DataFrame | None
    psychiatric_state: str | None
    areas: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    hospitals: gpd.GeoDataFrame
    calls: str
    seconds: float
    speed_profile: str | None = None

    @property
    def settings(self) -> SimulationSettings:
        """The settings every state ran with."""
        return self.section.settings

    def figures(self) -> list[str]:
        """The summary figures a reader looks at first, in reading order.

        :func:`planner.simulate.states.headline_figures` for this run's
        thresholds and fleets, without mutual aid between municipalities
        when there is only one area.
        """
        psychiatric = bool((self.stations["fleet"].astype(str) == "psychiatric").any())
        figures = headline_figures(self.settings.thresholds_min, psychiatric=psychiatric)
        if self.areas["municipality_code"].nunique() <= 1:  # nobody comes from elsewhere
            figures.remove("share_from_other_municipality")
        return figures


def simulation_section(
    scenario: Scenario, *, replications: int | None = None, seed: int | None = None
) -> SimulateSection:
    """The scenario's ``[simulate]`` section (every default without one), with overrides.

    Parameters
    ----------
    replications, seed
        Replace the section's values (``--replications``, ``--seed``).

    Raises
    ------
    ParameterError
        A replication count below 1 or a negative seed, naming the option.
    """
    section = scenario.simulate or default_simulate_section(scenario)
    changes: dict[str, int] = {}
    for option, value in (("replications", replications), ("seed", seed)):
        if value is None:
            continue
        low = 1 if option == "replications" else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParameterError(f"--{option} = {value!r}: must be a whole number >= {low}")
        changes[option] = value
    if not changes:
        return section
    return dataclasses.replace(section, settings=section.settings.replace(**changes))


# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------


def simulate_system(
    scenario: Scenario,
    network: RoadNetwork,
    index: NetworkIndex,
    stations: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    section: SimulateSection,
    after: gpd.GeoDataFrame | None = None,
    boundary: Any = None,
    boundaries: gpd.GeoDataFrame | None = None,
    workers: int = 1,
    executor: BlockExecutor | None = None,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> SimulationRun:
    """Simulate the scenario's system before (and after) on the same calls.

    Parameters
    ----------
    scenario
        The scenario (its region, roads and file, for hospitals and messages).
    network, index
        The road network in its metric CRS and its :class:`NetworkIndex`.
    stations
        The existing stations (``name``, ``fleet``, ``units``,
        ``region_code``; the network's CRS).
    demand
        The coverage demand (``weight``, ``demand_id``, ``region_code``,
        ``municipality_code``; the network's CRS): where generated calls
        fall, and the population for cardiac arrests and ``calls_per_1000``.
    section
        The ``[simulate]`` section (:func:`simulation_section`).
    after
        The stations with the proposed units added (``proposed`` marks
        them), or None.
    boundary
        The area's polygon (EPSG:4326), for OSM hospitals.
    boundaries
        Area polygons (``code``, ``name``; the network's CRS) for the areas layer.
    workers, executor, progress, echo
        Worker processes for the drive times; where replications run (a Dask
        cluster, or this process); progress bars; one-line messages.

    Raises
    ------
    DataError, ParameterError, InputFileError
        Impossible shifts, no psychiatric station to compare, no hospital or
        none reachable, a bad calls file, or a load the units cannot carry
        (the queue grows without bound); each names the scenario or file.
    """
    started = time.perf_counter()
    settings = section.settings
    sites, units = _sites(scenario, stations, after)
    _check_shifts(scenario, section, sites, units)
    pam_state = _psychiatric_state(scenario, section, sites, units)
    hospitals = _hospitals(scenario, section, boundary, network.crs)
    calls, points = _points(scenario, section, demand, network.crs)
    tr = translator(scenario.language)
    echo(
        tr.gettext("simulation: {hospitals} hospitals, {calls}").format(
            hospitals=tr.number(len(hospitals)), calls=_describe_calls(section, demand, calls, tr)
        )
    )
    times = precompute_times(
        network.graph, sites, hospitals, points,
        travel_graph=index.ttg, edges=index.edges, workers=workers,
    )  # fmt: skip
    band_times: tuple[SimulationTimes, ...] = ()
    if scenario.speed_profile is not None:
        # each call drives at the speeds of the time band of its call time
        bands = BandNetwork.prepare(network, scenario.speed_profile, index=index)
        band_times = precompute_band_times(
            bands, sites, hospitals, points, base=times, workers=workers
        )
    population = float(demand["weight"].sum())
    models = _models(
        scenario, section, sites, units, points, hospitals, (times, band_times), population
    )
    if pam_state is not None:
        models["without_psychiatric"] = models[pam_state].without_fleet("psychiatric")
    runs: dict[str, ReplicationsResult] = {}
    with _located(scenario):
        for state, model in models.items():
            runs[state] = run_replications(
                model, settings, calls=calls, executor=executor,
                keep_logs=min(section.log_replications, settings.replications),
                progress=progress, desc=f"simulate {state}",
            )  # fmt: skip
    result = _assemble(
        section, runs, pam_state, sites, hospitals, demand, boundaries,
        calls=_describe_calls(section, demand, calls),
        seconds=time.perf_counter() - started,
    )  # fmt: skip
    profile = scenario.speed_profile
    return dataclasses.replace(result, speed_profile=None if profile is None else profile.name)


def _assemble(
    section: SimulateSection,
    runs: Mapping[str, ReplicationsResult],
    pam_state: str | None,
    sites: gpd.GeoDataFrame,
    hospitals: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    boundaries: gpd.GeoDataFrame | None,
    *,
    calls: str,
    seconds: float,
) -> SimulationRun:
    """The comparisons and map layers of the finished runs."""
    states = {k: runs[k] for k in ("before", "after") if k in runs}
    difference = paired_differences(runs["before"], runs["after"]) if "after" in runs else None
    psychiatric = None
    if pam_state is not None:
        pair = {"with_psychiatric": runs[pam_state], "without_psychiatric": runs[
            "without_psychiatric"]}  # fmt: skip
        psychiatric = summary_comparison(
            pair, paired_differences(runs["without_psychiatric"], runs[pam_state])
        )
    return SimulationRun(
        section=section,
        runs=runs,
        comparison=summary_comparison(states, difference),
        psychiatric=psychiatric,
        psychiatric_state=pam_state,
        areas=_area_layer(runs, demand, boundaries, sites.crs),
        stations=_station_layer(runs, sites),
        hospitals=hospitals[["name", "geometry"]].reset_index(drop=True),
        calls=calls,
        seconds=seconds,
    )


@contextmanager
def _located(scenario: Scenario) -> Iterator[None]:
    """A data error of the simulation (no hospital reachable, overload) names the scenario."""
    try:
        yield
    except DataError as exc:
        raise DataError(f"{scenario.path}: [simulate] {exc}") from None


def _sites(
    scenario: Scenario, stations: gpd.GeoDataFrame, after: gpd.GeoDataFrame | None
) -> tuple[gpd.GeoDataFrame, dict[str, np.ndarray]]:
    """The stations of every state (existing first) and each state's units per station.

    A proposed unit at an existing station of its fleet (same name) adds a
    unit there instead of a second station of that name.
    """
    existing = stations[["name", "fleet", "units", "geometry"]].copy()
    existing["units"] = pd.to_numeric(existing["units"]).astype(np.int64)
    existing = gpd.GeoDataFrame(existing, geometry="geometry", crs=stations.crs)
    units = {"before": existing["units"].to_numpy()}
    rows = [existing]
    if after is not None:
        added = after.loc[after["proposed"].to_numpy(dtype=bool), list(existing.columns)]
        added = added.assign(units=pd.to_numeric(added["units"]).astype(np.int64))
        more = np.zeros(len(existing), dtype=np.int64)
        key = {nf: i for i, nf in enumerate(zip(existing["name"], existing["fleet"], strict=True))}
        at = [key.get(nf, -1) for nf in zip(added["name"], added["fleet"], strict=True)]
        np.add.at(more, [i for i in at if i >= 0], added["units"].to_numpy()[np.array(at) >= 0])
        new = added.loc[np.array(at, dtype=np.int64) < 0]
        rows.append(gpd.GeoDataFrame(new, geometry="geometry", crs=stations.crs))
        units["after"] = np.concatenate([units["before"] + more, new["units"].to_numpy()])
    sites = gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), geometry="geometry")
    sites = sites.set_crs(stations.crs, allow_override=True)
    return _with_areas(scenario, sites), units


def _with_areas(scenario: Scenario, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``region_code`` and ``municipality_code`` of each point ("served from elsewhere")."""
    if scenario.region.level == "custom" or frame.empty:
        return frame.assign(
            region_code=scenario.region.code, municipality_code=scenario.region.code
        )
    from planner.inputs.demand import assign_demand_areas

    areas = assign_demand_areas(frame)
    return frame.assign(
        region_code=areas["region_code"].to_numpy(),
        municipality_code=areas["municipality_code"].to_numpy(),
    )


def _check_shifts(
    scenario: Scenario,
    section: SimulateSection,
    sites: gpd.GeoDataFrame,
    units: Mapping[str, np.ndarray],
) -> None:
    """Shifts name stations that exist and never more units than a station has (early)."""
    for state, counts in units.items():
        frame = sites.iloc[: len(counts)].assign(units=counts)
        shift_table(
            frame,
            section.shift_map,
            psychiatric_hours=section.settings.psychiatric_hours,
            source=f"{scenario.path}: simulate.shifts ({state})"
            if state != "before"
            else f"{scenario.path}: simulate.shifts",
        )


def _psychiatric_state(
    scenario: Scenario,
    section: SimulateSection,
    sites: gpd.GeoDataFrame,
    units: Mapping[str, np.ndarray],
) -> str | None:
    """The state whose psychiatric fleet the PAM question removes (None if not asked)."""
    if not section.compare_psychiatric:
        return None
    fleet = sites["fleet"].to_numpy()
    for state in ("before", "after"):
        counts = units.get(state)
        if counts is not None and (fleet[: len(counts)] == "psychiatric").any():
            return state
    raise ParameterError(
        f"{scenario.path}: simulate.compare_psychiatric = true, but no station is of the "
        "psychiatric fleet (fleet = psychiatric in the stations file, or [optimise] fleet = "
        '"psychiatric"); add one or remove the key'
    )


def _hospitals(
    scenario: Scenario, section: SimulateSection, boundary: Any, crs: str
) -> gpd.GeoDataFrame:
    """Hospitals with an emergency department: the section's file, or OSM in the area."""
    transports = max(section.settings.transport_probability) > 0 or (
        section.settings.psychiatric_transport_probability > 0
    )
    if section.hospitals_file is not None:
        frame = read_hospitals(
            section.hospitals_file,
            crs=section.hospitals_crs,
            check_sweden=scenario.region.level != "custom",
        )
        return frame.to_crs(crs)
    if scenario.roads.path is None:  # downloaded roads and no transports: none needed
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs=crs)
    area = None
    if boundary is not None:
        buffer_m = scenario.region.buffer_km * 1000.0
        area = gpd.GeoSeries([boundary], crs="EPSG:4326").to_crs(crs).buffer(buffer_m)
    found = hospitals_from_osm(
        scenario.roads.path, boundary=area, emergency_only=section.emergency_only
    ).to_crs(crs)
    if found.empty and transports:
        tag = " with emergency=yes" if section.emergency_only else ""
        hint = (
            "set simulate.emergency_only = false to take every OSM hospital, or give "
            if section.emergency_only
            else "give "
        )
        raise DataError(
            f"{scenario.path}: [simulate] no hospital (OSM amenity=hospital{tag}) in the area "
            f"in {scenario.roads.path.name}; {hint}simulate.hospitals_file, or set the "
            "transport probabilities to 0"
        )
    return found


def _points(
    scenario: Scenario, section: SimulateSection, demand: gpd.GeoDataFrame, crs: str
) -> tuple[Calls | None, gpd.GeoDataFrame]:
    """Generated calls fall on the demand points; replayed calls are their own points."""
    if section.calls_file is None:
        return None, demand
    calls = read_calls(
        section.calls_file,
        crs=section.calls_crs,
        check_sweden=scenario.region.level != "custom",
        source=file_label(section.calls_file, f"simulate.calls_file in {scenario.path.name}"),
    )
    assert calls.points is not None
    points = _with_areas(scenario, calls.points.to_crs(crs))
    return calls, points


def _describe_calls(
    section: SimulateSection,
    demand: gpd.GeoDataFrame,
    calls: Calls | None,
    tr: Translator | None = None,
) -> str:
    """Where the calls come from, in words (``tr``'s language; English by default)."""
    tr = tr or translator(DEFAULT_LANGUAGE)
    settings = section.settings
    if calls is not None:
        assert section.calls_file is not None
        return tr.gettext("{calls} calls replayed from {file} over {days} days").format(
            calls=tr.number(len(calls)),
            file=section.calls_file.name,
            days=tr.number(calls.horizon_s / 86400, 1),
        )
    people = float(demand["weight"].sum())
    if settings.calls_per_year is not None:
        per_year, rate = settings.calls_per_year, tr.gettext("given")
    else:
        per_year = settings.calls_per_1000 * people / 1000.0
        rate = tr.gettext("{rate} per 1,000 of {people} people").format(
            rate=tr.number(settings.calls_per_1000, 1), people=tr.number(people)
        )
    return tr.gettext(
        "{calls} calls a year ({rate}) generated over the demand for {days} days"
    ).format(calls=tr.number(per_year), rate=rate, days=tr.number(settings.days, 1))


def _models(
    scenario: Scenario,
    section: SimulateSection,
    sites: gpd.GeoDataFrame,
    units: Mapping[str, np.ndarray],
    points: gpd.GeoDataFrame,
    hospitals: gpd.GeoDataFrame,
    all_times: tuple[SimulationTimes, tuple[SimulationTimes, ...]],
    population: float,
) -> dict[str, SimulationModel]:
    """One model per state, sharing the drive times (and those per band); each warning once."""
    times, band_times = all_times
    models: dict[str, SimulationModel] = {}
    said: set[str] = set()
    for state, counts in units.items():
        rows = np.arange(len(counts))
        with warnings.catch_warnings(record=True) as caught, _located(scenario):
            warnings.simplefilter("always", PlannerWarning)
            chosen = _select_stations((times, *band_times), rows)
            models[state] = build_model(
                sites.iloc[rows].assign(units=counts),
                points,
                hospitals,
                chosen[0],
                settings=section.settings,
                shifts=section.shift_map,
                shift_source=f"{scenario.path}: simulate.shifts",
                population=population,
                profile=scenario.speed_profile if band_times else None,
                band_times=chosen[1:],
            )
        for record in caught:
            if not issubclass(record.category, PlannerWarning):
                warnings.warn_explicit(
                    record.message, record.category, record.filename, record.lineno
                )
            elif str(record.message) not in said:
                said.add(str(record.message))
                warnings.warn(f"simulation ({state}): {record.message}", PlannerWarning, 2)
    return models


def _select_stations(
    times: Sequence[SimulationTimes], rows: np.ndarray
) -> tuple[SimulationTimes, ...]:
    """``select_stations(rows)`` of each set of times; sets shared between bands stay shared."""
    done: dict[int, SimulationTimes] = {}
    for t in times:
        if id(t) not in done:
            done[id(t)] = t.select_stations(rows)
    return tuple(done[id(t)] for t in times)


# ---------------------------------------------------------------------------
# Layers for the map
# ---------------------------------------------------------------------------


def _area_layer(
    runs: Mapping[str, ReplicationsResult],
    demand: gpd.GeoDataFrame,
    boundaries: gpd.GeoDataFrame | None,
    crs: Any,
) -> gpd.GeoDataFrame:
    """Prio-1 KPIs per state and municipality, with the municipality's polygon."""
    table = stacked_table(runs, "municipality")
    table = table.loc[table["priority"] == 1].drop(columns="priority").reset_index(drop=True)
    names: dict[Any, Any] = {}
    if "municipality" in demand and "municipality_code" in demand:
        names = dict(zip(demand["municipality_code"], demand["municipality"], strict=True))
    table.insert(2, "municipality", table["municipality_code"].map(names))
    shapes: dict[Any, Any] = {}
    if boundaries is not None and len(boundaries):
        shapes = dict(zip(boundaries["code"], boundaries.geometry.to_crs(crs), strict=True))
    geometry = [shapes.get(code) for code in table["municipality_code"]]
    return gpd.GeoDataFrame(table, geometry=geometry, crs=crs)


def _station_layer(
    runs: Mapping[str, ReplicationsResult], sites: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Utilisation per state and station, at the station."""
    table = stacked_table(runs, "stations")
    first = sites.drop_duplicates("name").set_index("name").geometry
    return gpd.GeoDataFrame(table, geometry=table["station"].map(first).to_numpy(), crs=sites.crs)


# ---------------------------------------------------------------------------
# Text and files
# ---------------------------------------------------------------------------


def _with_interval(
    figure: str, row: pd.Series, column: str, tr: Translator, *, change: bool = False
) -> str:
    """A figure and its confidence interval in brackets, as the reader writes them."""
    value = simulation_value(figure, row[column], tr, change=change)
    low, high = float(row[f"{column}_ci_low"]), float(row[f"{column}_ci_high"])
    if not (math.isfinite(low) and math.isfinite(high)):
        return value
    bounds = (simulation_value(figure, v, tr, change=change) for v in (low, high))
    return "{} [{}, {}]".format(value, *bounds)


#: The words for the states of a simulation (console tables).
_STATE_WORDS = {
    "before": N_("before"),
    "after": N_("after"),
    "with_psychiatric": N_("with the psychiatric fleet"),
    "without_psychiatric": N_("without it"),
}


def format_comparison(
    table: pd.DataFrame, figures: list[str], *, states: tuple[str, ...], tr: Translator
) -> list[str]:
    """The headline rows of a comparison table as aligned lines of text.

    Parameters
    ----------
    table
        From :func:`planner.simulate.states.summary_comparison`.
    figures
        The figures to show, in order (absent ones are skipped).
    states
        The state columns to show; a ``difference`` column follows when the
        table has one.
    tr
        The reader's language: words (:func:`planner.outputs.labels.simulation_label`)
        and number formats (minutes, %, the change in minutes or percentage points).

    Returns
    -------
    list of str
        A header line and one line per figure: the mean over the
        replications and its confidence interval in brackets.
    """
    rows = table.set_index("figure")
    columns = list(states) + (["difference"] if "difference" in table else [])
    words = [tr.gettext(_STATE_WORDS[s]) if s in _STATE_WORDS else s for s in states]
    if "difference" in table:  # the later state minus the earlier, paired by replication
        pam = states == ("with_psychiatric", "without_psychiatric")
        words.append(tr.gettext("with − without") if pam else tr.gettext("change"))
    cells = [[tr.gettext("Figure"), *words]]
    for figure in figures:
        if figure not in rows.index:
            continue
        row = rows.loc[figure]
        cells.append(
            [simulation_label(figure, tr)]
            + [_with_interval(figure, row, c, tr, change=c == "difference") for c in columns]
        )
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns) + 1)]
    return [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                  for i, cell in enumerate(r)).rstrip()
        for r in cells
    ]  # fmt: skip


def echo_simulation(
    run: SimulationRun, echo: Callable[[str], None], *, language: Language = DEFAULT_LANGUAGE
) -> None:
    """The run's KPI table (and the PAM table) as lines of text, in ``language``."""
    settings, tr = run.settings, translator(language)
    figures = run.figures()
    echo(
        tr.gettext(
            "simulation: {replications} replications, seed {seed}; mean over the replications "
            "[{confidence} confidence interval]:"
        ).format(
            replications=tr.number(settings.replications),
            seed=settings.seed,
            confidence=tr.percent(settings.confidence, 0),
        )
    )
    states = tuple(s for s in ("before", "after") if s in run.runs)
    for line in format_comparison(run.comparison, figures, states=states, tr=tr):
        echo(f"  {line}")
    if run.psychiatric is not None:
        state = tr.gettext(_STATE_WORDS.get(run.psychiatric_state or "", "before"))
        echo(
            tr.gettext("the psychiatric fleet ({state}), with and without it:").format(state=state)
        )
        pam = ("with_psychiatric", "without_psychiatric")
        for line in format_comparison(run.psychiatric, figures, states=pam, tr=tr):
            echo(f"  {line}")


def simulation_metadata(run: SimulationRun) -> dict[str, Any]:
    """What every simulation file records: settings, calls, replications, CRN."""
    settings = run.settings
    return {
        "simulation_calls": run.calls,
        "simulation_replications": settings.replications,
        "simulation_seed": settings.seed,
        "simulation_confidence": settings.confidence,
        "simulation_states": list(run.runs),
        "simulation_common_random_numbers": True,
        "simulation_settings": dict(
            zip(*(settings_table(settings)[c] for c in ("setting", "value")), strict=True)
        ),
        "simulation_hospitals": run.hospitals["name"].astype(str).tolist(),
        "simulation_speed_profile": run.speed_profile,
    }


def simulation_manifest(run: SimulationRun) -> dict[str, Any]:
    """The run manifest's record of a simulation: settings, states, events and timings."""
    return {
        **{k.removeprefix("simulation_"): v for k, v in simulation_metadata(run).items()},
        "psychiatric_state": run.psychiatric_state,
        "seconds": round(run.seconds, 3),
        "runs": {
            state: {
                "events": int(sum(r.events)),
                "event_loop_s": round(float(sum(r.seconds)), 3),
                "cpu_s": round(float(sum(r.cpu_seconds)), 3),
                "call_logs_kept": len(r.logs),
            }
            for state, r in run.runs.items()
        },
    }


def write_simulation(
    run: SimulationRun,
    folder: Path,
    *,
    metadata: Mapping[str, Any],
    style: TableStyle | None = None,
) -> dict[str, Path]:
    """Write a simulation's files into ``folder`` (inside a run's :mod:`planner.staging`).

    Files: ``calls.parquet`` (the kept call logs of every state, with
    ``state`` and ``replication``), ``kpi_summary.csv`` (every summary figure
    per state with its interval, and the paired difference after - before),
    ``kpi_total.csv``, ``kpi_region.csv``, ``kpi_municipality.csv`` (per
    priority, 0 = all), ``utilisation_units.csv``,
    ``utilisation_stations.csv``, ``psychiatric.csv`` (with
    ``compare_psychiatric``), ``settings.csv`` (every setting with its unit
    and source), ``simulation.xlsx`` (all of them as sheets) and
    ``simulation.gpkg`` (layers ``areas``, ``stations``, ``hospitals``).
    ``style`` is the CSV dialect and the language of the XLSX sheet names
    and headers (:func:`planner.outputs.export.table_style`; CSV column names
    never change).

    Returns
    -------
    dict
        Output name -> path (the final paths, not the staged ones).
    """
    from planner.staging import staged_path

    staged_path(folder).mkdir(parents=True, exist_ok=True)
    meta = {**metadata, **simulation_metadata(run)}
    tables: dict[str, pd.DataFrame] = {"kpi_summary": run.comparison}
    for name in ("total", "region", "municipality"):
        tables[f"kpi_{name}"] = stacked_table(run.runs, name)
    tables["utilisation_units"] = stacked_table(run.runs, "units")
    tables["utilisation_stations"] = stacked_table(run.runs, "stations")
    if run.psychiatric is not None:
        tables["psychiatric"] = run.psychiatric
    tables["settings"] = settings_table(run.settings)
    paths = {name: folder / f"{name}.csv" for name in tables}
    for name, table in tables.items():
        write_table(table, paths[name], metadata=meta, style=style)
    paths["calls"] = folder / "calls.parquet"
    write_table(stacked_logs(run.runs), paths["calls"], metadata=meta)
    paths["xlsx"] = folder / "simulation.xlsx"
    write_workbook(tables, paths["xlsx"], metadata=meta, style=style)
    paths["gpkg"] = folder / "simulation.gpkg"
    write_layers(
        {"areas": run.areas, "stations": run.stations, "hospitals": run.hospitals},
        paths["gpkg"],
        metadata=meta,
    )
    return {f"simulate_{name}": path for name, path in paths.items()}
