"""The goals of issue 6 as data, the printed table and ``results.json``.

Results are one flat dict of numbers (every benchmark adds its keys); the JSON
keeps them at the top level, so ``results["fleet_ratio_to_bound"]`` is what a
reader or a dashboard looks up, plus ``goals`` (each goal, its limit and whether
this run met it) and ``machine`` (what the numbers were measured on).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional

Results = Mapping[str, object]


def _num(results: Results, key: str) -> Optional[float]:
    value = results.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Goal:
    key: str
    text: str
    limit: Callable[[Results], Optional[float]]  # the largest acceptable value

    def met(self, results: Results) -> Optional[bool]:
        """None when the benchmark did not run (or the limit cannot be computed)."""
        value, limit = _num(results, self.key), self.limit(results)
        return None if value is None or limit is None else value <= limit


def _lag_limit(results: Results) -> Optional[float]:
    delay = _num(results, "propagation_delay_s")
    return None if delay is None else 0.1 * delay + 1.0


GOALS: tuple[Goal, ...] = (
    Goal("cold_start_ratio", "<= 1.15", lambda r: 1.15),
    Goal("calls_per_cluster_steady", "<= 12", lambda r: 12),
    Goal("fleet_failed", "= 0", lambda r: 0),
    Goal("fleet_duplicates", "= 0", lambda r: 0),
    Goal("fleet_ratio_to_bound", "<= 1.5", lambda r: 1.5),
    Goal("propagation_lag_s", "<= 0.1*D + 1 s", _lag_limit),
)

# Rows of the table, in order; keys absent from a run are left out.
ROWS: tuple[str, ...] = (
    "cold_start_ratio", "cold_start_app_s", "cold_start_sdk_s", "cold_start_baseline_s",
    "calls_per_cluster_first", "calls_per_cluster_steady", "calls_per_cluster_first_runner",
    "calls_per_cluster_steady_runner", "writes_per_cluster_steady",
    "fleet_clusters", "fleet_events", "fleet_workers", "fleet_runs", "fleet_failed", "fleet_duplicates",
    "fleet_seconds", "fleet_seconds_each", "fleet_lower_bound_seconds", "fleet_ratio_to_bound", "fleet_ratio_each",
    "fleet_ratio_to_bound_plus_floor", "fleet_calls",
    "fleet_calls_must", "fleet_throttled",
    "fleet_federated_s", "fleet_throttle_floor_s", "fleet_client_cpu_s", "fleet_sandbox_cpu_s",
    "propagation_delay_s", "propagation_lag_s", "propagation_exchanges",
)


def goal_of(key: str) -> Optional[Goal]:
    return next((g for g in GOALS if g.key == key), None)


def _fmt(value: object) -> str:
    if isinstance(value, list):
        return " ".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table(results: Results) -> str:
    rows = [("metric", "value", "goal", "")]
    for key in ROWS:
        if key not in results:
            continue
        goal = goal_of(key)
        met = goal.met(results) if goal else None
        rows.append((key, _fmt(results[key]), goal.text if goal else "", {True: "ok", False: "MISSED"}.get(met, "")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def missed(results: Results) -> list[str]:
    return [g.key for g in GOALS if g.met(results) is False]


def machine() -> dict[str, object]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average_1m_at_end": round(load[0], 2), "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def document(results: Results) -> dict[str, object]:
    goals = {g.key: {"goal": g.text, "limit": g.limit(results), "met": g.met(results)} for g in GOALS}
    return {**dict(results), "goals": goals, "goals_met": not missed(results), "machine": machine()}


def write(path: Path, results: Results) -> dict[str, object]:
    doc = document(results)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return doc
