"""ARM adapters: AKS clusters and run command, the Argo CD managed identity, role assignments.

One SDK client per service and subscription for the whole process (``Arm``);
their own retry policies are off (``retry_total=0``) because ``retrying`` is the
one retry layer. Every call leaves as a project error naming the resource and,
on 403, the role this app's identity lacks (the roles ``infra/`` grants).
"""
from __future__ import annotations

import base64
import io
import os
import posixpath
import threading
import zipfile
from typing import Any, Callable, Optional, TypeVar, Union

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import RunCommandRequest
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.v2024_11_30.models import FederatedIdentityCredential

from wif_core import errors, model
from wif_core.adapters import aks_facts, errors_map, retrying

T = TypeVar("T")
# azure-mgmt-containerservice 41.x sends its own release's api-version unless told: pinned to the one
# 41.0 (the floor) was generated for, so every allowed release reads the same managedClusters shape.
AKS_API_VERSION = "2026-01-01"
MSI_API_VERSION = "2024-11-30"
AUTHORIZATION_API_VERSION = "2022-04-01"
READER = "grant this app's identity Reader on the cluster or its resource group (see infra/README.md)"
CLUSTER_USER = "grant this app's identity 'Azure Kubernetes Service Cluster User Role' on the cluster"
MSI_WRITER = ("grant this app's identity the custom role 'aks-argocd-wif federated credentials' (infra/; "
              "userAssignedIdentities/read and federatedIdentityCredentials read/write/delete) on the Argo CD identity")
RBAC_ADMIN = ("grant this app's identity 'Role Based Access Control Administrator' on the cluster's scope "
              "(WIF_ENABLE_AZURE_RBAC_ASSIGNMENTS=true in infra), or set WIF_RBAC_MODE=kubernetes")
RUN_COMMAND = ("grant this app's identity the 'aks-argocd-wif run command' role (managedClusters/runCommand/action) "
               "on the cluster's scope, or set WIF_RUN_COMMAND=false")


def call(policy: retrying.Policy, what: str, fn: Callable[[], T], *, fix: str = "") -> T:
    """``fn`` with SDK errors mapped (``raise ... from``) and transient ones retried."""

    def once() -> T:
        try:
            return fn()
        except AzureError as e:
            raise errors_map.from_azure(e, what, forbidden_fix=fix) from e

    return retrying.call(policy, what, once)


def environment_settings(url: str) -> dict[str, Any]:
    """Client keywords carrying what ``requests`` would read from the environment for ``url``.

    With ``trust_env`` on, ``requests`` reads every environment variable on every request
    (proxies, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``, ``.netrc``): a third of an ARM call's CPU
    here. The endpoint and the environment are fixed for the process, so they are read once:
    the same proxies for ``url`` (``NO_PROXY`` honoured) and the same CA bundle.
    """
    import requests.utils

    verify: Union[str, bool] = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    out: dict[str, Any] = {"use_env_settings": False, "connection_verify": verify}
    proxies = requests.utils.get_environ_proxies(url)
    if proxies:
        out["proxies"] = dict(proxies)
    return out


def _status(pipeline_response: Any, deserialized: Any, headers: Any) -> int:
    """``cls=`` hook of an SDK operation: answer its HTTP status (200 deleted, 204 was absent)."""
    return int(pipeline_response.http_response.status_code)


class Arm:
    """The SDK clients of this process, one per service and subscription (they are thread-safe)."""

    def __init__(self, credential: TokenCredential, arm_endpoint: str, arm_scope: str, **client_kwargs: Any) -> None:
        self.credential = credential
        self._kwargs: dict[str, Any] = {"base_url": arm_endpoint, "credential_scopes": [arm_scope], "retry_total": 0,
                                        **client_kwargs}
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _client(self, kind: str, subscription_id: str, make: Callable[..., Any], **extra: Any) -> Any:
        with self._lock:
            key = (kind, subscription_id.lower())
            if key not in self._clients:
                self._clients[key] = make(self.credential, subscription_id, **self._kwargs, **extra)
            return self._clients[key]

    def aks(self, subscription_id: str) -> ContainerServiceClient:
        client: ContainerServiceClient = self._client("aks", subscription_id, ContainerServiceClient,
                                                      api_version=AKS_API_VERSION)
        return client

    def msi(self, subscription_id: str) -> Any:  # multi-API client: untyped operation groups
        return self._client("msi", subscription_id, ManagedServiceIdentityClient, api_version=MSI_API_VERSION)

    def authorization(self, subscription_id: str) -> Any:
        return self._client("authorization", subscription_id, AuthorizationManagementClient,
                            api_version=AUTHORIZATION_API_VERSION)


class Clusters:
    def __init__(self, arm: Arm, policy: retrying.Policy) -> None:
        self.arm, self.policy = arm, policy

    def get_cluster(self, ref: model.ClusterRef) -> model.ClusterFacts:
        ops = self.arm.aks(ref.subscription_id).managed_clusters
        rg, name = ref.resource_group, ref.name
        resource = call(self.policy, f"read AKS cluster {ref.id}", lambda: ops.get(rg, name), fix=READER)
        arm = resource.as_dict()
        kubeconfig: Optional[bytes] = None
        # listClusterUserCredential fails while the cluster is not Succeeded: ask only then.
        if aks_facts.provisioning_state(arm) == aks_facts.SUCCEEDED:
            result = call(self.policy, f"list user credentials of AKS cluster {ref.id}",
                          lambda: ops.list_cluster_user_credentials(rg, name), fix=CLUSTER_USER)
            kubeconfig = next((k.value for k in result.kubeconfigs or () if k.value), None)
        return aks_facts.cluster_facts(ref, arm, kubeconfig)


class Identities:
    def __init__(self, arm: Arm, policy: retrying.Policy) -> None:
        self.arm, self.policy = arm, policy

    def get_identity(self, ref: model.IdentityRef) -> model.IdentityFacts:
        ops = self.arm.msi(ref.subscription_id).user_assigned_identities
        found = call(self.policy, f"read managed identity {ref.id}", lambda: ops.get(ref.resource_group, ref.name),
                     fix=MSI_WRITER)
        return model.IdentityFacts(id=ref.id, name=ref.name, client_id=str(found.client_id),
                                   principal_id=str(found.principal_id), tenant_id=str(found.tenant_id))

    def list_credentials(self, ref: model.IdentityRef) -> list[model.FederatedCredential]:
        ops = self.arm.msi(ref.subscription_id).federated_identity_credentials
        found = call(self.policy, f"list federated credentials of {ref.id}",
                     lambda: list(ops.list(ref.resource_group, ref.name)), fix=MSI_WRITER)
        return [model.FederatedCredential(str(c.name), str(c.issuer), str(c.subject), tuple(c.audiences or ()))
                for c in found]

    def put_credential(self, ref: model.IdentityRef, credential: model.FederatedCredential) -> None:
        ops = self.arm.msi(ref.subscription_id).federated_identity_credentials
        body = FederatedIdentityCredential(issuer=credential.issuer, subject=credential.subject,
                                           audiences=list(credential.audiences))
        # Entra answers 409 to concurrent writes on one identity and throttles writes:
        # both leave as TemporaryError (Conflict, Throttled) for the runner to retry.
        try:
            call(self.policy, f"write federated credential {credential.name} of {ref.id}",
                 lambda: ops.create_or_update(ref.resource_group, ref.name, credential.name, body), fix=MSI_WRITER)
        except errors.PermanentError as e:
            if "too many federated identity credentials" in e.message.lower():  # a racer took the last of 20
                raise errors.LimitExceeded(f"{e.message}; remove unused credentials or use an identity per cluster "
                                           "(WIF_ARGOCD_IDENTITY_ID)") from e
            raise

    def delete_credential(self, ref: model.IdentityRef, name: str) -> bool:
        ops = self.arm.msi(ref.subscription_id).federated_identity_credentials
        try:
            status = call(self.policy, f"delete federated credential {name} of {ref.id}",
                          lambda: ops.delete(ref.resource_group, ref.name, name, cls=_status), fix=MSI_WRITER)
        except errors.NotFound:
            return False
        return bool(status == 200)


class RoleAssignments:
    def __init__(self, arm: Arm, policy: retrying.Policy) -> None:
        self.arm, self.policy = arm, policy

    def _ops(self, scope: str) -> Any:
        return self.arm.authorization(_subscription(scope)).role_assignments

    def get(self, scope: str, name: str) -> Optional[model.RoleAssignment]:
        ops = self._ops(scope)
        try:
            found = call(self.policy, f"read role assignment {name} at {scope}", lambda: ops.get(scope, name), fix=READER)
        except errors.NotFound:
            return None
        return model.RoleAssignment(name=str(found.name), scope=str(found.scope or scope),
                                    role_definition_id=str(found.role_definition_id),
                                    principal_id=str(found.principal_id), description=str(found.description or ""))

    def create(self, assignment: model.RoleAssignment) -> None:
        ops = self._ops(assignment.scope)
        # principalType skips Entra's principal lookup, which fails for minutes after an identity is new.
        body = RoleAssignmentCreateParameters(role_definition_id=assignment.role_definition_id,
                                              principal_id=assignment.principal_id, principal_type="ServicePrincipal",
                                              description=assignment.description or None)
        call(self.policy, f"create role assignment {assignment.name} at {assignment.scope}",
             lambda: ops.create(assignment.scope, assignment.name, body), fix=RBAC_ADMIN)

    def delete(self, scope: str, name: str) -> bool:
        ops = self._ops(scope)
        try:
            deleted = call(self.policy, f"delete role assignment {name} at {scope}", lambda: ops.delete(scope, name),
                           fix=RBAC_ADMIN)
        except errors.NotFound:
            return False
        return deleted is not None  # the SDK answers None for 204 (it was not there)


def _subscription(scope: str) -> str:
    parts = scope.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise errors.BadInput(f"role assignment scope {scope!r} is not under /subscriptions/<id>")
    return parts[1]


def command_context(files: dict[str, str]) -> str:
    """Attach files as ``az aks command invoke --file`` does: a zip, flat names, base64."""
    if not files:
        return ""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in sorted(files.items()):
            archive.writestr(posixpath.basename(name), content)
    return base64.encodebytes(buffer.getvalue()).decode("ascii")


class RunCommand:
    """AKS run command: ``kubectl`` in a pod inside the cluster's network, as this app's identity."""

    def __init__(self, arm: Arm, aks_scope: str, policy: retrying.Policy, *,
                 timeout_s: float = 300.0, poll_s: float = 5.0) -> None:
        self.arm, self.aks_scope, self.policy = arm, aks_scope, policy
        self.timeout_s, self.poll_s = timeout_s, poll_s

    def run(self, ref: model.ClusterRef, command: str, files: dict[str, str]) -> model.RunResult:
        what = f"run command '{command}' on {ref.id}"
        ops = self.arm.aks(ref.subscription_id).managed_clusters

        def once() -> Any:
            # On Entra-integrated clusters the command runs as the caller: the AKS-scope token says who.
            token = self.arm.credential.get_token(self.aks_scope).token
            request = RunCommandRequest(command=command, context=command_context(files), cluster_token=token)
            del token
            poller = ops.begin_run_command(ref.resource_group, ref.name, request, polling_interval=self.poll_s)
            result = poller.result(timeout=self.timeout_s)
            if not poller.done():
                # The delay hint exceeds retrying's cap: the runner, not this worker, tries again later.
                raise errors.TemporaryError(f"{what}: still running after {self.timeout_s:.0f}s", delay=self.timeout_s)
            return result

        result = call(self.policy, what, once, fix=RUN_COMMAND)
        if str(result.provisioning_state or "").lower() != "succeeded":
            raise errors.TemporaryError(f"{what}: {result.provisioning_state}: {errors_map.short(result.reason)}")
        return model.RunResult(exit_code=int(result.exit_code or 0), logs=str(result.logs or ""))
