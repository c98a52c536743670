"""What AKS starts for a new cluster: its API server, OIDC issuer and admin binding.

Each cluster gets a service-account signing key, an issuer on the shared OIDC
host, and an emulated API server (``wif_sandbox.kube``) behind its own HTTPS
listener. Bearer tokens are Entra tokens for the AKS server app; Azure-RBAC
clusters also consult ARM role assignments at the cluster scope or above.

A private cluster's API address is a bound port that does not listen, so a
direct call is refused as it is from outside the VNet; its API server stays
reachable through run command (in-process) and a "jump box" listener that only
the sandbox's admin kubeconfig names.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from wif_sandbox import faults, wire
from wif_sandbox.arm import roles
from wif_sandbox.arm.clusters import ManagedCluster
from wif_sandbox.arm.kubeconfig import AKS_SERVER_APP_ID
from wif_sandbox.entra import Entra
from wif_sandbox.httpd import HttpsServer
from wif_sandbox.kube import Attributes, KubeApiServer, UserInfo
from wif_sandbox.oidc import OidcHost
from wif_sandbox.pki import CA, SigningKey

ADMIN_BINDING = "aks-cluster-admin-binding-aad"


@dataclass
class Plane:
    """A running cluster data plane (``clusters.DataPlane``)."""

    api_url: str
    fqdn: str
    issuer: str
    kube: KubeApiServer
    admin_url: str  # where the sandbox admin kubeconfig points (the jump box for a private cluster)
    sa_key: Optional[SigningKey] = None  # the service-account issuer's key (tests forge tokens with it)
    servers: list[HttpsServer] = field(default_factory=list)
    blackhole: Optional[socket.socket] = None
    on_stop: Callable[[], None] = lambda: None

    @property
    def handler(self) -> wire.Handler:
        return self.kube.handle

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self.blackhole is not None:
            self.blackhole.close()
        self.on_stop()


def _blackhole() -> socket.socket:
    """A port that is taken but refuses connections (bound, never listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


class Aks:
    """Builds a ``Plane`` per cluster; ``Clusters`` calls ``provision`` on PUT."""

    def __init__(self, *, ca: CA, log: faults.RequestLog, knobs: faults.Faults, oidc: OidcHost, entra: Entra,
                 role_assignments: roles.RoleAssignments, clock: Callable[[], float] = time.time) -> None:
        self._ca, self._log, self._knobs = ca, log, knobs
        self._oidc, self._entra, self._roles, self._clock = oidc, entra, role_assignments, clock

    def provision(self, cluster: ManagedCluster) -> Plane:
        sa_key = SigningKey.generate()
        issuer = self._oidc.new_issuer(sa_key.jwks)
        kube = KubeApiServer(
            cluster.name, issuer=issuer, sa_key=sa_key, authenticate_bearer=self._authenticate,
            azure_rbac=self._azure_rbac(cluster) if cluster.azure_rbac else None, clock=self._clock,
        )
        if cluster.admin_groups:
            kube.put_object(admin_binding(cluster.admin_groups))
        server = self._serve(kube, f"kube:{cluster.name}")
        if not cluster.private:
            plane = Plane(server.url, f"{server.host}:{server.port}", issuer, kube, server.url, sa_key, [server])
        else:
            hole = _blackhole()
            host, port = hole.getsockname()
            url = f"https://{host}:{port}"
            plane = Plane(url, f"{host}:{port}", issuer, kube, server.url, sa_key, [server], hole)
        plane.on_stop = lambda: self._oidc.remove_issuer(issuer)
        return plane

    def _serve(self, kube: KubeApiServer, service: str) -> HttpsServer:
        return HttpsServer(kube.handle, ca=self._ca, service=service, log=self._log, faults=self._knobs,
                           client_certs=True, operation_of=kube.operation_of).start()

    def _authenticate(self, token: str) -> Optional[UserInfo]:
        """AKS's Entra webhook: tokens for the AKS server app; username = object id."""
        principal = self._entra.verify_access_token(token, AKS_SERVER_APP_ID)
        return UserInfo(principal.oid, principal.groups) if principal is not None else None

    def _azure_rbac(self, cluster: ManagedCluster) -> Callable[[UserInfo, Attributes], bool]:
        def allowed(user: UserInfo, attrs: Attributes) -> bool:
            found = self._roles.roles_of(user.username, cluster.id)
            return roles.aks_allows(found, cluster.id, attrs.verb, attrs.resource, attrs.namespace)

        return allowed


def admin_binding(group_ids: list[str]) -> dict[str, Any]:
    """AKS's binding of the cluster's Entra admin groups to cluster-admin."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": ADMIN_BINDING, "labels": {"addonmanager.kubernetes.io/mode": "Reconcile",
                                              "kubernetes.io/cluster-service": "true"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in group_ids],
    }
