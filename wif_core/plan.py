"""plan: what onboarding a cluster would change, without changing anything.

Reads what the steps read (the cluster, the identity's credentials, the Secret,
the binding or role assignment), renders what they would write with
``manifests``, and decides per object with the steps' own pure ``plan``
functions. No port method that writes is called; a private API server is not
read through run command either (that would be a write), so its binding shows
``apply``.
"""
from __future__ import annotations

from typing import Any, Optional

from wif_core import config, errors, manifests, model, ports, provenance
from wif_core.steps import discover, federate, rbac, register

CHANGES = ("create", "update", "apply", "delete")
Item = dict[str, Any]


def _item(kind: str, name: str, target: str, action: str, manifest: dict[str, Any], reason: str = "") -> Item:
    item: Item = {"kind": kind, "name": name, "target": target, "action": action}
    if reason:
        item["reason"] = reason
    item["manifest"] = manifest
    return item


def _credentials(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> list[Item]:
    issuer = d.hub.oidc_issuer or ""
    existing = p.identities.list_credentials(settings.identity)
    keep, create = federate.plan(existing, manifests.desired_credentials(settings, d.hub.ref, issuer))
    refusal = "; ".join(provenance.credential_conflicts(existing, create).values())
    try:
        federate.check_limit(d.identity, len(existing), len(create))
    except errors.LimitExceeded as e:
        refusal = refusal or e.message
    target = f"identity {d.identity.name}"
    items = [_item("FederatedIdentityCredential", c.name, target, "unchanged", _credential(settings, c)) for c in keep]
    items += [_item("FederatedIdentityCredential", c.name, target, "refuse" if refusal else "create",
                    _credential(settings, c), refusal) for c in create]
    return items


def _credential(settings: config.Settings, c: model.FederatedCredential) -> dict[str, Any]:
    return {"identity": settings.identity.id, "name": c.name, "issuer": c.issuer, "subject": c.subject,
            "audiences": list(c.audiences)}


def _read(kube: ports.Kube, api: str, kind: str, namespace: Optional[str], name: str) -> tuple[Optional[dict[str, Any]], str]:
    """(object, "") or (None, why it could not be read)."""
    try:
        return kube.get(api, kind, namespace, name), ""
    except errors.TemporaryError as e:
        return None, f"could not read it: {e.message}"


def _secret(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> Item:
    desired = manifests.cluster_secret(settings, d.target, d.identity, d.hub.tenant_id)
    name = desired["metadata"]["name"]
    target = f"cluster {d.hub.ref.name}, namespace {settings.namespace}"
    existing, unreadable = _read(p.kube(d.hub), register.API, register.KIND, settings.namespace, name)
    if unreadable:
        return _item("Secret", name, target, "unknown", desired, unreadable)
    desired, _ = manifests.keep_name(desired, existing)
    if not d.eligible:
        ours = existing is not None and provenance.kube_owner(existing, d.target.ref) == provenance.OURS
        action = "delete" if ours else ("none" if existing is None else "leave")
        return _item("Secret", name, target, action, desired, f"not eligible: {d.reason}")
    action = register.plan(existing, desired)
    if action in ("foreign", "other-cluster"):
        assert existing is not None
        return _item("Secret", name, target, "refuse", desired,
                     register.refusal(action, existing, desired, d.hub.ref.name).message)
    return _item("Secret", name, target, action, desired)


def _binding(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> Item:
    target = f"cluster {d.target.ref.name}"
    try:
        mode = rbac.mode(settings, d.target)
    except errors.PermanentError as e:
        return _item("ClusterRoleBinding", "", target, "refuse", {}, e.message)
    skip = "" if d.eligible else f"not eligible: {d.reason}"
    if mode == "azure":
        wanted = rbac.assignment(settings, d)
        manifest = {"name": wanted.name, "scope": wanted.scope, "roleDefinitionId": wanted.role_definition_id,
                    "principalId": wanted.principal_id, "principalType": "ServicePrincipal"}
        manifest["description"] = wanted.description
        found = p.roles.get(wanted.scope, wanted.name)
        owner = provenance.assignment_owner(found, wanted, d.target.ref) if found is not None else ""
        if found is not None and owner != provenance.OURS:
            return _item("RoleAssignment", wanted.name, f"{target} (Azure RBAC)", "leave" if skip else "refuse",
                         manifest, skip or provenance.assignment_conflict(owner, found, wanted).message)
        exists = found is not None
        action = ("delete" if exists else "none") if skip else ("unchanged" if exists else "create")
        return _item("RoleAssignment", wanted.name, f"{target} (Azure RBAC)", action, manifest, skip)
    desired = manifests.cluster_role_binding(settings, d.identity, d.target.ref)
    name = desired["metadata"]["name"]
    if rbac.via_run_command(settings, d.target):
        return _item("ClusterRoleBinding", name, f"{target} (private: AKS run command)", "skip" if skip else "apply",
                     desired, skip or "private API server: read and applied with kubectl through AKS run command "
                     "(plan does not run commands on the cluster)")
    existing, unreadable = _read(p.kube(d.target), rbac.API, rbac.KIND, None, name)
    if unreadable:
        return _item("ClusterRoleBinding", name, target, "unknown", desired, unreadable)
    owner = provenance.kube_owner(existing, d.target.ref, d.identity.id) if existing is not None else ""
    if existing is not None and owner != provenance.OURS:
        return _item("ClusterRoleBinding", name, target, "refuse" if not skip else "leave", desired,
                     skip or provenance.kube_conflict(owner, dict(existing, kind=rbac.KIND), d.target.ref.name,
                                                      d.target.ref, rbac.fix_binding(settings, d.target, name)).message)
    if skip:
        return _item("ClusterRoleBinding", name, target, "none" if existing is None else "delete", desired, skip)
    if existing is None:
        return _item("ClusterRoleBinding", name, target, "create", desired)
    same = (existing.get("roleRef") == desired["roleRef"] and existing.get("subjects") == desired["subjects"]
            and provenance.recorded_cluster(existing) == provenance.recorded_cluster(desired))
    return _item("ClusterRoleBinding", name, target, "unchanged" if same else "update", desired)


def build(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef) -> dict[str, Any]:
    """The plan for ``ref`` as one JSON-able document; raises what ``discover`` raises."""
    d = discover.discover(p, settings, ref)
    items: list[Item] = []
    if discover.is_hub(settings, d.target.ref):
        pass  # skipped without a look, as the chain does
    elif d.eligible:
        items += _credentials(p, settings, d)
        # In the order the chain applies them: the Secret last, once access is bound and verified.
        items.append(_binding(p, settings, d))
        items.append(_secret(p, settings, d))
    else:  # outside the opt-in: only where our Secret says it was registered is there anything to remove
        secret = _secret(p, settings, d)
        if secret["action"] == "delete":
            items.append(_binding(p, settings, d))
        items.append(secret)
    return {
        "cluster": ref.id,
        "eligible": d.eligible,
        "reason": d.reason,
        "topology": settings.topology,
        "hub": d.hub.ref.id,
        "identity": d.identity.id,
        "changes": sum(1 for item in items if item["action"] in CHANGES),
        "refusals": sum(1 for item in items if item["action"] == "refuse"),
        "manifests": items,
    }
