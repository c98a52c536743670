"""The ARM adapters against the sandbox's ARM over HTTPS, wired by environment like a deployment."""
from __future__ import annotations

import base64
import threading

import pytest

from tests.integration import wired
from wif_core import errors, manifests, model
from wif_sandbox.world import Sandbox

AUDIENCE = ("api://AzureADTokenExchange",)


@pytest.fixture
def w(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> wired.Wired:
    return wired.wire(sandbox, monkeypatch)


def test_hub_facts(w: wired.Wired) -> None:
    hub = w.ports.clusters.get_cluster(model.ClusterRef.parse(w.sb.hub_id))
    assert hub.provisioning_state == "Succeeded" and hub.server.startswith("https://")
    assert base64.b64decode(hub.ca_data) == w.sb.ca.pem  # the CA from the user kubeconfig
    assert hub.oidc_issuer == w.sb.kube(w.sb.hub_id).issuer
    assert hub.aad and hub.workload_identity and not hub.azure_rbac and not hub.private
    assert hub.tenant_id in (None, w.sb.tenant_id) and hub.tag_map() == {"role": "argocd-hub"}
    counts = w.counts()
    assert counts["arm managedClusters.get"] == 1 and counts["arm managedClusters.listClusterUserCredential"] == 1


def test_azure_rbac_target(w: wired.Wired) -> None:
    facts = [w.ports.clusters.get_cluster(model.ClusterRef.parse(t)) for t in w.sb.target_ids]
    assert [f.azure_rbac for f in facts] == [False, True]
    assert all(f.tag_map() == {"env": "dev"} for f in facts)


def test_a_creating_cluster_has_no_endpoint_and_is_not_asked_for_credentials(w: wired.Wired) -> None:
    w.sb.faults.provisioning_delay_s = 60.0
    ref = model.ClusterRef.parse(w.sb.create_cluster("aks-new", "rg-apps"))
    wired.settle(w.sb)
    w.sb.log.reset()
    facts = w.ports.clusters.get_cluster(ref)
    assert facts.provisioning_state == "Creating" and facts.server == "" and facts.ca_data == ""
    assert "arm managedClusters.listClusterUserCredential" not in w.counts()


def test_a_missing_cluster_is_not_found(w: wired.Wired) -> None:
    ref = model.ClusterRef.parse(w.sb.hub_id.replace("aks-hub", "aks-nowhere"))
    with pytest.raises(errors.NotFound, match="aks-nowhere"):
        w.ports.clusters.get_cluster(ref)


def test_transient_arm_errors_are_retried_then_raised(w: wired.Wired) -> None:
    target = model.ClusterRef.parse(w.sb.target_ids[0])
    w.ports.clusters.get_cluster(target)  # the ARM token is cached from here on
    wired.settle(w.sb)
    w.sb.log.reset()
    w.sb.faults.error_rate = 1.0
    with pytest.raises(errors.TemporaryError, match="HTTP 5"):
        w.ports.clusters.get_cluster(target)
    assert w.counts() == {"arm managedClusters.get": 3} and w.sleeps == [0.5, 2.0]


def test_an_entra_outage_is_temporary_too(w: wired.Wired) -> None:
    w.sb.faults.error_rate = 1.0
    with pytest.raises(errors.TemporaryError, match="Entra"):
        w.ports.clusters.get_cluster(model.ClusterRef.parse(w.sb.target_ids[0]))
    assert "arm managedClusters.get" not in w.counts()  # no token, no call


def test_identity_and_federated_credentials(w: wired.Wired) -> None:
    ref = w.settings.identity
    identity = w.ports.identities.get_identity(ref)
    assert identity.principal_id and identity.client_id and identity.tenant_id == w.sb.tenant_id
    issuer = "https://oidc.example/hub/"
    first, second = manifests.desired_credentials(w.settings, model.ClusterRef.parse(w.sb.hub_id), issuer)
    assert w.ports.identities.list_credentials(ref) == []
    w.ports.identities.put_credential(ref, first)
    w.ports.identities.put_credential(ref, second)
    assert {(c.name, c.issuer, c.subject, c.audiences) for c in w.ports.identities.list_credentials(ref)} == {
        (c.name, c.issuer, c.subject, AUDIENCE) for c in (first, second)}
    with pytest.raises(errors.PermanentError, match="already exists"):  # same issuer+subject, another name
        w.ports.identities.put_credential(ref, model.FederatedCredential("other-name", issuer, first.subject))
    assert w.ports.identities.delete_credential(ref, first.name) is True
    assert w.ports.identities.delete_credential(ref, first.name) is False


def test_the_21st_credential_is_a_limit(w: wired.Wired) -> None:
    ref = w.settings.identity
    for i in range(20):
        w.ports.identities.put_credential(ref, model.FederatedCredential(f"c-{i:02}", "https://i.example/", f"s-{i}"))
    with pytest.raises(errors.LimitExceeded, match="identity per cluster"):
        w.ports.identities.put_credential(ref, model.FederatedCredential("c-20", "https://i.example/", "s-20"))


def test_throttled_credential_writes_carry_retry_after(w: wired.Wired) -> None:
    w.sb.faults.msi_write_rate_per_s = 0.25
    ref = w.settings.identity
    w.ports.identities.put_credential(ref, model.FederatedCredential("c-1", "https://i.example/", "s-1"))
    with pytest.raises(errors.Throttled) as throttled:
        w.ports.identities.put_credential(ref, model.FederatedCredential("c-2", "https://i.example/", "s-2"))
    assert throttled.value.delay and throttled.value.delay > 0
    assert (wired.settle(w.sb), w.sb.log.status_counts())[1].get("arm federatedIdentityCredentials.put 429", 0) >= 1


def test_concurrent_writes_on_one_identity_conflict(w: wired.Wired) -> None:
    w.sb.faults.msi_write_hold_s = 0.5
    ref, outcomes = w.settings.identity, []

    def put(i: int) -> None:
        try:
            w.ports.identities.put_credential(ref, model.FederatedCredential(f"c-{i}", "https://i.example/", f"s-{i}"))
            outcomes.append("ok")
        except errors.Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=put, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "ok"]


def test_role_assignments_on_an_azure_rbac_cluster(w: wired.Wired) -> None:
    scope = w.sb.target_ids[1]
    principal = w.ports.identities.get_identity(w.settings.identity).principal_id
    role = manifests.role_definition_id(w.sb.subscription_id, w.settings.azure_rbac_role_id)
    wanted = model.RoleAssignment(manifests.role_assignment_name(scope, principal, role), scope, role, principal)
    assert w.ports.roles.get(scope, wanted.name) is None
    w.ports.roles.create(wanted)
    got = w.ports.roles.get(scope, wanted.name)
    assert got is not None and (got.role_definition_id.lower(), got.principal_id) == (role.lower(), principal)
    with pytest.raises(errors.Conflict, match="RoleAssignmentExists"):
        w.ports.roles.create(model.RoleAssignment("7d1e7a55-0000-4000-8000-000000000001", scope, role, principal))
    assert w.ports.roles.delete(scope, wanted.name) is True
    assert w.ports.roles.delete(scope, wanted.name) is False


def test_run_command_reaches_a_private_cluster(w: wired.Wired) -> None:
    ref = model.ClusterRef.parse(w.sb.create_cluster("aks-private", "rg-apps", private=True))
    facts = w.ports.clusters.get_cluster(ref)
    assert facts.private
    with pytest.raises(errors.Unreachable):  # from outside its network, as in Azure
        w.ports.kube(facts).get("v1", "Namespace", None, "default")
    identity = w.ports.identities.get_identity(w.settings.identity)
    binding = manifests.cluster_role_binding(w.settings, identity, ref)
    import json

    result = w.ports.run_command.run(ref, "kubectl apply -f binding.json", {"binding.json": json.dumps(binding)})
    assert result.exit_code == 0, result.logs
    stored = w.sb.kube(ref.id).get_object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None,
                                          binding["metadata"]["name"])
    assert stored is not None and stored["subjects"] == binding["subjects"]
    denied = w.ports.run_command.run(ref, "kubectl auth can-i delete nodes --as=nobody", {})
    assert denied.exit_code != 0


def test_run_command_writes_are_conditional_and_get_reads_provenance(w: wired.Wired) -> None:
    import json

    ref = model.ClusterRef.parse(w.sb.create_cluster("aks-private-cond", "rg-apps", private=True))
    identity = w.ports.identities.get_identity(w.settings.identity)
    binding = manifests.cluster_role_binding(w.settings, identity, ref)
    name = binding["metadata"]["name"]
    absent = w.ports.run_command.run(ref, f"kubectl get clusterrolebinding {name} -o json --ignore-not-found", {})
    assert absent.exit_code == 0 and absent.logs.strip() == ""
    files = {"binding.json": json.dumps(binding)}
    assert w.ports.run_command.run(ref, "kubectl create -f binding.json", files).exit_code == 0
    again = w.ports.run_command.run(ref, "kubectl create -f binding.json", files)
    assert again.exit_code != 0 and "already exists" in again.logs  # appeared since the read: no silent overwrite
    found = w.ports.run_command.run(ref, f"kubectl get clusterrolebinding {name} -o json --ignore-not-found", {})
    live = json.loads(found.logs)
    assert live["metadata"]["annotations"][manifests.ANNOTATION_CLUSTER_ID] == ref.id
    stale = dict(binding, metadata=dict(binding["metadata"], resourceVersion="1"))
    refused = w.ports.run_command.run(ref, "kubectl replace -f binding.json", {"binding.json": json.dumps(stale)})
    assert refused.exit_code != 0
    fresh = dict(binding, metadata=dict(binding["metadata"], resourceVersion=live["metadata"]["resourceVersion"]))
    assert w.ports.run_command.run(ref, "kubectl replace -f binding.json", {"binding.json": json.dumps(fresh)}).exit_code == 0
