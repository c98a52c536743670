"""``python -m bench`` (``make bench``): every benchmark, one table, ``bench/results.json``.

Order: cold start (fresh processes), calls per cluster (whose counts the fleet's
lower bound uses), propagation lag, then the fleet. Exits 1 when a goal is missed
(the table says which), 0 otherwise; the JSON is written either way.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Optional

import bench
from bench import calls, cold_start, fleet, propagation, report

PARTS = ("cold_start", "calls", "propagation", "fleet")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    p.add_argument("--cold-runs", type=int, default=15, help="fresh processes per import statement (default 15)")
    p.add_argument("--clusters", type=int, default=200, help="fleet size (default 200)")
    p.add_argument("--workers", type=int, default=None,
                   help="fleet concurrency (default: host.json maxConcurrentActivityFunctions)")
    p.add_argument("--fleet-runs", type=int, default=3,
                   help="fleet runs, each on a fresh sandbox; the median is reported (default 3)")
    p.add_argument("--latency", type=float, default=0.05, help="seconds added to every sandbox call in the fleet")
    p.add_argument("--msi-rate", type=float, default=0.25, help="federated credential writes/s per identity (0 = off)")
    p.add_argument("--sandbox", choices=("process", "inline"), default="process",
                   help="fleet: run the sandbox in a child process (default) or in this one")
    p.add_argument("--propagation-delay", type=float, default=20.0, metavar="D", help="seconds (default 20)")
    p.add_argument("--out", type=Path, default=bench.ROOT / "bench" / "results.json")
    return p


def _step(name: str, results: dict[str, object], fn: object) -> None:
    started = time.monotonic()
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    results.update(fn())  # type: ignore[operator]
    print(f"bench: {name} done in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    parts = set(args.only or PARTS)
    results: dict[str, object] = {}
    started = time.monotonic()
    if "cold_start" in parts:
        _step("cold start", results, lambda: cold_start.measure(args.cold_runs))
    if "calls" in parts or "fleet" in parts:
        _step("calls per cluster", results, calls.measure)
    if "propagation" in parts:
        _step("propagation lag", results, lambda: propagation.measure(args.propagation_delay))
    if "fleet" in parts:
        _step("fleet", results, lambda: fleet.repeat(
            args.fleet_runs, args.clusters, steady=int(str(results["calls_per_cluster_steady"])),
            first=int(str(results["calls_per_cluster_first"])), workers=args.workers, latency_s=args.latency,
            msi_rate_per_s=args.msi_rate, mode=args.sandbox))
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    report.write(args.out, results)
    print(report.table(results))
    missed = report.missed(results)
    print(f"\nwrote {args.out}" + (f"; goals missed: {', '.join(missed)}" if missed else "; every goal met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
