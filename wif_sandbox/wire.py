"""The one request/response shape every emulated service speaks.

The HTTPS front end (``httpd``) turns a TLS connection into a :class:`Request`,
calls a :data:`Handler` and writes its :class:`Response`. Handlers never touch
sockets, so the same handler is reachable over HTTPS and in-process (AKS run
command executes ``kubectl`` inside the emulated private network this way).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Tuple


@dataclass(frozen=True)
class ClientCert:
    """Identity proven by a TLS client certificate signed by the sandbox CA."""

    user: str  # certificate CN
    groups: Tuple[str, ...] = ()  # certificate O entries


@dataclass
class Request:
    method: str  # upper case
    path: str  # URL path without the query string, percent-decoded
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # keys lower case
    body: bytes = b""
    client_cert: Optional[ClientCert] = None

    def q(self, name: str, default: Optional[str] = None) -> Optional[str]:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # What the request log counts, e.g. "federatedIdentityCredentials.put".
    operation: str = "unknown"

    @classmethod
    def json(
        cls,
        status: int,
        obj: Any,
        operation: str = "unknown",
        headers: Optional[dict[str, str]] = None,
    ) -> Response:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return cls(status, json.dumps(obj).encode("utf-8"), h, operation)


Handler = Callable[[Request], Response]
