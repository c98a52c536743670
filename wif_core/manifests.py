"""Pure rendering: the Argo CD cluster Secret, the ClusterRoleBinding, names.

Nothing here performs I/O; ``plan`` prints these, steps apply them.
The Secret holds no credential: Argo CD runs ``argocd-k8s-auth azure`` with
workload identity and gets a short-lived token itself.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from wif_core import config, model

MANAGED_BY = "aks-argocd-wif"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_SECRET_TYPE = "argocd.argoproj.io/secret-type"
ANNOTATION_CLUSTER_ID = "aks-argocd-wif.io/cluster-id"
# The Argo CD name the template gives (what we last wrote or would write): data.name follows the
# template only while it still holds this value, so a name set by hand (or by an earlier version) stays.
ANNOTATION_ARGOCD_NAME = "aks-argocd-wif.io/argocd-name"
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


def exec_provider_config(settings: config.Settings, identity: model.IdentityFacts,
                         webhook_tenant: Optional[str] = None) -> dict[str, Any]:
    """What ``argocd-k8s-auth azure`` needs beyond what the workload-identity webhook injects.

    The webhook (azure-workload-identity, pkg/webhook) gives Argo CD's containers AZURE_CLIENT_ID,
    AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST. client-go runs the
    plugin with the process env followed by this ``env`` (the last duplicate wins), so a value
    written here overrides the webhook's and goes stale when it changes (v1.6.0 moved the token
    file). Written: the identity's client id (it selects the identity), the login method, and
    argocd-k8s-auth's own variables where they differ from its defaults; the token file and the
    authority only as the explicit opt-ins WIF_FEDERATED_TOKEN_FILE / WIF_ARGOCD_AUTHORITY_HOST.
    AZURE_TENANT_ID only when the identity lives in another tenant than the one the webhook injects
    (the hub's, ``webhook_tenant``): await_propagation proves the exchange in the identity's tenant.
    """
    env = {"AAD_LOGIN_METHOD": "workloadidentity", "AZURE_CLIENT_ID": identity.client_id}
    if webhook_tenant and identity.tenant_id and webhook_tenant.lower() != identity.tenant_id.lower():
        env["AZURE_TENANT_ID"] = identity.tenant_id
    if settings.aad_environment_name != config.DEFAULT_AAD_ENVIRONMENT:
        env["AAD_ENVIRONMENT_NAME"] = settings.aad_environment_name
    if settings.aks_server_app_id != config.AKS_SERVER_APP_ID:
        env["AAD_SERVER_APPLICATION_ID"] = settings.aks_server_app_id
    if settings.federated_token_file:
        env["AZURE_FEDERATED_TOKEN_FILE"] = settings.federated_token_file
    if settings.argocd_authority_host:
        env["AZURE_AUTHORITY_HOST"] = settings.argocd_authority_host
    return {"command": "argocd-k8s-auth", "args": ["azure"], "apiVersion": "client.authentication.k8s.io/v1beta1",
            "env": env}


def argocd_name(settings: config.Settings, target: model.ClusterFacts) -> str:
    """The cluster's name in Argo CD (UI, ``--dest-name``, ApplicationSet ``{{name}}``): a DNS label.

    From WIF_CLUSTER_NAME_TEMPLATE and the canonical id; ``{hash}`` is of the case-insensitive id,
    so two clusters called ``prod`` in different groups or subscriptions never share a name.
    Past 63 characters the text is cut and the hash appended, which keeps it unique.
    """
    ref, digest = target.ref, _digest(target.ref.key)
    text = settings.cluster_name_template.format(
        name=ref.name, resource_group=ref.resource_group, subscription_id=ref.subscription_id,
        location=target.location, hash=digest)
    name = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", text.lower())).strip("-")
    if len(name) > 63:
        name = name[:54].rstrip("-") + "-" + digest
    return name or f"cluster-{digest}"


@dataclass(frozen=True)
class TagLabels:
    """The labels WIF_LABEL_TAGS asks for, and what was rewritten or skipped on the way (for the result)."""

    labels: dict[str, str]
    notes: tuple[str, ...]


def tag_labels(settings: config.Settings, tags: dict[str, str]) -> TagLabels:
    """Pure: Azure tags -> ``tags.aks-argocd-wif.io/<key>`` labels, each change reported.

    Tag names are matched case-insensitively (as Azure treats them); clashes (two tags giving one
    label key) are resolved by sorted tag name, the first wins, whatever the order of the setting.
    """
    labels: dict[str, str] = {}
    notes: list[str] = []
    source: dict[str, str] = {}
    for wanted in sorted(settings.label_tags, key=lambda t: (t.lower(), t)):
        found = sorted((k, v) for k, v in tags.items() if k.lower() == wanted.lower())
        if not found:
            notes.append(f"tag {wanted!r} skipped: the cluster has no such tag")
            continue
        tag, value = found[0]
        key = TAG_LABEL_PREFIX + label_key_name(tag)
        if key in labels:
            notes.append(f"tag {tag!r} skipped: label {key} already comes from tag {source[key]!r}")
            continue
        labels[key], source[key] = label_value(value), tag
        if label_key_name(tag) != tag:
            notes.append(f"tag {tag!r} written as label key {key}")
        if labels[key] != value:
            notes.append(f"tag {tag!r} value {value[:80]!r} written as label value {labels[key]!r}")
    return TagLabels(labels, tuple(notes))


def cluster_secret(settings: config.Settings, target: model.ClusterFacts, identity: model.IdentityFacts,
                   webhook_tenant: Optional[str] = None) -> dict[str, Any]:
    """The Argo CD declarative cluster Secret (label secret-type=cluster), from the canonical id."""
    ref = target.ref
    name = argocd_name(settings, target)
    cfg = {
        "execProviderConfig": exec_provider_config(settings, identity, webhook_tenant),
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
    labels.update(tag_labels(settings, tags).labels)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(ref),
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": {
                ANNOTATION_CLUSTER_ID: ref.id,
                ANNOTATION_ARGOCD_NAME: name,
                LABEL_PREFIX + "resource-group": ref.resource_group,
                LABEL_PREFIX + "tags": json.dumps({k: tags[k] for k in sorted(tags)}, sort_keys=True),
            },
        },
        "type": "Opaque",
        "stringData": {
            "name": name,
            "server": target.server,
            "config": json.dumps(cfg, sort_keys=True),
        },
    }


def keep_name(desired: dict[str, Any], existing: Optional[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Pure: ``desired`` with the Argo CD name people rely on kept; a note when it differs from the template's.

    ``data.name`` is what ``--dest-name``, ``destination.name`` and ApplicationSet ``{{name}}`` use:
    renaming it under them recreates their Applications. It follows the template while it holds the
    name we recorded (a template change renames it); a name set by hand, or by a version before
    unique names, stays.
    """
    if existing is None:
        return desired, ""
    data = existing.get("data") or {}
    raw = data.get("name")
    have = base64.b64decode(raw).decode("utf-8", "replace") if isinstance(raw, str) else ""
    annotations = (existing.get("metadata") or {}).get("annotations") or {}
    want = desired["stringData"]["name"]
    if not have or have == want or have == annotations.get(ANNOTATION_ARGOCD_NAME):
        return desired, ""
    kept = dict(desired, stringData=dict(desired["stringData"], name=have))
    return kept, (f"kept the Argo CD name {have!r} (set by hand or by an earlier version); the template gives "
                  f"{want!r}: set data.name to it to take it")


def owned_label(key: str) -> bool:
    """Labels under our prefixes are ours to write and to remove; every other label is someone else's."""
    return key.startswith((LABEL_PREFIX, TAG_LABEL_PREFIX))


def secret_patch(desired: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    """Pure: the JSON merge patch (RFC 7386) that brings ``existing`` to ``desired`` in the fields we own.

    Owned: ``data`` keys name/server/config, our labels and annotations. Everything people add in
    Argo CD (project, namespaces, clusterResources, shard, their labels and annotations) is left as it
    is; our labels that ``desired`` no longer has (a tag dropped from WIF_LABEL_TAGS) are removed.
    ``resourceVersion`` makes it conditional: a concurrent edit answers 409 and we decide again.
    """
    meta = existing.get("metadata") or {}
    labels: dict[str, Any] = dict(desired["metadata"]["labels"])
    for key in meta.get("labels") or {}:
        if owned_label(key) and key not in labels:
            labels[key] = None
    data = {k: base64.b64encode(v.encode("utf-8")).decode("ascii") for k, v in desired["stringData"].items()}
    return {"metadata": {"labels": labels, "annotations": dict(desired["metadata"]["annotations"]),
                         "resourceVersion": meta.get("resourceVersion")},
            "data": data}


def cluster_role_binding(settings: config.Settings, identity: model.IdentityFacts,
                         cluster: model.ClusterRef) -> dict[str, Any]:
    """Bind the Argo CD identity (AKS maps its token's oid to the user name); provenance recorded."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": binding_name(identity),
            "labels": {LABEL_MANAGED_BY: MANAGED_BY},
            "annotations": {"aks-argocd-wif.io/identity": identity.id, ANNOTATION_CLUSTER_ID: cluster.id},
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
