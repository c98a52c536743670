"""The HTTP API through function_app's own functions, with real ``azure.functions.HttpRequest``s.

The durable client is ``LocalDurable`` (stateful: instances, statuses, raised events) and
its host loop runs the orchestrations against the fake world, so the tests assert the
resulting state: instances started, statuses served, Secrets present or gone.
"""
from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any, Callable, Optional

import azure.functions as func
import pytest

import function_app
from tests import fakes
from wif_core import manifests, model
from wif_functions import instances
from wif_sandbox import driver

CLUSTER = fakes.cluster_id("aks-http")
REF = model.ClusterRef.parse(CLUSTER)
IID = instances.instance_id(REF)


def function(name: str) -> Callable[..., Any]:
    """The body function_app bound to ``name`` (under the durable-client middleware)."""
    for fn in driver.indexed(function_app.app):
        if fn.get_function_name() == name:
            return fn.get_user_function().client_function  # type: ignore[no-any-return]
    raise LookupError(name)


def post(host: driver.LocalDurable, body: bytes, method: str = "POST",
         content_type: Optional[str] = "application/json") -> func.HttpResponse:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    req = func.HttpRequest(method, "http://localhost:7071/api/clusters?code=key", body=body, headers=headers)
    return asyncio.run(function("clusters")(req=req, client=host))  # type: ignore[no-any-return]


def listing(host: driver.LocalDurable) -> func.HttpResponse:
    return post(host, b"", method="GET", content_type=None)


def on_item(host: driver.LocalDurable, method: str, ref: Optional[model.ClusterRef] = None,
            route: Optional[dict[str, str]] = None) -> func.HttpResponse:
    ref = ref or REF
    route = route or {"subscription": ref.subscription_id, "resourceGroup": ref.resource_group, "name": ref.name}
    url = f"http://localhost:7071/api/clusters/{route['subscription']}/{route['resourceGroup']}/{route['name']}?code=key"
    req = func.HttpRequest(method, url, route_params=route, body=b"")
    return asyncio.run(function("cluster")(req=req, client=host))  # type: ignore[no-any-return]


def register_body(cluster_id: object = CLUSTER) -> bytes:
    return json.dumps({"clusterId": cluster_id}).encode()


def payload(response: func.HttpResponse) -> dict[str, Any]:
    return json.loads(response.get_body())  # type: ignore[no-any-return]


def secret(world: fakes.World) -> Optional[dict[str, Any]]:
    return world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(REF))


def refused(response: func.HttpResponse, status: int) -> str:
    """An RFC 9457 problem with ``status``; returns its detail."""
    assert response.status_code == status, response.get_body()[:300]
    assert response.mimetype == "application/problem+json"
    body = payload(response)
    assert sorted(body) == ["detail", "instance", "status", "title", "type"]
    assert body["type"] == "about:blank" and body["status"] == status and body["title"] == HTTPStatus(status).phrase
    assert body["instance"].startswith("/api/clusters") and "code=" not in body["instance"]
    assert "Traceback" not in body["detail"]
    return str(body["detail"])


def management_uris(doc: object) -> list[str]:
    """Every string in ``doc`` (keys too) that leads to the Durable extension's management API."""
    if isinstance(doc, dict):
        return [u for k, v in doc.items() for u in management_uris(k) + management_uris(v)]
    if isinstance(doc, list):
        return [u for v in doc for u in management_uris(v)]
    text = str(doc)
    return [text] if "runtime/webhooks" in text or "systemKey" in text or text.endswith(("PostUri", "DeleteUri")) else []


# ---- register, status, deregister ----------------------------------------------------------

def test_post_registers_and_answers_202_with_our_status_route(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    response = post(host, register_body())
    assert response.status_code == 202 and response.mimetype == "application/json"
    body = payload(response)
    location = f"http://localhost:7071/api/clusters/{REF.subscription_id}/{REF.resource_group}/{REF.name}"
    assert body == {"instanceId": IID, "cluster": CLUSTER, "action": "register", "disposition": "started",
                    "statusUri": location}
    assert response.headers["Location"] == location and response.headers["Retry-After"] == "10"
    assert fakes.cluster_runs(host) == [IID]
    assert host.run(IID).status == "Completed"
    assert secret(world) is not None
    assert payload(on_item(host, "GET", route=None))["runtimeStatus"] == "Completed", "Location is the GET route"


@pytest.mark.parametrize("how", ["collection", "item POST", "item DELETE"])
def test_202_carries_no_management_uri(world: fakes.World, host: driver.LocalDurable, how: str) -> None:
    """The Durable check-status payload's terminate/purge/rewind URIs carry the extension's system key."""
    world.add_cluster(CLUSTER)
    response = post(host, register_body()) if how == "collection" else on_item(host, how.split()[1])
    assert response.status_code == 202
    assert management_uris(payload(response)) == [] and management_uris(dict(response.headers)) == []
    assert set(payload(response)) == {"instanceId", "cluster", "action", "disposition", "statusUri"}
    durable = payload(host.create_check_status_response(func.HttpRequest("POST", "http://localhost:7071/x", body=b""),
                                                        IID))
    assert len(management_uris(durable)) >= 3, "the check catches what the Durable payload holds"
    host.run(IID)
    assert management_uris(payload(on_item(host, "GET"))) == []


def test_get_serves_the_status_with_step_attempt_and_last_error(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER, state="Creating")
    assert on_item(host, "POST").status_code == 202
    calls = []
    host.run(IID, stop_before=lambda given: calls.append(given["step"]) or len(calls) > 2)  # 2 polls done
    response = on_item(host, "GET")
    assert response.status_code == 200
    body = payload(response)
    assert body["runtimeStatus"] == "Running" and body["instanceId"] == IID and body["cluster"] == CLUSTER
    status = body["customStatus"]
    assert status["step"] == "discover" and status["attempt"] == 3 and status["action"] == "register"
    assert "Creating" in status["lastError"]
    world.set_state(REF, "Succeeded")
    host.run(IID)
    body = payload(on_item(host, "GET"))
    assert body["runtimeStatus"] == "Completed" and body["output"]["action"] == "register"
    assert body["customStatus"]["state"] == "completed"


def test_get_for_a_cluster_never_seen_is_404_json(world: fakes.World, host: driver.LocalDurable) -> None:
    assert CLUSTER in refused(on_item(host, "GET"), 404)


def test_duplicate_posts_while_running_collapse_into_one_run(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    dispositions = [payload(post(host, register_body()))["disposition"] for _ in range(3)]
    assert dispositions == ["started", "absorbed", "absorbed"] and fakes.cluster_runs(host) == [IID]
    host.run(IID)
    assert host.instances[IID].status == "Completed"


def test_post_on_a_finished_run_runs_again_idempotently(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    post(host, register_body())
    host.run(IID)
    writes = world.writes()
    assert payload(on_item(host, "POST"))["disposition"] == "restarted"
    inst = host.run(IID)
    assert fakes.cluster_runs(host) == [IID, IID] and inst.status == "Completed"
    assert inst.output["results"]["register"]["action"] == "unchanged"
    assert world.writes() == writes, "a second run changes nothing"


def test_delete_deregisters_a_registered_cluster(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    post(host, register_body())
    host.run(IID)
    response = on_item(host, "DELETE")
    assert response.status_code == 202 and payload(response)["action"] == "deregister"
    inst = host.run(IID)
    assert inst.output["action"] == "deregister" and secret(world) is None


def test_delete_during_registration_ends_deregistered(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    post(host, register_body())
    host.run(IID, stop_before=lambda given: given["step"] == "register")  # register's activity is in flight
    assert payload(on_item(host, "DELETE"))["disposition"] == "signalled"
    inst = host.run(IID)
    steps = [a["input"]["step"] for a in inst.activities]
    assert steps == ["discover", "federate", "await_propagation", "bind_rbac", "verify", "register", "deregister"]
    assert inst.status == "Completed" and inst.output["action"] == "deregister" and inst.output["switches"] == 1
    assert secret(world) is None, "the in-flight registration finished first, then was undone"
    assert payload(on_item(host, "GET"))["customStatus"]["action"] == "deregister"


def test_delete_arriving_during_the_rollback_still_deregisters(world: fakes.World, host: driver.LocalDurable) -> None:
    from wif_core import errors

    world.add_cluster(CLUSTER)
    world.fail("kube.sar.review", errors.Forbidden("403: may not create subjectaccessreviews"))
    post(host, register_body())
    host.run(IID, stop_before=lambda given: given["step"] == "rollback")  # verify failed; the rollback is in flight
    assert payload(on_item(host, "DELETE"))["disposition"] == "signalled"
    inst = host.run(IID)
    steps = [a["input"]["step"] for a in inst.activities]
    assert steps[-2:] == ["rollback", "deregister"], steps
    assert inst.status == "Completed" and inst.output["action"] == "deregister", inst.output
    assert secret(world) is None and world.objects[REF.key] == {}


# ---- refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("body, problem", [
    (b"", "empty"),
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "UTF-8"),
    (b'["/subscriptions/x"]', 'must be a JSON object {"clusterId"'),
    (b'{"cluster": "x"}', 'must be a JSON object {"clusterId"'),
    (json.dumps({"clusterId": 42}).encode(), "must be a string"),
    (register_body(CLUSTER.replace("ContainerService", "Compute")), "is not of the form"),
    (b" " * 70_000, "larger than"),
])
def test_a_wrong_body_is_400_naming_the_problem(world: fakes.World, host: driver.LocalDurable, body: bytes,
                                                problem: str) -> None:
    assert problem in refused(post(host, body), 400)
    assert fakes.cluster_runs(host) == []


def test_a_wrong_method_is_405_with_allow(world: fakes.World, host: driver.LocalDurable) -> None:
    for response, allow in ((post(host, b"", method="DELETE"), "GET, POST"), (post(host, b"", method="PUT"), "GET, POST"),
                            (on_item(host, "PUT"), "GET, POST, DELETE"), (on_item(host, "PATCH"), "GET, POST, DELETE")):
        assert "is not allowed here" in refused(response, 405)
        assert response.headers["Allow"] == allow
    assert fakes.cluster_runs(host) == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_a_body_that_is_not_json_by_its_content_type_is_415(world: fakes.World, host: driver.LocalDurable,
                                                            content_type: Optional[str]) -> None:
    world.add_cluster(CLUSTER)
    response = post(host, register_body(), content_type=content_type)
    assert "Content-Type must be application/json" in refused(response, 415)
    assert response.headers["Accept-Post"] == "application/json" and fakes.cluster_runs(host) == []


def test_json_with_a_charset_parameter_is_accepted(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    assert post(host, register_body(), content_type="Application/JSON; charset=utf-8").status_code == 202


def test_duplicate_keys_are_400(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    body = ('{"clusterId": "/x", "clusterId": ' + json.dumps(CLUSTER) + "}").encode()
    assert "'clusterId' more than once" in refused(post(host, body), 400)
    nested = json.dumps({"clusterId": CLUSTER, "x": {}}).replace("{}", '{"a": 1, "a": 2}').encode()
    assert "'a' more than once" in refused(post(host, nested), 400)
    assert fakes.cluster_runs(host) == []


def test_post_for_a_cluster_that_does_not_exist_is_404_after_one_arm_read(world: fakes.World,
                                                                         host: driver.LocalDurable) -> None:
    assert "does not exist" in refused(post(host, register_body()), 404)
    assert "does not exist" in refused(on_item(host, "POST"), 404)
    assert world.calls["arm.cluster.get"] == 2 and fakes.cluster_runs(host) == []


def test_delete_for_a_cluster_already_gone_still_deregisters(world: fakes.World, host: driver.LocalDurable) -> None:
    response = on_item(host, "DELETE")
    assert response.status_code == 202 and world.calls["arm.cluster.get"] == 0
    assert host.run(IID).output["action"] == "deregister"


def test_post_starts_the_run_when_arm_cannot_answer_now(world: fakes.World, host: driver.LocalDurable) -> None:
    from wif_core import errors

    world.add_cluster(CLUSTER)
    world.fail("arm.cluster.get", errors.Unreachable("management.azure.com: connection reset"))
    assert post(host, register_body()).status_code == 202, "the run's discover step reads again, with retries"
    assert host.run(IID).status == "Completed"


def test_a_malformed_id_in_the_route_is_400(world: fakes.World, host: driver.LocalDurable) -> None:
    route = {"subscription": "not-a-guid", "resourceGroup": "rg", "name": "aks"}
    assert "cluster id" in refused(on_item(host, "POST", route=route), 400)
    route = {"subscription": fakes.SUB, "resourceGroup": "rg", "name": "bad name!"}
    assert "cluster id" in refused(on_item(host, "DELETE", route=route), 400)


def test_a_cluster_outside_the_allowed_scopes_is_403(world: fakes.World, host: driver.LocalDurable) -> None:
    other = CLUSTER.replace(fakes.SUB, "99999999-9999-9999-9999-999999999999")
    assert "WIF_ALLOWED_SCOPES" in refused(post(host, register_body(other)), 403)
    assert "WIF_ALLOWED_SCOPES" in refused(on_item(host, "GET", model.ClusterRef.parse(other)), 403)
    assert fakes.cluster_runs(host) == []


def test_missing_settings_are_500_with_the_config_error_line(world: fakes.World, host: driver.LocalDurable,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIF_ALLOWED_SCOPES")
    assert refused(post(host, register_body()), 500).startswith("WIF_ALLOWED_SCOPES is not set")
    monkeypatch.setenv("WIF_ALLOWED_SCOPES", f"/subscriptions/{fakes.SUB}")
    monkeypatch.setenv("WIF_VERIFY", "sometimes")
    assert "WIF_VERIFY must be true or false" in refused(on_item(host, "GET"), 500)


def test_errors_never_echo_an_unbounded_part_of_the_request(world: fakes.World, host: driver.LocalDurable) -> None:
    message = refused(post(host, register_body("\x00" * 5000)), 400)
    assert message.startswith("cluster id") and len(message) <= 500


# ---- GET /api/clusters -----------------------------------------------------------------------

def test_get_clusters_lists_ours_on_the_hub_with_each_run(world: fakes.World, host: driver.LocalDurable) -> None:
    other = world.add_cluster(fakes.cluster_id("aks-b", rg="rg-b"), azure_rbac=True)
    world.add_cluster(CLUSTER)
    for ref in (REF, other):
        assert on_item(host, "POST", ref).status_code == 202
        host.run(instances.instance_id(ref))
    hub = model.ClusterRef.parse(fakes.HUB_ID).key
    world.objects[hub][("Secret", "argocd", "by-hand")] = {  # someone's own cluster Secret: not listed
        "kind": "Secret", "metadata": {"name": "by-hand", "namespace": "argocd",
                                       "labels": {manifests.LABEL_SECRET_TYPE: "cluster"}}}
    response = listing(host)
    assert response.status_code == 200 and response.mimetype == "application/json"
    rows = payload(response)["clusters"]
    assert [r["cluster"] for r in rows] == [CLUSTER, other.id]
    first = rows[0]
    assert first["server"] == "https://aks-http.hcp.example:443" and first["rbac"] == "kubernetes"
    assert first["secret"] == f"argocd/{manifests.secret_name(REF)}" and first["name"].startswith("aks-http-")
    assert first["run"] == {"instanceId": IID, "runtimeStatus": "Completed", "action": "register", "state": "completed"}
    assert rows[1]["rbac"] == "azure" and world.writes() > 0


def test_get_clusters_after_a_deregistration_lists_it_no_more(world: fakes.World, host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    post(host, register_body())
    host.run(IID)
    assert len(payload(listing(host))["clusters"]) == 1
    on_item(host, "DELETE")
    host.run(IID)
    assert payload(listing(host))["clusters"] == []


def test_get_clusters_in_the_in_cluster_topology_is_501(world: fakes.World, host: driver.LocalDurable,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIF_TOPOLOGY", "in-cluster")
    monkeypatch.delenv("WIF_HUB_CLUSTER_ID")
    assert "in-cluster" in refused(listing(host), 501)


def test_get_clusters_when_the_hub_refuses_is_502_naming_it(world: fakes.World, host: driver.LocalDurable) -> None:
    from wif_core import errors

    world.fail("kube.Secret.list", errors.Forbidden("secrets is forbidden: cannot list resource secrets in argocd"))
    assert "cannot list resource secrets" in refused(listing(host), 502)


def test_readme_lists_every_status_the_api_refuses_with() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = "".join((root / "wif_functions" / f).read_text() for f in ("http_api.py", "http_io.py"))
    in_code = set(re.findall(r"Refused\((\d{3})", source)) | set(re.findall(r"Refused\((\d{3}) if .+? else (\d{3})",
                                                                             source)[0])
    readme = (root / "README.md").read_text()
    table = readme[readme.index("Refusals are problem details (RFC 9457)"):readme.index("While a run waits")]
    in_readme = {code for row in re.findall(r"^\| ([\d, ]+) \|", table, re.M) for code in row.split(", ")}
    assert in_readme == in_code and "502" in in_code
