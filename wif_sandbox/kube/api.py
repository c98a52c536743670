"""The API server: authenticate, authorize, then route to discovery or a verb.

The order is kube-apiserver's: a bad credential is a 401 whatever the path, an
allowed-but-missing object is a 404, a forbidden one is a 403 even when it does
not exist (so a 403 never leaks existence). Every answer, success or failure,
carries the request-log operation ``<resource>.<verb>``.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable, Optional

from wif_sandbox import wire
from wif_sandbox.kube import auth, discovery, errors, rbac, reads, reviews, routes, seed, tokens, writes
from wif_sandbox.kube import resources as res
from wif_sandbox.kube.auth import Attributes, BearerAuthenticator, TokenSigner, UserInfo
from wif_sandbox.kube.routes import Route
from wif_sandbox.kube.store import Store

AzureRbac = Callable[[UserInfo, Attributes], bool]
AZURE_DENIED = "User does not have access to the resource in Azure. Update role assignment to allow access."


class KubeApiServer:
    """One emulated AKS API server; a ``wire.Handler`` (see the package docstring)."""

    def __init__(
        self,
        name: str,
        *,
        issuer: str,
        sa_key: TokenSigner,
        authenticate_bearer: BearerAuthenticator,
        azure_rbac: Optional[AzureRbac] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.issuer = issuer
        self._sa_key = sa_key
        self._authenticate_bearer = authenticate_bearer
        self._azure_rbac = azure_rbac
        self._clock = clock
        self.store = Store(clock)
        for obj in seed.objects():
            self.put_object(obj)

    # ----- the wire.Handler -----

    def __call__(self, req: wire.Request) -> wire.Response:
        return self.handle(req)

    def handle(self, req: wire.Request) -> wire.Response:
        operation = "unknown.get"
        try:
            route = routes.parse(req)
            operation = route.operation
            user = self._impersonate(req, self._authenticate(req, route))
            self._authorize(user, route)
            return self._serve(route, req, user)
        except errors.ApiError as e:
            return e.response(operation)

    def operation_of(self, req: wire.Request) -> str:
        """The operation a request would be logged under (for httpd's injected faults)."""
        try:
            return routes.parse(req).operation
        except errors.ApiError:
            return "unknown.get"

    # ----- authentication and authorization -----

    def _authenticate(self, req: wire.Request, route: Route) -> UserInfo:
        token = auth.bearer_token(req)
        if token is None and req.client_cert is not None:
            return auth.from_cert(req.client_cert)
        if token is None:
            if route.rt is None and route.path.rstrip("/") in auth.PUBLIC_PATHS:
                return UserInfo("system:anonymous", ("system:unauthenticated",))
            raise errors.unauthorized()
        user = self.authenticate_token(token) if token else None
        if user is None:
            raise errors.unauthorized()
        return user

    def _impersonate(self, req: wire.Request, user: UserInfo) -> UserInfo:
        """Act as another user when the caller may ``impersonate`` it and each group."""
        asked = auth.impersonation(req)
        if asked is None:
            return user
        username, groups = asked
        if not username:
            raise errors.bad_request("requested impersonation of groups without impersonating a user")
        checks = [("users", username, "")] + [("groups", g, "") for g in groups]
        if username.startswith("system:serviceaccount:") and username.count(":") == 3:
            _, _, namespace, name = username.split(":")
            checks[0] = ("serviceaccounts", name, namespace)
        for resource, name, namespace in checks:
            attrs = Attributes("impersonate", "", resource, "", namespace, name)
            allowed, _ = self.decide(user, attrs)
            if not allowed:
                raise errors.forbidden("", resource, name, rbac.denial(user, attrs))
        return auth.impersonated_user(username, groups)

    def authenticate_token(self, token: str) -> Optional[UserInfo]:
        """Our own service-account tokens first, then Entra (``authenticate_bearer``)."""
        if tokens.issued_here(token, self.issuer):
            found = tokens.verify(token, issuer=self.issuer, key=self._sa_key, clock=self._clock)
            if found is None:
                return None
            namespace, name, uid = found
            sa = self.store.get(res.SERVICE_ACCOUNTS, namespace, name)
            if sa is None or sa["metadata"]["uid"] != uid:
                return None  # bound token: dies with its service account
            return auth.service_account_user(namespace, name)
        user = self._authenticate_bearer(token)
        return auth.with_authenticated(user) if user is not None else None

    def decide(self, user: UserInfo, attrs: Attributes, path: str = "") -> tuple[bool, str]:
        """(allowed, reason): system:masters, then Kubernetes RBAC, then Azure RBAC."""
        if auth.MASTERS in user.groups:
            return True, ""
        allowed, reason = rbac.authorize(self.store, user, attrs, path)
        if allowed or self._azure_rbac is None or path:
            return allowed, reason
        if self._azure_rbac(user, attrs):
            return True, "Access allowed by Azure RBAC Role Assignment"
        return False, AZURE_DENIED

    def _authorize(self, user: UserInfo, route: Route) -> None:
        attrs = route.attributes()
        path = route.path if route.rt is None else ""
        allowed, reason = self.decide(user, attrs, path)
        if allowed:
            return
        why = rbac.denial(user, attrs, path) + (f": {reason}" if reason else "")
        if route.rt is None:
            raise errors.forbidden_path(why)
        sub = f"{route.rt.plural}/{route.sub.name}" if route.sub else route.rt.plural
        raise errors.forbidden(route.rt.group, sub, route.name, why)

    # ----- serving -----

    def _serve(self, route: Route, req: wire.Request, user: UserInfo) -> wire.Response:
        if route.rt is None:
            return discovery.serve(route, req, self.issuer, self.jwks)
        rt = route.rt
        if rt.namespaced and route.name and not route.namespace:
            raise errors.no_such_path()
        if rt.namespaced and route.verb in ("create", "deletecollection") and not route.namespace:
            raise errors.no_such_path()
        if route.sub is not None:
            return self._token_request(route, req)
        if not rt.stored:
            return self._review(route, req, user)
        return self._verb(route, req)

    def _verb(self, route: Route, req: wire.Request) -> wire.Response:
        now = self._clock()
        if route.verb == "get":
            return reads.get(self.store, route, req, now)
        if route.verb == "list":
            return reads.list_(self.store, route, req, now)
        if route.verb == "watch":
            return reads.watch(self.store, route, req)
        if route.verb == "create":
            return writes.create(self.store, route, req)
        if route.verb == "update":
            return writes.update(self.store, route, req)
        if route.verb == "patch":
            return writes.patch_(self.store, route, req)
        if route.verb == "delete":
            return writes.delete(self.store, route, req)
        return writes.delete_collection(self.store, route, req)

    def _token_request(self, route: Route, req: wire.Request) -> wire.Response:
        sa = self.store.get(res.SERVICE_ACCOUNTS, route.namespace, route.name)
        if sa is None:
            raise errors.not_found("", "serviceaccounts", route.name)
        body = writes.decode(req, "TokenRequest") if req.body else {}
        answer = tokens.mint(sa, body, issuer=self.issuer, key=self._sa_key, clock=self._clock)
        if writes.dry_run(req):
            answer["status"]["token"] = ""  # a dry run never hands out a credential
        return wire.Response.json(201, answer, route.operation)

    def _review(self, route: Route, req: wire.Request, user: UserInfo) -> wire.Response:
        body = writes.decode(req, route.rt.kind if route.rt else "") if req.body else {}
        if route.rt == res.SELF_SUBJECT_REVIEWS:
            return reviews.self_subject_review(route, body, user)
        if route.rt == res.TOKEN_REVIEWS:
            return reviews.token_review(route, body, self.authenticate_token)
        return reviews.access_review(route, body, user, self.decide)

    # ----- seeding and inspection (no authentication: the sandbox's own hands) -----

    def jwks(self) -> dict[str, Any]:
        """Public keys of the service-account issuer, to serve at ``<issuer>openid/v1/jwks``."""
        return self._sa_key.jwks()

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object as an admin would, without authentication.

        Runs the same defaults and validation as an API write (raises ``ApiError``);
        the namespace of a namespaced object is created when missing.
        """
        rt = res.by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if rt is None or not rt.stored:
            raise ValueError(f"not a stored kind: {obj.get('apiVersion')}/{obj.get('kind')}")
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        meta.pop("resourceVersion", None)
        namespace = str(meta.get("namespace", "")) if rt.namespaced else ""
        if rt.namespaced and not namespace:
            raise ValueError(f"{rt.kind} {meta.get('name')!r} needs metadata.namespace")
        route = Route("update", "", rt, None, namespace, str(meta.get("name", "")))
        with self.store.lock:
            if rt.namespaced and self.store.get(res.NAMESPACES, "", namespace) is None:
                ns_route = Route("create", "", res.NAMESPACES)
                writes.create_object(self.store, ns_route, {"metadata": {"name": namespace}}, dry=False)
            old = self.store.get(rt, namespace, route.name)
            if old is None:
                return writes.create_object(self.store, route, new, dry=False)
            return writes.update_object(self.store, route, old, new, dry=False)

    def delete_object(self, api_version: str, kind: str, namespace: Optional[str], name: str) -> bool:
        """Remove an object as an admin would (``kubectl delete``), without authentication; True if it was there."""
        rt = res.by_kind(api_version, kind)
        if rt is None:
            raise ValueError(f"not a stored kind: {api_version}/{kind}")
        with self.store.lock:
            if self.store.get(rt, namespace or "", name) is None:
                return False
            self.store.delete(rt, namespace or "", name)
            return True

    def get_object(
        self, api_version: str, kind: str, namespace: Optional[str], name: str
    ) -> Optional[dict[str, Any]]:
        rt = res.by_kind(api_version, kind)
        return self.store.get(rt, namespace or "", name) if rt is not None else None

    def list_objects(
        self, api_version: str, kind: str, namespace: Optional[str] = None
    ) -> list[dict[str, Any]]:
        rt = res.by_kind(api_version, kind)
        return self.store.list(rt, namespace or "") if rt is not None else []

