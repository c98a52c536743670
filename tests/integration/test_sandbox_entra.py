"""Entra ID in the sandbox, through the unmodified ``azure-identity`` credentials.

Client secret (MSAL, the function app's own identity) and workload identity
federation (``WorkloadIdentityCredential`` with a service-account token minted by
the hub's TokenRequest API through the ``kubernetes`` client), including Entra's
propagation lag (AADSTS70021 until the credential is old enough) and its other
refusals with their real AADSTS codes.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential, WorkloadIdentityCredential
from kubernetes import client, config

from wif_sandbox.arm.kubeconfig import AKS_SERVER_APP_ID
from wif_sandbox.federation import FederatedCredential
from wif_sandbox.pki import SigningKey
from wif_sandbox.world import Sandbox

AKS_SCOPE = AKS_SERVER_APP_ID + "/.default"
SUBJECT = "system:serviceaccount:argocd:argocd-server"


class Clock:
    """A clock the test moves (propagation without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[Sandbox, Clock]]:
    clock = Clock()
    with Sandbox.start(tmp_path / "sb", targets=1, clock=clock) as sb:
        yield sb, clock


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _secret_credential(sb: Sandbox, secret: str = "", tenant: str = "") -> ClientSecretCredential:
    env = sb.env
    return ClientSecretCredential(tenant or env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"],
                                  secret or env["AZURE_CLIENT_SECRET"], authority=env["AZURE_AUTHORITY_HOST"],
                                  disable_instance_discovery=True, connection_verify=env["REQUESTS_CA_BUNDLE"])


def _hub_sa_token(sb: Sandbox, name: str = "argocd-server") -> str:
    """A TokenRequest on the hub, as the Argo CD pod's projected volume gets it."""
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(sb.kubeconfig_path), context="aks-hub"))
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
        audiences=["api://AzureADTokenExchange"], expiration_seconds=3600))
    return str(api.create_namespaced_service_account_token(name, "argocd", request).status.token)


def _federate(sb: Sandbox, audiences: tuple[str, ...] = ("api://AzureADTokenExchange",), written_at: float = 0.0) -> None:
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    issuer = sb.plane(sb.hub_id).issuer
    identity.wi.credentials["argocd-server"] = FederatedCredential("argocd-server", issuer, SUBJECT, audiences,
                                                                   written_at or sb.clock())


def _workload_credential(sb: Sandbox, token: str, tmp_path: Path) -> WorkloadIdentityCredential:
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(token)
    return WorkloadIdentityCredential(tenant_id=sb.tenant_id, client_id=identity.wi.client_id,
                                      token_file_path=str(token_file), authority=sb.entra_url,
                                      connection_verify=str(sb.ca_bundle), retry_total=0)


def test_client_secret_tokens_carry_who_and_for_what(module_sandbox: Sandbox) -> None:
    credential = _secret_credential(module_sandbox)
    arm = _claims(credential.get_token(module_sandbox.arm_url + "/.default").token)
    aks = _claims(credential.get_token(AKS_SCOPE).token)
    assert arm["aud"] == module_sandbox.arm_url and aks["aud"] == AKS_SERVER_APP_ID
    assert arm["oid"] == module_sandbox.function_principal_id and arm["tid"] == module_sandbox.tenant_id
    assert arm["appid"] == module_sandbox.env["AZURE_CLIENT_ID"] and arm["exp"] > time.time() + 3000
    target_groups = {g for t in module_sandbox.target_ids for g in module_sandbox.cluster(t).admin_groups}
    hub_groups = set(module_sandbox.cluster(module_sandbox.hub_id).admin_groups)
    assert target_groups <= set(aks["groups"]) and not hub_groups & set(aks["groups"])
    principal = module_sandbox.entra.verify_access_token(credential.get_token(AKS_SCOPE).token, AKS_SERVER_APP_ID)
    assert principal is not None and principal.oid == module_sandbox.function_principal_id


def test_client_secret_refusals(module_sandbox: Sandbox) -> None:
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        _secret_credential(module_sandbox, secret="wrong").get_token(AKS_SCOPE)
    with pytest.raises(ClientAuthenticationError):
        _secret_credential(module_sandbox, tenant="11111111-2222-3333-4444-555555555555").get_token(AKS_SCOPE)


def test_discovery_and_keys(module_sandbox: Sandbox) -> None:
    ca, base = str(module_sandbox.ca_bundle), f"{module_sandbox.entra_url}/{module_sandbox.tenant_id}"
    doc = requests.get(base + "/v2.0/.well-known/openid-configuration", verify=ca, timeout=5).json()
    assert doc["token_endpoint"] == base + "/oauth2/v2.0/token" and doc["jwks_uri"] == base + "/discovery/v2.0/keys"
    keys = requests.get(doc["jwks_uri"], verify=ca, timeout=5).json()["keys"]
    token = _secret_credential(module_sandbox).get_token(AKS_SCOPE).token
    key = jwt.PyJWK.from_dict(keys[0]).key
    assert jwt.decode(token, key, algorithms=["RS256"], audience=AKS_SERVER_APP_ID)["tid"] == module_sandbox.tenant_id


def test_workload_identity_waits_for_propagation(clocked: tuple[Sandbox, Clock], tmp_path: Path) -> None:
    sb, clock = clocked
    sb.faults.propagation_delay_s = 60.0
    credential = _workload_credential(sb, _hub_sa_token(sb), tmp_path)
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021: No matching federated identity record found"):
        credential.get_token(AKS_SCOPE)  # no credential at all
    _federate(sb)
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):
        credential.get_token(AKS_SCOPE)  # written, not yet propagated
    clock.now += 60.0
    claims = _claims(credential.get_token(AKS_SCOPE).token)
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    assert (claims["oid"], claims["appid"], claims["aud"]) == (identity.wi.principal_id, identity.wi.client_id,
                                                              AKS_SERVER_APP_ID)


def test_workload_identity_refusals(module_sandbox: Sandbox, tmp_path: Path) -> None:
    sb = module_sandbox
    plane = sb.plane(sb.hub_id)
    assert plane.sa_key is not None
    now = int(time.time())
    base_claims = {"iss": plane.issuer, "sub": SUBJECT, "aud": ["api://AzureADTokenExchange"], "iat": now, "nbf": now}
    _federate(sb, written_at=-1e9)

    def refused(token: str) -> str:
        with pytest.raises(ClientAuthenticationError) as e:
            _workload_credential(sb, token, tmp_path).get_token(AKS_SCOPE)
        return str(e.value.message)

    assert "AADSTS700024" in refused(plane.sa_key.sign({**base_claims, "exp": now - 3600}))
    assert "AADSTS700027" in refused(SigningKey.generate().sign({**base_claims, "exp": now + 600}))
    assert "AADSTS700212" in refused(plane.sa_key.sign({**base_claims, "aud": ["other"], "exp": now + 600}))
    assert "AADSTS50027" in refused("not-a-jwt")
    _federate(sb, audiences=("api://Other",), written_at=-1e9)
    assert "AADSTS700212" in refused(plane.sa_key.sign({**base_claims, "exp": now + 600}))
    with pytest.raises(ClientAuthenticationError, match="AADSTS700016"):
        WorkloadIdentityCredential(tenant_id=sb.tenant_id, client_id="00000000-0000-0000-0000-000000000001",
                                   token_file_path=__file__, authority=sb.entra_url,
                                   connection_verify=str(sb.ca_bundle), retry_total=0).get_token(AKS_SCOPE)
