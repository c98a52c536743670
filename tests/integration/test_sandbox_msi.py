"""Managed identities and federated credentials through the unmodified ``azure-mgmt-msi``.

Entra's documented rules, as the real service answers them: 20 credentials per
identity, one issuer+subject per identity, no concurrent writes (409), write
throttling (429 + Retry-After); ARM's DELETE semantics (200, then 204).
"""
from __future__ import annotations

import threading
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.msi.v2024_11_30.models import FederatedIdentityCredential

from tests.conftest import Azure
from wif_sandbox.world import Sandbox

RG, NAME = "rg-argocd", "id-argocd"
ISSUER = "https://oidc.example/tenant/cluster/"


def _fic(subject: str, issuer: str = ISSUER) -> FederatedIdentityCredential:
    return FederatedIdentityCredential(issuer=issuer, subject=subject, audiences=["api://AzureADTokenExchange"])


def _status(pipeline_response: Any, deserialized: Any, headers: Any) -> int:
    return int(pipeline_response.http_response.status_code)


@pytest.fixture
def fics(sandbox: Sandbox, azure: Azure) -> Any:
    sandbox.faults.msi_write_hold_s = 0.0
    return azure.msi.federated_identity_credentials


def test_identity_reads(module_azure: Azure, module_sandbox: Sandbox) -> None:
    found = module_azure.msi.user_assigned_identities.get(RG, NAME)
    wi = module_sandbox.arm.identities.get(module_sandbox.identity_id)
    assert wi is not None and found.id == module_sandbox.identity_id
    assert (found.client_id, found.principal_id, found.tenant_id) == (wi.wi.client_id, wi.wi.principal_id,
                                                                      module_sandbox.tenant_id)
    with pytest.raises(ResourceNotFoundError):
        module_azure.msi.user_assigned_identities.get(RG, "id-missing")


def test_credential_crud(fics: Any, sandbox: Sandbox) -> None:
    made = fics.create_or_update(RG, NAME, "argocd-server", _fic("system:serviceaccount:argocd:argocd-server"))
    assert made.issuer == ISSUER and made.audiences == ["api://AzureADTokenExchange"]
    assert fics.get(RG, NAME, "ARGOCD-SERVER").subject == "system:serviceaccount:argocd:argocd-server"
    assert [c.name for c in fics.list(RG, NAME)] == ["argocd-server"]
    assert fics.delete(RG, NAME, "argocd-server", cls=_status) == 200
    assert fics.delete(RG, NAME, "argocd-server", cls=_status) == 204
    with pytest.raises(ResourceNotFoundError):
        fics.get(RG, NAME, "argocd-server")
    assert sandbox.log.total("arm", writes=True) == 3  # one put, two deletes


def test_at_most_twenty_credentials(fics: Any) -> None:
    for i in range(20):
        fics.create_or_update(RG, NAME, f"cred-{i:02}", _fic(f"subject-{i}"))
    with pytest.raises(HttpResponseError) as full:
        fics.create_or_update(RG, NAME, "cred-20", _fic("subject-20"))
    assert full.value.status_code == 400 and "maximum number of Federated Identity Credentials" in full.value.message
    fics.create_or_update(RG, NAME, "cred-00", _fic("subject-00-renamed"))  # an update still fits
    assert len(list(fics.list(RG, NAME, top=7))) == 20  # paged by nextLink


def test_issuer_and_subject_once_per_identity(fics: Any) -> None:
    fics.create_or_update(RG, NAME, "first", _fic("system:serviceaccount:argocd:argocd-server"))
    with pytest.raises(HttpResponseError) as twin:
        fics.create_or_update(RG, NAME, "second", _fic("system:serviceaccount:argocd:argocd-server"))
    assert twin.value.status_code == 400 and twin.value.error.code == "BadRequest"
    assert "Issuer and subject combination already exists" in twin.value.message
    fics.create_or_update(RG, NAME, "first", _fic("system:serviceaccount:argocd:argocd-server"))  # same name: fine
    fics.create_or_update(RG, NAME, "second", _fic("system:serviceaccount:argocd:argocd-server", ISSUER + "x/"))


def test_concurrent_writes_on_one_identity_conflict(sandbox: Sandbox, fics: Any) -> None:
    sandbox.faults.msi_write_hold_s = 0.3
    slow = threading.Thread(target=fics.create_or_update, args=(RG, NAME, "slow", _fic("a")))
    slow.start()
    while not sandbox.arm.identities.get(sandbox.identity_id).busy:  # type: ignore[union-attr]
        pass
    with pytest.raises(HttpResponseError) as clash:
        fics.create_or_update(RG, NAME, "fast", _fic("b"))
    slow.join()
    assert clash.value.status_code == 409
    assert clash.value.error.code == "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity"
    assert [c.name for c in fics.list(RG, NAME)] == ["slow"]


def test_writes_are_throttled_with_retry_after(sandbox: Sandbox, fics: Any) -> None:
    sandbox.faults.msi_write_rate_per_s = 0.25  # Azure's documented rate per identity
    fics.create_or_update(RG, NAME, "one", _fic("one"))
    with pytest.raises(HttpResponseError) as throttled:
        fics.create_or_update(RG, NAME, "two", _fic("two"))
    assert throttled.value.status_code == 429 and throttled.value.error.code == "TooManyRequests"
    assert throttled.value.response.headers["Retry-After"] == "4"
    assert sandbox.log.status_counts()["arm federatedIdentityCredentials.put 429"] == 1
    sandbox.faults.msi_write_rate_per_s = 0.0
    fics.create_or_update(RG, NAME, "two", _fic("two"))


def test_credential_write_time_is_recorded(sandbox: Sandbox, fics: Any) -> None:
    before = sandbox.clock()
    fics.create_or_update(RG, NAME, "timed", _fic("timed"))
    identity = sandbox.arm.identities.get(sandbox.identity_id)
    assert identity is not None and before <= identity.wi.credentials["timed"].written_at <= sandbox.clock()
