"""API calls per onboarding: ARM, Entra and Kubernetes requests, as the sandbox's request log counts them.

Two onboardings are measured in one process with the real adapters:

* ``first``: the very first cluster of a fresh deployment: no federated credential
  yet, no token, nothing cached (2 credential writes, the propagation proof, the
  function's own Entra token, the hub and identity reads);
* ``steady``: a cluster onboarded after that in the same process: the hub's
  federation exists, tokens and hub/identity facts are cached. Measured for a
  Kubernetes-RBAC and an Azure-RBAC target; the larger count is reported.

The main numbers go through the function app as deployed (``on_cluster_event`` ->
``cluster_orchestrator`` -> ``run_step`` on the real Durable replay engine, via
``LocalDurable``); the same is measured through ``wif_core.runner`` (the CLI's path)
for comparison (``*_runner``).
"""
from __future__ import annotations

from collections import Counter
from typing import Callable

import bench
from wif_sandbox import faults
from wif_sandbox.world import Sandbox

# "create" calls that store nothing: a TokenRequest mints a token, a SubjectAccessReview answers a question.
NOT_STORED = ("serviceaccounts/token.create", "subjectaccessreviews.create")
Onboard = Callable[[str], None]


def _service(entry: faults.LogEntry) -> str:
    return entry.service.split(":", 1)[0]  # kube:<cluster> -> kube


def count(sb: Sandbox, onboard: Onboard, cluster_id: str) -> dict[str, object]:
    """Calls the sandbox answered while ``onboard(cluster_id)`` ran."""
    bench.settle(lambda: len(sb.log.entries()))
    sb.log.reset()
    onboard(cluster_id)
    bench.settle(lambda: len(sb.log.entries()))
    entries = sb.log.entries()
    return {"calls": len(entries),
            "writes": sum(1 for e in entries if e.write and e.operation not in NOT_STORED),
            "by_service": dict(Counter(_service(e) for e in entries)),
            "by_operation": dict(Counter(f"{_service(e)} {e.operation} {e.status}" for e in entries))}


def function_app_onboard(sb: Sandbox) -> Onboard:
    from wif_core import model
    from wif_functions import activities, instances
    from wif_sandbox import driver

    activities.use(None)  # the real adapters, wired from the environment by the first activity
    host = driver.LocalDurable()

    def onboard(cluster_id: str) -> None:
        host.deliver(sb.event(cluster_id))
        host.run_all()  # the cluster's run, and the hub's federation run when the event started one
        inst = host.instances[instances.instance_id(model.ClusterRef.parse(cluster_id))]
        if any(i.status != "Completed" for i in host.instances.values()):
            raise RuntimeError(f"onboarding {cluster_id} through the function app: {inst.status}: {inst.output}")

    return onboard


def runner_onboard(sb: Sandbox) -> Onboard:
    from wif_core import config, model, runner
    from wif_core.adapters import bootstrap

    settings = config.Settings.from_env(sb.env)
    r = runner.Runner(bootstrap.build(settings), settings)

    def onboard(cluster_id: str) -> None:
        report = r.onboard(model.ClusterRef.parse(cluster_id))
        if not report.ok:
            raise RuntimeError(f"onboarding {cluster_id} through the runner: {report.failed_step}: {report.error}")

    return onboard


def _path(wire: Callable[[Sandbox], Onboard]) -> dict[str, dict[str, object]]:
    """First (a Kubernetes-RBAC target), then steady for a Kubernetes-RBAC and an Azure-RBAC target."""
    with Sandbox.start(targets=3) as sb, bench.environment(sb.env):
        kube_first, azure_next, kube_next = sb.target_ids
        onboard = wire(sb)
        return {"first": count(sb, onboard, kube_first), "steady_kubernetes_rbac": count(sb, onboard, kube_next),
                "steady_azure_rbac": count(sb, onboard, azure_next)}


def _steady(measured: dict[str, dict[str, object]], key: str) -> int:
    return max(int(str(measured[k][key])) for k in ("steady_kubernetes_rbac", "steady_azure_rbac"))


def measure(runner_too: bool = True) -> dict[str, object]:
    app = _path(function_app_onboard)
    out: dict[str, object] = {
        "calls_per_cluster_first": int(str(app["first"]["calls"])),
        "calls_per_cluster_steady": _steady(app, "calls"),
        "writes_per_cluster_steady": _steady(app, "writes"),
        "calls_detail": app,
    }
    if runner_too:
        runner = _path(runner_onboard)
        out["calls_per_cluster_first_runner"] = int(str(runner["first"]["calls"]))
        out["calls_per_cluster_steady_runner"] = _steady(runner, "calls")
    return out
