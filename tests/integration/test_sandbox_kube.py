"""The emulated AKS API server, driven by the unmodified ``kubernetes`` client and ``kubectl``.

One server per test module behind the sandbox's real HTTPS front end (client
certificates on), an admin client certificate in ``system:masters``, and
stand-in Entra bearer tokens mapped to users. Every test uses its own names,
so they share the server without depending on each other's order.
"""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator, Optional

import jwt
import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from wif_sandbox import faults, httpd, pki
from wif_sandbox.kube import Attributes, KubeApiServer, UserInfo

ISSUER = "https://oidc.sandbox.example/hub/"
EXCHANGE = "api://AzureADTokenExchange"
USERS = {"alice-token": UserInfo("alice"), "bob-token": UserInfo("bob", ("team-b",))}


class Cluster:
    def __init__(self, tmp: Path, azure_rbac: Any = None) -> None:
        self.tmp = tmp
        self.ca = pki.CA.create(tmp / "pki")
        self.key = pki.SigningKey.generate()
        self.log = faults.RequestLog()
        self.api = KubeApiServer("hub", issuer=ISSUER, sa_key=self.key, authenticate_bearer=USERS.get,
                                 azure_rbac=azure_rbac)
        self.https = httpd.HttpsServer(self.api.handle, ca=self.ca, service="kube-hub", log=self.log,
                                       faults=faults.Faults(), client_certs=True,
                                       operation_of=self.api.operation_of)
        self.cert, self.cert_key = self.ca.issue_client("sandbox-admin", ["system:masters"])
        self.api.put_object({"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "argocd-server", "namespace": "argocd"}})

    def client(self, token: Optional[str] = None, *, anonymous: bool = False) -> client.ApiClient:
        """Admin (client certificate) by default; a bearer token when given; nothing when anonymous."""
        cfg = client.Configuration()
        cfg.host = self.https.url
        cfg.ssl_ca_cert = str(self.ca.bundle_path)
        if token is None and not anonymous:
            cfg.cert_file, cfg.key_file = str(self.cert), str(self.cert_key)
        elif token is not None:
            cfg.api_key = {"authorization": token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(cfg)

    def kubeconfig(self) -> Path:
        path = self.tmp / "kubeconfig"
        server = {"server": self.https.url, "certificate-authority": str(self.ca.bundle_path)}
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "admin",
            "clusters": [{"name": "hub", "cluster": server}],
            "users": [{"name": "admin", "user": {"client-certificate": str(self.cert), "client-key": str(self.cert_key)}},
                      {"name": "alice", "user": {"token": "alice-token"}}],
            "contexts": [{"name": "admin", "context": {"cluster": "hub", "user": "admin"}},
                         {"name": "alice", "context": {"cluster": "hub", "user": "alice"}}],
        }))
        return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("kube"))
    c.https.start()
    try:
        yield c
    finally:
        c.https.stop()


@pytest.fixture
def core(cluster: Cluster) -> client.CoreV1Api:
    return client.CoreV1Api(cluster.client())


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def status_of(e: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(e.body)
    return body


def new_secret(name: str, **labels: str) -> client.V1Secret:
    return client.V1Secret(metadata=client.V1ObjectMeta(name=name, labels=labels or None),
                           string_data={"server": "https://aks-1:443"})


# ----- the python client -----

def test_secret_lifecycle_with_string_data(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_secret("argocd", new_secret("lifecycle", team="a"))
    assert created.data == {"server": b64("https://aks-1:443")} and created.string_data is None
    assert created.type == "Opaque" and created.metadata.uid and int(created.metadata.resource_version) > 0
    core.create_namespaced_secret("argocd", new_secret("lifecycle-other", team="b"))

    listed = core.list_namespaced_secret("argocd", label_selector="team in (a),team!=b")
    assert [s.metadata.name for s in listed.items] == ["lifecycle"] and listed.metadata.resource_version
    by_name = core.list_namespaced_secret("argocd", field_selector="metadata.name=lifecycle-other")
    assert [s.metadata.name for s in by_name.items] == ["lifecycle-other"]

    patched = core.patch_namespaced_secret("lifecycle", "argocd", {"stringData": {"name": "aks-1"},
                                                                   "metadata": {"labels": {"team": None}}})
    assert patched.data == {"server": b64("https://aks-1:443"), "name": b64("aks-1")}
    assert patched.metadata.labels is None
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)

    json_patched = core.patch_namespaced_secret("lifecycle", "argocd", [
        {"op": "add", "path": "/metadata/annotations", "value": {"owner": "wif"}},
        {"op": "remove", "path": "/data/name"},
    ])
    assert json_patched.metadata.annotations == {"owner": "wif"} and set(json_patched.data) == {"server"}

    deleted = core.delete_namespaced_secret("lifecycle", "argocd")
    assert deleted.status == "Success" and deleted.details.name == "lifecycle"
    with pytest.raises(ApiException) as e:
        core.read_namespaced_secret("lifecycle", "argocd")
    assert e.value.status == 404


def test_error_statuses(core: client.CoreV1Api) -> None:
    first = core.create_namespaced_secret("argocd", new_secret("errors"))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_secret("argocd", new_secret("errors"))
    assert exists.value.status == 409
    assert status_of(exists.value) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'secrets "errors" already exists', "reason": "AlreadyExists",
        "details": {"name": "errors", "kind": "secrets"}, "code": 409,
    }

    first.string_data = {"server": "https://aks-2:443"}
    core.replace_namespaced_secret("errors", "argocd", first)  # first writer wins
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_secret("errors", "argocd", first)  # same, now stale, resourceVersion
    assert stale.value.status == 409 and status_of(stale.value)["reason"] == "Conflict"
    assert status_of(stale.value)["message"] == (
        'Operation cannot be fulfilled on secrets "errors": the object has been modified; '
        "please apply your changes to the latest version and try again")

    for call in (core.read_namespaced_secret, core.delete_namespaced_secret):
        with pytest.raises(ApiException) as missing:
            call("absent", "argocd")
        assert missing.value.status == 404 and status_of(missing.value)["message"] == 'secrets "absent" not found'

    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_secret("argocd", new_secret("Not_DNS"))
    assert invalid.value.status == 422 and status_of(invalid.value)["reason"] == "Invalid"
    with pytest.raises(ApiException) as no_ns:
        core.create_namespaced_secret("nowhere", new_secret("x"))
    assert no_ns.value.status == 404 and status_of(no_ns.value)["message"] == 'namespaces "nowhere" not found'


def test_bad_json_is_a_400(cluster: Cluster) -> None:
    api = cluster.client()
    with pytest.raises(ApiException) as e:
        api.call_api("/api/v1/namespaces/argocd/secrets", "POST", body="{not json",
                     header_params={"Content-Type": "application/json"}, auth_settings=["BearerToken"],
                     _preload_content=False)
    assert e.value.status == 400 and status_of(e.value)["reason"] == "BadRequest"


def test_dry_run_stores_nothing(cluster: Cluster, core: client.CoreV1Api) -> None:
    answer = core.create_namespaced_secret("argocd", new_secret("dry"), dry_run="All")
    assert answer.data == {"server": b64("https://aks-1:443")}
    assert cluster.api.get_object("v1", "Secret", "argocd", "dry") is None


def test_token_request_mints_a_verifiable_token(cluster: Cluster, core: client.CoreV1Api) -> None:
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[EXCHANGE]))
    answer = core.create_namespaced_service_account_token("argocd-server", "argocd", request)
    token = answer.status.token
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWK(cluster.api.jwks()["keys"][0])
    assert header["kid"] == key.key_id and header["alg"] == "RS256"
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=EXCHANGE, issuer=ISSUER)
    sa = cluster.api.get_object("v1", "ServiceAccount", "argocd", "argocd-server")
    assert sa is not None
    assert claims["sub"] == "system:serviceaccount:argocd:argocd-server" and claims["aud"] == [EXCHANGE]
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {"namespace": "argocd",
                                       "serviceaccount": {"name": "argocd-server", "uid": sa["metadata"]["uid"]}}

    with pytest.raises(ApiException) as e:
        core.create_namespaced_service_account_token("ghost", "argocd", request)
    assert e.value.status == 404 and status_of(e.value)["message"] == 'serviceaccounts "ghost" not found'


def test_service_account_token_authenticates_with_issuer_audience(cluster: Cluster, core: client.CoreV1Api) -> None:
    default = core.create_namespaced_service_account_token("argocd-server", "argocd", client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[])))
    assert jwt.decode(default.status.token, options={"verify_signature": False})["aud"] == [ISSUER]
    as_sa = client.CoreV1Api(cluster.client(default.status.token))
    with pytest.raises(ApiException) as e:
        as_sa.list_namespaced_secret("argocd")
    assert e.value.status == 403 and 'User "system:serviceaccount:argocd:argocd-server"' in status_of(e.value)["message"]

    exchange_only = core.create_namespaced_service_account_token("argocd-server", "argocd", client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[EXCHANGE])))
    with pytest.raises(ApiException) as wrong_aud:
        client.CoreV1Api(cluster.client(exchange_only.status.token)).list_namespaced_secret("argocd")
    assert wrong_aud.value.status == 401


def test_rbac_forbids_until_bound(cluster: Cluster) -> None:
    alice = client.CoreV1Api(cluster.client("alice-token"))
    with pytest.raises(ApiException) as e:
        alice.read_namespaced_secret("x", "argocd")
    assert e.value.status == 403
    assert status_of(e.value)["message"] == (
        'secrets "x" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "argocd"')
    assert status_of(e.value)["reason"] == "Forbidden"

    rbac = client.RbacAuthorizationV1Api(cluster.client())
    rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name="alice-edit"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="edit"),
        subjects=[client.RbacV1Subject(kind="User", name="alice", api_group="rbac.authorization.k8s.io")]))
    assert [s.metadata.name for s in alice.list_namespaced_secret("argocd", field_selector="metadata.name=none").items] == []
    rbac.delete_cluster_role_binding("alice-edit")
    with pytest.raises(ApiException) as again:
        alice.list_namespaced_secret("argocd")
    assert again.value.status == 403


def test_unknown_or_missing_credentials_are_401(cluster: Cluster) -> None:
    for api in (cluster.client("not-a-user"), cluster.client(anonymous=True)):
        with pytest.raises(ApiException) as e:
            client.CoreV1Api(api).list_namespace()
        assert e.value.status == 401 and status_of(e.value)["reason"] == "Unauthorized"


def test_subject_access_review(cluster: Cluster) -> None:
    authz = client.AuthorizationV1Api(cluster.client())

    def review(user: str, groups: Optional[list[str]] = None) -> client.V1SubjectAccessReviewStatus:
        spec = client.V1SubjectAccessReviewSpec(user=user, groups=groups, resource_attributes=client.V1ResourceAttributes(
            verb="list", resource="secrets", namespace="argocd"))
        return authz.create_subject_access_review(client.V1SubjectAccessReview(spec=spec)).status

    assert review("bob").allowed is False
    assert review("bob", ["system:masters"]).allowed is True
    rbac = client.RbacAuthorizationV1Api(cluster.client())
    rbac.create_namespaced_role_binding("argocd", client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="team-b-admin"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="admin"),
        subjects=[client.RbacV1Subject(kind="Group", name="team-b", api_group="rbac.authorization.k8s.io")]))
    status = review("bob", ["team-b"])
    assert status.allowed is True and "team-b-admin" in status.reason
    bob_can = client.AuthorizationV1Api(cluster.client("bob-token")).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(verb="delete", resource="secrets", namespace="argocd"))))
    assert bob_can.status.allowed is True


def test_azure_rbac_is_or_ed_with_kubernetes_rbac(tmp_path: Path) -> None:
    asked: list[tuple[str, Attributes]] = []

    def azure(user: UserInfo, attrs: Attributes) -> bool:
        asked.append((user.username, attrs))
        return user.username == "alice" and attrs.resource == "namespaces" and attrs.verb == "list"

    c = Cluster(tmp_path, azure_rbac=azure)
    with c.https:
        assert client.CoreV1Api(c.client("alice-token")).list_namespace().items
        with pytest.raises(ApiException) as e:
            client.CoreV1Api(c.client("bob-token")).list_namespace()
    assert e.value.status == 403 and "Update role assignment to allow access" in status_of(e.value)["message"]
    assert asked[0] == ("alice", Attributes("list", "", "namespaces", "", "", ""))


def test_request_log_names_operations(cluster: Cluster, core: client.CoreV1Api) -> None:
    cluster.log.reset()
    core.create_namespaced_secret("argocd", new_secret("logged"))
    core.read_namespaced_secret("logged", "argocd")
    core.patch_namespaced_secret("logged", "argocd", {"metadata": {"labels": {"a": "b"}}})
    core.delete_namespaced_secret("logged", "argocd")
    core.create_namespaced_service_account_token("argocd-server", "argocd", client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[EXCHANGE])))
    counts = cluster.log.counts()
    for op in ("secrets.create", "secrets.get", "secrets.patch", "secrets.delete", "serviceaccounts/token.create"):
        assert any(op in str(key) for key in counts), (op, counts)


# ----- kubectl -----

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def kubectl(cluster: Cluster, *args: str, ok: bool = True, stdin: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    cmd = ["kubectl", "--kubeconfig", str(cluster.kubeconfig()), "--cache-dir", str(cluster.tmp / "kubecache"), *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    if ok:
        assert done.returncode == 0, done.stderr
        assert "warning" not in done.stderr.lower(), done.stderr
    return done


MANIFEST = """
apiVersion: v1
kind: Secret
metadata:
  name: aks-applied
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: cluster
data:
  server: aHR0cHM6Ly9ha3MtMTo0NDM=
"""


@needs_kubectl
def test_kubectl_apply_get_delete(cluster: Cluster) -> None:
    assert "secret/aks-applied created" in kubectl(cluster, "apply", "-f", "-", stdin=MANIFEST).stdout
    assert "secret/aks-applied unchanged" in kubectl(cluster, "apply", "-f", "-", stdin=MANIFEST).stdout
    changed = MANIFEST.replace("cluster\n", "cluster\n    team: a\n")
    assert "secret/aks-applied configured" in kubectl(cluster, "apply", "-f", "-", stdin=changed).stdout
    stored = cluster.api.get_object("v1", "Secret", "argocd", "aks-applied")
    assert stored is not None and stored["metadata"]["labels"]["team"] == "a"
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]

    table = kubectl(cluster, "get", "secrets", "-n", "argocd").stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert any(line.split()[:3] == ["aks-applied", "Opaque", "1"] for line in table[1:])
    as_json = json.loads(kubectl(cluster, "get", "secret", "aks-applied", "-n", "argocd", "-o", "json").stdout)
    assert as_json["data"] == {"server": b64("https://aks-1:443")}

    assert 'secret "aks-applied" deleted' in kubectl(cluster, "delete", "secret", "aks-applied", "-n", "argocd").stdout
    gone = kubectl(cluster, "get", "secret", "aks-applied", "-n", "argocd", ok=False)
    assert gone.returncode == 1 and 'secrets "aks-applied" not found' in gone.stderr


@needs_kubectl
def test_kubectl_create_token(cluster: Cluster) -> None:
    token = kubectl(cluster, "create", "token", "argocd-server", "-n", "argocd", "--audience", EXCHANGE).stdout.strip()
    claims = jwt.decode(token, jwt.PyJWK(cluster.api.jwks()["keys"][0]), algorithms=["RS256"], audience=EXCHANGE)
    assert claims["sub"] == "system:serviceaccount:argocd:argocd-server" and claims["iss"] == ISSUER


@needs_kubectl
def test_kubectl_auth_can_i_and_typed_creates(cluster: Cluster) -> None:
    assert kubectl(cluster, "auth", "can-i", "get", "secrets", "-n", "argocd").stdout.strip() == "yes"
    denied = kubectl(cluster, "--context", "alice", "auth", "can-i", "get", "secrets", "-n", "argocd", ok=False)
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    kubectl(cluster, "create", "clusterrolebinding", "alice-view-secrets", "--clusterrole", "cluster-admin", "--user", "alice")
    assert kubectl(cluster, "--context", "alice", "auth", "can-i", "get", "secrets", "-n", "argocd").stdout.strip() == "yes"
    kubectl(cluster, "delete", "clusterrolebinding", "alice-view-secrets")
    kubectl(cluster, "create", "secret", "generic", "typed", "-n", "argocd", "--from-literal=a=b")
    assert cluster.api.get_object("v1", "Secret", "argocd", "typed")["data"] == {"a": b64("b")}  # type: ignore[index]
    whoami = kubectl(cluster, "--context", "alice", "auth", "whoami", "-o", "json").stdout
    assert json.loads(whoami)["status"]["userInfo"]["username"] == "alice"


@needs_kubectl
def test_kubectl_typed_creates_and_impersonation(cluster: Cluster) -> None:
    # kubectl's typed clients send protobuf bodies; each of these goes through that decoder.
    kubectl(cluster, "create", "namespace", "team-c")
    kubectl(cluster, "create", "serviceaccount", "deployer", "-n", "team-c")
    kubectl(cluster, "create", "configmap", "settings", "-n", "team-c", "--from-literal=mode=hub")
    kubectl(cluster, "create", "rolebinding", "deployer-edit", "-n", "team-c", "--clusterrole", "edit",
            "--serviceaccount", "team-c:deployer")
    assert [o["metadata"]["name"] for o in cluster.api.list_objects("v1", "ConfigMap", "team-c")] == ["settings"]

    sa = "system:serviceaccount:team-c:deployer"
    assert kubectl(cluster, "auth", "can-i", "create", "secrets", "-n", "team-c", "--as", sa).stdout.strip() == "yes"
    assert kubectl(cluster, "auth", "can-i", "create", "secrets", "-n", "argocd", "--as", sa,
                   ok=False).stdout.strip() == "no"
    refused = kubectl(cluster, "--context", "alice", "get", "ns", "--as", "bob", ok=False)
    assert 'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group ""' in refused.stderr

    kubectl(cluster, "delete", "namespace", "team-c")
    assert cluster.api.get_object("v1", "ConfigMap", "team-c", "settings") is None
