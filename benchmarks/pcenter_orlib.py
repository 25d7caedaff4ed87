#!/usr/bin/env python
"""p-center on the 40 OR-Library pmed instances: heuristic gap and exact proofs.

Usage::

    python benchmarks/pcenter_orlib.py                 # all 40 (about 10-20 min on 2 cores)
    python benchmarks/pcenter_orlib.py --only 1 5 27   # pmed1, pmed5, pmed27
    python benchmarks/pcenter_orlib.py --no-exact      # heuristic only
    python benchmarks/pcenter_orlib.py --csv results.csv

Instances: J. E. Beasley's OR-Library p-median problems (``pmed1`` … ``pmed40``,
n = 100–900 nodes, p = 5–200), read from ``../shared/data/benchmarks/orlib/``
by :func:`planner.optimise.orlib.read_orlib_pmed` (shortest-path distances;
every node a demand point of weight 1 and a candidate site). The optimal
radii they are compared with are the published ones
(:data:`planner.optimise.orlib.PCENTER_OPTIMA`, as tabulated by Pullan 2008),
and the exact solver's own proofs are printed beside them.

For each instance it runs

* ``solve_heuristic(PCenter(), seed)``: greedy, then the critical-client local
  search and variable neighbourhood search of :mod:`planner.optimise.pcenter`
  (no time limit: it stops after ``PCENTER_VNS_STALL`` shakes in a row bring
  nothing), timed around the call; its gap is (value - optimum) / optimum;
* ``solve_exact(PCenter(), time_limit_s)``: the heuristic incumbent, the
  covering relaxation's lower bound and set-covering MILPs (HiGHS), timed
  around the call; its status says "optimal" only for a proven gap <= 1e-6.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

ORLIB = Path(__file__).resolve().parents[1].parent / "shared/data/benchmarks/orlib"


@dataclass
class Row:
    instance: str
    n: int
    p: int
    optimum: float
    heur: float
    heur_gap: float
    heur_s: float
    exact: float = float("nan")
    exact_gap: float = float("nan")
    exact_status: str = ""
    exact_s: float = float("nan")


def run_one(k: int, args: argparse.Namespace) -> Row:
    from planner.optimise import PCenter, make_instance, solve_exact, solve_heuristic
    from planner.optimise.orlib import PCENTER_OPTIMA, read_orlib_pmed

    orlib = read_orlib_pmed(ORLIB / f"pmed{k}.txt")
    instance = make_instance(orlib.distance)
    optimum = PCENTER_OPTIMA[orlib.name]
    t0 = time.perf_counter()
    heur = solve_heuristic(instance, PCenter(), p=orlib.p, seed=args.seed)
    row = Row(
        instance=orlib.name,
        n=orlib.n,
        p=orlib.p,
        optimum=optimum,
        heur=heur.objective_after,
        heur_gap=(heur.objective_after - optimum) / optimum,
        heur_s=time.perf_counter() - t0,
    )
    if not args.no_exact:
        t0 = time.perf_counter()
        exact = solve_exact(instance, PCenter(), p=orlib.p, time_limit_s=args.time_limit)
        row.exact_s = time.perf_counter() - t0
        row.exact, row.exact_status = exact.objective_after, exact.status
        row.exact_gap = float("nan") if exact.gap is None else exact.gap
    return row


def _print(row: Row) -> None:
    exact = (
        f"  exact {row.exact:g} [{row.exact_status}] {row.exact_s:.1f} s"
        if row.exact == row.exact
        else ""
    )
    print(
        f"{row.instance:7s} n={row.n:3d} p={row.p:3d}  optimum {row.optimum:4g}  "
        f"heuristic {row.heur:4g} (gap {row.heur_gap:.1%}, {row.heur_s:.1f} s){exact}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", type=int, help="instance numbers (1-40)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=300.0, help="exact solver limit, s")
    ap.add_argument("--no-exact", action="store_true", help="heuristic only")
    ap.add_argument("--csv", type=Path, help="also write the rows to this CSV file")
    args = ap.parse_args(argv)
    from travel_times import machine_description

    print("p-center on the OR-Library pmed instances (Beasley 1985)")
    for key, value in machine_description().items():
        print(f"  {key}: {value}")
    print(f"  date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"  heuristic seed {args.seed}; exact time limit {args.time_limit:g} s\n")
    rows = [run_one(k, args) for k in (args.only or range(1, 41))]
    for row in rows:
        _print(row)
    gaps = np.array([r.heur_gap for r in rows])
    times = np.array([r.heur_s for r in rows])
    print(
        f"\nheuristic: mean gap {gaps.mean():.2%}, worst {gaps.max():.2%}, at the optimum "
        f"{int((gaps == 0).sum())}/{len(rows)}; time mean {times.mean():.1f} s, "
        f"worst {times.max():.1f} s"
    )
    if not args.no_exact:
        proven = [r for r in rows if r.exact_status == "optimal"]
        agree = all(r.exact == r.optimum for r in proven)
        exact_s = np.array([r.exact_s for r in rows])
        print(
            f"exact: {len(proven)}/{len(rows)} proven optimal within {args.time_limit:g} s "
            f"(all equal to the published radius: {agree}); time mean {exact_s.mean():.1f} s, "
            f"worst {exact_s.max():.1f} s"
        )
    if args.csv:
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
        print(f"CSV written to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
