"""One Kubernetes API server, reached with the real ``kubernetes`` client as this app's Entra identity.

The bearer token is this app's own token for the AKS scope, fetched from its
credential before every request (``refresh_api_key_hook``; azure-identity caches
and renews it). Objects cross the port as the API's JSON (``_preload_content=False``),
never as client models. ``ApiException`` and urllib3 errors leave through ``errors_map``.
"""
from __future__ import annotations

import base64
import json
import os
import tempfile
import weakref
from typing import Any, Callable, Optional, TypeVar

import kubernetes.client
import urllib3
from azure.core.exceptions import AzureError
from kubernetes.client import exceptions as kube_exc

from wif_core import errors, model, ports
from wif_core.adapters import errors_map, retrying

T = TypeVar("T")
TOKEN_REQUEST = "authentication.k8s.io/v1"
ACCESS_REVIEW = "authorization.k8s.io/v1"
# (apiVersion, kind) -> (plural, namespaced): what the steps read and write.
RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Namespace"): ("namespaces", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
}
_JSON = {"Accept": "application/json", "Content-Type": "application/json"}
MERGE_PATCH = "application/merge-patch+json"  # RFC 7386: maps merge, null removes, the rest is kept


def _resource(api_version: str, kind: str) -> tuple[str, bool]:
    try:
        return RESOURCES[(api_version, kind)]
    except KeyError:
        raise errors.BadInput(f"the kube adapter does not know {api_version} {kind}; add it to kube.RESOURCES") from None


def path(api_version: str, kind: str, namespace: Optional[str], name: Optional[str] = None) -> str:
    plural, namespaced = _resource(api_version, kind)
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if namespaced:
        if not namespace:
            raise errors.BadInput(f"{kind} is namespaced: a namespace is required")
        base += f"/namespaces/{namespace}"
    return f"{base}/{plural}" + (f"/{name}" if name else "")


def _ca_file(ca_data: str, owner: object) -> str:
    """The cluster CA as a file (urllib3 wants a path), removed when ``owner`` is collected."""
    try:
        pem = base64.b64decode(ca_data, validate=True)
    except ValueError as e:
        raise errors.PermanentError(f"the cluster CA is not base64 ({e}); discover the cluster again") from e
    handle, name = tempfile.mkstemp(prefix="wif-ca-", suffix=".pem")
    with os.fdopen(handle, "wb") as f:
        f.write(pem)
    weakref.finalize(owner, os.unlink, name)
    return name


class Kube:
    def __init__(self, facts: model.ClusterFacts, token: Callable[[], str], policy: retrying.Policy, *,
                 timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        if not facts.server or not facts.ca_data:
            raise errors.NotReady(f"cluster {facts.ref.name} has no API server address yet "
                                  f"(provisioningState {facts.provisioning_state or 'unknown'})")
        self.server, self.cluster, self.policy, self.timeout = facts.server, facts.ref.name, policy, timeout
        config = kubernetes.client.Configuration(host=facts.server, api_key={"authorization": ""},
                                                 api_key_prefix={"authorization": "Bearer"})
        config.ssl_ca_cert = _ca_file(facts.ca_data, self)
        config.retries = False  # retrying is the one retry layer
        config.refresh_api_key_hook = lambda c: c.api_key.__setitem__("authorization", token())
        self.api = kubernetes.client.ApiClient(config)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.authorization = kubernetes.client.AuthorizationV1Api(self.api)

    def _call(self, what: str, fn: Callable[[], Any], fix: str = "") -> Any:
        """``fn`` returns an unread urllib3 response; the answer is its JSON."""
        what = f"{what} on cluster {self.cluster}"

        def once() -> Any:
            try:
                response = fn()
                return json.loads(response.data or b"null")
            except (kube_exc.ApiException, urllib3.exceptions.HTTPError, AzureError) as e:
                raise errors_map.from_kube(e, what, self.server, forbidden_fix=fix) from e

        return retrying.call(self.policy, what, once)

    def _request(self, method: str, url: str, body: Optional[ports.KubeObject] = None,
                 query: Optional[list[tuple[str, str]]] = None, content_type: str = "application/json") -> Any:
        headers = dict(_JSON, **{"Content-Type": content_type})
        return self.api.call_api(url, method, query_params=query or [], header_params=headers, body=body,
                                 auth_settings=["BearerToken"], _preload_content=False,
                                 _return_http_data_only=True, _request_timeout=self.timeout)

    def _fix(self, verb: str, api_version: str, kind: str, namespace: Optional[str]) -> str:
        where = f"in namespace {namespace}" if namespace else "cluster-wide"
        return (f"give this app's identity Kubernetes RBAC to {verb} {_resource(api_version, kind)[0]} {where} "
                "(infra/kubernetes/hub-rbac.yaml on the hub; the cluster admin group on targets)")

    def get(self, api_version: str, kind: str, namespace: Optional[str], name: str) -> Optional[ports.KubeObject]:
        url = path(api_version, kind, namespace, name)
        try:
            found: ports.KubeObject = self._call(f"get {kind} {namespace or ''}/{name}",
                                                 lambda: self._request("GET", url),
                                                 self._fix("get", api_version, kind, namespace))
        except errors.NotFound:
            return None
        return found

    def list(self, api_version: str, kind: str, namespace: Optional[str],
             label_selector: str = "") -> list[ports.KubeObject]:
        url = path(api_version, kind, namespace)
        query = [("labelSelector", label_selector)] if label_selector else []
        found = self._call(f"list {kind} in {namespace or 'the cluster'}", lambda: self._request("GET", url, query=query),
                           self._fix("list", api_version, kind, namespace))
        # Items of a list carry no apiVersion/kind; give them back as a GET would.
        return [dict(item, apiVersion=api_version, kind=kind) for item in found.get("items") or []]

    def create(self, obj: ports.KubeObject) -> ports.KubeObject:
        api_version, kind, meta = obj["apiVersion"], obj["kind"], obj.get("metadata") or {}
        url = path(api_version, kind, meta.get("namespace"))
        created: ports.KubeObject = self._call(f"create {kind} {meta.get('namespace') or ''}/{meta.get('name')}",
                                               lambda: self._request("POST", url, obj),
                                               self._fix("create", api_version, kind, meta.get("namespace")))
        return created

    def replace(self, obj: ports.KubeObject) -> ports.KubeObject:
        api_version, kind, meta = obj["apiVersion"], obj["kind"], obj.get("metadata") or {}
        url = path(api_version, kind, meta.get("namespace"), meta.get("name"))
        what = f"replace {kind} {meta.get('namespace') or ''}/{meta.get('name')}"
        try:
            replaced: ports.KubeObject = self._call(what, lambda: self._request("PUT", url, obj),
                                                    self._fix("update", api_version, kind, meta.get("namespace")))
        except errors.NotFound as e:  # deleted since we read it: re-read and decide again
            raise errors.Conflict(e.message) from e
        return replaced

    def patch(self, api_version: str, kind: str, namespace: Optional[str], name: str,
              merge: ports.KubeObject) -> ports.KubeObject:
        url = path(api_version, kind, namespace, name)
        what = f"patch {kind} {namespace or ''}/{name}"
        try:
            patched: ports.KubeObject = self._call(
                what, lambda: self._request("PATCH", url, merge, content_type=MERGE_PATCH),
                self._fix("patch", api_version, kind, namespace))
        except errors.NotFound as e:  # deleted since we read it: re-read and decide again
            raise errors.Conflict(e.message) from e
        return patched

    def delete(self, api_version: str, kind: str, namespace: Optional[str], name: str,
               resource_version: Optional[str] = None) -> bool:
        url = path(api_version, kind, namespace, name)
        # DeleteOptions.preconditions: only the version whose provenance was checked (409 otherwise).
        body = ({"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": resource_version}}
                if resource_version else None)
        try:
            self._call(f"delete {kind} {namespace or ''}/{name}", lambda: self._request("DELETE", url, body),
                       self._fix("delete", api_version, kind, namespace))
        except errors.NotFound:
            return False
        return True

    def create_token(self, namespace: str, service_account: str, audience: str, seconds: int = 600) -> str:
        body = {"apiVersion": TOKEN_REQUEST, "kind": "TokenRequest",
                "spec": {"audiences": [audience], "expirationSeconds": seconds}}
        what = f"TokenRequest for service account {namespace}/{service_account}"
        try:
            answer = self._call(what, lambda: self.core.create_namespaced_service_account_token(
                service_account, namespace, body, _preload_content=False, _request_timeout=self.timeout),
                f"give this app's identity 'create' on serviceaccounts/token for {service_account} in {namespace}")
        except errors.NotFound as e:
            raise errors.NotFound(f"{e.message}; install Argo CD in {namespace} or fix WIF_ARGOCD_NAMESPACE / "
                                  "WIF_ARGOCD_SERVICE_ACCOUNTS") from e
        token = (answer.get("status") or {}).get("token")
        if not isinstance(token, str) or not token:
            raise errors.TemporaryError(f"{what} on cluster {self.cluster}: the answer holds no token")
        return token

    def can_i(self, user: str, groups: tuple[str, ...], verb: str, resource: str,
              group: str = "", namespace: Optional[str] = None) -> tuple[bool, str]:
        attributes: dict[str, str] = {"verb": verb, "resource": resource, "group": group}
        if namespace:
            attributes["namespace"] = namespace
        body = {"apiVersion": ACCESS_REVIEW, "kind": "SubjectAccessReview",
                "spec": {"user": user, "groups": list(groups), "resourceAttributes": attributes}}
        answer = self._call(f"SubjectAccessReview for {user} ({verb} {resource})",
                            lambda: self.authorization.create_subject_access_review(
                                body, _preload_content=False, _request_timeout=self.timeout),
                            "give this app's identity 'create' on subjectaccessreviews.authorization.k8s.io")
        status = answer.get("status") or {}
        reason = str(status.get("reason") or status.get("evaluationError") or "")
        return bool(status.get("allowed")), reason
