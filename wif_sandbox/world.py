"""The whole sandbox wired together: one CA, Entra, ARM, the OIDC host, AKS clusters.

``Sandbox.start()`` gives a tenant and two subscriptions with random GUIDs (the
hub, the identity and default targets live in the first; ``create_cluster`` can
put a cluster in the second, ``second_subscription_id``), the
function app's own Entra application (client id + sandbox-only secret), the Argo
CD user-assigned identity, a hub cluster seeded with Argo CD's namespace and
service accounts (and the function's namespaced RBAC from
``infra/kubernetes/hub-rbac.yaml``), and target clusters. ``env`` points
``wif_core`` and the function app at it; tests, the demo and benchmarks share it.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from wif_sandbox import events, hub, infra_grants
from wif_sandbox import faults as faults_mod
from wif_sandbox.arm import Arm, ManagedCluster, kubeconfig
from wif_sandbox.arm.provision import Aks, Plane
from wif_sandbox.entra import Entra
from wif_sandbox.httpd import HttpsServer
from wif_sandbox.kube import KubeApiServer
from wif_sandbox.oidc import OidcHost
from wif_sandbox.pki import CA

HUB = ("aks-hub", "rg-hub")
IDENTITY = ("id-argocd", "rg-argocd")
ARGOCD_NAMESPACE = "argocd"


@dataclass(frozen=True)
class TargetSpec:
    name: str
    resource_group: str = "rg-apps"
    private: bool = False
    azure_rbac: bool = False
    tags: dict[str, str] = field(default_factory=dict)


def default_targets(count: int) -> list[TargetSpec]:
    """Alternating public Kubernetes-RBAC and public Azure-RBAC clusters."""
    return [TargetSpec(f"aks-target-{i + 1}", azure_rbac=i % 2 == 1, tags={"env": "dev"}) for i in range(count)]


class Sandbox:
    """A running sandbox; use ``with Sandbox.start(...) as sb``."""

    def __init__(self, workdir: Path, knobs: faults_mod.Faults, clock: Callable[[], float], owns_workdir: bool) -> None:
        self.workdir, self.faults, self.clock = workdir, knobs, clock
        self._owns_workdir = owns_workdir
        self.log = faults_mod.RequestLog()
        self.tenant_id, self.subscription_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.second_subscription_id = str(uuid.uuid4())
        self.subscription_ids = (self.subscription_id, self.second_subscription_id)
        self.operator_id = ""  # the human who "creates" clusters: the operator app below
        self.ca = CA.create(workdir / "pki")
        self.ca_bundle: Path = self.ca.bundle_path
        self.kubeconfig_path: Path = workdir / "kubeconfig"
        self.oidc = OidcHost(self.tenant_id)
        self.entra = Entra(self.tenant_id, knobs=knobs, identity_of=lambda cid: self.arm.identities.by_client_id(cid),
                           jwks_of=self.oidc.jwks_of, clock=clock, graph_objects=self._directory_objects)
        self.arm = Arm(subscription_id=self.subscription_id, entra=self.entra, knobs=knobs, ca_pem=self.ca.pem,
                       provision=lambda c: self._aks.provision(c), publish=self._publish, clock=clock,
                       more_subscriptions=(self.second_subscription_id,))
        self._aks = Aks(ca=self.ca, log=self.log, knobs=knobs, oidc=self.oidc, entra=self.entra,
                        role_assignments=self.arm.roles)
        self._servers: list[HttpsServer] = []
        self.topic = events.Topic()
        self._lock = threading.Lock()
        self.function_app = self.entra.register_app("aks-argocd-wif")
        self.function_principal_id = self.function_app.principal_id
        # Whoever runs the sandbox's clouds by hand (tests' admin clients, az runbooks): Owner of both
        # subscriptions, while the function app has exactly infra's rights (ARM authorizes as Azure does).
        self.operator_app = self.entra.register_app("sandbox-operator")
        self.operator_id = self.operator_app.principal_id  # in every cluster's Entra admin group
        self.function_grants: dict[str, list[str]] = {}
        self.hub_id = self.identity_id = ""
        self.target_ids: list[str] = []

    def _directory_objects(self) -> list[tuple[str, str, str]]:
        """Service principals Graph knows: registered apps and user-assigned identities."""
        found = self.entra.app_objects()
        return found + [(i.wi.principal_id, i.wi.client_id, i.name) for i in self.arm.identities.all()]

    # ----- lifecycle -----

    @classmethod
    def start(cls, workdir: Optional[Path] = None, targets: Union[list[TargetSpec], int] = 2,
              faults: Optional[faults_mod.Faults] = None, clock: Callable[[], float] = time.monotonic) -> Sandbox:
        knobs = faults or faults_mod.Faults()
        owns = workdir is None
        where = Path(tempfile.mkdtemp(prefix="wif-sandbox-")) if workdir is None else workdir
        where.mkdir(parents=True, exist_ok=True)
        sb = cls(where, knobs, clock, owns)
        try:
            sb._boot(default_targets(targets) if isinstance(targets, int) else targets)
        except BaseException:
            sb.stop()
            raise
        return sb

    def _boot(self, targets: list[TargetSpec]) -> None:
        self.oidc.url = self._serve(self.oidc.handle, "oidc", self.oidc.operation_of)
        self.entra.url = self._serve(self.entra.handle, "entra", self.entra.operation_of)
        self.arm.url = self._serve(self.arm.handle, "arm", self.arm.operation_of)
        identity = self.arm.identities.create(IDENTITY[1], IDENTITY[0])
        self.identity_id = identity.id
        self.hub_id = self._create(HUB[0], HUB[1], private=False, azure_rbac=False, tags={"role": "argocd-hub"},
                                   location="westeurope", admin=False, delay=0.0)
        hub.seed(self.kube(self.hub_id), namespace=ARGOCD_NAMESPACE, identity_client_id=identity.wi.client_id,
                 function_principal_id=self.function_principal_id)
        self.target_ids = [self._create(t.name, t.resource_group, private=t.private, azure_rbac=t.azure_rbac,
                                        tags=dict(t.tags), location="westeurope", admin=True, delay=0.0)
                           for t in targets]
        scopes = tuple(f"/subscriptions/{s}" for s in self.subscription_ids)
        self.function_grants = infra_grants.grant(self, scopes=scopes)
        infra_grants.owner(self, self.operator_app.principal_id, scopes)

    def _serve(self, handler: Callable[..., Any], service: str, operation_of: Callable[..., str]) -> str:
        server = HttpsServer(handler, ca=self.ca, service=service, log=self.log, faults=self.faults,
                             operation_of=operation_of).start()
        self._servers.append(server)
        return server.url

    def stop(self) -> None:
        # In parallel: each listener takes up to its poll interval to notice the shutdown.
        stops = [c.plane.stop for c in self.arm.clusters.all() if c.plane is not None]
        stops += [s.stop for s in self._servers]
        threads = [threading.Thread(target=stop, name="sandbox-stop") for stop in stops]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.drain_events(timeout=2.0)
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- what clients need -----

    @property
    def arm_url(self) -> str:
        return self.arm.url

    @property
    def entra_url(self) -> str:
        return self.entra.url

    @property
    def env(self) -> dict[str, str]:
        return {
            "WIF_HUB_CLUSTER_ID": self.hub_id,
            "WIF_ARGOCD_IDENTITY_ID": self.identity_id,
            "WIF_ALLOWED_SCOPES": ",".join(f"/subscriptions/{s}" for s in self.subscription_ids),
            "WIF_ARM_ENDPOINT": self.arm.url,
            "AZURE_AUTHORITY_HOST": self.entra.url,
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.function_app.client_id,
            "AZURE_CLIENT_SECRET": self.function_app.secret,
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
            "SSL_CERT_FILE": str(self.ca_bundle),
            "WIF_ARGOCD_NAMESPACE": ARGOCD_NAMESPACE,
            # No WIF_FEDERATED_TOKEN_FILE: the webhook owns the token path in Argo CD's pods
            # (Faults.webhook_token_file), and a Secret that names one would override it.
        }

    @property
    def operator_env(self) -> dict[str, str]:
        """``env`` as the operator (Owner of the subscriptions), for admin clients and runbooks."""
        return dict(self.env, AZURE_CLIENT_ID=self.operator_app.client_id, AZURE_CLIENT_SECRET=self.operator_app.secret)

    # ----- clusters -----

    def create_cluster(self, name: str, resource_group: str = "rg-apps", *, private: bool = False,
                       azure_rbac: bool = False, tags: Optional[dict[str, str]] = None,
                       location: str = "westeurope", subscription_id: str = "") -> str:
        """Create a target cluster through ARM's own PUT path (Event Grid event included).

        ``subscription_id``: one of ``subscription_ids`` (default the first).
        """
        if subscription_id and subscription_id.lower() not in {s.lower() for s in self.subscription_ids}:
            raise KeyError(f"subscription {subscription_id} is not in this sandbox: {', '.join(self.subscription_ids)}")
        return self._create(name, resource_group, private=private, azure_rbac=azure_rbac, tags=dict(tags or {}),
                            location=location, admin=True, delay=None, subscription=subscription_id)

    def _create(self, name: str, resource_group: str, *, private: bool, azure_rbac: bool, tags: dict[str, str],
                location: str, admin: bool, delay: Optional[float], subscription: str = "") -> str:
        group = str(uuid.uuid4())  # the cluster's Entra admin group
        self.entra.directory.add_member(group, self.operator_id)
        if admin:  # the function app administers targets (not the hub: namespaced RBAC only)
            self.entra.directory.add_member(group, self.function_principal_id)
        body = {"location": location, "tags": tags, "properties": {
            "aadProfile": {"managed": True, "enableAzureRBAC": azure_rbac, "adminGroupObjectIDs": [group]},
            "apiServerAccessProfile": {"enablePrivateCluster": private},
            "oidcIssuerProfile": {"enabled": True}, "securityProfile": {"workloadIdentity": {"enabled": True}}}}
        cluster, _ = self.arm.clusters.put(resource_group, name, body, self.operator_claims(), delay=delay,
                                           subscription=subscription)
        self._write_kubeconfig()
        return cluster.id

    def delete_cluster(self, cluster_id: str) -> None:
        self.arm.clusters.delete(cluster_id, self.operator_claims())
        self._write_kubeconfig()

    def cluster(self, cluster_id: str) -> ManagedCluster:
        found = self.arm.clusters.get(cluster_id)
        if found is None:
            raise KeyError(f"no cluster {cluster_id} in this sandbox")
        return found

    def plane(self, cluster_id: str) -> Plane:
        plane = self.cluster(cluster_id).plane
        if not isinstance(plane, Plane):
            raise KeyError(f"cluster {cluster_id} has no data plane")
        return plane

    def kube(self, cluster_id: str) -> KubeApiServer:
        return self.plane(cluster_id).kube

    def context(self, cluster_id: str) -> str:
        """The admin kubeconfig's context for a cluster (``kubeconfig.context_name``)."""
        return kubeconfig.context_name(self.cluster(cluster_id), self.arm.clusters.all())

    def _write_kubeconfig(self) -> None:
        cert, key = self._admin_cert()
        contexts = []
        for c in self.arm.clusters.all():
            if isinstance(c.plane, Plane) and c.transition != "Deleting":
                contexts.append(kubeconfig.AdminContext(self.context(c.id), c.plane.admin_url))
        current = HUB[0] if any(c.name == HUB[0] for c in contexts) else (contexts[0].name if contexts else "")
        kubeconfig.write_admin(self.kubeconfig_path, contexts, cert, key, current, self.ca.pem)

    def _admin_cert(self) -> tuple[Path, Path]:
        with self._lock:
            if not hasattr(self, "_admin"):
                self._admin = self.ca.issue_client("sandbox-admin", ["system:masters"])
            return self._admin

    # ----- Event Grid -----

    def operator_claims(self) -> dict[str, Any]:
        now = int(time.time())
        return {"aud": "https://management.core.windows.net/", "iss": self.entra.v1_issuer, "iat": now, "nbf": now,
                "exp": now + 3600, "oid": self.operator_id, "sub": self.operator_id, "tid": self.tenant_id,
                "appid": kubeconfig.AZURE_CLI_CLIENT_ID, "appidacr": "0", "idtyp": "user", "ver": "1.0"}

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Deliver every later ARM event (Event Grid schema) to ``callback``, on its own thread."""
        self.topic.subscribe(callback)

    @property
    def published(self) -> list[dict[str, Any]]:
        """Every event the system topics emitted (Event Grid schema), oldest first."""
        return self.topic.published

    def event(self, cluster_id: str, kind: str = "write", schema: str = "eventgrid",
              casing: str = "canonical") -> dict[str, Any]:
        """A realistic event for ``cluster_id`` (not delivered): ``kind`` write|delete, ``schema``
        eventgrid|cloudevents, ``casing`` canonical|lower|mixed (how the id is spelled, ``events.recase``)."""
        if kind not in ("write", "delete") or schema not in ("eventgrid", "cloudevents"):
            raise ValueError("kind is write|delete, schema is eventgrid|cloudevents")
        spelled = events.recase(cluster_id, casing)
        evt = events.resource_event(kind, resource_id=spelled, subscription_id=cluster_id.split("/")[2],
                                    tenant_id=self.tenant_id, claims=self.operator_claims())
        return events.to_cloudevent(evt) if schema == "cloudevents" else evt

    def _publish(self, kind: str, cluster: ManagedCluster, claims: dict[str, Any], url: str) -> None:
        spelled = events.recase(cluster.id, self.faults.event_casing)
        self.topic.publish(events.resource_event(kind, resource_id=spelled, subscription_id=cluster.id.split("/")[2],
                                                 tenant_id=self.tenant_id, claims=claims, url=url))

    def drain_events(self, timeout: float = 10.0) -> None:
        """Wait for deliveries in flight (tests that assert on their effects)."""
        self.topic.drain(timeout)
