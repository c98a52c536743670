"""The resource types this API server serves, and discovery built from them.

Discovery is how kubectl and client-go's RESTMapper turn ``secrets``,
``secret`` or a manifest's ``kind: Secret`` into a URL, so every type below is
listed exactly as kube-apiserver lists it (plural, singular, kind, short names,
verbs, scope). Aggregated discovery is not offered: clients that ask for it
accept the legacy documents when the response says plain ``application/json``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

RW = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)

RBAC = "rbac.authorization.k8s.io"
AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = RW
    short_names: tuple[str, ...] = ()
    # Virtual types (reviews) are answered, never stored.
    stored: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


@dataclass(frozen=True)
class Subresource:
    parent: ResourceType
    name: str  # e.g. "token"
    group: str  # of the kind the subresource takes and returns
    version: str
    kind: str
    verbs: tuple[str, ...]

    @property
    def plural(self) -> str:
        return f"{self.parent.plural}/{self.name}"


NAMESPACES = ResourceType("", "v1", "namespaces", "Namespace", False, short_names=("ns",))
SECRETS = ResourceType("", "v1", "secrets", "Secret", True)
SERVICE_ACCOUNTS = ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, short_names=("sa",))
CONFIG_MAPS = ResourceType("", "v1", "configmaps", "ConfigMap", True, short_names=("cm",))
CLUSTER_ROLES = ResourceType(RBAC, "v1", "clusterroles", "ClusterRole", False)
CLUSTER_ROLE_BINDINGS = ResourceType(RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False)
ROLES = ResourceType(RBAC, "v1", "roles", "Role", True)
ROLE_BINDINGS = ResourceType(RBAC, "v1", "rolebindings", "RoleBinding", True)
SUBJECT_ACCESS_REVIEWS = ResourceType(
    AUTHZ, "v1", "subjectaccessreviews", "SubjectAccessReview", False, CREATE_ONLY, stored=False
)
SELF_SUBJECT_ACCESS_REVIEWS = ResourceType(
    AUTHZ, "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, CREATE_ONLY, stored=False
)
LOCAL_SUBJECT_ACCESS_REVIEWS = ResourceType(
    AUTHZ, "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", True, CREATE_ONLY, stored=False
)
SELF_SUBJECT_REVIEWS = ResourceType(
    AUTHN, "v1", "selfsubjectreviews", "SelfSubjectReview", False, CREATE_ONLY, stored=False
)
TOKEN_REVIEWS = ResourceType(AUTHN, "v1", "tokenreviews", "TokenReview", False, CREATE_ONLY, stored=False)

ALL: tuple[ResourceType, ...] = (
    NAMESPACES, SECRETS, SERVICE_ACCOUNTS, CONFIG_MAPS,
    CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS, ROLES, ROLE_BINDINGS,
    SUBJECT_ACCESS_REVIEWS, SELF_SUBJECT_ACCESS_REVIEWS, LOCAL_SUBJECT_ACCESS_REVIEWS,
    SELF_SUBJECT_REVIEWS, TOKEN_REVIEWS,
)
SUBRESOURCES: tuple[Subresource, ...] = (
    Subresource(SERVICE_ACCOUNTS, "token", AUTHN, "v1", "TokenRequest", CREATE_ONLY),
)
# Group -> served versions, in /apis order.
GROUPS: dict[str, tuple[str, ...]] = {RBAC: ("v1",), AUTHZ: ("v1",), AUTHN: ("v1",)}


def lookup(group: str, version: str, plural: str) -> Optional[ResourceType]:
    for rt in ALL:
        if (rt.group, rt.version, rt.plural) == (group, version, plural):
            return rt
    return None


def by_kind(api_version: str, kind: str) -> Optional[ResourceType]:
    for rt in ALL:
        if (rt.api_version, rt.kind) == (api_version, kind):
            return rt
    return None


def subresource(parent: ResourceType, name: str) -> Optional[Subresource]:
    for sub in SUBRESOURCES:
        if sub.parent == parent and sub.name == name:
            return sub
    return None


def served(group: str, version: str) -> bool:
    return (group == "" and version == "v1") or version in GROUPS.get(group, ())


# ----- discovery documents -----

def _resource_entry(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
        "kind": rt.kind, "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.stored:
        entry["storageVersionHash"] = f"{rt.kind[:6]}{rt.group[:5]}="
    return entry


def _subresource_entry(sub: Subresource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": sub.plural, "singularName": "", "namespaced": sub.parent.namespaced,
        "kind": sub.kind, "verbs": list(sub.verbs),
    }
    if sub.group != sub.parent.group:
        entry["group"], entry["version"] = sub.group, sub.version
    return entry


def resource_list(group: str, version: str) -> dict[str, Any]:
    """``/api/v1`` or ``/apis/<group>/<version>``: an APIResourceList."""
    entries: list[dict[str, Any]] = []
    for rt in ALL:
        if (rt.group, rt.version) != (group, version):
            continue
        entries.append(_resource_entry(rt))
        entries += [_subresource_entry(s) for s in SUBRESOURCES if s.parent == rt]
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


def api_versions(server_address: str) -> dict[str, Any]:
    """``/api``: the legacy core group."""
    return {
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in GROUPS[group]]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    """``/apis``: every named group."""
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group(g) for g in GROUPS]}


def version_info() -> dict[str, str]:
    """``/version``: an AKS-looking 1.32 server."""
    return {
        "major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "wif-sandbox",
        "gitTreeState": "clean", "buildDate": "2025-04-01T00:00:00Z", "goVersion": "go1.23.8",
        "compiler": "gc", "platform": "linux/amd64",
    }
