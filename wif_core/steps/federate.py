"""federate: the Argo CD identity trusts the Argo CD service accounts' tokens.

Entra identifies a federated credential by issuer+subject, whatever its name,
allows 20 per identity, rejects concurrent writes on one identity (409) and
throttles writes: so we list once, write only what is missing, one at a time,
and only one onboarding per process writes (the others wait for it and re-read).
"""
from __future__ import annotations

from wif_core import config, errors, manifests, model, ports, provenance
from wif_core.steps import propagation

MAX_CREDENTIALS = 20
WRITER_WAIT_S = 10.0  # a throttled writer needs ~4 s per credential (0.25 writes/s)
WRITER_POLL_S = 2.0


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


def near_misses(existing: list[model.FederatedCredential], create: list[model.FederatedCredential]) -> tuple[str, ...]:
    """Pure: credentials that look like one we create but cannot match at Entra (a trailing slash, casing)."""
    return tuple(f"{miss}; creating {want.name} with the exact issuer"
                 for want in create for miss in (want.near_miss(have) for have in existing) if miss)


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
    # What we would list now is about to change: look once the writer is done. A throttled writer
    # needs ~4 s per credential; past WRITER_WAIT_S the runner polls on a timer instead.
    if not p.writers.wait(key, WRITER_WAIT_S):
        raise _writing(d.identity)
    generation = p.writers.generation(key)
    existing = p.identities.list_credentials(settings.identity)
    keep, create = plan(existing, desired)
    if create:
        # A fleet of first onboardings all see the credentials missing at once. Only one per
        # process writes; the others wait for it and then find them (Entra allows ~0.25
        # writes/s per identity: racing writers would spend it on rewriting each other's work).
        with p.writers.hold(key) as mine:
            if not mine:
                raise _writing(d.identity)
            if p.writers.generation(key) != generation:  # a writer finished since our list
                existing = p.identities.list_credentials(settings.identity)
                keep, create = plan(existing, desired)
            taken = provenance.credential_conflicts(existing, create)
            if taken:  # never overwrite a credential under our name that trusts someone else
                raise errors.Refused(
                    f"identity {d.identity.name}: {'; '.join(taken.values())}; left as it is: if it is stale, delete it "
                    f"(for n in {' '.join(taken)}; do az identity federated-credential delete --identity-name "
                    f"{settings.identity.name} -g {settings.identity.resource_group} -n $n --yes; done), "
                    "then register again")
            check_limit(d.identity, len(existing), len(create))
            for credential in create:
                # Forget the proof before writing: if the write lands but its response is lost, the
                # retry finds the credential existing and would otherwise trust the stale proof.
                p.proven.discard(propagation.proof_key(d.identity, credential.issuer, credential.subject))
                # One at a time: Entra answers 409 to concurrent writes on one identity.
                p.identities.put_credential(settings.identity, credential)
    return model.Federated(identity_id=settings.identity.id, credentials=tuple(keep + create),
                           created=tuple(c.name for c in create), notes=near_misses(existing, create))


def _writing(identity: model.IdentityFacts) -> errors.NotReady:
    return errors.NotReady(f"another onboarding in this worker is writing the federated credentials of identity "
                           f"{identity.name}; waiting for it", delay=WRITER_POLL_S)
