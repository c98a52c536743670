"""Entra ID: discovery, JWKS and the v2.0 token endpoint, for one tenant.

Two client-credentials grants, as the function app and Argo CD use them:

* ``client_secret`` for registered applications (the function app's own identity);
* ``client_assertion`` (workload identity federation): a Kubernetes service-account
  token is exchanged for an Entra token of the user-assigned identity whose client id
  is ``client_id``. Validation follows Entra (``federation`` module), including the
  propagation lag of a freshly written federated credential (``AADSTS70021``).

Access tokens are v1-shaped RS256 JWTs (``iss`` = ``https://sts.windows.net/<tid>/``,
``aud`` = the resource of the requested ``<resource>/.default`` scope, ``oid``, ``tid``,
``appid``, ``groups``), verified by the emulated ARM and API servers through
:meth:`Entra.verify_access_token`.
"""
from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

import jwt

from wif_sandbox import faults, federation, graph, wire
from wif_sandbox.federation import EntraError, WorkloadIdentity
from wif_sandbox.pki import SigningKey

TOKEN_LIFETIME_S = 3599
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Scopes MSAL may add that name no resource.
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})


@dataclass(frozen=True)
class Principal:
    """Who an access token says the caller is."""

    oid: str
    tid: str
    groups: tuple[str, ...] = ()
    appid: str = ""


@dataclass(frozen=True)
class App:
    """A registered application with a client secret (sandbox-only, fake)."""

    client_id: str
    secret: str
    principal_id: str  # its service principal's object id: the ``oid`` of its tokens
    display_name: str


@dataclass
class Directory:
    """What Entra knows about the tenant: apps, group memberships."""

    apps: dict[str, App] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)  # group id -> member object ids
    lock: threading.Lock = field(default_factory=threading.Lock)

    def groups_of(self, oid: str) -> tuple[str, ...]:
        with self.lock:
            return tuple(sorted(g for g, members in self.groups.items() if oid in members))

    def add_member(self, group_id: str, oid: str) -> None:
        with self.lock:
            self.groups.setdefault(group_id, set()).add(oid)


class Entra:
    """One tenant's Entra ID; a ``wire.Handler`` (serve it with ``httpd.HttpsServer``)."""

    def __init__(
        self,
        tenant_id: str,
        *,
        knobs: faults.Faults,
        identity_of: Callable[[str], Optional[WorkloadIdentity]],
        jwks_of: Callable[[str], Optional[dict[str, Any]]],
        clock: Callable[[], float] = time.monotonic,
        graph_objects: Optional[graph.Objects] = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.key = SigningKey.generate()
        self.directory = Directory()
        self.url = ""  # set once the HTTPS server listens
        self._knobs = knobs
        self._identity_of = identity_of  # user-assigned identity by client id (ARM owns them)
        self._jwks_of = jwks_of  # JWKS of an OIDC issuer (the emulated clusters' issuers)
        self._clock = clock
        self._graph_objects = graph_objects or self.app_objects

    # ----- directory -----

    def register_app(self, display_name: str) -> App:
        app = App(str(uuid.uuid4()), "sandbox-" + secrets.token_urlsafe(24), str(uuid.uuid4()), display_name)
        with self.directory.lock:
            self.directory.apps[app.client_id] = app
        return app

    def app_objects(self) -> list[tuple[str, str, str]]:
        """(object id, app id, display name) of the registered applications' service principals."""
        with self.directory.lock:
            return [(a.principal_id, a.client_id, a.display_name) for a in self.directory.apps.values()]

    @property
    def v1_issuer(self) -> str:
        return f"https://sts.windows.net/{self.tenant_id}/"

    @property
    def v2_issuer(self) -> str:
        return f"{self.url}/{self.tenant_id}/v2.0"

    # ----- tokens -----

    def issue_token(self, oid: str, appid: str, audience: str) -> str:
        """An access token for ``oid`` (also used by the sandbox to act as a user)."""
        now = int(time.time())
        claims = {
            "aud": audience, "iss": self.v1_issuer, "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME_S,
            "appid": appid, "azp": appid, "appidacr": "1", "idtyp": "app", "oid": oid, "sub": oid,
            "tid": self.tenant_id, "groups": list(self.directory.groups_of(oid)), "ver": "1.0",
            "uti": secrets.token_urlsafe(16),
        }
        return self.key.sign(claims)

    def verify_access_token(self, token: str, audience: str | list[str]) -> Optional[Principal]:
        """The caller of a bearer token this Entra issued for ``audience``; None when invalid."""
        try:
            claims = self.key.verify(token, audience=audience, issuer=None)
        except jwt.PyJWTError:
            return None
        if claims.get("iss") not in (self.v1_issuer, self.v2_issuer) or claims.get("tid") != self.tenant_id:
            return None
        return Principal(str(claims["oid"]), self.tenant_id, tuple(claims.get("groups") or ()),
                         str(claims.get("appid", "")))

    # ----- HTTP -----

    def operation_of(self, req: wire.Request) -> str:
        if req.path.endswith("/oauth2/v2.0/token"):
            form = _form(req)
            return "token." + ("client_assertion" if "client_assertion" in form else "client_secret")
        if req.path.endswith("/keys"):
            return "jwks.get"
        if req.path.startswith("/v1.0/"):
            return "graph." + req.method.lower()
        return "discovery.get"

    def handle(self, req: wire.Request) -> wire.Response:
        parts = [p for p in req.path.split("/") if p]
        op = self.operation_of(req)
        if len(parts) >= 2 and parts[0] == "common" and parts[1] == "discovery":
            return self._instance_discovery(req)
        if parts and parts[0] == "v1.0":  # Microsoft Graph (see graph)
            return graph.handle(req, self._graph_objects,
                                lambda token: self.verify_access_token(token, [self.url, self.url + "/"]) is not None)
        if not parts or parts[0] not in (self.tenant_id, "organizations", "common"):
            tenant = parts[0] if parts else ""
            return _error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found. Check to make sure you have "
                          "the correct tenant ID and are signing into the correct cloud.", op)
        rest = "/".join(parts[1:])
        if rest == "v2.0/.well-known/openid-configuration" and req.method == "GET":
            return wire.Response.json(200, self.openid_configuration(), op)
        if rest == "discovery/v2.0/keys" and req.method == "GET":
            return wire.Response.json(200, self.key.jwks(), op)
        if rest == "oauth2/v2.0/token" and req.method == "POST":
            return self._token(_form(req), op)
        return _error(404, "invalid_request", 900561, "The endpoint only accepts the documented paths.", op)

    def openid_configuration(self) -> dict[str, Any]:
        base = f"{self.url}/{self.tenant_id}"
        return {
            "issuer": self.v2_issuer,
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["pairwise"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }

    def _instance_discovery(self, req: wire.Request) -> wire.Response:
        endpoint = f"{self.url}/{self.tenant_id}/v2.0/.well-known/openid-configuration"
        return wire.Response.json(200, {"tenant_discovery_endpoint": endpoint, "api-version": "1.1",
                                        "metadata": []}, "discovery.get")

    def _token(self, form: dict[str, str], op: str) -> wire.Response:
        try:
            if form.get("grant_type") != "client_credentials":
                raise EntraError(400, "unsupported_grant_type", 70003,
                                 "The app requested an unsupported grant type.")
            audience = _resource(form.get("scope", ""))
            oid, appid = self._authenticate_client(form)
        except EntraError as e:
            return _error(e.status, e.error, e.code, e.description, op)
        token = self.issue_token(oid, appid, audience)
        body = {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S, "ext_expires_in": TOKEN_LIFETIME_S,
                "access_token": token}
        return wire.Response.json(200, body, op, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    def _authenticate_client(self, form: dict[str, str]) -> tuple[str, str]:
        """(oid, appid) of the client; raises ``EntraError`` as Entra would refuse it."""
        client_id = form.get("client_id", "")
        if "client_assertion" in form:
            if form.get("client_assertion_type") != JWT_BEARER:
                raise EntraError(400, "invalid_request", 50027, "Invalid client_assertion_type.")
            identity = self._identity_of(client_id)
            if identity is None:
                raise _unknown_client(client_id, self.tenant_id)
            federation.validate(form["client_assertion"], identity, jwks_of=self._jwks_of,
                                propagation_s=self._knobs.propagation_delay_s, now=self._clock())
            return identity.principal_id, client_id
        with self.directory.lock:
            app = self.directory.apps.get(client_id)
        if app is None:
            raise _unknown_client(client_id, self.tenant_id)
        if not secrets.compare_digest(form.get("client_secret", ""), app.secret):
            raise EntraError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the request is the "
                             f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.")
        return app.principal_id, client_id


def _form(req: wire.Request) -> dict[str, str]:
    parsed = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _resource(scope: str) -> str:
    """The resource of a ``<resource>/.default`` scope, as the token's ``aud``."""
    names = [s for s in scope.split() if s not in _RESERVED_SCOPES]
    if len(names) != 1 or not names[0].endswith("/.default"):
        raise EntraError(400, "invalid_scope", 1002012,
                         f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                         "scope value with /.default suffixed to the resource identifier (application ID URI).")
    return names[0][: -len("/.default")]


def _unknown_client(client_id: str, tenant_id: str) -> EntraError:
    return EntraError(400, "unauthorized_client", 700016,
                      f"Application with identifier '{client_id}' was not found in the directory '{tenant_id}'. "
                      "This can happen if the application has not been installed by the administrator of the "
                      "tenant or consented to by any user in the tenant.")


def _error(status: int, error: str, code: int, description: str, op: str) -> wire.Response:
    """Entra's OAuth error body: the AADSTS code leads the description, ids trail it."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
                             f"Timestamp: {stamp}",
        "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return wire.Response.json(status, body, op)
