#!/usr/bin/env python
"""The optimiser's heuristic on a national-size instance: dense vs sparse, in process vs cluster.

Usage::

    python benchmarks/national.py --quick      # smoke test: 10k cells, 800 sites (~1 min)
    python benchmarks/national.py              # 100k cells, 300 stations + 5,000 candidates
    python benchmarks/national.py --no-dense   # skip the dense reference (needs ~13 GiB)

The instance is SYNTHETIC but shaped like Sweden: demand cells and sites lie
around the REAL positions of the 1,956 SCB tätorter (urban areas) in
``../shared/data/population/taetorter.osm.xml`` (© OpenStreetMap
contributors, ODbL; populations from SCB), so the pairs within a cutoff are
as many as in a real national run:

* ``--cells`` demand cells (default 100,000): 85 % spread around the tätorter
  (cells per place and their weights in proportion to its population,
  Gaussian spread of 300 m + 15 m × sqrt(population)), 15 % rural cells
  spread 15 km around them, weight 5 each;
* ``--stations`` existing stations (default 300) at tätorter drawn with
  weight sqrt(population), required sites with one unit each;
* ``--candidates`` candidate sites (default 5,000) at seeded random cells;
* response times are SYNTHETIC: straight-line distance × 1.35 (road
  detour) at 70 km/h plus a 90 s turn-out. Existing stations' times are
  exact at any distance; candidate times only up to ``--cutoff-min``
  (default 60).

Three modes solve the same problem with ``planner.optimise.solve_heuristic``
(greedy + Teitz-Bart, seed 0) for p-median and MCLP (15 min), ``--p`` units
(default 20):

* **dense**: a dense ``Instance`` (cells × sites float64, ``inf`` beyond the
  cutoff for candidates): the reference, skipped when it would exceed
  ``--dense-max-gib``;
* **sparse**: a ``SparseInstance`` (pairs within the cutoff), blocks in process;
* **cluster**: the same on a local Dask cluster of ``--workers`` worker
  processes on 127.0.0.1 (started before the clock).

Each case runs in a fresh process. ``build peak`` is its peak RSS (Linux
``VmHWM``) while the instance is built; ``heuristic peak`` its peak RSS while
the heuristic runs (reset through ``/proc/self/clear_refs`` just before, so
it starts from the RSS with the instance built; with a cluster, plus every
worker's whole peak RSS over the same time, Python and libraries included).
The sparse and cluster results must equal each other bit for bit, and the
dense objective to 1e-9, or the script stops with an AssertionError.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from travel_times import _reset_peak_rss, _status_kib

REPO = Path(__file__).resolve().parents[1]
TAETORTER = REPO.parent / "shared" / "data" / "population" / "taetorter.osm.xml"

SPEED_M_S = 70 / 3.6
DETOUR = 1.35
TURNOUT_S = 90.0


def _peak_mib() -> float:
    """This process's peak RSS since the last reset (Linux VmHWM), MiB."""
    return (_status_kib("VmHWM") or 0) / 1024


def build_instance(spec: dict[str, Any], *, dense: bool) -> Any:
    """The SYNTHETIC national instance (module docstring), dense or sparse."""
    import scipy.sparse as sp
    from scipy.spatial import cKDTree

    from planner.inputs.demand import read_osm_population
    from planner.optimise import make_instance, make_sparse_instance

    rng = np.random.default_rng(spec["seed"])
    places = read_osm_population(TAETORTER)
    xy = np.column_stack([places.geometry.x, places.geometry.y])
    pop = places["weight"].to_numpy(dtype=float)
    n_urban = int(0.85 * spec["cells"])
    share = pop / pop.sum()
    owner = rng.choice(len(pop), size=n_urban, p=share)
    sigma = 300.0 + 15.0 * np.sqrt(pop[owner])
    urban = xy[owner] + rng.normal(size=(n_urban, 2)) * sigma[:, None]
    per_cell = pop / np.maximum(np.bincount(owner, minlength=len(pop)), 1)
    rural_owner = rng.choice(len(pop), size=spec["cells"] - n_urban)
    rural = xy[rural_owner] + rng.normal(size=(len(rural_owner), 2)) * 15_000.0
    cells = np.vstack([urban, rural])
    weight = np.r_[per_cell[owner], np.full(len(rural), 5.0)]
    st_idx = rng.choice(
        len(pop), size=spec["stations"], replace=False, p=np.sqrt(pop) / np.sqrt(pop).sum()
    )
    sites = np.vstack(
        [xy[st_idx], cells[rng.choice(len(cells), spec["candidates"], replace=False)]]
    )
    n_st = spec["stations"]
    required = np.r_[np.ones(n_st, dtype=bool), np.zeros(spec["candidates"], dtype=bool)]
    cutoff_s = spec["cutoff_min"] * 60.0
    radius = (cutoff_s - TURNOUT_S) * SPEED_M_S / DETOUR

    def response(d: np.ndarray) -> np.ndarray:
        return d * DETOUR / SPEED_M_S + TURNOUT_S

    tree = cKDTree(cells)
    lists = tree.query_ball_point(sites, radius)
    counts = np.array([len(r) for r in lists])
    rows = np.concatenate([np.sort(np.asarray(r, dtype=np.int64)) for r in lists])
    cols = np.repeat(np.arange(len(sites)), counts)
    times = response(np.hypot(*(cells[rows] - sites[cols]).T))
    keep = times <= cutoff_s
    d_st, nearest = cKDTree(sites[:n_st]).query(cells)
    base = response(d_st)
    if dense:
        cost = np.full((len(cells), len(sites)), np.inf)
        cost[rows[keep], cols[keep]] = times[keep]
        cost[:, :n_st] = response(
            np.hypot(*(cells[:, None, :] - sites[None, :n_st, :]).transpose(2, 0, 1))
        )
        return make_instance(cost, weight, required=required, existing_units=required.astype(int))
    csc = sp.csc_array((times[keep], (rows[keep], cols[keep])), shape=(len(cells), len(sites)))
    return make_sparse_instance(
        csc, cutoff_s=cutoff_s, base_s=base, base_site=nearest, weight=weight,
        required=required, existing_units=required.astype(int),
    )  # fmt: skip


def _case(spec: dict[str, Any]) -> dict[str, Any]:
    from planner.distributed import make_executor
    from planner.optimise import MCLP, PMedian, solve_heuristic

    executor = make_executor(workers=spec["workers"]) if spec["mode"] == "cluster" else None
    try:
        if executor is not None:
            executor.client.wait_for_workers(spec["workers"], timeout=120)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        instance = build_instance(spec, dense=spec["mode"] == "dense")
        build_s = time.perf_counter() - t0
        model = PMedian() if spec["model"] == "pmedian" else MCLP(threshold_s=15 * 60.0)
        build_peak = _peak_mib()
        _reset_peak_rss()
        if executor is not None:
            executor.client.run(_reset_peak_rss)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        solution = solve_heuristic(instance, model, p=spec["p"], seed=0, executor=executor)
        seconds = time.perf_counter() - t0
        workers_mib = 0.0
        if executor is not None:
            peaks = executor.client.run(_status_kib, "VmHWM")  # type: ignore[attr-defined]
            workers_mib = sum(kib or 0 for kib in peaks.values()) / 1024
        nbytes = getattr(instance, "nbytes", None) or instance.cost_s.nbytes
        return {
            "build_s": build_s,
            "seconds": seconds,
            "build_peak_mib": build_peak,
            "peak_mib": _peak_mib() + workers_mib,
            "instance_mib": nbytes / 2**20,
            "objective": solution.objective_after,
            "chosen": solution.chosen,
            "status": solution.status,
            "nnz": getattr(instance.cost_s, "nnz", None),
        }
    finally:
        if executor is not None:
            executor.close()


def _case_main(spec: dict[str, Any], conn: Any) -> None:
    try:
        conn.send(_case(spec))
    except BaseException:
        conn.send({"error": traceback.format_exc()})


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_case_main, args=(spec, child))
    proc.start()
    result = parent.recv()
    proc.join()
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10k cells, 50 + 750 sites, p = 10")
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--stations", type=int, default=300)
    ap.add_argument("--candidates", type=int, default=5_000)
    ap.add_argument("--p", type=int, default=20)
    ap.add_argument("--cutoff-min", type=float, default=60.0)
    ap.add_argument("--models", nargs="+", default=["pmedian", "mclp"], choices=["pmedian", "mclp"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-dense", action="store_true", help="skip the dense reference")
    ap.add_argument("--dense-max-gib", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.cells, args.stations, args.candidates, args.p = 10_000, 50, 750, 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not TAETORTER.exists():
        print(f"needs {TAETORTER}", file=sys.stderr)
        return 2
    dense_gib = args.cells * (args.stations + args.candidates) * 8 / 2**30
    modes = ["sparse", "cluster"]
    if not args.no_dense and dense_gib <= args.dense_max_gib:
        modes.insert(0, "dense")
    print(
        f"SYNTHETIC national instance (real tätort positions, synthetic times): "
        f"{args.cells:,} cells, {args.stations} stations + {args.candidates:,} candidates, "
        f"cutoff {args.cutoff_min:g} min, p = {args.p}; dense matrix would be {dense_gib:.2f} GiB"
    )
    print(
        "| model | mode | build s | build peak MiB | heuristic s | heuristic peak MiB "
        "| instance MiB | objective | status |"
    )
    print("|" + "---|" * 9)
    for model in args.models:
        results = {}
        for mode in modes:
            spec = {
                "mode": mode, "model": model, "cells": args.cells, "stations": args.stations,
                "candidates": args.candidates, "p": args.p, "cutoff_min": args.cutoff_min,
                "workers": args.workers, "seed": args.seed,
            }  # fmt: skip
            r = run_case(spec)
            results[mode] = r
            print(
                f"| {model} | {mode} | {r['build_s']:.1f} | {r['build_peak_mib']:,.0f} | "
                f"{r['seconds']:.1f} | {r['peak_mib']:,.0f} | {r['instance_mib']:,.0f} | "
                f"{r['objective']:.10g} | "
                f"{r['status']} |",
                flush=True,
            )
        assert results["sparse"]["objective"] == results["cluster"]["objective"]
        assert results["sparse"]["chosen"] == results["cluster"]["chosen"]
        if "dense" in results:
            d, s = results["dense"]["objective"], results["sparse"]["objective"]
            assert abs(d - s) <= 1e-9 * max(1.0, abs(d)), (d, s)
            ratio = results["dense"]["seconds"] / results["sparse"]["seconds"]
            print(f"  {model}: sparse {ratio:.1f}x faster than dense, same objective")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
