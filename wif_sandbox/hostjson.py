"""The JSON the Durable extension and the Python SDK exchange, for ``wif_sandbox.driver``.

History events as the extension sends them to the orchestrator, the durable client
binding it gives client functions, and the extension's retry-delay rule.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

FMT = "%Y-%m-%dT%H:%M:%S.%fZ"
HUB = "akswif"  # host.json extensions.durableTask.hubName
# HistoryEventType values (azure.durable_functions.models.history.HistoryEventType)
EXECUTION_STARTED, TASK_SCHEDULED, TASK_COMPLETED, TASK_FAILED = 0, 4, 5, 6
TIMER_CREATED, TIMER_FIRED, ORCHESTRATOR_STARTED, ORCHESTRATOR_COMPLETED, EVENT_RAISED = 10, 11, 12, 13, 15


def event(kind: int, when: dt.datetime, **fields: Any) -> dict[str, Any]:
    return {"EventType": kind, "EventId": fields.pop("EventId", -1), "IsPlayed": False,
            "Timestamp": when.strftime(FMT), **fields}


def flatten(actions: list[Any]) -> Iterator[dict[str, Any]]:
    for item in actions:
        if isinstance(item, list):
            yield from flatten(item)
        elif isinstance(item, dict) and "compoundActions" in item:
            yield from flatten(item["compoundActions"])
        else:
            yield item


def parse(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def retry_delay(retry: dict[str, Any], attempt: int) -> float:
    first = float(retry.get("firstRetryIntervalInMilliseconds", 1000)) / 1000
    delay = first * float(retry.get("backoffCoefficient", 1)) ** (attempt - 1)
    cap = retry.get("maxRetryIntervalInMilliseconds")
    return min(delay, float(cap) / 1000) if cap else delay


def binding(base_url: str) -> dict[str, Any]:
    """The durable client binding JSON, shaped as the Functions host sends it."""
    root = f"{base_url}/runtime/webhooks/durabletask"
    query = f"taskHub={HUB}&connection=Storage&code=LOCAL-FUNCTION-KEY"
    instance = f"{root}/instances/INSTANCEID"
    return {
        "taskHubName": HUB,
        "creationUrls": {"createNewInstancePostUri": f"{root}/orchestrators/{{functionName}}[/{{instanceId}}]?code=LOCAL",
                         "createAndWaitOnNewInstancePostUri": f"{root}/orchestrators/{{functionName}}[/{{instanceId}}]"
                                                              f"?timeout={{timeoutInSeconds}}&pollingInterval="
                                                              f"{{intervalInSeconds}}&code=LOCAL"},
        "managementUrls": {"id": "INSTANCEID", "statusQueryGetUri": f"{instance}?{query}",
                           "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
                           "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
                           "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
                           "purgeHistoryDeleteUri": f"{instance}?{query}",
                           "restartPostUri": f"{instance}/restart?{query}",
                           "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
                           "resumePostUri": f"{instance}/resume?reason={{text}}&{query}"},
        "rpcBaseUrl": "http://127.0.0.1:17071/durabletask/",
    }
