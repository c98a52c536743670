"""Two subscriptions in one sandbox: same-named clusters side by side, each addressed by its own id.

Through the unmodified ``azure-mgmt-containerservice`` and ``azure-mgmt-authorization``
clients, one per subscription, as a product that manages several subscriptions
builds them: reads, lists, user kubeconfigs, run command, role assignments at the
cluster scope, deletes, and the Event Grid events each subscription's system topic
emits.
"""
from __future__ import annotations

import base64
import io
import uuid
import zipfile
from typing import Any, Iterator

import pytest
import yaml
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import RunCommandRequest
from kubernetes import client, config

from tests.conftest import Azure
from wif_sandbox.arm.roles import AKS_RBAC_READER
from wif_sandbox.world import Sandbox


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, str, str]]:
    """A sandbox with ``prod`` in rg-a of the first subscription and in rg-b of the second."""
    with Sandbox.start(tmp_path_factory.mktemp("sb"), targets=0) as sb:
        first = sb.create_cluster("prod", "rg-a")
        second = sb.create_cluster("prod", "rg-b", azure_rbac=True, subscription_id=sb.second_subscription_id)
        sb.drain_events()
        yield sb, first, second


def _zip(files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return base64.b64encode(buffer.getvalue()).decode()


def _arm(sb: Sandbox) -> dict[str, Any]:
    azure = Azure(sb)
    env = sb.env
    return {"credential": azure.credential, "base_url": env["WIF_ARM_ENDPOINT"], "retry_total": 0,
            "credential_scopes": [env["WIF_ARM_ENDPOINT"] + "/.default"], "polling_interval": 0.01,
            "connection_verify": env["REQUESTS_CA_BUNDLE"]}


def _aks(sb: Sandbox, subscription: str) -> ContainerServiceClient:
    arm = _arm(sb)
    return ContainerServiceClient(arm.pop("credential"), subscription, **arm)


def test_same_name_in_two_subscriptions_and_groups(two: tuple[Sandbox, str, str]) -> None:
    sb, first, second = two
    assert first == f"/subscriptions/{sb.subscription_id}/resourceGroups/rg-a/providers/" \
                    "Microsoft.ContainerService/managedClusters/prod"
    assert second == f"/subscriptions/{sb.second_subscription_id}/resourceGroups/rg-b/providers/" \
                     "Microsoft.ContainerService/managedClusters/prod"
    got_first = _aks(sb, sb.subscription_id).managed_clusters.get("rg-a", "prod")
    got_second = _aks(sb, sb.second_subscription_id).managed_clusters.get("rg-b", "prod")
    assert (got_first.id, got_second.id) == (first, second)
    assert got_first.aad_profile.enable_azure_rbac is False and got_second.aad_profile.enable_azure_rbac is True
    assert got_first.fqdn != got_second.fqdn
    assert sb.plane(first).issuer != sb.plane(second).issuer


def test_each_subscription_lists_its_own(two: tuple[Sandbox, str, str]) -> None:
    sb, first, second = two
    assert [c.id for c in _aks(sb, sb.subscription_id).managed_clusters.list()] == [sb.hub_id, first]
    assert [c.id for c in _aks(sb, sb.second_subscription_id).managed_clusters.list()] == [second]
    assert [c.id for c in _aks(sb, sb.second_subscription_id).managed_clusters.list_by_resource_group("rg-b")] == \
        [second]
    assert list(_aks(sb, sb.second_subscription_id).managed_clusters.list_by_resource_group("rg-a")) == []
    with pytest.raises(HttpResponseError, match="ResourceNotFound"):  # the right group, the wrong subscription
        _aks(sb, sb.second_subscription_id).managed_clusters.get("rg-a", "prod")


def test_unknown_subscription_is_not_found(two: tuple[Sandbox, str, str]) -> None:
    sb, _, _ = two
    other = str(uuid.uuid4())
    with pytest.raises(HttpResponseError, match="SubscriptionNotFound"):
        _aks(sb, other).managed_clusters.get("rg-a", "prod")
    with pytest.raises(KeyError, match="not in this sandbox"):
        sb.create_cluster("prod", "rg-c", subscription_id=other)


def test_events_name_the_clusters_subscription(two: tuple[Sandbox, str, str]) -> None:
    sb, first, second = two
    by_subject = {e["subject"]: e for e in sb.published}
    for cluster_id, subscription in ((first, sb.subscription_id), (second, sb.second_subscription_id)):
        evt = by_subject[cluster_id]
        assert evt["topic"] == f"/subscriptions/{subscription}"
        assert (evt["data"]["resourceUri"], evt["data"]["subscriptionId"]) == (cluster_id, subscription)
        assert evt["data"]["authorization"]["evidence"]["roleAssignmentScope"] == f"/subscriptions/{subscription}"
    built = sb.event(second, "delete", "cloudevents")
    assert built["source"] == f"/subscriptions/{sb.second_subscription_id}" and built["subject"] == second


def test_kubeconfigs_and_run_command_in_the_second_subscription(two: tuple[Sandbox, str, str]) -> None:
    sb, first, second = two
    aks = _aks(sb, sb.second_subscription_id)
    doc = yaml.safe_load(aks.managed_clusters.list_cluster_user_credentials("rg-b", "prod").kubeconfigs[0].value)
    assert doc["clusters"][0]["cluster"]["server"] == sb.plane(second).api_url
    manifest = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: only-in-second\n"
    request = RunCommandRequest(command="kubectl apply -f ns.yaml", context=_zip({"ns.yaml": manifest}))
    result = aks.managed_clusters.begin_run_command("rg-b", "prod", request, polling_interval=0.01).result()
    assert result.exit_code == 0, result.logs
    assert sb.kube(second).get_object("v1", "Namespace", "", "only-in-second") is not None
    assert sb.kube(first).get_object("v1", "Namespace", "", "only-in-second") is None
    contexts = {sb.context(first): first, sb.context(second): second}
    assert sb.context(first) == "prod" and sb.context(second) == f"prod_rg-b_{sb.second_subscription_id[:8]}"
    for name, cluster_id in contexts.items():  # the admin kubeconfig reaches both, under distinct contexts
        api = client.CoreV1Api(config.new_client_from_config(str(sb.kubeconfig_path), context=name))
        has = {ns.metadata.name for ns in api.list_namespace().items}
        assert ("only-in-second" in has) == (cluster_id == second)


def test_role_assignments_at_a_cluster_in_the_second_subscription(two: tuple[Sandbox, str, str]) -> None:
    sb, _, second = two
    arm = _arm(sb)
    auth = AuthorizationManagementClient(arm.pop("credential"), sb.second_subscription_id, api_version="2022-04-01",
                                         **arm)
    role = f"/subscriptions/{sb.second_subscription_id}/providers/Microsoft.Authorization/roleDefinitions/" \
           f"{AKS_RBAC_READER}"
    principal = sb.function_principal_id
    name = str(uuid.uuid4())
    made = auth.role_assignments.create(second, name, {"role_definition_id": role, "principal_id": principal,
                                                       "principal_type": "ServicePrincipal"})
    assert made.scope == second
    listed = list(auth.role_assignments.list_for_scope(second, filter=f"principalId eq '{principal}'"))
    # the function app's own infra grants at the second subscription sit above the cluster
    assert [a.name for a in listed if a.scope == second] == [name]
    assert [a.name for a in sb.arm.roles.roles_of(principal, second) if a.scope == second] == [name]
    auth.role_assignments.delete(second, name)


def test_delete_in_one_subscription_leaves_the_other(tmp_path_factory: pytest.TempPathFactory) -> None:
    with Sandbox.start(tmp_path_factory.mktemp("sb"), targets=0) as sb:
        first = sb.create_cluster("prod", "rg-a")
        second = sb.create_cluster("prod", "rg-b", subscription_id=sb.second_subscription_id)
        _aks(sb, sb.second_subscription_id).managed_clusters.begin_delete("rg-b", "prod").result()
        sb.drain_events()
        deleted = [e for e in sb.published if e["eventType"].endswith("ResourceDeleteSuccess")]
        assert [(e["subject"], e["topic"]) for e in deleted] == [(second, f"/subscriptions/{sb.second_subscription_id}")]
        assert sb.arm.clusters.get(second) is None and sb.arm.clusters.get(first) is not None
        assert _aks(sb, sb.subscription_id).managed_clusters.get("rg-a", "prod").id == first
