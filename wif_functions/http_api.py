"""The HTTP API (auth level FUNCTION): list, register, deregister and read clusters.

    GET    /api/clusters                                      -> 200 {"clusters": [...]} registered on the hub
    POST   /api/clusters  {"clusterId": "<ARM id>"}           -> 202 + Location (register)
    POST   /api/clusters/{subscription}/{resourceGroup}/{name} -> 202 + Location (register)
    DELETE /api/clusters/{subscription}/{resourceGroup}/{name} -> 202 + Location (deregister)
    GET    /api/clusters/{subscription}/{resourceGroup}/{name} -> 200 status, 404 never seen

Refusals are RFC 9457 problem details (``http_io``): 400 a wrong body or id, 403 an id outside
WIF_ALLOWED_SCOPES, 404 a POST for a cluster ARM does not have, 405 + Allow a wrong method,
415 a body that is not application/json, 500 missing or invalid app settings, 501 a listing in
the in-cluster topology.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import azure.functions as func

from wif_functions import appsettings, http_io, instances
from wif_functions.http_io import Refused

if TYPE_CHECKING:
    from wif_core import config, model

log = logging.getLogger("wif_functions.http_api")

MAX_BODY = http_io.MAX_BODY


async def collection(req: func.HttpRequest, client: instances.Client) -> func.HttpResponse:
    """``/api/clusters``: GET lists the registered clusters, POST registers the cluster named in the body."""
    try:
        if http_io.method(req, ("GET", "POST")) == "GET":
            return await _listing(client)
        body = http_io.json_body(req)
        if not isinstance(body, dict) or "clusterId" not in body:
            raise Refused(400, f"request body must be {http_io.BODY_SHAPE}")
        ref = _resolve(body["clusterId"])
        await _exists(ref)
        return await _dispatch(req, client, ref, "register")
    except Refused as r:
        return http_io.problem(req, r)


async def item(req: func.HttpRequest, client: instances.Client) -> func.HttpResponse:
    """``/api/clusters/{subscription}/{resourceGroup}/{name}``: GET status, POST register, DELETE deregister."""
    try:
        method = http_io.method(req, ("GET", "POST", "DELETE"))
        p = req.route_params
        ref = _resolve(
            f"/subscriptions/{p.get('subscription', '')}/resourceGroups/{p.get('resourceGroup', '')}"
            f"/providers/Microsoft.ContainerService/managedClusters/{p.get('name', '')}")
        if method == "GET":
            return await _status(client, ref)
        if method == "POST":
            await _exists(ref)  # a DELETE goes on: a cluster already gone is what deregistration is for
        return await _dispatch(req, client, ref, "register" if method == "POST" else "deregister")
    except Refused as r:
        return http_io.problem(req, r)


def _settings() -> config.Settings:
    from wif_core import errors

    try:
        return appsettings.load()
    except errors.ConfigError as e:
        log.error("HTTP API cannot serve: %s", e.message)
        raise Refused(500, e.message) from None


def _resolve(raw_id: Any) -> model.ClusterRef:
    from wif_core import errors, model

    settings = _settings()
    try:
        ref = model.ClusterRef.parse(raw_id)
    except errors.BadInput as e:
        raise Refused(400, e.message) from None
    if not settings.allows(ref):
        scopes = ", ".join(str(s) for s in settings.allowed_scopes)
        raise Refused(403, f"cluster {ref.id} is outside WIF_ALLOWED_SCOPES ({scopes})")
    return ref


async def _exists(ref: model.ClusterRef) -> None:
    """404 at once for a cluster ARM does not have, instead of a 202 and a run that fails later."""
    from wif_core import errors
    from wif_functions import activities  # the wired ports: the Azure SDKs load here, not at import

    p, _ = activities.wired()
    try:
        await asyncio.to_thread(p.clusters.get_cluster, ref)
    except errors.NotFound:
        raise Refused(404, f"cluster {ref.id} does not exist (Azure Resource Manager has no such resource); "
                           "check the subscription, resource group and name") from None
    except errors.WifError as e:  # the run's discover step reads again, with its retries and fixes
        log.warning("could not check that %s exists (%s); starting its run anyway", ref.id, e.message)


async def _dispatch(req: func.HttpRequest, client: Any, ref: model.ClusterRef, action: str) -> func.HttpResponse:
    done = await instances.dispatch(client, ref, action, appsettings.snapshot(), source=f"http:{req.method.upper()}")
    location = http_io.status_url(req, ref.subscription_id, ref.resource_group, ref.name)
    return http_io.accepted(location, {"instanceId": done.instance_id, "cluster": ref.id, "action": action,
                                       "disposition": done.disposition})


async def _status(client: Any, ref: model.ClusterRef) -> func.HttpResponse:
    iid = instances.instance_id(ref)
    status = await client.get_status(iid)
    if not status:
        raise Refused(404, f"cluster {ref.id} has never been registered or deregistered here (instance {iid})")
    payload = status.to_json()
    payload.update({"instanceId": iid, "cluster": ref.id})
    return http_io.ok(payload)


async def _listing(client: Any) -> func.HttpResponse:
    from wif_core import errors, inventory
    from wif_functions import activities

    settings = _settings()
    if settings.topology != "hub":
        raise Refused(501, inventory.NEEDS_HUB)
    p, _ = activities.wired()
    try:
        found = await asyncio.to_thread(inventory.registered, p, settings)
    except errors.WifError as e:
        raise Refused(503 if e.retryable else 502, f"cannot read the hub's cluster Secrets: {e.message}") from None
    runs = await asyncio.gather(*(_run(client, entry.cluster) for entry in found))
    return http_io.ok({"clusters": [{**entry.to_json(), "run": run} for entry, run in zip(found, runs)]})


async def _run(client: Any, cluster_id: str) -> Any:
    """What the cluster's orchestration is doing or last did; None when it has none (registered elsewhere)."""
    from wif_core import errors, model

    try:
        iid = instances.instance_id(model.ClusterRef.parse(cluster_id))
    except errors.BadInput:  # an annotation edited by hand: list the Secret, without a run
        return None
    status = await client.get_status(iid)
    if not status:
        return None
    custom = instances.as_dict(status.custom_status)
    return {"instanceId": iid, "runtimeStatus": instances.runtime_status(status),
            **{k: custom[k] for k in ("action", "state", "step", "lastError") if custom.get(k) not in (None, "")}}
