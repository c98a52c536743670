"""The HTTP API through function_app's own functions, with real ``azure.functions.HttpRequest``s.

The durable client is ``LocalDurable`` (stateful: instances, statuses, raised events) and
its host loop runs the orchestrations against the fake world, so the tests assert the
resulting state: instances started, statuses served, Secrets present or gone.
"""
from __future__ import annotations

import asyncio
import json
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


def post(host: driver.LocalDurable, body: bytes, method: str = "POST") -> func.HttpResponse:
    req = func.HttpRequest(method, "http://localhost:7071/api/clusters?code=key", body=body)
    return asyncio.run(function("clusters")(req=req, client=host))  # type: ignore[no-any-return]


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
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = payload(response)
    assert list(body) == ["error"] and "Traceback" not in body["error"]
    return str(body["error"])


# ---- register, status, deregister ----------------------------------------------------------

def test_post_registers_and_answers_with_the_durable_check_status_payload(world: fakes.World,
                                                                         host: driver.LocalDurable) -> None:
    world.add_cluster(CLUSTER)
    response = post(host, register_body())
    assert response.status_code == 202
    body = payload(response)
    assert body["id"] == IID and body["disposition"] == "started" and body["action"] == "register"
    assert response.headers["Location"] == body["statusQueryGetUri"] and IID in body["statusQueryGetUri"]
    assert {"sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri"} <= set(body)
    assert fakes.cluster_runs(host) == [IID]
    assert host.run(IID).status == "Completed"
    assert secret(world) is not None


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


def test_a_wrong_method_is_400(world: fakes.World, host: driver.LocalDurable) -> None:
    assert "GET" in refused(post(host, b"", method="GET"), 400)
    assert "PUT" in refused(on_item(host, "PUT"), 400)
    assert "PATCH" in refused(on_item(host, "PATCH"), 400)


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
