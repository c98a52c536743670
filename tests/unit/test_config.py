"""wif_core.config: every app setting read once, validated, and every error names its variable."""
from __future__ import annotations

import dataclasses

import pytest

from tests import fakes
from wif_core import config, errors, model

BASE = {"WIF_HUB_CLUSTER_ID": fakes.HUB_ID, "WIF_ARGOCD_IDENTITY_ID": fakes.IDENTITY_ID,
        "WIF_ALLOWED_SCOPES": f"/subscriptions/{fakes.SUB}"}
OTHER_SUB = "22222222-2222-2222-2222-222222222222"


def load(**changes: str) -> config.Settings:
    return config.Settings.from_env({**BASE, **changes})


def error(env: dict[str, str]) -> str:
    with pytest.raises(errors.ConfigError) as info:
        config.Settings.from_env(env)
    message = info.value.message
    assert "\n" not in message and len(message) < 400, message
    assert isinstance(info.value, errors.BadInput)  # the CLI exits 2
    return message


# ---- required --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["WIF_HUB_CLUSTER_ID", "WIF_ARGOCD_IDENTITY_ID", "WIF_ALLOWED_SCOPES"])
@pytest.mark.parametrize("how", ["absent", "empty", "blank"])
def test_missing_required_setting_is_named(name: str, how: str) -> None:
    env = dict(BASE)
    if how == "absent":
        del env[name]
    else:
        env[name] = "" if how == "empty" else "   "
    message = error(env)
    assert message.startswith(f"{name} is not set: "), message


def test_required_settings_have_no_default() -> None:
    required = {name for name, (default, _) in config.SETTINGS.items() if default is None}
    assert required == {"WIF_ARGOCD_IDENTITY_ID", "WIF_ALLOWED_SCOPES"}
    assert config.SETTINGS["WIF_HUB_CLUSTER_ID"][0] == ""  # required only for the hub topology


def test_empty_environment_names_a_required_setting() -> None:
    assert error({}).split()[0] in {"WIF_HUB_CLUSTER_ID", "WIF_ARGOCD_IDENTITY_ID", "WIF_ALLOWED_SCOPES"}


# ---- defaults ---------------------------------------------------------------------------

def test_defaults() -> None:
    s = load()
    assert s.hub == model.ClusterRef.parse(fakes.HUB_ID)
    assert s.identity == model.IdentityRef.parse(fakes.IDENTITY_ID)
    assert s.allowed_scopes == (model.Scope(fakes.SUB),)
    assert s.namespace == "argocd"
    assert s.service_accounts == ("argocd-application-controller", "argocd-server")
    assert (s.topology, s.rbac_mode, s.cluster_role) == ("hub", "auto", "cluster-admin")
    assert s.azure_rbac_role_id == config.AKS_RBAC_CLUSTER_ADMIN
    assert s.opt_in_tag is None and s.label_tags == ()
    assert s.run_command is True and s.verify is True
    assert (s.provisioning_timeout_s, s.propagation_timeout_s) == (1800, 900)
    assert s.arm_endpoint == "https://management.azure.com" and s.arm_scope == "https://management.azure.com/.default"
    assert s.authority_host == "https://login.microsoftonline.com"
    assert s.aks_server_app_id == config.AKS_SERVER_APP_ID and s.aks_scope == f"{config.AKS_SERVER_APP_ID}/.default"
    assert s.aad_environment_name == "AzurePublicCloud"
    # The webhook owns the token file and the authority in Argo CD's pods: nothing is written by default.
    assert s.federated_token_file == "" and s.argocd_authority_host == ""
    assert s.cluster_name_template == "{name}-{hash}"
    assert s.subjects() == ("system:serviceaccount:argocd:argocd-application-controller",
                            "system:serviceaccount:argocd:argocd-server")


def test_documented_defaults_are_the_dataclass_defaults() -> None:
    s = load()
    fields = {f.name: f for f in dataclasses.fields(config.Settings)}
    for f in fields.values():
        if f.default is not dataclasses.MISSING:
            assert getattr(s, f.name) == f.default, f.name


# ---- each setting is read: a valid non-default value changes Settings -------------------

VALID = {
    "WIF_HUB_CLUSTER_ID": (fakes.cluster_id("hub2", "argocd-rg"), lambda s: s.hub.name == "hub2"),
    "WIF_ARGOCD_IDENTITY_ID": (fakes.IDENTITY_ID.replace("/argocd", "/argocd-2"), lambda s: s.identity.name == "argocd-2"),
    "WIF_ALLOWED_SCOPES": (f" /subscriptions/{fakes.SUB}/resourceGroups/rg-apps , /subscriptions/{OTHER_SUB} ,",
                           lambda s: s.allowed_scopes == (model.Scope(fakes.SUB, "rg-apps"), model.Scope(OTHER_SUB))),
    "WIF_ARGOCD_NAMESPACE": ("gitops", lambda s: s.subjects()[0].startswith("system:serviceaccount:gitops:")),
    "WIF_ARGOCD_SERVICE_ACCOUNTS": ("argocd-application-controller, argocd-application-controller,argocd-applicationset",
                                    lambda s: s.service_accounts == ("argocd-application-controller",
                                                                     "argocd-applicationset")),
    "WIF_TOPOLOGY": ("In-Cluster", lambda s: s.topology == "in-cluster"),
    "WIF_RBAC_MODE": ("azure", lambda s: s.rbac_mode == "azure"),
    "WIF_CLUSTER_ROLE": ("argocd-manager.example.com", lambda s: s.cluster_role == "argocd-manager.example.com"),
    "WIF_AZURE_RBAC_ROLE_ID": ("7F6C6A51-BCF8-42BA-9220-52D62157D7DB",
                               lambda s: s.azure_rbac_role_id == "7f6c6a51-bcf8-42ba-9220-52d62157d7db"),
    "WIF_OPT_IN_TAG": (" argocd = enabled ", lambda s: s.opt_in_tag == config.OptInTag("argocd", "enabled")),
    "WIF_LABEL_TAGS": ("env, cost center,team", lambda s: s.label_tags == ("env", "cost center", "team")),
    "WIF_RUN_COMMAND": ("off", lambda s: s.run_command is False),
    "WIF_VERIFY": ("No", lambda s: s.verify is False),
    "WIF_PROVISIONING_TIMEOUT_SECONDS": (" 60 ", lambda s: s.provisioning_timeout_s == 60),
    "WIF_PROPAGATION_TIMEOUT_SECONDS": ("604800", lambda s: s.propagation_timeout_s == 604800),
    "WIF_ARM_ENDPOINT": ("https://management.chinacloudapi.cn/", lambda s: s.arm_scope == "https://management.chinacloudapi.cn/.default"),
    "AZURE_AUTHORITY_HOST": ("https://login.chinacloudapi.cn/", lambda s: s.authority_host == "https://login.chinacloudapi.cn"),
    "WIF_AKS_SERVER_APP_ID": ("00000000-0000-0000-0000-0000000000aa", lambda s: s.aks_scope.startswith("00000000-")),
    "WIF_AAD_ENVIRONMENT_NAME": ("AzureChinaCloud", lambda s: s.aad_environment_name == "AzureChinaCloud"),
    "WIF_FEDERATED_TOKEN_FILE": ("/var/run/secrets/tokens/t", lambda s: s.federated_token_file == "/var/run/secrets/tokens/t"),
    "WIF_ARGOCD_AUTHORITY_HOST": ("https://login.chinacloudapi.cn",
                                  lambda s: s.argocd_authority_host == "https://login.chinacloudapi.cn/"),
    "WIF_CLUSTER_NAME_TEMPLATE": ("{resource_group}-{name}-{hash}",
                                  lambda s: s.cluster_name_template == "{resource_group}-{name}-{hash}"),
}


def test_every_setting_has_a_valid_and_an_invalid_case() -> None:
    assert set(VALID) == set(config.SETTING_NAMES)
    assert {name for name, _, _ in INVALID} == set(config.SETTING_NAMES)


@pytest.mark.parametrize("name", sorted(VALID))
def test_each_setting_is_read(name: str) -> None:
    value, check = VALID[name]
    s = load(**{name: value})
    assert check(s), s
    assert s != load()


# ---- each invalid value: one line naming the variable and what it expects --------------

INVALID = [
    ("WIF_HUB_CLUSTER_ID", "not-an-id", "cluster id"),
    ("WIF_HUB_CLUSTER_ID", fakes.HUB_ID + "/agentPools/x", "cluster id"),
    ("WIF_HUB_CLUSTER_ID", fakes.IDENTITY_ID, "managedClusters"),
    ("WIF_ARGOCD_IDENTITY_ID", fakes.HUB_ID, "userAssignedIdentities"),
    ("WIF_ARGOCD_IDENTITY_ID", fakes.IDENTITY_ID + "/../x", "identity id"),
    ("WIF_ALLOWED_SCOPES", "/subscriptions/not-a-guid", "scope"),
    ("WIF_ALLOWED_SCOPES", ",,", "comma list"),
    ("WIF_ALLOWED_SCOPES", f"/subscriptions/{fakes.SUB},*", "scope"),
    ("WIF_ALLOWED_SCOPES", f"/subscriptions/{fakes.SUB}/resourceGroups/rg/providers/x", "scope"),
    ("WIF_ARGOCD_NAMESPACE", "Argo_CD", "namespace"),
    ("WIF_ARGOCD_NAMESPACE", "a" * 64, "namespace"),
    ("WIF_ARGOCD_NAMESPACE", "-argocd", "namespace"),
    ("WIF_ARGOCD_SERVICE_ACCOUNTS", " , ", "service account"),
    ("WIF_ARGOCD_SERVICE_ACCOUNTS", "argocd-server,Bad_SA", "service account"),
    ("WIF_TOPOLOGY", "mesh", "hub | in-cluster"),
    ("WIF_RBAC_MODE", "rbac", "auto | kubernetes | azure"),
    ("WIF_CLUSTER_ROLE", "Cluster Admin", "ClusterRole"),
    ("WIF_CLUSTER_ROLE", "admin-", "ClusterRole"),
    ("WIF_AZURE_RBAC_ROLE_ID", "Azure Kubernetes Service RBAC Cluster Admin", "GUID"),
    ("WIF_AZURE_RBAC_ROLE_ID", "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19", "GUID"),
    ("WIF_OPT_IN_TAG", "argocd=", "tag name"),
    ("WIF_OPT_IN_TAG", "=on", "tag name"),
    ("WIF_OPT_IN_TAG", "a/b", "tag name"),
    ("WIF_LABEL_TAGS", "env,a<b", "tag names"),
    ("WIF_RUN_COMMAND", "maybe", "true or false"),
    ("WIF_VERIFY", "2", "true or false"),
    ("WIF_PROVISIONING_TIMEOUT_SECONDS", "ten", "whole number"),
    ("WIF_PROVISIONING_TIMEOUT_SECONDS", "1.5", "whole number"),
    ("WIF_PROVISIONING_TIMEOUT_SECONDS", "0", "between 1 and 604800"),
    ("WIF_PROPAGATION_TIMEOUT_SECONDS", "-1", "between 1 and 604800"),
    ("WIF_PROPAGATION_TIMEOUT_SECONDS", "604801", "between 1 and 604800"),
    ("WIF_ARM_ENDPOINT", "http://management.azure.com", "https:// URL"),
    ("WIF_ARM_ENDPOINT", "https://", "https:// URL"),
    ("WIF_ARM_ENDPOINT", "https://management.azure.com?x=1", "https:// URL"),
    ("AZURE_AUTHORITY_HOST", "login.microsoftonline.com", "https:// URL"),
    ("WIF_AKS_SERVER_APP_ID", "aks", "GUID"),
    ("WIF_AAD_ENVIRONMENT_NAME", "AzureGermanCloud", "AzurePublicCloud | AzureChinaCloud | AzureUSGovernmentCloud"),
    ("WIF_AAD_ENVIRONMENT_NAME", "azurepubliccloud", "AzurePublicCloud"),
    ("WIF_FEDERATED_TOKEN_FILE", "tokens/azure-identity-token", "absolute path"),
    ("WIF_ARGOCD_AUTHORITY_HOST", "login.microsoftonline.com", "https:// URL"),
    ("WIF_CLUSTER_NAME_TEMPLATE", "{name}", "unique per cluster"),
    ("WIF_CLUSTER_NAME_TEMPLATE", "{name}-{resource_group}-{subscription_id}", "must hold {hash}"),
    ("WIF_CLUSTER_NAME_TEMPLATE", "{name}-{region}-{hash}", "unknown: region"),
    ("WIF_CLUSTER_NAME_TEMPLATE", "{name", "template"),
    ("WIF_CLUSTER_NAME_TEMPLATE", "prod", "none used"),
]


@pytest.mark.parametrize("name, value, expects", INVALID, ids=[f"{n}={v[:30]}" for n, v, _ in INVALID])
def test_invalid_value_names_the_variable(name: str, value: str, expects: str) -> None:
    message = error({**BASE, name: value})
    assert message.startswith(name), message
    assert expects in message, message


def test_error_shows_a_bounded_value() -> None:
    message = error({**BASE, "WIF_TOPOLOGY": "x" * 10_000 + "\nsecond line"})
    assert len(message) < 250 and "\n" not in message


# ---- topologies -------------------------------------------------------------------------

def test_in_cluster_topology_needs_no_hub() -> None:
    env = {k: v for k, v in BASE.items() if k != "WIF_HUB_CLUSTER_ID"}
    s = config.Settings.from_env({**env, "WIF_TOPOLOGY": "in-cluster"})
    assert s.topology == "in-cluster" and s.hub is None


def test_hub_topology_needs_a_hub() -> None:
    env = {k: v for k, v in BASE.items() if k != "WIF_HUB_CLUSTER_ID"}
    assert error({**env, "WIF_TOPOLOGY": "hub"}).startswith("WIF_HUB_CLUSTER_ID is not set")
    assert error(env).startswith("WIF_HUB_CLUSTER_ID is not set")


def test_in_cluster_topology_with_a_hub_still_validates_it() -> None:
    assert error({**BASE, "WIF_TOPOLOGY": "in-cluster", "WIF_HUB_CLUSTER_ID": "nope"}).startswith("WIF_HUB_CLUSTER_ID")


# ---- behaviour ---------------------------------------------------------------------------

def test_allows_is_case_insensitive_and_per_scope() -> None:
    s = load(WIF_ALLOWED_SCOPES=f"/subscriptions/{fakes.SUB}/resourceGroups/RG-APPS")
    assert s.allows(model.ClusterRef.parse(fakes.cluster_id("x", "rg-apps")))
    assert not s.allows(model.ClusterRef.parse(fakes.cluster_id("x", "rg-other")))


def test_opt_in_tag_matches_key_case_insensitively_and_value_exactly() -> None:
    any_value = config.OptInTag("ArgoCD")
    assert any_value.matches({"argocd": "whatever"}) and not any_value.matches({"other": "x"})
    exact = load(WIF_OPT_IN_TAG="argocd=enabled").opt_in_tag
    assert exact is not None and str(exact) == "argocd=enabled"
    assert exact.matches({"ArgoCD": "enabled"}) and not exact.matches({"argocd": "Enabled"})


def test_from_env_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in config.SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    assert config.Settings.from_env() == load()


def test_settings_are_hashable_and_comparable() -> None:
    assert hash(load()) == hash(load()) and load() == load()
