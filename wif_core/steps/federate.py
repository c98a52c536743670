"""federate: the Argo CD identity trusts the Argo CD service accounts' tokens.

Entra identifies a federated credential by issuer+subject, whatever its name,
allows 20 per identity, rejects concurrent writes on one identity (409) and
throttles writes: so we list once, write only what is missing, one at a time.
"""
from __future__ import annotations

from wif_core import config, errors, manifests, model, ports
from wif_core.steps import propagation

MAX_CREDENTIALS = 20


def plan(existing: list[model.FederatedCredential],
         desired: list[model.FederatedCredential]) -> tuple[list[model.FederatedCredential], list[model.FederatedCredential]]:
    """Pure: (credentials that already satisfy us, credentials to create)."""
    keep: list[model.FederatedCredential] = []
    create: list[model.FederatedCredential] = []
    for want in desired:
        match = next((have for have in existing if have.same_trust(want)), None)
        if match is not None:
            keep.append(match)
        else:
            create.append(want)
    return keep, create


def check_limit(identity: model.IdentityFacts, existing: int, adding: int) -> None:
    if existing + adding > MAX_CREDENTIALS:
        raise errors.LimitExceeded(
            f"identity {identity.name} has {existing} of {MAX_CREDENTIALS} federated credentials and needs "
            f"{adding} more; remove unused ones or use an identity per cluster (WIF_ARGOCD_IDENTITY_ID)")


def federate(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Federated:
    issuer = d.hub.oidc_issuer
    if not issuer:
        raise errors.PermanentError(f"cluster {d.hub.ref.name} has no OIDC issuer")
    existing = p.identities.list_credentials(settings.identity)
    keep, create = plan(existing, manifests.desired_credentials(settings, d.hub.ref, issuer))
    check_limit(d.identity, len(existing), len(create))
    for credential in create:
        # Forget the proof before writing: if the write lands but its response is lost, the
        # retry finds the credential existing and would otherwise trust the stale proof.
        p.proven.discard(propagation.proof_key(d.identity, credential.issuer, credential.subject))
        # One at a time: Entra answers 409 to concurrent writes on one identity.
        p.identities.put_credential(settings.identity, credential)
    return model.Federated(identity_id=settings.identity.id, credentials=tuple(keep + create),
                           created=tuple(c.name for c in create))
