"""Argo CD's view of a cluster Secret: the pod env the workload identity webhook injects, then the Secret's.

``argo.connect`` runs ``argocd-k8s-auth azure`` with the Argo CD pod's environment
(``webhook.injected_env``) and the Secret's ``execProviderConfig.env`` appended
(client-go: the Secret wins a duplicate). The token is only where the webhook
mounts it (``Faults.webhook_token_file``: v1.6.0's path by default, the old one
selectable). Secrets here are written by hand on the hub, with the federation and
RBAC set up directly, so that only the Secret's env varies.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from wif_sandbox import argo, webhook
from wif_sandbox.federation import FederatedCredential
from wif_sandbox.world import Sandbox

SECRET = "cluster-by-hand"
MINIMAL = {"AAD_LOGIN_METHOD": "workloadidentity"}  # + AZURE_CLIENT_ID, added per sandbox


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A hub whose Argo CD controller is federated with the identity, and one target that lets it read."""
    with Sandbox.start(tmp_path_factory.mktemp("sb"), targets=1) as sb:
        identity = sb.arm.identities.get(sb.identity_id)
        assert identity is not None
        subject = f"system:serviceaccount:argocd:{argo.ARGO_SA}"
        identity.wi.credentials["argocd-application-controller"] = FederatedCredential(
            "argocd-application-controller", sb.plane(sb.hub_id).issuer, subject, ("api://AzureADTokenExchange",),
            sb.clock() - 1.0)
        sb.kube(sb.target_ids[0]).put_object({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "argocd"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": identity.wi.principal_id}]})
        yield sb


def _client_id(sb: Sandbox) -> str:
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    return identity.wi.client_id


def _write_secret(sb: Sandbox, env: dict[str, str]) -> None:
    config = {"execProviderConfig": {"command": "argocd-k8s-auth", "args": ["azure"],
                                     "apiVersion": "client.authentication.k8s.io/v1beta1", "env": env},
              "tlsClientConfig": {"insecure": False, "caData": base64.b64encode(sb.ca.pem).decode()}}
    data = {"name": "target", "server": sb.plane(sb.target_ids[0]).api_url, "config": json.dumps(config)}
    sb.kube(sb.hub_id).put_object({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": SECRET, "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})


@pytest.fixture
def webhook_path(trusted: Sandbox, request: pytest.FixtureRequest) -> Iterator[str]:
    path = webhook.token_file(getattr(request, "param", "new"))
    trusted.faults.webhook_token_file = path
    yield path
    trusted.faults.webhook_token_file = webhook.NEW_TOKEN_FILE


def test_webhook_injects_the_four_variables_from_the_service_account_and_its_config(trusted: Sandbox) -> None:
    env = argo.pod_env(trusted)
    assert env == {"AZURE_CLIENT_ID": _client_id(trusted), "AZURE_TENANT_ID": trusted.tenant_id,
                   "AZURE_FEDERATED_TOKEN_FILE": webhook.NEW_TOKEN_FILE,
                   "AZURE_AUTHORITY_HOST": trusted.entra_url + "/"}


def test_webhook_keeps_what_the_container_sets_and_skips_unlabelled_accounts() -> None:
    sa: dict[str, Any] = {"metadata": {"labels": {"azure.workload.identity/use": "true"},
                                       "annotations": {"azure.workload.identity/client-id": "c",
                                                       "azure.workload.identity/tenant-id": "t-annotated"}}}
    env = webhook.injected_env(sa, tenant_id="t-config", authority_host="https://login/", token_path="/p",
                               container_env={"AZURE_AUTHORITY_HOST": "https://mine/"})
    assert env == {"AZURE_AUTHORITY_HOST": "https://mine/", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t-annotated",
                   "AZURE_FEDERATED_TOKEN_FILE": "/p"}
    assert webhook.injected_env({"metadata": {}}, tenant_id="t", authority_host="a", token_path="/p") == {}
    assert webhook.exec_env({"A": "pod", "B": "pod"}, {"B": "secret"}) == {"A": "pod", "B": "secret"}


def test_token_path_choices() -> None:
    assert webhook.token_file("new") == "/var/run/secrets/azure/wi/token/azure-identity-token"
    assert webhook.token_file("old") == "/var/run/secrets/azure/tokens/azure-identity-token"
    assert webhook.token_file("/x/token") == "/x/token"
    with pytest.raises(ValueError, match="absolute path"):
        webhook.token_file("relative/token")


@pytest.mark.parametrize("webhook_path", ["new", "old"], indirect=True)
def test_a_secret_with_only_login_method_and_client_id_connects_with_either_webhook(
        trusted: Sandbox, webhook_path: str, tmp_path: Path) -> None:
    _write_secret(trusted, {**MINIMAL, "AZURE_CLIENT_ID": _client_id(trusted)})
    assert "kube-system" in argo.connect(trusted, SECRET, tmp_path)
    assert list(tmp_path.iterdir()) == []  # the fake pod root (and the token in it) is gone after the call


@pytest.mark.parametrize("webhook_path", ["new", "old"], indirect=True)
def test_a_secret_naming_the_other_token_path_fails(trusted: Sandbox, webhook_path: str, tmp_path: Path) -> None:
    other = webhook.OLD_TOKEN_FILE if webhook_path == webhook.NEW_TOKEN_FILE else webhook.NEW_TOKEN_FILE
    _write_secret(trusted, {**MINIMAL, "AZURE_CLIENT_ID": _client_id(trusted), "AZURE_FEDERATED_TOKEN_FILE": other})
    with pytest.raises(argo.ExecPluginError, match=f"open {other}: no such file.*mounts it at {webhook_path}"):
        argo.connect(trusted, SECRET, tmp_path)


def test_a_secret_naming_the_pods_own_values_connects(trusted: Sandbox, webhook_path: str, tmp_path: Path) -> None:
    """Today's product writes all four (same values as the webhook): harmless while they agree."""
    _write_secret(trusted, {**MINIMAL, **argo.pod_env(trusted), "AAD_ENVIRONMENT_NAME": "AzurePublicCloud",
                            "AAD_SERVER_APPLICATION_ID": argo.DEFAULT_SERVER_APPLICATION_ID})
    assert "default" in argo.connect(trusted, SECRET, tmp_path)


@pytest.mark.parametrize("authority", ["https://login.microsoftonline.com/", "login.microsoftonline.com"])
def test_a_secret_with_another_authority_fails(trusted: Sandbox, webhook_path: str, tmp_path: Path,
                                               authority: str) -> None:
    _write_secret(trusted, {**MINIMAL, "AZURE_CLIENT_ID": _client_id(trusted), "AZURE_AUTHORITY_HOST": authority})
    with pytest.raises(argo.ExecPluginError, match=f"authority {authority} is not this sandbox's Entra"):
        argo.connect(trusted, SECRET, tmp_path)


def test_a_secret_with_a_local_authority_that_is_not_entra_fails(trusted: Sandbox, webhook_path: str,
                                                                  tmp_path: Path) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    _write_secret(trusted, {**MINIMAL, "AZURE_CLIENT_ID": _client_id(trusted),
                            "AZURE_AUTHORITY_HOST": trusted.arm_url + "/"})
    with pytest.raises(ClientAuthenticationError, match="AuthenticationFailed"):  # ARM answers, not Entra
        argo.connect(trusted, SECRET, tmp_path)


def test_login_method_defaults_to_workload_identity_and_others_are_refused(trusted: Sandbox, webhook_path: str,
                                                                          tmp_path: Path) -> None:
    _write_secret(trusted, {"AZURE_CLIENT_ID": _client_id(trusted)})  # argocd-k8s-auth's default login
    assert "kube-system" in argo.connect(trusted, SECRET, tmp_path)
    _write_secret(trusted, {"AAD_LOGIN_METHOD": "spn", "AZURE_CLIENT_ID": _client_id(trusted)})
    with pytest.raises(argo.ExecPluginError, match="AAD_LOGIN_METHOD=spn"):
        argo.connect(trusted, SECRET, tmp_path)


def test_a_secret_with_another_client_id_is_refused_by_entra(trusted: Sandbox, webhook_path: str,
                                                             tmp_path: Path) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    _write_secret(trusted, {**MINIMAL, "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000001"})
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        argo.connect(trusted, SECRET, tmp_path)


def test_env_leaves_the_token_path_to_the_webhook(trusted: Sandbox, webhook_path: str) -> None:
    assert "WIF_FEDERATED_TOKEN_FILE" not in trusted.env and "WIF_ARGOCD_AUTHORITY_HOST" not in trusted.env
    assert argo.pod_env(trusted)["AZURE_FEDERATED_TOKEN_FILE"] == webhook_path


def test_serve_takes_the_webhook_token_path() -> None:
    from wif_sandbox.__main__ import _parser

    assert _parser().parse_args(["serve", "--webhook-token-path", "old"]).webhook_token_path == webhook.OLD_TOKEN_FILE
    assert _parser().parse_args(["serve"]).webhook_token_path == webhook.NEW_TOKEN_FILE


def test_serve_takes_the_arm_knobs() -> None:
    from wif_sandbox.__main__ import _parser

    on = _parser().parse_args(["serve", "--arm-throttle", "0.5", "--no-arm-rbac"])
    assert (on.arm_throttle, on.no_arm_rbac) == (0.5, True)
    off = _parser().parse_args(["serve"])
    assert (off.arm_throttle, off.no_arm_rbac) == (0.0, False)
