"""await_propagation: prove the federation works the way Argo CD will use it.

A new federated credential takes seconds to minutes to reach every Entra
front end; until then the exchange fails with AADSTS70021. We mint a real
service-account token (TokenRequest) and exchange it for the AKS scope; the
runner polls this step until it passes or the deadline is reached.
"""
from __future__ import annotations

from wif_core import config, model, ports

TOKEN_SECONDS = 600  # the API server's minimum is 10 minutes


def proof_key(identity: model.IdentityFacts, issuer: str, subject: str) -> str:
    return f"{identity.client_id}|{issuer.rstrip('/')}|{subject}"


def await_propagation(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Propagated:
    issuer = d.hub.oidc_issuer or ""
    kube = None
    for sa, subject in zip(settings.service_accounts, settings.subjects()):
        key = proof_key(d.identity, issuer, subject)
        if key in p.proven:
            continue  # proven earlier in this process and not re-created since
        kube = kube or p.kube(d.hub)
        token = kube.create_token(settings.namespace, sa, config.TOKEN_EXCHANGE_AUDIENCE, TOKEN_SECONDS)
        p.tokens.exchange(tenant_id=d.identity.tenant_id, client_id=d.identity.client_id,
                          assertion=token, scope=settings.aks_scope)
        del token
        p.proven.add(key)
    return model.Propagated(subjects=settings.subjects())
