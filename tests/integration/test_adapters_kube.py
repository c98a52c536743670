"""The kube adapter (the real ``kubernetes`` client) against the sandbox's API server over HTTPS.

One emulated API server behind the sandbox's TLS front end, trusted through
the CA handed over as kubeconfig-style base64 (as ``ClusterFacts.ca_data``).
Entra bearer tokens are stood in by fixed strings mapped to users.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests import fakes
from wif_core import errors, manifests, model
from wif_core.adapters import kube, retrying
from wif_sandbox import faults, httpd, pki
from wif_sandbox.kube import KubeApiServer, UserInfo

ADMIN, READER = "admin-token", "reader-token"
USERS = {ADMIN: UserInfo("app-oid", ("system:masters",)), READER: UserInfo("reader-oid", ())}
REF = model.ClusterRef.parse(fakes.HUB_ID)


class Server:
    def __init__(self, tmp: Path) -> None:
        self.ca = pki.CA.create(tmp / "pki")
        self.log, self.faults = faults.RequestLog(), faults.Faults(seed=1)
        self.api = KubeApiServer("hub", issuer="https://oidc.example/hub/", sa_key=pki.SigningKey.generate(),
                                 authenticate_bearer=USERS.get)
        self.https = httpd.HttpsServer(self.api, ca=self.ca, service="kube-hub", log=self.log, faults=self.faults,
                                       client_certs=True, operation_of=self.api.operation_of)
        self.tokens_handed: list[str] = []
        self.sleeps: list[float] = []

    def facts(self, ca_pem: bytes = b"") -> model.ClusterFacts:
        ca = base64.b64encode(ca_pem or self.ca.pem).decode()
        return model.ClusterFacts(REF, "Succeeded", "westeurope", self.https.url, ca, False, True, False,
                                  "https://oidc.example/hub/", True, fakes.TENANT)

    def client(self, token: str = ADMIN, **facts: Any) -> kube.Kube:
        def hand() -> str:
            self.tokens_handed.append(token)
            return token
        return kube.Kube(self.facts(**facts), hand, retrying.Policy(sleep=self.sleeps.append))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    s.api.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})
    for sa in ("argocd-server", "argocd-application-controller"):
        s.api.put_object({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": "argocd"}})
    with s.https:
        yield s


def secret(name: str = "aks-dev-1", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": "argocd", "labels": {manifests.LABEL_MANAGED_BY: manifests.MANAGED_BY,
                                                                          **labels}},
            "stringData": {"server": "https://dev-1:443"}}


def test_secret_lifecycle_as_plain_json(server: Server) -> None:
    k = server.client()
    assert k.get("v1", "Secret", "argocd", "aks-dev-1") is None
    created = k.create(secret(team="a"))
    assert created["metadata"]["resourceVersion"] and created["data"] == {"server": base64.b64encode(b"https://dev-1:443").decode()}
    with pytest.raises(errors.Conflict, match="already exists"):
        k.create(secret())
    k.create(secret("aks-dev-2", team="b"))
    assert [s["metadata"]["name"] for s in k.list("v1", "Secret", "argocd", "team=a")] == ["aks-dev-1"]
    assert {s["kind"] for s in k.list("v1", "Secret", "argocd")} == {"Secret"}
    fetched = k.get("v1", "Secret", "argocd", "aks-dev-1")
    assert fetched is not None and json.loads(json.dumps(fetched)) == fetched  # plain JSON, no client models
    replaced = k.replace(dict(fetched, data={"server": base64.b64encode(b"https://dev-1b:443").decode()}))
    assert replaced["metadata"]["resourceVersion"] != fetched["metadata"]["resourceVersion"]
    with pytest.raises(errors.Conflict, match="modified"):
        k.replace(fetched)  # stale resourceVersion
    assert k.delete("v1", "Secret", "argocd", "aks-dev-1") is True
    assert k.delete("v1", "Secret", "argocd", "aks-dev-1") is False
    with pytest.raises(errors.Conflict):
        k.replace(replaced)  # gone since it was read: re-read and decide again
    assert len(server.tokens_handed) == len(server.log.entries())  # a fresh token for every request


def test_cluster_role_binding_and_subject_access_review(server: Server) -> None:
    k = server.client()
    identity = model.IdentityFacts(fakes.IDENTITY_ID, "argocd", "c-1", "argocd-oid", fakes.TENANT)
    allowed, _ = k.can_i("argocd-oid", (), "list", "namespaces")
    assert not allowed
    binding = manifests.cluster_role_binding(fakes.settings(), identity, model.ClusterRef.parse(fakes.cluster_id("dev-1")))
    k.create(binding)
    got = k.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None, binding["metadata"]["name"])
    assert got is not None and got["subjects"] == binding["subjects"]
    allowed, _ = k.can_i("argocd-oid", (), "list", "namespaces")
    assert allowed
    assert k.delete("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None, binding["metadata"]["name"])


def test_token_request_for_the_argocd_service_account(server: Server) -> None:
    k = server.client()
    token = k.create_token("argocd", "argocd-server", "api://AzureADTokenExchange", 600)
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] in (["api://AzureADTokenExchange"], "api://AzureADTokenExchange")
    assert claims["sub"] == "system:serviceaccount:argocd:argocd-server"
    assert claims["iss"] == "https://oidc.example/hub/"
    with pytest.raises(errors.NotFound, match="WIF_ARGOCD_SERVICE_ACCOUNTS"):
        k.create_token("argocd", "no-such-sa", "api://AzureADTokenExchange")


def test_refusals_name_the_permission_or_the_credential(server: Server) -> None:
    with pytest.raises(errors.Forbidden) as denied:
        server.client(READER).create(secret())
    assert 'cannot create resource "secrets"' in denied.value.message
    assert "RBAC to create secrets in namespace argocd" in denied.value.message
    with pytest.raises(errors.PermanentError, match="rejected this app's Entra token") as rejected:
        server.client("not-a-token").get("v1", "Secret", "argocd", "x")
    assert "not-a-token" not in rejected.value.message
    assert server.sleeps == []  # neither is retried


def test_transient_failures_are_retried_three_times(server: Server) -> None:
    server.faults.error_rate = 1.0
    with pytest.raises(errors.TemporaryError, match="HTTP 5"):
        server.client().get("v1", "Secret", "argocd", "x")
    assert server.log.total(operation="secrets.get") == 3 and server.sleeps == [0.5, 2.0]


def test_an_api_server_that_went_away_is_unreachable(server: Server) -> None:
    k = server.client()
    server.https.stop()
    with pytest.raises(errors.Unreachable):
        k.get("v1", "Secret", "argocd", "x")


def test_a_wrong_ca_is_a_permanent_tls_error(server: Server, tmp_path: Path) -> None:
    other = pki.CA.create(tmp_path / "other")
    with pytest.raises(errors.PermanentError, match="TLS verification"):
        server.client(ca_pem=other.pem).get("v1", "Secret", "argocd", "x")


def test_merge_patch_and_conditional_delete(server: Server) -> None:
    k = server.client()
    created = k.create(secret(team="a"))
    rv = created["metadata"]["resourceVersion"]
    patched = k.patch("v1", "Secret", "argocd", "aks-dev-1",
                      {"metadata": {"labels": {"team": None, "env": "prod"}, "resourceVersion": rv},
                       "data": {"name": base64.b64encode(b"dev-1").decode()}})
    assert patched["metadata"]["labels"] == {manifests.LABEL_MANAGED_BY: manifests.MANAGED_BY, "env": "prod"}
    assert set(patched["data"]) == {"server", "name"}  # merged, not replaced
    with pytest.raises(errors.Conflict):  # the version we checked is gone: decide again
        k.patch("v1", "Secret", "argocd", "aks-dev-1", {"metadata": {"resourceVersion": rv}, "data": {}})
    with pytest.raises(errors.Conflict):
        k.delete("v1", "Secret", "argocd", "aks-dev-1", resource_version=rv)
    assert k.get("v1", "Secret", "argocd", "aks-dev-1") is not None  # a stale precondition deletes nothing
    assert k.delete("v1", "Secret", "argocd", "aks-dev-1", resource_version=patched["metadata"]["resourceVersion"])
    with pytest.raises(errors.Conflict):  # vanished: a patch cannot create it
        k.patch("v1", "Secret", "argocd", "aks-dev-1", {"data": {}})
