#!/usr/bin/env python
"""Benchmark planner's isochrones: 100 stations × 3 response-time bands.

Usage::

    python benchmarks/isochrones.py                  # full run (~2 min on 2 cores, ~4 GiB)
    python benchmarks/isochrones.py --quick          # smoke test: SYNTHETIC 50k graph, 20 stations
    python benchmarks/isochrones.py --csv results.csv --profile 20

For each graph -- the real Andorra network (OpenStreetMap, © OpenStreetMap
contributors, ODbL) and a SYNTHETIC perturbed-grid network of 500,000 nodes
(:mod:`benchmarks._synthetic`; not a real place) -- it places 100 stations
(seeded random road nodes, each moved 10 m in a seeded random direction and
snapped with :func:`planner.network.snapping.snap_points`) and draws the default
bands (10, 20 and 30 min response time, default
:class:`planner.analysis.isochrones.IsochroneSettings`, turn-out 180 s). It times,
separately:

* one-off preparation of the network: ``edge_frame``,
  ``build_travel_time_graph`` and ``sample_edges`` (spacing ``cell_m / 2``);
* the station set: ``snap_points`` and ``origin_edge_samples``;
* the drive times: ``point_times`` (workers=1) with cutoff = the largest
  band's drive budget (30 min − 180 s = 1620 s);
* the isochrones: ``station_isochrones`` (stations × 3 polygons),
  ``fleet_isochrones`` (3) and ``catchment_isochrones`` (stations × 3).

Each graph runs in a fresh process, so that its peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, printed after every stage)
is its own. The drive times and isochrone stages are repeated ``--repeats``
times (median and best reported); the preparation runs once. rasterio (which
``planner.analysis.isochrones`` imports lazily) is imported before the timings.

Correctness spot check, per graph: every node reached within each fleet band
(the fastest station's drive time to the node is within the band's drive
budget) lies inside that band's polygon (``shapely.contains_xy``); the
script stops with an AssertionError otherwise and prints "verified".

The target of the issue, "100 stations × 3 bands on the large graph in under
10 s", is judged on the ``station_isochrones`` time alone (median), on the
SYNTHETIC 500,000-node graph; totals with the drive times and the one-off
preparation are printed next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import gc
import io
import math
import multiprocessing as mp
import os
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from travel_times import machine_description, source_state

REPO = Path(__file__).resolve().parents[1]
ANDORRA = REPO.parent / "shared/data/osm/andorra.osm.pbf"
TURNOUT_S = 180.0
OFFSET_M = 10.0
TARGET_S = 10.0
TARGET_STATIONS = 100
TARGET_NODES = 500_000
MIB_PER_KIB = 1024

#: Stage name -> the group it belongs to (in print order).
STAGES = {
    "edge_frame": "one-off network preparation",
    "build_travel_time_graph": "one-off network preparation",
    "sample_edges": "one-off network preparation",
    "snap_points": "station set",
    "origin_edge_samples": "station set",
    "point_times": "drive times",
    "station_isochrones": "isochrones",
    "fleet_isochrones": "isochrones",
    "catchment_isochrones": "isochrones",
}


# ---------------------------------------------------------------------------
# Machine and source
# ---------------------------------------------------------------------------


def describe_machine() -> dict[str, str]:
    import geopandas
    import rasterio
    import shapely

    info = machine_description()
    info["planner_source"] = source_state(
        "planner/analysis/isochrones.py",
        "planner/network/travel_times.py",
        "planner/network/snapping.py",
    )
    info["shapely"] = shapely.__version__
    info["geopandas"] = geopandas.__version__
    info["rasterio"] = rasterio.__version__
    with contextlib.suppress(OSError):
        info["load average at start"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return info


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB_PER_KIB


# ---------------------------------------------------------------------------
# One graph, in a fresh process
# ---------------------------------------------------------------------------


def _timed(fn: Callable[[], Any], runs: int) -> tuple[Any, list[float]]:
    """Run ``fn`` ``runs`` times; return the first result and every run's seconds."""
    first: Any = None
    times: list[float] = []
    for i in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        if i == 0:
            first = result
        del result
    return first, times


def _geometry_stats(frame: Any) -> dict[str, Any]:
    import shapely

    geoms = frame.geometry.to_numpy()
    nonempty = ~shapely.is_empty(geoms)
    area = frame["area_km2"].to_numpy()
    return {
        "polygons": len(frame),
        "nonempty": int(nonempty.sum()),
        "parts": int(shapely.get_num_geometries(geoms).sum()),
        "total_area_km2": float(area.sum()),
        "mean_area_km2": float(area[nonempty].mean()) if nonempty.any() else 0.0,
    }


def _profile(fn: Callable[[], Any], top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def run_graph(spec: dict[str, Any]) -> dict[str, Any]:
    """Build one graph and time every stage; return the measurements."""
    import geopandas as gpd
    import numpy as np
    import rasterio.features  # noqa: F401  (imported lazily by planner.analysis.isochrones)
    import shapely

    from planner.analysis.isochrones import (
        IsochroneSettings,
        catchment_isochrones,
        fleet_isochrones,
        origin_edge_samples,
        sample_edges,
        station_isochrones,
    )
    from planner.network.snapping import edge_frame, snap_points
    from planner.network.travel_times import build_travel_time_graph, point_times

    label, runs = spec["label"], spec["repeats"]
    rss_start = peak_rss_mib()

    def log(text: str) -> None:
        print(f"  [{label}] {text}", flush=True)

    t0 = time.perf_counter()
    if spec["kind"] == "andorra":
        from planner.network.road_network import build_network

        graph = build_network(ANDORRA).graph
    else:
        from _synthetic import make_synthetic_network

        graph = make_synthetic_network(spec["nodes"], seed=spec["seed"])
    load_s = time.perf_counter() - t0
    log(
        f"graph: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges, "
        f"{'generated' if spec['kind'] == 'synthetic' else 'built from OSM'} in {load_s:.1f} s"
    )

    stages: dict[str, dict[str, Any]] = {}

    def record(name: str, times: list[float], **extra: Any) -> None:
        stages[name] = {
            "stage": name,
            "group": STAGES[name],
            "seconds": statistics.median(times),
            "best_s": min(times),
            "runs": len(times),
            "peak_rss_mib": peak_rss_mib(),
            **extra,
        }
        log(f"{name}: {statistics.median(times):.3f} s ({len(times)} run(s))")

    settings = IsochroneSettings()
    spacing = settings.cell_m / 2
    budgets = settings.budgets_s(TURNOUT_S)
    cutoff = float(budgets.max())

    # one-off preparation of the network
    edges, t = _timed(lambda: edge_frame(graph), 1)
    record("edge_frame", t)
    ttg, t = _timed(lambda: build_travel_time_graph(graph), 1)
    record("build_travel_time_graph", t)
    samples, t = _timed(lambda: sample_edges(graph, ttg, spacing_m=spacing, edges=edges), 1)
    record("sample_edges", t, samples=len(samples))

    # the station set (seeded)
    rng = np.random.default_rng(spec["seed"])
    k = min(spec["stations"], ttg.n_nodes)
    nodes = rng.choice(ttg.n_nodes, size=k, replace=False)
    angle = rng.uniform(0.0, 2 * math.pi, size=k)
    names = [f"S{i:03d}" for i in range(k)]
    points = gpd.GeoDataFrame(
        {"name": names},
        geometry=gpd.points_from_xy(
            ttg.x[nodes] + OFFSET_M * np.cos(angle), ttg.y[nodes] + OFFSET_M * np.sin(angle)
        ),
        crs="EPSG:3006",
    )
    snapped, t = _timed(lambda: snap_points(graph, points, edges=edges), 1)
    record("snap_points", t)
    status = dict(zip(*np.unique(snapped.status.astype(str), return_counts=True), strict=True))
    own, t = _timed(lambda: origin_edge_samples(snapped, graph, spacing_m=spacing), 1)
    record("origin_edge_samples", t)

    # drive times
    node_times, t = _timed(lambda: point_times(ttg, snapped, cutoff_s=cutoff), runs)
    record("point_times", t, result_mib=node_times.nbytes / 2**20)

    # isochrones
    common = {"turnout_s": TURNOUT_S, "settings": settings, "origin_samples": own}
    stations, t = _timed(
        lambda: station_isochrones(samples, node_times, names=names, **common), runs
    )
    record("station_isochrones", t, **_geometry_stats(stations))
    fleet, t = _timed(lambda: fleet_isochrones(samples, node_times, **common), runs)
    record("fleet_isochrones", t, **_geometry_stats(fleet))
    catchments, t = _timed(
        lambda: catchment_isochrones(samples, node_times, names=names, **common), runs
    )
    record("catchment_isochrones", t, **_geometry_stats(catchments))

    # correctness spot check: reached nodes lie inside their fleet band
    best = node_times.min(axis=0)
    bands = []
    for row in fleet.itertuples():
        inside = best <= row.drive_budget_s
        n_in = int(inside.sum())
        if n_in:
            ok = shapely.contains_xy(row.geometry, ttg.x[inside], ttg.y[inside])
            if not ok.all():
                bad = np.flatnonzero(inside)[~ok][:5]
                raise AssertionError(
                    f"{label}, {row.band_min:g} min: {int((~ok).sum())} of {n_in} reached "
                    f"nodes lie outside the fleet polygon (node ids {ttg.node_ids[bad].tolist()})"
                )
        band = row.band_min
        bands.append(
            {
                "band_min": band,
                "drive_budget_s": row.drive_budget_s,
                "reached_nodes": n_in,
                "station_mean_km2": float(
                    stations.loc[stations["band_min"] == band, "area_km2"].mean()
                ),
                "fleet_km2": float(row.area_km2),
                "catchments_sum_km2": float(
                    catchments.loc[catchments["band_min"] == band, "area_km2"].sum()
                ),
            }
        )
    log("verified: every node reached within each fleet band lies inside its polygon")

    profile = None
    if spec["profile"]:
        p = min(spec["profile"], k)
        log(f"profiling station_isochrones on {p} stations")

        def profiled_station_isochrones() -> Any:
            return station_isochrones(
                samples,
                node_times[:p],
                names=names[:p],
                turnout_s=TURNOUT_S,
                settings=settings,
                origin_samples=own[:p],
            )

        profile = _profile(profiled_station_isochrones, spec["profile_top"])
        profile = f"cProfile of station_isochrones, {p} stations, {label}:\n{profile}"

    return {
        "label": label,
        "synthetic": spec["kind"] == "synthetic",
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "samples": len(samples),
        "stations": k,
        "status": status,
        "load_s": load_s,
        "rss_start_mib": rss_start,
        "stages": list(stages.values()),
        "bands": bands,
        "verified": True,
        "profile": profile,
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

TABLE_COLUMNS = [
    ("graph", "graph"),
    ("group", "group"),
    ("stage", "stage"),
    ("seconds", "seconds"),
    ("best_s", "best_s"),
    ("runs", "runs"),
    ("polygons", "polygons"),
    ("nonempty", "non-empty"),
    ("parts", "parts"),
    ("total_area_km2", "total_km2"),
    ("mean_area_km2", "mean_km2"),
    ("peak_rss_mib", "peak_rss_mib"),
]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 100:
            return f"{value:.0f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(
    records: list[dict[str, Any]], columns: list[tuple[str, str]], *, left: int = 1
) -> str:
    """A Markdown table; the first ``left`` columns are left-aligned, the others right."""
    cells = [[_fmt(r.get(key)) for key, _ in columns] for r in records]
    headers = [h for _, h in columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        out.append(
            "| "
            + " | ".join(
                (t.ljust(w) if i < left else t.rjust(w))
                for i, (t, w) in enumerate(zip(c, widths, strict=True))
            )
            + " |"
        )
    return "\n".join(out)


def _sum(result: dict[str, Any], names: list[str]) -> float:
    by = {s["stage"]: s["seconds"] for s in result["stages"]}
    return sum(by[n] for n in names)


PREP = ["edge_frame", "build_travel_time_graph", "sample_edges"]
STATION_SET = ["snap_points", "origin_edge_samples"]


def target_lines(results: list[dict[str, Any]]) -> list[str]:
    title = (
        f"{TARGET_STATIONS} stations × 3 bands on the large graph in under {TARGET_S:g} s "
        "(counted: station_isochrones alone, median)"
    )
    big = [
        r
        for r in results
        if r["synthetic"] and r["nodes"] >= TARGET_NODES and r["stations"] >= TARGET_STATIONS
    ]
    if not big:
        return [
            f"{title}: NOT RUN (needs the SYNTHETIC {TARGET_NODES:,}-node graph and "
            f"{TARGET_STATIONS} stations; run without --quick)"
        ]
    lines = []
    for r in big:
        iso = _sum(r, ["station_isochrones"])
        verdict = "PASS" if iso < TARGET_S else "FAIL"
        drive = _sum(r, ["point_times"])
        per_set = _sum(r, STATION_SET)
        prep = _sum(r, PREP)
        lines.append(f"{title}, {r['label']} ({r['nodes']:,} nodes): {verdict} ({iso:.2f} s)")
        lines.append(
            f"  with the drive times (point_times {drive:.2f} s) and the station set "
            f"(snap + origin samples {per_set:.2f} s): {iso + drive + per_set:.2f} s"
        )
        lines.append(
            f"  plus the one-off preparation (edge_frame + CSR + sample_edges {prep:.2f} s): "
            f"{iso + drive + per_set + prep:.2f} s; with fleet and catchment isochrones too: "
            f"{_sum(r, list(STAGES)):.2f} s (graph generation {r['load_s']:.1f} s not counted)"
        )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="SYNTHETIC 50k graph and 20 stations (smoke test)"
    )
    p.add_argument(
        "--nodes", type=int, help="SYNTHETIC graph size, nodes (default 500000; 50000 with --quick)"
    )
    p.add_argument("--stations", type=int, help="stations (default 100; 20 with --quick)")
    p.add_argument(
        "--repeats",
        type=int,
        help="runs of the drive-time and isochrone stages, median reported (default 3; 1 quick)",
    )
    p.add_argument("--no-andorra", action="store_true", help="skip the real Andorra network")
    p.add_argument("--seed", type=int, default=0, help="seed of the graph and the stations")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also cProfile station_isochrones on the first N stations of the SYNTHETIC graph",
    )
    p.add_argument("--profile-top", type=int, default=25, help="functions listed per sort order")
    p.add_argument("--csv", type=Path, help="also write the stage table to this CSV file")
    args = p.parse_args(argv)
    if args.nodes is None:
        args.nodes = 50_000 if args.quick else TARGET_NODES
    if args.stations is None:
        args.stations = 20 if args.quick else TARGET_STATIONS
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    print("planner isochrone benchmark: station, fleet and catchment isochrones")
    print("command: python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]))
    print("date: " + time.strftime("%Y-%m-%d %H:%M %Z"))
    for key, value in describe_machine().items():
        print(f"{key}: {value}")
    print(
        f"seed: {args.seed}; stations: {args.stations} (random road nodes moved {OFFSET_M:g} m); "
        f"bands: 10, 20, 30 min response time, turn-out {TURNOUT_S:g} s, default "
        "IsochroneSettings; repeats: " + str(args.repeats)
    )

    specs: list[dict[str, Any]] = []
    common = {"stations": args.stations, "seed": args.seed, "repeats": args.repeats}
    if args.no_andorra:
        pass
    elif not ANDORRA.exists():
        print(f"Andorra skipped: {ANDORRA} not found")
    else:
        specs.append({"kind": "andorra", "label": "andorra (real OSM)", "profile": 0, **common})
    size = f"{args.nodes // 1000}k" if args.nodes % 1000 == 0 else str(args.nodes)
    specs.append(
        {
            "kind": "synthetic",
            "label": f"SYNTHETIC {size}",
            "nodes": args.nodes,
            "profile": args.profile,
            "profile_top": args.profile_top,
            **common,
        }
    )

    results = []
    ctx = mp.get_context("spawn")  # a fresh process per graph: its own peak RSS
    for spec in specs:
        print(f"\n== {spec['label']}", flush=True)
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            results.append(pool.submit(run_graph, spec).result())

    records = []
    for r in results:
        for s in r["stages"]:
            records.append({"graph": r["label"], **s})
    print(
        "\nResults (seconds: median of `runs` runs, best_s the fastest; areas in km², "
        "total_km2 sums every polygon, mean_km2 is over non-empty ones; parts = polygons "
        "of the MultiPolygons; peak_rss_mib = the graph's process peak RSS after the stage)"
    )
    print(format_table(records, TABLE_COLUMNS, left=3))

    print("\nGraphs:")
    for r in results:
        kind = (
            "SYNTHETIC perturbed grid, not a real place"
            if r["synthetic"]
            else "OpenStreetMap, © OpenStreetMap contributors, ODbL"
        )
        status = ", ".join(f"{k} {v}" for k, v in sorted(r["status"].items()))
        print(
            f"  {r['label']} ({kind}): {r['nodes']:,} nodes, {r['edges']:,} edges, "
            f"{r['samples']:,} edge samples; built in {r['load_s']:.1f} s (not timed above); "
            f"{r['stations']} stations snapped ({status}); process RSS before the graph "
            f"{r['rss_start_mib']:,.0f} MiB"
        )
    print("\nBands (station_mean_km2 = mean station polygon; catchments sum to the fleet band):")
    band_cols = [
        ("graph", "graph"),
        ("band_min", "band_min"),
        ("drive_budget_s", "drive_budget_s"),
        ("reached_nodes", "reached_nodes"),
        ("station_mean_km2", "station_mean_km2"),
        ("fleet_km2", "fleet_km2"),
        ("catchments_sum_km2", "catchments_sum_km2"),
    ]
    band_rows = [{"graph": r["label"], **b} for r in results for b in r["bands"]]
    print(format_table(band_rows, band_cols))
    print("\nCorrectness spot check (nodes reached within each fleet band lie inside its polygon):")
    for r in results:
        print(f"  {r['label']}: {'verified' if r['verified'] else 'NOT CHECKED'}")
    if any(r["synthetic"] for r in results):
        print(
            "SYNTHETIC graphs are generated perturbed grids (benchmarks/_synthetic.py), "
            "not real roads."
        )

    print("\nTarget:")
    for line in target_lines(results):
        print("  " + line)
    for r in results:
        if r["profile"]:
            print("\n" + r["profile"])
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")

    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        fields = [key for key, _ in TABLE_COLUMNS] + ["samples", "result_mib"]
        with args.csv.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(records)
        print(f"CSV written to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
