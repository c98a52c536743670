"""Request bodies in Kubernetes protobuf, decoded into the JSON shape.

kubectl's typed clients (``create secret|namespace|serviceaccount|token``,
``auth can-i``, ``create clusterrolebinding`` …) send
``application/vnd.kubernetes.protobuf``: the magic ``k8s\\0`` then a
``runtime.Unknown`` envelope (typeMeta, raw object bytes). Responses can stay
JSON because those clients also accept it. Field numbers below are those of
the ``generated.proto`` files of k8s.io/api and apimachinery for the kinds
this server accepts; unknown fields are skipped, as proto2 readers do.
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any, Iterator, Union

MAGIC = b"k8s\x00"

# A field type: "string" | "bytes" | "int" | "bool" | "time" | nested schema,
# or ("repeated", type) / ("map", value type).
FieldType = Union[str, "Schema", tuple[str, Any]]
Schema = dict[int, tuple[str, FieldType]]

TYPE_META: Schema = {1: ("apiVersion", "string"), 2: ("kind", "string")}
UNKNOWN: Schema = {1: ("typeMeta", TYPE_META), 2: ("raw", "raw"), 3: ("contentEncoding", "string"),
                   4: ("contentType", "string")}
OWNER_REFERENCE: Schema = {
    1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"), 5: ("apiVersion", "string"),
    6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool"),
}
OBJECT_META: Schema = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
    5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
    8: ("creationTimestamp", "time"), 11: ("labels", ("map", "string")),
    12: ("annotations", ("map", "string")), 13: ("ownerReferences", ("repeated", OWNER_REFERENCE)),
    14: ("finalizers", ("repeated", "string")),
}
OBJECT_REFERENCE: Schema = {
    1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"), 4: ("uid", "string"),
    5: ("apiVersion", "string"), 6: ("resourceVersion", "string"), 7: ("fieldPath", "string"),
}
LOCAL_OBJECT_REFERENCE: Schema = {1: ("name", "string")}
POLICY_RULE: Schema = {
    1: ("verbs", ("repeated", "string")), 2: ("apiGroups", ("repeated", "string")),
    3: ("resources", ("repeated", "string")), 4: ("resourceNames", ("repeated", "string")),
    5: ("nonResourceURLs", ("repeated", "string")),
}
SUBJECT: Schema = {1: ("kind", "string"), 2: ("apiGroup", "string"), 3: ("name", "string"),
                   4: ("namespace", "string")}
ROLE_REF: Schema = {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")}
BINDING: Schema = {1: ("metadata", OBJECT_META), 2: ("subjects", ("repeated", SUBJECT)), 3: ("roleRef", ROLE_REF)}
ROLE: Schema = {1: ("metadata", OBJECT_META), 2: ("rules", ("repeated", POLICY_RULE))}
RESOURCE_ATTRIBUTES: Schema = {
    1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"), 4: ("version", "string"),
    5: ("resource", "string"), 6: ("subresource", "string"), 7: ("name", "string"),
}
NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", "string"), 2: ("verb", "string")}
ACCESS_SPEC: Schema = {
    1: ("resourceAttributes", RESOURCE_ATTRIBUTES), 2: ("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES),
    3: ("user", "string"), 4: ("groups", ("repeated", "string")), 6: ("uid", "string"),
}
ACCESS_REVIEW: Schema = {1: ("metadata", OBJECT_META), 2: ("spec", ACCESS_SPEC)}
BOUND_OBJECT_REFERENCE: Schema = {1: ("kind", "string"), 2: ("apiVersion", "string"), 3: ("name", "string"),
                                  4: ("uid", "string")}
TOKEN_REQUEST: Schema = {1: ("metadata", OBJECT_META), 2: ("spec", {
    1: ("audiences", ("repeated", "string")), 4: ("expirationSeconds", "int"),
    3: ("boundObjectRef", BOUND_OBJECT_REFERENCE),
})}
TOKEN_REVIEW: Schema = {1: ("metadata", OBJECT_META), 2: ("spec", {
    1: ("token", "string"), 2: ("audiences", ("repeated", "string"))})}
DELETE_OPTIONS: Schema = {
    1: ("gracePeriodSeconds", "int"), 2: ("preconditions", {1: ("uid", "string"), 2: ("resourceVersion", "string")}),
    3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "string"), 5: ("dryRun", ("repeated", "string")),
}

# kind -> schema of the raw object inside the envelope.
KINDS: dict[str, Schema] = {
    "Secret": {1: ("metadata", OBJECT_META), 2: ("data", ("map", "bytes")), 3: ("type", "string"),
               4: ("stringData", ("map", "string")), 5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", OBJECT_META), 2: ("data", ("map", "string")),
                  3: ("binaryData", ("map", "bytes")), 4: ("immutable", "bool")},
    "Namespace": {1: ("metadata", OBJECT_META), 2: ("spec", {1: ("finalizers", ("repeated", "string"))})},
    "ServiceAccount": {1: ("metadata", OBJECT_META), 2: ("secrets", ("repeated", OBJECT_REFERENCE)),
                       3: ("imagePullSecrets", ("repeated", LOCAL_OBJECT_REFERENCE)),
                       4: ("automountServiceAccountToken", "bool")},
    "ClusterRole": ROLE, "Role": ROLE, "ClusterRoleBinding": BINDING, "RoleBinding": BINDING,
    "SubjectAccessReview": ACCESS_REVIEW, "SelfSubjectAccessReview": ACCESS_REVIEW,
    "LocalSubjectAccessReview": ACCESS_REVIEW, "SelfSubjectReview": {1: ("metadata", OBJECT_META)},
    "TokenRequest": TOKEN_REQUEST, "TokenReview": TOKEN_REVIEW, "DeleteOptions": DELETE_OPTIONS,
}


_EPOCH = "1970-01-01T00:00:00Z"


class ProtobufError(ValueError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, Union[int, bytes]]]:
    """(field number, varint value or length-delimited bytes); fixed-width fields skipped."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire_type == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ProtobufError("truncated field")
            yield number, buf[pos:pos + length]
            pos += length
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        else:
            raise ProtobufError(f"unsupported wire type {wire_type}")


def _scalar(kind: Any, value: Union[int, bytes]) -> Any:
    if kind == "string":
        return bytes(value).decode("utf-8") if isinstance(value, bytes) else str(value)
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii") if isinstance(value, bytes) else ""
    if kind == "raw":
        return value
    if kind == "int":
        number = int(value) if isinstance(value, int) else 0
        return number - (1 << 64) if number >= 1 << 63 else number
    if kind == "bool":
        return bool(value)
    if kind == "time":
        seconds = message(bytes(value), {1: ("seconds", "int")}).get("seconds", 0) if isinstance(value, bytes) else 0
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(kind, dict) and isinstance(value, bytes):
        return message(value, kind)
    raise ProtobufError(f"wire value does not fit {kind!r}")


def message(buf: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _fields(buf):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, tuple) and kind[0] == "repeated":
            out.setdefault(name, []).append(_scalar(kind[1], value))
        elif isinstance(kind, tuple) and kind[0] == "map":
            entry = message(bytes(value), {1: ("key", "string"), 2: ("value", kind[1])}) if isinstance(value, bytes) else {}
            out.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "" if kind[1] != "bool" else False)
        else:
            decoded = _scalar(kind, value)
            # Go writes zero values of non-pointer fields; JSON would have omitted them.
            if decoded not in ("", 0, _EPOCH) or isinstance(decoded, bool):
                out[name] = decoded
    return out


def decode(body: bytes, expected_kind: str) -> dict[str, Any]:
    """The JSON-shaped object of a protobuf request body; raises ProtobufError."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = message(body[len(MAGIC):], UNKNOWN)
    meta = envelope.get("typeMeta") or {}
    kind = meta.get("kind") or expected_kind
    schema = KINDS.get(kind)
    if schema is None:
        raise ProtobufError(f"no protobuf schema for kind {kind!r}")
    obj = message(bytes(envelope.get("raw") or b""), schema)
    if meta.get("apiVersion"):
        obj["apiVersion"] = meta["apiVersion"]
    obj["kind"] = kind
    return obj
