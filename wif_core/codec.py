"""The one codec for everything crossing the Durable Functions activity boundary.

Step results are frozen dataclasses of plain values; they travel as JSON
objects tagged with their type name, so nothing typed ``Any`` crosses.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any, Union, get_args, get_origin, get_type_hints

from wif_core import errors, model

_TYPES: dict[str, type] = {
    t.__name__: t
    for t in (
        model.ClusterRef, model.IdentityRef, model.Scope, model.ClusterFacts, model.IdentityFacts,
        model.FederatedCredential, model.RoleAssignment, model.RunResult, model.Discovered,
        model.Federated, model.Propagated, model.Registered, model.Bound, model.Verified,
        model.Deregistered, model.RolledBack, model.Failure,
    )
}
JSONValue = Union[None, bool, int, float, str, list["JSONValue"], dict[str, "JSONValue"]]


def encode(value: object) -> JSONValue:
    """Dataclass (nested) -> JSON-able value with ``"type"`` tags."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, JSONValue] = {"type": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = encode(getattr(value, f.name))
        return out
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode(data: object) -> Any:
    """Inverse of :func:`encode` for tagged objects; raises ``errors.BadInput``."""
    if not isinstance(data, dict) or data.get("type") not in _TYPES:
        raise errors.BadInput(f"not an encoded step value: {str(data)[:80]!r}")
    return _decode_as(_TYPES[str(data["type"])], data)


def _decode_as(tp: Any, data: Any) -> Any:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise errors.BadInput(f"{tp.__name__}: expected an object")
        hints = _hints(tp)
        kwargs = {f.name: _decode_as(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.name in data}
        try:
            return tp(**kwargs)
        except TypeError as e:  # a required field is missing
            raise errors.BadInput(f"{tp.__name__}: {e}") from None
    origin = get_origin(tp)
    if origin is tuple:
        if not isinstance(data, (list, tuple)):
            raise errors.BadInput(f"expected an array, got {type(data).__name__}")
        args = get_args(tp)
        inner = args[0] if args else Any
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode_as(inner, v) for v in data)
        return tuple(_decode_as(a, v) for a, v in zip(args, data))
    if origin is Union:
        if data is None:
            return None
        non_none = [a for a in get_args(tp) if a is not type(None)]
        return _decode_as(non_none[0], data) if len(non_none) == 1 else data
    return data


@functools.cache
def _hints(tp: type) -> dict[str, Any]:
    """The dataclass's resolved annotations; resolving evaluates strings, so once per type."""
    return get_type_hints(tp)


def dumps(value: object) -> str:
    return json.dumps(encode(value), sort_keys=True)


def loads(text: str) -> Any:
    return decode(json.loads(text))
