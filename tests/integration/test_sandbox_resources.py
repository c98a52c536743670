"""ARM's Microsoft.Resources and role definitions in the sandbox, and its api-version refusals, over HTTPS.

What ``az`` and the SDKs read before anything else: the subscriptions, resource groups
(implied by resources or PUT, any casing), built-in roles by GUID and by name,
``/metadata/endpoints`` without a token, and ARM's two errors for an api-version a type
does not serve.
"""
from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import Azure
from wif_core.adapters import azure as adapter
from wif_sandbox.arm import builtin_roles
from wif_sandbox.world import Sandbox


def _get(sb: Sandbox, azure: Azure, path: str, version: str, method: str = "GET", **kw: Any) -> requests.Response:
    return requests.request(method, sb.arm_url + path, params={"api-version": version, **kw.pop("params", {})},
                            headers={"Authorization": f"Bearer {azure.token()}"}, verify=str(sb.ca_bundle),
                            timeout=5, **kw)


def test_subscriptions_and_groups(module_sandbox: Sandbox, module_azure: Azure) -> None:
    sb = module_sandbox
    subs = _get(sb, module_azure, "/subscriptions", "2022-12-01").json()
    assert [s["subscriptionId"] for s in subs["value"]] == list(sb.subscription_ids)
    assert {s["tenantId"] for s in subs["value"]} == {sb.tenant_id} and subs["count"]["value"] == 2
    groups = _get(sb, module_azure, f"/subscriptions/{sb.subscription_id}/resourcegroups", "2024-11-01").json()
    assert {"rg-apps", "rg-hub", "rg-argocd", "MC_rg-apps_aks-target-1_westeurope"} <= {g["name"] for g in groups["value"]}
    made = _get(sb, module_azure, f"/subscriptions/{sb.subscription_id}/resourcegroups/Rg-New", "2024-11-01", "PUT",
                json={"location": "northeurope"})
    assert made.status_code == 201 and made.json()["id"].endswith("/resourceGroups/Rg-New")
    again = _get(sb, module_azure, f"/subscriptions/{sb.subscription_id}/resourceGroups/rg-new", "2024-11-01")
    assert again.json()["name"] == "Rg-New" and again.json()["location"] == "northeurope"
    missing = _get(sb, module_azure, f"/subscriptions/{sb.subscription_id}/resourceGroups/nope", "2024-11-01")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceGroupNotFound"


def test_role_definitions_by_guid_and_name(module_sandbox: Sandbox, module_azure: Azure) -> None:
    sb, scope = module_sandbox, module_sandbox.target_ids[0]
    by_name = _get(sb, module_azure, f"{scope}/providers/Microsoft.Authorization/roleDefinitions", "2022-04-01",
                   params={"$filter": "roleName eq 'Azure Kubernetes Service RBAC Admin'"}).json()["value"]
    assert [r["name"] for r in by_name] == ["3498e952-d568-435e-9b2c-8d77e338d7f7"]
    assert by_name[0]["id"] == f"/subscriptions/{sb.subscription_id}/providers/Microsoft.Authorization/" \
                               "roleDefinitions/3498e952-d568-435e-9b2c-8d77e338d7f7"
    assert by_name[0]["properties"]["permissions"][0]["notDataActions"][-1] == \
        "Microsoft.ContainerService/managedClusters/namespaces/delete"
    reader = module_azure.auth.role_definitions.get(scope, "acdd72a7-3385-48ef-bd42-f606fba81ae7")
    assert reader.role_name == "Reader" and reader.permissions[0].actions == ["*/read"]
    root = _get(sb, module_azure, "/providers/Microsoft.Authorization/roleDefinitions/"
                "4633458b-17de-408a-b874-0445c86b69e6", "2022-04-01").json()
    assert root["properties"]["roleName"] == "Key Vault Secrets User" and root["id"].startswith("/providers/")
    unknown = _get(sb, module_azure, f"{scope}/providers/Microsoft.Authorization/roleDefinitions/"
                   "00000000-0000-0000-0000-000000000000", "2022-04-01")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "RoleDefinitionDoesNotExist"


def test_built_in_roles_match_the_guids_infra_uses() -> None:
    """Every role GUID the product names resolves to the role name the product means."""
    assert builtin_roles.by_name("Reader").guid == "acdd72a7-3385-48ef-bd42-f606fba81ae7"  # type: ignore[union-attr]
    named = {r.guid: r.name for r in builtin_roles.ROLES}
    assert named["e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"] == "Managed Identity Contributor"
    assert named["f58310d9-a9f6-439a-9e8d-f62e7b41a168"] == "Role Based Access Control Administrator"
    assert named["4abbcc35-e782-43d8-92c5-2d3f1bd2253f"] == "Azure Kubernetes Service Cluster User Role"
    assert len(named) == len(builtin_roles.ROLES) >= 15


def test_metadata_endpoints_need_no_token(module_sandbox: Sandbox) -> None:
    sb = module_sandbox
    cloud = requests.get(sb.arm_url + "/metadata/endpoints", params={"api-version": "2022-09-01"},
                         verify=str(sb.ca_bundle), timeout=5).json()
    assert cloud["resourceManager"] == sb.arm_url + "/"
    assert cloud["authentication"]["loginEndpoint"] == sb.entra_url + "/"
    assert cloud["authentication"]["audiences"][0] == "https://management.core.windows.net/"


@pytest.mark.parametrize("path, version", [
    ("{cluster}", adapter.AKS_API_VERSION), ("{identity}", adapter.MSI_API_VERSION),
    ("{identity}/federatedIdentityCredentials", adapter.MSI_API_VERSION),
    ("{cluster}/providers/Microsoft.Authorization/roleAssignments", adapter.AUTHORIZATION_API_VERSION),
    ("{cluster}", "2026-06-01"), ("{cluster}", "2026-08-01"), ("/subscriptions", "2022-12-01"),
])
def test_pinned_api_versions_are_served(module_sandbox: Sandbox, module_azure: Azure, path: str, version: str) -> None:
    sb = module_sandbox
    got = _get(sb, module_azure, path.format(cluster=sb.target_ids[0], identity=sb.identity_id), version)
    assert got.status_code == 200, got.text


def test_unsupported_api_versions_answer_as_arm(module_sandbox: Sandbox, module_azure: Azure) -> None:
    sb = module_sandbox
    rp = _get(sb, module_azure, sb.target_ids[0], "2016-03-30").json()["error"]
    assert rp["code"] == "NoRegisteredProviderFound"
    assert rp["message"].startswith("No registered resource provider found for location 'westeurope' and API version "
                                    "'2016-03-30' for type 'managedClusters'. The supported api-versions are "
                                    "'2017-08-31, 2018-03-31, ")
    arm = _get(sb, module_azure, "/subscriptions", "2099-01-01").json()["error"]
    assert arm["code"] == "InvalidApiVersionParameter"
    assert arm["message"].startswith("The api-version '2099-01-01' is invalid. The supported versions are '2024-11-01,")
    fic = _get(sb, module_azure, sb.identity_id + "/federatedIdentityCredentials", "2018-11-30").json()["error"]
    assert fic["code"] == "NoRegisteredProviderFound" and "'userAssignedIdentities/federatedIdentityCredentials'" \
        in fic["message"]
