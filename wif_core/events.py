"""Event Grid events -> register, deregister or ignore a cluster.

Both delivery schemas (EventGrid and CloudEvents 1.0), one event or an array.
Envelopes are parsed with the Azure SDK's own models (``azure-eventgrid``,
``azure-core``), imported on first use: importing this module stays cheap for
the function app's cold start. Deciding is pure; nothing here calls Azure.

A payload that is not Event Grid events at all raises ``errors.BadInput``; a
well-formed event we do not act on (agent pool, other provider, failed write,
hostile resource id, outside the allowed scopes) is ``ignore`` with a reason.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from wif_core import errors, model

WRITE_OPERATION = "Microsoft.ContainerService/managedClusters/write"
DELETE_OPERATION = "Microsoft.ContainerService/managedClusters/delete"
WRITE_EVENT = "Microsoft.Resources.ResourceWriteSuccess"
DELETE_EVENT = "Microsoft.Resources.ResourceDeleteSuccess"
MAX_BYTES = 1024 * 1024  # Event Grid's own limit for one delivery
MAX_EVENTS = 5000  # Event Grid's maximum batch

# event type (lower-case) -> (action, the operationName it must carry)
_ACTIONS = {WRITE_EVENT.lower(): ("register", WRITE_OPERATION), DELETE_EVENT.lower(): ("deregister", DELETE_OPERATION)}
_LIFECYCLE = ("microsoft.eventgrid.subscriptionvalidationevent", "microsoft.eventgrid.subscriptiondeletedevent")
_EVENTGRID_REQUIRED = ("id", "eventType", "eventTime")  # and "subject", "data" present (subject may be "")
_AKS = "/providers/microsoft.containerservice/managedclusters/"
_PLAIN_SEGMENT = re.compile(r"[-\w.()]+", re.ASCII)
_PROVIDER_TYPE = re.compile(r"/providers/([^/]+)/([^/]+)", re.IGNORECASE)
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Decision:
    action: str  # register | deregister | ignore
    cluster: Optional[model.ClusterRef]
    reason: str
    event_id: str
    event_type: str

    def to_json(self) -> dict[str, object]:
        return {"action": self.action, "cluster": self.cluster.id if self.cluster else None,
                "reason": self.reason, "id": self.event_id, "type": self.event_type}


@dataclass(frozen=True)
class _Envelope:
    id: str
    type: str
    subject: Optional[str]
    source: Optional[str]  # EventGrid ``topic`` or CloudEvents ``source``
    data: object


def _show(value: object, limit: int = 120) -> str:
    """A value inside a one-line message: repr (escapes newlines), bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


# ---- payload -> events ----------------------------------------------------------------

def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two "subject" keys would let two readers of one event disagree about it.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise errors.BadInput(f"payload has a duplicate key {_show(key, 60)}")
        out[key] = value
    return out


def _no_constant(name: str) -> object:
    raise errors.BadInput(f"payload is not JSON: {name} is not a JSON number")


def _load(payload: object) -> object:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        raw = bytes(payload)
        if len(raw) > MAX_BYTES:
            raise errors.BadInput(f"payload is {len(raw)} bytes; Event Grid delivers at most {MAX_BYTES}")
        try:
            payload = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise errors.BadInput(f"payload is not UTF-8 (byte {e.start})") from None
    if isinstance(payload, str):
        if len(payload) > MAX_BYTES or len(payload.encode("utf-8", "surrogatepass")) > MAX_BYTES:
            raise errors.BadInput(f"payload is larger than {MAX_BYTES} bytes, Event Grid's limit")
        if not payload.strip():
            raise errors.BadInput("payload is empty: expected a JSON event or an array of events")
        try:
            return json.loads(payload, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        except json.JSONDecodeError as e:
            raise errors.BadInput(f"payload is not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        except RecursionError:
            raise errors.BadInput("payload is not JSON we accept: nested too deeply") from None
    if isinstance(payload, (list, tuple, Mapping)):
        try:
            size = len(json.dumps(payload, default=str))
        except (ValueError, TypeError, RecursionError):
            raise errors.BadInput("payload is not a JSON value") from None
        if size > MAX_BYTES:
            raise errors.BadInput(f"payload is larger than {MAX_BYTES} bytes, Event Grid's limit")
    return payload


def _items(data: object) -> list[object]:
    if isinstance(data, Mapping):
        return [data]
    if isinstance(data, (list, tuple)):
        if not data:
            raise errors.BadInput("payload is an empty array: no events")
        if len(data) > MAX_EVENTS:
            raise errors.BadInput(f"payload has {len(data)} events; Event Grid delivers at most {MAX_EVENTS}")
        return list(data)
    raise errors.BadInput(f"payload must be a JSON object or an array of events, got {type(data).__name__}")


def _strings(event: Mapping[str, object], names: Sequence[str], required: Sequence[str], schema: str) -> None:
    for name in names:
        value = event.get(name)
        if name in required and (value is None or value == ""):
            raise errors.BadInput(f"not an Event Grid event: {schema} schema needs '{name}'")
        if value is not None and not isinstance(value, str):
            raise errors.BadInput(f"{schema} event field '{name}' must be a string, got {type(value).__name__}")


def _eventgrid(event: Mapping[str, object]) -> _Envelope:
    from azure.eventgrid import EventGridEvent  # 100+ ms: only when an event arrives

    _strings(event, ("id", "eventType", "subject", "eventTime", "topic", "dataVersion", "metadataVersion"),
             _EVENTGRID_REQUIRED, "EventGrid")
    for name in ("subject", "data"):
        if name not in event:
            raise errors.BadInput(f"not an Event Grid event: EventGrid schema needs '{name}'")
    try:
        parsed = EventGridEvent.from_dict(dict(event))
    except (ValueError, TypeError):  # azure.core DeserializationError is a ValueError
        raise errors.BadInput(f"EventGrid event eventTime {_show(event.get('eventTime'), 60)} "
                              "is not an ISO 8601 date-time") from None
    return _Envelope(str(parsed.id), str(parsed.event_type), parsed.subject, parsed.topic, parsed.data)


def _cloudevent(event: Mapping[str, object]) -> _Envelope:
    from azure.core.messaging import CloudEvent

    if event.get("specversion") != "1.0":
        raise errors.BadInput(f"CloudEvents specversion must be '1.0', got {_show(event.get('specversion'), 40)}")
    _strings(event, ("id", "source", "type", "subject", "time"), ("id", "source", "type"), "CloudEvents")
    try:
        parsed: CloudEvent[Any] = CloudEvent.from_dict(dict(event))
    except (ValueError, TypeError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise errors.BadInput(f"malformed CloudEvents event: {first[:160]}") from None
    data: object = parsed.data
    if isinstance(data, bytes):  # data_base64
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            pass  # not JSON: classify ignores it
    return _Envelope(parsed.id, parsed.type, parsed.subject, parsed.source, data)


def _envelope(event: object) -> _Envelope:
    if not isinstance(event, Mapping):
        raise errors.BadInput(f"an event must be a JSON object, got {type(event).__name__}")
    if "specversion" in event:
        return _cloudevent(event)
    if "eventType" in event:
        return _eventgrid(event)
    raise errors.BadInput("not an Event Grid event: expected 'eventType' (EventGrid schema) "
                          "or 'specversion' (CloudEvents 1.0)")


def _envelopes(payload: object) -> list[tuple[dict[str, object], _Envelope]]:
    items = _items(_load(payload))
    out = []
    for n, item in enumerate(items, 1):
        try:
            envelope = _envelope(item)
        except errors.BadInput as e:
            raise errors.BadInput(f"event #{n}: {e.message}" if len(items) > 1 else e.message) from None
        assert isinstance(item, Mapping)
        out.append((dict(item), envelope))
    return out


def parse(payload: bytes | str | object) -> list[dict[str, object]]:
    """The events in ``payload`` (bytes, text or parsed JSON), each validated; raises ``errors.BadInput``."""
    return [raw for raw, _ in _envelopes(payload)]


# ---- event -> decision ----------------------------------------------------------------

class _Ignore(Exception):
    """Raised inside ``_decide`` to end with ``ignore`` (control flow, never escapes)."""

    def __init__(self, reason: str, cluster: Optional[model.ClusterRef] = None) -> None:
        super().__init__(reason)
        self.reason, self.cluster = reason, cluster


def _resource_id(e: _Envelope, data: Mapping[str, object]) -> str:
    uri, subject = data.get("resourceUri"), e.subject
    if uri is not None and not isinstance(uri, str):
        raise _Ignore(f"data.resourceUri must be a string, got {type(uri).__name__}")
    if uri and subject and uri.strip().rstrip("/").lower() != subject.strip().rstrip("/").lower():
        raise _Ignore(f"subject {_show(subject)} and data.resourceUri {_show(uri)} name different resources")
    rid = uri or subject
    if not rid:
        raise _Ignore("event names no resource (no subject or data.resourceUri)")
    return rid


def _cluster(rid: str) -> model.ClusterRef:
    """Strictly parsed cluster id, or ``_Ignore`` saying what the resource is instead."""
    low = rid.lower()
    if "/providers/microsoft.resources/deployments/" in low:
        raise _Ignore("an ARM deployment, not a cluster (its clusters send their own events)")
    at = low.rfind(_AKS)
    if at < 0:
        types = _PROVIDER_TYPE.findall(rid)
        what = "/".join(types[-1]) if types else "not a provider resource"
        raise _Ignore(f"resource type {_show(what, 80)} is not an AKS managed cluster")
    segments = rid[at + len(_AKS):].strip("/").split("/")
    plain = all(_PLAIN_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments)
    if plain and len(segments) >= 3 and len(segments) % 2 == 1:
        name, child = segments[0], segments[1]
        if child.lower() == "agentpools":
            raise _Ignore(f"agent pool {_show(segments[2], 70)} of cluster {_show(name, 70)}, not the cluster itself")
        if child.lower() == "providers":
            kind = "/".join(segments[2:4])
            raise _Ignore(f"extension resource {_show(kind, 80)} on cluster {_show(name, 70)}, not the cluster itself")
        raise _Ignore(f"child resource {_show(child, 60)} of cluster {_show(name, 70)}, not the cluster itself")
    try:
        return model.ClusterRef.parse(rid)
    except errors.BadInput as e:
        raise _Ignore(f"invalid cluster id: {e.message}") from None


def _check_consistent(e: _Envelope, data: Mapping[str, object], ref: model.ClusterRef) -> None:
    sub = data.get("subscriptionId")
    if sub is not None and (not isinstance(sub, str) or sub.strip().lower() != ref.subscription_id):
        raise _Ignore(f"data.subscriptionId {_show(sub, 60)} is not the cluster's subscription", ref)
    m = _SUBSCRIPTION.match(e.source or "")
    if m and m[1].lower() != ref.subscription_id:
        raise _Ignore(f"event source {_show(e.source, 80)} is another subscription than the cluster's", ref)


def _decide(e: _Envelope, scopes: Optional[Sequence[model.Scope]]) -> Decision:
    etype = e.type.lower()
    if etype in _LIFECYCLE:
        return Decision("ignore", None, f"Event Grid subscription lifecycle event ({e.type}), not a resource change",
                        e.id, e.type)
    if not etype.startswith("microsoft.resources.resource"):
        return Decision("ignore", None, f"event type {_show(e.type, 80)} is not handled", e.id, e.type)
    try:
        if not isinstance(e.data, Mapping):
            raise _Ignore(f"event data must be an object, got {type(e.data).__name__}")
        data = e.data
        ref = _cluster(_resource_id(e, data))
        op = data.get("operationName")
        if etype not in _ACTIONS:
            outcome = etype.removeprefix("microsoft.resources.resource")
            if outcome.startswith("action"):
                raise _Ignore(f"a resource action ({_show(op, 100)}), not a create, update or delete", ref)
            raise _Ignore(f"the ARM operation did not succeed ({e.type})", ref)
        action, expected = _ACTIONS[etype]
        status = data.get("status")
        if status is not None and str(status).lower() != "succeeded":
            raise _Ignore(f"operation status is {_show(status, 60)}, not Succeeded", ref)
        if op is not None and (not isinstance(op, str) or op.strip().lower() != expected.lower()):
            raise _Ignore(f"operation {_show(op, 100)} is not {expected}", ref)
        _check_consistent(e, data, ref)
        if scopes is not None and not any(scope.contains(ref) for scope in scopes):
            allowed = ", ".join(str(s) for s in scopes) or "nothing"
            raise _Ignore(f"outside WIF_ALLOWED_SCOPES ({allowed[:200]})", ref)
    except _Ignore as ignored:
        return Decision("ignore", ignored.cluster, ignored.reason, e.id, e.type)
    return Decision(action, ref, f"{expected} succeeded", e.id, e.type)


def classify(event: Mapping[str, object], scopes: Sequence[model.Scope] | None = None) -> Decision:
    """One event (either schema) -> a decision; ``scopes=None`` means no scope filter."""
    return _decide(_envelope(event), scopes)


def decide(payload: bytes | str | object, scopes: Sequence[model.Scope] | None = None) -> list[Decision]:
    """Every event in ``payload`` -> its decision, in order; raises ``errors.BadInput``."""
    return [_decide(envelope, scopes) for _, envelope in _envelopes(payload)]
