"""The local durable host loop: what it runs, retries and fires, against the fake world."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

import pytest

from tests import fakes
from wif_core import errors, model
from wif_functions import activities, appsettings, instances
from wif_sandbox import driver, hostjson

CLUSTER = fakes.cluster_id("aks-driver")
REF = model.ClusterRef.parse(CLUSTER)
IID = instances.instance_id(REF)


def start(host: driver.LocalDurable, action: str = "register") -> instances.Dispatch:
    return asyncio.run(instances.dispatch(host, REF, action, appsettings.snapshot(), "test"))


@pytest.mark.parametrize("schema", [0, 1, 2], ids=["replay-schema-v1", "v2", "v3"])
def test_a_registration_runs_to_completion_under_every_replay_schema(world: fakes.World, clock: driver.VirtualClock,
                                                                     schema: int) -> None:
    world.add_cluster(CLUSTER)
    host = driver.LocalDurable(clock=clock.time, sleep=clock.sleep, schema=schema)
    start(host)
    inst = host.run(IID)
    assert inst.status == "Completed", inst.output
    assert [a["input"]["step"] for a in inst.activities] == [
        "discover", "federate", "await_propagation", "bind_rbac", "verify", "register"]
    assert inst.output["results"]["verify"]["allowed"] is True


def test_transient_errors_are_retried_with_the_steps_backoff(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    world.fail("arm.credentials.put", errors.Throttled("429 from Entra"), errors.Conflict("409 concurrent write"))
    start(host)
    inst = host.run(IID)
    assert inst.status == "Completed"
    federate = [a for a in inst.activities if a["input"]["step"] == "federate"]
    assert [a["attempt"] for a in federate] == [1, 2, 3] and "error" not in federate[-1]
    retry_timers = [e for e in inst.history if e["EventType"] == hostjson.TIMER_CREATED and e.get("Retry")]
    stamps = [dt.datetime.fromisoformat(e["Timestamp"].replace("Z", "+00:00")) for e in retry_timers]
    fires = [dt.datetime.fromisoformat(e["FireAt"].replace("Z", "+00:00")) for e in retry_timers]
    assert [(f - s).total_seconds() for s, f in zip(stamps, fires)] == [1.0, 2.0]  # first 1 s, backoff 2


def test_retries_exhausted_fail_the_run_with_the_error(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    world.fail("arm.cluster.get", *[errors.Unreachable("connection reset by ARM")] * 4)
    start(host)
    inst = host.run(IID)
    assert inst.status == "Failed"
    assert inst.output == "discover: Unreachable: connection reset by ARM"
    assert inst.custom_status["state"] == "failed" and len(inst.activities) == 4


def test_propagation_is_awaited_on_durable_timers(world: fakes.World, host: driver.LocalDurable,
                                                  clock: driver.VirtualClock) -> None:
    world.propagation_delay = 40.0
    world.add_cluster(CLUSTER)
    began = clock.time()
    start(host)
    inst = host.run(IID)
    assert inst.status == "Completed"
    polls = [a for a in inst.activities if a["input"]["step"] == "await_propagation"]
    assert 3 <= len(polls) <= 30 and all(t["FireAt"] for t in inst.timers)
    assert 40.0 <= clock.time() - began <= 40.0 * 1.1 + 2, "noticed within ~10% of the wait"


def test_the_propagation_deadline_fails_with_the_last_aadsts_error(world: fakes.World, clock: driver.VirtualClock,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIF_PROPAGATION_TIMEOUT_SECONDS", "60")
    world.propagation_delay = 10_000.0
    world.add_cluster(CLUSTER)
    host = driver.LocalDurable(clock=clock.time, sleep=clock.sleep)
    start(host)
    inst = host.run(IID)
    assert inst.status == "Failed"
    assert inst.output.startswith("await_propagation: gave up after 60s: AADSTS70021")


def test_a_started_instance_cannot_be_replaced_while_it_runs(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    start(host)
    with pytest.raises(Exception, match="already exists"):
        asyncio.run(host.start_new(instances.ORCHESTRATOR, IID, {"action": "register"}))
    assert start(host).disposition == "absorbed"


def test_run_all_runs_a_fleet_concurrently(world: fakes.World, host: driver.LocalDurable) -> None:
    refs = [world.add_cluster(fakes.cluster_id(f"aks-fleet-{i}")) for i in range(8)]
    for ref in refs:
        asyncio.run(instances.dispatch(host, ref, "register", appsettings.snapshot(), "test"))
    done = host.run_all(workers=4)
    assert len(done) == 9 and {inst.status for inst in done} == {"Completed"}, "8 clusters and the hub's federation"
    assert len(world.credentials) == 2, "the hub's two federated credentials, shared by the whole fleet"
    assert world.calls["arm.credentials.put"] == 2


def test_an_orchestration_waiting_on_a_timer_holds_no_worker(world: fakes.World, host: driver.LocalDurable,
                                                             clock: driver.VirtualClock) -> None:
    """Two clusters still provisioning wait on durable timers; a third, ready one runs meanwhile on the 2 workers."""
    creating = [world.add_cluster(fakes.cluster_id(f"aks-slow-{i}")) for i in range(2)]
    ready = world.add_cluster(fakes.cluster_id("aks-ready"))
    ready_at = clock.time() + 60
    p = world.ports()
    inner = p.clusters

    class Provisioning:
        def get_cluster(self, ref: model.ClusterRef) -> model.ClusterFacts:
            facts = inner.get_cluster(ref)
            slow = ref.key in {c.key for c in creating} and clock.time() < ready_at
            return dataclasses.replace(facts, provisioning_state="Creating") if slow else facts

    p.clusters = Provisioning()
    activities.use(p, appsettings.load())
    order: list[tuple[str, str]] = []
    run_step = host.functions["run_step"]

    def recording(payload: Any) -> Any:
        order.append((model.ClusterRef.parse(payload["cluster"]).name, payload["step"]))
        return run_step(payload)

    host.functions["run_step"] = recording
    for ref in [*creating, ready]:  # the waiting ones first: they would take both workers
        asyncio.run(instances.dispatch(host, ref, "register", appsettings.snapshot(), "test"))
    done = host.run_all(workers=2)
    assert {inst.status for inst in done} == {"Completed"}
    second_discover = min(i for i, (name, step) in enumerate(order)
                          if step == "discover" and name.startswith("aks-slow") and order[:i].count((name, step)))
    ready_steps = [i for i, (name, _) in enumerate(order) if name == "aks-ready"]
    assert len(ready_steps) == 6 and max(ready_steps) < second_discover, order
