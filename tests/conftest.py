"""Shared fixtures: a running ``wif_sandbox`` (emulated ARM, Entra ID, AKS over HTTPS).

``sandbox`` is a fresh sandbox per test (about half a second to start);
``module_sandbox`` is one per test module, for tests that only read or use
their own names. Both have the default topology: a hub, one Kubernetes-RBAC
target and one Azure-RBAC target, no faults.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from wif_sandbox.world import Sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox.start(tmp_path / "sandbox") as sb:
        yield sb


@pytest.fixture(scope="module")
def module_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox.start(tmp_path_factory.mktemp("sandbox")) as sb:
        yield sb


class Azure:
    """The unmodified Azure SDK clients, pointed at a sandbox only by endpoint and CA bundle.

    ``retry_total=0`` unless given: tests see each answer of the sandbox as it is.
    """

    def __init__(self, sb: Sandbox, **kwargs: Any) -> None:
        from azure.identity import ClientSecretCredential
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.containerservice import ContainerServiceClient
        from azure.mgmt.msi import ManagedServiceIdentityClient

        env = sb.operator_env  # the admin's clients: Owner of the subscriptions (the function app has infra's rights)
        self.sb = sb
        common: dict[str, Any] = {"connection_verify": env["REQUESTS_CA_BUNDLE"], "retry_total": 0, **kwargs}
        self.credential = ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"],
                                                 env["AZURE_CLIENT_SECRET"], authority=env["AZURE_AUTHORITY_HOST"],
                                                 disable_instance_discovery=True, **common)
        arm = {"base_url": env["WIF_ARM_ENDPOINT"], "credential_scopes": [env["WIF_ARM_ENDPOINT"] + "/.default"],
               "polling_interval": 0.01, **common}
        self.aks = ContainerServiceClient(self.credential, sb.subscription_id, **arm)
        self.msi = ManagedServiceIdentityClient(self.credential, sb.subscription_id, api_version="2024-11-30", **arm)
        self.auth = AuthorizationManagementClient(self.credential, sb.subscription_id, api_version="2022-04-01", **arm)

    def function_token(self, scope: str) -> str:
        """A token of the function app itself (infra's rights only), e.g. for an AKS API server."""
        from azure.identity import ClientSecretCredential

        env = self.sb.env
        credential = ClientSecretCredential(env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"],
                                            authority=env["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True,
                                            connection_verify=env["REQUESTS_CA_BUNDLE"])
        return str(credential.get_token(scope).token)

    def token(self, scope: str = "") -> str:
        return str(self.credential.get_token(scope or self.sb.operator_env["WIF_ARM_ENDPOINT"] + "/.default").token)


@pytest.fixture
def azure(sandbox: Sandbox) -> Azure:
    return Azure(sandbox)


@pytest.fixture(scope="module")
def module_azure(module_sandbox: Sandbox) -> Azure:
    return Azure(module_sandbox)
