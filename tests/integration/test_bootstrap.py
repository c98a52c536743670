"""``bootstrap.build`` from the environment alone, against the sandbox: credential, caches, clients."""
from __future__ import annotations

import pytest

from tests.integration import wired
from wif_core import errors, model
from wif_sandbox.world import Sandbox


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_default_credential_works_against_a_local_authority(sandbox: Sandbox,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    w = wired.wire(sandbox, monkeypatch)  # no credential given: DefaultAzureCredential from AZURE_* variables
    hub = w.ports.clusters.get_cluster(model.ClusterRef.parse(sandbox.hub_id))
    assert hub.provisioning_state == "Succeeded"
    counts = w.counts()
    # MSAL asked the sandbox itself for the tenant's metadata: no instance discovery elsewhere.
    assert counts["entra discovery.get"] == 1 and counts["entra token.client_secret"] == 1


def test_hub_and_identity_are_read_once_per_ttl_targets_every_time(sandbox: Sandbox,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    w = wired.wire(sandbox, monkeypatch, clock=clock)
    hub, target = model.ClusterRef.parse(sandbox.hub_id), model.ClusterRef.parse(sandbox.target_ids[0])
    for _ in range(3):
        w.ports.clusters.get_cluster(hub)
        w.ports.clusters.get_cluster(target)
        w.ports.identities.get_identity(w.settings.identity)
    counts = w.counts()
    assert counts["arm managedClusters.get"] == 1 + 3
    assert counts["arm managedClusters.listClusterUserCredential"] == 1 + 3
    assert counts["arm userAssignedIdentities.get"] == 1
    clock.now += 121
    w.ports.clusters.get_cluster(hub)
    w.ports.identities.get_identity(w.settings.identity)
    counts = w.counts()
    assert counts["arm managedClusters.get"] == 5 and counts["arm userAssignedIdentities.get"] == 2


def test_the_hub_is_reached_as_this_app_with_its_namespaced_rights(sandbox: Sandbox,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    w = wired.wire(sandbox, monkeypatch)
    hub = w.ports.kube(w.ports.clusters.get_cluster(model.ClusterRef.parse(sandbox.hub_id)))
    assert hub is w.ports.kube(w.ports.clusters.get_cluster(model.ClusterRef.parse(sandbox.hub_id)))
    for _ in range(3):
        assert isinstance(hub.list("v1", "Secret", w.settings.namespace), list)
    with pytest.raises(errors.Forbidden, match="RBAC to list namespaces cluster-wide"):
        hub.list("v1", "Namespace", None)
    counts = w.counts()
    assert counts["entra token.client_secret"] == 2  # one for ARM, one for the AKS scope, then cached
    assert counts[f"kube:{model.ClusterRef.parse(sandbox.hub_id).name} secrets.list"] == 3


def test_targets_are_reached_as_a_member_of_their_admin_group(sandbox: Sandbox,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    w = wired.wire(sandbox, monkeypatch)
    target = w.ports.kube(w.ports.clusters.get_cluster(model.ClusterRef.parse(sandbox.target_ids[0])))
    names = {n["metadata"]["name"] for n in target.list("v1", "Namespace", None)}
    assert {"default", "kube-system"} <= names
