"""deregister: remove what register and bind_rbac created, and nothing else.

Runs after ``ResourceDeleteSuccess`` (the cluster is gone), an HTTP DELETE or
``offboard`` (the cluster may still exist), and in the register chain when a
cluster left the opt-in. Every removal is idempotent and checks our provenance
record first (``wif_core.provenance``): what is not ours, or ours for another
cluster, is left as it is and reported. The hub itself is never touched.
"""
from __future__ import annotations

from typing import Optional

from wif_core import config, errors, manifests, model, ports, provenance
from wif_core.steps import discover, rbac, register

HUB = "skipped: it is the Argo CD hub itself"


def secret_owner(p: ports.Ports, settings: config.Settings, hub: Optional[model.ClusterFacts],
                 ref: model.ClusterRef) -> tuple[str, str]:
    """(ours | absent | foreign | other-cluster, the resourceVersion checked) for the Secret of ``ref``."""
    if hub is None:
        return "absent", ""  # in-cluster topology and the cluster is gone: the Secret went with it
    existing = p.kube(hub).get(register.API, register.KIND, settings.namespace, manifests.secret_name(ref))
    if existing is None:
        return "absent", ""
    return provenance.kube_owner(existing, ref), str((existing.get("metadata") or {}).get("resourceVersion") or "")


def delete_secret(p: ports.Ports, settings: config.Settings, hub: model.ClusterFacts, ref: model.ClusterRef,
                  checked: str) -> str:
    """Delete the Secret only as it was when its provenance was checked (a change since: Conflict, decide again)."""
    deleted = p.kube(hub).delete(register.API, register.KIND, settings.namespace, manifests.secret_name(ref),
                                 resource_version=checked or None)
    return "deleted" if deleted else "absent"


def _assignment(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef, identity: model.IdentityFacts) -> str:
    wanted = rbac.grant(settings, ref, identity)
    found = p.roles.get(wanted.scope, wanted.name)
    if found is None:
        return "absent"
    owner = provenance.assignment_owner(found, wanted, ref)
    if owner != provenance.OURS:
        return owner
    return "deleted" if p.roles.delete(wanted.scope, wanted.name) else "absent"


def binding(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> str:
    """Our binding or role assignment on ``d.target`` removed: deleted | absent | foreign | other-cluster."""
    if rbac.mode(settings, d.target) == "azure":
        return _assignment(p, settings, d.target.ref, d.identity)
    name = manifests.binding_name(d.identity)
    existing = rbac.read_binding(p, settings, d.target, name)  # through run command too: never delete unseen
    if existing is None:
        return "absent"
    owner = provenance.kube_owner(existing, d.target.ref, d.identity.id)
    if owner != provenance.OURS:
        return owner
    if rbac.via_run_command(settings, d.target):
        rbac.run_kubectl(p, d.target, f"kubectl delete clusterrolebinding {name} --ignore-not-found", {})
        return "deleted"
    checked = str((existing.get("metadata") or {}).get("resourceVersion") or "") or None
    return "deleted" if p.kube(d.target).delete(rbac.API, rbac.KIND, None, name, resource_version=checked) else "absent"


def credentials(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef,
                 issuer: Optional[str]) -> tuple[str, ...]:
    """In-cluster topology: our credentials trusting this cluster (named from its id) are removed.

    Works after the cluster is gone (its issuer unknown then: the subject must match); a same-trust
    credential under another name is not ours and stays.
    """
    if settings.topology != "in-cluster":
        return ()
    ours = {manifests.credential_name(ref, subject).lower(): subject for subject in settings.subjects()}
    existing = p.identities.list_credentials(settings.identity)
    doomed = [c.name for c in existing if c.name.lower() in ours
              and provenance.deletable_credential(c, ours[c.name.lower()], issuer)]
    return tuple(name for name in doomed if p.identities.delete_credential(settings.identity, name))


def _sweep(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> str:
    """Our grant on a cluster with no Secret of ours: removed where one read finds it (API or ARM,
    not run command); a cluster that refuses or cannot be reached is skipped, not failed."""
    try:
        if rbac.mode(settings, d.target) == "kubernetes" and rbac.via_run_command(settings, d.target):
            return "skipped"
        return binding(p, settings, d)
    except (errors.Forbidden, errors.Unreachable, errors.Refused):
        return "skipped"
    except errors.PermanentError:  # e.g. WIF_RBAC_MODE=azure on a Kubernetes-RBAC cluster: nothing of ours
        return "skipped"


def _sweep_credentials(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> tuple[str, ...]:
    try:
        return credentials(p, settings, d.target.ref, d.target.oidc_issuer)
    except (errors.Forbidden, errors.Unreachable):
        return ()


def deregister(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef,
               d: Optional[model.Discovered]) -> model.Deregistered:
    if not settings.allows(ref):
        raise errors.Forbidden(f"{ref.id} is outside WIF_ALLOWED_SCOPES; add its subscription or resource group there")
    if discover.is_hub(settings, ref):
        return model.Deregistered(secret="skipped", binding="skipped", reason=HUB)
    target: Optional[model.ClusterFacts] = d.target if d else None
    if target is None:
        try:
            target = p.clusters.get_cluster(ref)
        except errors.NotFound:
            target = None  # deleted: its bindings went with it
    ref = target.ref if target is not None else ref  # canonical when ARM still knows it
    if settings.topology == "hub":
        assert settings.hub is not None
        hub: Optional[model.ClusterFacts] = d.hub if d else p.clusters.get_cluster(settings.hub)
    else:
        hub = target
    if d is not None:
        try:
            owner, checked = secret_owner(p, settings, hub, ref)
        except errors.Forbidden:
            owner, checked = "skipped", ""  # in-cluster: a cluster outside the opt-in need not let us in
        if owner != provenance.OURS:
            # Left the opt-in, or never in it: our Secret is the record of a registration. Without it only
            # a grant left by a run that died before writing its Secret may be ours: one cheap look.
            return model.Deregistered(secret=owner, binding=_sweep(p, settings, d),
                                      credentials=_sweep_credentials(p, settings, d), reason=f"not registered: {d.reason}")
    else:
        owner, checked = secret_owner(p, settings, hub, ref)
    identity = d.identity if d else p.identities.get_identity(settings.identity)
    if target is None or target.provisioning_state.lower() == "deleting":
        bound = "absent"
        if settings.rbac_mode != "kubernetes":
            # The name is deterministic, so an assignment left at a deleted cluster's scope is still found.
            bound = _assignment(p, settings, ref, identity)
    else:
        bound = binding(p, settings, model.Discovered(target=target, hub=hub or target, identity=identity))
    issuer = target.oidc_issuer if target is not None else None
    removed = credentials(p, settings, ref, issuer)
    gone = owner
    if owner == provenance.OURS and hub is not None:
        # Last: the Secret is the record a retry after a crash starts from (see the opt-in case above).
        gone = delete_secret(p, settings, hub, ref, checked)
    return model.Deregistered(secret=gone, binding=bound, credentials=removed)
