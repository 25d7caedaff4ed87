#!/usr/bin/env python
"""Speed of planner's ambulance simulation, against the same model in SimPy.

Usage::

    python benchmarks/simulate.py --quick          # smoke test: SYNTHETIC 20k nodes, 15,000 calls
    python benchmarks/simulate.py                  # full run (about 10 minutes on 2 busy cores)
    python benchmarks/simulate.py --no-simpy --replications 0 --cases andorra

Two cases, each one simulated year of a large region: about 150,000 calls
(``--calls``), 60 units at 30 stations (2 each), 5 hospitals and 20,000
demand points:

* **synthetic**: a SYNTHETIC road network of ``--nodes`` (300,000) nodes from
  :mod:`benchmarks._synthetic` (a perturbed grid, not a real place, not
  derived from OpenStreetMap), with stations, hospitals and demand at
  seeded random road nodes;
* **andorra**: the real Andorra road network (``../shared/data``), with 5 of
  its 7 OSM hospitals and SYNTHETIC stations and demand at seeded random
  road nodes (Andorra has far fewer people than 150,000 calls a year imply:
  this case measures speed on a real network, not Andorra's ambulance
  system).

For each case it prints the time to precompute the drive times, then for one
replication (``planner.simulate.simulate``: the random draws, the event loop
and the KPI tables) the time, the event loop's share, the model events and
events per second, and the peak memory increase; then it runs the same
replication with the plain SimPy model of ``benchmarks/_simpy_model.py`` on
the same calls and draws, checks that both give the same call log (every
timestamp within 1e-6 s, the same unit for every call) and the same KPIs,
and prints the speed ratio; then ``--replications`` (20) replications on a
local Dask cluster of ``--workers`` (2) processes.

Targets: one simulated year in under 10 s per replication on one core; at
least 5x faster than SimPy; 20 replications in under 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import make_synthetic_network
from travel_times import PeakMemory, _load_average, machine_description, source_state

from planner.distributed import make_executor
from planner.network.road_network import build_network
from planner.simulate import (
    SimulationSettings,
    build_model,
    generate_calls,
    hospitals_from_osm,
    precompute_times,
    replication_seed,
    run_replications,
    simulate,
)
from planner.simulate.engine import draw_cycle

ANDORRA = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / "andorra.osm.pbf"


@dataclass
class Case:
    name: str
    graph: nx.MultiDiGraph
    hospitals: gpd.GeoDataFrame | None
    label: str


def random_nodes(graph: nx.MultiDiGraph, n: int, rng: np.random.Generator) -> gpd.GeoSeries:
    """``n`` seeded points within 100 m of random road nodes (EPSG:3006)."""
    ids = np.array(sorted(graph.nodes), dtype=np.int64)
    chosen = rng.choice(ids, size=n, replace=n > len(ids))
    x = np.array([graph.nodes[c]["x"] for c in chosen]) + rng.uniform(-100, 100, n)
    y = np.array([graph.nodes[c]["y"] for c in chosen]) + rng.uniform(-100, 100, n)
    return gpd.GeoSeries(shapely.points(x, y), crs=graph.graph.get("crs", "EPSG:3006"))


def system(case: Case, args: argparse.Namespace) -> tuple[Any, SimulationSettings, float]:
    """Stations, hospitals, demand and drive times: the model, the settings, precompute s."""
    rng = np.random.default_rng(args.seed)
    n_st = args.stations
    crs = case.graph.graph.get("crs", "EPSG:3006")  # Andorra: its local UTM zone (issue 12)
    stations = gpd.GeoDataFrame(
        {
            "name": [f"SYNTHETIC station {i}" for i in range(n_st)],
            "fleet": "ambulance",
            "units": args.units_per_station,
        },
        geometry=random_nodes(case.graph, n_st, rng).to_numpy(),
        crs=crs,
    )
    if case.hospitals is None:
        hospitals = gpd.GeoDataFrame(
            {"name": [f"SYNTHETIC hospital {i}" for i in range(args.hospitals)]},
            geometry=random_nodes(case.graph, args.hospitals, rng).to_numpy(),
            crs=crs,
        )
    else:
        hospitals = case.hospitals.iloc[: args.hospitals].reset_index(drop=True)
    demand = gpd.GeoDataFrame(
        {"weight": rng.lognormal(3.0, 1.0, args.points)},
        geometry=random_nodes(case.graph, args.points, rng).to_numpy(),
        crs=crs,
    )
    started = time.perf_counter()
    times = precompute_times(case.graph, stations, hospitals, demand)
    precompute_s = time.perf_counter() - started
    settings = SimulationSettings(
        calls_per_year=float(args.calls),
        days=365.0,
        replications=args.replications or 1,
        seed=args.seed,
    )
    model = build_model(stations, demand, hospitals, times, settings=settings)
    return model, settings, precompute_s


def kpis(log: pd.DataFrame) -> dict[str, float]:
    """Headline KPIs from a call log (same formula for both engines)."""
    counted = log.loc[log["t_call"] >= 86400.0]
    response = (counted["t_arrive"] - counted["t_call"]).to_numpy() / 60.0
    prio1 = counted["priority"].to_numpy() == 1
    wait = (counted["t_dispatch"] - counted["t_ready"]).to_numpy()
    return {
        "prio1_median_min": float(np.nanmedian(response[prio1])),
        "prio1_p90_min": float(np.nanquantile(response[prio1], 0.9)),
        "prio1_within_20_min": float(np.mean(response[prio1] <= 20)),
        "share_waited": float(np.mean(wait > 0)),
    }


def compare_with_simpy(
    model: Any,
    calls: Any,
    settings: SimulationSettings,
    log: pd.DataFrame,
    planner_s: tuple[float, float] | None,
) -> None:
    from _simpy_model import LOG_COLUMNS, SimpyAmbulances

    draws = draw_cycle(calls, settings, replication_seed(settings.seed, 0).spawn(2)[1])
    hospital = model.points["hospital"].to_numpy()[calls.table["point"].to_numpy()]
    started, cpu = time.perf_counter(), time.process_time()
    out = SimpyAmbulances(model, calls, draws, settings, hospital).run()
    simpy_s, simpy_cpu = time.perf_counter() - started, time.process_time() - cpu
    worst = 0.0
    for column in LOG_COLUMNS:
        a, b = log[column].to_numpy(), out[column]
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{column}: NaN differ"
        worst = max(worst, float(np.nanmax(np.abs(a - b), initial=0.0)))
    assert worst < 1e-6, f"timestamps differ by up to {worst:g} s"
    assert np.array_equal(log["unit"].to_numpy(), out["unit"]), "units differ"
    simpy_log = log[["t_call", "priority"]].assign(**{c: out[c] for c in LOG_COLUMNS})
    ours, theirs = kpis(log), kpis(simpy_log)
    if planner_s is not None:
        print(
            f"  SimPy model: {simpy_s:.1f} s wall, {simpy_cpu:.1f} s CPU -> planner is "
            f"{simpy_s / planner_s[0]:.1f}x faster (wall), {simpy_cpu / planner_s[1]:.1f}x (CPU)"
        )
    print(f"  same call log: every timestamp within {worst:.1e} s, the same unit for every call")
    for key in ours:
        print(f"    {key:22s} planner {ours[key]:8.4f}   SimPy {theirs[key]:8.4f}")
        assert ours[key] == theirs[key] or abs(ours[key] - theirs[key]) < 1e-9


def run_case(case: Case, args: argparse.Namespace) -> None:
    print(
        f"\n== {case.label}: {case.graph.number_of_nodes():,} nodes, "
        f"{case.graph.number_of_edges():,} edges"
    )
    model, settings, precompute_s = system(case, args)
    print(
        f"  precompute drive times ({args.stations} stations + {args.hospitals} hospitals <-> "
        f"{args.points:,} points): {precompute_s:.1f} s"
    )
    calls = generate_calls(model, settings, seed=replication_seed(settings.seed, 0).spawn(2)[0])
    peak = PeakMemory()
    started, cpu = time.perf_counter(), time.process_time()
    result = simulate(model, calls, settings)
    total_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    peak_mib = peak.increase_mib()
    print(
        f"  one replication: {len(calls):,} calls, {model.n_units} units: {total_s:.2f} s "
        f"wall, {cpu_s:.2f} s CPU "
        f"(event loop {result.seconds:.2f} s), {result.events:,} events, "
        f"{result.events / result.seconds:,.0f} events/s in the loop, "
        f"peak +{peak_mib:.0f} MiB"
    )
    summary = result.tables["summary"].iloc[0]
    print(
        f"  prio-1 median {summary['prio1_median_min']:.2f} min, p90 "
        f"{summary['prio1_p90_min']:.2f} min, ambulance utilisation "
        f"{summary['ambulance_utilisation']:.2f}, waited {summary['share_waited']:.3f}"
    )
    if not args.no_simpy:
        compare_with_simpy(model, calls, settings, result.log, (total_s, cpu_s))
        # the same check with calls that queue: 30 days at 2.2 times the load
        busy = settings.replace(
            days=30.0,
            calls_per_year=settings.calls_per_year * 2.2,
            psychiatric_wait_priorities=(3,),
        )
        busy_calls = generate_calls(model, busy, seed=replication_seed(busy.seed, 0).spawn(2)[0])
        busy_result = simulate(model, busy_calls, busy)
        waited = busy_result.tables["summary"].iloc[0]["share_waited"]
        print(f"  busy check: {len(busy_calls):,} calls in 30 days, {waited:.1%} waited")
        compare_with_simpy(model, busy_calls, busy, busy_result.log, None)
    if args.replications:
        with make_executor(workers=args.workers) as executor:
            started = time.perf_counter()
            run = run_replications(model, settings, executor=executor, keep_logs=0)
            reps_s = time.perf_counter() - started
        table = run.tables["summary"].iloc[0]
        cpu = sum(run.cpu_seconds)
        print(
            f"  {args.replications} replications on a local cluster of {args.workers} workers: "
            f"{reps_s:.1f} s wall; {cpu:.1f} CPU-s in the replications, "
            f"{cpu / args.workers:.1f} s per worker if each had a core; prio-1 median "
            f"{table['prio1_median_min']:.2f} min [{table['prio1_median_min_ci_low']:.2f}, "
            f"{table['prio1_median_min_ci_high']:.2f}]"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="SYNTHETIC 20k nodes, 15,000 calls")
    p.add_argument("--cases", nargs="+", default=["synthetic", "andorra"])
    p.add_argument("--nodes", type=int, default=300_000)
    p.add_argument("--calls", type=int, default=150_000)
    p.add_argument("--stations", type=int, default=30)
    p.add_argument("--units-per-station", type=int, default=2)
    p.add_argument("--hospitals", type=int, default=5)
    p.add_argument("--points", type=int, default=20_000)
    p.add_argument("--replications", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-simpy", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.quick:
        args.nodes, args.calls, args.replications = 20_000, 15_000, 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for key, value in machine_description().items():
        print(f"{key}: {value}")
    print("simulation source:", source_state("planner/simulate/engine.py"))
    print(f"load average at start: {_load_average()} (the 2 cores are shared: timings are noisy)")
    for name in args.cases:
        if name == "synthetic":
            started = time.perf_counter()
            graph = make_synthetic_network(args.nodes, seed=args.seed)
            print(f"\nbuilt {graph.graph['name']} in {time.perf_counter() - started:.1f} s")
            run_case(Case(name, graph, None, f"SYNTHETIC {args.nodes // 1000}k"), args)
        elif name == "andorra":
            if not ANDORRA.is_file():
                print(f"\nskipped Andorra: {ANDORRA} is missing")
                continue
            net = build_network(ANDORRA)
            hospitals = hospitals_from_osm(ANDORRA, emergency_only=False)
            label = "Andorra, real OSM roads (SYNTHETIC stations and demand)"
            run_case(Case(name, net.graph, hospitals, label), args)
    print(f"\nload average at end: {_load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
