"""What every ARM answer shares: error bodies, request checks, tracking headers.

ARM's error contract: ``{"error": {"code", "message"}}`` with the status that
says whether to retry. Every request needs ``api-version`` and an Entra bearer
token for the ARM audience; ids are case-insensitive.
"""
from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

import jwt

from wif_sandbox import pki, wire
from wif_sandbox.entra import Principal

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# Audiences ARM accepts besides its own URL (public cloud spellings).
PUBLIC_AUDIENCES = ("https://management.azure.com", "https://management.azure.com/",
                    "https://management.core.windows.net", "https://management.core.windows.net/")


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass(frozen=True)
class Call:
    """One authenticated ARM request, as the resource handlers see it."""

    req: wire.Request
    principal: Principal
    claims: dict[str, Any]  # the caller's token claims (Event Grid events carry them)
    api_version: str
    arm_url: str
    operation: str

    def body(self) -> dict[str, Any]:
        try:
            data = self.req.json()
        except ValueError as e:
            raise ArmError(400, "InvalidRequestContent", f"The request content was invalid and could not be "
                           f"deserialized: '{e}'.") from e
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        return data

    def url(self, path: str) -> str:
        """Absolute URL of an ARM path with this call's api-version (for Location headers)."""
        return f"{self.arm_url}{path}?api-version={self.api_version}"


def obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """A JSON object member, ``{}`` when absent or not an object."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value))


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def respond(status: int, body: Any, operation: str, headers: Optional[dict[str, str]] = None) -> wire.Response:
    """A JSON answer with ARM's tracking headers."""
    h = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4())}
    h.update(headers or {})
    if body is None:
        return wire.Response(status, b"", h, operation)
    return wire.Response.json(status, body, operation, h)


def error_response(e: ArmError, operation: str) -> wire.Response:
    return respond(e.status, {"error": {"code": e.code, "message": e.message}}, operation, e.headers)


def check_api_version(req: wire.Request) -> str:
    version = req.q("api-version")
    if not version:
        raise ArmError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")
    if not _API_VERSION.match(version):
        raise ArmError(400, "InvalidApiVersionParameter",
                       f"The api-version '{version}' is invalid. The supported versions are of the form 'yyyy-mm-dd'.")
    return version


def authenticate(
    req: wire.Request, arm_url: str, verify: Callable[[str, list[str]], Optional[Principal]]
) -> tuple[Principal, dict[str, Any]]:
    """The caller of an ARM request; 401 as ARM words it otherwise."""
    header = req.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthenticated("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("AuthenticationFailed",
                               "Authentication failed. The 'Authorization' header is provided in an invalid format.")
    audiences = [arm_url, arm_url + "/", *PUBLIC_AUDIENCES]
    principal = verify(token.strip(), audiences)
    if principal is None:
        raise _invalid_token(token.strip(), audiences)
    claims = pki.unverified_claims(token.strip())
    return principal, claims


def _invalid_token(token: str, audiences: list[str]) -> ArmError:
    try:
        aud = pki.unverified_claims(token).get("aud")
    except jwt.PyJWTError:
        return _unauthenticated("InvalidAuthenticationToken", "The access token is invalid.")
    if aud not in audiences:
        return _unauthenticated("InvalidAuthenticationTokenAudience",
                                f"The access token has been obtained for wrong audience or resource '{aud}'. It should "
                                f"exactly match with one of the allowed audiences '{', '.join(audiences)}'.")
    return _unauthenticated("InvalidAuthenticationToken",
                            "The access token is invalid, expired or not issued by the expected tenant.")


def _unauthenticated(code: str, message: str) -> ArmError:
    challenge = f'Bearer authorization_uri="https://login.microsoftonline.com/", error="invalid_token", ' \
                f'error_description="{message}"'
    return ArmError(401, code, message, {"WWW-Authenticate": challenge})


def not_found(resource_type: str, name: str, resource_group: str) -> ArmError:
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def resource_id(subscription: str, resource_group: str, provider_type: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{provider_type}/{name}"
