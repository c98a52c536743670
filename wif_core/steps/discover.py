"""discover: read the target (and hub) cluster and the Argo CD identity.

Event Grid's ResourceWriteSuccess arrives when ARM accepts the PUT, usually
while the cluster is still ``Creating``: that is ``NotReady``, waited for by
the runner, not an error.
"""
from __future__ import annotations

from wif_core import config, errors, model, ports

READY = "Succeeded"
# States that end without our help: waiting is useless.
_TERMINAL = {"failed": "failed to provision", "canceled": "had its operation canceled", "deleting": "is being deleted"}


def check_ready(facts: model.ClusterFacts) -> None:
    state = facts.provisioning_state
    if state == READY:
        return
    why = _TERMINAL.get(state.lower())
    if why:
        raise errors.PermanentError(
            f"cluster {facts.ref.name} {why} (provisioningState {state}); fix it in Azure, then register again")
    raise errors.NotReady(f"cluster {facts.ref.name} is {state or 'not provisioned yet'}")


def check_issuer(facts: model.ClusterFacts, role: str) -> None:
    if not facts.oidc_issuer or not facts.workload_identity:
        raise errors.PermanentError(
            f"{role} cluster {facts.ref.name} has no OIDC issuer or workload identity; run "
            f"'az aks update -g {facts.ref.resource_group} -n {facts.ref.name} --enable-oidc-issuer --enable-workload-identity'")


def eligibility(settings: config.Settings, target: model.ClusterFacts) -> tuple[bool, str]:
    """Pure: should this cluster be registered at all?"""
    if is_hub(settings, target.ref):
        return False, HUB_ITSELF
    if settings.opt_in_tag is not None and not settings.opt_in_tag.matches(target.tag_map()):
        return False, f"it lacks the opt-in tag {settings.opt_in_tag} (WIF_OPT_IN_TAG)"
    return True, ""


HUB_ITSELF = "it is the Argo CD hub itself (Argo CD manages it as in-cluster)"


def is_hub(settings: config.Settings, ref: model.ClusterRef) -> bool:
    return settings.topology == "hub" and settings.hub is not None and settings.hub.key == ref.key


def _the_hub(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef) -> model.Discovered:
    """The hub's own events (every change of it raises one): skipped at once, whatever its state.

    One read for the canonical spelling; no wait for provisioning, no check of its profile, no
    identity read: none of that may turn a hub upgrade into a failed or hour-long orchestration.
    """
    try:
        hub = p.clusters.get_cluster(ref)
    except errors.NotFound:
        hub = _placeholder(ref)
    identity = model.IdentityFacts(settings.identity.id, settings.identity.name, "", "", "")
    return model.Discovered(target=hub, hub=hub, identity=identity, eligible=False, reason=HUB_ITSELF)


def _placeholder(ref: model.ClusterRef) -> model.ClusterFacts:
    return model.ClusterFacts(ref=ref, provisioning_state="", location="", server="", ca_data="", private=False,
                              aad=False, azure_rbac=False, oidc_issuer=None, workload_identity=False, tenant_id=None)


def discover(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef) -> model.Discovered:
    if not settings.allows(ref):
        raise errors.Forbidden(f"{ref.id} is outside WIF_ALLOWED_SCOPES; add its subscription or resource group there")
    if is_hub(settings, ref):
        return _the_hub(p, settings, ref)
    target = p.clusters.get_cluster(ref)
    ref = target.ref  # ARM's canonical spelling from here on, never the event's
    check_ready(target)
    if not target.aad:
        raise errors.PermanentError(
            f"cluster {ref.name} does not use Microsoft Entra ID integration; run "
            f"'az aks update -g {ref.resource_group} -n {ref.name} --enable-aad'")
    if settings.topology == "hub":
        assert settings.hub is not None  # Settings.from_env guarantees it for this topology
        hub = target if settings.hub.key == ref.key else p.clusters.get_cluster(settings.hub)
    else:
        hub = target
    check_issuer(hub, "Argo CD")
    identity = p.identities.get_identity(settings.identity)
    eligible, reason = eligibility(settings, target)
    return model.Discovered(target=target, hub=hub, identity=identity, eligible=eligible, reason=reason)


def discover_hub(p: ports.Ports, settings: config.Settings) -> model.Discovered:
    """The hub and the identity alone (hub topology): all that federate and await_propagation need.

    ``chain.FEDERATION`` starts from it ahead of a fleet's onboardings, so the one shared,
    throttled and slowly propagating write is under way before any target has been read.
    """
    if settings.topology != "hub" or settings.hub is None:
        raise errors.BadInput("the hub's federation is for the hub topology (WIF_TOPOLOGY=hub)")
    hub = p.clusters.get_cluster(settings.hub)
    check_ready(hub)
    check_issuer(hub, "Argo CD")
    identity = p.identities.get_identity(settings.identity)
    return model.Discovered(target=hub, hub=hub, identity=identity, eligible=True,
                            reason="the hub's federation, shared by every cluster it manages")
