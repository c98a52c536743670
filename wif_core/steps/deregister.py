"""deregister: remove what register and bind_rbac created, and nothing else.

Runs after ``ResourceDeleteSuccess`` (the cluster is gone) or an HTTP DELETE
(the cluster may still exist). Every removal is idempotent.
"""
from __future__ import annotations

from typing import Optional

from wif_core import config, errors, manifests, model, ports
from wif_core.steps import rbac, register


def _secret(p: ports.Ports, settings: config.Settings, hub: Optional[model.ClusterFacts], ref: model.ClusterRef) -> str:
    if hub is None:
        return "absent"  # in-cluster topology and the cluster is gone: the Secret went with it
    kube = p.kube(hub)
    name = manifests.secret_name(ref)
    existing = kube.get(register.API, register.KIND, settings.namespace, name)
    if existing is None:
        return "absent"
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    if not manifests.is_ours(existing) or str(annotations.get(manifests.ANNOTATION_CLUSTER_ID, "")).lower() != ref.key:
        return "foreign"
    return "deleted" if kube.delete(register.API, register.KIND, settings.namespace, name) else "absent"


def _binding(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> str:
    if rbac.mode(settings, d.target) == "azure":
        wanted = rbac.assignment(settings, d)
        return "deleted" if p.roles.delete(wanted.scope, wanted.name) else "absent"
    name = manifests.binding_name(d.identity)
    if rbac.via_run_command(settings, d.target):
        rbac.run_kubectl(p, d.target, f"kubectl delete clusterrolebinding {name} --ignore-not-found", {})
        return "deleted"
    kube = p.kube(d.target)
    existing = kube.get(rbac.API, rbac.KIND, None, name)
    if existing is None:
        return "absent"
    if not manifests.is_ours(existing):
        return "foreign"
    return "deleted" if kube.delete(rbac.API, rbac.KIND, None, name) else "absent"


def _credentials(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef) -> tuple[str, ...]:
    """In-cluster topology: our credentials trusting this cluster (named from its id) are removed.

    Works after the cluster is gone; a same-trust credential under another name is not ours and stays.
    """
    if settings.topology != "in-cluster":
        return ()
    names = [manifests.credential_name(ref, subject) for subject in settings.subjects()]
    return tuple(name for name in names if p.identities.delete_credential(settings.identity, name))


def deregister(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef,
               d: Optional[model.Discovered]) -> model.Deregistered:
    if not settings.allows(ref):
        raise errors.Forbidden(f"{ref.id} is outside WIF_ALLOWED_SCOPES; add its subscription or resource group there")
    target: Optional[model.ClusterFacts] = d.target if d else None
    if target is None:
        try:
            target = p.clusters.get_cluster(ref)
        except errors.NotFound:
            target = None  # deleted: its bindings went with it
    if settings.topology == "hub":
        assert settings.hub is not None
        hub: Optional[model.ClusterFacts] = d.hub if d else p.clusters.get_cluster(settings.hub)
    else:
        hub = target
    secret = _secret(p, settings, hub, ref)
    binding = "absent"
    if target is None or target.provisioning_state.lower() == "deleting":
        if settings.rbac_mode != "kubernetes":
            # The name is deterministic, so an assignment left at a deleted cluster's scope is still ours to remove.
            identity = d.identity if d else p.identities.get_identity(settings.identity)
            name = manifests.role_assignment_name(ref.id, identity.principal_id, settings.azure_rbac_role_id)
            binding = "deleted" if p.roles.delete(ref.id, name) else "absent"
    else:
        identity = d.identity if d else p.identities.get_identity(settings.identity)
        full = model.Discovered(target=target, hub=hub or target, identity=identity)
        binding = _binding(p, settings, full)
    credentials = _credentials(p, settings, ref)
    return model.Deregistered(secret=secret, binding=binding, credentials=credentials)
