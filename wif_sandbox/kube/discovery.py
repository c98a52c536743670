"""Non-resource paths: /version, health, discovery, OpenAPI and OIDC issuer discovery.

Clients asking for aggregated discovery (``Accept: …;g=apidiscovery.k8s.io;v=v2``)
get the legacy documents with ``Content-Type: application/json``; client-go reads
the content type and falls back, exactly as it does against older servers.
"""
from __future__ import annotations

from typing import Any, Callable

from wif_sandbox import wire
from wif_sandbox.kube import errors, openapi
from wif_sandbox.kube import resources as res
from wif_sandbox.kube.routes import Route


def _doc(req: wire.Request, route: Route, issuer: str, jwks: Callable[[], dict[str, Any]]) -> Any:
    path = route.path.rstrip("/") or "/"
    parts = [p for p in path.split("/") if p]
    if path == "/version":
        return res.version_info()
    if path == "/api":
        return res.api_versions(req.headers.get("host", "127.0.0.1"))
    if path == "/apis":
        return res.api_group_list()
    if parts[:1] == ["api"] and len(parts) == 2 and res.served("", parts[1]):
        return res.resource_list("", parts[1])
    if parts[:1] == ["apis"] and len(parts) == 2 and parts[1] in res.GROUPS:
        return {"kind": "APIGroup", "apiVersion": "v1", **res.api_group(parts[1])}
    if parts[:1] == ["apis"] and len(parts) == 3 and res.served(parts[1], parts[2]):
        return res.resource_list(parts[1], parts[2])
    if path == "/openapi/v3":
        return openapi.root()
    if parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
        group, version = (parts[3], parts[4]) if parts[2] == "apis" and len(parts) == 5 else ("", parts[-1])
        if parts[2] in ("api", "apis"):
            return openapi.group_version_doc(group, version)
    if path == "/.well-known/openid-configuration":
        return {
            "issuer": issuer, "jwks_uri": issuer.rstrip("/") + "/openid/v1/jwks",
            "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
    if path == "/openid/v1/jwks":
        return jwks()
    return None  # includes /openapi/v2: kubectl only needs it when v3 is unusable


def serve(route: Route, req: wire.Request, issuer: str, jwks: Callable[[], dict[str, Any]]) -> wire.Response:
    if route.area == "health":
        return wire.Response(200, b"ok", {"Content-Type": "text/plain; charset=utf-8"}, route.operation)
    doc = _doc(req, route, issuer, jwks)
    if doc is None:
        raise errors.no_such_path()
    return wire.Response.json(200, doc, route.operation)
