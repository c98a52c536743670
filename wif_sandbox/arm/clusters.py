"""Microsoft.ContainerService/managedClusters: the resource, its LROs and user kubeconfig.

A PUT answers 201 with ``provisioningState: Creating`` and an
``Azure-AsyncOperation`` header, as AKS does; the state turns ``Succeeded`` once
``Faults.provisioning_delay_s`` has passed. The data plane (API server, OIDC
issuer) starts at PUT time; the issuer URL shows in the resource only once it is
Succeeded. Event Grid's ``ResourceWriteSuccess`` goes out at PUT time, before the
cluster is ready, as in Azure; ``ResourceDeleteSuccess`` at DELETE time.
"""
from __future__ import annotations

import base64
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from wif_sandbox import faults, wire
from wif_sandbox.arm import base, kubeconfig
from wif_sandbox.arm.base import ArmError, Call
from wif_sandbox.arm.routes import Target

TYPE = "Microsoft.ContainerService/managedClusters"
KUBERNETES_VERSION = "1.32.6"


class DataPlane(Protocol):
    """What AKS runs for a cluster (built by ``arm.provision``)."""

    api_url: str  # what the kubeconfig names (unreachable for a private cluster)
    fqdn: str
    issuer: str

    @property
    def handler(self) -> wire.Handler:
        """The API server itself, reachable in-process (run command)."""

    def stop(self) -> None: ...


@dataclass
class ManagedCluster:
    id: str
    name: str
    resource_group: str
    location: str
    tags: dict[str, str]
    private: bool
    azure_rbac: bool
    admin_groups: list[str]
    tenant_id: str
    ready_at: float
    transition: str = "Creating"  # the state until ready_at: Creating | Updating | Deleting
    guid: str = field(default_factory=lambda: uuid.uuid4().hex)
    plane: Optional[DataPlane] = None

    def state(self, now: float) -> str:
        return self.transition if now < self.ready_at or self.transition == "Deleting" else "Succeeded"


Publish = Callable[[str, ManagedCluster, dict[str, Any], str], None]  # kind, cluster, caller claims, URL


def subscription_of(resource_id: str) -> str:
    """The subscription GUID of an ARM id (``/subscriptions/{id}/...``)."""
    return resource_id.split("/")[2]


class Clusters:
    def __init__(self, subscription: str, tenant_id: str, knobs: faults.Faults, clock: Callable[[], float],
                 provision: Callable[[ManagedCluster], DataPlane], publish: Publish, ca_pem: bytes,
                 others: tuple[str, ...] = ()) -> None:
        self.subscription, self.tenant_id, self.ca_pem = subscription, tenant_id, ca_pem
        self.subscriptions = (subscription, *others)  # the first is the default
        self._knobs, self._clock = knobs, clock
        self._provision, self._publish = provision, publish
        self._items: dict[str, ManagedCluster] = {}
        self._groups: dict[tuple[str, str], str] = {}  # (subscription, group) lower-cased -> as first created
        self._operations: dict[str, tuple[float, str]] = {}  # async operation id -> (done at, resource id)
        self._lock = threading.Lock()

    # ----- in-process API -----

    def get(self, resource_id: str) -> Optional[ManagedCluster]:
        with self._lock:
            return self._items.get(resource_id.lower())

    def all(self) -> list[ManagedCluster]:
        with self._lock:
            return list(self._items.values())

    def canonical(self, subscription: str, resource_group: str) -> tuple[str, str]:
        """(subscription, resource group) as ARM spells them: ids match in any casing, bodies keep the original."""
        sub = next((s for s in self.subscriptions if s.lower() == subscription.lower()), subscription)
        with self._lock:
            group = self._groups.setdefault((sub.lower(), resource_group.lower()), resource_group)
        return sub, group

    def put(self, resource_group: str, name: str, body: dict[str, Any], claims: dict[str, Any],
            url: str = "", delay: Optional[float] = None, subscription: str = "") -> tuple[ManagedCluster, bool]:
        """Create or update (the ARM PUT) in ``subscription`` (default: the first); returns (cluster, created).

        ``delay`` overrides ``Faults.provisioning_delay_s`` (the sandbox's initial clusters exist already).
        """
        subscription, resource_group = self.canonical(subscription or self.subscription, resource_group)
        rid = base.resource_id(subscription, resource_group, TYPE, name)
        props = base.obj(body, "properties")
        aad, access = base.obj(props, "aadProfile"), base.obj(props, "apiServerAccessProfile")
        ready_at = self._clock() + (self._knobs.provisioning_delay_s if delay is None else delay)
        with self._lock:
            cluster = self._items.get(rid.lower())
            created = cluster is None
            if cluster is None:
                location = str(body.get("location") or "")
                if not location:
                    raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
                cluster = ManagedCluster(rid, name, resource_group, location, dict(body.get("tags") or {}),
                                         bool(access.get("enablePrivateCluster")), bool(aad.get("enableAzureRBAC")),
                                         [str(g) for g in aad.get("adminGroupObjectIDs") or []],
                                         str(aad.get("tenantID") or self.tenant_id), ready_at)
                self._items[rid.lower()] = cluster
            elif cluster.transition == "Deleting":
                raise ArmError(409, "OperationNotAllowed", f"Operation is not allowed: cluster {name} is being deleted.")
            else:
                cluster.tags = dict(body.get("tags") or {})
                cluster.azure_rbac = bool(aad.get("enableAzureRBAC", cluster.azure_rbac))
                cluster.transition, cluster.ready_at = "Updating", ready_at
        if created:
            cluster.plane = self._provision(cluster)
        self._publish("write", cluster, claims, url)
        return cluster, created

    def delete(self, resource_id: str, claims: dict[str, Any], url: str = "") -> Optional[ManagedCluster]:
        """Start deleting; the data plane stops after the provisioning delay (at once when it is 0)."""
        with self._lock:
            cluster = self._items.get(resource_id.lower())
            if cluster is None or cluster.transition == "Deleting":
                return cluster
            cluster.transition = "Deleting"
            cluster.ready_at = self._clock() + self._knobs.provisioning_delay_s
        self._publish("delete", cluster, claims, url)
        delay = self._knobs.provisioning_delay_s
        if delay <= 0:
            self._finish_delete(cluster)
        else:
            timer = threading.Timer(delay, self._finish_delete, args=(cluster,))
            timer.daemon = True
            timer.start()
        return cluster

    def _finish_delete(self, cluster: ManagedCluster) -> None:
        with self._lock:
            self._items.pop(cluster.id.lower(), None)
        if cluster.plane is not None:
            cluster.plane.stop()

    # ----- HTTP -----

    def serve(self, call: Call, t: Target) -> wire.Response:
        method = call.req.method
        if t.kind == "clusters":
            prefix = f"/subscriptions/{t.subscription}/".lower()
            if t.resource_group:
                prefix += f"resourcegroups/{t.resource_group}/".lower()
            found = [c for c in self.all() if c.id.lower().startswith(prefix)]
            return base.respond(200, {"value": [self.json(c) for c in found]}, call.operation)
        if t.kind == "operation":
            return self._operation(call, t.child)
        rid = base.resource_id(t.subscription, t.resource_group, TYPE, t.name)
        if t.kind == "cluster" and method == "PUT":
            cluster, created = self.put(t.resource_group, t.name, call.body(), call.claims, call.url(call.req.path),
                                        subscription=t.subscription)
            return base.respond(201 if created else 200, self.json(cluster), call.operation,
                                self._async_headers(call, cluster))
        existing = self.get(rid)
        if t.kind == "cluster" and method == "DELETE":
            if existing is None:
                return base.respond(204, None, call.operation)
            self.delete(rid, call.claims, call.url(call.req.path))
            headers = self._async_headers(call, existing)
            headers["Location"] = headers["Azure-AsyncOperation"]
            return base.respond(202, None, call.operation, headers)
        if existing is None:
            raise base.not_found(TYPE, t.name, t.resource_group)
        cluster = existing
        if t.kind == "cluster" and method == "GET":
            return base.respond(200, self.json(cluster), call.operation)
        if t.kind == "clusterAction" and t.child == "listClusterUserCredential" and method == "POST":
            return base.respond(200, self.user_credentials(cluster, call.req.q("format")), call.operation)
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported for this resource.")

    def _async_headers(self, call: Call, cluster: ManagedCluster) -> dict[str, str]:
        op = str(uuid.uuid4())
        with self._lock:
            self._operations[op] = (cluster.ready_at, cluster.id)
        path = f"/subscriptions/{subscription_of(cluster.id)}/providers/Microsoft.ContainerService/locations/" \
               f"{cluster.location}/operations/{op}"
        return {"Azure-AsyncOperation": call.url(path)}

    def _operation(self, call: Call, op: str) -> wire.Response:
        with self._lock:
            found = self._operations.get(op)
        if found is None:
            raise ArmError(404, "NotFound", f"Operation {op} was not found.")
        done = self._clock() >= found[0]
        body = {"name": op, "status": "Succeeded" if done else "InProgress", "startTime": base.now_iso()}
        if done:
            body["endTime"] = base.now_iso()
        return base.respond(200, body, call.operation)

    def user_credentials(self, cluster: ManagedCluster, fmt: Optional[str] = None) -> dict[str, Any]:
        if cluster.plane is None:
            raise ArmError(409, "OperationNotAllowed", "The cluster has no API server yet.")
        doc = kubeconfig.user(cluster.name, cluster.resource_group, cluster.plane.api_url, cluster.tenant_id,
                              self.ca_pem, exec_login=fmt != "azure")
        return {"kubeconfigs": [{"name": "clusterUser", "value": base64.b64encode(doc).decode("ascii")}]}

    def json(self, c: ManagedCluster) -> dict[str, Any]:
        state = c.state(self._clock())
        plane = c.plane
        props: dict[str, Any] = {
            "provisioningState": state, "powerState": {"code": "Running"}, "kubernetesVersion": KUBERNETES_VERSION,
            "currentKubernetesVersion": KUBERNETES_VERSION, "dnsPrefix": f"{c.name}-dns",
            "enableRBAC": True, "nodeResourceGroup": node_resource_group(c), "maxAgentPools": 100,
            "aadProfile": {"managed": True, "enableAzureRBAC": c.azure_rbac, "adminGroupObjectIDs": c.admin_groups,
                           "tenantID": c.tenant_id},
            "oidcIssuerProfile": {"enabled": True},
            "securityProfile": {"workloadIdentity": {"enabled": True}},
            "apiServerAccessProfile": {"enablePrivateCluster": c.private},
            "agentPoolProfiles": [_agent_pool(state)], **_profiles(c),
        }
        if plane is not None:
            props["privateFQDN" if c.private else "fqdn"] = plane.fqdn
            props["azurePortalFQDN"] = plane.fqdn
        if plane is not None and state == "Succeeded":
            props["oidcIssuerProfile"]["issuerURL"] = plane.issuer
        return {
            "id": c.id, "name": c.name, "type": TYPE, "location": c.location, "tags": c.tags,
            "identity": {"type": "SystemAssigned", "principalId": str(uuid.UUID(c.guid)), "tenantId": c.tenant_id},
            "sku": {"name": "Base", "tier": "Standard"}, "properties": props,
        }


def node_resource_group(c: ManagedCluster) -> str:
    return f"MC_{c.resource_group}_{c.name}_{c.location}"


def _agent_pool(state: str) -> dict[str, Any]:
    return {"name": "nodepool1", "count": 1, "vmSize": "Standard_D2s_v5", "osDiskSizeGB": 128,
            "osDiskType": "Managed", "kubeletDiskType": "OS", "maxPods": 250, "type": "VirtualMachineScaleSets",
            "enableAutoScaling": False, "provisioningState": state, "powerState": {"code": "Running"},
            "orchestratorVersion": KUBERNETES_VERSION, "currentOrchestratorVersion": KUBERNETES_VERSION,
            "enableNodePublicIP": False, "mode": "System", "osType": "Linux", "osSKU": "Ubuntu",
            "upgradeSettings": {"maxSurge": "10%"}, "enableFIPS": False}


def _profiles(c: ManagedCluster) -> dict[str, Any]:
    """What every real cluster carries beside the fields the product reads (``az aks update`` reads them)."""
    kubelet = uuid.uuid5(uuid.UUID(c.guid), "kubelet")
    kubelet_id = f"/subscriptions/{subscription_of(c.id)}/resourcegroups/{node_resource_group(c)}/providers/" \
                 f"Microsoft.ManagedIdentity/userAssignedIdentities/{c.name}-agentpool"
    return {
        "servicePrincipalProfile": {"clientId": "msi"},
        "identityProfile": {"kubeletidentity": {"resourceId": kubelet_id, "clientId": str(kubelet),
                                                "objectId": str(uuid.uuid5(kubelet, "object"))}},
        "networkProfile": {
            "networkPlugin": "azure", "networkPluginMode": "overlay", "networkDataplane": "azure",
            "loadBalancerSku": "standard", "outboundType": "loadBalancer",
            "loadBalancerProfile": {"managedOutboundIPs": {"count": 1}, "backendPoolType": "nodeIPConfiguration"},
            "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10",
            "podCidrs": ["10.244.0.0/16"], "serviceCidrs": ["10.0.0.0/16"], "ipFamilies": ["IPv4"],
        },
        "autoUpgradeProfile": {"upgradeChannel": "none", "nodeOSUpgradeChannel": "NodeImage"},
        "disableLocalAccounts": False, "supportPlan": "KubernetesOfficial", "workloadAutoScalerProfile": {},
        "storageProfile": {"diskCSIDriver": {"enabled": True}, "fileCSIDriver": {"enabled": True},
                           "snapshotController": {"enabled": True}},
        "addonProfiles": {}, "bootstrapProfile": {"artifactSource": "Direct"},
    }
