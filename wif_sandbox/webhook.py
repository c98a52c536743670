"""The azure-workload-identity mutating webhook, as it changes Argo CD's pods.

For a pod whose service account is labelled ``azure.workload.identity/use: "true"``
the webhook projects a service-account token (audience ``api://AzureADTokenExchange``)
into every container and appends four variables (``addEnvironmentVariables`` in
Azure/azure-workload-identity ``pkg/webhook/webhook.go``, names in ``consts.go``):

- ``AZURE_CLIENT_ID``: the SA annotation ``azure.workload.identity/client-id``;
- ``AZURE_TENANT_ID``: the SA annotation ``azure.workload.identity/tenant-id``, else
  the tenant the webhook is configured with;
- ``AZURE_FEDERATED_TOKEN_FILE``: where it mounts the projected token;
- ``AZURE_AUTHORITY_HOST``: its cloud's ``ActiveDirectoryEndpoint``, trailing slash
  included (``https://login.microsoftonline.com/`` for the public cloud).

It appends a variable only when the container does not set it already and its
value is not empty: a value set on the container wins over the webhook.

The mount moved in v1.6.0 (commit d878231, #1720, "support custom token endpoint
injection"): ``TokenFileMountPath = /var/run/secrets/azure/tokens`` +
``azure-identity-token`` up to v1.5.1, ``VolumeMountPath = /var/run/secrets/azure/wi``
+ ``token/azure-identity-token`` from v1.6.0 on.

The exec plugin that Argo CD runs for a cluster Secret then sees the pod's
environment with the Secret's ``execProviderConfig.env`` appended
(client-go ``plugin/pkg/client/auth/exec/exec.go``: ``env := append(a.environ(), a.env...)``),
and ``os/exec`` keeps the last value of a duplicate name: the Secret wins.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OLD_TOKEN_FILE = "/var/run/secrets/azure/tokens/azure-identity-token"  # webhook <= v1.5.1
NEW_TOKEN_FILE = "/var/run/secrets/azure/wi/token/azure-identity-token"  # webhook >= v1.6.0
TOKEN_FILES = {"new": NEW_TOKEN_FILE, "old": OLD_TOKEN_FILE}

USE_LABEL = "azure.workload.identity/use"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
TENANT_ID_ANNOTATION = "azure.workload.identity/tenant-id"
INJECTED = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST")


def token_file(choice: str) -> str:
    """``new`` | ``old`` | an absolute path: where the webhook mounts the projected token."""
    path = TOKEN_FILES.get(choice.lower(), choice)
    if not path.startswith("/"):
        raise ValueError(f"webhook token path must be 'new', 'old' or an absolute path, not {choice!r}")
    return path


def injected_env(service_account: Mapping[str, Any], *, tenant_id: str, authority_host: str, token_path: str,
                 container_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A container's environment after the webhook mutated its pod (unchanged if the SA does not opt in)."""
    env = dict(container_env or {})
    meta = service_account.get("metadata") or {}
    if str((meta.get("labels") or {}).get(USE_LABEL, "")).lower() != "true":
        return env
    annotations = meta.get("annotations") or {}
    desired = {
        "AZURE_CLIENT_ID": str(annotations.get(CLIENT_ID_ANNOTATION, "")),
        "AZURE_TENANT_ID": str(annotations.get(TENANT_ID_ANNOTATION, tenant_id)),
        "AZURE_FEDERATED_TOKEN_FILE": token_path,
        "AZURE_AUTHORITY_HOST": authority_host,
    }
    for name, value in desired.items():
        if name not in env and value:
            env[name] = value
    return env


def exec_env(pod_env: Mapping[str, str], plugin_env: Mapping[str, Any]) -> dict[str, str]:
    """The exec plugin's environment: the pod's, then the plugin config's, the last duplicate winning."""
    merged = dict(pod_env)
    merged.update({str(k): str(v) for k, v in plugin_env.items()})
    return merged
