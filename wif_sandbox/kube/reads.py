"""get, list and watch.

Lists honour ``labelSelector``, ``fieldSelector``, ``limit`` and ``continue``
(kubectl and client-go page with ``limit=500``). ``watch`` answers with the
current state as ``ADDED`` events, newer than ``resourceVersion`` when given,
and then ends the stream: clients re-list or re-watch, which is legal and
enough for ``kubectl get -w`` and the python client's ``watch.Watch``. There is
no history, so deletions are not reported to watchers.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Callable

from wif_sandbox import wire
from wif_sandbox.kube import errors, selectors, tables
from wif_sandbox.kube.routes import Route
from wif_sandbox.kube.store import Obj, Store


def _respond(req: wire.Request, route: Route, obj: Any, rv: str, now: float, many: bool) -> wire.Response:
    assert route.rt is not None
    if tables.wants_table(req.headers.get("accept", "")):
        objects = obj["items"] if many else [obj]
        shown = tables.table(route.rt, objects, rv, now)
        if many and obj["metadata"].get("continue"):
            shown["metadata"]["continue"] = obj["metadata"]["continue"]
        return wire.Response.json(200, shown, route.operation)
    return wire.Response.json(200, obj, route.operation)


def get(store: Store, route: Route, req: wire.Request, now: float) -> wire.Response:
    assert route.rt is not None
    obj = store.get(route.rt, route.namespace, route.name)
    if obj is None:
        raise errors.not_found(route.rt.group, route.rt.plural, route.name)
    return _respond(req, route, obj, obj["metadata"]["resourceVersion"], now, many=False)


def matching(store: Store, route: Route, req: wire.Request) -> list[Obj]:
    assert route.rt is not None
    tests: list[Callable[[Obj], bool]] = []
    if req.q("labelSelector"):
        tests.append(selectors.labels(req.q("labelSelector") or ""))
    if req.q("fieldSelector"):
        tests.append(selectors.fields(req.q("fieldSelector") or "", route.rt.kind))
    return [o for o in store.list(route.rt, route.namespace) if all(t(o) for t in tests)]


def _page(items: list[Obj], req: wire.Request) -> tuple[list[Obj], dict[str, Any]]:
    """Slice by ``continue``/``limit``; the token is the opaque position of the next item."""
    start = 0
    token = req.q("continue")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion") from e
    limit = int(req.q("limit") or 0)
    end = start + limit if limit > 0 else len(items)
    meta: dict[str, Any] = {}
    if end < len(items):
        meta["continue"] = base64.urlsafe_b64encode(str(end).encode()).decode()
        meta["remainingItemCount"] = len(items) - end
    return items[start:end], meta


def list_(store: Store, route: Route, req: wire.Request, now: float) -> wire.Response:
    assert route.rt is not None
    with store.lock:
        rv, items = store.revision, matching(store, route, req)
    page, meta = _page(items, req)
    body = {
        "kind": route.rt.list_kind, "apiVersion": route.rt.api_version,
        "metadata": {"resourceVersion": rv, **meta}, "items": page,
    }
    return _respond(req, route, body, rv, now, many=True)


def watch(store: Store, route: Route, req: wire.Request) -> wire.Response:
    assert route.rt is not None
    since = int(req.q("resourceVersion") or 0) if (req.q("resourceVersion") or "0").isdigit() else 0
    objects = matching(store, route, req)
    if route.name:
        objects = [o for o in objects if o["metadata"]["name"] == route.name]
    lines = [
        json.dumps({"type": "ADDED", "object": o}) for o in objects
        if int(o["metadata"]["resourceVersion"]) > since
    ]
    body = "".join(line + "\n" for line in lines).encode()
    return wire.Response(200, body, {"Content-Type": "application/json"}, route.operation)
