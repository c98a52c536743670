"""Structural checks that tie infra/ to the code and to its own promises.

The Bicep is parsed with pycep-parser (no compiler here) and read as data:
- the function app gets every setting wif_core reads, one to one, with the same defaults;
- the Event Grid filter lets through exactly the operations wif_core.events handles,
  to the function function_app.py defines, with retries and dead-lettering;
- every role assignment says why it exists, none is broader than the chain needs;
- storage has shared keys off; the Kubernetes manifests grant what the hub needs, no more.

Names come from wif_core when it is importable and from the fixtures in this
directory otherwise; the fixtures are always checked too.
"""
from __future__ import annotations

import ast
import functools
import importlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
HERE = Path(__file__).resolve().parent

AKS_RBAC_ROLES = {
    "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",  # AKS RBAC Cluster Admin
    "3498e952-d568-435e-9b2c-8d77e338d7f7",  # AKS RBAC Admin
    "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb",  # AKS RBAC Writer
    "7f6c6a51-bcf8-42ba-9220-52d62157d7db",  # AKS RBAC Reader
}
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8": "Azure Kubernetes Service Contributor Role",
    "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8": "Azure Kubernetes Service Cluster Admin Role",
    # Also userAssignedIdentities/write, /delete and revokeTokens/action on the Argo CD identity.
    "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59": "Managed Identity Contributor",
}
AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
MSI = "Microsoft.ManagedIdentity/userAssignedIdentities"
# What each Azure SDK operation of wif_core.adapters.azure.Identities needs (the ARM verb's action).
SDK_OPERATION_ACTIONS = {"get": "read", "list": "read", "create_or_update": "write", "update": "write",
                         "delete": "delete", "begin_delete": "delete"}
SDK_OPERATION_GROUPS = {"user_assigned_identities": MSI,
                        "federated_identity_credentials": f"{MSI}/federatedIdentityCredentials"}
PLATFORM_SETTINGS = {
    "AZURE_CLIENT_ID",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
ROLE_ASSIGNMENT = re.compile(r"^resource\s+\w+\s+'Microsoft\.Authorization/roleAssignments@", re.M)


# --- helpers ------------------------------------------------------------------

@functools.cache
def _parser() -> BicepParser:
    return BicepParser()


@functools.cache
def bicep(relative: str) -> dict[str, Any]:
    parsed: dict[str, Any] = dict(_parser().parse(file_path=INFRA / relative))
    return parsed


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def fixture_settings() -> dict[str, str | None]:
    """NAME -> default, or None for a required setting."""
    settings: dict[str, str | None] = {}
    for line in (HERE / "expected_settings.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, default = line.partition("=")
        settings[name] = default if sep else None
    return settings


def fixture_operations() -> set[str]:
    lines = (HERE / "expected_event_filter.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def code_module(name: str) -> Any:
    """Import wif_core.<name>, or skip with the reason when it does not exist yet."""
    try:
        return importlib.import_module(f"wif_core.{name}")
    except ModuleNotFoundError as e:
        if e.name in (f"wif_core.{name}", "wif_core"):
            pytest.skip(f"wif_core.{name} is not importable yet; checked against tests/infra fixtures only")
        raise


def wif_app_settings() -> dict[str, Any]:
    return bicep("main.bicep")["variables"]["wifAppSettings"]["value"]  # type: ignore[no-any-return]


def param_default(parsed: dict[str, Any], name: str) -> Any:
    return parsed["parameters"][name]["default"]


def resources_of_type(parsed: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: v for k, v in parsed.get("resources", {}).items() if v["type"] == type_}


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource object, under a deploy condition (`= if (...) {...}`) or not."""
    config = resource["config"]
    return config["config"] if "condition" in config and "config" in config else config  # type: ignore[no-any-return]


def condition(resource: dict[str, Any]) -> Any:
    config = resource["config"]
    return config.get("condition") if "config" in config else None


# --- app settings <-> wif_core.config -------------------------------------------

def test_app_settings_match_the_fixture_one_to_one() -> None:
    assert set(wif_app_settings()) == set(fixture_settings())


def test_app_settings_match_wif_core_config_one_to_one() -> None:
    config = code_module("config")
    names = getattr(config, "SETTING_NAMES", None)
    if names is None:
        pytest.skip("wif_core.config has no SETTING_NAMES yet")
    assert set(wif_app_settings()) == set(names), "infra/main.bicep wifAppSettings drifted from wif_core.config"
    assert set(names) == set(fixture_settings()), "tests/infra/expected_settings.txt drifted from wif_core.config"


def test_setting_defaults_match_the_code() -> None:
    parsed = bicep("main.bicep")
    settings = wif_app_settings()
    expected = fixture_settings()
    try:
        code_settings = importlib.import_module("wif_core.config").SETTINGS
    except (ModuleNotFoundError, AttributeError):
        code_settings = None
    if isinstance(code_settings, Mapping):
        # {name: (default or None, description)} in the current wif_core.config.
        for name, spec in code_settings.items():
            if isinstance(spec, tuple) and name in expected:
                assert expected[name] == spec[0], f"fixture default of {name} differs from wif_core.config"
    for name, default in expected.items():
        value = settings[name]
        if isinstance(value, str) and value in parsed["parameters"]:
            bicep_default = param_default(parsed, value)
            if default is None:
                assert bicep_default is None, f"{name} is required in the code; parameter {value} must have no default"
            else:
                assert bicep_default == default, f"{name}: parameter {value} defaults to {bicep_default!r}, code to {default!r}"
        else:
            assert default is None, f"{name} has a default in the code, so it must come straight from a parameter"


def test_parameters_file_feeds_every_setting_from_the_azd_environment() -> None:
    parsed = bicep("main.bicep")
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(params) <= set(parsed["parameters"]), "main.parameters.json names a parameter main.bicep lacks"
    required = {n for n, p in parsed["parameters"].items() if p["default"] is None}
    assert required <= set(params), "a required main.bicep parameter is missing from main.parameters.json"
    for name, value in wif_app_settings().items():
        if isinstance(value, str) and value in parsed["parameters"]:
            text = params[value]["value"]
            default = fixture_settings()[name]
            # Same name in `azd env set` as in the app setting, same default as the code.
            want = f"${{{name}}}" if default is None else f"${{{name}={default}}}"
            assert text == want, f"main.parameters.json {value}: {text!r}, expected {want!r}"


def test_function_app_gets_wif_settings_and_platform_settings() -> None:
    main = bicep("main.bicep")
    assert main["modules"]["functionApp"]["config"]["params"]["appSettings"] == "wifAppSettings"
    app = bicep("modules/function-app.bicep")
    platform = app["variables"]["platformSettings"]["value"]
    assert set(platform) == PLATFORM_SETTINGS
    assert platform["AzureWebJobsStorage__credential"] == "managedidentity"
    assert not set(platform) & set(fixture_settings()), "a wif_core setting is set twice"
    loop = body(resources_of_type(app, "Microsoft.Web/sites")["site"])["properties"]["siteConfig"]["appSettings"]
    source = loop["loop_type"]["detail"]["object_name"]
    assert "union" in source and "'appSettings'" in source and "'platformSettings'" in source
    lines = (INFRA / "modules/function-app.bicep").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("//"))
    for forbidden in ("FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "AzureWebJobsStorage:", "AccountKey"):
        assert forbidden not in text, f"{forbidden} has no place on Flex Consumption with identity-based storage"


def test_function_app_is_flex_consumption_python() -> None:
    app = bicep("modules/function-app.bicep")
    plan = body(resources_of_type(app, "Microsoft.Web/serverfarms")["plan"])
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = body(resources_of_type(app, "Microsoft.Web/sites")["site"])
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"]["name"] == "python"
    assert param_default(app, config["runtime"]["version"]) == "3.11"
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    assert site["properties"]["httpsOnly"] is True


# --- Event Grid <-> wif_core.events and function_app.py ---------------------------

def event_subscription() -> dict[str, Any]:
    subs = resources_of_type(bicep("eventgrid.bicep"), "Microsoft.EventGrid/systemTopics/eventSubscriptions")
    assert len(subs) == 1
    return body(next(iter(subs.values())))["properties"]  # type: ignore[no-any-return]


def filtered_operations() -> set[str]:
    filters = event_subscription()["filter"]["advancedFilters"]
    ops = [f for f in filters if f["key"] == "data.operationName"]
    assert len(ops) == 1 and ops[0]["operatorType"] == "StringIn"
    return set(ops[0]["values"])


def test_event_filter_matches_the_fixture() -> None:
    assert filtered_operations() == fixture_operations()
    assert set(event_subscription()["filter"]["includedEventTypes"]) == {
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
    }


def test_event_filter_matches_wif_core_events() -> None:
    events = code_module("events")
    missing = [n for n in ("WRITE_OPERATION", "DELETE_OPERATION") if not hasattr(events, n)]
    if missing:
        pytest.skip(f"wif_core.events has no {', '.join(missing)} yet")
    code = {events.WRITE_OPERATION, events.DELETE_OPERATION}
    # Event Grid's StringIn is case-insensitive; so is the code's comparison.
    assert {o.lower() for o in filtered_operations()} == {o.lower() for o in code}


def test_event_subscription_targets_the_event_grid_function() -> None:
    parsed = bicep("eventgrid.bicep")
    destination = event_subscription()["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"] == "${functionAppId}/functions/${functionName}"
    assert destination["properties"]["maxEventsPerBatch"] == 1
    function_name = param_default(parsed, "functionName")
    assert function_name == "on_cluster_event"
    hooks = [(INFRA / "hooks/postdeploy.sh").read_text(), (INFRA / "hooks/postdeploy.ps1").read_text()]
    assert all(function_name in h for h in hooks)
    app = ROOT / "function_app.py"
    if not app.exists():
        pytest.skip("function_app.py does not exist yet")
    defined = {n.name for n in ast.walk(ast.parse(app.read_text())) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert function_name in defined or f'"{function_name}"' in app.read_text(), \
        f"function_app.py defines no {function_name}: the Event Grid subscription would point at nothing"


def test_event_subscription_retries_then_dead_letters_with_an_identity() -> None:
    parsed = bicep("eventgrid.bicep")
    props = event_subscription()
    retry = props["retryPolicy"]
    assert 1 <= param_default(parsed, retry["maxDeliveryAttempts"]) <= 30
    assert 1 <= param_default(parsed, retry["eventTimeToLiveInMinutes"]) <= 1440
    dead = props["deadLetterWithResourceIdentity"]
    assert dead["identity"]["type"] == "SystemAssigned"
    assert dead["deadLetterDestination"]["endpointType"] == "StorageBlob"
    assert set(dead["deadLetterDestination"]["properties"]) == {"resourceId", "blobContainerName"}
    assert "deadLetterDestination" not in props, "key-based dead-lettering cannot work: shared keys are off"


def test_system_topic_covers_the_subscription() -> None:
    topic = body(resources_of_type(bicep("modules/eventgrid-topic.bicep"), "Microsoft.EventGrid/systemTopics")["topic"])
    assert topic["location"] == "global"
    assert topic["identity"]["type"] == "SystemAssigned"
    assert topic["properties"]["topicType"] == "Microsoft.Resources.Subscriptions"
    assert topic["properties"]["source"]["function"]["type"] == "subscription"


# --- least privilege --------------------------------------------------------------

def test_every_role_assignment_is_preceded_by_a_why_comment() -> None:
    total = 0
    for path in bicep_files():
        lines = path.read_text().splitlines()
        text = "\n".join(lines)
        parsed = bicep(path.relative_to(INFRA).as_posix())
        declared = resources_of_type(parsed, "Microsoft.Authorization/roleAssignments")
        starts = [text.count("\n", 0, m.start()) for m in ROLE_ASSIGNMENT.finditer(text)]
        # The regex sees every assignment the parser sees: none hides behind odd formatting.
        assert len(starts) == len(declared), f"{path.name}: {len(declared)} role assignments, {len(starts)} matched"
        for start in starts:
            block = []
            i = start - 1
            while i >= 0 and lines[i].lstrip().startswith(("//", "@", "#disable")):
                block.append(lines[i].strip())
                i -= 1
            assert any(c.startswith("// why:") and len(c) > 30 for c in block), \
                f"{path.name}:{start + 1}: role assignment without a '// why:' comment directly above it"
        total += len(starts)
    assert total >= 10


def code_text(path: Path) -> str:
    """The file without its whole-line comments (a comment may name a role it replaced)."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("//"))


def test_no_broad_role_is_assigned_anywhere() -> None:
    for path in bicep_files():
        text = code_text(path).lower()
        for guid, name in BROAD_ROLES.items():
            assert guid not in text, f"{path.name} references {name}: broader than the chain needs"


def test_custom_roles_hold_no_wildcard_and_stay_below_the_tenant_root() -> None:
    found = 0
    for path in bicep_files():
        parsed = bicep(path.relative_to(INFRA).as_posix())
        for name, role in resources_of_type(parsed, "Microsoft.Authorization/roleDefinitions").items():
            found += 1
            props = body(role)["properties"]
            assert props["type"] == "CustomRole"
            assert props["assignableScopes"] and "/" not in props["assignableScopes"], f"{name}: assignable everywhere"
            for permission in props["permissions"]:
                actions = permission["actions"]
                if isinstance(actions, str):  # a variable
                    actions = parsed["variables"][actions]["value"]
                assert actions and all("*" not in a for a in actions), f"{name}: wildcard action"
                assert not permission.get("dataActions"), f"{name}: no data plane access is needed"
    assert found == 2, "expected the run-command and the federated-credential custom roles"


def test_role_assignment_write_is_conditional_and_constrained() -> None:
    main = bicep("main.bicep")
    assert set(main["variables"]["aksRbacRoleGuids"]["value"]) == AKS_RBAC_ROLES
    assert param_default(main, "enableAzureRbacAssignments") is False
    grant = main["variables"]["grantAzureRbacAssignments"]["value"]["operator"]
    assert grant["type"] == "and" and grant["operands"]["operand_1"] == "enableAzureRbacAssignments"
    assert grant["operands"]["operand_2"]["operator"] == {
        "type": "not_equals", "operands": {"operand_1": "rbacMode", "operand_2": "kubernetes"}}
    for module in ("modules/scope-access-rg.bicep", "modules/scope-access-subscription.bicep"):
        parsed = bicep(module)
        assigner = parsed["resources"]["roleAssigner"]
        assert body(assigner)["properties"]["roleDefinitionId"] == "rbacAdministrator"
        assert condition(assigner) == "grantAzureRbacAssignments"
        assert body(assigner)["properties"]["conditionVersion"] == "2.0"
        assert body(assigner)["properties"]["condition"] == "assignmentCondition"
        template = parsed["variables"]["conditionTemplate"]["value"]
        for action in ("roleAssignments/write", "roleAssignments/delete"):
            assert f"!(ActionMatches{{'Microsoft.Authorization/{action}'}})" in template
        for source in ("@Request", "@Resource"):
            attribute = f"{source}[Microsoft.Authorization/roleAssignments"
            assert f"{attribute}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{ROLE_IDS}}" in template
            assert f"{attribute}:PrincipalId] ForAnyOfAnyValues:GuidEquals {{PRINCIPAL_ID}}" in template
        replaced = json.dumps(parsed["variables"]["assignmentCondition"]["value"])
        assert '"new_string": "argoCdPrincipalId"' in replaced and '"input_array": "assignableRoleGuids"' in replaced


def test_run_command_is_granted_only_when_enabled_and_only_its_two_actions() -> None:
    main = bicep("main.bicep")
    assert main["variables"]["grantRunCommand"]["value"]["operator"]["operands"] == {
        "operand_1": "enableRunCommand", "operand_2": "true"}
    role = main["resources"]["runCommandRole"]
    assert condition(role) == "grantRunCommand"
    permissions = body(role)["properties"]["permissions"]
    assert permissions == [{"actions": [
        "Microsoft.ContainerService/managedClusters/runCommand/action",
        "Microsoft.ContainerService/managedClusters/commandResults/read",
    ], "notActions": []}]
    for module in ("modules/scope-access-rg.bicep", "modules/scope-access-subscription.bicep"):
        assert condition(bicep(module)["resources"]["runCommand"]) == "grantRunCommand"


FEDERATION_ACTIONS = [
    f"{MSI}/read",
    f"{MSI}/federatedIdentityCredentials/read",
    f"{MSI}/federatedIdentityCredentials/write",
    f"{MSI}/federatedIdentityCredentials/delete",
]
RESOURCE_GROUP_ID = {"function": {"type": "resource_group", "parameters": {
    "resource_group_name": None, "subscription_id": None}, "property_name": "id"}}


def federation_role() -> tuple[dict[str, Any], dict[str, Any]]:
    parsed = bicep("modules/argocd-identity-access.bicep")
    (role,) = resources_of_type(parsed, "Microsoft.Authorization/roleDefinitions").values()
    return parsed, body(role)


def test_federated_credential_writer_is_scoped_to_the_argo_cd_identity() -> None:
    parsed = bicep("modules/argocd-identity-access.bicep")
    (writer,) = resources_of_type(parsed, "Microsoft.Authorization/roleAssignments").values()
    assert body(writer)["scope"] == "argoCdIdentity"
    assert parsed["resources"]["argoCdIdentity"]["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    assert parsed["resources"]["argoCdIdentity"]["existing"] is True
    # The custom role, never a built-in one, and unconditional (federate always runs).
    assert condition(writer) is None
    assert body(writer)["properties"]["roleDefinitionId"] == "federationRoleId"
    role_id = parsed["variables"]["federationRoleId"]["value"]["function"]
    assert role_id["type"] == "subscription_resource_id"
    assert role_id["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    assert role_id["parameters"]["resource_name_1"] == {
        "operator": {"type": "property_accessor", "operands": {"operand_1": "federationRole", "operand_2": "name"}}}


def test_federated_credential_role_holds_exactly_its_four_actions() -> None:
    parsed, role = federation_role()
    props = role["properties"]
    (permission,) = props["permissions"]
    actions = parsed["variables"][permission["actions"]]["value"]
    assert actions == FEDERATION_ACTIONS
    assert permission["notActions"] == [] and "dataActions" not in permission
    # Managed Identity Contributor's extras stay out: the identity itself is never changed,
    # deleted, or has its tokens revoked by the function.
    for extra in (f"{MSI}/write", f"{MSI}/delete", f"{MSI}/revokeTokens/action"):
        assert extra not in actions
    # Assignable only in the identity's resource group (custom roles take no resource scope);
    # the assignment narrows it to the identity.
    assert props["assignableScopes"] == [RESOURCE_GROUP_ID]
    assert props["type"] == "CustomRole"
    name = role["name"]["function"]
    assert name["type"] == "guid" and name["parameters"]["base_string"] == RESOURCE_GROUP_ID
    assert "roleNameSuffix" in name["parameters"].values() and "${roleNameSuffix}" in props["roleName"]
    main = bicep("main.bicep")
    assert main["modules"]["argoCdAccess"]["config"]["params"]["roleNameSuffix"] == "${environmentName}-${resourceToken}"
    assert "FEDERATION_ROLE_ID" in main["outputs"], "predown needs the role's id to delete it"


def identities_sdk_actions() -> set[str]:
    """Actions the Identities adapter's Azure SDK calls need, read from its source."""
    source = ROOT / "wif_core" / "adapters" / "azure.py"
    if not source.exists():
        pytest.skip("wif_core/adapters/azure.py does not exist yet")
    tree = ast.parse(source.read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Identities"]
    needed: set[str] = set()
    for method in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
        groups = {t.id: node.value.attr for node in ast.walk(method) if isinstance(node, ast.Assign)
                  and isinstance(node.value, ast.Attribute) and node.value.attr in SDK_OPERATION_GROUPS
                  for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(method):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in groups:
                verb = node.func.attr
                assert verb in SDK_OPERATION_ACTIONS, f"Identities.{method.name} calls {verb}: map it to an action"
                needed.add(f"{SDK_OPERATION_GROUPS[groups[node.func.value.id]]}/{SDK_OPERATION_ACTIONS[verb]}")
    assert needed, "found no Azure SDK call in Identities: the parse above is stale"
    return needed


def test_federated_credential_role_matches_what_the_code_calls() -> None:
    parsed, role = federation_role()
    actions = parsed["variables"][role["properties"]["permissions"][0]["actions"]]["value"]
    assert set(actions) == identities_sdk_actions(), "the custom role and wif_core.adapters.azure.Identities disagree"


def test_hub_gets_only_the_cluster_user_role() -> None:
    # Cluster User carries managedClusters/read and listClusterUserCredential/action: all the hub needs.
    parsed = bicep("modules/hub-access.bicep")
    (user,) = resources_of_type(parsed, "Microsoft.Authorization/roleAssignments").values()
    assert body(user)["scope"] == "hub"
    assert AKS_CLUSTER_USER in json.dumps(parsed["variables"][body(user)["properties"]["roleDefinitionId"]])
    assert READER not in code_text(INFRA / "modules/hub-access.bicep")


def test_api_versions_match_what_wif_core_calls() -> None:
    try:
        azure = importlib.import_module("wif_core.adapters.azure")
    except ModuleNotFoundError as e:
        pytest.skip(f"wif_core.adapters.azure is not importable: {e}")
    pinned = {
        "Microsoft.ContainerService/managedClusters": azure.AKS_API_VERSION,
        "Microsoft.ManagedIdentity/userAssignedIdentities": azure.MSI_API_VERSION,
        "Microsoft.Authorization/roleAssignments": azure.AUTHORIZATION_API_VERSION,
    }
    seen: set[str] = set()
    for path in bicep_files():
        for name, resource in bicep(path.relative_to(INFRA).as_posix()).get("resources", {}).items():
            if resource["type"] in pinned:
                seen.add(resource["type"])
                assert resource["api_version"] == pinned[resource["type"]], \
                    f"{path.name} {name}: {resource['type']}@{resource['api_version']}, wif_core calls {pinned[resource['type']]}"
    assert seen == set(pinned)


def test_scope_access_modules_stay_in_step() -> None:
    def normalised(name: str) -> list[str]:
        lines = (INFRA / "modules" / name).read_text().replace("subscription().id", "resourceGroup().id").splitlines()
        return [line for line in lines if line.strip() and not line.startswith(("targetScope", "// "))]
    assert normalised("scope-access-rg.bicep") == normalised("scope-access-subscription.bicep")


def test_storage_is_entra_only() -> None:
    storage = body(resources_of_type(bicep("modules/storage.bicep"), "Microsoft.Storage/storageAccounts")["storage"])
    props = storage["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    insights = body(resources_of_type(bicep("modules/monitoring.bicep"), "Microsoft.Insights/components")["applicationInsights"])
    assert insights["properties"]["DisableLocalAuth"] is True


# --- azd and the Kubernetes side ------------------------------------------------

def test_azure_yaml_deploys_the_function_and_runs_stage_two() -> None:
    azure = yaml.safe_load((ROOT / "azure.yaml").read_text())
    (service,) = azure["services"].values()
    assert service["host"] == "function" and service["language"] == "python"
    assert azure["infra"]["path"] == "infra" and azure["infra"]["module"] == "main"
    for hook in ("postdeploy", "predown"):
        for platform in ("posix", "windows"):
            script = ROOT / azure["hooks"][hook][platform]["run"]
            assert script.is_file(), f"azure.yaml {hook}/{platform} runs missing {script}"
    service_tag = bicep("modules/function-app.bicep")["parameters"]["serviceName"]["default"]
    assert service_tag in azure["services"], "the azd-service-name tag must name the azure.yaml service"


def test_hook_inputs_are_main_bicep_outputs() -> None:
    outputs = set(bicep("main.bicep")["outputs"])
    for script in ("postdeploy.sh", "predown.sh"):
        text = (INFRA / "hooks" / script).read_text()
        used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text))
        from_azd = {"AZURE_ENV_NAME", "AZURE_SUBSCRIPTION_ID"}
        knobs = {n for n in used if n.startswith("WIF_")}
        assert used - outputs - from_azd - knobs == set(), f"{script} reads variables main.bicep does not output"


def test_hub_rbac_is_namespaced_and_minimal() -> None:
    role, binding = yaml.safe_load_all((INFRA / "kubernetes/hub-rbac.yaml").read_text())
    assert role["kind"] == "Role" and binding["kind"] == "RoleBinding"
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "${WIF_ARGOCD_NAMESPACE}"
    rules = {tuple(r["resources"]): r for r in role["rules"]}
    assert set(rules) == {("secrets",), ("serviceaccounts/token",)}
    assert set(rules[("secrets",)]["verbs"]) == {"get", "list", "watch", "create", "update", "patch", "delete"}
    token = rules[("serviceaccounts/token",)]
    assert token["verbs"] == ["create"]
    assert ",".join(token["resourceNames"]) == fixture_settings()["WIF_ARGOCD_SERVICE_ACCOUNTS"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "${FUNCTION_PRINCIPAL_ID}"}]


def test_argocd_values_enable_workload_identity_on_both_components() -> None:
    values = yaml.safe_load((INFRA / "kubernetes/argocd-values-wif.yaml").read_text())
    assert set(values) == {"controller", "server"}  # argocd-application-controller, argocd-server
    for component in values.values():
        assert component["podLabels"] == {"azure.workload.identity/use": "true"}
        annotations = component["serviceAccount"]["annotations"]
        assert annotations["azure.workload.identity/client-id"] == "${ARGOCD_IDENTITY_CLIENT_ID}"
        assert annotations["azure.workload.identity/tenant-id"] == "${AZURE_TENANT_ID}"
