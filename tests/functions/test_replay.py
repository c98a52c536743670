"""The orchestrator under the real Durable SDK replay engine, driven with hand-built histories.

Each test builds the history the Durable extension would send (no mocked context) and
asserts what the orchestrator tells the host: which activity with which retry options,
which timer firing when, what custom status, and how it completes or fails.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest

from tests import fakes
from tests.functions.conftest import ENV
from tests.functions.history import START, History, replay
from wif_core import chain, config, model
from wif_core.steps import discover

CLUSTER = fakes.cluster_id("aks-replay")
REF = model.ClusterRef.parse(CLUSTER)
EVENT = "desired_action"


def spec(action: str = "register", **settings: str) -> dict[str, Any]:
    return {"action": action, "cluster": CLUSTER, "settings": {**ENV, **settings}, "source": "test"}


def done(result: object) -> Any:
    return chain.encode_outcome(chain.Outcome("done", result))


def waiting(error: str, delay: float | None = None) -> Any:
    return chain.encode_outcome(chain.Outcome("wait", error=error, delay=delay))


def failed(error: str) -> Any:
    return chain.encode_outcome(chain.Outcome("failed", error=error))


@pytest.fixture(scope="module")
def discovered() -> model.Discovered:
    world = fakes.World()
    world.add_cluster(CLUSTER)
    return discover.discover(world.ports(), fakes.settings(), REF)


def results_for(discovered: model.Discovered) -> dict[str, object]:
    return {
        "discover": discovered,
        "federate": model.Federated(fakes.IDENTITY_ID, (), ()),
        "await_propagation": model.Propagated(("system:serviceaccount:argocd:argocd-server",)),
        "register": model.Registered("argocd", "aks-replay", "created"),
        "bind_rbac": model.Bound("kubernetes", "api", "argocd-wif", "created"),
        "verify": model.Verified(True, "bound"),
    }


def fire_at(action: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(action["fireAt"].replace("Z", "+00:00"))


def test_first_episode_schedules_discover_with_the_steps_retry_policy() -> None:
    r = replay(History(spec()))
    assert r.error is None and r.state["isDone"] is False
    activity, waiter = r.actions
    assert activity["actionType"] == 1 and activity["functionName"] == "run_step"
    assert activity["retryOptions"] == {"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": 4,
                                        "backoffCoefficient": 2.0, "maxRetryIntervalInMilliseconds": 30000}
    assert r.activity_input(0) == chain.activity_input("register", "discover", REF, {})
    assert waiter == {"actionType": 6, "externalEventName": EVENT, "reason": "ExternalEvent"}
    assert r.status == {"cluster": CLUSTER, "action": "register", "step": "discover", "attempt": 1,
                        "lastError": None, "state": "running", "done": []}


def test_steps_run_in_chain_order_and_pass_their_results_on(discovered: model.Discovered) -> None:
    results = results_for(discovered)
    h = History(spec())
    order = []
    for event_id, step in enumerate(s.name for s in chain.REGISTER if s.name in results):
        r = replay(h)
        assert r.activity_input(-2)["step"] == step  # [-1] is the event listener
        assert r.activity_input(-2) == chain.activity_input("register", step, REF, {k: results[k] for k in order})
        retry = chain.find("register", step).retry
        assert r.actions[-2]["retryOptions"]["maxNumberOfAttempts"] == retry.attempts
        assert r.status["step"] == step and r.status["done"] == order
        h.scheduled(event_id).completed(event_id, done(results[step]))
        order.append(step)
    r = replay(h)
    assert r.error is None and r.state["isDone"] is True
    out = r.state["output"]
    assert out["action"] == "register" and out["steps"] == order and out["skipped"] == ["deregister"]
    assert out["results"]["verify"] == {"type": "Verified", "allowed": True, "reason": "bound"}
    assert r.status["state"] == "completed"


def test_a_cluster_that_is_not_eligible_skips_to_deregister(discovered: model.Discovered) -> None:
    h = History(spec()).scheduled(0).completed(0, done(dataclasses.replace(discovered, eligible=False, reason="no tag")))
    r = replay(h)
    assert r.activity_input(-2)["step"] == "deregister" and r.activity_input(-2)["chain"] == "register"


def test_a_wait_outcome_polls_on_a_durable_timer_then_runs_the_step_again() -> None:
    h = History(spec()).scheduled(0).completed(0, waiting("provisioningState is Creating"), seconds=0.5)
    r = replay(h)
    timer = r.actions[-2]
    assert timer["actionType"] == 5 and timer["isCanceled"] is False
    step = chain.find("register", "discover")
    assert step.wait is not None
    assert fire_at(timer) == h.now + dt.timedelta(seconds=step.wait.interval(0.5))
    assert r.status["state"] == "waiting" and r.status["lastError"] == "provisioningState is Creating"
    h.timer(1, fire_at(timer)).fired(1, fire_at(timer))
    r = replay(h)
    assert r.actions[-2]["actionType"] == 1 and r.activity_input(-2)["step"] == "discover"
    assert r.status["attempt"] == 2 and r.status["state"] == "running"


def test_a_servers_retry_after_hint_stretches_the_poll_interval() -> None:
    h = History(spec()).scheduled(0).completed(0, waiting("not yet", delay=45.0), seconds=0.5)
    timer = replay(h).actions[-2]
    assert fire_at(timer) == h.now + dt.timedelta(seconds=45.0)


def test_the_deadline_fails_the_orchestration_with_the_last_observed_error() -> None:
    h = History(spec(WIF_PROVISIONING_TIMEOUT_SECONDS="20"))
    fires, polls, next_id = [], 0, 0
    for _ in range(50):
        r = replay(h)
        if r.error:
            break
        last = r.actions[-2]
        if last["actionType"] == 5:
            fires.append(fire_at(last))
            h.timer(next_id, fire_at(last)).fired(next_id, fire_at(last))
        else:
            polls += 1
            h.scheduled(next_id).completed(next_id, waiting(f"provisioningState is Creating (poll {polls})"), seconds=0.2)
        next_id += 1
    assert r.error == f"discover: gave up after 20s: provisioningState is Creating (poll {polls})"
    assert r.status["state"] == "failed" and r.status["lastError"].endswith(f"(poll {polls})")
    # Proportional intervals, never past the deadline, and no activity scheduled after it.
    gaps = [(b - a).total_seconds() for a, b in zip([START, *fires], fires)]
    assert gaps == sorted(gaps) and fires[-1] <= START + dt.timedelta(seconds=20)
    assert 5 <= polls <= 12


def test_a_permanent_failure_stops_the_chain_at_once() -> None:
    r = replay(History(spec()).scheduled(0).completed(0, failed("cluster aks-replay not found")))
    assert r.error == "discover: cluster aks-replay not found"
    assert r.status["state"] == "failed" and r.status["lastError"] == "cluster aks-replay not found"
    assert [a["actionType"] for a in r.actions] == [1, 6]  # nothing new scheduled


def test_transient_failures_are_retried_by_the_host_then_fail_with_the_activitys_message() -> None:
    h = History(spec()).scheduled(0)
    event_id = 0
    for attempt in range(1, 5):
        h.failed(event_id, "Throttled: ARM answered 429 for managedClusters/aks-replay")
        r = replay(h)
        assert r.error is None and [a["actionType"] for a in r.actions] == [1, 6]  # retries are the host's job
        # The extension's retry interceptor: a timer after each failure, then the next attempt.
        at = h.now + dt.timedelta(seconds=1)
        h.timer(event_id + 1, at).fired(event_id + 1, at)
        if attempt < 4:
            h.scheduled(event_id + 2)
        event_id += 2
    r = replay(h)
    assert r.error == "discover: Throttled: ARM answered 429 for managedClusters/aks-replay"
    assert r.status["state"] == "failed"


def test_a_retry_that_succeeds_moves_on(discovered: model.Discovered) -> None:
    at = START + dt.timedelta(seconds=2)
    h = History(spec()).scheduled(0).failed(0, "Unreachable: connection reset").timer(1, at).fired(1, at)
    r = replay(h.scheduled(2).completed(2, done(discovered)))
    assert r.error is None and r.activity_input(-2)["step"] == "federate"


def test_a_delete_during_registration_lets_the_inflight_step_finish_then_deregisters(
        discovered: model.Discovered) -> None:
    h = History(spec()).scheduled(0).raised(EVENT, {"action": "deregister", "id": "e1"})
    r = replay(h)
    assert [a["actionType"] for a in r.actions] == [1, 6], "nothing new while discover is still running"
    h.completed(0, done(discovered))
    r = replay(h)
    assert r.activity_input(-2) == chain.activity_input("deregister", "deregister", REF, {})
    assert r.status["action"] == "deregister" and r.status["step"] == "deregister"
    h.scheduled(1).completed(1, done(model.Deregistered("deleted", "deleted")))
    r = replay(h)
    assert r.state["isDone"] and r.state["output"]["action"] == "deregister"
    assert r.state["output"]["switches"] == 1


def test_a_delete_requested_while_a_step_fails_still_deregisters() -> None:
    h = History(spec()).scheduled(0).raised(EVENT, {"action": "deregister", "id": "e1"})
    r = replay(h.completed(0, failed("identity argocd not found")))
    assert r.error is None and r.activity_input(-2)["chain"] == "deregister"


def test_a_delete_during_a_wait_cancels_the_timer() -> None:
    h = History(spec()).scheduled(0).completed(0, waiting("provisioningState is Creating"))
    timer = replay(h).actions[-2]
    h.timer(1, fire_at(timer)).raised(EVENT, {"action": "deregister", "id": "e1"})
    r = replay(h)
    timers = [a for a in r.actions if a["actionType"] == 5]
    assert len(timers) == 1 and timers[0]["isCanceled"] is True
    assert r.activity_input(-2)["chain"] == "deregister"


def test_a_repeated_request_changes_nothing(discovered: model.Discovered) -> None:
    h = History(spec()).scheduled(0)
    h.raised(EVENT, {"action": "register", "id": "dup"})  # a duplicate of what is running
    h.completed(0, done(discovered))
    r = replay(h)
    assert r.activity_input(-2)["step"] == "federate" and r.status["action"] == "register"


def test_delete_then_write_during_one_step_deregisters_then_registers_again(discovered: model.Discovered) -> None:
    # The cluster was deleted and re-created meanwhile: its server and CA changed, so start over.
    h = History(spec()).scheduled(0).raised(EVENT, {"action": "deregister", "id": "e1"})
    h.raised(EVENT, {"action": "register", "id": "e2"}).completed(0, done(discovered))
    r = replay(h)
    assert r.activity_input(-2)["chain"] == "deregister"
    h.scheduled(1).completed(1, done(model.Deregistered("deleted", "absent")))
    r = replay(h)
    assert r.activity_input(-2) == chain.activity_input("register", "discover", REF, {})
    assert r.status["action"] == "register" and r.status["attempt"] == 1


def test_an_event_seen_once_is_not_taken_again(discovered: model.Discovered) -> None:
    h = History(spec()).scheduled(0).raised(EVENT, {"action": "deregister", "id": "e1"})
    h.raised(EVENT, {"action": "deregister", "id": "e1"}).completed(0, done(discovered))  # redelivered
    h.scheduled(1).completed(1, done(model.Deregistered("deleted", "absent")))
    r = replay(h)
    assert r.state["isDone"] and r.state["output"]["action"] == "deregister" and r.state["output"]["switches"] == 1


def test_replay_is_deterministic(discovered: model.Discovered) -> None:
    h = History(spec()).scheduled(0).completed(0, waiting("Creating"))
    first, second = replay(h), replay(h)
    assert json.dumps(first.state, sort_keys=True) == json.dumps(second.state, sort_keys=True)


def test_the_orchestrator_reads_settings_from_its_input_not_the_environment(
        monkeypatch: pytest.MonkeyPatch, discovered: model.Discovered) -> None:
    for name in config.SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    h = History(spec(WIF_VERIFY="false"))
    for event_id, (step, result) in enumerate(list(results_for(discovered).items())[:5]):
        h.scheduled(event_id).completed(event_id, done(result))
    r = replay(h)
    assert r.state["isDone"] and r.state["output"]["skipped"] == ["verify", "deregister"]


def test_unusable_input_fails_with_a_message_naming_it() -> None:
    r = replay(History({"action": "register", "cluster": "/subscriptions/x", "settings": ENV}))
    assert r.error is not None and r.error.startswith("orchestration input: cluster id")
    r = replay(History({"action": "upgrade", "cluster": CLUSTER, "settings": ENV}))
    assert r.error is not None and "action" in r.error
