"""End to end on the sandbox: an AKS creation event in, a registered and verified cluster out.

Everything real except the Durable host: the sandbox's ARM publishes the event when the
cluster is PUT, ``LocalDurable.deliver`` converts it as the Functions worker does and calls
``on_cluster_event``; the host loop runs ``cluster_orchestrator`` through the Durable SDK's
replay engine and each ``run_step`` activity with the real adapters (Azure SDKs,
azure-identity, kubernetes) over HTTPS against the sandbox.
"""
from __future__ import annotations

import base64
import json
import time
from typing import Any, Iterator

import pytest

from tests import fakes
from wif_core import manifests, model
from wif_functions import activities, instances
from wif_sandbox import driver
from wif_sandbox.world import Sandbox


def capped_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.2))  # timers fire early: the sandbox's delays are real time, the suite is fast


@pytest.fixture
def host(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[driver.LocalDurable]:
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    activities.use(None)  # the real adapters, wired from the environment by the first activity
    local = driver.LocalDurable(sleep=capped_sleep)
    sandbox.subscribe(local.deliver)  # the system topic's subscription to on_cluster_event
    yield local
    activities.use(None)


def hub_secret(sandbox: Sandbox, cluster_id: str) -> Any:
    name = manifests.secret_name(model.ClusterRef.parse(cluster_id))
    return sandbox.kube(sandbox.hub_id).get_object("v1", "Secret", "argocd", name)


def test_a_cluster_creation_event_ends_registered_and_verified(sandbox: Sandbox, host: driver.LocalDurable) -> None:
    cluster_id = sandbox.create_cluster("aks-e2e-01")
    sandbox.drain_events()
    iid = instances.instance_id(model.ClusterRef.parse(cluster_id))
    assert fakes.cluster_runs(host) == [iid], "the creation event started the cluster's orchestration"
    inst = host.run(iid)
    assert inst.status == "Completed", inst.output
    assert inst.output["steps"] == ["discover", "federate", "await_propagation", "bind_rbac", "verify", "register"]
    assert inst.output["results"]["verify"]["allowed"] is True
    secret = hub_secret(sandbox, cluster_id)
    assert secret is not None and secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "cluster"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    config = json.loads(data["config"])
    assert data["server"] == inst.output["results"]["discover"]["target"]["server"]
    assert config["execProviderConfig"]["command"] == "argocd-k8s-auth"
    assert config["tlsClientConfig"] == {"insecure": False, "caData": config["tlsClientConfig"]["caData"]}
    assert not {"bearerToken", "password", "username"} & set(config), "no credential in the Secret"


def test_duplicate_events_of_both_schemas_collapse_then_a_delete_deregisters(sandbox: Sandbox,
                                                                             host: driver.LocalDurable) -> None:
    cluster_id = sandbox.create_cluster("aks-e2e-02")
    sandbox.drain_events()
    iid = instances.instance_id(model.ClusterRef.parse(cluster_id))
    host.deliver(sandbox.event(cluster_id, "write", "eventgrid"))  # at-least-once: the same write again
    host.deliver(sandbox.event(cluster_id, "write", "cloudevents"))  # and through the CloudEvents schema
    assert fakes.cluster_runs(host) == [iid]
    assert host.run(iid).status == "Completed"
    identity = sandbox.arm.identities.get(sandbox.identity_id)
    assert identity is not None and len(identity.wi.snapshot()) == 2, "one credential per Argo CD service account"
    assert hub_secret(sandbox, cluster_id) is not None
    sandbox.delete_cluster(cluster_id)
    sandbox.drain_events()
    inst = host.run(iid)
    assert inst.status == "Completed" and inst.output["action"] == "deregister", inst.output
    assert hub_secret(sandbox, cluster_id) is None
    assert fakes.cluster_runs(host) == [iid, iid]


def test_an_early_event_waits_for_provisioning_on_durable_timers(sandbox: Sandbox, host: driver.LocalDurable) -> None:
    sandbox.faults.provisioning_delay_s = 1.0
    cluster_id = sandbox.create_cluster("aks-e2e-03")  # the write event arrives while it is still Creating
    sandbox.drain_events()
    inst = host.run(instances.instance_id(model.ClusterRef.parse(cluster_id)))
    assert inst.status == "Completed", inst.output
    discovers = [a for a in inst.activities if a["input"]["step"] == "discover"]
    assert len(discovers) >= 2 and discovers[0]["result"]["status"] == "wait"
    assert "Creating" in discovers[0]["result"]["error"] and inst.timers


def test_the_hubs_own_write_event_completes_skipped_with_no_write(sandbox: Sandbox, host: driver.LocalDurable) -> None:
    from tests.integration import wired

    wired.settle(sandbox)
    before = len(sandbox.log.entries())
    host.deliver(sandbox.event(sandbox.hub_id, "write"))  # every change of the hub raises one
    iid = instances.instance_id(model.ClusterRef.parse(sandbox.hub_id))
    inst = host.run(iid)
    assert inst.status == "Completed", inst.output  # not a failed orchestration per hub change
    assert "hub" in inst.output["results"]["deregister"]["reason"]
    wired.settle(sandbox)
    assert [e.key for e in sandbox.log.entries()[before:] if wired.stored(e)] == []
    assert not [e for e in sandbox.log.entries()[before:] if "clusterrolebindings" in e.key], "no look at the hub's RBAC"
