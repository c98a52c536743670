"""Connect to a registered cluster exactly as Argo CD does, from its cluster Secret alone.

Argo CD reads the Secret, runs ``argocd-k8s-auth azure`` with the Secret's
``execProviderConfig`` env: that exchanges the pod's projected service-account
token (audience ``api://AzureADTokenExchange``) at Entra for an AKS token, which
it presents to ``server``, trusting only ``tlsClientConfig.caData``. Here the
projected token comes from a TokenRequest on the hub and the exchange is
``azure-identity``'s WorkloadIdentityCredential: the same protocol.
"""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any, Callable

from wif_sandbox.world import Sandbox

ARGO_SA = "argocd-application-controller"
NO_CREDENTIAL_KEYS = ("bearerToken", "password", "username", "keyData", "certData")


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


def connect(sb: Sandbox, secret_name: str, workdir: Path, report: Callable[[str], None] = lambda line: None) -> list[str]:
    """List the target's namespaces as Argo CD would; raises ``ApiException`` (e.g. 403) if it may not."""
    from azure.identity import WorkloadIdentityCredential
    from kubernetes import client as k8s

    data, cfg = read_secret(sb, secret_name)
    provider = cfg["execProviderConfig"]
    env = provider["env"]
    report(f"  Secret argocd/{secret_name}: server={data['server']}")
    report(f"    execProviderConfig: {provider['command']} {' '.join(provider['args'])}, "
           f"AAD_LOGIN_METHOD={env['AAD_LOGIN_METHOD']}; credential in it: "
           f"{any(k in data['config'] for k in NO_CREDENTIAL_KEYS)}")
    token_file = workdir / "azure-identity-token"  # what the workload identity webhook projects into the pod
    token_file.write_text(projected_token(sb))
    token_file.chmod(0o600)
    credential = WorkloadIdentityCredential(tenant_id=env["AZURE_TENANT_ID"], client_id=env["AZURE_CLIENT_ID"],
                                            token_file_path=str(token_file), authority=env["AZURE_AUTHORITY_HOST"])
    access = credential.get_token(f"{env['AAD_SERVER_APPLICATION_ID']}/.default")
    report(f"  Entra exchanged the {ARGO_SA} token for an AKS token (expires in {access.expires_on - int(time.time())}s)")
    ca_file = workdir / "target-ca.pem"
    ca_file.write_bytes(base64.b64decode(cfg["tlsClientConfig"]["caData"]))
    conf = k8s.Configuration(host=data["server"])
    conf.ssl_ca_cert = str(ca_file)
    conf.api_key = {"authorization": "Bearer " + access.token}
    del access
    return [ns.metadata.name for ns in k8s.CoreV1Api(k8s.ApiClient(conf)).list_namespace().items]
