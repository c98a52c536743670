"""Cold start: what ``import function_app`` costs beyond the Functions libraries it must load.

The Python worker imports ``function_app`` in a fresh process to index it; that is
the cold start this project controls. Measured as whole-process wall time of
``python -c STATEMENT`` in fresh processes, minus the median of ``python -c pass``
(the interpreter's own start, the same for both), so the ratio compares import
costs only, which is stricter than comparing whole processes:

    ratio = median(app - baseline) / median(sdk - baseline)
    app = "import function_app", sdk = "import azure.functions, azure.durable_functions"

Runs are interleaved (baseline, sdk, app, baseline, ...), with the order rotated
each round so that neither statement always follows the other; one untimed warm-up
round fills the OS file cache and writes ``.pyc`` files first.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import bench

APP = "import function_app"
SDK = "import azure.functions, azure.durable_functions"
BASELINE = "pass"


def _once(python: str, statement: str, cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([python, "-c", statement], cwd=cwd, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def measure(runs: int = 15, *, app: str = APP, sdk: str = SDK, python: Optional[str] = None,
            cwd: Optional[Path] = None) -> dict[str, object]:
    python, cwd = python or sys.executable, cwd or bench.ROOT
    statements = {"baseline": BASELINE, "sdk": sdk, "app": app}
    times: dict[str, list[float]] = {name: [] for name in statements}
    order = list(statements)
    for name in order:  # warm-up, not counted
        _once(python, statements[name], cwd)
    for round_ in range(runs):
        rotated = order[round_ % len(order):] + order[:round_ % len(order)]
        for name in rotated:
            times[name].append(_once(python, statements[name], cwd))
    base = statistics.median(times["baseline"])
    app_s = statistics.median(times["app"]) - base
    sdk_s = statistics.median(times["sdk"]) - base
    return {"cold_start_ratio": round(app_s / sdk_s, 3) if sdk_s > 0 else float("inf"),
            "cold_start_app_s": round(app_s, 4), "cold_start_sdk_s": round(sdk_s, 4),
            "cold_start_baseline_s": round(base, 4), "cold_start_runs": runs}
