"""bind_rbac: give the Argo CD identity access on the target cluster.

Kubernetes-RBAC clusters get a ClusterRoleBinding for the identity's object
id (AKS maps a token's ``oid`` to the user name); Azure-RBAC clusters get a
role assignment on the cluster with a deterministic name. A private API
server we cannot reach is changed through AKS run command instead.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from wif_core import config, errors, manifests, model, ports, provenance
from wif_core.ports import KubeObject

API, KIND = "rbac.authorization.k8s.io/v1", "ClusterRoleBinding"


def mode(settings: config.Settings, target: model.ClusterFacts) -> str:
    """Pure: which kind of grant this cluster needs."""
    if settings.rbac_mode == "auto":
        return "azure" if target.azure_rbac else "kubernetes"
    if settings.rbac_mode == "azure" and not target.azure_rbac:
        raise errors.PermanentError(
            f"cluster {target.ref.name} does not use Azure RBAC but WIF_RBAC_MODE=azure; "
            "set WIF_RBAC_MODE=auto or kubernetes, or enable Azure RBAC on the cluster")
    return settings.rbac_mode


def via_run_command(settings: config.Settings, target: model.ClusterFacts) -> bool:
    return target.private and settings.run_command


def assignment(settings: config.Settings, d: model.Discovered) -> model.RoleAssignment:
    return grant(settings, d.target.ref, d.identity)


def grant(settings: config.Settings, ref: model.ClusterRef, identity: model.IdentityFacts) -> model.RoleAssignment:
    """The role assignment we make on ``ref`` (also found by it after the cluster is gone)."""
    role = manifests.role_definition_id(ref.subscription_id, settings.azure_rbac_role_id)
    name = manifests.role_assignment_name(ref.id, identity.principal_id, settings.azure_rbac_role_id)
    return model.RoleAssignment(name=name, scope=ref.id, role_definition_id=role, principal_id=identity.principal_id,
                                description=provenance.assignment_description(ref))


def _same_binding(have: dict[str, Any], want: dict[str, Any]) -> bool:
    return bool(have.get("roleRef") == want["roleRef"] and have.get("subjects") == want["subjects"]
                and provenance.recorded_cluster(have) == provenance.recorded_cluster(want))


def run_kubectl(p: ports.Ports, target: model.ClusterFacts, command: str, files: dict[str, str]) -> model.RunResult:
    result = p.run_command.run(target.ref, command, files)
    if result.exit_code != 0:
        raise errors.TemporaryError(f"run command '{command}' on {target.ref.name} exited {result.exit_code}: "
                                    f"{result.logs.strip()[-300:]}")
    return result


def read_binding(p: ports.Ports, settings: config.Settings, target: model.ClusterFacts, name: str) -> Optional[KubeObject]:
    """The binding under our name, read through the API or, for a private cluster, through run command."""
    if not via_run_command(settings, target):
        return p.kube(target).get(API, KIND, None, name)
    logs = run_kubectl(p, target, f"kubectl get clusterrolebinding {name} -o json --ignore-not-found", {}).logs
    text = logs.strip()
    if not text:
        return None
    try:  # the first JSON object printed; anything kubectl writes to stderr after it is ignored
        found, _ = json.JSONDecoder().raw_decode(text[text.index("{"):])
    except ValueError as e:
        raise errors.TemporaryError(f"run command on {target.ref.name}: 'kubectl get' printed no JSON object") from e
    return found if isinstance(found, dict) else None


def fix_binding(settings: config.Settings, target: model.ClusterFacts, name: str) -> str:
    where = f"az aks command invoke -g {target.ref.resource_group} -n {target.ref.name} --command " \
        if via_run_command(settings, target) else ""
    return (f"delete it ({where}'kubectl delete clusterrolebinding {name}') if it is stale, or bind another "
            "identity (WIF_ARGOCD_IDENTITY_ID), then register again")


def _bind_azure(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Bound:
    wanted = assignment(settings, d)
    found = p.roles.get(wanted.scope, wanted.name)
    if found is not None:
        owner = provenance.assignment_owner(found, wanted, d.target.ref)
        if owner != provenance.OURS:
            raise provenance.assignment_conflict(owner, found, wanted)
        return model.Bound("azure", "arm", wanted.name, "unchanged")
    try:
        p.roles.create(wanted)
    except errors.Conflict:
        # The same principal+role+scope granted under another name counts, but it is not ours: never deleted.
        return model.Bound("azure", "arm", wanted.name, "exists")
    return model.Bound("azure", "arm", wanted.name, "created")


def bind(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Bound:
    if mode(settings, d.target) == "azure":
        return _bind_azure(p, settings, d)
    desired = manifests.cluster_role_binding(settings, d.identity, d.target.ref)
    name = desired["metadata"]["name"]
    via = "run-command" if via_run_command(settings, d.target) else "api"
    existing = read_binding(p, settings, d.target, name)
    if existing is not None:
        owner = provenance.kube_owner(existing, d.target.ref, d.identity.id)
        if owner != provenance.OURS:
            raise provenance.kube_conflict(owner, dict(existing, kind=KIND), d.target.ref.name, d.target.ref,
                                           fix_binding(settings, d.target, name))
        if _same_binding(existing, desired):
            return model.Bound("kubernetes", via, name, "unchanged")
    if via == "run-command":
        # Each write is conditional, as on the API path: create fails if someone created one since our
        # read, replace carries the resourceVersion we checked. roleRef is immutable: replaced by
        # delete + create (a binding swapped in between makes the create fail, not succeed over it).
        body = json.loads(json.dumps(desired))
        if existing is None:
            command = "kubectl create -f binding.json"
        elif existing.get("roleRef") != desired["roleRef"]:
            command = f"kubectl delete clusterrolebinding {name} && kubectl create -f binding.json"
        else:
            body["metadata"]["resourceVersion"] = (existing.get("metadata") or {}).get("resourceVersion")
            command = "kubectl replace -f binding.json"
        run_kubectl(p, d.target, command, {"binding.json": json.dumps(body)})
        return model.Bound("kubernetes", via, name, "created" if existing is None else "updated")
    kube = p.kube(d.target)
    if existing is None:
        kube.create(desired)
        return model.Bound("kubernetes", via, name, "created")
    if existing.get("roleRef") != desired["roleRef"]:
        # roleRef is immutable in Kubernetes: replace the binding, deleting only the version we checked.
        kube.delete(API, KIND, None, name, resource_version=(existing.get("metadata") or {}).get("resourceVersion"))
        kube.create(desired)
    else:
        kube.replace(dict(desired, metadata=dict(desired["metadata"], resourceVersion=existing["metadata"]["resourceVersion"])))
    return model.Bound("kubernetes", via, name, "updated")
