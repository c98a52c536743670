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

    def verify(
        self, token: str, *, audience: str | list[str] | None, issuer: str | None
    ) -> dict[str, Any]: ...


BearerAuthenticator = Callable[[str], Optional[UserInfo]]

SA_GROUPS = "system:serviceaccounts"
# Paths kube-apiserver serves to anyone (system:public-info-viewer).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})


def from_cert(cert: wire.ClientCert) -> UserInfo:
    groups = tuple(g for g in cert.groups if g != AUTHENTICATED)
    return UserInfo(cert.user, groups + (AUTHENTICATED,))


def with_authenticated(user: UserInfo) -> UserInfo:
    if AUTHENTICATED in user.groups:
        return user
    return UserInfo(user.username, tuple(user.groups) + (AUTHENTICATED,))


def service_account_user(namespace: str, name: str) -> UserInfo:
    return UserInfo(
        f"system:serviceaccount:{namespace}:{name}",
        (SA_GROUPS, f"{SA_GROUPS}:{namespace}", AUTHENTICATED),
    )


def bearer_token(req: wire.Request) -> Optional[str]:
    """The token of an ``Authorization: Bearer`` header; ``""`` when the header is malformed."""
    header = req.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def impersonation(req: wire.Request) -> Optional[tuple[str, tuple[str, ...]]]:
    """(user, groups) asked for with ``Impersonate-User``/``-Group`` (``kubectl --as``), if any."""
    user = req.headers.get("impersonate-user")
    groups = req.headers.get("impersonate-group")
    if user is None and groups is None:
        return None
    # The HTTP front end joins repeated headers with ", " (one group per header on the wire).
    return user or "", tuple(g.strip() for g in (groups or "").split(",") if g.strip())


def impersonated_user(username: str, groups: tuple[str, ...]) -> UserInfo:
    if username.startswith("system:serviceaccount:") and username.count(":") == 3:
        _, _, namespace, name = username.split(":")
        base = service_account_user(namespace, name)
        return UserInfo(base.username, tuple(dict.fromkeys(base.groups + groups)))
    return UserInfo(username, tuple(dict.fromkeys(groups + (AUTHENTICATED,))))
