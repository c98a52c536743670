"""A tiny in-process ``kubectl`` for AKS run command.

AKS runs the command in a pod inside the cluster's network; here it talks to the
cluster's API server handler directly, so a private cluster is reachable exactly
as through run command. Resource names come from the server's discovery, as
kubectl's RESTMapper does. Supported: ``apply -f``, ``delete -f|KIND NAME
[--ignore-not-found]``, ``get KIND [NAME] [-o json|yaml|name]``, ``auth can-i VERB
RESOURCE [--as USER] [--as-group G]``; ``-n NS``; commands joined by ``&&`` or ``;``.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Optional

import yaml

from wif_sandbox import wire

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class CommandError(Exception):
    """What kubectl prints on stderr before exiting 1."""


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    names: tuple[str, ...]  # plural, singular, short names, kind (lower case)

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def qualified(self) -> str:
        return f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()

    def path(self, namespace: str, name: str = "") -> str:
        ns = f"/namespaces/{namespace}" if self.namespaced else ""
        return f"{self.prefix}{ns}/{self.plural}" + (f"/{name}" if name else "")


class Kubectl:
    def __init__(self, send: wire.Handler, authorize: Callable[[wire.Request], wire.Request]) -> None:
        self._send, self._authorize = send, authorize
        self._resources: Optional[list[Resource]] = None

    def call(self, method: str, path: str, body: Any = None, query: Optional[dict[str, list[str]]] = None) -> Any:
        req = wire.Request(method, path, query or {}, {"accept": "application/json", "content-type": "application/json"},
                           json.dumps(body).encode() if body is not None else b"")
        resp = self._send(self._authorize(req))
        data = json.loads(resp.body) if resp.body else {}
        if resp.status >= 400:
            raise ApiFailure(resp.status, str(data.get("reason") or "Unknown"), str(data.get("message") or ""))
        return data

    def resources(self) -> list[Resource]:
        if self._resources is None:
            found = self._group_version("", "v1")
            for group in self.call("GET", "/apis").get("groups", []):
                version = group["preferredVersion"]["version"]
                found += self._group_version(group["name"], version)
            self._resources = found
        return self._resources

    def _group_version(self, group: str, version: str) -> list[Resource]:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        out = []
        for r in self.call("GET", path).get("resources", []):
            if "/" in r["name"]:
                continue  # subresources
            names = (r["name"], r.get("singularName") or r["kind"].lower(), *r.get("shortNames", []), r["kind"].lower())
            out.append(Resource(group, version, r["name"], r["kind"], bool(r["namespaced"]), tuple(names)))
        return out

    def resource(self, name: str) -> Resource:
        wanted, _, group = name.lower().partition(".")
        for r in self.resources():
            if wanted in r.names and (not group or r.group == group):
                return r
        raise CommandError(f'error: the server doesn\'t have a resource type "{name}"')

    def by_kind(self, api_version: str, kind: str) -> Resource:
        group, _, version = api_version.rpartition("/")
        for r in self.resources():
            if r.kind == kind and r.group == group and r.version == version:
                return r
        raise CommandError(f'error: resource mapping not found for kind "{kind}" in version "{api_version}"')


@dataclass
class ApiFailure(Exception):
    status: int
    reason: str
    message: str

    def __str__(self) -> str:
        return f"Error from server ({self.reason}): {self.message}"


def split_commands(command: str) -> list[tuple[list[str], str]]:
    """[(argv, joiner)] where joiner is ``&&``, ``;`` or "" (last)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&")
    lexer.whitespace_split = True
    out: list[tuple[list[str], str]] = []
    argv: list[str] = []
    for token in lexer:
        if token in ("&&", ";"):
            out.append((argv, token))
            argv = []
        else:
            argv.append(token)
    if argv:
        out.append((argv, ""))
    return out


def documents(text: bytes, source: str) -> list[dict[str, Any]]:
    """The objects of a manifest file (multi-document YAML or JSON, ``List`` kinds flattened)."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as e:
        raise CommandError(f'error: error parsing {source}: {e}') from e
    out: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise CommandError(f"error: error validating \"{source}\": not an object")
        out.extend(doc.get("items") or [] if str(doc.get("kind", "")).endswith("List") else [doc])
    return out
