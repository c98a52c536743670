"""Who is calling: client certificates, service-account tokens, Entra bearer tokens.

Mirrors kube-apiserver's authenticator chain: x509 first, then the service
account token authenticator (tokens this cluster minted), then the webhook /
OIDC stand-in (``authenticate_bearer``, Entra tokens on AKS). Tokens are never
logged or echoed back in error messages.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

from wif_sandbox import wire

AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated caller, as RBAC and SubjectAccessReview see it."""

    username: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attributes:
    """One authorization question: may the user do ``verb`` on this resource?"""

    verb: str  # get, list, watch, create, update, patch, delete, deletecollection
    api_group: str  # "" for core/v1
    resource: str  # plural, e.g. "secrets"
    subresource: str = ""  # e.g. "token" for serviceaccounts/token
    namespace: str = ""  # "" for cluster-scoped requests
    name: str = ""  # "" for list/create/collection requests


class TokenSigner(Protocol):
    """What the server needs from ``wif_sandbox.pki.SigningKey``."""

    @property
    def kid(self) -> str: ...

    def sign(self, claims: dict[str, Any], headers: Optional[dict[str, Any]] = None) -> str: ...

    def jwks(self) -> dict[str, Any]: ...

    def verify(self, token: str, *, audience: str, issuer: str) -> dict[str, Any]: ...


BearerAuthenticator = Callable[[str], Optional[UserInfo]]
