"""Connect to a registered cluster exactly as Argo CD does, from its cluster Secret alone.

Argo CD reads the Secret and runs ``argocd-k8s-auth azure`` (kubelogin's
workload identity login) with the environment of its pod, as the
azure-workload-identity webhook mutated it (``webhook``), plus the Secret's
``execProviderConfig.env`` appended (the Secret wins a duplicate). The plugin
reads the projected service-account token from ``AZURE_FEDERATED_TOKEN_FILE``,
exchanges it at ``AZURE_AUTHORITY_HOST`` for an AKS token, which Argo CD presents
to ``server``, trusting only ``tlsClientConfig.caData``.

Here the pod's filesystem is a fresh directory per call under ``workdir``: the
token (a TokenRequest on the hub) is written only where the webhook would mount
it, so a Secret pointing elsewhere fails as it would in the pod. The exchange is
``azure-identity``'s WorkloadIdentityCredential: the same protocol.
"""
from __future__ import annotations

import base64
import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from wif_sandbox import webhook
from wif_sandbox.world import Sandbox

ARGO_SA = "argocd-application-controller"
NO_CREDENTIAL_KEYS = ("bearerToken", "password", "username", "keyData", "certData")
# argocd-k8s-auth azure (argoproj/argo-cd cmd/argocd-k8s-auth/commands/azure.go): these apply when
# the variables are unset; AAD_LOGIN_METHOD unset means workload identity.
DEFAULT_SERVER_APPLICATION_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
DEFAULT_LOGIN_METHOD = "workloadidentity"
# kubelogin Options.GetCloudConfiguration: AZURE_AUTHORITY_HOST if set, else by AAD_ENVIRONMENT_NAME
# (unknown or unset = public cloud).
CLOUD_AUTHORITIES = {"AZUREUSGOVERNMENT": "https://login.microsoftonline.us/",
                     "AZUREUSGOVERNMENTCLOUD": "https://login.microsoftonline.us/",
                     "AZURECHINACLOUD": "https://login.chinacloudapi.cn/"}
PUBLIC_AUTHORITY = "https://login.microsoftonline.com/"
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class ExecPluginError(RuntimeError):
    """``argocd-k8s-auth azure`` failed before any token was issued (client-go: "getting credentials")."""


def read_secret(sb: Sandbox, secret_name: str, namespace: str = "argocd") -> tuple[dict[str, str], dict[str, Any]]:
    """The Secret's decoded data and its parsed ``config``, read with the admin kubeconfig."""
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    hub_api = k8s_config.new_client_from_config(str(sb.kubeconfig_path), context=sb.cluster(sb.hub_id).name)
    secret = k8s.CoreV1Api(hub_api).read_namespaced_secret(secret_name, namespace)
    data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    return data, json.loads(data["config"])


def projected_token(sb: Sandbox, service_account: str = ARGO_SA, namespace: str = "argocd") -> str:
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    hub_api = k8s_config.new_client_from_config(str(sb.kubeconfig_path), context=sb.cluster(sb.hub_id).name)
    request = k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=["api://AzureADTokenExchange"]))
    result = k8s.CoreV1Api(hub_api).create_namespaced_service_account_token(service_account, namespace, request)
    return str(result.status.token)


def pod_env(sb: Sandbox, service_account: str = ARGO_SA, namespace: str = "argocd") -> dict[str, str]:
    """What the webhook injects into the Argo CD pod running as ``service_account`` on the hub."""
    sa = sb.kube(sb.hub_id).get_object("v1", "ServiceAccount", namespace, service_account)
    if sa is None:
        raise KeyError(f"no service account {namespace}/{service_account} on the hub")
    return webhook.injected_env(sa, tenant_id=sb.tenant_id, authority_host=sb.entra_url + "/",
                                token_path=sb.faults.webhook_token_file)


def connect(sb: Sandbox, secret_name: str, workdir: Path, report: Callable[[str], None] = lambda line: None) -> list[str]:
    """List the target's namespaces as Argo CD would.

    Raises ``ExecPluginError`` when the plugin cannot run (token file missing, authority
    not this sandbox's Entra, a required variable empty), ``ClientAuthenticationError``
    when Entra refuses, ``ApiException`` (e.g. 403) when the target does.
    """
    from kubernetes import client as k8s

    data, cfg = read_secret(sb, secret_name)
    provider = cfg["execProviderConfig"]
    secret_env = provider.get("env") or {}
    report(f"  Secret argocd/{secret_name}: server={data['server']}")
    report(f"    execProviderConfig: {provider['command']} {' '.join(provider['args'])}, "
           f"AAD_LOGIN_METHOD={secret_env.get('AAD_LOGIN_METHOD', '(unset)')}; credential in it: "
           f"{any(k in data['config'] for k in NO_CREDENTIAL_KEYS)}")
    root = Path(tempfile.mkdtemp(prefix="argocd-pod-", dir=workdir))
    try:
        _project(root, sb.faults.webhook_token_file, projected_token(sb))
        env = webhook.exec_env(pod_env(sb), secret_env)
        report(f"    plugin env: the webhook's AZURE_FEDERATED_TOKEN_FILE={sb.faults.webhook_token_file} and "
               f"AZURE_AUTHORITY_HOST, then the Secret's {', '.join(sorted(secret_env)) or 'nothing'} (last one wins)")
        token, expires_on = k8s_auth_azure(env, root, sb)
        report(f"  Entra exchanged the {ARGO_SA} token for an AKS token (expires in {expires_on - int(time.time())}s)")
        ca_file = root / "target-ca.pem"
        ca_file.write_bytes(base64.b64decode(cfg["tlsClientConfig"]["caData"]))
        conf = k8s.Configuration(host=data["server"])
        conf.ssl_ca_cert = str(ca_file)
        conf.api_key = {"authorization": "Bearer " + token}
        del token
        return [ns.metadata.name for ns in k8s.CoreV1Api(k8s.ApiClient(conf)).list_namespace().items]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def k8s_auth_azure(env: Mapping[str, str], root: Path, sb: Sandbox) -> tuple[str, int]:
    """``argocd-k8s-auth azure`` with ``env``, the pod's filesystem at ``root``: (AKS token, expires on)."""
    from azure.identity import WorkloadIdentityCredential

    method = env.get("AAD_LOGIN_METHOD") or DEFAULT_LOGIN_METHOD
    if method != DEFAULT_LOGIN_METHOD:
        raise ExecPluginError(f"getting credentials: AAD_LOGIN_METHOD={method}: only workloadidentity runs in an "
                              "Argo CD pod without a stored credential")
    server_id = env.get("AAD_SERVER_APPLICATION_ID", DEFAULT_SERVER_APPLICATION_ID)
    for name, what in (("AZURE_CLIENT_ID", "client ID"), ("AZURE_TENANT_ID", "tenant ID"),
                       ("AZURE_FEDERATED_TOKEN_FILE", "federated token file")):
        if not env.get(name):  # kubelogin newWorkloadIdentityCredential's own checks
            raise ExecPluginError(f"getting credentials: {what} cannot be empty ({name})")
    token_file = env["AZURE_FEDERATED_TOKEN_FILE"]
    in_pod = root / token_file.lstrip("/")
    if not in_pod.is_file():
        raise ExecPluginError(f"getting credentials: reading federated token file: open {token_file}: no such file "
                              f"or directory (the workload identity webhook mounts it at "
                              f"{sb.faults.webhook_token_file}; a value in the Secret overrides the pod's)")
    authority = env.get("AZURE_AUTHORITY_HOST") or _cloud_authority(env.get("AAD_ENVIRONMENT_NAME", ""))
    _check_authority(authority, sb)
    credential = WorkloadIdentityCredential(tenant_id=env["AZURE_TENANT_ID"], client_id=env["AZURE_CLIENT_ID"],
                                            token_file_path=str(in_pod), authority=authority,
                                            connection_verify=str(sb.ca_bundle))
    access = credential.get_token(f"{server_id}/.default")
    return access.token, access.expires_on


def _project(root: Path, pod_path: str, token: str) -> None:
    """The webhook's projected volume: the token at ``pod_path`` inside the fake pod root."""
    target = root / pod_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(token)
    target.chmod(0o600)


def _cloud_authority(environment: str) -> str:
    return CLOUD_AUTHORITIES.get(environment.upper(), PUBLIC_AUTHORITY)


def _check_authority(authority: str, sb: Sandbox) -> None:
    """Only this sandbox's Entra (or another local listener) is asked: the sandbox never leaves the machine."""
    if authority.rstrip("/").lower() == sb.entra_url.rstrip("/").lower():
        return
    if urlsplit(authority if "//" in authority else "https://" + authority).hostname in _LOCAL_HOSTS:
        return
    raise ExecPluginError(f"getting credentials: authority {authority} is not this sandbox's Entra "
                          f"({sb.entra_url}/, which the webhook injects): no federated credential is trusted there")
