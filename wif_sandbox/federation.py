"""Entra's check of a client assertion against federated identity credentials.

The order follows what Entra reports: a malformed token (AADSTS50027), an expired
one (AADSTS700024), no federated credential for its issuer and subject, an
audience the credential does not list (AADSTS700212), an issuer whose keys cannot
be fetched (AADSTS50166), a bad signature (AADSTS700027).

"No federated credential" has three answers. AADSTS70021 when the identity has no
credential Entra knows of yet, or when the matching one is still propagating.
When it has credentials but none for the token's issuer, AADSTS700211 naming the
issuer; when some trust the issuer but none the subject, AADSTS700213 naming the
subject. Texts as Entra sends them (azure-workload-identity docs/book
troubleshooting.md for 70021, with ``invalid_request``; Azure/azure-workload-identity
issue #1200 for 700211, with ``invalid_client``; Azure/login issue #482 and
azure-workload-identity #1200 for 700213). Issuer and subject compare exactly: a
trailing slash or another casing is another issuer.

Propagation: Entra's front ends learn a new credential some time after the ARM
write returned. Until ``propagation_s`` has passed since it was written, the
credential does not exist for token requests, and the answer is the same
AADSTS70021 as for a credential that was never written.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jwt

from wif_sandbox import pki

EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


class EntraError(Exception):
    """A token request Entra refuses: HTTP status, OAuth ``error``, AADSTS code, description."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.status, self.error, self.code, self.description = status, error, code, description


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity record, with when it was written (for propagation)."""

    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]
    written_at: float  # the sandbox clock at the ARM write


@dataclass
class WorkloadIdentity:
    """A user-assigned managed identity as Entra sees it."""

    client_id: str
    principal_id: str
    tenant_id: str
    credentials: dict[str, FederatedCredential] = field(default_factory=dict)  # by lower-cased name
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[FederatedCredential]:
        with self.lock:
            return list(self.credentials.values())


def _fail(code: int, description: str, error: str = "invalid_client") -> EntraError:
    return EntraError(400, error, code, description)


def validate(
    assertion: str,
    identity: WorkloadIdentity,
    *,
    jwks_of: Callable[[str], Optional[dict[str, Any]]],
    propagation_s: float,
    now: float,
) -> FederatedCredential:
    """The credential that admits ``assertion`` for ``identity``; raises ``EntraError``."""
    try:
        header = jwt.get_unverified_header(assertion)
        claims = pki.unverified_claims(assertion)
    except jwt.PyJWTError as e:
        raise _fail(50027, f"JWT token is invalid or malformed. ({type(e).__name__})", "invalid_request") from e
    issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
    audiences = claims.get("aud", [])
    audiences = [audiences] if isinstance(audiences, str) else [str(a) for a in audiences or []]
    _check_lifetime(claims)
    written = identity.snapshot()
    visible = [c for c in written if now - c.written_at >= propagation_s]
    match = next((c for c in visible if c.issuer == issuer and c.subject == subject), None)
    if match is None:
        raise _no_match(issuer, subject, audiences, written, visible)
    if EXCHANGE_AUDIENCE not in audiences or not set(audiences) & set(match.audiences):
        raise _fail(700212, "No matching federated identity record found for presented assertion audience "
                    f"'{','.join(audiences)}'.")
    _check_signature(assertion, header, issuer, jwks_of)
    return match


def _no_match(issuer: str, subject: str, audiences: list[str], written: list[FederatedCredential],
              visible: list[FederatedCredential]) -> EntraError:
    propagating = any(c.issuer == issuer and c.subject == subject for c in written)
    if propagating or not visible:
        return _fail(70021, "No matching federated identity record found for presented assertion. "
                     f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. "
                     f"Assertion Audience: '{','.join(audiences)}'. "
                     "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation",
                     "invalid_request")
    if not any(c.issuer == issuer for c in visible):
        return _fail(700211, f"No matching federated identity record found for presented assertion issuer "
                     f"'{issuer}'. Please check your federated identity credential Subject, Audience and Issuer "
                     "against the presented assertion. "
                     "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation")
    return _fail(700213, f"No matching federated identity record found for presented assertion subject '{subject}'. "
                 "Check your federated identity credential Subject, Audience and Issuer against the presented "
                 "assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation")


def _check_lifetime(claims: dict[str, Any]) -> None:
    wall = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)) or exp < wall - 300 or (isinstance(nbf, (int, float)) and nbf > wall + 300):
        raise _fail(700024, "Client assertion is not within its valid time range. "
                    f"Current time: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(wall))}.")


def _check_signature(assertion: str, header: dict[str, Any], issuer: str,
                     jwks_of: Callable[[str], Optional[dict[str, Any]]]) -> None:
    jwks = jwks_of(issuer)
    if jwks is None:
        raise _fail(50166, f"Request to External OIDC endpoint failed. Issuer: '{issuer}'.")
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
    if not keys or header.get("alg") != "RS256":
        raise _fail(700027, "Client assertion failed signature validation. No matching key found in the issuer's "
                    "JSON Web Key Set.")
    try:
        key = jwt.PyJWK.from_dict(keys[0])
        jwt.decode(assertion, key.key, algorithms=["RS256"],
                   options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False})
    except jwt.PyJWTError as e:
        raise _fail(700027, "Client assertion failed signature validation.") from e
