"""wif_core.events: both Event Grid schemas, single or array, every ignore reason, hostile input."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wif_core import errors, events, model

DATA = Path(__file__).resolve().parents[1] / "data" / "events"
SUB = "5f1c7b0e-2d3a-4c8e-9b6f-1a2b3c4d5e6f"
CLUSTER = f"/subscriptions/{SUB}/resourceGroups/rg-platform-dev/providers/Microsoft.ContainerService/managedClusters/aks-dev-01"


def sample(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def eventgrid(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = sample("eventgrid-write-cluster.json")
    data = changes.pop("data", {})
    event.update(changes)
    event["data"].update(data)
    return event


def cloudevent(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = sample("cloudevents-write-cluster.json")
    data = changes.pop("data", {})
    event.update(changes)
    event["data"].update(data)
    return event


def at(rid: str, schema: str = "eventgrid", **changes: Any) -> dict[str, Any]:
    """The write sample pointed at another resource id (subject and resourceUri agree)."""
    make = eventgrid if schema == "eventgrid" else cloudevent
    data = {"resourceUri": rid, **changes.pop("data", {})}
    return make(subject=rid, data=data, **changes)


def one(event: Any, scopes: Any = None) -> events.Decision:
    decisions = events.decide(event, scopes)
    assert len(decisions) == 1
    assert events.classify(event if isinstance(event, dict) else json.loads(event), scopes) == decisions[0]
    return decisions[0]


# ---- the samples ----------------------------------------------------------------------

def test_eventgrid_write_registers() -> None:
    d = one(sample("eventgrid-write-cluster.json"))
    assert d.action == "register" and d.cluster == model.ClusterRef.parse(CLUSTER)
    assert d.event_type == events.WRITE_EVENT and d.event_id.startswith("4f6f9a1e")
    assert d.to_json() == {"action": "register", "cluster": CLUSTER, "reason": d.reason, "id": d.event_id,
                           "type": events.WRITE_EVENT}


def test_eventgrid_delete_deregisters() -> None:
    d = one(sample("eventgrid-delete-cluster.json"))
    assert (d.action, d.cluster and d.cluster.id) == ("deregister", CLUSTER)


def test_cloudevents_write_registers() -> None:
    d = one(sample("cloudevents-write-cluster.json"))
    assert (d.action, d.cluster and d.cluster.id, d.event_type) == ("register", CLUSTER, events.WRITE_EVENT)


@pytest.mark.parametrize("name", ["eventgrid-write-cluster.json", "cloudevents-write-cluster.json"])
def test_bytes_str_and_parsed_payloads_agree(name: str) -> None:
    raw = (DATA / name).read_bytes()
    expected = events.decide(json.loads(raw))
    assert events.decide(raw) == events.decide(raw.decode()) == events.decide(bytearray(raw)) == expected
    assert events.decide(b"\xef\xbb\xbf" + raw) == expected  # a UTF-8 BOM is tolerated
    assert events.decide([json.loads(raw)]) == expected


def test_eventgrid_batch() -> None:
    decisions = events.decide((DATA / "eventgrid-batch.json").read_bytes())
    actions = [(d.action, d.cluster.name if d.cluster else None) for d in decisions]
    assert actions == [("register", "aks-dev-01"), ("ignore", None), ("ignore", None), ("ignore", "aks-dev-01"),
                       ("ignore", "aks-dev-02"), ("ignore", None), ("deregister", "aks-old-07")]


def test_cloudevents_batch() -> None:
    decisions = events.decide((DATA / "cloudevents-batch.json").read_text())
    assert [d.action for d in decisions] == ["register", "ignore", "ignore", "deregister"]
    assert "agent pool 'system'" in decisions[1].reason and "runCommand/action" in decisions[2].reason


def test_parse_returns_the_events_unchanged() -> None:
    batch = sample("eventgrid-batch.json")
    assert events.parse(json.dumps(batch)) == batch
    assert events.parse(sample("cloudevents-write-cluster.json")) == [sample("cloudevents-write-cluster.json")]


def test_importing_events_does_not_load_the_sdk() -> None:
    code = "import sys, wif_core.events; print(any(m.startswith('azure') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---- every ignore reason --------------------------------------------------------------

POOL = CLUSTER + "/agentPools/userpool1"
IGNORED = {
    "agent pool": (at(POOL, data={"operationName": "Microsoft.ContainerService/managedClusters/agentPools/write"}),
                   "agent pool 'userpool1' of cluster 'aks-dev-01'"),
    "agent pool, cloudevents": (at(POOL, "cloudevents"), "agent pool"),
    "maintenance config": (at(CLUSTER + "/maintenanceConfigurations/default"), "child resource 'maintenanceConfigurations'"),
    "role assignment on the cluster": (at(CLUSTER + "/providers/Microsoft.Authorization/roleAssignments/0e8a4c1d"),
                                       "extension resource 'Microsoft.Authorization/roleAssignments'"),
    "tags on the cluster": (at(CLUSTER + "/providers/Microsoft.Resources/tags/default",
                               data={"operationName": "Microsoft.Resources/tags/write"}), "extension resource"),
    "storage account": (at(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"),
                        "resource type 'Microsoft.Storage/storageAccounts' is not an AKS managed cluster"),
    "arc cluster": (at(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1"),
                    "'Microsoft.Kubernetes/connectedClusters'"),
    "fleet": (at(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/fleets/f1"),
              "'Microsoft.ContainerService/fleets'"),
    "resource group": (at(f"/subscriptions/{SUB}/resourceGroups/rg"), "not a provider resource"),
    "deployment": (at(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Resources/deployments/aks-dev-01"),
                   "an ARM deployment"),
    "validation": (sample("eventgrid-subscription-validation.json")[0], "subscription lifecycle event"),
    "subscription deleted": (eventgrid(eventType="Microsoft.EventGrid.SubscriptionDeletedEvent", subject="",
                                       data={"eventSubscriptionId": "/x"}), "subscription lifecycle event"),
    "write failure": (eventgrid(eventType="Microsoft.Resources.ResourceWriteFailure", data={"status": "Failed"}),
                      "did not succeed (Microsoft.Resources.ResourceWriteFailure)"),
    "write cancel": (eventgrid(eventType="Microsoft.Resources.ResourceWriteCancel", data={"status": "Canceled"}),
                     "did not succeed"),
    "delete failure": (eventgrid(eventType="Microsoft.Resources.ResourceDeleteFailure"), "did not succeed"),
    "delete cancel, cloudevents": (cloudevent(type="Microsoft.Resources.ResourceDeleteCancel"), "did not succeed"),
    "list credentials": (eventgrid(eventType="Microsoft.Resources.ResourceActionSuccess", data={
        "operationName": "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action"}),
        "a resource action ('Microsoft.ContainerService/managedClusters/listClusterUserCredential/action')"),
    "run command": (cloudevent(type="Microsoft.Resources.ResourceActionSuccess", data={
        "operationName": "Microsoft.ContainerService/managedClusters/runCommand/action"}), "runCommand/action"),
    "action failure": (eventgrid(eventType="Microsoft.Resources.ResourceActionFailure"), "a resource action"),
    "status not succeeded": (eventgrid(data={"status": "Failed"}), "operation status is 'Failed', not Succeeded"),
    "wrong operation": (eventgrid(data={"operationName": "Microsoft.ContainerService/managedClusters/delete"}),
                        "is not Microsoft.ContainerService/managedClusters/write"),
    "operation not a string": (eventgrid(data={"operationName": 7}), "operation 7 is not"),
    "delete with write operation": (eventgrid(eventType=events.DELETE_EVENT),
                                    "is not Microsoft.ContainerService/managedClusters/delete"),
    "other event type": (eventgrid(eventType="Microsoft.Storage.BlobCreated"),
                         "event type 'Microsoft.Storage.BlobCreated' is not handled"),
    "subject and resourceUri differ": (eventgrid(subject=CLUSTER.replace("aks-dev-01", "aks-dev-02")),
                                       "name different resources"),
    "no resource id": (eventgrid(subject="", data={"resourceUri": None}), "names no resource"),
    "resourceUri not a string": (eventgrid(data={"resourceUri": ["x"]}), "data.resourceUri must be a string"),
    "data not an object": (eventgrid() | {"data": "hello"}, "event data must be an object, got str"),
    "data null": (eventgrid() | {"data": None}, "event data must be an object, got NoneType"),
    "subscriptionId mismatch": (eventgrid(data={"subscriptionId": "00000000-0000-0000-0000-000000000000"}),
                                "data.subscriptionId '00000000-0000-0000-0000-000000000000' is not the cluster's"),
    "topic of another subscription": (eventgrid(topic="/subscriptions/00000000-0000-0000-0000-000000000000"),
                                      "is another subscription"),
    "source of another subscription": (cloudevent(source="/subscriptions/00000000-0000-0000-0000-000000000000"),
                                       "is another subscription"),
}


@pytest.mark.parametrize("name", sorted(IGNORED))
def test_ignored_with_a_reason(name: str) -> None:
    event, reason = IGNORED[name]
    d = one(copy.deepcopy(event))
    assert d.action == "ignore", d
    assert reason in d.reason, d.reason
    assert "\n" not in d.reason and len(d.reason) < 400
    assert d.to_json()["action"] == "ignore"


def test_ignore_keeps_the_cluster_when_it_is_one() -> None:
    d = one(eventgrid(eventType="Microsoft.Resources.ResourceWriteFailure"))
    assert d.cluster is not None and d.cluster.id == CLUSTER and d.to_json()["cluster"] == CLUSTER
    assert one(at(POOL)).to_json()["cluster"] is None


def test_status_missing_is_accepted_and_case_does_not_matter() -> None:
    event = eventgrid()
    del event["data"]["status"], event["data"]["operationName"]
    assert one(event).action == "register"
    assert one(eventgrid(data={"status": "succeeded", "operationName": events.WRITE_OPERATION.upper()})).action == "register"


# ---- case-insensitivity ----------------------------------------------------------------

def test_ids_and_types_compare_case_insensitively() -> None:
    upper = CLUSTER.upper().replace("SUBSCRIPTIONS", "subscriptions")
    d = one(eventgrid(subject=CLUSTER.lower(), eventType=events.WRITE_EVENT.lower(), data={"resourceUri": upper}))
    assert d.action == "register" and d.cluster is not None
    assert d.cluster.key == CLUSTER.lower()
    assert one(at(CLUSTER.lower(), "cloudevents")).cluster == model.ClusterRef.parse(CLUSTER.lower())
    assert one(at(POOL.upper())).action == "ignore"


# ---- scopes -------------------------------------------------------------------------

def test_scopes_filter() -> None:
    same_rg = [model.Scope.parse(f"/subscriptions/{SUB}/resourceGroups/RG-PLATFORM-DEV")]
    assert one(eventgrid(), same_rg).action == "register"
    assert one(eventgrid(), [model.Scope.parse(f"/subscriptions/{SUB.upper()}")]).action == "register"
    other = [model.Scope.parse(f"/subscriptions/{SUB}/resourceGroups/rg-other"),
             model.Scope.parse("/subscriptions/00000000-0000-0000-0000-000000000000")]
    d = one(sample("eventgrid-delete-cluster.json"), other)
    assert d.action == "ignore" and "WIF_ALLOWED_SCOPES" in d.reason and "rg-other" in d.reason
    assert d.cluster is not None and d.cluster.id == CLUSTER
    assert one(eventgrid(), []).action == "ignore"  # an empty list allows nothing; None filters nothing
    assert one(eventgrid(), None).action == "register"


# ---- hostile ids: well-formed events, ids that fail validation -> ignore ---------------

HOSTILE_IDS = [
    CLUSTER + "/../../managedClusters/other",
    CLUSTER.replace("/managedClusters/aks-dev-01", "/managedClusters/..%2F..%2Fother"),
    CLUSTER.replace("rg-platform-dev", "rg-platform-dev/../rg-prod"),
    CLUSTER.replace("rg-platform-dev", "rg%2Fplatform"),
    CLUSTER + "?api-version=2024-05-01",
    CLUSTER + "#fragment",
    CLUSTER + "/agentPools",
    CLUSTER + "/x/y/z/w",
    CLUSTER.replace(SUB, "not-a-guid"),
    CLUSTER.replace(SUB, SUB + "0"),
    CLUSTER.replace("aks-dev-01", "a" * 64),
    CLUSTER.replace("aks-dev-01", "-bad"),
    CLUSTER.replace("aks-dev-01", "aks\u0430dev"),  # Cyrillic a
    CLUSTER.replace("aks-dev-01", "aks dev"),
    CLUSTER.replace("aks-dev-01", "aks-dev-01\x00"),
    CLUSTER.replace("aks-dev-01", "aks-dev-01\nINJECTED"),
    CLUSTER.replace("aks-dev-01", "$(id)"),
    "https://management.azure.com" + CLUSTER,
    "//" + CLUSTER,
    CLUSTER.replace("/subscriptions/", "/subscriptions//"),
    CLUSTER + "x" * 2000,
]


@pytest.mark.parametrize("rid", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
@pytest.mark.parametrize("schema", ["eventgrid", "cloudevents"])
def test_hostile_ids_are_ignored_with_a_one_line_reason(rid: str, schema: str) -> None:
    d = one(at(rid, schema))
    assert d.action == "ignore" and d.cluster is None, d
    assert "\n" not in d.reason and len(d.reason) < 400, d.reason
    line = json.dumps(d.to_json())
    assert "\n" not in line


def test_an_invalid_cluster_id_says_so() -> None:
    d = one(at(CLUSTER.replace(SUB, "not-a-guid")))
    assert d.reason.startswith("invalid cluster id: cluster id '/subscriptions/not-a-guid/")


# ---- not Event Grid at all -> BadInput, one line ---------------------------------------

def _deep(n: int) -> str:
    return "[" * n + "]" * n


MALFORMED: dict[str, object] = {
    "empty bytes": b"",
    "blank": "  \n ",
    "not json": "{nope",
    "truncated": (DATA / "eventgrid-write-cluster.json").read_text()[:300],
    "number": "42",
    "string": '"hello"',
    "null": "null",
    "empty array": "[]",
    "empty object": "{}",
    "array of numbers": "[1, 2]",
    "array with a non-event": json.dumps([sample("eventgrid-write-cluster.json"), {"hello": "world"}]),
    "nested arrays": json.dumps([[sample("eventgrid-write-cluster.json")]]),
    "invalid utf-8": b'{"id": "\xff\xfe"}',
    "NaN": '{"eventType": NaN}',
    "duplicate subject": '{"id":"1","eventType":"x","subject":"a","subject":"b","eventTime":"2024-01-01T00:00:00Z","data":{}}',
    "too deep": _deep(100_000),
    "too big": b" " * (events.MAX_BYTES + 1),
    "too big str": "[" + " " * events.MAX_BYTES + "]",
    "too many events": json.dumps([{"id": str(i)} for i in range(events.MAX_EVENTS + 1)]),
    "eventgrid without id": json.dumps({k: v for k, v in sample("eventgrid-write-cluster.json").items() if k != "id"}),
    "eventgrid without eventTime": json.dumps({k: v for k, v in sample("eventgrid-write-cluster.json").items()
                                              if k != "eventTime"}),
    "eventgrid without data": json.dumps({k: v for k, v in sample("eventgrid-write-cluster.json").items() if k != "data"}),
    "eventgrid without subject": json.dumps({k: v for k, v in sample("eventgrid-write-cluster.json").items()
                                            if k != "subject"}),
    "eventgrid bad time": json.dumps(eventgrid(eventTime="yesterday")),
    "eventgrid id not a string": json.dumps(eventgrid(id=12)),
    "eventgrid subject not a string": json.dumps(eventgrid(subject={"a": 1})),
    "eventgrid type empty": json.dumps(eventgrid(eventType="")),
    "cloudevents wrong version": json.dumps(cloudevent(specversion="0.3")),
    "cloudevents without source": json.dumps({k: v for k, v in sample("cloudevents-write-cluster.json").items()
                                             if k != "source"}),
    "cloudevents without type": json.dumps({k: v for k, v in sample("cloudevents-write-cluster.json").items()
                                           if k != "type"}),
    "cloudevents bad time": json.dumps(cloudevent(time="garbage")),
    "cloudevents bad extension": json.dumps(cloudevent() | {"Bad-Extension": 1}),
    "cloudevents data and data_base64": json.dumps(cloudevent() | {"data_base64": "e30="}),
    "cloudevents type not a string": json.dumps(cloudevent(type=["x"])),
    "parsed non-json": {"eventType": object()},
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_payloads_are_bad_input_in_one_line(name: str) -> None:
    with pytest.raises(errors.BadInput) as info:
        events.decide(MALFORMED[name])
    message = info.value.message
    assert message and "\n" not in message and len(message) < 400, message
    with pytest.raises(errors.BadInput):
        events.parse(MALFORMED[name])


def test_bad_input_names_the_event_in_a_batch() -> None:
    with pytest.raises(errors.BadInput, match=r"^event #2: not an Event Grid event"):
        events.decide([sample("eventgrid-write-cluster.json"), {"hello": "world"}])


def test_classify_rejects_a_non_event() -> None:
    with pytest.raises(errors.BadInput, match="not an Event Grid event"):
        events.classify({"subject": CLUSTER})


def test_limits_are_inclusive() -> None:
    batch = [sample("eventgrid-write-cluster.json")] * 3
    assert len(events.decide(json.dumps(batch))) == 3
    padded = json.dumps(sample("eventgrid-write-cluster.json"))
    padded += " " * (events.MAX_BYTES - len(padded))
    assert events.decide(padded.encode())[0].action == "register"


def test_cloudevents_data_base64_is_decoded() -> None:
    import base64

    event = cloudevent()
    event["data_base64"] = base64.b64encode(json.dumps(event.pop("data")).encode()).decode()
    assert one(event).action == "register"
