"""Per-kind rules applied to every write: names, defaults, what must not change.

These are the validations and defaults of the real registry strategies that a
client can observe: DNS-1123 names (RFC 1123 label for namespaces, path
segments for RBAC objects), Secret ``stringData`` folded into base64 ``data``
and never stored, ``type`` defaulting to Opaque, immutable Secrets, and a
binding's ``roleRef`` that can never change (clients must delete and
re-create, which is why the product's bind step has to handle it).
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Optional

from wif_sandbox.kube import errors
from wif_sandbox.kube import resources as res
from wif_sandbox.kube.store import Obj

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = rf"{_LABEL}(\.{_LABEL})*"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    f"validation is '{_SUBDOMAIN}')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    f"validation is '{_LABEL}')"
)
CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
    f"or 'KEY_NAME',  or 'key-name', regex used for validation is '{_CONFIG_KEY}')"
)
Cause = tuple[str, str]


def name_problems(rt: res.ResourceType, name: str) -> list[Cause]:
    value = f'Invalid value: "{name}": '
    if rt.group == res.RBAC:  # RBAC names are path segments: "system:foo" is fine
        if name in (".", ".."):
            return [("metadata.name", f"{value}may not be '{name}'")]
        bad = [c for c in "/%" if c in name]
        return [("metadata.name", f"{value}may not contain '{c}'") for c in bad]
    if rt == res.NAMESPACES:
        ok = len(name) <= 63 and re.fullmatch(_LABEL, name)
        return [] if ok else [("metadata.name", value + LABEL_MSG)]
    ok = len(name) <= 253 and re.fullmatch(_SUBDOMAIN, name)
    return [] if ok else [("metadata.name", value + SUBDOMAIN_MSG)]


def _fold_string_data(secret: Obj) -> list[Cause]:
    """``stringData`` is write-only sugar: merge it into ``data`` (base64) and drop it."""
    data = secret.get("data") or {}
    string_data = secret.pop("stringData", None) or {}
    causes: list[Cause] = []
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as e:
            raise errors.bad_request(
                f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data for key {key!r}: {e}'
            ) from e
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
    for key in data:
        if not re.fullmatch(_CONFIG_KEY, key):
            causes.append((f"data[{key}]", f'Invalid value: "{key}": {CONFIG_KEY_MSG}'))
    if data:
        secret["data"] = data
    else:
        secret.pop("data", None)
    secret["type"] = secret.get("type") or "Opaque"
    return causes


def _secret_update(new: Obj, old: Obj) -> list[Cause]:
    causes: list[Cause] = []
    if new.get("type") != old.get("type"):
        causes.append(("type", f'Invalid value: "{new.get("type")}": field is immutable'))
    if old.get("immutable") and (new.get("data") != old.get("data") or not new.get("immutable")):
        causes.append(("data", "Forbidden: field is immutable when `immutable` is set"))
    return causes


def _binding_problems(obj: Obj, old: Optional[Obj]) -> list[Cause]:
    ref = obj.get("roleRef")
    if not isinstance(ref, dict) or not ref.get("name") or ref.get("kind") not in ("ClusterRole", "Role"):
        return [("roleRef", "Required value: roleRef.kind must be Role or ClusterRole, with a name")]
    if old is not None and old.get("roleRef") != ref:
        return [("roleRef", f"Invalid value: {_go_struct(ref)}: cannot change roleRef")]
    return []


def _go_struct(ref: dict[str, Any]) -> str:
    return "rbac.RoleRef{{APIGroup:\"{}\", Kind:\"{}\", Name:\"{}\"}}".format(
        ref.get("apiGroup", ""), ref.get("kind", ""), ref.get("name", "")
    )


def _namespace_defaults(ns: Obj) -> None:
    name = ns["metadata"]["name"]
    ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    ns.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    ns["status"] = {"phase": "Active"}


def _drop_empty_metadata(meta: dict[str, Any]) -> None:
    """Go's ``omitempty``: a map or list emptied by a patch disappears from the object."""
    for field in ("labels", "annotations", "finalizers", "ownerReferences"):
        if field in meta and not meta[field]:
            del meta[field]


def prepare(rt: res.ResourceType, obj: Obj, old: Optional[Obj] = None) -> Obj:
    """Default and validate ``obj`` before it is stored; raises a 422 listing every problem."""
    name = obj["metadata"]["name"]
    _drop_empty_metadata(obj["metadata"])
    causes = name_problems(rt, name)
    if rt == res.SECRETS:
        causes += _fold_string_data(obj)
        if old is not None:
            causes += _secret_update(obj, old)
    elif rt == res.NAMESPACES:
        _namespace_defaults(obj)
    elif rt in (res.CLUSTER_ROLE_BINDINGS, res.ROLE_BINDINGS):
        causes += _binding_problems(obj, old)
    if causes:
        raise errors.invalid(rt.group, rt.kind, name, causes)
    return obj
