"""URL + method -> what is being asked (kube-apiserver's RequestInfo).

Resource paths are ``/api/v1/...`` and ``/apis/<group>/<version>/...``, then
optionally ``namespaces/<ns>/``, then ``<plural>[/<name>[/<subresource>]]``.
``/api/v1/namespaces/<name>`` is the Namespace itself, which is why the
namespace prefix is only taken when a namespaced resource follows it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from wif_sandbox import wire
from wif_sandbox.kube import errors
from wif_sandbox.kube import resources as res
from wif_sandbox.kube.auth import Attributes

_ITEM_VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete", "POST": "create"}
_COLLECTION_VERBS = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}


@dataclass(frozen=True)
class Route:
    verb: str  # Kubernetes verb (get, list, watch, create, ...) or "get" for non-resource paths
    path: str  # the request path, for non-resource requests and messages
    rt: Optional[res.ResourceType] = None  # None: a non-resource path (discovery, openapi, version)
    sub: Optional[res.Subresource] = None
    namespace: str = ""
    name: str = ""
    area: str = ""  # for non-resource paths: discovery, openapi, version, health

    @property
    def operation(self) -> str:
        """Request-log name, e.g. ``secrets.create``, ``serviceaccounts/token.create``."""
        if self.rt is None:
            return f"{self.area}.{self.verb}"
        return f"{self.sub.plural if self.sub else self.rt.plural}.{self.verb}"

    def attributes(self) -> Attributes:
        if self.rt is None:
            return Attributes(self.verb, "", "", "", "", "")
        return Attributes(
            self.verb, self.rt.group, self.rt.plural, self.sub.name if self.sub else "",
            self.namespace, self.name,
        )


def _non_resource(req: wire.Request) -> Route:
    path = req.path.rstrip("/") or "/"
    if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
        area = "health"
    elif path == "/version":
        area = "version"
    elif path.startswith("/openapi"):
        area = "openapi"
    else:
        area = "discovery"
    if req.method not in ("GET", "HEAD"):
        raise errors.method_not_allowed()
    return Route("get", req.path, area=area)


def _group_version(parts: list[str]) -> Optional[tuple[str, str, list[str]]]:
    if parts[:1] == ["api"] and len(parts) >= 3:
        return "", parts[1], parts[2:]
    if parts[:1] == ["apis"] and len(parts) >= 4:
        return parts[1], parts[2], parts[3:]
    return None


def _verb(req: wire.Request, has_name: bool, sub: Optional[res.Subresource]) -> str:
    table = _ITEM_VERBS if has_name else _COLLECTION_VERBS
    verb = table.get(req.method)
    if verb is None or (has_name and verb == "create" and sub is None):
        raise errors.method_not_allowed()
    if verb in ("list", "get") and req.q("watch") in ("true", "1"):
        return "watch"
    return verb


def parse(req: wire.Request) -> Route:
    parts = [p for p in req.path.split("/") if p]
    found = _group_version(parts)
    if found is None:
        return _non_resource(req)
    group, version, rest = found
    if not res.served(group, version):
        raise errors.no_such_path()
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        inner = res.lookup(group, version, rest[2])
        if inner is not None and inner.namespaced:
            namespace, rest = rest[1], rest[2:]
    rt = res.lookup(group, version, rest[0])
    if rt is None or len(rest) > 3:
        raise errors.no_such_path()
    name = rest[1] if len(rest) > 1 else ""
    sub = None
    if len(rest) == 3:
        sub = res.subresource(rt, rest[2])
        if sub is None:
            raise errors.no_such_path()
    verb = _verb(req, bool(name), sub)
    if sub is not None and verb not in sub.verbs or sub is None and verb not in rt.verbs + ("watch",):
        raise errors.method_not_allowed()
    return Route(verb, req.path, rt, sub, namespace, name)
