"""Azure Resource Manager system-topic events, as Event Grid delivers them.

A subscription's system topic emits ``Microsoft.Resources.ResourceWriteSuccess``
for every successful PUT (at PUT time, so before an AKS cluster is ready, and
again on every update) and ``Microsoft.Resources.ResourceDeleteSuccess`` for a
DELETE. Both the Event Grid schema and the CloudEvents 1.0 schema are offered.
The caller's token claims are copied as Azure does (never the token itself).

Real deliveries do not spell a resource id the way ARM's ``id`` does: subjects
arrive with ``resourcegroups``, ``microsoft.containerservice/managedclusters`` and a
resource group name in another casing than the group's own (ARM ids are
case-insensitive; the event keeps the casing of whatever wrote it). ``recase``
produces such spellings: ``lower`` (the whole id) and ``mixed`` (lower-case
segments and provider type, upper-case group name, the name as written).
"""
from __future__ import annotations

import datetime
import threading
import time
import uuid
from typing import Any, Callable

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"
_CLAIM_NAMES = {
    "oid": "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "tid": "http://schemas.microsoft.com/identity/claims/tenantid",
    "sub": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
}
_KEPT_CLAIMS = ("aud", "iss", "iat", "nbf", "exp", "appid", "appidacr", "idtyp", "ver", "uti")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def event_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Token claims in the form ARM events carry them (string values, URI names for ids)."""
    out = {k: str(claims[k]) for k in _KEPT_CLAIMS if k in claims}
    out.update({uri: str(claims[k]) for k, uri in _CLAIM_NAMES.items() if k in claims})
    return out


CASINGS = ("canonical", "lower", "mixed")


def recase(resource_id: str, casing: str = "canonical") -> str:
    """``resource_id`` spelled as some Event Grid deliveries spell it (see the module doc)."""
    if casing not in CASINGS:
        raise ValueError(f"casing is one of {', '.join(CASINGS)}, not {casing!r}")
    if casing == "lower":
        return resource_id.lower()
    if casing == "canonical":
        return resource_id
    parts = resource_id.split("/")  # "", subscriptions, S, resourceGroups, G, providers, NS, type, name, ...
    out = [p.lower() if i % 2 == 1 or i in (6, 7) else p for i, p in enumerate(parts)]
    if len(out) > 4 and parts[3].lower() == "resourcegroups":
        out[4] = parts[4].upper()
    return "/".join(out)


def resource_event(kind: str, *, resource_id: str, subscription_id: str, tenant_id: str,
                   claims: dict[str, Any], url: str = "", api_version: str = "2026-08-01") -> dict[str, Any]:
    """An Event Grid schema event for a write or delete of ``resource_id`` (spelled as given)."""
    provider = resource_id.split("/providers/", 1)[1].split("/")[0] if "/providers/" in resource_id else ""
    rtype = "/".join(resource_id.split("/providers/", 1)[1].split("/")[:2]) if provider else ""
    action = f"{rtype}/{'delete' if kind == 'delete' else 'write'}"
    correlation = str(uuid.uuid4())
    return {
        "subject": resource_id,
        "eventType": DELETE if kind == "delete" else WRITE,
        "eventTime": _now(),
        "id": str(uuid.uuid4()),
        "data": {
            "authorization": {"scope": resource_id, "action": action,
                              "evidence": {"role": "Contributor", "roleAssignmentScope": f"/subscriptions/{subscription_id}",
                                           "principalType": "ServicePrincipal"}},
            "claims": event_claims(claims),
            "correlationId": correlation,
            "httpRequest": {"clientRequestId": str(uuid.uuid4()), "clientIpAddress": "127.0.0.1",
                            "method": "DELETE" if kind == "delete" else "PUT",
                            "url": url or f"https://management.azure.com{resource_id}?api-version={api_version}"},
            "resourceProvider": provider,
            "resourceUri": resource_id,
            "operationName": action,
            "status": "Succeeded",
            "subscriptionId": subscription_id,
            "tenantId": tenant_id,
        },
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{subscription_id}",
    }


def to_cloudevent(event: dict[str, Any]) -> dict[str, Any]:
    """The same event in the CloudEvents 1.0 schema (structured JSON)."""
    return {
        "specversion": "1.0",
        "type": event["eventType"],
        "source": event["topic"],
        "subject": event["subject"],
        "id": event["id"],
        "time": event["eventTime"],
        "datacontenttype": "application/json",
        "data": event["data"],
    }


class Topic:
    """The system topics' delivery: every subscriber gets each event on its own thread, as Event Grid pushes."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self._subscribers: list[Callable[[dict[str, Any]], None]] = []
        self._deliveries: list[threading.Thread] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.published.append(event)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            thread = threading.Thread(target=callback, args=(event,), name="eventgrid-delivery", daemon=True)
            with self._lock:
                self._deliveries.append(thread)
            thread.start()

    def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            threads, self._deliveries = list(self._deliveries), []
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
