"""create, update, patch, delete and deletecollection.

Each write runs under the store lock from the read of the current object to
the store, so a stale ``resourceVersion`` is always caught (409 Conflict) and
two concurrent creates cannot both succeed. ``dryRun=All`` runs every check and
returns what would have been stored, without storing it.
"""
from __future__ import annotations

import json
import random
from typing import Any, Optional

import yaml

from wif_sandbox import wire
from wif_sandbox.kube import errors, objects, patch, protobuf, reads
from wif_sandbox.kube import resources as res
from wif_sandbox.kube.routes import Route
from wif_sandbox.kube.store import Obj, Store

# kube's utilrand alphabet: no vowels, no confusable digits.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Kinds whose PUT on a missing object creates it (their strategies allow it).
_CREATE_ON_UPDATE = {res.CLUSTER_ROLES, res.CLUSTER_ROLE_BINDINGS, res.ROLES, res.ROLE_BINDINGS}


def dry_run(req: wire.Request) -> bool:
    values = req.query.get("dryRun") or []
    if any(v != "All" for v in values):
        raise errors.bad_request(f"Invalid dryRun value: {values!r}; only 'All' is supported")
    return bool(values)


def media_type(req: wire.Request) -> str:
    return req.headers.get("content-type", "application/json").split(";")[0].strip().lower()


def decode(req: wire.Request, kind: str) -> Any:
    """The body as a document: JSON, or YAML when the client says so."""
    ctype = media_type(req)
    try:
        if ctype in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(req.body.decode("utf-8"))
        if ctype == "application/vnd.kubernetes.protobuf":
            return protobuf.decode(req.body, kind)
        return json.loads(req.body.decode("utf-8"))
    except (ValueError, yaml.YAMLError) as e:  # ProtobufError and JSONDecodeError are ValueErrors
        raise errors.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: {e}') from e


def _object_body(req: wire.Request, route: Route) -> Obj:
    assert route.rt is not None
    rt = route.rt
    obj = decode(req, rt.kind)
    if not isinstance(obj, dict) or not isinstance(obj.setdefault("metadata", {}), dict):
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {rt.kind})")
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({rt.api_version})"
            if api_version != rt.api_version else f"the kind in the data ({kind}) does not match {rt.kind}"
        )
    _place(obj, route)
    return obj


def _place(obj: Obj, route: Route) -> None:
    """The URL decides the namespace; a body that disagrees is a 400, as on a real server."""
    assert route.rt is not None
    meta = obj["metadata"]
    if route.rt.namespaced:
        if meta.get("namespace") and meta["namespace"] != route.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = route.namespace
    else:
        meta.pop("namespace", None)
    if route.name and meta.get("name") and meta["name"] != route.name:
        raise errors.bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL ({route.name})"
        )
    if route.name:
        meta["name"] = route.name


def _require_namespace(store: Store, route: Route) -> None:
    """NamespaceLifecycle admission: nothing is created in a namespace that does not exist."""
    assert route.rt is not None
    if route.rt.namespaced and store.get(res.NAMESPACES, "", route.namespace) is None:
        raise errors.not_found("", "namespaces", route.namespace)


def _name(rt: res.ResourceType, meta: dict[str, Any]) -> str:
    if meta.get("name"):
        return str(meta["name"])
    prefix = meta.get("generateName")
    if not prefix:
        raise errors.invalid(rt.group, rt.kind, "", [
            ("metadata.name", "Required value: name or generateName is required")
        ])
    meta["name"] = str(prefix) + "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(5))
    return str(meta["name"])


def create_object(store: Store, route: Route, obj: Obj, dry: bool) -> Obj:
    assert route.rt is not None
    rt = route.rt
    with store.lock:
        _require_namespace(store, route)
        name = _name(rt, obj["metadata"])
        if store.get(rt, route.namespace, name) is not None:
            raise errors.already_exists(rt.group, rt.plural, name)
        obj = objects.prepare(rt, store.stamp_new(rt, obj))
        return obj if dry else store.create(rt, obj)


def create(store: Store, route: Route, req: wire.Request) -> wire.Response:
    obj = create_object(store, route, _object_body(req, route), dry_run(req))
    return wire.Response.json(201, obj, route.operation)


def update_object(store: Store, route: Route, old: Obj, new: Obj, dry: bool) -> Obj:
    """Replace ``old`` by ``new``; the caller holds the store lock since reading ``old``."""
    assert route.rt is not None
    rt = route.rt
    wanted = new["metadata"].get("resourceVersion")
    if wanted and wanted != old["metadata"]["resourceVersion"]:
        raise errors.conflict(rt.group, rt.plural, route.name)
    uid = new["metadata"].get("uid")
    if uid and uid != old["metadata"]["uid"]:
        raise errors.conflict(rt.group, rt.plural, route.name,
                              f"Precondition failed: UID in precondition: {uid}, UID in object meta: {old['metadata']['uid']}")
    new = objects.prepare(rt, store.carry_over(old, new), old)
    return new if dry else store.replace(rt, new)


def update(store: Store, route: Route, req: wire.Request) -> wire.Response:
    assert route.rt is not None
    obj, dry = _object_body(req, route), dry_run(req)
    with store.lock:
        old = store.get(route.rt, route.namespace, route.name)
        if old is None:
            if route.rt not in _CREATE_ON_UPDATE:
                raise errors.not_found(route.rt.group, route.rt.plural, route.name)
            obj["metadata"].pop("resourceVersion", None)
            return wire.Response.json(201, create_object(store, route, obj, dry), route.operation)
        return wire.Response.json(200, update_object(store, route, old, obj, dry), route.operation)


def _patched(old: Optional[Obj], doc: Any, ctype: str, kind: str) -> Any:
    if ctype == "application/merge-patch+json":
        return patch.merge_patch(old, doc)
    if ctype == "application/strategic-merge-patch+json":
        return patch.strategic_merge(old, doc, kind)
    if ctype == "application/json-patch+json":
        return patch.json_patch(old, doc)
    # Server-side apply, simplified: the applied configuration is merged in; without
    # managedFields nothing is removed because a manager stopped declaring it.
    return patch.strategic_merge(old or {}, doc, kind)


def patch_(store: Store, route: Route, req: wire.Request) -> wire.Response:
    assert route.rt is not None
    rt, ctype, dry = route.rt, media_type(req), dry_run(req)
    if ctype not in patch.MEDIA_TYPES:
        raise errors.unsupported_media_type(ctype)
    if ctype == patch.APPLY and not req.q("fieldManager"):
        raise errors.invalid("meta.k8s.io", "PatchOptions", "", [("fieldManager", "Required value: is required for apply patch")])
    doc = decode(req, rt.kind)
    with store.lock:
        old = store.get(rt, route.namespace, route.name)
        if old is None and ctype != patch.APPLY:
            raise errors.not_found(rt.group, rt.plural, route.name)
        result = _patched(old, doc, ctype, rt.kind)
        if not isinstance(result, dict) or not isinstance(result.setdefault("metadata", {}), dict):
            raise errors.bad_request("the patch does not result in an object")
        _place(result, route)
        if old is None:
            return wire.Response.json(201, create_object(store, route, result, dry), route.operation)
        return wire.Response.json(200, update_object(store, route, old, result, dry), route.operation)


def _check_preconditions(route: Route, old: Obj, options: Any) -> None:
    """DeleteOptions.preconditions: delete only the version (or incarnation) the caller saw."""
    assert route.rt is not None
    pre = ((options or {}).get("preconditions") or {}) if isinstance(options, dict) else {}
    for field, label in (("resourceVersion", "ResourceVersion"), ("uid", "UID")):
        wanted, actual = pre.get(field), old["metadata"].get(field)
        if wanted and wanted != actual:
            why = f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}"
            raise errors.conflict(route.rt.group, route.rt.plural, route.name, why)


def _remove(store: Store, route: Route, old: Obj) -> None:
    assert route.rt is not None
    store.delete(route.rt, old["metadata"].get("namespace", ""), old["metadata"]["name"])
    if route.rt == res.NAMESPACES:
        store.delete_namespace_contents(old["metadata"]["name"])


def delete(store: Store, route: Route, req: wire.Request) -> wire.Response:
    assert route.rt is not None
    rt, dry = route.rt, dry_run(req)
    options = decode(req, "DeleteOptions") if req.body else None
    with store.lock:
        old = store.get(rt, route.namespace, route.name)
        if old is None:
            raise errors.not_found(rt.group, rt.plural, route.name)
        _check_preconditions(route, old, options)
        if not dry:
            _remove(store, route, old)
    details: dict[str, Any] = {"name": route.name, "kind": rt.plural, "uid": old["metadata"]["uid"]}
    if rt.group:
        details["group"] = rt.group
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
    return wire.Response.json(200, status, route.operation)


def delete_collection(store: Store, route: Route, req: wire.Request) -> wire.Response:
    assert route.rt is not None
    dry = dry_run(req)
    with store.lock:
        doomed = reads.matching(store, route, req)
        if not dry:
            for obj in doomed:
                _remove(store, route, obj)
        rv = store.revision
    body = {"kind": route.rt.list_kind, "apiVersion": route.rt.api_version,
            "metadata": {"resourceVersion": rv}, "items": doomed}
    return wire.Response.json(200, body, route.operation)
