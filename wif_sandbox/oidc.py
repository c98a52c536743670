"""The AKS OIDC issuer host: discovery documents and JWKS of every cluster.

AKS publishes each cluster's service-account issuer under one shared host,
``https://<region>.oic.prod-aks.azure.com/<tenant>/<cluster-guid>/``; this host
does the same on 127.0.0.1. Entra reads it to verify assertions; anyone may.
A deleted cluster's issuer disappears (404), as in AKS.
"""
from __future__ import annotations

import threading
import uuid
from typing import Any, Callable, Optional

from wif_sandbox import wire

Jwks = Callable[[], dict[str, Any]]


class OidcHost:
    """Serves ``<issuer>.well-known/openid-configuration`` and ``<issuer>openid/v1/jwks``."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.url = ""  # set once the HTTPS server listens
        self._issuers: dict[str, Jwks] = {}  # issuer path ("/<tenant>/<guid>/") -> its JWKS
        self._lock = threading.Lock()

    def new_issuer(self, jwks: Jwks) -> str:
        """Allocate an issuer URL (trailing slash, as AKS) publishing ``jwks``."""
        path = f"/{self.tenant_id}/{uuid.uuid4()}/"
        with self._lock:
            self._issuers[path] = jwks
        return self.url + path

    def remove_issuer(self, issuer: str) -> None:
        with self._lock:
            self._issuers.pop(self._path(issuer), None)

    def jwks_of(self, issuer: str) -> Optional[dict[str, Any]]:
        """In-process view of what ``<issuer>openid/v1/jwks`` serves (None: no such issuer)."""
        if not issuer.startswith(self.url + "/"):
            return None
        with self._lock:
            jwks = self._issuers.get(self._path(issuer))
        return jwks() if jwks is not None else None

    def _path(self, issuer: str) -> str:
        path = issuer[len(self.url):] if issuer.startswith(self.url) else issuer
        return path if path.endswith("/") else path + "/"

    def operation_of(self, req: wire.Request) -> str:
        return "jwks.get" if req.path.endswith("/openid/v1/jwks") else "discovery.get"

    def handle(self, req: wire.Request) -> wire.Response:
        op = self.operation_of(req)
        for suffix, kind in ((".well-known/openid-configuration", "discovery"), ("openid/v1/jwks", "jwks")):
            if req.path.endswith("/" + suffix) and req.method in ("GET", "HEAD"):
                path = req.path[: -len(suffix)]
                with self._lock:
                    jwks = self._issuers.get(path)
                if jwks is None:
                    break
                if kind == "jwks":
                    return wire.Response.json(200, jwks(), op, {"Cache-Control": "public, max-age=3600"})
                return wire.Response.json(200, self._discovery(self.url + path), op)
        return wire.Response(404, b"The specified resource does not exist.", {"Content-Type": "text/plain"}, op)

    @staticmethod
    def _discovery(issuer: str) -> dict[str, Any]:
        return {
            "issuer": issuer,
            "jwks_uri": issuer + "openid/v1/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
