"""The emulated API server in-process (``handle()``), for the rules kubectl rarely reaches."""
from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from wif_sandbox import pki, wire
from wif_sandbox.kube import KubeApiServer, UserInfo, patch, protobuf, selectors, tables

ADMIN = wire.ClientCert("admin", ("system:masters",))


@pytest.fixture(scope="module")
def key() -> pki.SigningKey:
    return pki.SigningKey.generate()


@pytest.fixture
def api(key: pki.SigningKey) -> KubeApiServer:
    server = KubeApiServer("t", issuer="https://issuer.test/", sa_key=key,
                           authenticate_bearer={"carol": UserInfo("carol")}.get, clock=lambda: 1_700_000_000.0)
    server.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})
    return server


def call(api: KubeApiServer, method: str, path: str, body: Any = None, *, ctype: str = "application/json",
         query: Optional[dict[str, list[str]]] = None, cert: Optional[wire.ClientCert] = ADMIN,
         headers: Optional[dict[str, str]] = None) -> tuple[int, Any, str]:
    raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
    req = wire.Request(method, path, query or {}, {"content-type": ctype, **(headers or {})}, raw, cert)
    resp = api.handle(req)
    text = resp.body.decode()
    return resp.status, json.loads(text) if text.startswith("{") else text, resp.operation


SECRETS = "/api/v1/namespaces/argocd/secrets"


def secret(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **extra}


def test_routing_errors_and_operations(api: KubeApiServer) -> None:
    assert call(api, "GET", "/api/v1/namespaces/argocd/widgets")[:2] == (404, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound", "details": {},
        "code": 404})
    status, body, _ = call(api, "PUT", SECRETS, secret("x"))
    assert (status, body["reason"]) == (405, "MethodNotAllowed")
    assert call(api, "POST", SECRETS, b"{oops")[0] == 400
    assert call(api, "GET", "/api/v1/namespaces/argocd/serviceaccounts/x/token")[0] == 405
    assert call(api, "POST", SECRETS, secret("op"))[2] == "secrets.create"
    assert call(api, "DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/none")[2] == \
        "clusterrolebindings.delete"
    assert call(api, "GET", "/version", cert=None)[0] == 200  # public, like system:public-info-viewer
    assert call(api, "GET", "/api", cert=None)[0] == 401


def test_aggregated_discovery_is_answered_in_the_legacy_form(api: KubeApiServer) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    resp = api.handle(wire.Request("GET", "/apis", {}, {"accept": accept}, b"", ADMIN))
    assert resp.headers["Content-Type"] == "application/json"  # client-go falls back on this content type
    assert json.loads(resp.body)["kind"] == "APIGroupList"
    _, resources, op = call(api, "GET", "/api/v1")
    secrets = next(r for r in resources["resources"] if r["name"] == "secrets")
    assert (secrets["kind"], secrets["namespaced"], op) == ("Secret", True, "discovery.get")
    token = next(r for r in resources["resources"] if r["name"] == "serviceaccounts/token")
    assert (token["group"], token["kind"], token["verbs"]) == ("authentication.k8s.io", "TokenRequest", ["create"])


def test_generate_name_paging_and_watch(api: KubeApiServer) -> None:
    created = [call(api, "POST", SECRETS, {"metadata": {"generateName": "page-"}})[1]["metadata"]
               for _ in range(3)]
    names = [m["name"] for m in created]
    assert all(n.startswith("page-") and len(n) == 10 for n in names)
    _, first, _ = call(api, "GET", SECRETS, query={"limit": ["2"]})
    assert len(first["items"]) == 2 and first["metadata"]["remainingItemCount"] == 1
    _, rest, _ = call(api, "GET", SECRETS, query={"limit": ["2"], "continue": [first["metadata"]["continue"]]})
    assert [s["metadata"]["name"] for s in first["items"] + rest["items"]] == sorted(names)

    # A watch from the second write on sees only the third object, then the stream ends.
    since = {"watch": ["true"], "resourceVersion": [created[1]["resourceVersion"]]}
    resp = api.handle(wire.Request("GET", SECRETS, since, {}, b"", ADMIN))
    events = [json.loads(line) for line in resp.body.decode().splitlines()]
    assert (resp.status, resp.operation) == (200, "secrets.watch")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", names[2])]


def test_update_semantics(api: KubeApiServer) -> None:
    _, created, _ = call(api, "POST", SECRETS, secret("u", stringData={"a": "1"}))
    status, updated, _ = call(api, "PUT", f"{SECRETS}/u", dict(created, data={"a": "Mg=="}))
    assert status == 200 and updated["metadata"]["generation"] == 2
    status, same, _ = call(api, "PUT", f"{SECRETS}/u", updated)
    assert same["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]  # no-op write
    assert call(api, "PUT", f"{SECRETS}/other", updated)[1]["message"] == \
        "the name of the object (u) does not match the name on the URL (other)"
    assert call(api, "PUT", f"{SECRETS}/ghost", secret("ghost"))[0] == 404
    status, body, _ = call(api, "PUT", f"{SECRETS}/u", dict(updated, type="kubernetes.io/tls"))
    assert (status, body["details"]["causes"][0]["field"]) == (422, "type")


def test_rbac_objects(api: KubeApiServer) -> None:
    crbs = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    binding: dict[str, Any] = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "system:argocd"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"kind": "User", "name": "carol"}]}
    assert call(api, "PUT", f"{crbs}/system:argocd", binding)[0] == 201  # PUT creates RBAC objects
    moved = dict(binding, roleRef=dict(binding["roleRef"], name="edit"))
    status, body, _ = call(api, "PUT", f"{crbs}/system:argocd", moved)
    assert status == 422 and "cannot change roleRef" in body["message"]
    carol = {"authorization": "Bearer carol"}
    assert call(api, "GET", "/api/v1/namespaces", cert=None, headers=carol)[0] == 200
    assert call(api, "GET", SECRETS, cert=None, headers=carol)[0] == 403  # view excludes secrets


def test_namespace_delete_takes_its_objects(api: KubeApiServer) -> None:
    call(api, "POST", SECRETS, secret("doomed"))
    assert call(api, "DELETE", "/api/v1/namespaces/argocd")[0] == 200
    assert api.get_object("v1", "Secret", "argocd", "doomed") is None
    assert call(api, "POST", SECRETS, secret("late"))[1]["message"] == 'namespaces "argocd" not found'


def test_server_side_apply_creates_then_merges(api: KubeApiServer) -> None:
    doc = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n"
    path = "/api/v1/namespaces/argocd/configmaps/c"
    assert call(api, "PATCH", path, doc, ctype="application/apply-patch+yaml")[0] == 422  # fieldManager required
    manager = {"fieldManager": ["t"]}
    assert call(api, "PATCH", path, doc, ctype="application/apply-patch+yaml", query=manager)[0] == 201
    status, body, _ = call(api, "PATCH", path, doc.replace(b"a: '1'", b"b: '2'"),
                           ctype="application/apply-patch+yaml", query=manager)
    assert status == 200 and body["data"] == {"a": "1", "b": "2"}


def test_patch_dialects() -> None:
    current = {"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"]}, "secrets": [{"name": "s1"}]}
    assert patch.merge_patch(current, {"metadata": {"labels": {"a": None}}})["metadata"]["labels"] == {"b": "2"}
    merged = patch.strategic_merge(current, {
        "metadata": {"finalizers": ["y"], "$setElementOrder/finalizers": ["x", "y"]},
        "secrets": [{"name": "s2"}, {"name": "s1", "$patch": "delete"}]}, "ServiceAccount")
    assert merged["metadata"]["finalizers"] == ["x", "y"] and merged["secrets"] == [{"name": "s2"}]
    assert patch.strategic_merge(current, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}},
                                 "Secret")["metadata"]["labels"] == {"c": "3"}
    ops = [{"op": "copy", "from": "/metadata/labels/a", "path": "/metadata/labels/c"},
           {"op": "move", "from": "/metadata/labels/b", "path": "/metadata/labels/d"},
           {"op": "test", "path": "/metadata/labels/c", "value": "1"}]
    assert patch.json_patch(current, ops)["metadata"]["labels"] == {"a": "1", "c": "1", "d": "2"}
    with pytest.raises(Exception) as failed:
        patch.json_patch(current, [{"op": "test", "path": "/metadata/labels/a", "value": "9"}])
    assert getattr(failed.value, "code", None) == 422


def test_selectors() -> None:
    obj = {"metadata": {"name": "n", "namespace": "argocd", "labels": {"env": "dev", "team": "a"}}, "type": "Opaque"}
    for expr, expected in [("env=dev", True), ("env==prod", False), ("env!=prod,team", True), ("!team", False),
                           ("env in (dev, test),team notin (b)", True), ("missing", False)]:
        assert selectors.labels(expr)(obj) is expected, expr
    assert selectors.fields("metadata.name=n,type!=kubernetes.io/tls", "Secret")(obj)
    with pytest.raises(Exception) as bad:
        selectors.fields("spec.x=1", "Secret")
    assert "field label not supported: spec.x" in str(bad.value)


def _pb_field(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_envelope_decodes_to_json_shape() -> None:
    meta = _pb_field(1, b"b1") + _pb_field(11, _pb_field(1, b"k") + _pb_field(2, b"v"))
    subject = _pb_field(1, b"User") + _pb_field(3, b"carol")
    ref = _pb_field(2, b"ClusterRole") + _pb_field(3, b"view")
    raw = _pb_field(1, meta) + _pb_field(2, subject) + _pb_field(3, ref)
    type_meta = _pb_field(1, b"rbac.authorization.k8s.io/v1") + _pb_field(2, b"ClusterRoleBinding")
    body = protobuf.MAGIC + _pb_field(1, type_meta) + _pb_field(2, raw)
    assert protobuf.decode(body, "ClusterRoleBinding") == {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "b1", "labels": {"k": "v"}},
        "subjects": [{"kind": "User", "name": "carol"}], "roleRef": {"kind": "ClusterRole", "name": "view"},
    }


def test_tables() -> None:
    assert tables.wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    assert not tables.wants_table("application/json")
    assert [tables.human_duration(s) for s in (5, 150, 3600, 9 * 3600, 3 * 86400)] == ["5s", "2m30s", "60m", "9h", "3d"]


def test_service_account_tokens_follow_the_server_clock(key: pki.SigningKey) -> None:
    now = [1_000_000.0]  # far from real time: expiry must be judged on this clock
    api = KubeApiServer("t", issuer="https://issuer.test/", sa_key=key, authenticate_bearer=lambda t: None,
                        clock=lambda: now[0])
    api.put_object({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "argocd"}})
    _, answer, _ = call(api, "POST", "/api/v1/namespaces/argocd/serviceaccounts/sa/token",
                        {"spec": {"expirationSeconds": 600}})
    token = answer["status"]["token"]
    assert api.authenticate_token(token) == UserInfo(
        "system:serviceaccount:argocd:sa", ("system:serviceaccounts", "system:serviceaccounts:argocd",
                                            "system:authenticated"))
    now[0] += 601 + 30
    assert api.authenticate_token(token) is None
    now[0] -= 631
    call(api, "DELETE", "/api/v1/namespaces/argocd/serviceaccounts/sa")
    assert api.authenticate_token(token) is None  # bound to the account's uid
    assert call(api, "POST", "/api/v1/namespaces/argocd/serviceaccounts/x/token", {"spec": {"expirationSeconds": 60}})[0] \
        == 404
