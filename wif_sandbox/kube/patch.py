"""The three PATCH dialects kube-apiserver accepts for built-in types.

* JSON merge patch (RFC 7386): maps merge, ``null`` deletes, lists replace.
* Strategic merge patch: merge patch plus per-field list strategies and
  ``$patch`` / ``$retainKeys`` / ``$deleteFromPrimitiveList`` /
  ``$setElementOrder`` directives. ``kubectl apply`` (client side) sends this.
  Only the lists of the types served here that merge rather than replace are
  listed in :data:`MERGE_KEYS`; every other list is atomic, as in the Go types.
* JSON patch (RFC 6902): add, remove, replace, move, copy, test.

Every function returns a new document and raises ``errors.ApiError`` (400 for
a malformed patch, 422 for a failed ``test``), never a bare Python error.
"""
from __future__ import annotations

import copy
from typing import Any, Optional

from wif_sandbox.kube import errors

# (kind or "*", field path) -> merge key; "" marks a merged list of primitives.
MERGE_KEYS: dict[tuple[str, tuple[str, ...]], str] = {
    ("*", ("metadata", "ownerReferences")): "uid",
    ("*", ("metadata", "finalizers")): "",
    ("ServiceAccount", ("secrets",)): "name",
}


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ----- strategic merge patch -----

def _merge_key(kind: str, path: tuple[str, ...]) -> Optional[str]:
    return MERGE_KEYS.get((kind, path), MERGE_KEYS.get(("*", path)))


def strategic_merge(target: Any, patch: Any, kind: str, path: tuple[str, ...] = ()) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive not in (None, "merge"):
        raise errors.bad_request(f"unknown patch type: {directive!r} at {'.'.join(path) or 'root'}")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue  # element order is cosmetic here; retainKeys is applied below
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
        elif value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, kind, path + (key,))
        else:
            result[key] = strategic_merge(result.get(key), value, kind, path + (key,))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: Any, patch: list[Any], kind: str, path: tuple[str, ...]) -> list[Any]:
    key = _merge_key(kind, path)
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if key is None or not isinstance(current, list):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if key == "":
        return list(current) + [v for v in patch if v not in current]
    merged = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise errors.bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        index = next((i for i, old in enumerate(merged) if old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(strategic_merge({}, item, kind, path))
        else:
            merged[index] = strategic_merge(merged[index], item, kind, path)
    return merged


# ----- JSON patch -----

def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f"the server rejected our request due to an error in our request: invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], op: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        node = _child(node, part, op)
    return node, parts[-1]


def _child(node: Any, part: str, op: str) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise errors.ApiError(422, "Invalid", f"jsonpatch {op} operation does not apply: doc is missing path")


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent, last = _parent(doc, parts, "add")
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
        if not 0 <= index <= len(parent):
            raise errors.ApiError(422, "Invalid", "jsonpatch add operation does not apply: index out of bounds")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise errors.ApiError(422, "Invalid", "jsonpatch add operation does not apply: doc is missing path")
    return doc


def _remove(doc: Any, parts: list[str], op: str = "remove") -> Any:
    parent, last = _parent(doc, parts, op)
    value = _child(parent, last, op)
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]
    return value


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request("the server rejected our request due to an error in our request")
        doc = _apply_op(doc, op)
    return doc


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    kind, parts = op["op"], _pointer(op["path"])
    if kind == "add":
        return _add(doc, parts, copy.deepcopy(op.get("value")))
    if kind == "remove":
        _remove(doc, parts)
        return doc
    if kind == "replace":
        if not parts:
            return copy.deepcopy(op.get("value"))
        _remove(doc, parts, "replace")
        return _add(doc, parts, copy.deepcopy(op.get("value")))
    if kind in ("move", "copy"):
        source = _pointer(str(op.get("from", "")))
        value = _remove(doc, source, kind) if kind == "move" else copy.deepcopy(
            _child(*_parent(doc, source, kind), kind) if source else doc
        )
        return _add(doc, parts, value)
    if kind == "test":
        actual = _child(*_parent(doc, parts, "test"), "test") if parts else doc
        if actual != op.get("value"):
            raise errors.ApiError(422, "Invalid", f"the server rejected our request: testing value {op['path']} failed")
        return doc
    raise errors.bad_request(f"Unexpected kind: {kind}")


APPLY = "application/apply-patch+yaml"
MEDIA_TYPES = frozenset({
    "application/merge-patch+json", "application/strategic-merge-patch+json",
    "application/json-patch+json", APPLY,
})
