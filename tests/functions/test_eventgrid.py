"""``on_cluster_event`` through function_app, with the event objects the Functions worker builds.

Events come from the sample payloads in tests/data/events, retargeted at a fake cluster, and
are turned into ``azure.functions.EventGridEvent`` / ``CloudEvent`` by the library's own
trigger converter, exactly as the worker does before calling the function.
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

import function_app
from tests import fakes
from wif_core import errors, manifests, model
from wif_functions import instances
from wif_sandbox import driver

DATA = Path(__file__).resolve().parents[1] / "data" / "events"
CLUSTER = fakes.cluster_id("aks-events")
REF = model.ClusterRef.parse(CLUSTER)
IID = instances.instance_id(REF)


def sample(name: str, cluster_id: str = CLUSTER, **changes: Any) -> dict[str, Any]:
    """A sample event from tests/data/events, about ``cluster_id`` instead of the sample's cluster."""
    raw = json.loads((DATA / name).read_text())
    event = raw[0] if isinstance(raw, list) else raw
    ref = model.ClusterRef.parse(event["subject"])
    target = model.ClusterRef.parse(cluster_id)
    text = json.dumps(event).replace(ref.id, target.id).replace(ref.subscription_id, target.subscription_id)
    return {**json.loads(text), **changes}


def delivered(event: dict[str, Any]) -> Any:
    """What the worker hands the function: the trigger converter's EventGridEvent or CloudEvent."""
    return EventGridEventInConverter.decode(meta.Datum(type="json", value=json.dumps(event)), trigger_metadata={})


def on_cluster_event() -> Callable[..., Any]:
    for fn in driver.indexed(function_app.app):
        if fn.get_function_name() == "on_cluster_event":
            return fn.get_user_function().client_function  # type: ignore[no-any-return]
    raise LookupError("on_cluster_event")


def deliver(host: driver.LocalDurable, event: dict[str, Any]) -> None:
    assert asyncio.run(on_cluster_event()(event=delivered(event), client=host)) is None


def secret(world: fakes.World) -> Optional[dict[str, Any]]:
    return world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(REF))


@pytest.mark.parametrize("name", ["eventgrid-write-cluster.json", "cloudevents-write-cluster.json"])
def test_a_cluster_write_registers_it(world: fakes.World, host: driver.LocalDurable, name: str) -> None:
    world.add_cluster(CLUSTER)
    event = sample(name)
    assert type(delivered(event)).__name__ == ("CloudEvent" if "cloudevents" in name else "EventGridEvent")
    deliver(host, event)
    assert fakes.cluster_runs(host) == [IID]
    inst = host.run(IID)
    assert json.loads(inst.input or "{}")["source"] == f"eventgrid:{event['id']}"
    assert inst.status == "Completed" and inst.output["action"] == "register"
    assert secret(world) is not None


def test_duplicate_and_update_events_collapse_into_one_run(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    write = sample("eventgrid-write-cluster.json")
    for event in (write, write, write, {**write, "id": "a-later-update"}):  # at-least-once, then an update
        deliver(host, event)
    assert fakes.cluster_runs(host) == [IID]
    host.run(IID)
    assert host.instances[IID].status == "Completed"
    deliver(host, write)  # a write after the run finished: run again (idempotently)
    assert fakes.cluster_runs(host) == [IID, IID]
    assert host.run(IID).output["results"]["register"]["action"] == "unchanged"


def test_a_delete_during_registration_ends_deregistered(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    deliver(host, sample("eventgrid-write-cluster.json"))
    host.run(IID, stop_before=lambda given: given["step"] == "federate")
    deliver(host, sample("eventgrid-delete-cluster.json"))
    deliver(host, sample("eventgrid-delete-cluster.json"))  # redelivered: the signal is not sent twice
    inst = host.run(IID)
    assert inst.status == "Completed" and inst.output["action"] == "deregister" and inst.output["switches"] == 1
    assert [a["input"]["step"] for a in inst.activities] == ["discover", "federate", "deregister"]
    assert secret(world) is None and fakes.cluster_runs(host) == [IID]


def test_a_delete_of_a_cluster_never_registered_is_a_harmless_run(world: fakes.World,
                                                                  host: driver.LocalDurable) -> None:
    deliver(host, sample("eventgrid-delete-cluster.json"))
    inst = host.run(IID)
    assert inst.status == "Completed" and inst.output["results"]["deregister"]["secret"] == "absent"


@pytest.mark.parametrize("change, why", [
    ({"data": "not an object"}, "event data must be an object"),
    ({"subject": fakes.cluster_id("someone-else")}, "name different resources"),
])
def test_events_that_cannot_be_acted_on_are_acknowledged_and_logged_once(
        world: fakes.World, host: driver.LocalDurable, caplog: pytest.LogCaptureFixture,
        change: dict[str, Any], why: str) -> None:
    caplog.set_level(logging.INFO, logger="wif_functions")
    deliver(host, sample("eventgrid-write-cluster.json", **change))
    lines = [r for r in caplog.records if r.name == "wif_functions.eventgrid"]
    assert len(lines) == 1 and why in lines[0].getMessage()
    assert fakes.cluster_runs(host) == []


def test_malformed_events_are_acknowledged_with_one_warning(world: fakes.World, host: driver.LocalDurable,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wif_functions")
    event = sample("eventgrid-write-cluster.json")
    del event["eventTime"]
    deliver(host, event)
    lines = [r for r in caplog.records if r.name == "wif_functions.eventgrid"]
    assert [r.levelname for r in lines] == ["WARNING"] and "eventTime" in lines[0].getMessage()
    assert fakes.cluster_runs(host) == []


def test_events_outside_the_allowed_scopes_and_other_resources_are_ignored(world: fakes.World,
                                                                           host: driver.LocalDurable) -> None:
    other = CLUSTER.replace(fakes.SUB, "99999999-9999-9999-9999-999999999999")
    deliver(host, sample("eventgrid-write-cluster.json", cluster_id=other))
    validation = json.loads((DATA / "eventgrid-subscription-validation.json").read_text())
    deliver(host, validation[0] if isinstance(validation, list) else validation)
    assert fakes.cluster_runs(host) == []


def test_missing_settings_raise_so_event_grid_redelivers(world: fakes.World, host: driver.LocalDurable,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIF_ARGOCD_IDENTITY_ID")
    with pytest.raises(errors.ConfigError, match="WIF_ARGOCD_IDENTITY_ID is not set"):
        asyncio.run(on_cluster_event()(event=delivered(sample("eventgrid-write-cluster.json")), client=host))
