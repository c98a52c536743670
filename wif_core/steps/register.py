"""register: create or update the Argo CD cluster Secret on the hub.

Reads first and writes only on a difference, so a second run makes no write.
Never touches a Secret this project did not create, or created for another cluster
(provenance: the managed-by label and the canonical cluster id annotation); on
re-registration merges the fields it owns and keeps what people added in Argo CD.
"""
from __future__ import annotations

import base64
from typing import Any, Optional

from wif_core import config, errors, manifests, model, ports, provenance

API, KIND = "v1", "Secret"


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        out[key] = base64.b64decode(value).decode("utf-8", "replace")
    return out


def _subset(want: dict[str, str], have: Optional[dict[str, str]]) -> bool:
    have = have or {}
    return all(have.get(k) == v for k, v in want.items())


def plan(existing: Optional[dict[str, Any]], desired: dict[str, Any]) -> str:
    """Pure: create | update | unchanged | foreign | other-cluster.

    Only the fields we own are compared (``manifests.secret_patch``): what people added in Argo CD
    never makes a difference, our labels for tags no longer wanted do.
    """
    if existing is None:
        return "create"
    if not manifests.is_ours(existing):
        return provenance.FOREIGN
    if provenance.recorded_cluster(existing).lower() != provenance.recorded_cluster(desired).lower():
        return provenance.OTHER_CLUSTER
    meta, want = existing.get("metadata") or {}, desired["metadata"]
    data = _decoded(existing)
    stale = [k for k in meta.get("labels") or {} if manifests.owned_label(k) and k not in want["labels"]]
    same = (all(data.get(k) == v for k, v in desired["stringData"].items())
            and not stale
            and _subset(want["labels"], meta.get("labels"))
            and _subset(want["annotations"], meta.get("annotations")))
    return "unchanged" if same else "update"


def refusal(action: str, existing: dict[str, Any], desired: dict[str, Any], hub: str) -> errors.Refused:
    """The conflict, named as every writer names it (``provenance.kube_conflict``)."""
    meta = existing.get("metadata") or {}
    fix = (f"delete it (kubectl -n {meta.get('namespace')} delete secret {meta.get('name')}) if it is stale, "
           "then register again")
    cluster = model.ClusterRef.parse(provenance.recorded_cluster(desired))
    return provenance.kube_conflict(action, dict(existing, kind=KIND), hub, cluster, fix)


def register(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Registered:
    desired = manifests.cluster_secret(settings, d.target, d.identity, d.hub.tenant_id)
    name, ns = desired["metadata"]["name"], settings.namespace
    notes = manifests.tag_labels(settings, d.target.tag_map()).notes
    kube = p.kube(d.hub)
    existing = kube.get(API, KIND, ns, name)
    desired, kept = manifests.keep_name(desired, existing)
    notes += (kept,) if kept else ()
    action = plan(existing, desired)
    if action in ("foreign", "other-cluster"):
        assert existing is not None
        raise refusal(action, existing, desired, d.hub.ref.name)
    if action == "create":
        kube.create(desired)
        return model.Registered(ns, name, "created", notes)
    if action == "update":
        assert existing is not None
        # Merge, never replace: only our fields change; a stale resourceVersion raises Conflict (re-read, decide again).
        kube.patch(API, KIND, ns, name, manifests.secret_patch(desired, existing))
        return model.Registered(ns, name, "updated", notes)
    return model.Registered(ns, name, "unchanged", notes)
