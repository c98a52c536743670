"""Smoke test of ``bench/``: every benchmark at a tiny size, the shape of its result, and proof that it can fail.

No wall-clock assertions: timings on a shared machine say nothing in a test. What is
asserted is that each measurement measures (a slow import is seen as slow, extra calls
are counted, a duplicate Secret or credential and a missing binding are found) and that
the report judges a value beyond its goal as missed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import bench
from bench import calls, cold_start, fleet, propagation, report
from wif_core import manifests
from wif_sandbox.world import Sandbox


def test_cold_start_shape_and_a_slow_import_is_caught() -> None:
    slow = cold_start.measure(1, app="import time; time.sleep(0.4)", sdk="import time; time.sleep(0.1)")
    assert set(slow) >= {"cold_start_ratio", "cold_start_app_s", "cold_start_sdk_s", "cold_start_baseline_s"}
    assert isinstance(slow["cold_start_ratio"], float)
    assert slow["cold_start_ratio"] > 1.15
    assert "cold_start_ratio" in report.missed(slow)


def test_calls_are_counted_per_onboarding_and_extra_calls_show() -> None:
    measured = calls.measure(runner_too=False)
    first, steady = measured["calls_per_cluster_first"], measured["calls_per_cluster_steady"]
    assert isinstance(first, int) and isinstance(steady, int) and 0 < steady < first
    detail: Any = measured["calls_detail"]
    assert detail["first"]["by_operation"].get("arm federatedIdentityCredentials.put 201") == 2
    assert "arm federatedIdentityCredentials.put 201" not in detail["steady_azure_rbac"]["by_operation"]
    with Sandbox.start(targets=1) as sb, bench.environment(sb.env):
        onboard, cluster = calls.function_app_onboard(sb), sb.target_ids[0]
        calls.count(sb, onboard, cluster)
        again = calls.count(sb, onboard, cluster)["calls"]  # the same cluster again: reads only
        twice = calls.count(sb, lambda c: [onboard(c), onboard(c)] and None, cluster)["calls"]
    assert isinstance(again, int) and again > 0 and twice == 2 * again
    assert report.missed({"calls_per_cluster_steady": 13}) == ["calls_per_cluster_steady"]


def test_propagation_lag_is_measured_from_the_sandbox_record() -> None:
    measured = propagation.measure(delay_s=1.0)
    assert measured["propagation_delay_s"] == 1.0
    lag = measured["propagation_lag_s"]
    assert isinstance(lag, float) and lag >= 0.0, "the chain cannot pass before the credential is valid"
    assert isinstance(measured["propagation_step_runs"], int) and measured["propagation_step_runs"] >= 2
    assert report.missed({"propagation_delay_s": 1.0, "propagation_lag_s": 2.2}) == ["propagation_lag_s"]


def test_a_tiny_fleet_through_the_sandbox_process() -> None:
    measured = fleet.run(2, steady=8, first=20, workers=2, latency_s=0.01, msi_rate_per_s=0.0)
    assert measured["fleet_clusters"] == 2 and measured["fleet_events"] == 3  # one duplicate delivery
    assert measured["fleet_failed"] == 0 and measured["fleet_duplicates"] == 0
    assert measured["fleet_credentials"] == 2 and measured["fleet_lower_bound_seconds"] == round(28 * 0.01 / 2, 2)
    assert isinstance(measured["fleet_ratio_to_bound"], float) and isinstance(measured["fleet_sandbox_cpu_s"], float)


def test_duplicates_and_missing_bindings_are_found() -> None:
    box = fleet.Inline(2)
    try:
        d = fleet.drive(box, workers=2, latency_s=0.0, msi_rate_per_s=0.0)
        assert fleet.judge(box.fleet, d.seen, d.instances) == {"fleet_failed": 0, "fleet_duplicates": 0}
        sb, (kube_rbac, _) = box.sb, box.fleet["clusters"]
        hub = sb.kube(sb.hub_id)
        ours = next(s for s in hub.list_objects("v1", "Secret", "argocd") if manifests.is_ours(s))
        copy = json.loads(json.dumps(ours))
        copy["metadata"] = {k: v for k, v in copy["metadata"].items() if k in ("labels", "annotations", "namespace")}
        copy["metadata"]["name"] = "copy-of-" + ours["metadata"]["name"]
        hub.put_object(copy)
        binding = next(b for b in sb.kube(kube_rbac).list_objects(fleet.RBAC, "ClusterRoleBinding") if manifests.is_ours(b))
        binding["metadata"]["labels"] = {}  # taken over by someone else: no longer ours, so ours is missing
        sb.kube(kube_rbac).put_object(binding)
        seen = box.ask("state")
    finally:
        box.close()
    assert fleet.judge(box.fleet, seen, d.instances) == {"fleet_failed": 1, "fleet_duplicates": 1}
    assert report.missed({"fleet_failed": 1, "fleet_duplicates": 1}) == ["fleet_failed", "fleet_duplicates"]


def test_results_json_has_the_keys_issue_6_names(tmp_path: Path) -> None:
    results = {"cold_start_ratio": 1.0, "calls_per_cluster_steady": 8, "calls_per_cluster_first": 20,
               "fleet_clusters": 200, "fleet_failed": 0, "fleet_duplicates": 0, "fleet_seconds": 12.0,
               "fleet_lower_bound_seconds": 10.0, "fleet_ratio_to_bound": 1.2, "propagation_delay_s": 20.0,
               "propagation_lag_s": 1.0}
    doc = report.write(tmp_path / "results.json", results)
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(doc))
    assert doc["goals_met"] is True and set(results) <= set(doc)
    assert "fleet_ratio_to_bound" in report.table(results)


def test_repeated_fleet_runs_report_the_median_and_any_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = iter([{"fleet_seconds": 15.0, "fleet_ratio_to_bound": 1.5, "fleet_failed": 0, "fleet_duplicates": 0},
                     {"fleet_seconds": 13.0, "fleet_ratio_to_bound": 1.3, "fleet_failed": 0, "fleet_duplicates": 1},
                     {"fleet_seconds": 14.0, "fleet_ratio_to_bound": 1.4, "fleet_failed": 2, "fleet_duplicates": 0}])
    monkeypatch.setattr(fleet, "run", lambda clusters, **kwargs: dict(next(outcomes)))
    measured = fleet.repeat(3, 200)
    assert measured["fleet_seconds"] == 14.0 and measured["fleet_ratio_to_bound"] == 1.4, "the median run"
    assert measured["fleet_failed"] == 2 and measured["fleet_duplicates"] == 1, "the worst of any run"
    assert measured["fleet_seconds_each"] == [15.0, 13.0, 14.0] and measured["fleet_runs"] == 3
    assert "1.500 1.300 1.400" in report.table(measured)
