"""``on_cluster_event``: an Event Grid delivery (EventGrid or CloudEvents schema) in, a dispatch out.

Acknowledging (returning normally) is the default: an event that is malformed,
not about a managed cluster, outside the allowed scopes or already being handled
is logged once and dropped, because a redelivery would be just as useless.
Only a failure that a redelivery can cure (the app's settings, the task hub's
storage) raises, and the subscription's bounded retry policy then dead-letters it.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Optional

from wif_functions import appsettings, instances

log = logging.getLogger("wif_functions.eventgrid")


async def handle(event: Any, client: instances.Client) -> Optional[instances.Dispatch]:
    from wif_core import errors, events

    body = as_dict(event)
    where = f"event {str(body.get('id'))[:80]!r} ({str(body.get('eventType') or body.get('type'))[:120]})"
    try:
        settings = appsettings.load()
    except errors.ConfigError as e:
        log.error("on_cluster_event cannot handle %s: %s", where, e.message)
        raise
    try:
        decision = events.classify(body, settings.allowed_scopes)
    except (errors.PermanentError, ValueError, TypeError) as e:
        message = e.message if isinstance(e, errors.WifError) else str(e)
        log.warning("on_cluster_event dropped malformed %s: %s", where, message[:300])
        return None
    if decision.action not in instances.ACTIONS or decision.cluster is None:
        log.info("on_cluster_event ignored %s: %s", where, decision.reason)
        return None
    return await instances.dispatch(client, decision.cluster, decision.action, appsettings.snapshot(),
                                    source=f"eventgrid:{decision.event_id or body.get('id')}")


def as_dict(event: Any) -> dict[str, Any]:
    """The event as Event Grid sent it (either schema), for ``wif_core.events``."""
    if isinstance(event, dict):
        return event
    if hasattr(event, "specversion"):  # func.CloudEvent
        out = {"specversion": event.specversion, "id": event.id, "source": event.source, "type": event.type,
               "time": _iso(event.time), "subject": event.subject, "data": event.get_json()}
        out.update(getattr(event, "extension_attrs", None) or {})
        return out
    return {"id": event.id, "topic": event.topic, "subject": event.subject, "eventType": event.event_type,
            "eventTime": _iso(event.event_time), "dataVersion": event.data_version, "metadataVersion": "1",
            "data": event.get_json()}


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None
