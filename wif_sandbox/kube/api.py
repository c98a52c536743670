"""The API server: authentication, authorization, routing to verbs."""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

from wif_sandbox import wire
from wif_sandbox.kube.auth import Attributes, BearerAuthenticator, TokenSigner, UserInfo


class KubeApiServer:
    def __init__(
        self,
        name: str,
        *,
        issuer: str,
        sa_key: TokenSigner,
        authenticate_bearer: BearerAuthenticator,
        azure_rbac: Optional[Callable[[UserInfo, Attributes], bool]] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.issuer = issuer
        self._sa_key = sa_key
        self._authenticate_bearer = authenticate_bearer
        self._azure_rbac = azure_rbac
        self._clock = clock

    def handle(self, req: wire.Request) -> wire.Response:
        raise NotImplementedError("work in progress")

    def jwks(self) -> dict[str, Any]:
        return self._sa_key.jwks()

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError("work in progress")

    def get_object(
        self, api_version: str, kind: str, namespace: Optional[str], name: str
    ) -> Optional[dict[str, Any]]:
        raise NotImplementedError("work in progress")

    def list_objects(
        self, api_version: str, kind: str, namespace: Optional[str] = None
    ) -> list[dict[str, Any]]:
        raise NotImplementedError("work in progress")
