"""``/openapi/v3``: just enough OpenAPI for kubectl, derived from the registry.

kubectl 1.32 reads OpenAPI v3 twice during ``apply``/``create``:

1. Field validation: it checks whether the PATCH operation of the kind accepts
   the ``fieldValidation`` query parameter. If it does, validation is left to
   the server; if not, kubectl validates client-side against OpenAPI **v2**
   protobuf, which this server does not serve (``/openapi/v2`` is a 404), and
   plain ``kubectl apply -f`` would fail. So every PATCH operation here
   declares ``fieldValidation``.
2. Client-side apply: when the PATCH operation lists
   ``application/strategic-merge-patch+json``, kubectl computes the patch from
   the schemas in ``components``. Those would have to be complete Go-type
   schemas, so the request bodies here omit that media type on purpose: kubectl
   then falls back to its compiled-in Go types, which are exactly right for the
   built-in kinds served here, and still sends a strategic merge patch (which
   the server accepts regardless of what this document lists).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

from wif_sandbox.kube import resources as res

PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gvk(rt: res.ResourceType) -> dict[str, str]:
    return {"group": rt.group, "version": rt.version, "kind": rt.kind}


def _param(name: str, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "schema": {"type": "string", "uniqueItems": True}}


def _ref(rt: res.ResourceType) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{schema_name(rt)}"}


def schema_name(rt: res.ResourceType) -> str:
    group = "core" if not rt.group else rt.group.split(".")[0]
    return f"io.k8s.api.{group}.{rt.version}.{rt.kind}"


def _op(rt: res.ResourceType, action: str, writes: bool) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "parameters": [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")] if writes else [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": _ref(rt)}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }
    if action == "patch":
        op["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in PATCH_TYPES}, "required": True}
    elif writes:
        op["requestBody"] = {"content": {"*/*": {"schema": _ref(rt)}}, "required": True}
    return op


def _paths(rt: res.ResourceType) -> dict[str, Any]:
    base = "/" + _gv_path(rt.group, rt.version)
    scope = f"{base}/namespaces/{{namespace}}" if rt.namespaced else base
    params = [_param("namespace", "path")] if rt.namespaced else []
    if not rt.stored:  # reviews: create only
        return {f"{scope}/{rt.plural}": {"post": _op(rt, "post", True), "parameters": params}}
    item = {
        "get": _op(rt, "get", False), "put": _op(rt, "put", True), "patch": _op(rt, "patch", True),
        "delete": _op(rt, "delete", False), "parameters": params + [_param("name", "path")],
    }
    collection = {"get": _op(rt, "list", False), "post": _op(rt, "post", True), "parameters": params}
    return {f"{scope}/{rt.plural}": collection, f"{scope}/{rt.plural}/{{name}}": item}


def _schema(rt: res.ResourceType) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"{rt.kind} as served by the wif-sandbox API server.",
        "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"type": "object"}},
        "x-kubernetes-group-version-kind": [_gvk(rt)],
    }


def group_version_doc(group: str, version: str) -> Optional[dict[str, Any]]:
    """``/openapi/v3/api/v1`` or ``/openapi/v3/apis/<group>/<version>``."""
    if not res.served(group, version):
        return None
    kinds = [rt for rt in res.ALL if (rt.group, rt.version) == (group, version)]
    paths: dict[str, Any] = {}
    for rt in kinds:
        paths.update(_paths(rt))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": res.version_info()["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {schema_name(rt): _schema(rt) for rt in kinds}},
    }


def _hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()


def root() -> dict[str, Any]:
    """``/openapi/v3``: where each group-version document lives (hash pins client caches)."""
    gvs = [("", "v1")] + [(g, v) for g, versions in res.GROUPS.items() for v in versions]
    paths: dict[str, Any] = {}
    for group, version in gvs:
        doc = group_version_doc(group, version) or {}
        rel = _gv_path(group, version)
        paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={_hash(doc)}"}
    return {"paths": paths}
