#!/usr/bin/env python
"""Scaling of planner's sparse travel-time matrix on SYNTHETIC graphs.

Usage::

    python benchmarks/scale.py --quick                     # smoke test: SYNTHETIC 20k, ~1 min
    python benchmarks/scale.py                             # full run (long: see the README)
    python benchmarks/scale.py --sizes 1000000 --sources 5000 --modes cluster

Every graph here is SYNTHETIC (:mod:`benchmarks._synthetic`: a perturbed
grid, not a real place, not derived from OpenStreetMap); the table labels it
so. For each graph size (default 100k, 1M and 3M nodes) and each number of
seeded random source nodes (default 10, 100, 1,000 and 5,000), it times
:func:`planner.network.matrix.compute_matrix` from the sources to ``--targets``
seeded random target nodes (default 100,000, standing in for demand points)
with a 60-minute cutoff, stored sparse:

* **in-process**: no Dask, blocks one after the other in the case process;
* **in-process-cores**: the same blocks in the case process, each spread
  over ``--workers`` cores by the engine (worker processes writing into
  shared memory, :class:`planner.network.engine.EnginePool`);
* **cluster**: a local Dask cluster of ``--workers`` (default 2)
  single-threaded worker processes on 127.0.0.1, started before the clock
  (its start-up time is reported separately); the clock includes sending the
  graph to the workers.

Each case runs in a fresh process that only loads the CSR graph (built once
per size with ``make_synthetic_network`` + ``build_travel_time_graph`` in its
own process and kept as an ``.npz`` in ``--cache-dir``, outside the
repository; the build time is printed per graph). Memory: ``peak_mib`` is the
case process's peak RSS increase over its RSS with the graph loaded (Linux
``VmHWM``, reset through ``/proc/self/clear_refs`` just before the run);
with a cluster, ``worker_peak_mib`` is the largest worker's whole peak RSS
(``VmHWM``, Python and libraries included) and ``total_peak_mib`` adds the
case process's peak increase and every worker's peak. ``matrix_mib`` is the
size of the sparse result (float64 times, int32 indices) and ``est_peak_mib``
what ``compute_matrix`` estimates for the calling process.

Results of the two modes must be identical, bit for bit (a SHA-256 of the
stored arrays is compared), or the script stops with an AssertionError.

Target: 5,000 sources on the 1M-node graph in under 10 minutes with a peak
memory under 8 GiB (judged per mode on ``seconds`` and on the whole peak:
the case process's RSS with the graph plus its increase, plus the workers).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import multiprocessing as mp
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synthetic import make_synthetic_network
from travel_times import (
    PeakMemory,
    _load_average,
    _load_ttg,
    _save_ttg,
    _status_kib,
    machine_description,
    write_rows_csv,
)

from planner.network.matrix import compute_matrix
from planner.network.travel_times import build_travel_time_graph

MIB = 1024 * 1024
DEFAULT_CACHE = Path("/tmp/planner-scale-bench")
TARGET_SOURCES = 5_000
TARGET_NODES = 1_000_000
TARGET_SECONDS = 600.0
TARGET_MIB = 8 * 1024


@dataclass
class Row:
    graph: str
    nodes: int
    sources: int
    targets: int
    cutoff_s: float
    mode: str
    seconds: float
    ms_per_source: float
    block_size: int
    blocks: int
    nnz: int
    matrix_mib: float
    est_peak_mib: float
    base_mib: float
    peak_mib: float
    worker_peak_mib: float | None
    total_peak_mib: float
    cluster_start_s: float | None
    digest: str


def _size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"synthetic {n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"synthetic {n // 1_000}k"
    return f"synthetic {n}"


# ---------------------------------------------------------------------------
# Fresh processes
# ---------------------------------------------------------------------------


def _build_main(n: int, path: str, conn: Any) -> None:
    try:
        t0 = time.perf_counter()
        graph = make_synthetic_network(n, seed=0)
        assert graph.graph["synthetic"] is True
        gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        ttg = build_travel_time_graph(graph)
        csr = time.perf_counter() - t0
        edges = graph.number_of_edges()
        del graph
        _save_ttg(ttg, Path(path))
        conn.send(("ok", {"generate_s": gen, "csr_s": csr, "edges": edges}))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _case(spec: dict[str, Any]) -> dict[str, Any]:
    ttg = _load_ttg(Path(spec["graph_path"]))
    rng = np.random.default_rng(spec["seed"])
    n = ttg.n_nodes
    targets = rng.choice(ttg.node_ids, size=min(spec["targets"], n), replace=False)
    sources = np.random.default_rng(spec["seed"] + 1).choice(
        ttg.node_ids, size=spec["sources"], replace=spec["sources"] > n
    )
    base_mib = (_status_kib("VmRSS") or 0) / 1024
    executor = None
    start_s = None
    if spec["mode"] == "cluster":
        from planner.distributed import make_executor

        t0 = time.perf_counter()
        executor = make_executor(workers=spec["workers"])
        executor.client.wait_for_workers(spec["workers"], timeout=120)  # type: ignore[union-attr]
        start_s = time.perf_counter() - t0
    try:
        mem = PeakMemory()
        t0 = time.perf_counter()
        m = compute_matrix(
            ttg,
            sources,
            targets,
            cutoff_s=spec["cutoff_s"],
            block_size=spec["block_size"],
            executor=executor,
            progress=spec["progress"],
            workers=spec["workers"] if spec["mode"] == "in-process-cores" else 1,
        )
        seconds = time.perf_counter() - t0
        peak = mem.increase_mib()
        worker_peaks: list[float] = []
        if executor is not None:
            hwm = executor.client.run(_status_kib, "VmHWM")  # type: ignore[union-attr]
            worker_peaks = [v / 1024 for v in hwm.values() if v]
    finally:
        if executor is not None:
            executor.close()
    t = m.times
    h = hashlib.sha256()
    for a in (t.indptr, t.indices, t.data):
        h.update(np.ascontiguousarray(a).tobytes())
    return {
        "seconds": seconds,
        "block_size": m.block_size,
        "blocks": len(m.computed_blocks),
        "nnz": m.nnz,
        "matrix_mib": m.nbytes / MIB,
        "est_peak_mib": m.peak_bytes / MIB,
        "base_mib": base_mib,
        "peak_mib": peak,
        "worker_peak_mib": max(worker_peaks) if worker_peaks else None,
        "total_peak_mib": peak + sum(worker_peaks),
        "cluster_start_s": start_s,
        "digest": h.hexdigest()[:16],
        "targets": len(targets),
    }


def _case_main(spec: dict[str, Any], conn: Any) -> None:
    # a spawned process makes "spawn" its default start method; give the
    # engine's worker pool the platform's default, as in an ordinary script
    mp.set_start_method(None, force=True)
    try:
        conn.send(("ok", _case(spec)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _in_fresh_process(ctx: Any, target: Any, *args: Any) -> dict[str, Any]:
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(*args, child))
    proc.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(
            f"{target.__name__}{args[:1]} died (exit code {proc.exitcode})"
        ) from None
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{target.__name__}{args[:1]} failed:\n{payload}")
    return payload


# ---------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------


def _fmt(v: Any, fmt: str = "{:,.0f}") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "none"
    return fmt.format(v) if isinstance(v, int | float) else str(v)


def format_table(rows: list[Row]) -> str:
    head = [
        "graph (SYNTHETIC)",
        "nodes",
        "sources",
        "targets",
        "mode",
        "seconds",
        "ms/source",
        "block",
        "stored pairs",
        "matrix MiB",
        "est. peak MiB",
        "peak MiB",
        "worker peak MiB",
        "total peak MiB",
        "cluster start s",
        "identical",
    ]
    same: dict[tuple[int, int], set[str]] = {}
    for r in rows:
        same.setdefault((r.nodes, r.sources), set()).add(r.digest)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        digests = same[(r.nodes, r.sources)]
        modes = sum(1 for x in rows if (x.nodes, x.sources) == (r.nodes, r.sources))
        ident = "yes" if modes > 1 and len(digests) == 1 else ("-" if modes == 1 else "NO")
        cells = [
            r.graph,
            _fmt(r.nodes),
            _fmt(r.sources),
            _fmt(r.targets),
            r.mode,
            _fmt(r.seconds, "{:.3g}"),
            _fmt(r.ms_per_source, "{:.3g}"),
            _fmt(r.block_size),
            _fmt(r.nnz),
            _fmt(r.matrix_mib, "{:,.1f}"),
            _fmt(r.est_peak_mib),
            _fmt(r.peak_mib),
            _fmt(r.worker_peak_mib),
            _fmt(r.total_peak_mib),
            _fmt(r.cluster_start_s, "{:.1f}"),
            ident,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_target(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        if r.nodes == TARGET_NODES and r.sources == TARGET_SOURCES:
            whole = r.base_mib + r.total_peak_mib
            ok = r.seconds < TARGET_SECONDS and whole < TARGET_MIB
            out.append(
                f"  {r.mode}: {'PASS' if ok else 'FAIL'}: {r.seconds:.0f} s "
                f"(target < {TARGET_SECONDS:.0f} s), whole peak {whole / 1024:.2f} GiB "
                f"(graph-loaded process {r.base_mib:,.0f} MiB + increase {r.peak_mib:,.0f} MiB"
                + (
                    f" + workers {r.total_peak_mib - r.peak_mib:,.0f} MiB"
                    if r.worker_peak_mib is not None
                    else ""
                )
                + f"; target < {TARGET_MIB / 1024:.0f} GiB)"
            )
    return out or ["  (not measured: needs --sizes 1000000 --sources 5000)"]


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="SYNTHETIC 20k graph, 10 and 100 sources")
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    p.add_argument("--sources", type=int, nargs="+", default=[10, 100, 1_000, 5_000])
    p.add_argument(
        "--max-sources",
        type=str,
        nargs="*",
        default=[],
        metavar="SIZE=N",
        help="at most N sources on the graph of SIZE nodes (e.g. 3000000=1000)",
    )
    p.add_argument("--targets", type=int, default=100_000, help="target nodes (demand points)")
    p.add_argument("--cutoff-min", type=float, default=60.0, help="cutoff, minutes")
    p.add_argument(
        "--modes", nargs="+", choices=["in-process", "in-process-cores", "cluster"], default=None
    )
    p.add_argument("--workers", type=int, default=2, help="local cluster worker processes")
    p.add_argument("--block-size", type=int, default=None, help="default: compute_matrix's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="graph .npz cache")
    p.add_argument("--progress", action="store_true", help="progress bars")
    p.add_argument("--csv", type=Path, help="also write the table as CSV")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.sources, args.targets = [20_000], [10, 100], 5_000
    args.modes = args.modes or ["in-process", "in-process-cores", "cluster"]
    args.caps = {int(k): int(v) for k, v in (c.split("=") for c in args.max_sources)}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    print("planner sparse travel-time matrix: scaling on SYNTHETIC graphs (not real places)")
    for k, v in machine_description().items():
        print(f"  {k}: {v}")
    print(f"  load average at start: {_load_average()}")
    print(
        f"  cutoff {args.cutoff_min:g} min; targets {args.targets:,} seeded random nodes; "
        f"modes {', '.join(args.modes)} (cluster: {args.workers} worker processes); "
        f"seed {args.seed}"
    )
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for n in args.sizes:
        label = _size_label(n)
        path = args.cache_dir / f"synthetic-{n}-seed0.npz"
        if not path.exists():
            info = _in_fresh_process(ctx, _build_main, n, str(path))
            print(
                f"{label} (SYNTHETIC): {info['edges']:,} edges; generated in "
                f"{info['generate_s']:.1f} s, CSR built in {info['csr_s']:.1f} s (not timed below)"
            )
        else:
            print(f"{label} (SYNTHETIC): CSR graph from {path}")
        for k in args.sources:
            if k > args.caps.get(n, k):
                print(f"  {k:,} sources: skipped (--max-sources {n}={args.caps[n]})")
                continue
            for mode in args.modes:
                spec = {
                    "graph_path": str(path),
                    "sources": k,
                    "targets": args.targets,
                    "cutoff_s": args.cutoff_min * 60.0,
                    "mode": mode,
                    "workers": args.workers,
                    "block_size": args.block_size,
                    "seed": args.seed,
                    "progress": args.progress,
                }
                res = _in_fresh_process(ctx, _case_main, spec)
                row = Row(
                    graph=label,
                    nodes=n,
                    sources=k,
                    targets=res["targets"],
                    cutoff_s=spec["cutoff_s"],
                    mode=mode,
                    seconds=res["seconds"],
                    ms_per_source=1000 * res["seconds"] / k,
                    block_size=res["block_size"],
                    blocks=res["blocks"],
                    nnz=res["nnz"],
                    matrix_mib=res["matrix_mib"],
                    est_peak_mib=res["est_peak_mib"],
                    base_mib=res["base_mib"],
                    peak_mib=res["peak_mib"],
                    worker_peak_mib=res["worker_peak_mib"],
                    total_peak_mib=res["total_peak_mib"],
                    cluster_start_s=res["cluster_start_s"],
                    digest=res["digest"],
                )
                rows.append(row)
                print(
                    f"  {k:,} sources, {mode}: {row.seconds:.1f} s, "
                    f"{row.nnz:,} pairs ({row.matrix_mib:,.0f} MiB), peak +{row.peak_mib:,.0f} MiB"
                    + (
                        f", workers up to {row.worker_peak_mib:,.0f} MiB each"
                        if row.worker_peak_mib
                        else ""
                    )
                    + f" [load {_load_average()}]",
                    flush=True,
                )
                same = {r.digest for r in rows if (r.nodes, r.sources) == (n, k)}
                assert len(same) == 1, f"{label}, {k} sources: results differ between modes"
    print()
    print(format_table(rows))
    print()
    print(
        "peak MiB = peak RSS increase of the fresh case process over its RSS with the "
        "graph loaded; worker peak = largest worker's whole peak RSS; total = case "
        "increase + all workers; identical = same SHA-256 of the stored arrays in both modes"
    )
    print(f"Target: {TARGET_SOURCES:,} sources on the 1M-node graph in < 10 min, peak < 8 GiB:")
    print("\n".join(evaluate_target(rows)))
    print(f"load average at end: {_load_average()}; total {time.perf_counter() - started:.0f} s")
    if args.csv:
        write_rows_csv(args.csv, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
