"""An in-process stand-in for the Durable Functions host, for tests, the demo and benchmarks.

The Durable extension cannot run here, so ``LocalDurable`` plays both of its parts:

* the *client* (``start_new``, ``get_status``, ``raise_event``, ``terminate``,
  ``create_check_status_response``) that ``on_cluster_event`` and the HTTP API are given;
* the *host loop*: it keeps each instance's history as the JSON the extension sends,
  runs the registered orchestrator function through the real Durable SDK replay engine,
  turns the actions it returns into ``TaskScheduled``/``TimerCreated`` events, runs the
  scheduled activity function for real, appends ``TaskCompleted``/``TaskFailed``, retries
  per the action's retry options with retry timers, fires timers (``TimerFired``) and
  delivers raised events (``EventRaised``), until the orchestration completes or fails.

Time comes from ``clock``/``sleep`` (real by default; ``VirtualClock`` makes long waits instant).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import heapq
import itertools
import json
import queue
import time
import traceback
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from wif_functions import instances
from wif_sandbox import hostjson

_OOP = "$OutOfProcData$:"
ACTIVE = instances.ACTIVE


class VirtualClock:
    """A clock whose ``sleep`` advances it: durable timers fire at once, waits are still measured."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@dataclass
class _Call:
    event_id: int
    name: str
    input: Optional[str]
    retry: Optional[dict[str, Any]]
    attempt: int = 1


@dataclass
class Instance:
    instance_id: str
    name: str
    input: Optional[str]
    created: dt.datetime
    status: str = "Pending"
    output: Any = None
    custom_status: Any = None
    updated: Optional[dt.datetime] = None
    history: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)  # every activity run: name, input, outcome
    _next_id: int = 0
    _seen: int = 0  # actions already turned into history
    _calls: deque[_Call] = field(default_factory=deque)
    _timers: dict[int, tuple[dt.datetime, Optional[_Call]]] = field(default_factory=dict)
    _action_timers: dict[int, int] = field(default_factory=dict)
    _events: deque[tuple[str, Optional[str]]] = field(default_factory=deque)
    _host_events: list[dict[str, Any]] = field(default_factory=list)  # to append after the next replay

    @property
    def timers(self) -> list[dict[str, Any]]:
        """Every timer the orchestrator created (not retry timers): fire time and whether it was cancelled."""
        return [e for e in self.history if e["EventType"] == hostjson.TIMER_CREATED and not e.get("Retry")]


class LocalDurable:
    def __init__(self, app: Any = None, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, base_url: str = "http://localhost:7071",
                 schema: int = 0) -> None:
        if app is None:
            import function_app

            app = function_app.app
        self.functions = {f.get_function_name(): f.get_user_function() for f in indexed(app)}
        self.clock, self.sleep, self.schema = clock, sleep, schema
        self.instances: dict[str, Instance] = {}
        self.started: list[str] = []  # instance ids, once per start_new
        self._urls = df.DurableOrchestrationClient(json.dumps(hostjson.binding(base_url)))
        # The worker runs async triggers on one long-lived event loop, not a new loop per call.
        self._loop = asyncio.new_event_loop()
        weakref.finalize(self, self._loop.close)

    # ---- the client, as DurableOrchestrationClient ---------------------------------------
    async def start_new(self, orchestration_function_name: str, instance_id: Optional[str] = None,
                        client_input: Any = None) -> str:
        iid = instance_id or f"{len(self.started):032x}"
        old = self.instances.get(iid)
        if old is not None and old.status in ACTIVE:  # host.json: overridableExistingInstanceStates
            raise Exception(f"An Orchestration instance with the status {old.status} already exists.")  # noqa: TRY002
        if orchestration_function_name not in self.functions:
            raise Exception(f"The function '{orchestration_function_name}' doesn't exist.")  # noqa: TRY002
        raw = None if client_input is None else json.dumps(client_input)
        self.instances[iid] = Instance(iid, orchestration_function_name, raw, self._now())
        self.started.append(iid)
        return iid

    async def get_status(self, instance_id: str, show_history: bool = False, show_history_output: bool = False,
                         show_input: bool = False) -> DurableOrchestrationStatus:
        inst = self.instances.get(instance_id)
        if inst is None:
            return DurableOrchestrationStatus()
        body = {"name": inst.name, "instanceId": inst.instance_id, "createdTime": inst.created.strftime(hostjson.FMT),
                "lastUpdatedTime": (inst.updated or inst.created).strftime(hostjson.FMT), "runtimeStatus": inst.status,
                "customStatus": inst.custom_status, "output": inst.output}
        if show_input:
            body["input"] = inst.input
        if show_history:
            body["history"] = inst.history
        return DurableOrchestrationStatus.from_json(body)

    async def raise_event(self, instance_id: str, event_name: str, event_data: Any = None, **_: Any) -> None:
        inst = self.instances.get(instance_id)
        if inst is None:
            raise Exception(f"No instance with ID '{instance_id}' found.")  # noqa: TRY002
        if inst.status in ACTIVE:  # events for a finished instance are dropped, as in Azure Storage
            inst._events.append((event_name, None if event_data is None else json.dumps(event_data)))

    async def terminate(self, instance_id: str, reason: str) -> None:
        inst = self.instances.get(instance_id)
        if inst is not None and inst.status in ACTIVE:
            inst.status, inst.output, inst.updated = "Terminated", reason, self._now()

    def create_check_status_response(self, request: func.HttpRequest, instance_id: str) -> func.HttpResponse:
        response: func.HttpResponse = self._urls.create_check_status_response(request, instance_id)
        return response

    def create_http_management_payload(self, instance_id: str) -> dict[str, str]:
        payload: dict[str, str] = self._urls.create_http_management_payload(instance_id)
        return payload

    # ---- what the Functions host does with a trigger -------------------------------------
    def deliver(self, event: dict[str, Any]) -> None:
        """One Event Grid delivery: converted as the worker converts it, then ``on_cluster_event``'s body."""
        from azure.functions import meta
        from azure.functions.eventgrid import EventGridEventInConverter

        delivered = EventGridEventInConverter.decode(meta.Datum(type="json", value=json.dumps(event)),
                                                     trigger_metadata={})
        body = self.functions["on_cluster_event"].client_function  # under the durable-client middleware
        self._loop.run_until_complete(body(event=delivered, client=self))

    # ---- the host loop -------------------------------------------------------------------
    def run_all(self, *, workers: int = 1, orchestrators: int = 16, max_episodes: int = 100_000) -> list[Instance]:
        """Run every instance; ``workers`` > 1 runs that many activities at once and ``orchestrators``
        replays at once, as the host's ``maxConcurrentActivityFunctions`` and
        ``maxConcurrentOrchestratorFunctions`` do.

        As in the host, an activity slot is held only while an activity runs: replays have their
        own, and an orchestration waiting on a timer holds neither (its timer is kept here and it
        is picked up again when it fires), so while some wait (a throttled write, a propagation
        delay) the others' activities run. Activities start first in, first out.
        """
        ids = [iid for iid, inst in self.instances.items() if inst.status in ACTIVE]
        if workers <= 1:
            return [self.run(iid, max_episodes=max_episodes) for iid in ids]
        episodes = dict.fromkeys(ids, 0)
        order = itertools.count()
        timers: list[tuple[dt.datetime, int, str]] = []  # (fire at, tiebreak, instance id)
        # Work items come back in the order they finish, as the host's queues hand them on:
        # an orchestration whose replay finished first gets its activity queued first.
        finished: queue.SimpleQueue[tuple[concurrent.futures.Future[object], str, str]] = queue.SimpleQueue()
        in_flight = 0
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="activity") as slots, \
                concurrent.futures.ThreadPoolExecutor(max_workers=orchestrators, thread_name_prefix="replay") as replays:

            def submit(pool: concurrent.futures.ThreadPoolExecutor, iid: str, what: str, fn: Callable[..., None],
                       *args: Any) -> None:
                nonlocal in_flight
                in_flight += 1
                pool.submit(fn, *args).add_done_callback(lambda f: finished.put((f, iid, what)))

            def replay(iid: str, *, append_next: bool) -> None:
                episodes[iid] += 1
                if episodes[iid] > max_episodes:
                    raise RuntimeError(f"{iid}: still running after {max_episodes} episodes")
                submit(replays, iid, "replay", self._advance, self.instances[iid], append_next)

            for iid in ids:
                submit(replays, iid, "replay", self._begin, self.instances[iid])
            while in_flight or timers:
                due = timers[0][0] if timers else None
                item = None
                if in_flight:
                    timeout = None if due is None else max(0.0, (due - self._now()).total_seconds())
                    try:
                        item = finished.get(timeout=timeout)
                    except queue.Empty:
                        pass
                elif due is not None and due > self._now():
                    self.sleep((due - self._now()).total_seconds())  # nothing runs: time passes
                if item is not None:
                    in_flight -= 1
                    future, iid, what = item
                    future.result()  # a driver error, not an activity's: let it surface
                    inst = self.instances[iid]
                    if what == "activity":  # its TaskCompleted/TaskFailed is in the history
                        replay(iid, append_next=False)
                    elif inst.status != "Running":
                        pass
                    elif inst._calls and not inst._events:
                        submit(slots, iid, "activity", self._next, inst, None)
                    elif inst._events:
                        replay(iid, append_next=True)
                    elif inst._timers:
                        fire_at = min(at for at, _ in inst._timers.values())
                        heapq.heappush(timers, (fire_at, next(order), iid))
                while timers and timers[0][0] <= self._now():
                    replay(heapq.heappop(timers)[2], append_next=True)  # TimerFired, then the replay
        return [self.instances[iid] for iid in ids]

    def _advance(self, inst: Instance, append_next: bool) -> None:
        """A replay, after appending what comes next (raised events, or the due timer) if asked."""
        if append_next:
            self._next(inst, None)
        self._replay(inst)

    def run(self, instance_id: str, *, stop_before: Optional[Callable[[Any], bool]] = None,
            max_episodes: int = 100_000) -> Instance:
        """Run until the instance ends, waits on nothing, or ``stop_before(activity input)`` holds."""
        inst = self.instances[instance_id]
        self._begin(inst)
        for _ in range(max_episodes):
            if inst.status != "Running" or not self._next(inst, stop_before):
                return inst
            self._replay(inst)
        raise RuntimeError(f"{instance_id}: still running after {max_episodes} episodes")

    def _begin(self, inst: Instance) -> None:
        """A pending instance starts: ExecutionStarted, then its first replay."""
        if inst.status == "Pending":
            inst.status = "Running"
            now = self._stamp()
            inst.history += [hostjson.event(hostjson.ORCHESTRATOR_STARTED, now),
                             hostjson.event(hostjson.EXECUTION_STARTED, now, Name=inst.name, Input=inst.input, Version="")]
            self._replay(inst)

    def _next(self, inst: Instance, stop_before: Optional[Callable[[Any], bool]]) -> bool:
        """Append the next thing that happens to the history; False if nothing can."""
        for e in inst.history:
            e["IsPlayed"] = True
        batch: list[dict[str, Any]] = []
        if inst._calls and not inst._events:
            call = inst._calls[0]
            given = json.loads(call.input) if call.input else None
            if stop_before is not None and stop_before(given):
                return False
            inst._calls.popleft()
            batch.append(self._execute(inst, call, given))
        elif not inst._events and inst._timers:
            tid, (fire_at, retried) = min(inst._timers.items(), key=lambda kv: kv[1][0])
            del inst._timers[tid]
            wait = (fire_at - self._now()).total_seconds()
            if wait > 0:
                self.sleep(wait)
            batch.append(hostjson.event(hostjson.TIMER_FIRED, self._stamp(), TimerId=tid, FireAt=fire_at.strftime(hostjson.FMT)))
            if retried is not None and retried.retry is not None \
                    and retried.attempt < int(retried.retry["maxNumberOfAttempts"]):
                inst._host_events.append({"again": retried})
        # Events raised meanwhile (e.g. while the activity ran) come before its completion.
        events = [hostjson.event(hostjson.EVENT_RAISED, self._stamp(), Name=n, Input=d) for n, d in inst._events]
        inst._events.clear()
        if not batch and not events:
            return False
        inst.history += [hostjson.event(hostjson.ORCHESTRATOR_STARTED, self._stamp()), *events, *batch]
        return True

    def _execute(self, inst: Instance, call: _Call, given: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"name": call.name, "input": given, "attempt": call.attempt}
        inst.activities.append(record)
        try:
            result = self.functions[call.name](given)
        except Exception as e:  # noqa: BLE001 - any activity failure becomes TaskFailed, as in the host
            record["error"] = f"{type(e).__name__}: {e}"
            reason = f"Activity function '{call.name}' failed: {type(e).__name__}: {e}"
            failed = hostjson.event(hostjson.TASK_FAILED, self._stamp(), TaskScheduledId=call.event_id, Reason=reason,
                            Details=f"Result: Failure\nException: {type(e).__name__}: {e}\n"
                                    f"Stack: {''.join(traceback.format_tb(e.__traceback__))}")
            if call.retry is not None:  # the extension's retry interceptor: a timer after every failure
                delay = hostjson.retry_delay(call.retry, call.attempt)
                inst._host_events.append({"retry": call, "fire_at": self._now() + dt.timedelta(seconds=delay)})
            return failed
        record["result"] = result
        return hostjson.event(hostjson.TASK_COMPLETED, self._stamp(), TaskScheduledId=call.event_id, Result=json.dumps(result))

    def _replay(self, inst: Instance) -> None:
        """One episode: the real SDK replays the whole history and returns its actions."""
        context = {"history": inst.history, "instanceId": inst.instance_id, "isReplaying": False,
                   "parentInstanceId": None, "input": inst.input, "upperSchemaVersion": self.schema}
        error = None
        try:
            state = json.loads(self.functions[inst.name](json.dumps(context)))
        except Exception as e:  # noqa: BLE001 - the SDK reports a failed orchestration by raising
            text = str(e)
            if _OOP not in text:
                raise
            message, raw = text.split(_OOP, 1)
            state, error = json.loads(raw), message.strip()
        inst.custom_status, inst.updated = state.get("customStatus"), self._now()
        actions = list(hostjson.flatten(state.get("actions") or []))
        for index, action in enumerate(actions):
            if index >= inst._seen:
                self._schedule(inst, index, action)
            elif action.get("isCanceled") and index in inst._action_timers:
                inst._timers.pop(inst._action_timers[index], None)
        inst._seen = len(actions)
        self._host_side(inst)
        inst.history.append(hostjson.event(hostjson.ORCHESTRATOR_COMPLETED, self._stamp()))
        if error is not None:
            inst.status, inst.output = "Failed", error
        elif state.get("isDone"):
            inst.status, inst.output = "Completed", state.get("output")

    def _schedule(self, inst: Instance, index: int, action: dict[str, Any]) -> None:
        kind = action.get("actionType")
        if kind in (0, 1):  # CallActivity, CallActivityWithRetry
            call = _Call(self._id(inst), action["functionName"], action.get("input"), action.get("retryOptions"))
            inst.history.append(hostjson.event(hostjson.TASK_SCHEDULED, self._stamp(), EventId=call.event_id, Name=call.name,
                                       Input=call.input))
            inst._calls.append(call)
        elif kind == 5:  # CreateTimer
            tid = self._id(inst)
            inst.history.append(hostjson.event(hostjson.TIMER_CREATED, self._stamp(), EventId=tid, FireAt=action["fireAt"]))
            inst._action_timers[index] = tid
            if not action.get("isCanceled"):
                inst._timers[tid] = (hostjson.parse(action["fireAt"]), None)
        elif kind != 6:  # WaitForExternalEvent needs nothing from the host
            raise NotImplementedError(f"the local driver does not run action type {kind}: {action}")

    def _host_side(self, inst: Instance) -> None:
        """Retry timers and re-scheduled attempts, which the extension adds on its own."""
        for item in inst._host_events:
            if "again" in item:
                old: _Call = item["again"]
                call = _Call(self._id(inst), old.name, old.input, old.retry, old.attempt + 1)
                inst.history.append(hostjson.event(hostjson.TASK_SCHEDULED, self._stamp(), EventId=call.event_id, Name=call.name,
                                           Input=call.input))
                inst._calls.append(call)
            else:
                tid = self._id(inst)
                inst.history.append(hostjson.event(hostjson.TIMER_CREATED, self._stamp(), EventId=tid,
                                           FireAt=item["fire_at"].strftime(hostjson.FMT), Retry=True))
                inst._timers[tid] = (item["fire_at"], item["retry"])
        inst._host_events.clear()

    def _id(self, inst: Instance) -> int:
        inst._next_id += 1
        return inst._next_id - 1

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)

    def _stamp(self) -> dt.datetime:
        return self._now()


_indexed: dict[int, list[Any]] = {}


def indexed(app: Any) -> list[Any]:
    """``app.get_functions()``, once per app: azure-functions refuses a second call (duplicate names)."""
    if id(app) not in _indexed:
        _indexed[id(app)] = list(app.get_functions())
    return _indexed[id(app)]
