"""The HTTP API (auth level FUNCTION): register, deregister and read one cluster's orchestration.

    POST   /api/clusters                          {"clusterId": "<ARM id>"}  -> 202 + check-status payload
    POST   /api/clusters/{subscription}/{resourceGroup}/{name}              -> 202 (register)
    DELETE /api/clusters/{subscription}/{resourceGroup}/{name}              -> 202 (deregister)
    GET    /api/clusters/{subscription}/{resourceGroup}/{name}              -> 200 status, 404 never seen

Every refusal is JSON ``{"error": "..."}`` naming the problem: 400 for a wrong method, body or
id, 403 for an id outside WIF_ALLOWED_SCOPES, 500 for missing or invalid app settings.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import azure.functions as func

from wif_functions import appsettings, instances

if TYPE_CHECKING:
    from wif_core import model

log = logging.getLogger("wif_functions.http_api")

MAX_BODY = 64 * 1024
MAX_ERROR = 500
_BODY_SHAPE = 'a JSON object {"clusterId": "<ARM id of the AKS cluster>"}'


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def error(status: int, message: str) -> func.HttpResponse:
    if len(message) > MAX_ERROR:  # never echo an unbounded piece of the request back
        message = message[:MAX_ERROR - 3] + "..."
    return func.HttpResponse(json.dumps({"error": message}), status_code=status, mimetype="application/json")


async def collection(req: func.HttpRequest, client: instances.Client) -> func.HttpResponse:
    """``/api/clusters``: POST registers the cluster named in the body."""
    try:
        if req.method.upper() != "POST":
            raise _Refused(400, f"method {req.method.upper()} is not supported on /api/clusters; POST {_BODY_SHAPE}")
        ref = _resolve(_cluster_id_from_body(req.get_body()))
        return await _dispatch(req, client, ref, "register")
    except _Refused as r:
        return error(r.status, r.message)


async def item(req: func.HttpRequest, client: instances.Client) -> func.HttpResponse:
    """``/api/clusters/{subscription}/{resourceGroup}/{name}``: GET status, POST register, DELETE deregister."""
    try:
        method = req.method.upper()
        if method not in ("GET", "POST", "DELETE"):
            raise _Refused(400, f"method {method} is not supported on /api/clusters/...; use GET, POST or DELETE")
        p = req.route_params
        ref = _resolve(
            f"/subscriptions/{p.get('subscription', '')}/resourceGroups/{p.get('resourceGroup', '')}"
            f"/providers/Microsoft.ContainerService/managedClusters/{p.get('name', '')}")
        if method == "GET":
            return await _status(client, ref)
        return await _dispatch(req, client, ref, "register" if method == "POST" else "deregister")
    except _Refused as r:
        return error(r.status, r.message)


def _cluster_id_from_body(body: bytes) -> Any:
    if len(body) > MAX_BODY:
        raise _Refused(400, f"request body is larger than {MAX_BODY} bytes; send {_BODY_SHAPE}")
    if not body.strip():
        raise _Refused(400, f"request body is empty; send {_BODY_SHAPE}")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Refused(400, f"request body is not UTF-8 text; send {_BODY_SHAPE}") from None
    except json.JSONDecodeError as e:
        raise _Refused(400, f"request body is not JSON ({e.msg} at position {e.pos}); send {_BODY_SHAPE}") from None
    except RecursionError:  # e.g. 60 KiB of '[': the decoder runs out of stack, not of input
        raise _Refused(400, f"request body is nested too deeply; send {_BODY_SHAPE}") from None
    if not isinstance(data, dict) or "clusterId" not in data:
        raise _Refused(400, f"request body must be {_BODY_SHAPE}")
    return data["clusterId"]


def _resolve(raw_id: Any) -> model.ClusterRef:
    from wif_core import errors, model

    try:
        settings = appsettings.load()
    except errors.ConfigError as e:
        log.error("HTTP API cannot serve: %s", e.message)
        raise _Refused(500, e.message) from None
    try:
        ref = model.ClusterRef.parse(raw_id)
    except errors.BadInput as e:
        raise _Refused(400, e.message) from None
    if not settings.allows(ref):
        scopes = ", ".join(str(s) for s in settings.allowed_scopes)
        raise _Refused(403, f"cluster {ref.id} is outside WIF_ALLOWED_SCOPES ({scopes})")
    return ref


async def _dispatch(req: func.HttpRequest, client: Any, ref: model.ClusterRef, action: str) -> func.HttpResponse:
    done = await instances.dispatch(client, ref, action, appsettings.snapshot(), source=f"http:{req.method.upper()}")
    response = client.create_check_status_response(req, done.instance_id)
    payload = json.loads(response.get_body() or b"{}")
    payload.update({"cluster": ref.id, "action": action, "disposition": done.disposition})
    return func.HttpResponse(json.dumps(payload), status_code=202, headers=dict(response.headers))


async def _status(client: Any, ref: model.ClusterRef) -> func.HttpResponse:
    iid = instances.instance_id(ref)
    status = await client.get_status(iid)
    if not status:
        return error(404, f"cluster {ref.id} has never been registered or deregistered here (instance {iid})")
    payload = status.to_json()
    payload.update({"instanceId": iid, "cluster": ref.id})
    return func.HttpResponse(json.dumps(payload, default=str), status_code=200, mimetype="application/json")
