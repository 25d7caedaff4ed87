#!/usr/bin/env python
"""Benchmark time-of-day speed profiles: switching the network to a band, and coverage per band.

Usage::

    python benchmarks/bands.py            # Andorra + a SYNTHETIC 500,000-node network
    python benchmarks/bands.py --quick    # smoke test: Andorra + a SYNTHETIC 50,000-node network

On the real Andorra network (OpenStreetMap, © OpenStreetMap contributors,
ODbL) and on a SYNTHETIC perturbed grid (:mod:`benchmarks._synthetic`; not a
real place) it times, with the built-in speed profile
(:func:`planner.network.profiles.default_speed_profile`, 6 bands):

* ``prepare``: reading what every band needs from the built network once
  (:meth:`planner.network.bands.BandNetwork.prepare`: edge classes and each
  edge's place in the CSR graph; the edge table and CSR graph themselves are
  built before the timer starts, as a run builds them anyway);
* ``switch``: switching the whole network to another band
  (:func:`planner.network.bands.band_index`: new edge times, the CSR graph
  re-weighted, the edge table's times replaced), the median over every band
  and ``--repeats`` rounds;
* on Andorra only, ``coverage, one band`` and ``coverage, all bands``:
  :func:`planner.run.pipeline.run_coverage` with the example's two stations
  and 300 SYNTHETIC demand points (``data/examples/andorra``), isochrones
  included, for the network's own speeds and then for all 6 bands (each
  band switched in, not rebuilt).

Correctness check, per graph: the re-weighted CSR graph of the night band
equals the one built from scratch from the graph with the night edge times
(:func:`planner.network.travel_times.build_travel_time_graph`); the script
stops with an AssertionError otherwise and prints "verified".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import make_synthetic_network
from travel_times import machine_description, source_state

from planner.inputs.demand import read_demand
from planner.inputs.sites import read_stations
from planner.network.bands import BandNetwork, band_weights
from planner.network.index import index_network
from planner.network.profiles import default_speed_profile
from planner.network.road_network import NetworkSettings, RoadNetwork, build_network
from planner.network.travel_times import build_travel_time_graph
from planner.run.pipeline import run_coverage

REPO = Path(__file__).resolve().parents[1]
ANDORRA = REPO.parent / "shared/data/osm/andorra.osm.pbf"
EXAMPLE = REPO / "data/examples/andorra"


def _synthetic(n_nodes: int) -> RoadNetwork:
    graph = make_synthetic_network(n_nodes, seed=16)
    return RoadNetwork(
        graph=graph,
        components=pd.DataFrame(),
        source="synthetic",
        source_kind="pbf",
        osm_timestamp=None,
        settings=NetworkSettings(),
        boundary_name=None,
        cache_key="synthetic",
    )


def _verify(bands: BandNetwork) -> None:
    graph = bands.network.graph.copy()
    weights = band_weights(bands.edges, bands.profile, "night")
    for (u, v, k), w in zip(graph.edges(keys=True), weights, strict=True):
        graph.edges[u, v, k]["night_s"] = float(w)
    rebuilt = build_travel_time_graph(graph, weight="night_s")
    assert (rebuilt.matrix != bands.index_for("night").ttg.matrix).nnz == 0


def _switch(name: str, network: RoadNetwork, repeats: int) -> dict[str, object]:
    profile = default_speed_profile()
    index = index_network(network)
    start = time.perf_counter()
    bands = BandNetwork.prepare(network, profile, index=index)
    prepare_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        for band in profile.band_names:
            start = time.perf_counter()
            bands.index_for(band)
            times.append(time.perf_counter() - start)
    _verify(bands)
    return {
        "graph": name,
        "nodes": network.graph.number_of_nodes(),
        "edges": network.graph.number_of_edges(),
        "prepare_s": round(prepare_s, 4),
        "switch_median_s": round(statistics.median(times), 4),
        "switch_best_s": round(min(times), 4),
        "switches": len(times),
        "verified": "verified",
    }


def _coverage(network: RoadNetwork, repeats: int) -> dict[str, float]:
    stations = read_stations(EXAMPLE / "stations.csv", check_sweden=False).to_crs(network.crs)
    demand = read_demand(
        EXAMPLE / "demand.csv", kind="points", weight="population", check_sweden=False
    ).to_crs(network.crs)
    profile = default_speed_profile()
    index = index_network(network)
    one, every = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        run_coverage(network, stations, demand, index=index)
        one.append(time.perf_counter() - start)
        start = time.perf_counter()
        bands = BandNetwork.prepare(network, profile, index=index)
        for band in profile.band_names:
            run_coverage(network, stations, demand, index=bands.index_for(band))
        every.append(time.perf_counter() - start)
    return {
        "coverage_one_band_s": round(statistics.median(one), 3),
        "coverage_all_6_bands_s": round(statistics.median(every), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true", help="SYNTHETIC 50k instead of 500k")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every measurement")
    args = parser.parse_args(argv)
    print(machine_description())
    print(source_state("planner/network/bands.py"))
    andorra = build_network(ANDORRA)
    n_synthetic = 50_000 if args.quick else 500_000
    rows = [
        _switch("andorra (real OSM)", andorra, args.repeats),
        _switch(f"synthetic {n_synthetic // 1000}k", _synthetic(n_synthetic), args.repeats),
    ]
    print(pd.DataFrame(rows).to_string(index=False))
    cover = _coverage(andorra, args.repeats)
    print()
    print("Andorra, 2 stations, 300 demand points, isochrones included:")
    for key, value in cover.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
