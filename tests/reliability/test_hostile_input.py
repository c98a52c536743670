"""Hostile input corpus: generated malformed and malicious input at every entry point.

Resource ids, Event Grid payloads (both schemas), the CLI's ``event`` command and
the function app's HTTP routes. The property everywhere: never a traceback, never
a write, always a clear one-line rejection (``errors.BadInput``, exit 2, HTTP 4xx
with an ``error`` string) or an ``ignore`` with a reason.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sys
import urllib.parse
from unittest import mock

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fakes
from wif_core import cli, config, errors, events, model
from wif_functions import activities, eventgrid, http_api
from wif_sandbox import driver

# Derandomized and without an example database: CI sees the same ~1,700 examples on every run.
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

GUID = st.from_regex(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", fullmatch=True)
RG = st.from_regex(r"[-A-Za-z0-9_.()]{0,20}[-A-Za-z0-9_()]", fullmatch=True)
AKS = st.from_regex(r"[A-Za-z0-9]([-_A-Za-z0-9]{0,20}[A-Za-z0-9])?", fullmatch=True)
VALID_IDS = st.builds(
    lambda sub, rg, name: f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}",
    GUID, RG, AKS)

# Things attackers and broken producers put into ids.
INSERTS = ["../", "..%2F", "%2e%2e/", "/", "//", "\x00", "%00", "?api-version=2024-01-01", "#frag", "/agentPools/np1",
           "/../../managedClusters/other", " ", "\t", "\n", "\r\n", "\u202e", "\u200b", "\ufeff", "\u0430", "\u212a",
           "'", '"', ";rm -rf /", "$(id)", "`id`", "<script>", "{{7*7}}", "${jndi:ldap://x}", "\\", ":", "@", "*"]
WRONG_PROVIDERS = ["Microsoft.Compute/virtualMachines", "Microsoft.ContainerService/fleets",
                   "Microsoft.Kubernetes/connectedClusters", "Microsoft.ContainerService/managedClusters/x/agentPools",
                   "Microsoft.ContainerServic/managedClusters", "Microsoft.ContainerService/managedClusters/"]


@st.composite
def mutated_ids(draw: st.DrawFn) -> str:
    """A valid cluster id with one hostile edit: inserted, replaced, encoded, truncated or blown up."""
    value = draw(VALID_IDS)
    how = draw(st.sampled_from(["insert", "replace-provider", "encode", "truncate", "repeat", "case", "text"]))
    if how == "insert":
        at = draw(st.integers(0, len(value)))
        return value[:at] + draw(st.sampled_from(INSERTS)) + value[at:]
    if how == "replace-provider":
        return value.replace("Microsoft.ContainerService/managedClusters", draw(st.sampled_from(WRONG_PROVIDERS)))
    if how == "encode":
        return urllib.parse.quote(value, safe=draw(st.sampled_from(["", "/", ":"])))
    if how == "truncate":
        return value[:draw(st.integers(0, len(value)))]
    if how == "repeat":
        return value * draw(st.integers(2, 20)) + "x" * draw(st.sampled_from([0, 1024, 100_000]))
    if how == "case":
        return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in value)
    return draw(st.text(max_size=300))


NON_STRINGS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=64),
                        st.lists(st.text(max_size=10), max_size=3), st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                                                                     max_size=3))

_SAFE_COMPONENT = re.compile(r"[-\w.()]+", re.ASCII)


@SETTINGS
@given(st.one_of(mutated_ids(), VALID_IDS, NON_STRINGS))
def test_cluster_ref_parse_rejects_with_bad_input_only(value: object) -> None:
    try:
        ref = model.ClusterRef.parse(value)
    except errors.BadInput as e:
        assert e.message and "\n" not in e.message and len(e.message) < 400, e.message
        return
    # Accepted: nothing was dropped or reinterpreted, and the id round-trips.
    assert isinstance(value, str)
    assert ref.key == value.strip().rstrip("/").lower()
    assert model.ClusterRef.parse(ref.id) == ref and model.ClusterRef.parse(ref.id.upper()).key == ref.key
    for part in (ref.subscription_id, ref.resource_group, ref.name):
        assert _SAFE_COMPONENT.fullmatch(part), part  # no '/', '%', '?', NUL, whitespace or non-ASCII
    assert not ref.resource_group.endswith(".") and re.fullmatch(r"[A-Za-z0-9]([-\w]*[A-Za-z0-9])?", ref.name, re.ASCII)


@SETTINGS
@given(VALID_IDS)
def test_valid_cluster_ids_round_trip(value: str) -> None:
    ref = model.ClusterRef.parse(value)
    assert ref.id.lower() == value.lower() and model.ClusterRef.parse(ref.id) == ref
    assert model.ClusterRef.parse(f"  {value}/ ") == ref



# ---- Event Grid payloads ---------------------------------------------------------------------

SCOPES = (model.Scope.parse(f"/subscriptions/{fakes.SUB}"),)
OTHER_SUB = "99999999-9999-9999-9999-999999999999"
IN_SCOPE_IDS = st.builds(lambda rg, name: fakes.cluster_id(name, rg), RG, AKS)
EVENT_KINDS = [
    (events.WRITE_EVENT, events.WRITE_OPERATION), (events.DELETE_EVENT, events.DELETE_OPERATION),
    (events.WRITE_EVENT, events.DELETE_OPERATION), ("Microsoft.Resources.ResourceWriteFailure", events.WRITE_OPERATION),
    ("Microsoft.Resources.ResourceActionSuccess", "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action"),
    ("Microsoft.EventGrid.SubscriptionValidationEvent", None), ("Microsoft.Storage.BlobCreated", None),
    ("microsoft.resources.resourcewritesuccess", events.WRITE_OPERATION.upper()),
]


@st.composite
def resource_ids(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["in-scope", "other-sub", "mutated", "nested", "text"]))
    if kind == "in-scope":
        return draw(IN_SCOPE_IDS)
    if kind == "other-sub":
        return draw(IN_SCOPE_IDS).replace(fakes.SUB, OTHER_SUB)
    if kind == "nested":  # agent pools, extensions, deeper children, traversal back up
        child = draw(st.sampled_from([
            "/agentPools/np1", "/agentPools/np1/machines/m0", "/providers/Microsoft.KubernetesConfiguration/extensions/flux",
            "/maintenanceConfigurations/default", "/../other", "/./", "/agentPools/..", "/agentPools/np1?x=1",
            "%2FagentPools%2Fnp1"]))
        return draw(IN_SCOPE_IDS) + child
    if kind == "mutated":
        return draw(mutated_ids())
    return draw(st.text(max_size=200))


# Built once: long enough to hit every size limit (a 64 KiB body, a 1 MiB delivery), cheap to draw.
HUGE = ("x" * 70_000, "\u00e9" * 600_000, "\x00" * 1_100_000, "/subscriptions/" * 5_000)
HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.text(max_size=80),
    resource_ids(), st.lists(st.text(max_size=8), max_size=3), st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.sampled_from(HUGE),
    st.sampled_from(["\x00", "\x00" * 1000, "\u202e\u200b\ufeff", "../../../etc/passwd", "%2e%2e%2f", "1.0", "2.0", ""]),
)
EVENTGRID_FIELDS = [("id",), ("eventType",), ("subject",), ("eventTime",), ("topic",), ("dataVersion",), ("data",),
                    ("data", "resourceUri"), ("data", "operationName"), ("data", "status"), ("data", "subscriptionId"),
                    ("metadataVersion",), ("specversion",)]
CLOUDEVENTS_FIELDS = [("id",), ("type",), ("source",), ("subject",), ("time",), ("specversion",), ("data",),
                      ("data", "resourceUri"), ("data", "operationName"), ("data", "status"), ("data", "subscriptionId"),
                      ("data_base64",), ("datacontenttype",), ("eventType",)]


def _event(schema: str, rid: str, etype: str, op: str | None, event_id: str) -> dict[str, object]:
    data: dict[str, object] = {"resourceUri": rid, "status": "Succeeded", "subscriptionId": fakes.SUB,
                               "resourceProvider": "Microsoft.ContainerService"}
    if op is not None:
        data["operationName"] = op
    if schema == "eventgrid":
        return {"id": event_id, "eventType": etype, "subject": rid, "eventTime": "2024-05-14T09:12:31.4417396Z",
                "topic": f"/subscriptions/{fakes.SUB}", "dataVersion": "2", "metadataVersion": "1", "data": data}
    return {"specversion": "1.0", "id": event_id, "type": etype, "source": f"/subscriptions/{fakes.SUB}", "subject": rid,
            "time": "2024-05-14T09:12:31.4417396Z", "datacontenttype": "application/json", "data": data}


@st.composite
def hostile_events(draw: st.DrawFn) -> dict[str, object]:
    schema = draw(st.sampled_from(["eventgrid", "cloudevents"]))
    etype, op = draw(st.sampled_from(EVENT_KINDS))
    event = _event(schema, draw(resource_ids()), etype, op, draw(st.sampled_from(["e-1", "4f6f9a1e-5b2c"])))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(EVENTGRID_FIELDS if schema == "eventgrid" else CLOUDEVENTS_FIELDS))
        parent: object = event
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        if draw(st.booleans()):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(HOSTILE_VALUES)
    return event


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@st.composite
def payloads(draw: st.DrawFn) -> object:
    """One event or an array, as parsed JSON, text or bytes; or something that is not events at all."""
    items = draw(st.lists(hostile_events(), min_size=1, max_size=4))
    value: object = items[0] if len(items) == 1 and draw(st.booleans()) else items
    form = draw(st.sampled_from(["object", "text", "bytes", "bytes-bom", "bytes-broken", "duplicate-key", "nan",
                                 "nested", "huge", "scalar", "empty", "garbage"]))
    if form == "object":
        return value
    text = json.dumps(value)
    if form == "text":
        return text
    if form == "bytes":
        return text.encode()
    if form == "bytes-bom":
        return b"\xef\xbb\xbf" + text.encode()
    if form == "bytes-broken":
        raw = text.encode()
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + raw[at:]
    if form == "duplicate-key":
        return text.replace('"subject": ', '"subject": "/x", "subject": ', 1)
    if form == "nan":
        return text.replace('"2"', "NaN", 1).replace('"1.0"', "Infinity", 1)
    if form == "nested":
        return _nested(draw(st.sampled_from([10, 5000, 200_000])))
    if form == "huge":
        return json.dumps([items[0]] * 6000) if draw(st.booleans()) else text + " " * (events.MAX_BYTES + 1)
    if form == "scalar":
        return draw(st.sampled_from(["null", "1", '"text"', "true", "[]", "{}", "[[]]", "[1, 2]", "[null]"]))
    if form == "empty":
        return draw(st.sampled_from(["", " \n\t", b"", b"\xef\xbb\xbf"]))
    return draw(st.one_of(st.text(max_size=200), st.binary(max_size=200)))


def _one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message and "Traceback" not in message, message
    assert len(message) <= 600, message


def _count(payload: object) -> int | None:
    """How many events the payload holds, when it is JSON we can read here too."""
    try:
        data = json.loads(payload) if isinstance(payload, (str, bytes)) else payload
    except (ValueError, RecursionError):
        return None
    return len(data) if isinstance(data, list) else 1


def check_decisions(payload: object, decisions: list[events.Decision]) -> None:
    n = _count(payload)
    assert n is None or len(decisions) == n
    for d in decisions:
        assert d.action in ("register", "deregister", "ignore")
        _one_line(d.reason)
        json.dumps(d.to_json())
        if d.action != "ignore":  # only ever a strictly parsed cluster inside the allowed scopes
            assert d.cluster is not None and any(scope.contains(d.cluster) for scope in SCOPES)
            assert model.ClusterRef.parse(d.cluster.id) == d.cluster


@SETTINGS
@given(payloads())
def test_decide_rejects_or_ignores_hostile_payloads(payload: object) -> None:
    try:
        decisions = events.decide(payload, SCOPES)
    except errors.BadInput as e:
        _one_line(e.message)
        return
    check_decisions(payload, decisions)


@SETTINGS
@given(hostile_events())
def test_decide_acts_only_on_the_exact_cluster_named(event: dict[str, object]) -> None:
    try:
        (decision,) = events.decide(event, SCOPES)
    except errors.BadInput as e:
        _one_line(e.message)
        return
    check_decisions(event, [decision])
    if decision.action != "ignore":
        data = event.get("data")
        named = data.get("resourceUri") if isinstance(data, dict) and data.get("resourceUri") else event.get("subject")
        assert isinstance(named, str) and decision.cluster is not None
        assert named.strip().rstrip("/").lower() == decision.cluster.key  # nothing dropped, nothing decoded


# ---- the CLI: python -m wif_core event - ------------------------------------------------------

SMALL = settings(SETTINGS, max_examples=120)
CLI_ENV = {"WIF_HUB_CLUSTER_ID": fakes.HUB_ID, "WIF_ARGOCD_IDENTITY_ID": fakes.IDENTITY_ID,
           "WIF_ALLOWED_SCOPES": f"/subscriptions/{fakes.SUB}"}


def _as_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes):
        return payload
    return (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8", "surrogatepass")


def run_cli(argv: list[str], stdin: bytes, world: fakes.World) -> tuple[int, str, str]:
    """``python -m wif_core ...`` in-process, with byte streams encoded as a real process would."""
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    with mock.patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")):
        code = cli.main(argv, env=CLI_ENV, ports_factory=lambda s: world.ports(), stdout=stdout, stderr=stderr)
    return code, out.getvalue().decode(), err.getvalue().decode()


def _state(world: fakes.World) -> object:
    return (repr(world.objects), repr(world.credentials), repr(world.assignments))


@SMALL
@given(payloads())
def test_cli_event_rejects_in_one_line_and_never_writes(payload: object) -> None:
    raw = _as_bytes(payload)
    try:
        expected = events.decide(raw, SCOPES)
    except errors.BadInput:
        expected = None
    for argv in (["event", "-", "--dry-run"], ["event", "-"]):
        world = fakes.World()  # no target cluster exists: a chain that runs must find nothing to change
        before = _state(world)
        code, out, err = run_cli(argv, raw, world)
        assert "Traceback" not in out + err
        if expected is None:
            assert code == 2 and out == "", (code, out)
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), err
            _one_line(lines[0])
            assert sum(world.calls.values()) == 0
            continue
        rows = [json.loads(line) for line in out.splitlines()]
        assert [(r["action"], r["cluster"]) for r in rows] == [
            (d.action, d.cluster.id if d.cluster else None) for d in expected]
        assert all(r["reason"] for r in rows if r["action"] == "ignore")
        actionable = any(d.action != "ignore" for d in expected)
        if "--dry-run" in argv or not actionable:
            assert code == 0 and err == "" and sum(world.calls.values()) == 0, (code, err)
        else:
            assert code in (0, 1) and err.endswith("\n")
        assert _state(world) == before
        if not actionable:
            assert world.writes() == 0


# ---- the function app: HTTP routes and the Event Grid trigger --------------------------------

# What the host's HTTP parser lets through: any token (it rejects CR, LF and spaces itself).
ODD_METHODS = ["PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "post", "Delete", "", "PROPFIND", "M-SEARCH", "X" * 300]
COLLECTION_METHODS = st.one_of(st.just("POST"), st.just("POST"), st.sampled_from(["GET", "DELETE"] + ODD_METHODS))
CONTENT_TYPES = st.one_of(st.just("application/json"), st.just("application/json; charset=utf-8"),
                          st.sampled_from(["", "text/plain", "application/xml", "multipart/form-data"]))
ITEM_METHODS = st.one_of(st.sampled_from(["POST", "DELETE", "GET"]), st.sampled_from(ODD_METHODS))


def _app_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in config.SETTING_NAMES}
    return {**env, **CLI_ENV}


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """What a caller might POST to /api/clusters: the right shape with a hostile id, wrong shapes, not JSON."""
    form = draw(st.sampled_from(["id", "id", "id", "wrong-key", "wrong-shape", "extra", "text", "binary", "huge",
                                 "nested", "nan", "duplicate", "empty", "bom"]))
    cluster = draw(st.one_of(resource_ids(), HOSTILE_VALUES))
    if form == "id":
        return json.dumps({"clusterId": cluster}).encode("utf-8", "surrogatepass")
    if form == "wrong-key":
        return json.dumps({draw(st.sampled_from(["clusterid", "cluster", "id", "ClusterId", ""])): cluster}).encode()
    if form == "wrong-shape":
        return json.dumps(draw(st.sampled_from([[cluster], cluster, [{"clusterId": cluster}], None]))).encode()
    if form == "extra":
        return json.dumps({"clusterId": cluster, "action": "deregister", "__proto__": {}, "settings": {"x": 1}}).encode()
    if form == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if form == "binary":
        return draw(st.binary(max_size=200))
    if form == "huge":
        return json.dumps({"clusterId": fakes.cluster_id("ok"), "pad": "x" * http_api.MAX_BODY}).encode()
    if form == "nested":
        return ('{"clusterId": ' + _nested(draw(st.sampled_from([50, 20_000, 60_000]))) + "}").encode()
    if form == "nan":
        return draw(st.sampled_from([b'{"clusterId": NaN}', b'{"clusterId": Infinity}', b"NaN", b"-Infinity"]))
    if form == "duplicate":
        return ('{"clusterId": "/x", "clusterId": ' + json.dumps(draw(resource_ids())) + "}").encode()
    if form == "empty":
        return draw(st.sampled_from([b"", b" ", b"\n", b"{}", b"null"]))
    return b"\xef\xbb\xbf" + json.dumps({"clusterId": fakes.cluster_id("bom")}).encode()


def _legit(raw_id: object) -> bool:
    try:
        ref = model.ClusterRef.parse(raw_id)
    except errors.BadInput:
        return False
    return any(scope.contains(ref) for scope in SCOPES)


def _strict(pairs: list[tuple[str, object]]) -> dict[str, object]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key")
    return dict(pairs)


def call(handler: object, request: func.HttpRequest, host: driver.LocalDurable,
         exists: object = None) -> func.HttpResponse:
    """The handler with the app's settings, on a fake world where ``exists`` (a legit id) is a cluster."""
    world = fakes.World()
    if exists is not None:
        world.add_cluster(str(exists))
    activities.use(world.ports(), config.Settings.from_env(CLI_ENV))
    try:
        with mock.patch.dict(os.environ, _app_env(), clear=True):
            response = asyncio.run(handler(request, host))  # type: ignore[operator]
    finally:
        activities.use(None)
    assert isinstance(response, func.HttpResponse)
    return response


def check_refusal(response: func.HttpResponse, statuses: tuple[int, ...]) -> None:
    assert response.status_code in statuses, (response.status_code, response.get_body()[:300])
    assert response.mimetype == "application/problem+json"
    doc = json.loads(response.get_body())
    assert isinstance(doc, dict) and isinstance(doc.get("detail"), str) and doc.get("status") == response.status_code
    _one_line(doc["detail"])


@pytest.fixture(scope="module")
def host_factory() -> object:
    clock = driver.VirtualClock()
    return lambda: driver.LocalDurable(clock=clock.time, sleep=clock.sleep)


@SMALL
@given(method=COLLECTION_METHODS, body=bodies(), media=CONTENT_TYPES)
def test_http_collection_refuses_hostile_requests(host_factory: object, method: str, body: bytes, media: str) -> None:
    host = host_factory()  # type: ignore[operator]
    request = func.HttpRequest(method=method, url="http://localhost:7071/api/clusters", body=body,
                               headers={"Content-Type": media} if media else {})
    try:
        parsed = json.loads(body.decode("utf-8"), object_pairs_hook=_strict)  # a BOM is refused, like any non-JSON
    except (ValueError, RecursionError):
        parsed = None
    wanted = isinstance(parsed, dict) and _legit(parsed.get("clusterId"))
    response = call(http_api.collection, request, host, exists=parsed["clusterId"] if wanted else None)  # type: ignore[index]
    if method.upper() == "GET":
        assert response.status_code == 200 and json.loads(response.get_body()) == {"clusters": []}
    elif method.upper() != "POST":
        check_refusal(response, (405,))
        assert response.headers["Allow"] == "GET, POST"
    elif not media.lower().startswith("application/json"):
        check_refusal(response, (415,))
    elif len(body) <= http_api.MAX_BODY and wanted:
        assert response.status_code == 202 and len(fakes.cluster_runs(host)) == 1
        return
    else:
        check_refusal(response, (400, 403))
    assert fakes.cluster_runs(host) == [] and host.instances == {}


@SMALL
@given(method=ITEM_METHODS, subscription=st.one_of(st.just(fakes.SUB), st.text(max_size=60), st.sampled_from(INSERTS)),
       group=st.one_of(RG, st.text(max_size=60), st.sampled_from(INSERTS)),
       name=st.one_of(AKS, st.text(max_size=60), st.sampled_from(INSERTS + ["hub/agentPools/np1", "a%2F..%2Fb"])))
def test_http_item_refuses_hostile_ids(host_factory: object, method: str, subscription: str, group: str, name: str) -> None:
    host = host_factory()  # type: ignore[operator]
    params = {"subscription": subscription, "resourceGroup": group, "name": name}
    request = func.HttpRequest(method=method, url="http://localhost:7071/api/clusters/x/y/z", body=b"",
                               route_params=params)
    rid = f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{name}"
    response = call(http_api.item, request, host, exists=rid if _legit(rid) else None)
    if method.upper() not in ("POST", "DELETE", "GET"):
        check_refusal(response, (405,))
        assert response.headers["Allow"] == "GET, POST, DELETE"
    elif method.upper() in ("POST", "DELETE") and _legit(rid):
        assert response.status_code == 202 and len(fakes.cluster_runs(host)) == 1
        return
    elif method.upper() == "GET" and _legit(rid):
        check_refusal(response, (404,))  # never seen here
    else:
        check_refusal(response, (400, 403))
    assert fakes.cluster_runs(host) == [] and host.instances == {}


@SMALL
@given(hostile_events())
def test_event_grid_trigger_drops_hostile_events_without_dispatch(host_factory: object, event: dict[str, object]) -> None:
    host = host_factory()  # type: ignore[operator]
    with mock.patch.dict(os.environ, _app_env(), clear=True):
        dispatched = asyncio.run(eventgrid.handle(event, host))
    try:
        (decision,) = events.decide(event, SCOPES)
    except errors.BadInput:
        decision = None
    if decision is None or decision.action == "ignore":
        assert dispatched is None and fakes.cluster_runs(host) == []
    else:
        assert dispatched is not None and dispatched.action == decision.action and len(fakes.cluster_runs(host)) == 1


def test_http_body_nested_too_deeply_is_a_400(host_factory: object) -> None:
    """Regression: 60 KiB of '[' made json.loads raise RecursionError, which the host turned into a 500."""
    host = host_factory()  # type: ignore[operator]
    for body in (b"[" * 60_000, ('{"clusterId": ' + _nested(30_000) + "}").encode()):
        request = func.HttpRequest(method="POST", url="http://localhost:7071/api/clusters", body=body,
                                   headers={"Content-Type": "application/json"})
        check_refusal(call(http_api.collection, request, host), (400,))
    assert fakes.cluster_runs(host) == []
