"""Pure: an AKS cluster's ARM JSON and user kubeconfig -> ``model.ClusterFacts``.

Kept apart from the SDK calls so it is tested with plain data. Keys are the
REST names of the ``Microsoft.ContainerService/managedClusters`` resource
(``properties.oidcIssuerProfile.issuerURL`` ...), as ``Model.as_dict()`` gives them.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Mapping, Optional

import yaml

from wif_core import errors, model

SUCCEEDED = "Succeeded"


# libyaml's safe loader when PyYAML was built with it: ~10x faster on every cluster read.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _obj(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def provisioning_state(arm: Mapping[str, Any]) -> str:
    return str(_obj(arm, "properties").get("provisioningState") or "")


def kubeconfig_endpoint(kubeconfig: bytes, what: str) -> tuple[str, str]:
    """(server or "", base64 CA bundle) of the kubeconfig's current cluster."""
    try:
        doc = yaml.load(kubeconfig, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader either way
    except yaml.YAMLError as e:
        raise errors.PermanentError(f"{what}: the kubeconfig from listClusterUserCredential is not YAML ({e})") from e
    clusters = doc.get("clusters") if isinstance(doc, dict) else None
    if not isinstance(clusters, list) or not clusters:
        raise errors.PermanentError(f"{what}: the kubeconfig from listClusterUserCredential has no cluster")
    contexts = [c for c in doc.get("contexts") or [] if isinstance(c, dict)]
    current = next((c for c in contexts if c.get("name") == doc.get("current-context")), None)
    wanted = ((current or {}).get("context") or {}).get("cluster")
    entry = next((c for c in clusters if isinstance(c, dict) and c.get("name") == wanted), clusters[0])
    cluster = entry.get("cluster") if isinstance(entry, dict) else None
    if not isinstance(cluster, dict):
        raise errors.PermanentError(f"{what}: the kubeconfig's cluster entry is malformed")
    server, ca_data = str(cluster.get("server") or ""), str(cluster.get("certificate-authority-data") or "")
    try:
        pem = base64.b64decode(ca_data, validate=True)
    except (binascii.Error, ValueError):
        pem = b""
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise errors.PermanentError(f"{what}: the kubeconfig's certificate-authority-data is not a base64 PEM bundle")
    return (server.rstrip("/") if server.startswith("https://") else ""), ca_data


def canonical_ref(asked: model.ClusterRef, arm: Mapping[str, Any]) -> model.ClusterRef:
    """The cluster as ARM spells it: ``id`` for subscription and group, ``name`` for the cluster.

    Event Grid and callers spell ids in any casing (``resourcegroups``, a lower-cased group or
    name); every name and label we derive comes from this instead. ARM ids are case-insensitive,
    so an answer for another resource (a different key) is refused rather than trusted.
    """
    try:
        found = model.ClusterRef.parse(arm.get("id"))
    except errors.BadInput:
        return asked  # no usable id in the answer: the request's spelling is all there is
    name = arm.get("name")
    if isinstance(name, str) and name.lower() == found.name.lower():
        found = model.ClusterRef(found.subscription_id, found.resource_group, name)
    if found.key != asked.key:
        raise errors.PermanentError(f"ARM answered for {found.id} when asked for {asked.id}")
    return found


def cluster_facts(ref: model.ClusterRef, arm: Mapping[str, Any], kubeconfig: Optional[bytes]) -> model.ClusterFacts:
    """Facts of a cluster; ``server``/``ca_data`` stay empty until it is Succeeded (no kubeconfig yet)."""
    ref = canonical_ref(ref, arm)
    props = _obj(arm, "properties")
    aad = _obj(props, "aadProfile")
    private = bool(_obj(props, "apiServerAccessProfile").get("enablePrivateCluster"))
    oidc = _obj(props, "oidcIssuerProfile")
    server = ca_data = ""
    if kubeconfig:
        # The kubeconfig's server is what AKS itself hands kubectl; the FQDN is the fallback.
        server, ca_data = kubeconfig_endpoint(kubeconfig, f"AKS cluster {ref.id}")
        fqdn = props.get("privateFQDN") if private else props.get("fqdn")
        server = server or (f"https://{fqdn}:443" if fqdn else "")
        if not server:
            raise errors.PermanentError(f"AKS cluster {ref.id} has neither an API server in its kubeconfig nor an FQDN")
    tags = arm.get("tags") if isinstance(arm.get("tags"), Mapping) else {}
    return model.ClusterFacts(
        ref=ref,
        provisioning_state=provisioning_state(arm),
        location=str(arm.get("location") or ""),
        server=server,
        ca_data=ca_data,
        private=private,
        aad=bool(aad) and aad.get("managed", True) is not False,
        azure_rbac=bool(aad.get("enableAzureRBAC")),
        oidc_issuer=str(oidc["issuerURL"]) if oidc.get("enabled", True) and oidc.get("issuerURL") else None,
        workload_identity=bool(_obj(_obj(props, "securityProfile"), "workloadIdentity").get("enabled")),
        tenant_id=str(aad["tenantID"]) if aad.get("tenantID") else None,
        tags=tuple(sorted((str(k), str(v)) for k, v in (tags or {}).items())),
    )
