"""What a fresh AKS cluster already holds before anyone writes to it.

The default namespaces, the user-facing ClusterRoles (simplified to the
resources this server serves, but with real verbs and aggregation results),
and the system bindings every authenticated caller relies on: discovery
(``system:discovery``) and asking about itself (``system:basic-user``), without
which ``kubectl auth can-i`` by a non-admin would be refused.
"""
from __future__ import annotations

from typing import Any

from wif_sandbox.kube import resources as res

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
AUTO_UPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
BOOTSTRAP = {"kubernetes.io/bootstrapping": "rbac-defaults"}

NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": dict(BOOTSTRAP), "annotations": dict(AUTO_UPDATE)},
        "rules": rules,
    }


def _bind_groups(name: str, *groups: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(BOOTSTRAP), "annotations": dict(AUTO_UPDATE)},
        "roleRef": {"apiGroup": res.RBAC, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": res.RBAC, "kind": "Group", "name": g} for g in groups],
    }


def cluster_roles() -> list[dict[str, Any]]:
    core_view = ["configmaps", "serviceaccounts", "namespaces"]
    core_edit = ["configmaps", "secrets", "serviceaccounts"]
    return [
        _cluster_role("cluster-admin", [
            _rule(["*"], ["*"], ["*"]),
            {"nonResourceURLs": ["*"], "verbs": ["*"]},
        ]),
        _cluster_role("admin", [
            _rule([""], core_edit, READ + WRITE),
            _rule([""], ["serviceaccounts/token"], ["create"]),
            _rule([""], ["namespaces"], READ),
            _rule([res.RBAC], ["roles", "rolebindings"], READ + WRITE),
            _rule([res.AUTHZ], ["localsubjectaccessreviews"], ["create"]),
        ]),
        _cluster_role("edit", [
            _rule([""], core_edit, READ + WRITE),
            _rule([""], ["serviceaccounts/token"], ["create"]),
            _rule([""], ["namespaces"], READ),
        ]),
        # view deliberately excludes secrets, as the real role does.
        _cluster_role("view", [_rule([""], core_view, READ)]),
        _cluster_role("system:basic-user", [
            _rule([res.AUTHZ], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
            _rule([res.AUTHN], ["selfsubjectreviews"], ["create"]),
        ]),
        _cluster_role("system:discovery", [{
            "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
            "verbs": ["get"],
        }]),
        _cluster_role("system:service-account-issuer-discovery", [{
            "nonResourceURLs": ["/.well-known/openid-configuration", "/openid/v1/jwks"], "verbs": ["get"],
        }]),
        _cluster_role("system:public-info-viewer", [{
            "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"],
        }]),
    ]


def objects() -> list[dict[str, Any]]:
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ns, "labels": {"kubernetes.io/metadata.name": ns}}, "spec": {"finalizers": ["kubernetes"]},
         "status": {"phase": "Active"}}
        for ns in NAMESPACES
    ]
    bindings = [
        _bind_groups("cluster-admin", "system:masters"),
        _bind_groups("system:basic-user", "system:authenticated"),
        _bind_groups("system:discovery", "system:authenticated"),
        _bind_groups("system:service-account-issuer-discovery", "system:serviceaccounts"),
        _bind_groups("system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
    ]
    return namespaces + cluster_roles() + bindings
