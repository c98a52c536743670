"""The ARM and Entra adapters through the real SDK clients, with a transport that answers like ARM.

The transport is injected (``transport=``) the way azure-core's own tests do it:
the SDK builds real requests (URLs, api-versions, bodies), this answers them.
"""
from __future__ import annotations

import base64
import io
import json
import time
import urllib.parse
import zipfile
from typing import Any, Optional

import pytest
import requests
import urllib3
import yaml
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import BaseAdapter

from tests import fakes
from wif_core import errors, model
from wif_core.adapters import azure, entra, retrying

ARM = "https://arm.example"
REF = model.ClusterRef.parse(fakes.cluster_id("dev-1"))
IDENTITY = model.IdentityRef.parse(fakes.IDENTITY_ID)
CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
Answer = tuple[int, Any, dict[str, str]]


class Credential:
    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("app-token", int(time.time()) + 3600)


class FakeARM(BaseAdapter):  # type: ignore[misc]
    """Answers ``(METHOD, path suffix)`` with queued answers; the last one repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[requests.PreparedRequest] = []

    def on(self, method: str, suffix: str, *answers: Answer) -> None:
        self.routes[(method, suffix)] = list(answers)

    def calls(self, method: Optional[str] = None) -> list[str]:
        return [f"{r.method} {urllib.parse.urlsplit(r.url or '').path}" for r in self.requests
                if method is None or r.method == method]

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        path = urllib.parse.urlsplit(request.url or "").path
        for (method, suffix), answers in self.routes.items():
            if request.method == method and path.endswith(suffix):
                status, body, headers = answers.pop(0) if len(answers) > 1 else answers[0]
                content = b"" if body is None else json.dumps(body).encode()
                response = requests.Response()
                response.status_code, response.url, response.request = status, request.url or "", request
                response.headers.update({"Content-Type": "application/json", **headers})
                response.raw = urllib3.HTTPResponse(body=io.BytesIO(content), status=status, preload_content=False)
                return response
        raise AssertionError(f"no route for {request.method} {path}")

    def close(self) -> None:
        pass

    def transport(self) -> RequestsTransport:
        session = requests.Session()
        session.mount("https://", self)
        return RequestsTransport(session=session, session_owner=False)


def error(status: int, code: str, message: str = "m", **headers: str) -> Answer:
    return status, {"error": {"code": code, "message": message}}, headers


@pytest.fixture
def arm() -> FakeARM:
    return FakeARM()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def wired(arm: FakeARM, sleeps: list[float]) -> tuple[azure.Arm, retrying.Policy, Credential]:
    credential = Credential()
    return azure.Arm(credential, ARM, f"{ARM}/.default", transport=arm.transport()), \
        retrying.Policy(sleep=sleeps.append), credential


def cluster_json(state: str = "Succeeded") -> dict[str, Any]:
    return {"id": REF.id, "name": REF.name, "location": "westeurope", "tags": {"env": "dev"},
            "properties": {"provisioningState": state, "fqdn": "dev-1.hcp.example",
                           "aadProfile": {"managed": True, "enableAzureRBAC": True, "tenantID": fakes.TENANT},
                           "oidcIssuerProfile": {"enabled": True, "issuerURL": "https://oidc.example/dev-1/"},
                           "securityProfile": {"workloadIdentity": {"enabled": True}}}}


def credentials_json(server: str = "https://dev-1.hcp.example:443") -> dict[str, Any]:
    kubeconfig = yaml.safe_dump({"clusters": [{"name": "dev-1", "cluster": {
        "server": server, "certificate-authority-data": CA}}]}).encode()
    return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(kubeconfig).decode()}]}


def test_get_cluster_reads_arm_then_the_user_kubeconfig(arm: FakeARM, wired: Any) -> None:
    client, policy, credential = wired
    arm.on("GET", "/managedClusters/dev-1", (200, cluster_json(), {}))
    arm.on("POST", "/managedClusters/dev-1/listClusterUserCredential", (200, credentials_json(), {}))
    facts = azure.Clusters(client, policy).get_cluster(REF)
    assert facts.server == "https://dev-1.hcp.example:443" and facts.ca_data == CA and facts.azure_rbac
    assert arm.calls() == [f"GET {REF.id}", f"POST {REF.id}/listClusterUserCredential"]
    assert f"api-version={azure.AKS_API_VERSION}" in (arm.requests[0].url or "")
    assert credential.scopes == [(f"{ARM}/.default",)]
    assert client.aks(REF.subscription_id) is client.aks(REF.subscription_id.upper())  # one client per subscription


def test_a_creating_cluster_is_not_asked_for_credentials(arm: FakeARM, wired: Any) -> None:
    client, policy, _ = wired
    arm.on("GET", "/managedClusters/dev-1", (200, cluster_json("Creating"), {}))
    facts = azure.Clusters(client, policy).get_cluster(REF)
    assert facts.provisioning_state == "Creating" and facts.server == ""
    assert arm.calls("POST") == []


def test_get_cluster_errors(arm: FakeARM, wired: Any, sleeps: list[float]) -> None:
    client, policy, _ = wired
    clusters = azure.Clusters(client, policy)
    arm.on("GET", "/managedClusters/dev-1", error(404, "ResourceNotFound"))
    with pytest.raises(errors.NotFound, match="dev-1"):
        clusters.get_cluster(REF)
    arm.on("GET", "/managedClusters/dev-1", (200, cluster_json(), {}))
    arm.on("POST", "/listClusterUserCredential", error(403, "AuthorizationFailed"))
    with pytest.raises(errors.Forbidden, match="Azure Kubernetes Service Cluster User Role"):
        clusters.get_cluster(REF)
    arm.requests.clear()
    arm.on("GET", "/managedClusters/dev-1", error(503, "ServiceUnavailable"), error(500, "InternalServerError"),
           (200, cluster_json("Creating"), {}))
    assert clusters.get_cluster(REF).provisioning_state == "Creating"
    assert len(arm.calls()) == 3 and sleeps == [0.5, 2.0]  # the SDK's own retries are off


def test_identity_and_its_federated_credentials(arm: FakeARM, wired: Any) -> None:
    client, policy, _ = wired
    identities = azure.Identities(client, policy)
    arm.on("GET", "/userAssignedIdentities/argocd", (200, {"id": IDENTITY.id, "name": "argocd", "location": "x",
           "properties": {"clientId": "c-1", "principalId": "p-1", "tenantId": fakes.TENANT}}, {}))
    arm.on("GET", "/federatedIdentityCredentials", (200, {"value": [{"name": "a", "properties": {
        "issuer": "https://oidc.example/hub/", "subject": "system:serviceaccount:argocd:argocd-server",
        "audiences": ["api://AzureADTokenExchange"]}}]}, {}))
    arm.on("PUT", "/federatedIdentityCredentials/b", (201, {"name": "b", "properties": {}}, {}))
    facts = identities.get_identity(IDENTITY)
    assert (facts.client_id, facts.principal_id, facts.tenant_id) == ("c-1", "p-1", fakes.TENANT)
    assert identities.list_credentials(IDENTITY) == [model.FederatedCredential(
        "a", "https://oidc.example/hub/", "system:serviceaccount:argocd:argocd-server")]
    identities.put_credential(IDENTITY, model.FederatedCredential("b", "https://oidc.example/hub/", "sub"))
    body = json.loads(arm.requests[-1].body or b"")
    assert body == {"properties": {"issuer": "https://oidc.example/hub/", "subject": "sub",
                                   "audiences": ["api://AzureADTokenExchange"]}}
    assert "api-version=2024-11-30" in (arm.requests[-1].url or "")


def test_credential_writes_conflicts_and_deletes(arm: FakeARM, wired: Any) -> None:
    client, policy, _ = wired
    identities = azure.Identities(client, policy)
    concurrent = "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity"
    arm.on("PUT", "/federatedIdentityCredentials/b", error(409, concurrent))
    with pytest.raises(errors.Conflict):
        identities.put_credential(IDENTITY, model.FederatedCredential("b", "https://i/", "s"))
    assert len(arm.calls("PUT")) == 1  # a conflict is re-decided by the step, not blindly re-sent
    arm.on("DELETE", "/federatedIdentityCredentials/b", (200, None, {}))
    arm.on("DELETE", "/federatedIdentityCredentials/c", (204, None, {}))
    arm.on("DELETE", "/federatedIdentityCredentials/d", error(404, "NotFound"))
    assert identities.delete_credential(IDENTITY, "b") is True
    assert identities.delete_credential(IDENTITY, "c") is False
    assert identities.delete_credential(IDENTITY, "d") is False


def test_role_assignments(arm: FakeARM, wired: Any) -> None:
    client, policy, _ = wired
    roles = azure.RoleAssignments(client, policy)
    wanted = model.RoleAssignment("4f0c", REF.id, f"/subscriptions/{fakes.SUB}/providers/Microsoft.Authorization/"
                                  "roleDefinitions/b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b", "p-1")
    arm.on("GET", "/roleAssignments/4f0c", error(404, "RoleAssignmentNotFound"))
    assert roles.get(REF.id, "4f0c") is None
    arm.on("PUT", "/roleAssignments/4f0c", (201, {"name": "4f0c", "properties": {}}, {}))
    roles.create(wanted)
    body = json.loads(arm.requests[-1].body or b"")["properties"]
    assert body == {"roleDefinitionId": wanted.role_definition_id, "principalId": "p-1",
                    "principalType": "ServicePrincipal"}
    assert (arm.requests[-1].url or "").startswith(f"{ARM}{REF.id}/providers/Microsoft.Authorization/roleAssignments/4f0c?")
    arm.on("PUT", "/roleAssignments/4f0c", error(409, "RoleAssignmentExists"))
    with pytest.raises(errors.Conflict, match="RoleAssignmentExists"):
        roles.create(wanted)
    arm.on("PUT", "/roleAssignments/4f0c", error(403, "AuthorizationFailed"))
    with pytest.raises(errors.Forbidden, match="Role Based Access Control Administrator"):
        roles.create(wanted)
    arm.on("GET", "/roleAssignments/4f0c", (200, {"name": "4f0c", "properties": {
        "roleDefinitionId": wanted.role_definition_id, "principalId": "p-1", "scope": REF.id}}, {}))
    assert roles.get(REF.id, "4f0c") == wanted
    arm.on("DELETE", "/roleAssignments/4f0c", (200, {"name": "4f0c", "properties": {}}, {}))
    assert roles.delete(REF.id, "4f0c") is True
    arm.on("DELETE", "/roleAssignments/4f0c", (204, None, {}))
    assert roles.delete(REF.id, "4f0c") is False


def test_run_command_attaches_files_like_az_aks_command_invoke(arm: FakeARM, wired: Any) -> None:
    client, policy, credential = wired
    location = f"{ARM}{REF.id}/commandResults/c0ffee?api-version={azure.AKS_API_VERSION}"
    arm.on("POST", "/runCommand", (202, None, {"Location": location}))
    arm.on("GET", "/commandResults/c0ffee", (202, None, {"Location": location}),
           (200, {"id": "c0ffee", "properties": {"provisioningState": "Succeeded", "exitCode": 0, "logs": "created"}}, {}))
    run = azure.RunCommand(client, "6dae42f8-4368-4678-94ff-3960e28e3630/.default", policy, poll_s=0.01)
    result = run.run(REF, "kubectl apply -f binding.json", {"dir/binding.json": '{"kind": "ClusterRoleBinding"}'})
    assert result == model.RunResult(0, "created")
    sent = json.loads(arm.requests[0].body or b"")
    assert sent["command"] == "kubectl apply -f binding.json" and sent["clusterToken"] == "app-token"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(sent["context"]))) as archive:
        assert archive.namelist() == ["binding.json"]
        assert archive.read("binding.json") == b'{"kind": "ClusterRoleBinding"}'
    assert ("6dae42f8-4368-4678-94ff-3960e28e3630/.default",) in credential.scopes
    assert azure.command_context({}) == ""


def test_a_failed_run_command_is_temporary(arm: FakeARM, wired: Any) -> None:
    client, _, _ = wired
    arm.on("POST", "/runCommand", (200, {"id": "x", "properties": {"provisioningState": "Failed",
                                                                    "reason": "pod could not start"}}, {}))
    with pytest.raises(errors.TemporaryError, match="pod could not start"):
        azure.RunCommand(client, "s/.default", retrying.NO_RETRY).run(REF, "kubectl version", {})


def entra_answer(description: str, status: int = 400) -> Answer:
    code = int(description.split(":")[0].removeprefix("AADSTS"))
    return status, {"error": "invalid_request", "error_description": description, "error_codes": [code]}, {}


def test_token_exchange_posts_the_assertion_and_keeps_nothing(arm: FakeARM, sleeps: list[float]) -> None:
    exchange = entra.TokenExchange("https://login.example", retrying.Policy(sleep=sleeps.append),
                                   transport=arm.transport())
    arm.on("POST", f"/{fakes.TENANT}/oauth2/v2.0/token",
           (200, {"access_token": "entra-token", "expires_in": 3600, "token_type": "Bearer"}, {}))
    assert exchange.exchange(tenant_id=fakes.TENANT, client_id="c-1", assertion="sa-jwt",
                             scope="6dae42f8-4368-4678-94ff-3960e28e3630/.default") is None
    form = urllib.parse.parse_qs(str(arm.requests[0].body))
    assert form["client_assertion"] == ["sa-jwt"] and form["client_id"] == ["c-1"]
    assert form["client_assertion_type"] == ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    assert (arm.requests[0].url or "").startswith("https://login.example/")


def test_token_exchange_not_propagated_then_transient(arm: FakeARM, sleeps: list[float]) -> None:
    exchange = entra.TokenExchange("https://login.example", retrying.Policy(sleep=sleeps.append),
                                   transport=arm.transport())
    token_path = f"/{fakes.TENANT}/oauth2/v2.0/token"
    arm.on("POST", token_path, entra_answer("AADSTS70021: No matching federated identity record found."))
    with pytest.raises(errors.NotReady, match="AADSTS70021"):
        exchange.exchange(tenant_id=fakes.TENANT, client_id="c-1", assertion="a", scope="s/.default")
    assert len(arm.requests) == 1 and sleeps == []  # the runner polls, not this layer
    arm.on("POST", token_path, entra_answer("AADSTS90033: A transient error has occurred.", 503))
    with pytest.raises(errors.TemporaryError):
        exchange.exchange(tenant_id=fakes.TENANT, client_id="c-1", assertion="a", scope="s/.default")
    assert len(arm.requests) == 4 and len(sleeps) == 2
    arm.on("POST", token_path, entra_answer("AADSTS700213: No matching federated identity record for subject."))
    with pytest.raises(errors.NotFederated, match="subject"):
        exchange.exchange(tenant_id=fakes.TENANT, client_id="c-1", assertion="a", scope="s/.default")
    assert len(arm.requests) == 5  # waited for by the runner, not retried here


class SeenKwargs(FakeARM):
    """FakeARM that also keeps what requests handed the adapter (proxies, verify)."""

    def __init__(self) -> None:
        super().__init__()
        self.kwargs: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.kwargs.append(kwargs)
        return super().send(request, *args, **kwargs)


def test_the_environment_is_read_once_for_proxies_and_the_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "https_proxy", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/corp/ca.pem")
    settings = azure.environment_settings(ARM)
    assert settings == {"use_env_settings": False, "connection_verify": "/etc/corp/ca.pem",
                        "proxies": {"https": "http://proxy.example:3128"}}

    fake = SeenKwargs()
    fake.on("GET", "/federatedIdentityCredentials", (200, {"value": []}, {}))
    session = requests.Session()
    session.mount("https://", fake)
    transport = RequestsTransport(session=session, session_owner=False, use_env_settings=False,
                                  connection_verify=settings["connection_verify"])
    arm = azure.Arm(Credential(), ARM, f"{ARM}/.default", transport=transport, proxies=settings["proxies"])
    monkeypatch.setenv("HTTPS_PROXY", "http://elsewhere.example:8080")  # read once: no effect now
    assert azure.Identities(arm, retrying.Policy(sleep=lambda s: None)).list_credentials(IDENTITY) == []
    assert fake.kwargs[0]["proxies"] == {"https": "http://proxy.example:3128"}
    assert fake.kwargs[0]["verify"] == "/etc/corp/ca.pem"


def test_no_proxy_and_no_bundle_mean_direct_and_the_default_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "arm.example")
    assert azure.environment_settings(ARM) == {"use_env_settings": False, "connection_verify": True}
