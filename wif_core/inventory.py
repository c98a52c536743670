"""Which clusters are registered: the Argo CD cluster Secrets of ours on the hub.

The Secrets are the truth Argo CD acts on, so the listing reads them rather than a record of
our own that could disagree: one ARM read for the hub, one Kubernetes list. A Secret counts
only with our provenance (the managed-by label and the canonical cluster id annotation), the
same test every update and delete makes; people's own cluster Secrets are not listed.
Shared by ``GET /api/clusters`` and the command line.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Optional

from wif_core import config, errors, manifests, ports, provenance

SELECTOR = f"{manifests.LABEL_MANAGED_BY}={manifests.MANAGED_BY},{manifests.LABEL_SECRET_TYPE}=cluster"
NEEDS_HUB = ("listing reads the cluster Secrets on the hub, and the in-cluster topology has none "
             "(WIF_TOPOLOGY=in-cluster): each cluster holds its own")


@dataclass(frozen=True)
class Registered:
    """One registered cluster, as its Argo CD cluster Secret says."""

    cluster: str  # canonical ARM id, from our annotation
    name: str  # the cluster's name in Argo CD
    server: str
    secret: str  # <namespace>/<name> of the Secret on the hub
    rbac: str  # kubernetes | azure
    location: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _field(secret: dict[str, Any], key: str) -> str:
    raw = (secret.get("data") or {}).get(key)
    if not isinstance(raw, str):
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):  # hand-edited data: list the cluster, without that field
        return ""


def entry(secret: dict[str, Any]) -> Optional[Registered]:
    """Pure: the registration a Secret records, or None when it is not one of ours."""
    meta = secret.get("metadata") or {}
    labels = meta.get("labels") or {}
    cluster = provenance.recorded_cluster(secret)
    if not manifests.is_ours(secret) or not cluster or labels.get(manifests.LABEL_SECRET_TYPE) != "cluster":
        return None
    annotations = meta.get("annotations") or {}
    return Registered(
        cluster=cluster,
        name=_field(secret, "name") or str(annotations.get(manifests.ANNOTATION_ARGOCD_NAME) or ""),
        server=_field(secret, "server"),
        secret=f"{meta.get('namespace') or ''}/{meta.get('name') or ''}",
        rbac=str(labels.get(manifests.LABEL_PREFIX + "rbac") or ""),
        location=str(labels.get(manifests.LABEL_PREFIX + "location") or ""),
    )


def entries(secrets: Iterable[dict[str, Any]]) -> list[Registered]:
    """Pure: our registrations among ``secrets``, by cluster id (case-insensitive, as ARM compares)."""
    found = [e for e in (entry(s) for s in secrets) if e is not None]
    return sorted(found, key=lambda e: e.cluster.lower())


def registered(p: ports.Ports, settings: config.Settings) -> list[Registered]:
    """The clusters registered on the hub. Raises ``errors.BadInput`` for the in-cluster topology."""
    if settings.topology != "hub" or settings.hub is None:
        raise errors.BadInput(NEEDS_HUB)
    hub = p.clusters.get_cluster(settings.hub)
    # The selector spares the API server the rest of the namespace; entries() checks provenance anyway.
    return entries(p.kube(hub).list("v1", "Secret", settings.namespace, SELECTOR))


COLUMNS = (("NAME", "name"), ("CLUSTER", "cluster"), ("SERVER", "server"), ("RBAC", "rbac"),
           ("LOCATION", "location"), ("SECRET", "secret"))


def table(rows: list[Registered]) -> str:
    """Pure: the listing as ``kubectl get`` prints one (columns padded, the cluster as group/name)."""
    if not rows:
        return "no registered clusters\n"
    cells = [[h for h, _ in COLUMNS]]
    for r in rows:
        values = r.to_json()
        parts = r.cluster.split("/")
        values["cluster"] = f"{parts[4]}/{parts[-1]}" if len(parts) > 8 else r.cluster
        cells.append([values[key] for _, key in COLUMNS])
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "".join("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() + "\n" for row in cells)
