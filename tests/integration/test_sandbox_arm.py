"""ARM for AKS in the sandbox, through the unmodified ``azure-mgmt-containerservice``.

Cluster reads, the user kubeconfig, the create/delete long-running operations
with their Event Grid events, run command (kubectl inside the cluster network),
and ARM's error contract (401, 400 api-version, 404 ResourceNotFound).
"""
from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from typing import Any

import pytest
import requests
import yaml
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice.models import ManagedCluster, RunCommandRequest

from tests.conftest import Azure
from wif_sandbox.world import Sandbox

RG, TARGET, AZ_TARGET = "rg-apps", "aks-target-1", "aks-target-2"


def _zip(files: dict[str, str]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return base64.b64encode(buffer.getvalue()).decode()


def _run(azure: Azure, name: str, command: str, files: dict[str, str] | None = None, token: str = "") -> Any:
    request = RunCommandRequest(command=command, context=_zip(files or {}), cluster_token=token or None)
    return azure.aks.managed_clusters.begin_run_command(RG, name, request, polling_interval=0.01).result()


def test_cluster_reads_like_aks(module_azure: Azure, module_sandbox: Sandbox) -> None:
    got = module_azure.aks.managed_clusters.get(RG, TARGET).as_dict()
    props = got["properties"]
    assert got["id"] == module_sandbox.target_ids[0] and got["location"] == "westeurope"
    assert props["provisioningState"] == "Succeeded" and props["fqdn"]
    assert props["aadProfile"]["managed"] and props["aadProfile"]["tenantID"] == module_sandbox.tenant_id
    assert props["aadProfile"]["enableAzureRBAC"] is False and props["aadProfile"]["adminGroupObjectIDs"]
    assert props["oidcIssuerProfile"]["issuerURL"].startswith(module_sandbox.oidc.url)
    assert props["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert module_azure.aks.managed_clusters.get(RG, AZ_TARGET).aad_profile.enable_azure_rbac is True
    listed = {c.name for c in module_azure.aks.managed_clusters.list()}
    assert listed == {"aks-hub", TARGET, AZ_TARGET}


def test_user_kubeconfig_names_server_and_sandbox_ca(module_azure: Azure, module_sandbox: Sandbox) -> None:
    result = module_azure.aks.managed_clusters.list_cluster_user_credentials(RG, TARGET)
    doc = yaml.safe_load(result.kubeconfigs[0].value)
    cluster = doc["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == module_sandbox.ca_bundle.read_bytes()
    assert cluster["server"] == module_sandbox.plane(module_sandbox.target_ids[0]).api_url
    exec_user = doc["users"][0]["user"]["exec"]
    assert exec_user["command"] == "kubelogin" and "6dae42f8-4368-4678-94ff-3960e28e3630" in exec_user["args"]
    assert requests.get(cluster["server"] + "/version", verify=str(module_sandbox.ca_bundle), timeout=5).ok


def test_ids_are_case_insensitive(module_azure: Azure, module_sandbox: Sandbox) -> None:
    url = f"{module_sandbox.arm_url}{module_sandbox.target_ids[0].upper().replace('SUBSCRIPTIONS', 'subscriptions')}"
    answer = requests.get(url, params={"api-version": "2026-08-01"}, verify=str(module_sandbox.ca_bundle),
                          headers={"Authorization": f"Bearer {module_azure.token()}"}, timeout=5)
    assert answer.status_code == 200 and answer.json()["name"] == TARGET


def test_arm_error_contract(module_azure: Azure, module_sandbox: Sandbox) -> None:
    url, ca = module_sandbox.arm_url + module_sandbox.target_ids[0], str(module_sandbox.ca_bundle)
    bearer = {"Authorization": f"Bearer {module_azure.token()}"}
    anonymous = requests.get(url, params={"api-version": "2026-08-01"}, verify=ca, timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "AuthenticationFailed"
    aks_token = module_azure.token("6dae42f8-4368-4678-94ff-3960e28e3630/.default")
    wrong = requests.get(url, params={"api-version": "2026-08-01"}, verify=ca, timeout=5,
                         headers={"Authorization": f"Bearer {aks_token}"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    no_version = requests.get(url, verify=ca, headers=bearer, timeout=5)
    assert no_version.status_code == 400 and no_version.json()["error"]["code"] == "MissingApiVersionParameter"
    with pytest.raises(ResourceNotFoundError) as missing:
        module_azure.aks.managed_clusters.get(RG, "nope")
    assert missing.value.error.code == "ResourceNotFound" and "'Microsoft.ContainerService/managedClusters/nope'" \
        in missing.value.error.message


def test_create_is_a_long_running_operation_announced_before_ready(sandbox: Sandbox, azure: Azure) -> None:
    sandbox.faults.provisioning_delay_s = 0.3
    seen: list[tuple[str, str]] = []
    delivered = threading.Event()

    def on_event(event: dict[str, Any]) -> None:
        state = sandbox.cluster(event["subject"]).state(sandbox.clock())
        seen.append((event["eventType"], state))
        delivered.set()

    sandbox.subscribe(on_event)
    body = ManagedCluster(location="westeurope", tags={"team": "a"})
    poller = azure.aks.managed_clusters.begin_create_or_update("rg-new", "aks-new", body, polling_interval=0.05)
    first = azure.aks.managed_clusters.get("rg-new", "aks-new")
    assert first.provisioning_state == "Creating" and first.oidc_issuer_profile.issuer_url is None
    assert delivered.wait(5) and seen[0] == ("Microsoft.Resources.ResourceWriteSuccess", "Creating")
    done = poller.result()
    assert done.provisioning_state == "Succeeded" and done.oidc_issuer_profile.issuer_url
    assert sandbox.log.total("arm", operation="operations.get") >= 1  # polled Azure-AsyncOperation


def test_delete_announces_and_stops_the_api_server(sandbox: Sandbox, azure: Azure) -> None:
    cluster_id = sandbox.create_cluster("aks-doomed")
    server = sandbox.plane(cluster_id).api_url
    azure.aks.managed_clusters.begin_delete(RG, "aks-doomed", polling_interval=0.01).result()
    assert sandbox.published[-1]["eventType"] == "Microsoft.Resources.ResourceDeleteSuccess"
    assert sandbox.published[-1]["data"]["operationName"] == "Microsoft.ContainerService/managedClusters/delete"
    with pytest.raises(ResourceNotFoundError):
        azure.aks.managed_clusters.get(RG, "aks-doomed")
    with pytest.raises(requests.ConnectionError):
        requests.get(server + "/version", verify=str(sandbox.ca_bundle), timeout=5)
    azure.aks.managed_clusters.begin_delete(RG, "aks-doomed", polling_interval=0.01).result()  # already gone: 204


MANIFEST = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: argocd-manager
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: 0b9e7b0e-7f5c-4d8c-9f53-0e2d5a1c7e11}
"""


def test_run_command_applies_gets_checks_and_deletes(module_azure: Azure) -> None:
    applied = _run(module_azure, TARGET, "kubectl apply -f crb.yaml", {"crb.yaml": MANIFEST})
    assert (applied.provisioning_state, applied.exit_code) == ("Succeeded", 0)
    assert applied.logs.strip() == "clusterrolebinding.rbac.authorization.k8s.io/argocd-manager created"
    again = _run(module_azure, TARGET, "kubectl apply -f crb.yaml", {"crb.yaml": MANIFEST})
    assert again.logs.strip().endswith("argocd-manager unchanged")
    got = _run(module_azure, TARGET, "kubectl get clusterrolebinding argocd-manager -o json")
    assert json.loads(got.logs)["roleRef"]["name"] == "cluster-admin"
    can = _run(module_azure, TARGET, "kubectl auth can-i list secrets --as=0b9e7b0e-7f5c-4d8c-9f53-0e2d5a1c7e11")
    cannot = _run(module_azure, TARGET, "kubectl auth can-i list secrets --as=someone-else")
    assert (can.exit_code, can.logs.strip(), cannot.exit_code, cannot.logs.strip()) == (0, "yes", 1, "no")
    gone = _run(module_azure, TARGET, "kubectl delete -f crb.yaml --ignore-not-found && "
                "kubectl delete -f crb.yaml --ignore-not-found", {"crb.yaml": MANIFEST})
    assert gone.exit_code == 0 and gone.logs.count("deleted") == 1
    missing = _run(module_azure, TARGET, "kubectl get clusterrolebinding argocd-manager -o json")
    assert missing.exit_code == 1 and "NotFound" in missing.logs


def test_run_command_runs_as_the_caller_with_a_cluster_token(module_azure: Azure, module_sandbox: Sandbox) -> None:
    hub_token = module_azure.function_token("6dae42f8-4368-4678-94ff-3960e28e3630/.default")
    request = RunCommandRequest(command="kubectl get secrets -n kube-system", cluster_token=hub_token)
    denied = module_azure.aks.managed_clusters.begin_run_command("rg-hub", "aks-hub", request,
                                                                 polling_interval=0.01).result()
    assert denied.exit_code == 1 and "Forbidden" in denied.logs  # the function app is not a hub admin
    allowed = _run(module_azure, TARGET, "kubectl get secrets -n kube-system", token=hub_token)
    assert allowed.exit_code == 0  # it is in the target's admin group


def test_run_command_polls_until_done(sandbox: Sandbox, azure: Azure) -> None:
    sandbox.faults.run_command_delay_s = 0.2
    result = _run(azure, TARGET, "kubectl get ns kube-system -o name")
    assert result.logs.strip() == "namespace/kube-system"
    assert sandbox.log.total("arm", operation="commandResults.get") >= 2


def test_private_cluster_only_through_run_command(sandbox: Sandbox, azure: Azure) -> None:
    cluster_id = sandbox.create_cluster("aks-private", private=True)
    props = azure.aks.managed_clusters.get(RG, "aks-private").as_dict()["properties"]
    assert props["apiServerAccessProfile"]["enablePrivateCluster"] and props["privateFQDN"] and "fqdn" not in props
    kubeconfig = yaml.safe_load(azure.aks.managed_clusters.list_cluster_user_credentials(RG, "aks-private")
                                .kubeconfigs[0].value)
    with pytest.raises(requests.ConnectionError):
        requests.get(kubeconfig["clusters"][0]["cluster"]["server"] + "/version",
                     verify=str(sandbox.ca_bundle), timeout=5)
    assert _run(azure, "aks-private", "kubectl get ns default -o name").logs.strip() == "namespace/default"
    assert sandbox.plane(cluster_id).admin_url != sandbox.plane(cluster_id).api_url  # the jump box


def test_run_command_refuses_bad_input(module_azure: Azure) -> None:
    with pytest.raises(HttpResponseError) as bad:
        module_azure.aks.managed_clusters.begin_run_command(
            RG, TARGET, RunCommandRequest(command="kubectl get ns", context="not-a-zip!"))
    assert bad.value.status_code == 400 and bad.value.error.code == "InvalidParameter"
    unknown = _run(module_azure, TARGET, "helm list")
    assert unknown.exit_code == 1 and "not found" in unknown.logs
