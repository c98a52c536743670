"""federate: the Argo CD identity trusts the Argo CD service accounts' tokens.

Entra identifies a federated credential by issuer+subject, whatever its name,
allows 20 per identity, rejects concurrent writes on one identity (409) and
throttles writes: so we list once, write only what is missing, one at a time,
and only one onboarding per process writes (the others wait for it and re-read).
"""
from __future__ import annotations

from wif_core import config, errors, manifests, model, ports
from wif_core.steps import propagation

MAX_CREDENTIALS = 20
# Entra allows ~0.25 credential writes/s per identity: after the first, each write waits ~4 s.
WRITE_INTERVAL_S = 4.0
WRITE_S = 0.5  # one write's own round trip, with margin
# Another onboarding's writer expected to finish within WRITER_NEAR_S is waited for in the
# activity (up to WRITER_WAIT_S); one further off frees the worker and is polled on a durable
# timer that fires about when it expects to be done, so a fleet's other steps run meanwhile.
WRITER_NEAR_S = 1.0
WRITER_WAIT_S = 10.0
WRITER_POLL_S = 2.0


def expected_write_s(count: int) -> float:
    """How long writing ``count`` credentials one at a time takes under the throttle."""
    return WRITE_S + max(0, count - 1) * WRITE_INTERVAL_S if count else 0.0


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
    desired = manifests.desired_credentials(settings, d.hub.ref, issuer)
    key = settings.identity.id.lower()
    # What we would list now is about to change: look once the writer is done.
    remaining = p.writers.remaining(key)
    if remaining is not None and remaining > WRITER_NEAR_S:
        raise _writing(d.identity, delay=remaining)
    if not p.writers.wait(key, WRITER_WAIT_S):
        raise _writing(d.identity, delay=WRITER_POLL_S)
    generation = p.writers.generation(key)
    existing = p.identities.list_credentials(settings.identity)
    keep, create = plan(existing, desired)
    if create:
        # A fleet of first onboardings all see the credentials missing at once. Only one per
        # process writes; the others wait for it and then find them (Entra allows ~0.25
        # writes/s per identity: racing writers would spend it on rewriting each other's work).
        with p.writers.hold(key, expected_write_s(len(create))) as mine:
            if not mine:
                raise _writing(d.identity, delay=p.writers.remaining(key) or WRITER_POLL_S)
            if p.writers.generation(key) != generation:  # a writer finished since our list
                existing = p.identities.list_credentials(settings.identity)
                keep, create = plan(existing, desired)
            check_limit(d.identity, len(existing), len(create))
            for credential in create:
                # Forget the proof before writing: if the write lands but its response is lost, the
                # retry finds the credential existing and would otherwise trust the stale proof.
                p.proven.discard(propagation.proof_key(d.identity, credential.issuer, credential.subject))
                # One at a time: Entra answers 409 to concurrent writes on one identity.
                p.identities.put_credential(settings.identity, credential)
    return model.Federated(identity_id=settings.identity.id, credentials=tuple(keep + create),
                           created=tuple(c.name for c in create))


def _writing(identity: model.IdentityFacts, *, delay: float) -> errors.NotReady:
    return errors.NotReady(f"another onboarding in this worker is writing the federated credentials of identity "
                           f"{identity.name}; waiting for it", delay=delay)
