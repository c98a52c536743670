"""Entra's three answers for "no federated credential matches", through ``WorkloadIdentityCredential``.

AADSTS70021 while the identity has no credential Entra knows of, or while the
matching one propagates; AADSTS700211 (naming the issuer) when credentials exist
but none trusts the token's issuer; AADSTS700213 (naming the subject) when one
trusts the issuer but none has the subject. Issuers and subjects compare exactly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import WorkloadIdentityCredential

from tests import fakes
from wif_sandbox import argo
from wif_sandbox.arm.kubeconfig import AKS_SERVER_APP_ID
from wif_sandbox.federation import FederatedCredential
from wif_sandbox.world import Sandbox

SCOPE = AKS_SERVER_APP_ID + "/.default"
CONTROLLER = "system:serviceaccount:argocd:argocd-application-controller"
SERVER = "system:serviceaccount:argocd:argocd-server"


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[Sandbox, fakes.Clock]]:
    clock = fakes.Clock(1000.0)
    with Sandbox.start(tmp_path / "sb", targets=1, clock=clock) as sb:
        sb.faults.propagation_delay_s = 30.0
        yield sb, clock


def _trust(sb: Sandbox, name: str, issuer: str, subject: str, written_at: float) -> None:
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    identity.wi.credentials[name] = FederatedCredential(name, issuer, subject, ("api://AzureADTokenExchange",),
                                                        written_at)


def _controller_credential(sb: Sandbox, tmp_path: Path) -> WorkloadIdentityCredential:
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    token_file = tmp_path / "token"
    token_file.write_text(argo.projected_token(sb))  # argocd-application-controller on the hub
    return WorkloadIdentityCredential(tenant_id=sb.tenant_id, client_id=identity.wi.client_id,
                                      token_file_path=str(token_file), authority=sb.entra_url,
                                      connection_verify=str(sb.ca_bundle), retry_total=0)


def test_no_credential_at_all_is_70021(clocked: tuple[Sandbox, fakes.Clock], tmp_path: Path) -> None:
    sb, _ = clocked
    issuer = sb.plane(sb.hub_id).issuer
    with pytest.raises(ClientAuthenticationError, match=f"AADSTS70021: .*Assertion Issuer: '{issuer}'. "
                                                        f"Assertion Subject: '{CONTROLLER}'"):
        _controller_credential(sb, tmp_path).get_token(SCOPE)


@pytest.mark.parametrize("spelling", ["another cluster", "trailing slash"])
def test_credentials_for_other_issuers_only_is_700211(clocked: tuple[Sandbox, fakes.Clock], tmp_path: Path,
                                                      spelling: str) -> None:
    sb, clock = clocked
    hub_issuer = sb.plane(sb.hub_id).issuer
    other = sb.plane(sb.target_ids[0]).issuer if spelling == "another cluster" else \
        (hub_issuer.rstrip("/") if hub_issuer.endswith("/") else hub_issuer + "/")
    _trust(sb, "elsewhere", other, CONTROLLER, clock.now - 60)
    with pytest.raises(ClientAuthenticationError) as refused:
        _controller_credential(sb, tmp_path).get_token(SCOPE)
    assert "AADSTS700211: No matching federated identity record found for presented assertion issuer " \
           f"'{hub_issuer}'. Please check your federated identity credential Subject, Audience and Issuer" \
           in refused.value.message


@pytest.mark.parametrize("subject", [SERVER, CONTROLLER.upper()])
def test_the_issuer_but_not_the_subject_is_700213(clocked: tuple[Sandbox, fakes.Clock], tmp_path: Path,
                                                  subject: str) -> None:
    sb, clock = clocked
    _trust(sb, "other-sa", sb.plane(sb.hub_id).issuer, subject, clock.now - 60)
    with pytest.raises(ClientAuthenticationError) as refused:
        _controller_credential(sb, tmp_path).get_token(SCOPE)
    assert "AADSTS700213: No matching federated identity record found for presented assertion subject " \
           f"'{CONTROLLER}'. Check your federated identity credential Subject, Audience and Issuer" \
           in refused.value.message


def test_a_matching_credential_that_propagates_is_70021_then_works(clocked: tuple[Sandbox, fakes.Clock],
                                                                    tmp_path: Path) -> None:
    sb, clock = clocked
    issuer = sb.plane(sb.hub_id).issuer
    _trust(sb, "argocd-server", issuer, SERVER, clock.now - 60)  # visible, another subject
    _trust(sb, "argocd-application-controller", issuer, CONTROLLER, clock.now)  # written just now
    credential = _controller_credential(sb, tmp_path)
    with pytest.raises(ClientAuthenticationError, match="AADSTS70021"):  # not 700213: it is on its way
        credential.get_token(SCOPE)
    clock.now += 30.0
    assert credential.get_token(SCOPE).token
