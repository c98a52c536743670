"""The Durable orchestrator: walks ``wif_core.chain`` exactly as ``wif_core.runner`` does.

* each step is one ``run_step`` activity, called with retry options taken from ``step.retry``
  (transient errors: 5xx, 429, 409, timeouts);
* a ``wait`` outcome (cluster provisioning, credential or RBAC propagation) polls on durable
  timers, ``step.wait.interval(waited)`` apart, until ``step.wait.timeout(settings)``, then fails
  with the last observed error; no worker sleeps while it waits;
* settings come from the snapshot in the orchestration input, never from the environment,
  so every replay takes the same decisions;
* a ``desired_action`` event from a client (a delete arriving during registration, a write
  arriving during deregistration) switches chain at the next step boundary or timer, after
  the in-flight activity has finished, so nothing is left half-applied.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generator, NoReturn, Optional

import azure.durable_functions as df

from wif_functions import appsettings, instances, timestamps

if TYPE_CHECKING:
    from wif_core import chain, config, model

log = logging.getLogger("wif_functions.orchestrator")

# Every replay parses every history timestamp: with dateutil's general parser that was a third
# of a replay's CPU (wif_functions.timestamps). Done here, where the orchestrator is indexed.
timestamps.install()

ACTIVITY = "run_step"
Gen = Generator[Any, Any, Any]
_SWITCHED = object()


@dataclass(frozen=True)
class _Failure:
    """A step failed for good; the run rolls back (``chain.ROLLBACK``) before it fails with this."""

    step: str
    attempt: int
    error: str
    kind: str  # permanent | timeout | transient (model.Failure)


class ChainFailed(Exception):
    """A permanent error, retries exhausted, or a wait's deadline: the orchestration fails with this message."""


class DurableRetry(df.RetryOptions):  # type: ignore[misc]
    """``RetryOptions`` carrying the backoff the Durable extension reads but the Python SDK does not send."""

    def __init__(self, retry: chain.Retry) -> None:
        super().__init__(max(1, int(retry.first_s * 1000)), retry.attempts)
        self.backoff_coefficient = retry.backoff
        self.max_retry_interval_in_milliseconds = int(retry.max_s * 1000)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = super().to_json()
        out["backoffCoefficient"] = self.backoff_coefficient
        out["maxRetryIntervalInMilliseconds"] = self.max_retry_interval_in_milliseconds
        return out


@dataclass
class _Run:
    """What one replay knows; rebuilt identically on every replay from history."""

    context: Any
    ref: model.ClusterRef
    settings: config.Settings
    action: str
    pending: Optional[str] = None  # a different action a client asked for
    seen: set[str] = field(default_factory=set)  # event ids (the SDK may re-deliver a deferred event)
    done: list[str] = field(default_factory=list)

    def report(self, step: str, attempt: int, last_error: Optional[str], state: str) -> None:
        self.context.set_custom_status({
            "cluster": self.ref.id, "action": self.action, "step": step, "attempt": attempt,
            "lastError": last_error, "state": state, "done": list(self.done)})

    def note(self, payload: Any) -> bool:
        """Take a client's request into account; False for a malformed or already seen one."""
        if not isinstance(payload, dict) or payload.get("action") not in instances.ACTIONS:
            return False
        event_id = str(payload.get("id") or "")
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        self.pending = None if payload["action"] == self.action else str(payload["action"])  # latest wins
        if self.pending and not self.context.is_replaying:
            log.info("%s: %s requested during %s; switching after the current activity",
                     self.ref.id, self.pending, self.action)
        return True

    def race(self, task: Any, *, cancellable: bool = False) -> Gen:
        """Wait for ``task`` while listening for a client's ``desired_action`` event.

        The listener is fresh each time and the task is only ever yielded alone afterwards:
        putting an already scheduled task into a second ``task_any`` makes the SDK (replay
        schema V1) send its action again, and the host would run the activity twice.
        An event arriving while nobody listens is kept by the SDK for the next listener.
        """
        waiter = self.context.wait_for_external_event(instances.EVENT, expected_type=dict)
        yield self.context.task_any([task, waiter])
        if waiter.is_completed:
            self.note(waiter.result)
        if cancellable and self.pending is not None and not task.is_completed:
            task.cancel()
            return None
        return (yield task)  # an in-flight activity always finishes before anything else runs


def orchestrate(context: Any) -> Gen:
    run = _start(context)
    switches = 0
    while True:
        results, skipped = yield from _walk(run)
        if run.pending is None:
            run.report("", 0, None, "completed")
            return _output(run, results, skipped, switches)
        run.action, run.pending, run.done, switches = run.pending, None, [], switches + 1


def _start(context: Any) -> _Run:
    from wif_core import errors, model

    spec = context.get_input(expected_type=dict)
    if not isinstance(spec, dict) or spec.get("action") not in (*instances.ACTIONS, instances.FEDERATION):
        raise ChainFailed(f"orchestration input must be an object with action in {instances.ACTIONS}")
    try:
        ref = model.ClusterRef.parse(spec.get("cluster"))
        settings = appsettings.from_snapshot(dict(spec.get("settings") or {}))
    except errors.BadInput as e:
        raise ChainFailed(f"orchestration input: {e.message}") from None
    return _Run(context, ref, settings, str(spec["action"]))


def _walk(run: _Run) -> Gen:
    from wif_core import chain

    results = chain.Carried()
    skipped: list[str] = []
    for step in chain.CHAINS[run.action]:
        if run.pending is not None:
            break
        if not step.when(run.settings, results):
            skipped.append(step.name)
            continue
        result = yield from _step(run, step, results)
        if result is _SWITCHED:
            break
        if isinstance(result, _Failure):
            note = yield from _roll_back(run, results, result)
            if run.pending is not None:  # a delete (or write) arrived meanwhile: it runs, as after any stop
                break
            _fail(run, result.step, result.attempt, result.error + (f"; {note}" if note else ""))
        results.add(step.name, result)
        run.done.append(step.name)
    return results, skipped


def _step(run: _Run, step: chain.Step, results: chain.Carried) -> Gen:
    from wif_core import chain

    context = run.context
    started: dt.datetime = context.current_utc_datetime
    attempt, last_error, retries = 1, None, 0
    while True:
        run.report(step.name, attempt, last_error, "running")
        task = context.call_activity_with_retry(
            ACTIVITY, DurableRetry(step.retry), chain.activity_input(run.action, step.name, run.ref, results),
            expected_type=dict)
        try:
            raw = yield from run.race(task)
        except Exception as e:  # noqa: BLE001 - Durable raises a bare Exception once retries are exhausted
            return _stop(run, step.name, attempt, _reason(e), "transient")
        outcome = chain.decode_outcome(raw, decode_result=False)
        if outcome.status == "done":
            return outcome.result
        if outcome.status == "retry":  # throttled: wait at least the server's Retry-After, on a timer
            retries += 1
            if retries >= step.retry.attempts:
                return _stop(run, step.name, attempt, outcome.error, "transient")
            run.report(step.name, attempt, outcome.error, "throttled")
            delay = step.retry.delay(retries, outcome.delay)
            yield from run.race(context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=delay)),
                                cancellable=True)
            if run.pending is not None:
                return _SWITCHED
            continue
        if outcome.status == "failed" or step.wait is None:
            return _stop(run, step.name, attempt, outcome.error, "permanent")
        last_error = outcome.error
        if run.pending is not None:
            return _SWITCHED
        waited = (context.current_utc_datetime - started).total_seconds()
        deadline = step.wait.timeout(run.settings)
        if waited >= deadline:
            return _stop(run, step.name, attempt, f"gave up after {deadline}s: {outcome.error}", "timeout")
        delay = max(0.0, min(step.wait.interval(waited, outcome.delay), deadline - waited))
        run.report(step.name, attempt, last_error, "waiting")
        timer = context.create_timer(context.current_utc_datetime + dt.timedelta(seconds=delay))
        yield from run.race(timer, cancellable=True)
        if run.pending is not None:
            return _SWITCHED
        attempt += 1


def _stop(run: _Run, step: str, attempt: int, error: str, kind: str) -> object:
    """A step failed: the run fails, unless a client asked for the other action meanwhile (it still runs)."""
    if run.pending is not None:
        if not run.context.is_replaying:
            log.warning("%s %s: %s: %s; switching to %s as requested", run.action, run.ref.id, step, error, run.pending)
        return _SWITCHED
    return _Failure(step, attempt, error, kind)


def _roll_back(run: _Run, results: chain.Carried, failure: _Failure) -> Gen:
    """One activity undoing a failed onboarding; the clause for the failure message ("" if nothing to do)."""
    from wif_core import chain, codec, model
    from wif_core.steps import rollback

    if not chain.rolls_back(run.action, results):
        return ""
    results.add("failure", codec.encode(model.Failure(failure.step, failure.error, failure.kind)))
    step = chain.ROLLBACK[0]
    run.report(step.name, 1, None, "rolling back")
    task = run.context.call_activity_with_retry(
        ACTIVITY, DurableRetry(step.retry), chain.activity_input("rollback", step.name, run.ref, results),
        expected_type=dict)
    try:
        raw = yield from run.race(task)  # a client's request arriving now is noted, not lost with the failure
    except Exception as e:  # noqa: BLE001 - Durable raises a bare Exception once retries are exhausted
        return rollback.failed(run.settings, results, _reason(e))
    outcome = chain.decode_outcome(raw)
    if outcome.status != "done" or not isinstance(outcome.result, model.RolledBack):
        return rollback.failed(run.settings, results, outcome.error or "no result")
    return rollback.describe(outcome.result)


def _fail(run: _Run, step: str, attempt: int, error: str) -> NoReturn:
    message = f"{step}: {error}"
    run.report(step, attempt, error, "failed")
    if not run.context.is_replaying:
        log.error("%s %s failed: %s", run.action, run.ref.id, message)
    raise ChainFailed(message)


def _reason(error: BaseException) -> str:
    """The activity's own message out of Durable's ``"<reason> \\n <details>"`` failure text."""
    text = str(error).strip()
    for line in text.splitlines():
        if line.strip().startswith("Exception: "):
            return line.strip()[len("Exception: "):][:500]
    first = text.splitlines()[0].strip() if text else type(error).__name__
    prefix = f"Activity function '{ACTIVITY}' failed: "
    return (first[len(prefix):] if first.startswith(prefix) else first)[:500]


def _output(run: _Run, results: chain.Carried, skipped: list[str], switches: int) -> dict[str, Any]:
    return {"action": run.action, "cluster": run.ref.id, "steps": list(results), "skipped": skipped,
            "switches": switches, "results": {name: results.encoded(name) for name in results}}
