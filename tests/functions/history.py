"""Orchestration histories as the Durable extension sends them, built by hand.

``History`` appends events the way the extension records them (``TaskScheduled``, then
``OrchestratorCompleted``/``OrchestratorStarted``, then the completion), and ``replay``
runs function_app's orchestrator over it with the real SDK replay engine.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Optional

import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext

import function_app
from wif_sandbox import driver

FMT = "%Y-%m-%dT%H:%M:%S.%fZ"
START = dt.datetime(2025, 1, 6, 9, 0, 0, tzinfo=dt.timezone.utc)
OOP = "$OutOfProcData$:"


class History:
    def __init__(self, spec: dict[str, Any], start: dt.datetime = START) -> None:
        self.now = start
        self.input = json.dumps(spec)
        self.events: list[dict[str, Any]] = []
        self._add(12)  # OrchestratorStarted
        self._add(0, Name="cluster_orchestrator", Input=self.input, Version="")  # ExecutionStarted

    def _add(self, kind: int, event_id: int = -1, **fields: Any) -> None:
        self.events.append({"EventType": kind, "EventId": event_id, "IsPlayed": False,
                            "Timestamp": self.now.strftime(FMT), **fields})

    def _episode(self, seconds: float) -> None:
        self._add(13)  # OrchestratorCompleted
        self.now += dt.timedelta(seconds=seconds)
        self._add(12)

    def scheduled(self, event_id: int, name: str = "run_step") -> History:
        self._add(4, event_id, Name=name)
        return self

    def completed(self, event_id: int, result: Any, seconds: float = 0.5) -> History:
        self._episode(seconds)
        self._add(5, TaskScheduledId=event_id, Result=json.dumps(result))
        return self

    def failed(self, event_id: int, message: str, seconds: float = 0.5) -> History:
        self._episode(seconds)
        self._add(6, TaskScheduledId=event_id, Reason=f"Activity function 'run_step' failed: {message}",
                  Details=f"Result: Failure\nException: {message}\nStack:   File \"activities.py\", line 1")
        return self

    def timer(self, event_id: int, fire_at: dt.datetime) -> History:
        self._add(10, event_id, FireAt=fire_at.strftime(FMT))
        return self

    def fired(self, event_id: int, fire_at: dt.datetime) -> History:
        self._add(13)
        self.now = max(self.now, fire_at)
        self._add(12)
        self._add(11, TimerId=event_id, FireAt=fire_at.strftime(FMT))
        return self

    def raised(self, name: str, data: Any, seconds: float = 0.1) -> History:
        self._episode(seconds)
        self._add(15, Name=name, Input=json.dumps(data))
        return self

    def context_json(self) -> str:
        return json.dumps({"history": self.events, "instanceId": "aks-test-0123", "isReplaying": False,
                           "parentInstanceId": None, "input": self.input})


@dataclass
class Replay:
    state: dict[str, Any]
    error: Optional[str]

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [a for group in self.state["actions"] for a in group]

    @property
    def last(self) -> dict[str, Any]:
        return self.actions[-1]

    @property
    def status(self) -> dict[str, Any]:
        return self.state.get("customStatus") or {}

    def activity_input(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.actions[index]["input"])  # type: ignore[no-any-return]


def replay(history: History) -> Replay:
    """Run the orchestrator over ``history`` with the real replay engine: what it would tell the host."""
    generator = _orchestrator_function()
    context = DurableOrchestrationContext.from_json(history.context_json())
    try:
        return Replay(json.loads(df.Orchestrator(generator).handle(context)), None)
    except Exception as e:  # noqa: BLE001 - the SDK reports a failed orchestration by raising
        message, _, raw = str(e).partition(OOP)
        if not raw:
            raise
        return Replay(json.loads(raw), message.strip())


def _orchestrator_function() -> Any:
    for fn in driver.indexed(function_app.app):
        if fn.get_function_name() == "cluster_orchestrator":
            return fn.get_user_function().orchestrator_function
    raise LookupError("function_app defines no cluster_orchestrator")
