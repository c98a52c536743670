"""bind_rbac: give the Argo CD identity access on the target cluster.

Kubernetes-RBAC clusters get a ClusterRoleBinding for the identity's object
id (AKS maps a token's ``oid`` to the user name); Azure-RBAC clusters get a
role assignment on the cluster with a deterministic name. A private API
server we cannot reach is changed through AKS run command instead.
"""
from __future__ import annotations

import json
from typing import Any

from wif_core import config, errors, manifests, model, ports

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
    scope = d.target.ref.id
    role = manifests.role_definition_id(d.target.ref.subscription_id, settings.azure_rbac_role_id)
    name = manifests.role_assignment_name(scope, d.identity.principal_id, settings.azure_rbac_role_id)
    return model.RoleAssignment(name=name, scope=scope, role_definition_id=role, principal_id=d.identity.principal_id)


def _same_binding(have: dict[str, Any], want: dict[str, Any]) -> bool:
    return bool(have.get("roleRef") == want["roleRef"] and have.get("subjects") == want["subjects"])


def run_kubectl(p: ports.Ports, target: model.ClusterFacts, command: str, files: dict[str, str]) -> model.RunResult:
    result = p.run_command.run(target.ref, command, files)
    if result.exit_code != 0:
        raise errors.TemporaryError(f"run command '{command}' on {target.ref.name} exited {result.exit_code}: "
                                    f"{result.logs.strip()[-300:]}")
    return result


def bind(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Bound:
    if mode(settings, d.target) == "azure":
        wanted = assignment(settings, d)
        if p.roles.get(wanted.scope, wanted.name) is not None:
            return model.Bound("azure", "arm", wanted.name, "unchanged")
        try:
            p.roles.create(wanted)
        except errors.Conflict:
            # The same principal+role+scope granted under another name counts.
            return model.Bound("azure", "arm", wanted.name, "exists")
        return model.Bound("azure", "arm", wanted.name, "created")
    desired = manifests.cluster_role_binding(settings, d.identity)
    name = desired["metadata"]["name"]
    if via_run_command(settings, d.target):
        run_kubectl(p, d.target, "kubectl apply -f binding.json", {"binding.json": json.dumps(desired)})
        return model.Bound("kubernetes", "run-command", name, "applied")
    kube = p.kube(d.target)
    existing = kube.get(API, KIND, None, name)
    if existing is None:
        kube.create(desired)
        return model.Bound("kubernetes", "api", name, "created")
    if not manifests.is_ours(existing):
        raise errors.Refused(f"ClusterRoleBinding {name} on {d.target.ref.name} was not created by "
                             f"{manifests.MANAGED_BY}; delete it, then register again")
    if _same_binding(existing, desired):
        return model.Bound("kubernetes", "api", name, "unchanged")
    if existing.get("roleRef") != desired["roleRef"]:
        # roleRef is immutable in Kubernetes: replace the binding.
        kube.delete(API, KIND, None, name)
        kube.create(desired)
    else:
        kube.replace(dict(desired, metadata=dict(desired["metadata"], resourceVersion=existing["metadata"]["resourceVersion"])))
    return model.Bound("kubernetes", "api", name, "updated")
