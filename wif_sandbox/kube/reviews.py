"""Access and identity reviews: asked, answered, never stored.

SubjectAccessReview (any user, admins only), LocalSubjectAccessReview (one
namespace), SelfSubjectAccessReview (``kubectl auth can-i``), SelfSubjectReview
(``kubectl auth whoami``) and TokenReview. Access reviews run the same
authorizer as real requests, so "can-i says yes" and "the request works"
cannot disagree. A review evaluates exactly the user and groups it names: no
``system:authenticated`` is added, as on a real server.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from wif_sandbox import wire
from wif_sandbox.kube import errors
from wif_sandbox.kube import resources as res
from wif_sandbox.kube.auth import Attributes, UserInfo
from wif_sandbox.kube.routes import Route

# (user, attributes, non-resource path) -> (allowed, reason)
Decide = Callable[[UserInfo, Attributes, str], tuple[bool, str]]
# token, audiences -> (user, audiences) or None
Authenticate = Callable[[str], Optional[UserInfo]]


def _attributes(kind: str, spec: dict[str, Any]) -> tuple[Attributes, str]:
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(resource) == bool(non_resource) or not isinstance(resource or non_resource, dict):
        raise errors.invalid(res.AUTHZ, kind, "", [(
            "spec.resourceAttributes",
            'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
        )])
    if non_resource:
        return Attributes(str(non_resource.get("verb", "")), "", ""), str(non_resource.get("path", ""))
    assert isinstance(resource, dict)
    return Attributes(
        verb=str(resource.get("verb", "")), api_group=str(resource.get("group", "")),
        resource=str(resource.get("resource", "")), subresource=str(resource.get("subresource", "")),
        namespace=str(resource.get("namespace", "")), name=str(resource.get("name", "")),
    ), ""


def _answer(route: Route, body: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]) -> wire.Response:
    assert route.rt is not None
    meta = dict(body.get("metadata") or {})
    meta.setdefault("creationTimestamp", None)
    answer = {"kind": route.rt.kind, "apiVersion": route.rt.api_version, "metadata": meta,
              "spec": spec, "status": status}
    return wire.Response.json(201, answer, route.operation)


def _access(decide: Decide, user: UserInfo, attrs: Attributes, path: str) -> dict[str, Any]:
    allowed, reason = decide(user, attrs, path)
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return status


def access_review(route: Route, body: Any, requester: UserInfo, decide: Decide) -> wire.Response:
    assert route.rt is not None
    kind = route.rt.kind
    spec = dict((body or {}).get("spec") or {}) if isinstance(body, dict) else {}
    if route.rt == res.LOCAL_SUBJECT_ACCESS_REVIEWS:
        ra = spec.setdefault("resourceAttributes", {}) or {}
        if ra.get("namespace", route.namespace) != route.namespace:
            raise errors.bad_request(
                f"spec.resourceAttributes.namespace must match namespace: {route.namespace}")
        ra["namespace"] = route.namespace
    attrs, path = _attributes(kind, spec)
    if route.rt == res.SELF_SUBJECT_ACCESS_REVIEWS:
        user = requester
    else:
        user = UserInfo(str(spec.get("user") or ""), tuple(spec.get("groups") or ()))
        if not user.username and not user.groups:
            raise errors.invalid(res.AUTHZ, kind, "", [
                ("spec.user", 'Invalid value: "": at least one of user or group must be specified')])
    return _answer(route, body or {}, spec, _access(decide, user, attrs, path))


def self_subject_review(route: Route, body: Any, requester: UserInfo) -> wire.Response:
    status = {"userInfo": {"username": requester.username, "groups": list(requester.groups)}}
    return _answer(route, body if isinstance(body, dict) else {}, {}, status)


def token_review(route: Route, body: Any, authenticate: Authenticate) -> wire.Response:
    spec = dict((body or {}).get("spec") or {}) if isinstance(body, dict) else {}
    user = authenticate(str(spec.get("token") or "")) if spec.get("token") else None
    status: dict[str, Any] = {"authenticated": user is not None, "user": {}}
    if user is not None:
        status["user"] = {"username": user.username, "groups": list(user.groups)}
    else:
        status["error"] = "token is not valid"
    spec.pop("token", None)  # a review must never echo a credential back
    return _answer(route, body if isinstance(body, dict) else {}, spec, status)
