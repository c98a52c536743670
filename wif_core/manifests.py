"""Pure rendering: the Argo CD cluster Secret, the ClusterRoleBinding, names.

Nothing here performs I/O; ``plan`` prints these, steps apply them.
The Secret holds no credential: Argo CD runs ``argocd-k8s-auth azure`` with
workload identity and gets a short-lived token itself.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from wif_core import config, model

MANAGED_BY = "aks-argocd-wif"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_SECRET_TYPE = "argocd.argoproj.io/secret-type"
ANNOTATION_CLUSTER_ID = "aks-argocd-wif.io/cluster-id"
LABEL_PREFIX = "azure.aks-argocd-wif.io/"
TAG_LABEL_PREFIX = "tags.aks-argocd-wif.io/"
# Fixed namespace for deterministic role assignment names (uuid5).
_ASSIGNMENT_NS = uuid.UUID("6b1f8a52-4d0e-4a4f-9a57-4e1f3b0c2d77")
_LABEL_VALUE_BAD = re.compile(r"[^A-Za-z0-9._-]+")


def _digest(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def label_value(text: str) -> str:
    """A Kubernetes label value (<=63, alnum at both ends) keeping as much as possible."""
    value = _LABEL_VALUE_BAD.sub("-", text)[:63].strip("-_.")
    return value


def label_key_name(text: str) -> str:
    return label_value(text.lower()) or _digest(text)


def secret_name(ref: model.ClusterRef) -> str:
    """Deterministic, DNS-safe and unique per cluster id (case-insensitive)."""
    base = re.sub(r"[^a-z0-9-]+", "-", ref.name.lower()).strip("-")[:40] or "cluster"
    prefix = "" if base.startswith("aks-") else "aks-"  # "aks-dev-1" stays readable, not "aks-aks-dev-1"
    return f"{prefix}{base}-{_digest(ref.key)}"


def binding_name(identity: model.IdentityFacts) -> str:
    return f"argocd-wif-{_digest(identity.principal_id.lower(), 12)}"


def credential_name(owner: model.ClusterRef, subject: str) -> str:
    """Name of our federated credential trusting ``owner``'s issuer for ``subject`` (3-120 chars).

    Derived from the cluster id, not its issuer, so that the credentials of a
    deleted cluster can still be found and removed (its issuer is gone with it).
    """
    sa = subject.rsplit(":", 1)[-1]
    return f"argocd-{re.sub(r'[^A-Za-z0-9-]+', '-', sa)[:60]}-{_digest(owner.key + '|' + subject, 10)}"


def role_assignment_name(scope: str, principal_id: str, role_definition_id: str) -> str:
    """Deterministic GUID: the same grant always has the same name (idempotent PUT)."""
    return str(uuid.uuid5(_ASSIGNMENT_NS, f"{scope.lower()}|{principal_id.lower()}|{role_definition_id.lower()}"))


def role_definition_id(subscription_id: str, role_guid: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def exec_provider_config(settings: config.Settings, identity: model.IdentityFacts) -> dict[str, Any]:
    return {
        "command": "argocd-k8s-auth",
        "args": ["azure"],
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "env": {
            "AAD_LOGIN_METHOD": "workloadidentity",
            "AZURE_CLIENT_ID": identity.client_id,
            "AZURE_TENANT_ID": identity.tenant_id,
            "AZURE_FEDERATED_TOKEN_FILE": settings.federated_token_file,
            "AZURE_AUTHORITY_HOST": settings.authority_host + "/",
            "AAD_ENVIRONMENT_NAME": settings.aad_environment_name,
            "AAD_SERVER_APPLICATION_ID": settings.aks_server_app_id,
        },
    }


def cluster_secret(settings: config.Settings, target: model.ClusterFacts,
                   identity: model.IdentityFacts) -> dict[str, Any]:
    """The Argo CD declarative cluster Secret (label secret-type=cluster)."""
    ref = target.ref
    cfg = {
        "execProviderConfig": exec_provider_config(settings, identity),
        "tlsClientConfig": {"insecure": False, "caData": target.ca_data},
    }
    labels = {
        LABEL_SECRET_TYPE: "cluster",
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_PREFIX + "subscription": ref.subscription_id,
        LABEL_PREFIX + "resource-group": label_value(ref.resource_group),
        LABEL_PREFIX + "cluster-name": label_value(ref.name),
        LABEL_PREFIX + "location": label_value(target.location),
        LABEL_PREFIX + "rbac": "azure" if target.azure_rbac else "kubernetes",
    }
    tags = target.tag_map()
    for tag in settings.label_tags:
        for key, value in tags.items():
            if key.lower() == tag.lower():
                labels[TAG_LABEL_PREFIX + label_key_name(tag)] = label_value(value)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(ref),
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": {
                ANNOTATION_CLUSTER_ID: ref.id,
                LABEL_PREFIX + "resource-group": ref.resource_group,
                LABEL_PREFIX + "tags": json.dumps({k: tags[k] for k in sorted(tags)}, sort_keys=True),
            },
        },
        "type": "Opaque",
        "stringData": {
            "name": ref.name,
            "server": target.server,
            "config": json.dumps(cfg, sort_keys=True),
        },
    }


def cluster_role_binding(settings: config.Settings, identity: model.IdentityFacts) -> dict[str, Any]:
    """Bind the Argo CD identity (AKS maps its token's oid to the user name)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": binding_name(identity),
            "labels": {LABEL_MANAGED_BY: MANAGED_BY},
            "annotations": {"aks-argocd-wif.io/identity": identity.id},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": settings.cluster_role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": identity.principal_id}],
    }


def is_ours(obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(LABEL_MANAGED_BY) == MANAGED_BY)


def desired_credentials(settings: config.Settings, owner: model.ClusterRef, issuer: str) -> list[model.FederatedCredential]:
    """One credential per Argo CD service account, trusting the issuer of ``owner`` (hub or in-cluster target)."""
    return [model.FederatedCredential(credential_name(owner, subject), issuer, subject,
                                      (config.TOKEN_EXCHANGE_AUDIENCE,))
            for subject in settings.subjects()]
