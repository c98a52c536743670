"""Kubernetes RBAC: does any binding of the user grant the requested attributes?

Follows ``k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac``: ClusterRoleBindings
grant everywhere, RoleBindings grant in their namespace (to a Role there or to a
ClusterRole), rules match on verbs, apiGroups, resources (``*``, ``res/sub``,
``*/sub``) and resourceNames; non-resource URLs match ``nonResourceURLs`` with a
trailing ``*`` prefix form. Reasons mirror the real ones so SubjectAccessReview
answers read like AKS's.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional

from wif_sandbox.kube import resources as res
from wif_sandbox.kube.auth import Attributes, UserInfo
from wif_sandbox.kube.store import Obj, Store

SA_PREFIX = "system:serviceaccount:"


def _subject_matches(subject: dict[str, Any], user: UserInfo, binding_ns: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.username)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_ns
        return user.username == f"{SA_PREFIX}{namespace}:{name}"
    return False


def _has(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def _resource_matches(rule_resources: Any, attrs: Attributes) -> bool:
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    for entry in rule_resources or []:
        if entry in ("*", combined):
            return True
        if attrs.subresource and entry == f"*/{attrs.subresource}":
            return True
    return False


def _url_matches(rule_urls: Any, path: str) -> bool:
    for url in rule_urls or []:
        if url == path or url == "*" or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(rule: dict[str, Any], attrs: Attributes, path: str = "") -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if path:  # non-resource request, e.g. GET /version
        return _url_matches(rule.get("nonResourceURLs"), path)
    if not _has(rule.get("apiGroups"), attrs.api_group) or not _resource_matches(rule.get("resources"), attrs):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _role_rules(store: Store, role_ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    if role_ref.get("kind") == "ClusterRole":
        role: Optional[Obj] = store.peek(res.CLUSTER_ROLES, "", str(role_ref.get("name", "")))
    else:
        role = store.peek(res.ROLES, namespace, str(role_ref.get("name", "")))
    return list(role.get("rules") or []) if role else []


def _grants(store: Store, user: UserInfo, namespace: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(describing text, rules) for every binding that names the user."""
    for crb in store.scan(res.CLUSTER_ROLE_BINDINGS):  # read only: no copies
        if any(_subject_matches(s, user, "") for s in crb.get("subjects") or []):
            name = crb["metadata"]["name"]
            ref = crb.get("roleRef") or {}
            yield f'ClusterRoleBinding "{name}" of ClusterRole "{ref.get("name")}"', _role_rules(store, ref, "")
    if not namespace:
        return
    for rb in store.scan(res.ROLE_BINDINGS, namespace):
        if any(_subject_matches(s, user, namespace) for s in rb.get("subjects") or []):
            name, ref = rb["metadata"]["name"], rb.get("roleRef") or {}
            what = f'RoleBinding "{name}/{namespace}" of {ref.get("kind")} "{ref.get("name")}"'
            yield what, _role_rules(store, ref, namespace)


def authorize(store: Store, user: UserInfo, attrs: Attributes, path: str = "") -> tuple[bool, str]:
    """(allowed, reason); ``path`` set means a non-resource request."""
    for what, rules in _grants(store, user, attrs.namespace):
        if any(rule_allows(rule, attrs, path) for rule in rules):
            return True, f"RBAC: allowed by {what}"
    return False, ""


def denial(user: UserInfo, attrs: Attributes, path: str = "") -> str:
    """The sentence after ``is forbidden:`` in a 403."""
    who = f'User "{user.username}"'
    if path:
        return f'{who} cannot {attrs.verb} path "{path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'{who} cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" {where}'
