"""The sandbox as a whole: its env, the seeded hub, kubectl, events, fault knobs, ``serve``."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ServiceResponseError
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.conftest import Azure
from wif_sandbox.arm.kubeconfig import AKS_SERVER_APP_ID
from wif_sandbox.world import Sandbox, TargetSpec

ROOT = Path(__file__).resolve().parents[2]


def _kube_as_function_app(sb: Sandbox, azure: Azure, cluster_id: str) -> client.CoreV1Api:
    """The ``kubernetes`` client as the function app: Entra token for AKS, the cluster's CA."""
    conf = client.Configuration()
    conf.host = sb.plane(cluster_id).api_url
    conf.ssl_ca_cert = str(sb.ca_bundle)
    conf.api_key = {"authorization": "Bearer " + azure.function_token(AKS_SERVER_APP_ID + "/.default")}
    return client.CoreV1Api(client.ApiClient(conf))


def test_env_points_at_the_sandbox(module_sandbox: Sandbox) -> None:
    env = module_sandbox.env
    assert env["WIF_ALLOWED_SCOPES"] == ",".join(f"/subscriptions/{s}" for s in module_sandbox.subscription_ids)
    assert env["WIF_HUB_CLUSTER_ID"].endswith("/managedClusters/aks-hub")
    assert env["WIF_ARGOCD_IDENTITY_ID"].endswith("/userAssignedIdentities/id-argocd")
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == str(module_sandbox.ca_bundle)
    assert env["WIF_ARM_ENDPOINT"].startswith("https://127.0.0.1:") and env["WIF_ARGOCD_NAMESPACE"] == "argocd"
    assert {"AZURE_AUTHORITY_HOST", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"} <= set(env)
    assert len(module_sandbox.target_ids) == 2


def test_hub_is_seeded_for_argo_cd(module_sandbox: Sandbox) -> None:
    hub = module_sandbox.kube(module_sandbox.hub_id)
    identity = module_sandbox.arm.identities.get(module_sandbox.identity_id)
    assert identity is not None
    for name in ("argocd-application-controller", "argocd-server"):
        sa = hub.get_object("v1", "ServiceAccount", "argocd", name)
        assert sa is not None and sa["metadata"]["labels"]["azure.workload.identity/use"] == "true"
        assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == identity.wi.client_id
    binding = hub.get_object("rbac.authorization.k8s.io/v1", "RoleBinding", "argocd", "aks-argocd-wif")
    assert binding is not None and binding["subjects"][0]["name"] == module_sandbox.function_principal_id


def test_function_app_rights_on_hub_and_targets(module_sandbox: Sandbox, module_azure: Azure) -> None:
    hub = _kube_as_function_app(module_sandbox, module_azure, module_sandbox.hub_id)
    assert hub.list_namespaced_secret("argocd").items == []
    with pytest.raises(ApiException) as denied:
        hub.list_namespace()
    assert denied.value.status == 403  # not a hub admin: namespaced RBAC only
    for target in module_sandbox.target_ids:
        names = {n.metadata.name for n in _kube_as_function_app(module_sandbox, module_azure, target).list_namespace().items}
        assert "kube-system" in names  # admin of every target through its Entra admin group


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_with_the_admin_kubeconfig(module_sandbox: Sandbox) -> None:
    out = subprocess.run(["kubectl", "--kubeconfig", str(module_sandbox.kubeconfig_path), "--context", "aks-hub",
                          "get", "serviceaccounts", "-n", "argocd", "-o", "name"],
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["serviceaccount/argocd-application-controller", "serviceaccount/argocd-server"]


def test_private_target_in_admin_kubeconfig_goes_through_the_jump_box(tmp_path: Path) -> None:
    with Sandbox.start(tmp_path / "sb", targets=[TargetSpec("aks-private", private=True)]) as sb:
        plane = sb.plane(sb.target_ids[0])
        assert plane.admin_url in sb.kubeconfig_path.read_text() and plane.api_url not in sb.kubeconfig_path.read_text()
        assert sb.cluster(sb.target_ids[0]).private


def test_events_in_both_schemas(sandbox: Sandbox) -> None:
    received: list[dict[str, Any]] = []
    done = threading.Event()
    sandbox.subscribe(lambda e: (received.append(e), done.set()))
    cluster_id = sandbox.create_cluster("aks-evented", tags={"argocd": "yes"})
    assert done.wait(5)
    event = received[0]
    assert (event["eventType"], event["subject"], event["topic"]) == (
        "Microsoft.Resources.ResourceWriteSuccess", cluster_id, f"/subscriptions/{sandbox.subscription_id}")
    data = event["data"]
    assert data["operationName"] == "Microsoft.ContainerService/managedClusters/write" and data["status"] == "Succeeded"
    assert (data["resourceUri"], data["subscriptionId"], data["tenantId"]) == (cluster_id, sandbox.subscription_id,
                                                                             sandbox.tenant_id)
    assert data["resourceProvider"] == "Microsoft.ContainerService" and data["httpRequest"]["method"] == "PUT"
    cloud = sandbox.event(cluster_id, "delete", "cloudevents")
    assert cloud["specversion"] == "1.0" and cloud["type"] == "Microsoft.Resources.ResourceDeleteSuccess"
    assert cloud["source"] == event["topic"] and cloud["subject"] == cluster_id and cloud["id"] and cloud["time"]


def test_oidc_issuer_serves_discovery_and_keys(sandbox: Sandbox) -> None:
    issuer, ca = sandbox.plane(sandbox.target_ids[0]).issuer, str(sandbox.ca_bundle)
    doc = requests.get(issuer + ".well-known/openid-configuration", verify=ca, timeout=5).json()
    assert doc["issuer"] == issuer and doc["jwks_uri"] == issuer + "openid/v1/jwks"
    assert requests.get(doc["jwks_uri"], verify=ca, timeout=5).json()["keys"][0]["alg"] == "RS256"
    sandbox.delete_cluster(sandbox.target_ids[0])
    assert requests.get(doc["jwks_uri"], verify=ca, timeout=5).status_code == 404


def test_injected_errors_carry_arm_bodies_and_are_counted(sandbox: Sandbox, azure: Azure) -> None:
    retrying = Azure(sandbox, retry_total=10, retry_status=10, retry_backoff_factor=0.01)
    azure.token(), retrying.token()  # Entra first, before the knob: it is faulted too
    sandbox.faults.error_rate = 1.0
    with pytest.raises(HttpResponseError) as failed:
        azure.aks.managed_clusters.get("rg-apps", "aks-target-1")
    assert failed.value.status_code in (500, 502, 503) and failed.value.error.code
    sandbox.faults.error_rate = 0.5
    sandbox.faults.reseed(1)
    for _ in range(5):
        assert retrying.aks.managed_clusters.get("rg-apps", "aks-target-1").name == "aks-target-1"
    fives = sum(n for k, n in sandbox.log.status_counts().items() if k.startswith("arm managedClusters.get 5"))
    assert fives >= 2


def test_injected_timeouts_and_latency(sandbox: Sandbox, azure: Azure) -> None:
    azure.token()
    sandbox.faults.timeout_rate, sandbox.faults.timeout_s = 1.0, 0.05
    with pytest.raises(ServiceResponseError):
        azure.aks.managed_clusters.get("rg-apps", "aks-target-1")
    assert sandbox.log.total("arm", operation="managedClusters.get") == 1
    assert sandbox.log.entries("arm")[-1].status == 0
    sandbox.faults.timeout_rate, sandbox.faults.latency_s = 0.0, 0.1
    azure.aks.managed_clusters.get("rg-apps", "aks-target-1")
    assert sandbox.log.entries("arm")[-1].duration_ms >= 100


def test_serve_prints_its_env_first_and_stops_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "wif_sandbox", "serve", "--targets", "1", "--workdir",
                             str(tmp_path / "serve")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert set(first) == {"env", "hub", "targets", "identity", "kubeconfig", "ca_bundle", "operator"}
        assert first["operator"]["AZURE_CLIENT_ID"] != first["env"]["AZURE_CLIENT_ID"]
        assert len(first["targets"]) == 1 and Path(first["kubeconfig"]).is_file()
        assert first["env"]["WIF_HUB_CLUSTER_ID"] == first["hub"]
        arm = first["env"]["WIF_ARM_ENDPOINT"]
        assert requests.get(arm + first["hub"], verify=first["ca_bundle"], timeout=5).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "arm managedClusters.get 401" in err and "Bearer" not in err

