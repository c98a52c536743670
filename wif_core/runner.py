"""The in-process runner of a chain (CLI, demo, tests, benchmarks).

Walks ``chain`` exactly as the durable orchestrator does: transient errors
are retried per ``Retry``; ``NotReady`` is polled per ``Wait`` until the
step's deadline; a permanent error stops the chain. Clock and sleep are
injected so tests run long waits instantly.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from wif_core import chain, config, errors, model, ports
from wif_core.steps import rollback

log = logging.getLogger("wif_core.runner")


@dataclass(frozen=True)
class Progress:
    step: str
    status: str  # started | retrying | waiting | done | skipped | failed
    attempt: int = 1
    seconds: float = 0.0
    message: str = ""


@dataclass
class Report:
    cluster: str
    chain: str
    ok: bool = True
    error: str = ""
    failed_step: str = ""
    results: dict[str, object] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class Runner:
    def __init__(self, p: ports.Ports, settings: config.Settings, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 on_progress: Optional[Callable[[Progress], None]] = None) -> None:
        self.ports, self.settings = p, settings
        self.clock, self.sleep = clock, sleep
        self.on_progress = on_progress or (lambda event: None)

    def onboard(self, ref: model.ClusterRef) -> Report:
        return self.run("register", ref)

    def offboard(self, ref: model.ClusterRef) -> Report:
        return self.run("deregister", ref)

    def run(self, name: str, ref: model.ClusterRef) -> Report:
        report = Report(cluster=ref.id, chain=name)
        for step in chain.CHAINS[name]:
            if not step.when(self.settings, report.results):
                self.on_progress(Progress(step.name, "skipped"))
                continue
            started = self.clock()
            self.on_progress(Progress(step.name, "started", message=step.describe))
            try:
                result = self._step(step, ref, report.results, started)
            except errors.WifError as e:
                report.ok, report.error, report.failed_step = False, e.message, step.name
                report.seconds[step.name] = self.clock() - started
                self.on_progress(Progress(step.name, "failed", seconds=report.seconds[step.name], message=e.message))
                if chain.rolls_back(name, report.results):
                    report.results["failure"] = model.Failure(step.name, e.message, failure_kind(e))
                    report.error += "; " + self._roll_back(ref, report.results)
                return report
            report.results[step.name] = result
            report.seconds[step.name] = self.clock() - started
            self.on_progress(Progress(step.name, "done", seconds=report.seconds[step.name], message=summary(result)))
        return report

    def _roll_back(self, ref: model.ClusterRef, results: dict[str, object]) -> str:
        """The failed onboarding undone (``chain.ROLLBACK``); the clause that says what it did or left."""
        step = chain.ROLLBACK[0]
        started = self.clock()
        self.on_progress(Progress(step.name, "started", message=step.describe))
        try:
            result = self._step(step, ref, results, started)
        except errors.WifError as e:
            self.on_progress(Progress(step.name, "failed", seconds=self.clock() - started, message=e.message))
            return rollback.failed(self.settings, results, e.message)
        assert isinstance(result, model.RolledBack)
        results[step.name] = result
        self.on_progress(Progress(step.name, "done", seconds=self.clock() - started, message=summary(result)))
        return rollback.describe(result)

    def _step(self, step: chain.Step, ref: model.ClusterRef, results: dict[str, object], started: float) -> object:
        attempt, polls = 1, 0
        while True:
            try:
                outcome = chain.execute(step, self.ports, self.settings, ref, results)
                if outcome.status == "retry":
                    raise errors.Throttled(outcome.error, delay=outcome.delay)
            except errors.TemporaryError as e:
                if attempt >= step.retry.attempts:
                    raise
                delay = step.retry.delay(attempt, e.delay)
                log.warning("%s attempt #%d/%d failed; will retry in %.1fs: %s",
                            step.name, attempt, step.retry.attempts, delay, e.message)
                self.on_progress(Progress(step.name, "retrying", attempt, self.clock() - started, e.message))
                self.sleep(delay)
                attempt += 1
                continue
            if outcome.status == "done":
                return outcome.result
            if outcome.status == "failed" or step.wait is None:
                raise errors.PermanentError(outcome.error)
            waited = self.clock() - started
            deadline = step.wait.timeout(self.settings)
            if waited >= deadline:
                raise errors.TimedOut(f"{step.name}: gave up after {deadline}s: {outcome.error}")
            polls += 1
            delay = min(step.wait.interval(waited, outcome.delay), deadline - waited)
            self.on_progress(Progress(step.name, "waiting", polls, waited, outcome.error))
            self.sleep(max(delay, 0.0))


def failure_kind(e: errors.WifError) -> str:
    """permanent | timeout | transient: what the rollback may conclude from a failure."""
    if isinstance(e, errors.TimedOut):
        return "timeout"
    return "transient" if isinstance(e, errors.TemporaryError) else "permanent"


def summary(result: object) -> str:
    """One short human line per result; never includes secrets (results hold none)."""
    if isinstance(result, model.Discovered):
        t = result.target
        rbac = "Azure RBAC" if t.azure_rbac else "Kubernetes RBAC"
        where = "private" if t.private else "public"
        extra = "" if result.eligible else f" (not eligible: {result.reason})"
        return f"{t.ref.name}: {t.provisioning_state}, {where}, {rbac}{extra}"
    if isinstance(result, model.Federated):
        notes = "".join(f"; {note}" for note in result.notes)
        return f"{len(result.credentials)} credential(s), created {len(result.created)}{notes}"
    if isinstance(result, model.Propagated):
        return f"token exchange works for {len(result.subjects)} service account(s)"
    if isinstance(result, model.Registered):
        notes = "".join(f"; {note}" for note in result.notes)
        return f"Secret {result.namespace}/{result.name} {result.action}{notes}"
    if isinstance(result, model.Bound):
        return f"{result.mode} binding {result.name} {result.action} via {result.via}"
    if isinstance(result, model.Verified):
        return "allowed" if result.allowed else f"denied: {result.reason}"
    if isinstance(result, model.Deregistered):
        if result.reason:
            return result.reason
        return f"secret {result.secret}, binding {result.binding}"
    if isinstance(result, model.RolledBack):
        return rollback.describe(result)
    return ""
