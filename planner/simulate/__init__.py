"""Discrete-event simulation of a region's ambulance system.

Takes the road network's drive times (precomputed once with the travel-time
engine, :func:`precompute_times`), the stations with their units and shifts,
the hospitals with an emergency department and the demand or a historical
calls file; hands on a call log with every timestamp and the Swedish KPIs
(prio-1 median and 90th percentile from queue entry to arrival, the share
within each threshold, per region, municipality and priority), utilisation,
waiting, mutual aid, the psychiatric fleet's share and expected
cardiac-arrest survivors, each with a confidence interval over independent
replications. Before/after comparisons use common random numbers.

Typical use::

    times = precompute_times(net.graph, stations, hospitals, demand)
    model = build_model(stations, demand, hospitals, times, settings=settings)
    result = run_replications(model, settings)           # or executor=...
    result.tables["municipality"]                        # KPIs with CIs
"""

from __future__ import annotations

from planner.simulate.calls import Calls, generate_calls, parse_priority, read_calls
from planner.simulate.model import (
    EMERGENCY_HOSPITAL_TAGS,
    SimulationModel,
    SimulationTimes,
    build_model,
    call_bands,
    hospitals_from_osm,
    precompute_band_times,
    precompute_times,
    read_hospitals,
    shift_table,
)
from planner.simulate.run import (
    ReplicationsResult,
    SimulationResult,
    compare_psychiatric,
    compare_systems,
    offered_load,
    paired_differences,
    replication_seed,
    run_replications,
    simulate,
)
from planner.simulate.settings import (
    PRIORITIES,
    Duration,
    SimulationSettings,
    hour_of_week_profile,
    settings_table,
)

__all__ = [
    "EMERGENCY_HOSPITAL_TAGS",
    "PRIORITIES",
    "Calls",
    "Duration",
    "ReplicationsResult",
    "SimulationModel",
    "SimulationResult",
    "SimulationSettings",
    "SimulationTimes",
    "build_model",
    "call_bands",
    "compare_psychiatric",
    "compare_systems",
    "generate_calls",
    "hospitals_from_osm",
    "hour_of_week_profile",
    "offered_load",
    "paired_differences",
    "parse_priority",
    "precompute_band_times",
    "precompute_times",
    "read_calls",
    "read_hospitals",
    "replication_seed",
    "run_replications",
    "settings_table",
    "shift_table",
    "simulate",
]
