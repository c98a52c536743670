"""Ownership by recorded provenance: who wrote an object, and for which canonical cluster id.

Every object the chain writes carries its record, and every update or delete checks it first,
on every path (Kubernetes API, AKS run command, ARM): never a name or a label alone.

* Kubernetes objects (the cluster Secret, the ClusterRoleBinding): the label
  ``app.kubernetes.io/managed-by: aks-argocd-wif`` plus the annotation
  ``aks-argocd-wif.io/cluster-id`` = the canonical cluster id.
* Azure role assignments: ``description`` = ``aks-argocd-wif for <canonical cluster id>``, and
  the grant itself (principal, role, scope) must be the one we would make.
* Federated identity credentials have no free-text field: the name is derived from the cluster
  id and the subject, and the credential's subject (and, while the cluster exists, its issuer)
  must be what we would write under that name.

Pure decisions here; the steps read, ask, then write or refuse. Objects written by earlier
versions are adopted: a binding with the managed-by label and our identity annotation but no
cluster id is stamped on the next write; a role assignment without a description, under our
deterministic name (uuid5 of scope, principal and role) and with exactly our grant, counts as
ours as it is (a grant is not rewritten for its description).
"""
from __future__ import annotations

from typing import Any, Optional

from wif_core import errors, manifests, model

OURS, FOREIGN, OTHER_CLUSTER = "ours", "foreign", "other-cluster"
ANNOTATION_IDENTITY = "aks-argocd-wif.io/identity"
_DESCRIPTION = f"{manifests.MANAGED_BY} for "


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def recorded_cluster(obj: dict[str, Any]) -> str:
    """The cluster id our annotation records ("" when there is none)."""
    annotations = _meta(obj).get("annotations") or {}
    return str(annotations.get(manifests.ANNOTATION_CLUSTER_ID) or "")


def kube_owner(obj: dict[str, Any], cluster: model.ClusterRef, identity_id: Optional[str] = None) -> str:
    """Pure: ours | foreign | other-cluster for a Kubernetes object found under the name we use."""
    if not manifests.is_ours(obj):
        return FOREIGN
    recorded = recorded_cluster(obj)
    if recorded:
        return OURS if recorded.lower() == cluster.key else OTHER_CLUSTER
    annotations = _meta(obj).get("annotations") or {}
    legacy = identity_id is not None and str(annotations.get(ANNOTATION_IDENTITY, "")).lower() == identity_id.lower()
    return OURS if legacy else FOREIGN


def seems_to_belong_to(obj: dict[str, Any]) -> str:
    """Who wrote it, as far as the object says: its managed-by label, else its first field manager."""
    labels = _meta(obj).get("labels") or {}
    managers = [m.get("manager") for m in _meta(obj).get("managedFields") or [] if isinstance(m, dict)]
    return str(labels.get(manifests.LABEL_MANAGED_BY) or next((m for m in managers if m), "") or "someone else")


def kube_conflict(owner: str, obj: dict[str, Any], where: str, cluster: model.ClusterRef, fix: str) -> errors.Refused:
    meta = _meta(obj)
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    what = f"{obj.get('kind') or 'object'} {namespace}{meta.get('name')} on {where}"
    if owner == OTHER_CLUSTER:
        return errors.Refused(f"{what} is {manifests.MANAGED_BY}'s but recorded for cluster {recorded_cluster(obj)}, "
                              f"not {cluster.id}; left as it is: {fix}")
    return errors.Refused(f"{what} was not created by {manifests.MANAGED_BY} for {cluster.id} (it seems to belong to "
                          f"{seems_to_belong_to(obj)}); left as it is: {fix}")


# ---- Azure role assignments ---------------------------------------------------------------------

def assignment_description(cluster: model.ClusterRef) -> str:
    return _DESCRIPTION + cluster.id


def _guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def assignment_mismatch(found: model.RoleAssignment, wanted: model.RoleAssignment) -> str:
    """Pure: how the grant under our name differs from ours ("" when principal, role and scope match)."""
    diffs = []
    if found.principal_id.lower() != wanted.principal_id.lower():
        diffs.append(f"principal {found.principal_id} instead of {wanted.principal_id}")
    if _guid(found.role_definition_id) != _guid(wanted.role_definition_id):
        diffs.append(f"role {_guid(found.role_definition_id)} instead of {_guid(wanted.role_definition_id)}")
    if found.scope.rstrip("/").lower() != wanted.scope.rstrip("/").lower():
        diffs.append(f"scope {found.scope} instead of {wanted.scope}")
    return ", ".join(diffs)


def assignment_owner(found: model.RoleAssignment, wanted: model.RoleAssignment, cluster: model.ClusterRef) -> str:
    """Pure: ours | foreign | other-cluster. Earlier versions wrote no description: the same grant under
    our deterministic name (uuid5 of scope, principal and role) is theirs, hence ours."""
    if assignment_mismatch(found, wanted):
        return FOREIGN
    description = found.description or ""
    if not description:
        return OURS
    if not description.startswith(_DESCRIPTION):
        return FOREIGN
    return OURS if description[len(_DESCRIPTION):].lower() == cluster.key else OTHER_CLUSTER


def assignment_conflict(owner: str, found: model.RoleAssignment, wanted: model.RoleAssignment) -> errors.Refused:
    what = f"role assignment {found.name} at {found.scope}"
    why = assignment_mismatch(found, wanted) or f"its description says {found.description!r}"
    return errors.Refused(f"{what} has the name {manifests.MANAGED_BY} would use but is not its grant ({why}); "
                          f"left as it is: remove it (az role assignment delete --ids {found.scope}/providers/"
                          f"Microsoft.Authorization/roleAssignments/{found.name}) if it is stale, then register again")


# ---- federated identity credentials ---------------------------------------------------------------

def credential_conflicts(existing: list[model.FederatedCredential],
                         desired: list[model.FederatedCredential]) -> dict[str, str]:
    """Pure: credentials holding one of our names but trusting another issuer or subject (name -> why)."""
    by_name = {c.name.lower(): c for c in existing}
    out = {}
    for want in desired:
        have = by_name.get(want.name.lower())
        if have is not None and not have.same_trust(want):
            out[have.name] = (f"federated credential {have.name} trusts issuer {have.issuer!r} and subject "
                              f"{have.subject!r}, not {want.issuer!r} and {want.subject!r}")
    return out


def deletable_credential(have: model.FederatedCredential, subject: str, issuer: Optional[str]) -> bool:
    """Pure: is the credential under our name the one we wrote (subject, and issuer when still known)?"""
    return have.subject == subject and (issuer is None or have.issuer == issuer)
