"""What the hub cluster holds before the function app ever runs.

Argo CD's namespace and the two service accounts that talk to clusters
(annotated for workload identity with the Argo CD identity's client id), and the
function app's namespaced RBAC exactly as infra ships it
(``infra/kubernetes/hub-rbac.yaml``): the function is not a hub admin.
"""
from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import yaml

from wif_sandbox.kube import KubeApiServer

SERVICE_ACCOUNTS = ("argocd-application-controller", "argocd-server")
HUB_RBAC = Path(__file__).resolve().parents[1] / "infra" / "kubernetes" / "hub-rbac.yaml"


def seed(kube: KubeApiServer, *, namespace: str, identity_client_id: str, function_principal_id: str) -> None:
    kube.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for name in SERVICE_ACCOUNTS:
        kube.put_object({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"azure.workload.identity/use": "true"},
                         "annotations": {"azure.workload.identity/client-id": identity_client_id}},
        })
    for obj in function_rbac(namespace, function_principal_id):
        kube.put_object(obj)


def function_rbac(namespace: str, function_principal_id: str) -> list[dict[str, Any]]:
    """The Role and RoleBinding of ``hub-rbac.yaml`` with its placeholders filled (the built-in copy without it)."""
    values = {"WIF_ARGOCD_NAMESPACE": namespace, "FUNCTION_PRINCIPAL_ID": function_principal_id}
    if HUB_RBAC.is_file():
        text = string.Template(HUB_RBAC.read_text(encoding="utf-8")).safe_substitute(values)  # comments hold $(shell) examples
        return [d for d in yaml.safe_load_all(text) if d]
    return _builtin(namespace, function_principal_id)


def _builtin(namespace: str, principal: str) -> list[dict[str, Any]]:
    meta = {"name": "aks-argocd-wif", "namespace": namespace}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": dict(meta),
        "rules": [
            {"apiGroups": [""], "resources": ["secrets"],
             "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
            {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"],
             "resourceNames": list(SERVICE_ACCOUNTS)},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": dict(meta),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aks-argocd-wif"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": principal}],
    }
    return [role, binding]
