"""Kubeconfigs as AKS hands them out.

``listClusterUserCredential`` on an Entra-integrated cluster returns a kubeconfig
whose user is a ``kubelogin`` exec plugin (the AKS server app id, the tenant); the
CA is the sandbox CA, as ``certificate-authority-data``. The sandbox's own admin
kubeconfig uses client certificates (``system:masters``), one context per cluster.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import yaml

AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
AZURE_CLI_CLIENT_ID = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"  # what AKS puts in --client-id
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)



def _ca_data(ca_pem: bytes) -> str:
    return base64.b64encode(ca_pem).decode("ascii")


def user(name: str, resource_group: str, server: str, tenant_id: str, ca_pem: bytes, *, exec_login: bool = True) -> bytes:
    user_name = f"clusterUser_{resource_group}_{name}"
    exec_user: dict[str, Any] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--environment", "AzurePublicCloud", "--server-id", AKS_SERVER_APP_ID,
                     "--client-id", AZURE_CLI_CLIENT_ID, "--tenant-id", tenant_id, "--login", "devicecode"],
            "env": None,
            "installHint": "\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\n"
                           "To learn more, please go to https://aka.ms/aks/kubelogin\n",
            "provideClusterInfo": False,
            "interactiveMode": "IfAvailable",
        }
    }
    user_entry = exec_user if exec_login else {"auth-provider": {"name": "azure", "config": {
        "apiserver-id": AKS_SERVER_APP_ID, "client-id": AZURE_CLI_CLIENT_ID, "tenant-id": tenant_id,
        "environment": "AzurePublicCloud"}}}
    doc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": {"certificate-authority-data": _ca_data(ca_pem), "server": server}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user_name}}],
        "current-context": name,
        "users": [{"name": user_name, "user": user_entry}],
    }
    # libyaml when present: the Python emitter costs ~10 ms a kubeconfig, and a fleet asks for hundreds.
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False).encode("utf-8")


class Named(Protocol):
    id: str
    name: str
    resource_group: str


def context_name(cluster: Named, clusters: Sequence[Named]) -> str:
    """A cluster's admin context: its name, unless an older cluster (first in ``clusters``) has it.

    Then ``name_group_subscription8``: two ``prod`` clusters in different subscriptions
    both stay reachable, and the first keeps the name it had.
    """
    first = next((c for c in clusters if c.name.lower() == cluster.name.lower()), cluster)
    if first.id.lower() == cluster.id.lower():
        return cluster.name
    return f"{cluster.name}_{cluster.resource_group}_{cluster.id.split('/')[2][:8]}"


@dataclass(frozen=True)
class AdminContext:
    name: str
    server: str


def write_admin(path: Path, contexts: list[AdminContext], cert: Path, key: Path, current: str, ca_pem: bytes) -> None:
    """One file, one context per cluster, all with the sandbox admin's client certificate."""
    doc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": c.name, "cluster": {"certificate-authority-data": _ca_data(ca_pem), "server": c.server}}
                     for c in contexts],
        "contexts": [{"name": c.name, "context": {"cluster": c.name, "user": "sandbox-admin"}} for c in contexts],
        "current-context": current,
        "users": [{"name": "sandbox-admin", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
