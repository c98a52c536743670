"""await_propagation: prove the federation works the way Argo CD will use it.

A new federated credential takes seconds to minutes to reach every Entra
front end; until then the exchange fails with AADSTS70021 (or, on an identity
with several credentials, 700211 / 700213). We mint a real service-account
token (TokenRequest) and exchange it for the AKS scope; the runner polls this
step until it passes or the deadline is reached, and then reports the last
answer: the diagnosis below, which names what the assertion carried, which
credentials exist, and a near miss (a trailing slash, casing) explicitly.
"""
from __future__ import annotations

import base64
import binascii
import json

from wif_core import config, errors, model, ports

TOKEN_SECONDS = 600  # the API server's minimum is 10 minutes


def proof_key(identity: model.IdentityFacts, issuer: str, subject: str) -> str:
    return f"{identity.client_id}|{issuer}|{subject}"  # exact: Entra tells "x/" from "x"


def claims(token: str) -> dict[str, str]:
    """Pure: ``iss`` and ``sub`` of a JWT, read without verifying it (we minted it; neither is secret)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return {}
    if not isinstance(payload, dict):
        return {}
    return {k: str(payload[k]) for k in ("iss", "sub") if isinstance(payload.get(k), str)}


def diagnose(e: errors.NotFederated, identity: model.IdentityFacts, issuer: str, subject: str,
             existing: list[model.FederatedCredential]) -> str:
    """Pure: the message a poll (and, at the deadline, the failure) carries."""
    wanted = model.FederatedCredential("(assertion)", issuer, subject)
    listed = ", ".join(f"{c.name} ({c.issuer!r}, {c.subject!r})" for c in existing[:6]) or "none"
    if len(existing) > 6:
        listed += f" and {len(existing) - 6} more"
    misses = [m for m in (wanted.near_miss(c) for c in existing) if m]
    exact = any(wanted.same_trust(c) for c in existing)
    why = ("a credential with exactly this issuer and subject exists, so it is still propagating" if exact
           else "; ".join(misses) if misses else "no credential has exactly this issuer and subject")
    return (f"{e.message}; the assertion carried issuer {issuer!r} and subject {subject!r}; identity "
            f"{identity.name} has credentials: {listed}; {why}")


def await_propagation(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Propagated:
    issuer = d.hub.oidc_issuer or ""
    kube = None
    for sa, subject in zip(settings.service_accounts, settings.subjects()):
        key = proof_key(d.identity, issuer, subject)
        if key in p.proven:
            continue  # proven earlier in this process and not re-created since
        kube = kube or p.kube(d.hub)
        token = kube.create_token(settings.namespace, sa, config.TOKEN_EXCHANGE_AUDIENCE, TOKEN_SECONDS)
        carried = claims(token)
        try:
            p.tokens.exchange(tenant_id=d.identity.tenant_id, client_id=d.identity.client_id,
                              assertion=token, scope=settings.aks_scope)
        except errors.NotFederated as e:
            existing = p.identities.list_credentials(settings.identity)
            raise errors.NotFederated(diagnose(e, d.identity, carried.get("iss", issuer),
                                               carried.get("sub", subject), existing), e.code) from e
        finally:
            del token
        p.proven.add(key)
    return model.Propagated(subjects=settings.subjects())
