"""Kubernetes ``Status`` failures, with the messages kube-apiserver really sends.

Clients branch on ``reason`` and ``code`` (``ApiException.status``, kubectl's
``IsNotFound``/``IsConflict``), and people read ``message``: both are copied
from apimachinery's ``errors.New*`` so what users see here is what AKS says.
"""
from __future__ import annotations

from typing import Any, Optional

from wif_sandbox import wire

CONFLICT_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


class ApiError(Exception):
    """A request that ends in a ``Status`` failure body."""

    def __init__(
        self, code: int, reason: str, message: str, details: Optional[dict[str, Any]] = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def response(self, operation: str) -> wire.Response:
        return wire.Response.json(self.code, self.status(), operation)


def _details(group: str, kind: str, name: str) -> dict[str, Any]:
    # Empty fields are omitted (omitempty), exactly as the Go structs serialise.
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    return details


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{_qualified(group, resource)} "{name}" not found',
        _details(group, resource, name),
    )


def no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(group: str, resource: str, name: str) -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{_qualified(group, resource)} "{name}" already exists',
        _details(group, resource, name),
    )


def conflict(group: str, resource: str, name: str, why: str = CONFLICT_MODIFIED) -> ApiError:
    return ApiError(
        409, "Conflict", f'Operation cannot be fulfilled on {_qualified(group, resource)} "{name}": {why}',
        _details(group, resource, name),
    )


def forbidden(group: str, resource: str, name: str, why: str) -> ApiError:
    subject = f'{_qualified(group, resource)} "{name}"' if name else _qualified(group, resource)
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(group, resource, name))


def forbidden_path(why: str) -> ApiError:
    return ApiError(403, "Forbidden", f"forbidden: {why}", {})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def invalid(group: str, kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422; ``causes`` are (field, message) pairs, as field.ErrorList renders them."""
    rendered = [f"{field}: {message}" for field, message in causes]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    details = _details(group, kind, name)
    details["causes"] = [
        {"reason": "FieldValueInvalid", "message": message, "field": field} for field, message in causes
    ]
    return ApiError(422, "Invalid", f'{_qualified(group, kind)} "{name}" is invalid: {summary}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


def unsupported_media_type(content_type: str) -> ApiError:
    accepted = (
        "application/json-patch+json, application/merge-patch+json, "
        "application/apply-patch+yaml, application/strategic-merge-patch+json"
    )
    return ApiError(
        415, "UnsupportedMediaType",
        f'the body of the request was in an unknown format - accepted media types include: {accepted}; got "{content_type}"',
        {},
    )
