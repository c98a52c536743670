"""wif_core.manifests: a cluster Secret Argo CD accepts, holding no credential; deterministic names."""
from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any, Iterator

import pytest

from tests import fakes
from wif_core import config, manifests, model

PEM = ("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZ2lmLXNhbmRib3gtY2EwCgYIKoZIzj0EAwIwGzEZMBcG\n"
       "-----END CERTIFICATE-----\n")
CA_DATA = base64.b64encode(PEM.encode()).decode()
IDENTITY = model.IdentityFacts(fakes.IDENTITY_ID, "argocd", "7d3c8a1e-0f4b-4c2d-9e8f-1a2b3c4d5e6f",
                               "3c9b2a61-7d4e-4f0a-8b1c-5e6d7f8a9b0c", fakes.TENANT)
# Kubernetes: label values <= 63 chars, alphanumeric at both ends, [-_.] inside; keys: [prefix/]name.
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
CREDENTIAL_KEYS = {"token", "bearertoken", "password", "keydata", "certdata", "clientsecret", "client_secret",
                   "username", "access_token", "refresh_token", "id_token"}


def facts(name: str = "aks-dev-01", rg: str = "rg-apps", **changes: Any) -> model.ClusterFacts:
    values: dict[str, Any] = dict(
        ref=model.ClusterRef.parse(fakes.cluster_id(name, rg)), provisioning_state="Succeeded", location="westeurope",
        server=f"https://{name}-dns-1a2b3c4d.hcp.westeurope.azmk8s.io:443", ca_data=CA_DATA, private=False, aad=True,
        azure_rbac=False, oidc_issuer="https://westeurope.oic.prod-aks.azure.com/tenant/guid/", workload_identity=True,
        tenant_id=fakes.TENANT, tags=())
    values.update(changes)
    return model.ClusterFacts(**values)


def secret(settings: config.Settings | None = None, target: model.ClusterFacts | None = None) -> dict[str, Any]:
    return manifests.cluster_secret(settings or fakes.settings(), target or facts(), IDENTITY)


def cluster_config(s: dict[str, Any]) -> dict[str, Any]:
    return json.loads(s["stringData"]["config"])  # type: ignore[no-any-return]


def keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from keys(v)


# ---- the Secret Argo CD reads ---------------------------------------------------------

def test_secret_is_an_argocd_declarative_cluster() -> None:
    s = secret()
    assert (s["apiVersion"], s["kind"], s["type"]) == ("v1", "Secret", "Opaque")
    assert s["metadata"]["namespace"] == "argocd"
    assert s["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "cluster"
    assert set(s["stringData"]) == {"name", "server", "config"}
    assert "data" not in s
    assert re.fullmatch(r"aks-dev-01-[0-9a-f]{8}", s["stringData"]["name"])  # unique across groups and subscriptions
    assert s["stringData"]["server"] == "https://aks-dev-01-dns-1a2b3c4d.hcp.westeurope.azmk8s.io:443"
    assert s["stringData"]["server"].startswith("https://")


def test_config_runs_argocd_k8s_auth_azure_with_workload_identity() -> None:
    cfg = cluster_config(secret())
    assert set(cfg) == {"execProviderConfig", "tlsClientConfig"}
    exec_config = cfg["execProviderConfig"]
    assert exec_config["command"] == "argocd-k8s-auth"
    assert exec_config["args"] == ["azure"]
    assert exec_config["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    # Only what the workload-identity webhook does not inject: it owns AZURE_TENANT_ID,
    # AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST (client-go appends this env after the
    # pod's, last one wins, so writing them would override the webhook and go stale).
    # argocd-k8s-auth's defaults (AzurePublicCloud, the AKS AAD server app id) are not repeated.
    assert exec_config["env"] == {"AAD_LOGIN_METHOD": "workloadidentity", "AZURE_CLIENT_ID": IDENTITY.client_id}


OTHER_SUB = "99999999-9999-4999-8999-999999999999"


def test_two_clusters_of_one_name_get_distinct_dns_safe_argocd_names() -> None:
    prods = [facts("prod", "rg-a"), facts("prod", "rg-b"),
             facts("prod", "rg-a", ref=model.ClusterRef.parse(fakes.cluster_id("prod", "rg-a").replace(fakes.SUB, OTHER_SUB)))]
    names = [secret(target=t)["stringData"]["name"] for t in prods]
    assert len(set(names)) == 3, names
    for name in names:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", name), name
    # Deterministic and blind to the casing of the id: ARM ids are case-insensitive.
    upper = facts("prod", "rg-a", ref=model.ClusterRef.parse(fakes.cluster_id("PROD", "RG-A")))
    assert secret(target=upper)["stringData"]["name"] == names[0]
    # The bare name and resource group stay available to generators as labels.
    labels = secret(target=prods[1])["metadata"]["labels"]
    assert labels["azure.aks-argocd-wif.io/cluster-name"] == "prod" and labels["azure.aks-argocd-wif.io/resource-group"] == "rg-b"


@pytest.mark.parametrize("template, expected", [
    ("{name}", None),  # refused by config: not unique
    ("{subscription_id}-{resource_group}-{name}", None),  # refused: "x-y"/"z" and "x"/"y-z" would fold together
    ("{resource_group}_{name}.{hash}", r"rg-apps-prod-[0-9a-f]{8}"),
    ("{location}/{name}.{hash}", r"westeurope-prod-[0-9a-f]{8}"),
    ("{name}-" + "x" * 70 + "-{hash}", r"prod-x{49}-[0-9a-f]{8}"),
])
def test_name_template_is_made_dns_safe_and_kept_unique_when_cut(template: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(config.errors.ConfigError, match="WIF_CLUSTER_NAME_TEMPLATE"):
            fakes.settings(WIF_CLUSTER_NAME_TEMPLATE=template)
        return
    name = secret(fakes.settings(WIF_CLUSTER_NAME_TEMPLATE=template), facts("Prod"))["stringData"]["name"]
    assert re.fullmatch(expected, name) and len(name) <= 63, name


def test_tls_config_pins_the_cluster_ca() -> None:
    tls = cluster_config(secret())["tlsClientConfig"]
    assert tls == {"insecure": False, "caData": CA_DATA}
    pem = base64.b64decode(tls["caData"], validate=True).decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----") and pem.rstrip().endswith("-----END CERTIFICATE-----")


@pytest.mark.parametrize("topology", ["hub", "in-cluster"])
@pytest.mark.parametrize("azure_rbac", [False, True])
def test_no_credential_anywhere(topology: str, azure_rbac: bool) -> None:
    env = {"WIF_TOPOLOGY": topology, "WIF_LABEL_TAGS": "env,team"}
    s = secret(fakes.settings(**env), facts(azure_rbac=azure_rbac, tags=(("env", "dev"), ("team", "p"))))
    found = {k.lower() for k in keys(s)} | {k.lower() for k in keys(cluster_config(s))}
    assert not found & CREDENTIAL_KEYS, found & CREDENTIAL_KEYS
    assert "bearerToken" not in s["stringData"]["config"] and "password" not in s["stringData"]["config"]


def test_sovereign_cloud_settings_reach_the_exec_env_and_the_app_authority_does_not() -> None:
    s = secret(fakes.settings(AZURE_AUTHORITY_HOST="https://login.chinacloudapi.cn/",
                              WIF_AAD_ENVIRONMENT_NAME="AzureChinaCloud", WIF_ARGOCD_NAMESPACE="gitops",
                              WIF_AKS_SERVER_APP_ID="00000000-0000-0000-0000-0000000000aa"))
    env = cluster_config(s)["execProviderConfig"]["env"]
    assert env["AAD_ENVIRONMENT_NAME"] == "AzureChinaCloud"
    assert env["AAD_SERVER_APPLICATION_ID"] == "00000000-0000-0000-0000-0000000000aa"
    # The app's own authority is this app's; Argo CD's pods get theirs from the webhook.
    assert "AZURE_AUTHORITY_HOST" not in env and "AZURE_FEDERATED_TOKEN_FILE" not in env
    assert s["metadata"]["namespace"] == "gitops"


def test_token_file_and_authority_overrides_are_explicit_opt_ins() -> None:
    s = secret(fakes.settings(WIF_FEDERATED_TOKEN_FILE="/var/run/t/token",
                              WIF_ARGOCD_AUTHORITY_HOST="https://login.chinacloudapi.cn"))
    env = cluster_config(s)["execProviderConfig"]["env"]
    assert env["AZURE_FEDERATED_TOKEN_FILE"] == "/var/run/t/token"
    assert env["AZURE_AUTHORITY_HOST"] == "https://login.chinacloudapi.cn/"


# ---- labels and annotations -----------------------------------------------------------

def assert_valid_labels(labels: dict[str, str]) -> None:
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        assert LABEL_NAME.fullmatch(name) and len(name) <= 63, key
        assert not prefix or (DNS_SUBDOMAIN.fullmatch(prefix) and len(prefix) <= 253), key
        assert isinstance(value, str) and LABEL_VALUE.fullmatch(value) and len(value) <= 63, (key, value)


def test_labels_carry_cluster_metadata_for_applicationset_generators() -> None:
    target = facts(rg="RG_Apps.(prod)", azure_rbac=True, tags=(("Env", "Prod"), ("cost center", "CC 42/a"), ("x", "y")))
    s = secret(fakes.settings(WIF_LABEL_TAGS="env,Cost Center,missing"), target)
    labels = s["metadata"]["labels"]
    assert_valid_labels(labels)
    assert labels[manifests.LABEL_MANAGED_BY] == manifests.MANAGED_BY
    assert labels[manifests.LABEL_PREFIX + "subscription"] == fakes.SUB
    assert labels[manifests.LABEL_PREFIX + "cluster-name"] == "aks-dev-01"
    assert labels[manifests.LABEL_PREFIX + "location"] == "westeurope"
    assert labels[manifests.LABEL_PREFIX + "rbac"] == "azure"
    assert labels[manifests.TAG_LABEL_PREFIX + "env"] == "Prod"
    assert labels[manifests.TAG_LABEL_PREFIX + "cost-center"] == "CC-42-a"
    assert not any(k.endswith("/missing") or k.endswith("/x") for k in labels)
    annotations = s["metadata"]["annotations"]
    assert annotations[manifests.ANNOTATION_CLUSTER_ID] == target.ref.id
    assert annotations[manifests.LABEL_PREFIX + "resource-group"] == "RG_Apps.(prod)"
    assert json.loads(annotations[manifests.LABEL_PREFIX + "tags"]) == {"Env": "Prod", "cost center": "CC 42/a", "x": "y"}


@pytest.mark.parametrize("value", ["", "-", "a" * 200, "-lead", "trail.", "sp ace", "üñí", "a/b:c", "_x_", "..."])
def test_awkward_tag_values_become_valid_label_values(value: str) -> None:
    s = secret(fakes.settings(WIF_LABEL_TAGS="t, " + ("k" * 80)), facts(tags=(("t", value), ("k" * 80, value))))
    assert_valid_labels(s["metadata"]["labels"])


def test_label_value_keeps_what_it_can() -> None:
    assert manifests.label_value("westeurope") == "westeurope"
    assert manifests.label_value("a b") == "a-b"
    assert len(manifests.label_value("x" * 100)) == 63


# ---- deterministic names ----------------------------------------------------------------

def test_secret_name_is_deterministic_case_insensitive_and_unique() -> None:
    ref = model.ClusterRef.parse(fakes.cluster_id("aks-dev-01"))
    upper = model.ClusterRef.parse(fakes.cluster_id("AKS-DEV-01", "RG-APPS"))
    assert manifests.secret_name(ref) == manifests.secret_name(upper)
    assert manifests.secret_name(ref) != manifests.secret_name(model.ClusterRef.parse(fakes.cluster_id("aks-dev-01", "rg-b")))
    assert secret() == secret()
    assert secret()["stringData"]["config"] == secret()["stringData"]["config"]


@pytest.mark.parametrize("name", ["a", "aks_dev_01", "A" * 63, "x-" * 31 + "x", "9-lives"])
def test_secret_names_are_dns_subdomains(name: str) -> None:
    generated = manifests.secret_name(model.ClusterRef.parse(fakes.cluster_id(name)))
    assert DNS_SUBDOMAIN.fullmatch(generated) and len(generated) <= 253, generated


def test_credential_names_fit_entra_rules() -> None:
    settings = fakes.settings(WIF_ARGOCD_SERVICE_ACCOUNTS="argocd-application-controller,argocd-server," + "s" * 200)
    issuer = "https://westeurope.oic.prod-aks.azure.com/tenant/guid/"
    hub = model.ClusterRef.parse(fakes.HUB_ID)
    credentials = manifests.desired_credentials(settings, hub, issuer)
    assert [c.subject for c in credentials] == list(settings.subjects())
    for c in credentials:
        assert re.fullmatch(r"[A-Za-z0-9][-_A-Za-z0-9]{2,119}", c.name), c.name
        assert c.issuer == issuer and c.audiences == ("api://AzureADTokenExchange",)
    assert len({c.name for c in credentials}) == len(credentials)
    shouted = model.ClusterRef.parse(fakes.HUB_ID.upper().replace("SUBSCRIPTIONS", "subscriptions"))
    again = manifests.desired_credentials(settings, shouted, issuer)
    assert [c.name for c in again] == [c.name for c in credentials]  # ARM ids are case-insensitive
    other = model.ClusterRef.parse(fakes.cluster_id("other"))
    assert manifests.credential_name(other, credentials[0].subject) != credentials[0].name


def test_binding_and_role_assignment_names() -> None:
    assert manifests.binding_name(IDENTITY) == manifests.binding_name(IDENTITY)
    assert DNS_SUBDOMAIN.fullmatch(manifests.binding_name(IDENTITY))
    scope = fakes.cluster_id("aks-dev-01")
    name = manifests.role_assignment_name(scope, IDENTITY.principal_id, config.AKS_RBAC_CLUSTER_ADMIN)
    assert str(uuid.UUID(name)) == name
    assert name == manifests.role_assignment_name(scope.upper(), IDENTITY.principal_id.upper(), config.AKS_RBAC_CLUSTER_ADMIN)
    assert name != manifests.role_assignment_name(fakes.cluster_id("other"), IDENTITY.principal_id, config.AKS_RBAC_CLUSTER_ADMIN)
    assert manifests.role_definition_id(fakes.SUB, "abc") == (
        f"/subscriptions/{fakes.SUB}/providers/Microsoft.Authorization/roleDefinitions/abc")


# ---- ClusterRoleBinding ---------------------------------------------------------------------

def test_cluster_role_binding_binds_the_identity_object_id() -> None:
    target = facts().ref
    b = manifests.cluster_role_binding(fakes.settings(WIF_CLUSTER_ROLE="argocd-manager"), IDENTITY, target)
    assert b["metadata"]["annotations"][manifests.ANNOTATION_CLUSTER_ID] == target.id  # provenance
    assert (b["apiVersion"], b["kind"]) == ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
    assert b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "argocd-manager"}
    assert b["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": IDENTITY.principal_id}]
    assert manifests.is_ours(b) and "namespace" not in b["metadata"]
    assert_valid_labels(b["metadata"]["labels"])


def test_is_ours() -> None:
    assert manifests.is_ours(secret())
    assert not manifests.is_ours({"metadata": {"labels": {manifests.LABEL_MANAGED_BY: "helm"}}})
    assert not manifests.is_ours({"metadata": {}}) and not manifests.is_ours({})
    assert not manifests.is_ours({"metadata": {"labels": None}})


def test_tag_labels_report_every_rewrite_and_skip_and_resolve_clashes_by_sorted_name() -> None:
    tags = {"Cost Center": "CC 42/a", "cost-center": "cc-7", "Env": "Prod", "team": "ok"}
    forward = manifests.tag_labels(fakes.settings(WIF_LABEL_TAGS="cost-center,Cost Center,env,team,missing"), tags)
    backward = manifests.tag_labels(fakes.settings(WIF_LABEL_TAGS="missing,team,env,Cost Center,cost-center"), tags)
    assert forward == backward  # the order of the setting decides nothing
    key = manifests.TAG_LABEL_PREFIX + "cost-center"
    assert forward.labels[key] == "CC-42-a"  # "Cost Center" sorts before "cost-center"
    notes = "\n".join(forward.notes)
    assert "tag 'cost-center' skipped: label tags.aks-argocd-wif.io/cost-center already comes from tag 'Cost Center'" in notes
    assert "tag 'Cost Center' value 'CC 42/a' written as label value 'CC-42-a'" in notes
    assert "tag 'Env' written as label key tags.aks-argocd-wif.io/env" in notes
    assert "tag 'missing' skipped: the cluster has no such tag" in notes
    assert not any("'team'" in n for n in forward.notes)  # unchanged: nothing to report
