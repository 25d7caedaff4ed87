#!/usr/bin/env python
"""Benchmark planner's travel-time engine against networkx's Dijkstra.

Usage::

    python benchmarks/travel_times.py                # full run (about 10 min on 2 cores)
    python benchmarks/travel_times.py --quick        # smoke test, small SYNTHETIC graph
    python benchmarks/travel_times.py --sizes 200000 500000 --csv results.csv
    python benchmarks/travel_times.py --engines      # issue 19's engine table + national row
    python benchmarks/travel_times.py --engines --quick   # its smoke test (small graphs)

``--engines`` prints the table of issue 19, ratios from one run on one
machine: on Andorra (all 1,179 nodes as targets) and SYNTHETIC graphs of
200,000 and 1,000,000 nodes, for 50, 500 and 5,000 sources × 20,000 seeded
random targets, with and without a 30-minute cutoff, it times today's engine
(scipy's Dijkstra), the CCH alone (pyroutingkit's many-to-many, when the
wheel is installed) and the new engine (``planner.network.engine``,
``"auto"`` with the network's hierarchy; the engine it chose is printed),
with 1 and 2 workers; networkx on the SYNTHETIC graphs of at most 200,000
nodes with 50 sources; and, beside every row, the one-off preprocessing
(contraction order: seconds and MiB; customisation and profile: seconds).
The compiled Dijkstra's compilation and the query metrics' customisation
happen before the clock (once per process and network). The national row
(``--national``, on by default) times ``planner matrix``'s computation
(:func:`planner.network.matrix.compute_matrix`: blocks, pairs within the
cutoff kept sparse) for 5,000 sources × 100,000 targets on 1,000,000 nodes
with a 60-minute cutoff, today's engine against the new one, with peak
memory. Every CCH row must equal scipy's Dijkstra on millisecond-rounded
weights exactly (checked on the first sources of each case), and a
"Targets" list gives each of the issue's targets a PASS or FAIL.

Without ``--engines``:

For each graph -- the real Andorra network (OpenStreetMap, © OpenStreetMap
contributors, ODbL) and a SYNTHETIC perturbed-grid network of 500,000 nodes
(:mod:`benchmarks._synthetic`; not a real place) -- and for 1, 50 and 500
seeded random source nodes, with and without a 30-minute cutoff, it times:

* ``planner.network.travel_times.node_times`` (workers=1, and workers=2 for more than
  one source), in a fresh process per case, excluding the one-off CSR build
  (``build_travel_time_graph``), which is timed and reported separately;
* a bare ``scipy.sparse.csgraph.dijkstra`` call on all the sources at once
  (the floor node_times is built on, to show its own overhead);
* ``nx.single_source_dijkstra_path_length`` looped over the sources, as OSMnx
  users do. When networkx would take too long (more than ``--nx-full-upto``
  sources), a seeded sample of ``--nx-sample`` sources is timed and the time is
  extrapolated linearly: the table says so.

Times are medians of repeated runs (planner: in one fresh process, first
run included; at least 3 runs when one takes under 10 s, and until 1 s is
spent, at most 15); the table also gives the ratio of the best runs, since
networkx's pure-Python timings vary more between runs.

Every source networkx is timed on is also checked: the engine's times must
equal networkx's to 1e-6 s (and workers=2 and the bare scipy call must equal
workers=1 exactly), or the script stops with an AssertionError.

Peak memory (of the first run) is the peak resident set size (RSS) increase of
the fresh case process over its RSS with the CSR graph loaded (Linux: the ``VmHWM`` high-water
mark, reset through ``/proc/self/clear_refs`` just before the run), in MiB. The
result array alone takes ``sources × nodes × 8`` bytes (column
``result_mib``). With workers=2, ``worker_rss_mib`` is the largest worker
process's whole peak RSS (it includes the pages it shares with its parent).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import functools
import gc
import math
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import make_synthetic_network

from planner.network import cch as compiled_cch
from planner.network.dijkstra import kernel_available, warm_up
from planner.network.travel_times import (
    TravelTimeGraph,
    build_travel_time_graph,
    node_times,
)

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data"
ANDORRA = DATA_DIR / "osm/andorra.osm.pbf"
CUTOFF_S = 1800.0
TOLERANCE_S = 1e-6
#: Repeat a timed run until this much time is spent (median reported; --min-time) ...
MIN_TOTAL_S = 1.0
#: ... but at most this many times ...
MAX_REPEATS = 15
#: ... and at least this many times when one run takes under LONG_RUN_S (the
#: first run in a fresh process pays first-touch page faults for its memory).
MIN_RUNS = 3
LONG_RUN_S = 10.0
MIB = 1024 * 1024

MEMORY_NOTE = (
    "peak_rss_mib = peak RSS increase of a fresh process over its RSS with the CSR "
    "graph loaded, MiB; result_mib = size of the returned array alone; "
    "worker_rss_mib = largest worker process's whole peak RSS (workers=2 only)"
)


# ---------------------------------------------------------------------------
# Machine and memory
# ---------------------------------------------------------------------------


def write_rows_csv(path: Path, rows: list[Any]) -> None:
    """Write dataclass rows as a CSV table (one column per field)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(rows[0]).keys()))
        writer.writeheader()
        for r in rows:
            writer.writerow(asdict(r))


def machine_description() -> dict[str, str]:
    """CPU, cores, RAM and library versions of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    import planner

    return {
        "planner_source": source_state(),
        "cpu": cpu,
        "cores": f"{os.cpu_count()} ({usable} usable)",
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "networkx": nx.__version__,
        "pandas": pd.__version__,
        "planner": getattr(planner, "__version__", "?"),
    }


def source_state(*files: str) -> str:
    """Git commit and whether ``files`` (repository paths) have uncommitted changes."""
    import hashlib
    import subprocess

    files = files or ("planner/network/travel_times.py",)
    repo = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256((repo / files[0]).read_bytes()).hexdigest()[:12]
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", *files],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return f"{files[0]} sha256 {digest} (no git)"
    changed = [f for f in files if f in dirty]
    state = "uncommitted changes in " + ", ".join(changed) if changed else "all as committed"
    return f"git {head}; {', '.join(files)}: {state}; {files[0]} sha256 {digest}"


def _load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not available
        return "unknown"


def _status_kib(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the process's RSS high-water mark (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak RSS increase (MiB) over the RSS when created."""

    def __init__(self) -> None:
        gc.collect()
        self.exact = _reset_peak_rss() and _status_kib("VmHWM") is not None
        if self.exact:
            self.base_kib = _status_kib("VmRSS") or 0
        else:  # fall back on ru_maxrss (an increase only if it exceeds the old peak)
            self.base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def increase_mib(self) -> float:
        if self.exact:
            peak = _status_kib("VmHWM") or 0
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(peak - self.base_kib, 0) / 1024


# ---------------------------------------------------------------------------
# One engine case, in a fresh process
# ---------------------------------------------------------------------------


def _save_ttg(ttg: TravelTimeGraph, path: Path) -> None:
    m = ttg.matrix
    np.savez(
        path,
        data=m.data,
        indices=m.indices,
        indptr=m.indptr,
        shape=np.asarray(m.shape),
        node_ids=ttg.node_ids,
        x=ttg.x,
        y=ttg.y,
    )


def _load_ttg(path: Path) -> TravelTimeGraph:
    with np.load(path, allow_pickle=False) as f:
        matrix = sp.csr_array(
            (f["data"], f["indices"], f["indptr"]), shape=tuple(int(s) for s in f["shape"])
        )
        return TravelTimeGraph(matrix=matrix, node_ids=f["node_ids"], x=f["x"], y=f["y"])


def _engine_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Time one engine run; save the rows to verify; return timings and memory."""
    ttg = _load_ttg(spec["ttg_path"])
    sources = np.load(spec["sources_path"], allow_pickle=False)[: spec["k"]]
    cutoff = spec["cutoff_s"]
    if spec["kind"] in NATIONAL_KINDS:
        run = _national_runner(ttg, sources, spec)
    elif spec["kind"] in ENGINE_KINDS:
        run = _engine_runner(ttg, sources, spec)
    elif spec["kind"] == "planner":

        def run() -> np.ndarray:
            return node_times(ttg, sources, cutoff_s=cutoff, workers=spec["workers"])

    else:  # the bare scipy call node_times is built on
        pos = ttg.positions(sources)
        limit = math.inf if cutoff is None else cutoff

        def run() -> np.ndarray:
            return dijkstra(ttg.matrix, directed=True, indices=pos, limit=limit)

    mem = PeakMemory()
    t0 = time.perf_counter()
    result = run()
    first_s = time.perf_counter() - t0
    peak = mem.increase_mib()
    worker_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if sp.issparse(result):  # the national matrix: sparse, pairs within the cutoff
        part = sp.csr_array(result[spec["verify_rows"]])
        dense_rows = np.full(part.shape, np.inf)  # absent pairs: beyond the cutoff
        owner = np.repeat(np.arange(part.shape[0]), np.diff(part.indptr))
        dense_rows[owner, part.indices] = part.data  # stored zeros stay zeros
        np.save(spec["rows_path"], dense_rows)
    else:
        np.save(spec["rows_path"], result[spec["verify_rows"]])
    shape = result.shape
    del result
    times = [first_s]
    min_runs = MIN_RUNS if first_s < LONG_RUN_S else 1
    while (sum(times) < spec["min_time_s"] or len(times) < min_runs) and len(times) < MAX_REPEATS:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return {
        "seconds": statistics.median(times),
        "best_s": min(times),
        "runs": len(times),
        "peak_rss_mib": peak,
        "exact_memory": mem.exact,
        # 0 with workers > 1 means node_times started no worker pool (one block)
        "worker_rss_mib": worker_kib / 1024 if spec["workers"] > 1 else None,
        "shape": shape,
    }


def _case_main(spec: dict[str, Any], conn: Any) -> None:
    # This process was started by the forkserver, which also made "forkserver"
    # its default start method; give node_times's worker pool the platform's
    # default instead, as in an ordinary script.
    mp.set_start_method(None, force=True)
    try:
        conn.send(("ok", _engine_case(spec)))
    except BaseException:  # report anything, including MemoryError, to the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def run_case_in_fresh_process(ctx: Any, spec: dict[str, Any]) -> dict[str, Any]:
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_case_main, args=(spec, child))
    proc.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"engine case {spec} died (exit code {proc.exitcode})") from None
    proc.join()
    if status != "ok":
        raise RuntimeError(f"engine case {spec} failed:\n{payload}")
    return payload


# ---------------------------------------------------------------------------
# The engine table (--engines): today's engine, the CCH, the new engine
# ---------------------------------------------------------------------------

#: Case kinds of the engine table: today's engine (scipy's Dijkstra, as
#: node_times ran it before the engine layer), the CCH alone (pyroutingkit's
#: many-to-many, as measured in issue 19), and the new engine ("auto").
ENGINE_KINDS = ("today", "cch", "auto")
ENGINE_TARGETS = 20_000


def _engine_runner(ttg: TravelTimeGraph, sources: np.ndarray, spec: dict[str, Any]) -> Any:
    """The timed call of one engine-table case (the hierarchy is loaded first, untimed)."""
    from planner.network import engine

    targets = np.load(spec["targets_path"], allow_pickle=False)
    src = ttg.positions(sources)
    cols = ttg.positions(targets)
    limit = math.inf if spec["cutoff_s"] is None else spec["cutoff_s"]
    workers = spec["workers"]
    if spec["kind"] == "today":
        settings = engine.EngineSettings("scipy")
        return lambda: engine.many_to_many(
            ttg, src, cols, cutoff_s=limit, settings=settings, workers=workers
        )
    hierarchy = engine.load_hierarchy(spec["hierarchy_path"], ttg)
    warm_up()  # the compiled Dijkstra's one-off compilation (once per process), untimed
    compiled_cch.warm_up()  # and the compiled CCH's
    if kernel_available():
        ttg.kernel  # noqa: B018 -- its renumbered graph, made once per network, untimed
    # customise the metrics the query will use before the clock (preprocessing)
    with contextlib.ExitStack() as stack:
        for _ in range(workers):
            stack.enter_context(hierarchy.fast_metric())
    if spec["kind"] == "auto":
        return lambda: engine.many_to_many(
            ttg, src, cols, cutoff_s=limit, hierarchy=hierarchy, workers=workers
        )
    s32, t32 = src.astype(np.uint32), cols.astype(np.uint32)

    def cch() -> np.ndarray:
        with hierarchy.fast_metric() as metric:
            ms = metric.distances_many_to_many(s32, t32)
        out = ms / 1000.0
        out[(ms >= 2**31 - 1) | (out > limit)] = np.inf
        return out

    return cch


#: Case kinds of the national row: planner matrix's blocked sparse computation
#: with today's engine (scipy's Dijkstra) and with the new one ("auto").
NATIONAL_KINDS = ("national-today", "national-auto")
NATIONAL_CUTOFF_S = 3600.0


def _national_runner(ttg: TravelTimeGraph, sources: np.ndarray, spec: dict[str, Any]) -> Any:
    """``planner matrix``'s computation (compute_matrix: blocks, sparse within the cutoff)."""
    from planner.network import engine
    from planner.network.matrix import compute_matrix

    targets = np.load(spec["targets_path"], allow_pickle=False)
    workers = spec["workers"]
    if spec["kind"] == "national-today":
        settings = engine.EngineSettings("scipy")
    else:
        settings = engine.EngineSettings("auto")
        warm_up()  # the compiled Dijkstra's one-off compilation (once per process), untimed
        compiled_cch.warm_up()  # and the compiled CCH's
        ttg = dataclasses.replace(ttg, hierarchy=engine.load_hierarchy(spec["hierarchy_path"], ttg))
        if kernel_available():
            ttg.kernel  # noqa: B018 -- its renumbered graph, made once per network, untimed
        with contextlib.ExitStack() as stack:  # customise the query metrics before the clock
            for _ in range(workers):
                stack.enter_context(ttg.hierarchy.fast_metric())

    def run() -> sp.csr_array:
        m = compute_matrix(
            ttg, sources, targets, cutoff_s=spec["cutoff_s"], settings=settings, workers=workers
        )
        return m.times.tocsr()

    return run


def _preprocess_main(ttg_path: str, out_path: str, conn: Any) -> None:
    """Build a network's hierarchy in a fresh process: times and peak memory of each step."""
    try:
        from planner.network import engine

        ttg = _load_ttg(Path(ttg_path))
        t0 = time.perf_counter()
        warm_up()
        compiled_cch.warm_up()
        compile_s = time.perf_counter() - t0  # once per process, not per network
        mem = PeakMemory()
        t0 = time.perf_counter()
        c0 = time.process_time()
        order = engine.compute_order(ttg)
        order_s, order_cpu = time.perf_counter() - t0, time.process_time() - c0
        order_mib = mem.increase_mib()
        mem = PeakMemory()
        t0 = time.perf_counter()
        h = engine.build_hierarchy(ttg, order=order)
        build_s = time.perf_counter() - t0
        build_mib = mem.increase_mib()
        t0 = time.perf_counter()
        h.customize(ttg.matrix.data * 1.1)
        customize_s = time.perf_counter() - t0
        engine.save_hierarchy(out_path, h)
        conn.send(
            (
                "ok",
                {
                    "order_s": order_s,
                    "order_cpu_s": order_cpu,
                    "order_mib": order_mib,
                    "customize_profile_s": build_s,
                    "customize_profile_mib": build_mib,
                    "customize_s": customize_s,
                    "cch_ratio": h.cch_ratio,
                    "compile_s": compile_s,
                },
            )
        )
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


@dataclass
class EngineRow:
    graph: str
    nodes: int
    sources: int
    targets: int
    cutoff_s: float | None
    today_s: float
    cch_s: float | None
    auto_s: float
    auto_engine: str
    auto_w2_s: float | None
    best_over_auto: float
    w2_speedup: float | None
    nx_s: float | None
    nx_over_auto: float | None
    order_s: float
    order_mib: float
    customize_s: float
    auto_peak_mib: float
    verified: bool
    baseline_sources: int


def _rounded_reference(ttg: TravelTimeGraph, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """scipy's Dijkstra on millisecond-rounded weights (what the CCH must equal exactly), s."""
    m = ttg.matrix
    r = sp.csr_array((np.rint(m.data * 1000.0), m.indices, m.indptr), shape=m.shape)
    return dijkstra(r, directed=True, indices=rows)[:, cols] / 1000.0


def _check_engine_rows(
    ttg: TravelTimeGraph,
    kind: str,
    got: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    today: np.ndarray,
    limit: float,
    case: str,
) -> None:
    """Today's rows are exact; CCH rows equal the rounded reference exactly."""
    if kind in ("today", "national-today"):
        return
    if np.array_equal(got, today):
        return  # auto chose Dijkstra: the exact numbers
    ref = _rounded_reference(ttg, rows, cols)
    ref[ref > limit] = np.inf
    assert np.array_equal(got, ref), f"{case}: {kind} differs from Dijkstra on ms weights"


def engine_table(args: argparse.Namespace, ctx: Any, workdir: Path) -> list[EngineRow]:
    """Time today's engine, the CCH and the new engine; print one row per case."""
    from planner.network import engine

    if not engine.cch_available():
        print("routingkit-cch is not installed: the engine table needs it (planner[cch])")
        return []
    have_prk = engine.fast_cch_available()
    out: list[EngineRow] = []
    for graph_no, (label, build) in enumerate(
        graph_specs(args.sizes, args.seed, not args.no_andorra and ANDORRA.exists())
    ):
        graph = build()
        ttg = build_travel_time_graph(graph)
        ttg_path, h_path, pre = _preprocess(ctx, label, ttg, workdir, f"e{graph_no}")
        rng = np.random.default_rng([args.seed, graph_no, 19])
        n_t = min(ENGINE_TARGETS, ttg.n_nodes)
        targets = rng.choice(ttg.node_ids, size=n_t, replace=False)
        targets_path = workdir / f"e_targets{graph_no}.npy"
        np.save(targets_path, targets)
        k_max = max(args.sources)
        sources = rng.choice(ttg.node_ids, size=k_max, replace=k_max > ttg.n_nodes)
        sources_path = workdir / f"e_sources{graph_no}.npy"
        np.save(sources_path, sources)
        cols = ttg.positions(targets)
        hierarchy = engine.load_hierarchy(h_path, ttg)  # for the engine auto chose
        for k in args.sources:
            for cutoff in (None, CUTOFF_S):
                limit = math.inf if cutoff is None else cutoff
                case = f"{label}, {k} sources x {n_t:,} targets, cutoff {cutoff or 'none'}"
                verify = np.arange(min(k, 3))
                kinds = [("today", 1), ("auto", 1), ("auto", 2)]
                if have_prk:
                    kinds.insert(1, ("cch", 1))
                base = {
                    "ttg_path": ttg_path,
                    "sources_path": sources_path,
                    "targets_path": targets_path,
                    "hierarchy_path": h_path,
                    "k": k,
                    "cutoff_s": cutoff,
                    "verify_rows": verify,
                    "min_time_s": args.min_time,
                }
                res = _run_kinds(
                    ctx, case, kinds, base, workdir / "e_rows", sample=args.baseline_sample
                )
                src_rows = ttg.positions(sources[:k][verify])
                today = res[("today", 1)]["rows"]
                for (kind, _w), r in res.items():
                    _check_engine_rows(ttg, kind, r["rows"], src_rows, cols, today, limit, case)
                chosen = engine.choose_engine(
                    ttg.n_nodes, n_t, limit, hierarchy=hierarchy, n_sources=k
                )
                nx_s = None
                synthetic = label.startswith("synthetic")
                if synthetic and ttg.n_nodes <= 200_000 and k == 50 and args.nx_sample:
                    idx = np.arange(min(args.nx_sample, k))
                    t0 = time.perf_counter()
                    for s in sources[idx]:
                        nx.single_source_dijkstra_path_length(
                            graph, int(s), cutoff=cutoff, weight="travel_time"
                        )
                    nx_s = (time.perf_counter() - t0) * k / len(idx)
                t_today = res[("today", 1)]["seconds"]
                t_cch = res[("cch", 1)]["seconds"] if ("cch", 1) in res else None
                t_auto = res[("auto", 1)]["seconds"]
                t_w2 = res[("auto", 2)]["seconds"]
                best = min(t_today, t_cch if t_cch is not None else math.inf)
                out.append(
                    EngineRow(
                        graph=label,
                        nodes=ttg.n_nodes,
                        sources=k,
                        targets=n_t,
                        cutoff_s=cutoff,
                        today_s=t_today,
                        cch_s=t_cch,
                        auto_s=t_auto,
                        auto_engine=chosen,
                        auto_w2_s=t_w2,
                        best_over_auto=best / t_auto,
                        w2_speedup=t_auto / t_w2,
                        nx_s=nx_s,
                        nx_over_auto=None if nx_s is None else nx_s / t_auto,
                        order_s=pre["order_s"],
                        order_mib=pre["order_mib"],
                        customize_s=pre["customize_profile_s"],
                        auto_peak_mib=res[("auto", 1)]["peak_rss_mib"],
                        verified=True,
                        baseline_sources=res[("today", 1)]["timed_sources"],
                    )
                )
                print("   " + format_engine_table(out[-1:]).splitlines()[-1], flush=True)
        del graph, ttg
        gc.collect()
    return out


def format_engine_table(rows: list[EngineRow]) -> str:
    head = (
        "| graph | sources × targets | cutoff | today s | CCH s | new s (engine) | "
        "best/new | new, 2 workers s | 2-worker speed-up | networkx s | nx/new | "
        "order s (MiB) | customise+profile s | new peak MiB |"
    )
    lines = []
    for r in rows:
        star = "*" if r.baseline_sources < r.sources else ""
        lines.append(
            f"| {r.graph} | {r.sources:,}{star} × {r.targets:,} | "
            f"{'none' if r.cutoff_s is None else f'{r.cutoff_s / 60:g} min'} | "
            f"{_fmt(r.today_s)} | {_fmt(r.cch_s)} | {_fmt(r.auto_s)} ({r.auto_engine}) | "
            f"{r.best_over_auto:.2f}x | {_fmt(r.auto_w2_s)} | "
            f"{'-' if r.w2_speedup is None else f'{r.w2_speedup:.2f}x'} | {_fmt(r.nx_s)} | "
            f"{'-' if r.nx_over_auto is None else f'{r.nx_over_auto:.0f}x'} | "
            f"{r.order_s:.1f} ({r.order_mib:,.0f}) | {r.customize_s:.2f} | {r.auto_peak_mib:,.0f} |"
        )
    return _markdown(head, lines)


@dataclass
class NationalRow:
    graph: str
    nodes: int
    sources: int
    targets: int
    cutoff_s: float
    pairs: int
    today_s: float
    today_peak_mib: float
    new_s: float
    new_engine: str
    new_peak_mib: float
    new_w2_s: float
    new_w2_peak_mib: float
    today_over_new: float
    w2_speedup: float
    order_s: float
    order_mib: float
    customize_s: float
    verified: bool


#: Kinds whose time may be extrapolated from a sample of the sources
#: (``--baseline-sample``): the baselines, one independent search per source.
BASELINE_KINDS = ("today", "cch")


def _run_kinds(
    ctx: Any,
    case: str,
    kinds: list[tuple[str, int]],
    base: dict[str, Any],
    rows_stem: Path,
    sample: int | None = None,
) -> dict[tuple[str, int], dict[str, Any]]:
    """Run each (kind, workers) of one case in a fresh process; print and return the results.

    With ``sample``, the baselines run on the first ``sample`` sources only
    and their times are scaled by ``k / sample`` (each source is one search
    of its own in both, so their time is linear in the sources).
    """
    res: dict[tuple[str, int], dict[str, Any]] = {}
    for kind, workers in kinds:
        rows_path = Path(f"{rows_stem}_{kind}_{workers}.npy")
        spec = {**base, "kind": kind, "workers": workers, "rows_path": rows_path}
        scale = 1.0
        if sample is not None and kind in BASELINE_KINDS and base["k"] > sample:
            spec["k"], scale = sample, base["k"] / sample
        res[(kind, workers)] = r = run_case_in_fresh_process(ctx, spec)
        r["seconds"] *= scale
        r["best_s"] *= scale
        r["timed_sources"] = spec["k"]
        r["rows"] = np.load(rows_path, allow_pickle=False)
        note = f", timed on {spec['k']:,} sources, x{scale:g}" if scale != 1.0 else ""
        print(
            f"   {case}: {kind} workers={workers}: {r['seconds']:.4g} s "
            f"(median of {r['runs']}{note}), peak +{r['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
    return res


def _markdown(head: str, rows: list[str]) -> str:
    """A Markdown table: the header line, its rule, the rows."""
    return "\n".join([head, "|" + "---|" * head.count(" | ") + "---|", *rows])


def _preprocess(ctx: Any, label: str, ttg: TravelTimeGraph, workdir: Path, tag: str) -> Any:
    """Save the graph, build its hierarchy in a fresh process, print and return the figures."""
    ttg_path = workdir / f"{tag}_ttg.npz"
    _save_ttg(ttg, ttg_path)
    h_path = workdir / f"{tag}_h.npz"
    pre = _in_fresh(ctx, _preprocess_main, str(ttg_path), str(h_path))
    print(
        f"\n== {label}: {ttg.n_nodes:,} nodes; order {pre['order_s']:.1f} s "
        f"({pre['order_cpu_s']:.1f} s CPU, +{pre['order_mib']:.0f} MiB), customise + "
        f"profile {pre['customize_profile_s']:.2f} s "
        f"(+{pre['customize_profile_mib']:.0f} MiB), "
        f"re-customise {pre['customize_s']:.2f} s; CCH/Dijkstra {pre['cch_ratio']:.2f}; "
        f"compiling the kernels (once per process, not counted) {pre['compile_s']:.1f} s",
        flush=True,
    )
    return ttg_path, h_path, pre


def national_table(args: argparse.Namespace, ctx: Any, workdir: Path) -> list[NationalRow]:
    """The national row: planner matrix's sparse computation, today's engine and the new one."""
    from planner.network import engine

    n = args.national_nodes
    label = f"synthetic {n // 1000}k" if n % 1000 == 0 else f"synthetic {n}"
    ttg = build_travel_time_graph(make_synthetic_network(n, seed=args.seed))
    ttg_path, h_path, pre = _preprocess(ctx, label, ttg, workdir, "national")
    rng = np.random.default_rng([args.seed, 19, 60])
    n_t = min(args.national_targets, ttg.n_nodes)
    targets_path, sources_path = workdir / "n_targets.npy", workdir / "n_sources.npy"
    np.save(targets_path, rng.choice(ttg.node_ids, size=n_t, replace=False))
    k = args.national_sources
    np.save(sources_path, rng.choice(ttg.node_ids, size=k, replace=k > ttg.n_nodes))
    case = f"{label}, {k:,} sources x {n_t:,} targets, cutoff {NATIONAL_CUTOFF_S / 60:g} min"
    verify = np.arange(min(k, 3))
    base = {
        "ttg_path": ttg_path,
        "sources_path": sources_path,
        "targets_path": targets_path,
        "hierarchy_path": h_path,
        "k": k,
        "cutoff_s": NATIONAL_CUTOFF_S,
        "verify_rows": verify,
        "min_time_s": args.min_time,
    }
    kinds = [("national-today", 1), ("national-auto", 1), ("national-auto", 2)]
    res = _run_kinds(ctx, case, kinds, base, workdir / "n_rows")
    sources = np.load(sources_path, allow_pickle=False)
    cols = ttg.positions(np.load(targets_path, allow_pickle=False))
    src_rows = ttg.positions(sources[verify])
    today = res[("national-today", 1)]["rows"]
    for (kind, _w), r in res.items():
        _check_engine_rows(ttg, kind, r["rows"], src_rows, cols, today, NATIONAL_CUTOFF_S, case)
    hierarchy = engine.load_hierarchy(h_path, ttg)
    t, a1, a2 = res[("national-today", 1)], res[("national-auto", 1)], res[("national-auto", 2)]
    return [
        NationalRow(
            graph=label,
            nodes=ttg.n_nodes,
            sources=k,
            targets=n_t,
            cutoff_s=NATIONAL_CUTOFF_S,
            pairs=int(np.isfinite(today).sum() * k / len(verify)) if len(verify) else 0,
            today_s=t["seconds"],
            today_peak_mib=t["peak_rss_mib"],
            new_s=a1["seconds"],
            new_engine=engine.choose_engine(
                ttg.n_nodes, n_t, NATIONAL_CUTOFF_S, hierarchy=hierarchy, n_sources=k
            ),
            new_peak_mib=a1["peak_rss_mib"],
            new_w2_s=a2["seconds"],
            new_w2_peak_mib=a2["peak_rss_mib"],
            today_over_new=t["seconds"] / a1["seconds"],
            w2_speedup=a1["seconds"] / a2["seconds"],
            order_s=pre["order_s"],
            order_mib=pre["order_mib"],
            customize_s=pre["customize_profile_s"],
            verified=True,
        )
    ]


def format_national_table(rows: list[NationalRow]) -> str:
    head = (
        "| graph | sources × targets | cutoff | today s (peak MiB) | new s (engine, peak MiB) | "
        "today/new | new, 2 workers s (peak MiB) | 2-worker speed-up | order s (MiB) | "
        "customise+profile s |"
    )
    lines = []
    for r in rows:
        lines.append(
            f"| {r.graph} | {r.sources:,} × {r.targets:,} | {r.cutoff_s / 60:g} min | "
            f"{_fmt(r.today_s)} ({r.today_peak_mib:,.0f}) | "
            f"{_fmt(r.new_s)} ({r.new_engine}, {r.new_peak_mib:,.0f}) | "
            f"{r.today_over_new:.2f}x | {_fmt(r.new_w2_s)} ({r.new_w2_peak_mib:,.0f}) | "
            f"{r.w2_speedup:.2f}x | {r.order_s:.1f} ({r.order_mib:,.0f}) | {r.customize_s:.2f} |"
        )
    return _markdown(head, lines)


def evaluate_engine_targets(rows: list[EngineRow], national: list[NationalRow]) -> list[str]:
    """The targets of issue 19, one verdict per line."""
    lines = []
    for r in rows:
        cut = "none" if r.cutoff_s is None else f"{r.cutoff_s / 60:g} min"
        what = f"{r.graph}, {r.sources:,} × {r.targets:,}, cutoff {cut}"
        verdict = "PASS" if r.best_over_auto >= 1.0 else "FAIL"
        lines.append(
            f"at least as fast as the better of today and the CCH, {what}: {verdict} "
            f"({r.best_over_auto:.2f}x)"
        )
        if r.nodes >= 200_000 and r.w2_speedup is not None:
            verdict = "PASS" if r.w2_speedup >= 1.7 else "FAIL"
            lines.append(f"--workers 2 >= 1.7x one core, {what}: {verdict} ({r.w2_speedup:.2f}x)")
        if r.nx_over_auto is not None:
            verdict = "PASS" if r.nx_over_auto >= 100 else "FAIL"
            lines.append(f">= 100x networkx, {what}: {verdict} ({r.nx_over_auto:.0f}x)")
    for r in national:
        ok = r.today_over_new >= 2.0 and r.new_peak_mib <= r.today_peak_mib
        lines.append(
            f"national {r.graph}, {r.sources:,} × {r.targets:,}, {r.cutoff_s / 60:g} min: "
            f">= 2x today with peak memory no higher: {'PASS' if ok else 'FAIL'} "
            f"({r.today_over_new:.2f}x; peak {r.new_peak_mib:,.0f} vs {r.today_peak_mib:,.0f} MiB)"
        )
    if not rows and not national:
        lines.append("no engine rows were run")
    return lines


def _in_fresh(ctx: Any, target: Any, *args: Any) -> dict[str, Any]:
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(*args, child))
    proc.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"{target.__name__} died (exit code {proc.exitcode})") from None
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{target.__name__} failed:\n{payload}")
    return payload


# ---------------------------------------------------------------------------
# networkx, with verification
# ---------------------------------------------------------------------------


def _as_vector(dist: dict[int, float], index: pd.Index) -> np.ndarray:
    out = np.full(len(index), np.inf)
    keys = np.fromiter(dist.keys(), dtype=np.int64, count=len(dist))
    vals = np.fromiter(dist.values(), dtype=np.float64, count=len(dist))
    out[index.get_indexer(keys)] = vals
    return out


def verify_row(engine: np.ndarray, nx_dist: dict[int, float], index: pd.Index, what: str) -> None:
    expected = _as_vector(nx_dist, index)
    fin_e, fin_x = np.isfinite(engine), np.isfinite(expected)
    if not np.array_equal(fin_e, fin_x):
        bad = np.flatnonzero(fin_e != fin_x)[:5]
        raise AssertionError(
            f"{what}: reachable sets differ at node ids {index[bad].tolist()}: "
            f"engine {engine[bad].tolist()} vs networkx {expected[bad].tolist()}"
        )
    diff = np.abs(engine[fin_e] - expected[fin_e])
    worst = float(diff.max()) if diff.size else 0.0
    if worst > TOLERANCE_S:
        raise AssertionError(f"{what}: engine and networkx differ by up to {worst:g} s")


def time_networkx(
    graph: nx.MultiDiGraph,
    sources: np.ndarray,
    cutoff: float | None,
    engine_rows: np.ndarray,
    index: pd.Index,
    label: str,
    min_time_s: float,
) -> tuple[float, float, int]:
    """(median, best) seconds of one loop over ``sources``, and loops; verified on the first."""
    per_loop: list[float] = []
    while True:
        total = 0.0
        for j, s in enumerate(sources):
            t0 = time.perf_counter()
            dist = nx.single_source_dijkstra_path_length(
                graph, int(s), cutoff=cutoff, weight="travel_time"
            )
            total += time.perf_counter() - t0
            if not per_loop:
                verify_row(engine_rows[j], dist, index, f"{label}, source {int(s)}")
            del dist
        per_loop.append(total)
        if sum(per_loop) >= min_time_s or len(per_loop) >= MAX_REPEATS:
            return statistics.median(per_loop), min(per_loop), len(per_loop)


# ---------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------


@dataclass
class Row:
    graph: str
    nodes: int
    edges: int
    sources: int
    cutoff_s: float | None
    workers: int
    planner_s: float
    planner_runs: int
    peak_rss_mib: float
    worker_rss_mib: float | None
    result_mib: float
    scipy_direct_s: float | None
    nx_s: float
    nx_measured_sources: int
    nx_extrapolated: bool
    nx_over_planner: float
    nx_over_planner_best: float
    verified: bool
    graph_load_s: float = field(default=0.0)
    csr_build_s: float = field(default=0.0)


@dataclass
class GraphInfo:
    label: str
    nodes: int
    edges: int
    load_s: float
    csr_build_s: float
    synthetic: bool


def graph_specs(
    sizes: list[int], seed: int, include_andorra: bool
) -> list[tuple[str, Callable[[], nx.MultiDiGraph]]]:
    """(label, builder) of every graph to benchmark, in order."""
    specs: list[tuple[str, Callable[[], nx.MultiDiGraph]]] = []
    if include_andorra:

        def andorra() -> nx.MultiDiGraph:
            from planner.network.road_network import build_network

            return build_network(ANDORRA).graph

        specs.append(("andorra (real OSM)", andorra))
    for n in sizes:
        label = f"synthetic {n // 1000}k" if n % 1000 == 0 else f"synthetic {n}"
        specs.append((label, functools.partial(make_synthetic_network, n, seed=seed)))
    return specs


def _fmt(value: Any, fmt: str = "{:.3g}") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if math.isinf(value):
            return "none"
        if value >= 1000:
            return f"{value:,.0f}"
        return fmt.format(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


TABLE_COLUMNS = [
    ("graph", "graph"),
    ("nodes", "nodes"),
    ("sources", "sources"),
    ("cutoff_s", "cutoff_s"),
    ("workers", "workers"),
    ("planner_s", "planner_s"),
    ("planner_runs", "runs"),
    ("scipy_direct_s", "scipy_direct_s"),
    ("peak_rss_mib", "peak_rss_mib"),
    ("result_mib", "result_mib"),
    ("worker_rss_mib", "worker_rss_mib"),
    ("nx_s", "nx_s"),
    ("nx_measured_sources", "nx_measured_sources"),
    ("nx_over_planner", "nx/planner"),
    ("nx_over_planner_best", "best/best"),
    ("verified", "verified"),
]


def format_table(rows: list[Row]) -> str:
    cells = []
    for r in rows:
        d = asdict(r)
        line = []
        for key, _ in TABLE_COLUMNS:
            v = d[key]
            if key == "cutoff_s":
                text = "none" if v is None else f"{v:g}"
            elif key == "nx_measured_sources":
                text = f"{v} (extrapolated)" if r.nx_extrapolated else f"{v}"
            elif key in ("nx_over_planner", "nx_over_planner_best"):
                text = f"{v:.1f}x"
            elif key == "worker_rss_mib" and v == 0:
                text = "no pool"
            elif key in ("peak_rss_mib", "result_mib", "worker_rss_mib"):
                text = "-" if v is None else f"{v:,.0f}"
            elif key == "verified":
                text = "verified" if v else "NOT CHECKED"
            else:
                text = _fmt(v)
            line.append(text)
        cells.append(line)
    headers = [h for _, h in TABLE_COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        out.append(
            "| "
            + " | ".join(
                (t.ljust(w) if i == 0 else t.rjust(w))
                for i, (t, w) in enumerate(zip(c, widths, strict=True))
            )
            + " |"
        )
    return "\n".join(out)


def benchmark_graph(
    ctx: Any,
    label: str,
    graph: nx.MultiDiGraph,
    load_s: float,
    args: argparse.Namespace,
    workdir: Path,
    graph_no: int,
) -> tuple[GraphInfo, list[Row]]:
    t0 = time.perf_counter()
    ttg = build_travel_time_graph(graph)
    csr_s = time.perf_counter() - t0
    info = GraphInfo(
        label=label,
        nodes=graph.number_of_nodes(),
        edges=graph.number_of_edges(),
        load_s=load_s,
        csr_build_s=csr_s,
        synthetic=bool(graph.graph.get("synthetic", False)),
    )
    print(
        f"\n== {label}: {info.nodes:,} nodes, {info.edges:,} edges"
        f"{' (SYNTHETIC, not a real place)' if info.synthetic else ''}; "
        f"graph built/loaded in {load_s:.1f} s; CSR build (build_travel_time_graph, "
        f"one-off, not in planner_s) {csr_s:.2f} s",
        flush=True,
    )
    ttg_path = workdir / f"ttg{graph_no}.npz"
    _save_ttg(ttg, ttg_path)
    index = pd.Index(ttg.node_ids)
    rng = np.random.default_rng([args.seed, graph_no])
    n_max = max(args.sources)
    if n_max > ttg.n_nodes:
        raise SystemExit(f"{label}: {n_max} sources asked for, only {ttg.n_nodes} nodes")
    sources = rng.choice(ttg.node_ids, size=n_max, replace=False)
    sources_path = workdir / f"sources{graph_no}.npy"
    np.save(sources_path, sources)
    del ttg
    gc.collect()

    rows: list[Row] = []
    for k in args.sources:
        for cutoff in (None, CUTOFF_S):
            if k <= args.nx_full_upto:
                nx_idx = np.arange(k)
            else:
                nx_idx = np.sort(rng.choice(k, size=min(args.nx_sample, k), replace=False))
            case = f"{label}, {k} sources, cutoff {cutoff or 'none'}"
            results: dict[tuple[str, int], dict[str, Any]] = {}
            for kind, workers in (
                [("planner", 1)] + ([("planner", 2)] if k > 1 else []) + [("scipy", 1)]
            ):
                rows_path = workdir / f"rows_{kind}_{workers}.npy"
                spec = {
                    "ttg_path": ttg_path,
                    "sources_path": sources_path,
                    "k": k,
                    "cutoff_s": cutoff,
                    "workers": workers,
                    "kind": kind,
                    "verify_rows": nx_idx,
                    "rows_path": rows_path,
                    "min_time_s": args.min_time,
                }
                res = run_case_in_fresh_process(ctx, spec)
                res["rows_path"] = rows_path
                results[(kind, workers)] = res
                print(
                    f"   {case}: {kind} workers={workers}: {res['seconds']:.4g} s "
                    f"(median of {res['runs']}), peak +{res['peak_rss_mib']:.0f} MiB",
                    flush=True,
                )
            reference = np.load(results[("planner", 1)]["rows_path"], allow_pickle=False)
            for key, res in results.items():
                if key != ("planner", 1):
                    other = np.load(res["rows_path"], allow_pickle=False)
                    assert np.array_equal(other, reference), f"{case}: {key} differs from workers=1"
            nx_loop_s, nx_best_s, _nx_loops = time_networkx(
                graph, sources[nx_idx], cutoff, reference, index, case, args.min_time
            )
            extrapolated = len(nx_idx) < k
            nx_s = nx_loop_s * k / len(nx_idx)
            print(
                f"   {case}: networkx {nx_loop_s:.4g} s for {len(nx_idx)} sources"
                f"{f' -> {nx_s:.4g} s extrapolated to {k}' if extrapolated else ''}; "
                f"verified against the engine",
                flush=True,
            )
            for (kind, workers), res in results.items():
                if kind != "planner":
                    continue
                rows.append(
                    Row(
                        graph=label,
                        nodes=info.nodes,
                        edges=info.edges,
                        sources=k,
                        cutoff_s=cutoff,
                        workers=workers,
                        planner_s=res["seconds"],
                        planner_runs=res["runs"],
                        peak_rss_mib=res["peak_rss_mib"],
                        worker_rss_mib=res["worker_rss_mib"],
                        result_mib=k * info.nodes * 8 / MIB,
                        scipy_direct_s=results[("scipy", 1)]["seconds"] if workers == 1 else None,
                        nx_s=nx_s,
                        nx_measured_sources=len(nx_idx),
                        nx_extrapolated=extrapolated,
                        nx_over_planner=nx_s / res["seconds"],
                        nx_over_planner_best=(nx_best_s * k / len(nx_idx)) / res["best_s"],
                        verified=True,
                        graph_load_s=load_s,
                        csr_build_s=csr_s,
                    )
                )
            for res in results.values():
                res["rows_path"].unlink(missing_ok=True)
    return info, rows


def evaluate_targets(rows: list[Row], infos: list[GraphInfo]) -> list[str]:
    lines = []
    # (a) >= 30x faster than networkx, 50 sources, all nodes (no cutoff)
    for info in infos:
        cand = {
            r.workers: r
            for r in rows
            if r.graph == info.label and r.sources == 50 and r.cutoff_s is None
        }
        if 1 not in cand:
            lines.append(f"(a) {info.label}: not run (needs 50 sources)")
            continue
        r1 = cand[1]
        verdict = "PASS" if r1.nx_over_planner >= 30 else "FAIL"
        if verdict == "PASS" and r1.nx_over_planner_best < 30:
            verdict = f"PASS on medians, but only {r1.nx_over_planner_best:.1f}x best-of vs best-of"
        how = (
            f"extrapolated from {r1.nx_measured_sources} sources"
            if r1.nx_extrapolated
            else "measured on all 50"
        )
        extra = ""
        if 2 in cand:
            r2 = cand[2]
            extra = f"; with workers=2: {r2.nx_over_planner:.1f}x"
        lines.append(
            f"(a) >= 30x faster than networkx, 50 sources to all nodes, {info.label}: "
            f"{verdict} ({r1.nx_over_planner:.1f}x median, "
            f"{r1.nx_over_planner_best:.1f}x best-of, with workers=1, "
            f"networkx {how}"
            f"{extra})"
        )
    # (b) 500 sources, 30-min cutoff, 500,000-node graph, < 60 s
    big = [i for i in infos if i.synthetic and i.nodes >= 500_000]
    if not big:
        lines.append(
            "(b) 500 sources, 30-min cutoff, 500,000-node graph, < 60 s: NOT RUN "
            "(no graph of >= 500,000 nodes; run without --quick)"
        )
    for info in big:
        cand = {
            r.workers: r
            for r in rows
            if r.graph == info.label and r.sources == 500 and r.cutoff_s == CUTOFF_S
        }
        if not cand:
            lines.append(f"(b) {info.label}: not run (needs 500 sources)")
            continue
        best = min(cand.values(), key=lambda r: r.planner_s)
        verdict = "PASS" if best.planner_s + info.csr_build_s < 60 else "FAIL"
        per = ", ".join(f"workers={w}: {r.planner_s:.1f} s" for w, r in sorted(cand.items()))
        lines.append(
            f"(b) 500 sources, 30-min cutoff, {info.label} ({info.nodes:,} nodes), < 60 s: "
            f"{verdict} ({per}; best + one-off CSR build {info.csr_build_s:.1f} s = "
            f"{best.planner_s + info.csr_build_s:.1f} s)"
        )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small synthetic graph (smoke test)")
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        help="SYNTHETIC graph sizes, nodes (default 500000; 20000 with --quick)",
    )
    p.add_argument(
        "--sources",
        type=int,
        nargs="+",
        help="source counts (default 1 50 500; 1 50 200 with --quick)",
    )
    p.add_argument(
        "--min-time",
        type=float,
        help="repeat each timing until this many seconds are spent, median reported "
        f"(at most {MAX_REPEATS} runs; default {MIN_TOTAL_S:g}; 0.1 with --quick)",
    )
    p.add_argument(
        "--nx-full-upto",
        type=int,
        help="time networkx on every source up to this many sources (default 50; 1 with --quick)",
    )
    p.add_argument(
        "--nx-sample",
        type=int,
        help="otherwise time this many sampled sources, extrapolate (default 10; 3 with --quick)",
    )
    p.add_argument("--no-andorra", action="store_true", help="skip the real Andorra network")
    p.add_argument(
        "--engines",
        action="store_true",
        help="the engine table of issue 19: today's engine, the CCH and the new engine "
        f"(auto, 1 and 2 workers) to {ENGINE_TARGETS:,} targets (default sizes 200000 "
        "1000000, sources 50 500 5000)",
    )
    p.add_argument(
        "--national",
        action=argparse.BooleanOptionalAction,
        help="with --engines: also the national row, planner matrix's sparse computation "
        "(default on, off with --quick)",
    )
    p.add_argument(
        "--national-nodes",
        type=int,
        help="SYNTHETIC nodes of the national row (default 1000000; 20000 with --quick)",
    )
    p.add_argument(
        "--national-sources",
        type=int,
        help="sources of the national row (default 5000; 50 with --quick)",
    )
    p.add_argument(
        "--national-targets",
        type=int,
        help="targets of the national row (default 100000; 5000 with --quick)",
    )
    p.add_argument(
        "--baseline-sample",
        type=int,
        help="with --engines: time today's engine and the CCH alone on at most this many "
        "sources and scale their times linearly (rows marked *); default: every source",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", type=Path, help="also write the results to this CSV file")
    args = p.parse_args(argv)
    if args.engines and args.sizes is None:
        args.sizes = [20_000] if args.quick else [200_000, 1_000_000]
    if args.engines and args.sources is None:
        args.sources = [50, 200] if args.quick else [50, 500, 5_000]
    if args.national is None:
        args.national = not args.quick
    if args.national_nodes is None:
        args.national_nodes = 20_000 if args.quick else 1_000_000
    if args.national_sources is None:
        args.national_sources = 50 if args.quick else 5_000
    if args.national_targets is None:
        args.national_targets = 5_000 if args.quick else 100_000
    if args.sizes is None:
        args.sizes = [20_000] if args.quick else [500_000]
    if args.sources is None:
        args.sources = [1, 50, 200] if args.quick else [1, 50, 500]
    if args.min_time is None:
        args.min_time = 0.1 if args.quick else MIN_TOTAL_S
    if args.nx_full_upto is None:
        args.nx_full_upto = 1 if args.quick else 50
    if args.nx_sample is None:
        args.nx_sample = 3 if args.quick else 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    print("planner travel-time benchmark: planner.network.travel_times.node_times vs networkx")
    print("command: python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]))
    print("date: " + time.strftime("%Y-%m-%d %H:%M %Z"))
    for k, v in machine_description().items():
        print(f"{k}: {v}")
    print(f"seed: {args.seed}; cutoff: {CUTOFF_S:g} s; sources: {args.sources}")
    print(f"load average at start (1, 5, 15 min): {_load_average()}")

    ctx = mp.get_context("forkserver")
    # Python < 3.13 ignores "__main__" here, so name the heavy imports: each case
    # process then starts in milliseconds with them already loaded.
    ctx.set_forkserver_preload(
        [
            "__main__",
            "numpy",
            "scipy.sparse.csgraph",
            "pandas",
            "networkx",
            "planner.network.travel_times",
            "planner.network.engine",
            "_synthetic",
        ]
    )

    if args.engines:
        workdir = Path(tempfile.mkdtemp(prefix="planner-engines-"))
        national: list[NationalRow] = []
        try:
            engine_rows = engine_table(args, ctx, workdir)
            if args.national and engine_rows:
                national = national_table(args, ctx, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(
            "\nEngine table (seconds, medians; 'today' = scipy's Dijkstra as node_times ran it "
            "before the engine layer; CCH = pyroutingkit's many-to-many alone; new = "
            "planner.network.engine 'auto' with the network's hierarchy; best/new = the better of "
            "today and the CCH over new; order and customise+profile are the one-off "
            "preprocessing, not in the times)"
        )
        print(format_engine_table(engine_rows))
        if any(r.baseline_sources < r.sources for r in engine_rows):
            print(
                f"* today and CCH timed on the first {args.baseline_sample:,} sources and "
                "scaled linearly (--baseline-sample; one search per source in both); the new "
                "engine on every source"
            )
        if national:
            print(
                "\nNational row (planner matrix's computation: compute_matrix in blocks, "
                "pairs within the cutoff kept sparse; peak = RSS increase of the fresh "
                "process, MiB)"
            )
            print(format_national_table(national))
        print(
            "\nEvery CCH row equals scipy's Dijkstra on millisecond-rounded weights exactly "
            "(checked on the first sources of each case); Dijkstra rows are today's numbers."
        )
        print("\nTargets:")
        for line in evaluate_engine_targets(engine_rows, national):
            print("  " + line)
        print(f"\nload average at end (1, 5, 15 min): {_load_average()}")
        if args.csv and engine_rows:
            write_rows_csv(args.csv, engine_rows)
            if national:
                write_rows_csv(args.csv.with_name(args.csv.stem + "_national.csv"), national)
        return 0

    include_andorra = not args.no_andorra
    if include_andorra and not ANDORRA.exists():
        print(f"Andorra skipped: {ANDORRA} not found")
        include_andorra = False

    infos: list[GraphInfo] = []
    rows: list[Row] = []
    workdir = Path(tempfile.mkdtemp(prefix="planner-bench-"))
    try:
        for graph_no, (label, build) in enumerate(
            graph_specs(args.sizes, args.seed, include_andorra)
        ):
            t0 = time.perf_counter()
            graph = build()
            load_s = time.perf_counter() - t0
            info, graph_rows = benchmark_graph(ctx, label, graph, load_s, args, workdir, graph_no)
            infos.append(info)
            rows.extend(graph_rows)
            del graph
            gc.collect()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        "\nResults (times in seconds; planner_s and scipy_direct_s are medians of `runs` "
        f"runs in one fresh process, first run included, at least {MIN_RUNS} when a run "
        f"takes under {LONG_RUN_S:g} s; nx = networkx single_source_dijkstra_path_length "
        "looped over the sources)"
    )
    print(format_table(rows))
    print(
        "\nplanner_s excludes the one-off CSR build; "
        + "; ".join(f"{i.label}: CSR build {i.csr_build_s:.2f} s" for i in infos)
    )
    print(
        "scipy_direct_s = one bare scipy.sparse.csgraph.dijkstra call on all sources "
        "(what node_times wraps)"
    )
    print(
        "nx_measured_sources = sources networkx was actually timed on; '(extrapolated)' "
        "means nx_s = measured time x sources / measured sources"
    )
    print(
        "nx/planner = ratio of medians; best/best = fastest networkx loop over fastest "
        "planner run (equal to nx/planner when each ran once)"
    )
    print(MEMORY_NOTE + " ('no pool': node_times ran a single block in-process)")
    print(
        "verified = on every networkx-timed source the engine equals networkx to 1e-6 s, "
        "and workers=2 and the bare scipy call equal workers=1 exactly"
    )
    if any(i.synthetic for i in infos):
        print(
            "SYNTHETIC graphs are generated perturbed grids (benchmarks/_synthetic.py), "
            "not real roads."
        )
    print("\nTargets:")
    for line in evaluate_targets(rows, infos):
        print("  " + line)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")
    print(
        f"load average at end (1, 5, 15 min): {_load_average()} "
        "(the benchmark itself keeps about one core busy; more means other work "
        "shared the machine and the timings, workers=2 above all, are unreliable)"
    )

    if args.csv:
        write_rows_csv(args.csv, rows)
        print(f"CSV written to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
