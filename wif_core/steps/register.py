"""register: create or update the Argo CD cluster Secret on the hub.

Reads first and writes only on a difference, so a second run makes no write.
Never touches a Secret this project did not create.
"""
from __future__ import annotations

import base64
from typing import Any, Optional

from wif_core import config, errors, manifests, model, ports

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
    """Pure: create | update | unchanged | foreign."""
    if existing is None:
        return "create"
    if not manifests.is_ours(existing):
        return "foreign"
    meta, want = existing.get("metadata") or {}, desired["metadata"]
    same = (_decoded(existing) == desired["stringData"]
            and _subset(want["labels"], meta.get("labels"))
            and _subset(want["annotations"], meta.get("annotations")))
    return "unchanged" if same else "update"


def register(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Registered:
    desired = manifests.cluster_secret(settings, d.target, d.identity)
    name, ns = desired["metadata"]["name"], settings.namespace
    kube = p.kube(d.hub)
    existing = kube.get(API, KIND, ns, name)
    action = plan(existing, desired)
    if action == "foreign":
        raise errors.Refused(
            f"Secret {ns}/{name} exists on {d.hub.ref.name} but was not created by {manifests.MANAGED_BY} "
            f"(no label {manifests.LABEL_MANAGED_BY}={manifests.MANAGED_BY}); delete or rename it, then register again")
    if action == "create":
        kube.create(desired)
        return model.Registered(ns, name, "created")
    if action == "update":
        assert existing is not None
        replacement = dict(desired)
        replacement["metadata"] = dict(desired["metadata"], resourceVersion=existing["metadata"]["resourceVersion"])
        kube.replace(replacement)  # a stale resourceVersion raises Conflict: retried from a fresh read
        return model.Registered(ns, name, "updated")
    return model.Registered(ns, name, "unchanged")
