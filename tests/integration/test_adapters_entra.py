"""The token exchange against the sandbox's Entra: a real TokenRequest token, a real federated credential."""
from __future__ import annotations

import logging
import re

import pytest

from tests.integration import wired
from wif_core import config, errors, manifests, model
from wif_sandbox.world import Sandbox

SA = "argocd-server"
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


@pytest.fixture
def w(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> wired.Wired:
    return wired.wire(sandbox, monkeypatch)


def federate(w: wired.Wired) -> tuple[model.ClusterFacts, model.IdentityFacts]:
    hub = w.ports.clusters.get_cluster(model.ClusterRef.parse(w.sb.hub_id))
    assert hub.oidc_issuer
    for credential in manifests.desired_credentials(w.settings, hub.ref, hub.oidc_issuer):
        w.ports.identities.put_credential(w.settings.identity, credential)
    return hub, w.ports.identities.get_identity(w.settings.identity)


def exchange(w: wired.Wired, hub: model.ClusterFacts, identity: model.IdentityFacts, *,
             audience: str = config.TOKEN_EXCHANGE_AUDIENCE, tenant: str = "") -> None:
    token = w.ports.kube(hub).create_token(w.settings.namespace, SA, audience)
    w.ports.tokens.exchange(tenant_id=tenant or identity.tenant_id, client_id=identity.client_id, assertion=token,
                            scope=w.settings.aks_scope)


def test_the_exchange_works_once_federated_and_keeps_no_token(w: wired.Wired, caplog: pytest.LogCaptureFixture) -> None:
    hub, identity = federate(w)
    token = w.ports.kube(hub).create_token(w.settings.namespace, SA, config.TOKEN_EXCHANGE_AUDIENCE)
    with caplog.at_level(logging.DEBUG):
        result = w.ports.tokens.exchange(tenant_id=identity.tenant_id, client_id=identity.client_id,
                                         assertion=token, scope=w.settings.aks_scope)
    assert result is None
    assert token not in caplog.text
    assert not JWT.search(caplog.text)  # neither the assertion nor the Entra token, even at DEBUG
    assert w.counts()["entra token.client_assertion"] == 1


def test_not_propagated_yet_is_not_ready_and_not_retried_here(w: wired.Wired,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    w.sb.faults.propagation_delay_s = 60.0
    hub, identity = federate(w)
    with caplog.at_level(logging.INFO), pytest.raises(errors.NotReady, match="AADSTS70021"):
        exchange(w, hub, identity)
    assert w.counts()["entra token.client_assertion"] == 1 and w.sleeps == []
    assert "AADSTS70021" not in caplog.text  # an expected wait, polled by the runner: no warning per poll


def test_without_any_credential_entra_says_the_same(w: wired.Wired) -> None:
    hub = w.ports.clusters.get_cluster(model.ClusterRef.parse(w.sb.hub_id))
    with pytest.raises(errors.NotReady):  # Entra cannot tell "never written" from "not yet visible"
        exchange(w, hub, w.ports.identities.get_identity(w.settings.identity))


def test_a_wrong_audience_is_permanent_and_names_it(w: wired.Wired) -> None:
    hub, identity = federate(w)
    with pytest.raises(errors.PermanentError, match="AADSTS700212.*api://AzureADTokenExchange"):
        exchange(w, hub, identity, audience="https://kubernetes.default.svc")


def test_a_wrong_tenant_is_permanent(w: wired.Wired) -> None:
    hub, identity = federate(w)
    with pytest.raises(errors.PermanentError) as refused:
        exchange(w, hub, identity, tenant="00000000-0000-0000-0000-000000000bad")
    assert not isinstance(refused.value, errors.TemporaryError)


def test_entra_server_errors_are_retried(w: wired.Wired) -> None:
    hub, identity = federate(w)
    token = w.ports.kube(hub).create_token(w.settings.namespace, SA, config.TOKEN_EXCHANGE_AUDIENCE)
    wired.settle(w.sb)
    w.sb.log.reset()
    w.sb.faults.error_rate = 1.0
    with pytest.raises(errors.TemporaryError, match="AADSTS90033|HTTP 5"):
        w.ports.tokens.exchange(tenant_id=identity.tenant_id, client_id=identity.client_id, assertion=token,
                                scope=w.settings.aks_scope)
    assert w.counts() == {"entra token.client_assertion": 3}
