"""Small stateful fakes of every port, for step and runner tests.

They hold state (clusters, credentials, objects, role assignments) and count
calls; tests assert the resulting state and the counts, not call shapes.
``fail`` queues an error for the next call of an operation (fault injection);
``fail_after`` queues one raised *after* the next call took effect (a write that
happened, then a lost response or a crash before the caller recorded it).
"""
from __future__ import annotations

import base64
import copy
import itertools
from collections import Counter
from typing import Any, Callable, Optional

from wif_core import config, errors, model, ports
from wif_sandbox.kube import patch as kube_patch  # the API server's own RFC 7386 merge

SUB = "00000000-0000-0000-0000-00000000aaaa"
TENANT = "11111111-1111-1111-1111-111111111111"
HUB_ID = f"/subscriptions/{SUB}/resourceGroups/argocd-rg/providers/Microsoft.ContainerService/managedClusters/hub"
IDENTITY_ID = f"/subscriptions/{SUB}/resourceGroups/argocd-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/argocd"
CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
WRITES = ("put", "create", "replace", "patch", "delete", "run")


def cluster_id(name: str, rg: str = "rg-apps") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"


def settings(**overrides: str) -> config.Settings:
    env = {"WIF_HUB_CLUSTER_ID": HUB_ID, "WIF_ARGOCD_IDENTITY_ID": IDENTITY_ID, "WIF_ALLOWED_SCOPES": f"/subscriptions/{SUB}"}
    env.update(overrides)
    return config.Settings.from_env(env)


class Clock:
    """A clock whose ``sleep`` advances it and records each sleep (long waits run instantly)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class World:
    """Azure + Entra + every cluster's API server, in memory."""

    def __init__(self, clock: Callable[[], float] = lambda: 0.0, propagation_delay: float = 0.0) -> None:
        self.clock = clock
        self.propagation_delay = propagation_delay
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[float, str]] = []  # (clock, operation) of every call, in order
        self.failures: dict[str, list[Exception]] = {}
        self.after_failures: dict[str, list[BaseException]] = {}
        self._pending_after: Optional[tuple[str, BaseException]] = None
        self.clusters: dict[str, model.ClusterFacts] = {}
        self.objects: dict[str, dict[tuple[str, Optional[str], str], dict[str, Any]]] = {}
        self.credentials: dict[str, tuple[model.FederatedCredential, float]] = {}
        self.assignments: dict[tuple[str, str], model.RoleAssignment] = {}
        self.identity = model.IdentityFacts(IDENTITY_ID, "argocd", "client-0001", "principal-0001", TENANT)
        self._rv = itertools.count(1)
        self.add_cluster(HUB_ID)

    # ---- setup and inspection -------------------------------------------------------
    def add_cluster(self, arm_id: str, *, state: str = "Succeeded", private: bool = False, azure_rbac: bool = False,
                    tags: Optional[dict[str, str]] = None) -> model.ClusterRef:
        ref = model.ClusterRef.parse(arm_id)
        self.clusters[ref.key] = model.ClusterFacts(
            ref=ref, provisioning_state=state, location="westeurope", server=f"https://{ref.name}.hcp.example:443",
            ca_data=CA_DATA, private=private, aad=True, azure_rbac=azure_rbac,
            oidc_issuer=f"https://oidc.example/{ref.name}/", workload_identity=True, tenant_id=TENANT,
            tags=tuple(sorted((tags or {}).items())))
        self.objects.setdefault(ref.key, {})
        return ref

    def set_state(self, ref: model.ClusterRef, state: str) -> None:
        facts = self.clusters[ref.key]
        self.clusters[ref.key] = model.ClusterFacts(**{**facts.__dict__, "provisioning_state": state})

    def fail(self, op: str, *errs: Exception) -> None:
        self.failures.setdefault(op, []).extend(errs)

    def fail_after(self, op: str, *errs: BaseException) -> None:
        """The next calls of ``op`` take effect, then raise ``errs`` (one per call).

        Models a timeout or connection reset after the server applied a write, or
        the process dying before it recorded the result (raise a BaseException).
        """
        self.after_failures.setdefault(op, []).extend(errs)

    def pending_faults(self) -> dict[str, int]:
        """Injected faults that have not fired yet, by operation."""
        left: Counter[str] = Counter()
        for queues in (self.failures, self.after_failures):
            for op, errs in queues.items():
                left[op] += len(errs)
        return {op: n for op, n in left.items() if n}

    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if op.rsplit(".", 1)[-1] in WRITES)

    def object(self, cluster: str, kind: str, namespace: Optional[str], name: str) -> Optional[dict[str, Any]]:
        return self.objects[model.ClusterRef.parse(cluster).key].get((kind, namespace, name))

    def allowed(self, ref: model.ClusterRef, user: str) -> tuple[bool, str]:
        """What the cluster's authorizer would answer for ``user`` (RBAC, or Azure RBAC)."""
        for (kind, _, _), obj in self.objects[ref.key].items():
            if kind == "ClusterRoleBinding" and any(s.get("name") == user for s in obj.get("subjects", [])):
                return True, f"bound by {obj['metadata']['name']}"
        if self.clusters[ref.key].azure_rbac:
            for (scope, _), a in self.assignments.items():
                if scope == ref.key and a.principal_id == user:
                    return True, "Azure RBAC"
        return False, "no binding"

    def _call(self, op: str) -> None:
        self.calls[op] += 1
        self.log.append((self.clock(), op))
        queued = self.failures.get(op)
        if queued:
            raise queued.pop(0)
        after = self.after_failures.get(op)
        if after:
            self._pending_after = (op, after.pop(0))

    def _settle(self, failed: bool) -> None:
        """End of a port call: raise the after-fault armed by ``_call`` if the call took effect."""
        pending, self._pending_after = self._pending_after, None
        if pending is None:
            return
        op, err = pending
        if failed:  # the call did not take effect (it raised by itself): keep the fault for the next one
            self.after_failures[op].insert(0, err)
            return
        raise err

    # ---- ports --------------------------------------------------------------------------
    def ports(self) -> ports.Ports:
        return ports.Ports(clusters=_Faulty(self, _Clusters(self)), identities=_Faulty(self, _Identities(self)),
                           tokens=_Faulty(self, _Tokens(self)), kube=lambda facts: _Faulty(self, _Kube(self, facts.ref)),
                           roles=_Faulty(self, _Roles(self)), run_command=_Faulty(self, _RunCommand(self)))


class _Faulty:
    """Wraps a fake port: after each call, raise the after-fault ``World._call`` armed, if any."""

    def __init__(self, w: World, port: Any) -> None:
        self._w, self._port = w, port

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._port, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                result = attr(*args, **kwargs)
            except BaseException:
                self._w._settle(failed=True)
                raise
            self._w._settle(failed=False)
            return result

        return call


class _Clusters:
    def __init__(self, w: World) -> None:
        self.w = w

    def get_cluster(self, ref: model.ClusterRef) -> model.ClusterFacts:
        self.w._call("arm.cluster.get")
        if ref.key not in self.w.clusters:
            raise errors.NotFound(f"cluster {ref.id} not found")
        return self.w.clusters[ref.key]


class _Identities:
    def __init__(self, w: World) -> None:
        self.w = w

    def get_identity(self, ref: model.IdentityRef) -> model.IdentityFacts:
        self.w._call("arm.identity.get")
        return self.w.identity

    def list_credentials(self, ref: model.IdentityRef) -> list[model.FederatedCredential]:
        self.w._call("arm.credentials.list")
        return [c for c, _ in self.w.credentials.values()]

    def put_credential(self, ref: model.IdentityRef, credential: model.FederatedCredential) -> None:
        self.w._call("arm.credentials.put")
        for name, (have, _) in self.w.credentials.items():
            if name != credential.name and have.same_trust(credential):
                raise errors.PermanentError("duplicate issuer+subject")
        if len(self.w.credentials) >= 20 and credential.name not in self.w.credentials:
            raise errors.LimitExceeded("20 credentials")
        self.w.credentials[credential.name] = (credential, self.w.clock())

    def delete_credential(self, ref: model.IdentityRef, name: str) -> bool:
        self.w._call("arm.credentials.delete")
        return self.w.credentials.pop(name, None) is not None


class _Tokens:
    def __init__(self, w: World) -> None:
        self.w = w

    def exchange(self, *, tenant_id: str, client_id: str, assertion: str, scope: str) -> None:
        self.w._call("entra.token")
        _, issuer, subject = assertion.split("|")
        for credential, written in self.w.credentials.values():
            if credential.issuer == issuer and credential.subject == subject:
                if self.w.clock() - written >= self.w.propagation_delay:
                    return
        raise errors.NotFederated("AADSTS70021: No matching federated identity record found for presented assertion.",
                                  70021)


class _Kube:
    def __init__(self, w: World, ref: model.ClusterRef) -> None:
        self.w, self.ref = w, ref
        self.store = w.objects.setdefault(ref.key, {})

    def _op(self, op: str) -> None:
        self.w._call(f"kube.{op}")
        facts = self.w.clusters.get(self.ref.key)
        if facts is None:  # deleted: its API server's name no longer resolves
            raise errors.Unreachable(f"{self.ref.name}: cannot reach the API server (the cluster is gone)")
        if facts.private:  # outside the VNet: unreachable
            raise errors.Unreachable(f"{self.ref.name}: private API server is not reachable")

    def get(self, api_version: str, kind: str, namespace: Optional[str], name: str) -> Optional[dict[str, Any]]:
        self._op(f"{kind}.get")
        obj = self.store.get((kind, namespace, name))
        return copy.deepcopy(obj) if obj else None

    def list(self, api_version: str, kind: str, namespace: Optional[str], label_selector: str = "") -> list[dict[str, Any]]:
        self._op(f"{kind}.list")
        return [copy.deepcopy(o) for (k, ns, _), o in self.store.items() if k == kind and ns == namespace]

    def _stored(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        data = dict(obj.get("data") or {})
        for key, value in (obj.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(value.encode()).decode()
        if data:
            obj["data"] = data
        obj["metadata"]["resourceVersion"] = str(next(self.w._rv))
        return obj

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._op(f"{obj['kind']}.create")
        key = (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if key in self.store:
            raise errors.Conflict(f"{key} already exists")
        self.store[key] = self._stored(obj)
        return copy.deepcopy(self.store[key])

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._op(f"{obj['kind']}.replace")
        key = (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        have = self.store.get(key)
        if have is None or have["metadata"]["resourceVersion"] != obj["metadata"].get("resourceVersion"):
            raise errors.Conflict("the object has been modified")
        self.store[key] = self._stored(obj)
        return copy.deepcopy(self.store[key])

    def patch(self, api_version: str, kind: str, namespace: Optional[str], name: str,
              merge: dict[str, Any]) -> dict[str, Any]:
        self._op(f"{kind}.patch")
        have = self.store.get((kind, namespace, name))
        wanted = (merge.get("metadata") or {}).get("resourceVersion")
        if have is None or (wanted and have["metadata"]["resourceVersion"] != wanted):
            raise errors.Conflict("the object has been modified")
        self.store[(kind, namespace, name)] = self._stored(kube_patch.merge_patch(have, merge))
        return copy.deepcopy(self.store[(kind, namespace, name)])

    def delete(self, api_version: str, kind: str, namespace: Optional[str], name: str,
               resource_version: Optional[str] = None) -> bool:
        self._op(f"{kind}.delete")
        have = self.store.get((kind, namespace, name))
        if have is not None and resource_version and have["metadata"].get("resourceVersion") != resource_version:
            raise errors.Conflict("Precondition failed: ResourceVersion")
        return self.store.pop((kind, namespace, name), None) is not None

    def create_token(self, namespace: str, service_account: str, audience: str, seconds: int = 600) -> str:
        self._op("token.request")
        issuer = self.w.clusters[self.ref.key].oidc_issuer
        return f"token|{issuer}|system:serviceaccount:{namespace}:{service_account}"

    def can_i(self, user: str, groups: tuple[str, ...], verb: str, resource: str, group: str = "",
              namespace: Optional[str] = None) -> tuple[bool, str]:
        self._op("sar.review")
        return self.w.allowed(self.ref, user)


class _Roles:
    def __init__(self, w: World) -> None:
        self.w = w

    def get(self, scope: str, name: str) -> Optional[model.RoleAssignment]:
        self.w._call("arm.role.get")
        return self.w.assignments.get((scope.lower(), name))

    def create(self, assignment: model.RoleAssignment) -> None:
        self.w._call("arm.role.put")
        if "/managedclusters/" in assignment.scope.lower() and assignment.scope.lower() not in self.w.clusters:
            raise errors.NotFound(f"the scope {assignment.scope} does not exist")
        for a in self.w.assignments.values():
            if (a.scope.lower(), a.principal_id, a.role_definition_id) == (
                    assignment.scope.lower(), assignment.principal_id, assignment.role_definition_id):
                raise errors.Conflict("RoleAssignmentExists")
        self.w.assignments[(assignment.scope.lower(), assignment.name)] = assignment

    def delete(self, scope: str, name: str) -> bool:
        self.w._call("arm.role.delete")
        return self.w.assignments.pop((scope.lower(), name), None) is not None


class _RunCommand:
    """Executes the kubectl forms the steps send (get, apply, delete, auth can-i; joined by &&), inside the 'VNet'."""

    def __init__(self, w: World) -> None:
        self.w = w

    def run(self, ref: model.ClusterRef, command: str, files: dict[str, str]) -> model.RunResult:
        self.w._call("arm.runcommand.run")
        if ref.key not in self.w.clusters:
            raise errors.NotFound(f"cluster {ref.id} not found")
        result = model.RunResult(0, "")
        for part in command.split(" && "):  # sh runs the next only if the last exited 0
            result = self._one(ref, part, files)
            if result.exit_code != 0:
                break
        return result

    def _one(self, ref: model.ClusterRef, command: str, files: dict[str, str]) -> model.RunResult:
        import json

        store = self.w.objects[ref.key]
        words = command.split()
        if words[:3] == ["kubectl", "get", "clusterrolebinding"]:
            found = store.get(("ClusterRoleBinding", None, words[3]))
            return model.RunResult(0, json.dumps(found) if found else "")
        if words[:3] in (["kubectl", "create", "-f"], ["kubectl", "replace", "-f"]):
            obj = json.loads(files[words[3]])
            key = (obj["kind"], None, obj["metadata"]["name"])
            have = store.get(key)
            if words[1] == "create" and have is not None:
                return model.RunResult(1, f'Error from server (AlreadyExists): "{key[2]}" already exists')
            if words[1] == "replace" and (have is None or (have.get("metadata") or {}).get("resourceVersion")
                                          != obj["metadata"].get("resourceVersion")):
                return model.RunResult(1, "Error from server (Conflict): the object has been modified")
            obj["metadata"]["resourceVersion"] = str(next(self.w._rv))
            store[key] = obj
            return model.RunResult(0, f"clusterrolebinding/{key[2]} {words[1]}d")
        if words[:3] == ["kubectl", "apply", "-f"]:
            obj = json.loads(files[words[3]])
            store[(obj["kind"], None, obj["metadata"]["name"])] = obj
            return model.RunResult(0, f"clusterrolebinding/{obj['metadata']['name']} configured")
        if words[:3] == ["kubectl", "delete", "clusterrolebinding"]:
            store.pop(("ClusterRoleBinding", None, words[3]), None)
            return model.RunResult(0, "deleted")
        if words[:3] == ["kubectl", "auth", "can-i"]:
            allowed, _ = self.w.allowed(ref, words[-1].split("=", 1)[1])
            return model.RunResult(0 if allowed else 1, "yes" if allowed else "no")
        return model.RunResult(1, f"unsupported: {command}")


def cluster_runs(host: Any) -> list[str]:
    """``LocalDurable.started`` without the hub's federation runs (``instances.ensure_federation``)."""
    return [iid for iid in host.started if not iid.startswith("federation-")]
