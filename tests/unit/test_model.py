"""wif_core.model: ARM ids parsed strictly; facts that compare the way Azure does."""
from __future__ import annotations

import pytest

from wif_core import errors, model

SUB = "5f1c7b0e-2d3a-4c8e-9b6f-1a2b3c4d5e6f"
PREFIX = f"/subscriptions/{SUB}/resourceGroups"
AKS = "providers/Microsoft.ContainerService/managedClusters"
CLUSTER = f"{PREFIX}/rg-platform-dev/{AKS}/aks-dev-01"


@pytest.mark.parametrize("value, rg, name", [
    (CLUSTER, "rg-platform-dev", "aks-dev-01"),
    (CLUSTER.lower(), "rg-platform-dev", "aks-dev-01"),
    (CLUSTER.upper(), "RG-PLATFORM-DEV", "AKS-DEV-01"),
    (CLUSTER + "/", "rg-platform-dev", "aks-dev-01"),
    (f"  {CLUSTER}\n", "rg-platform-dev", "aks-dev-01"),
    (f"{PREFIX}/rg.with(parens)_and.dots/{AKS}/a", "rg.with(parens)_and.dots", "a"),
    (f"{PREFIX}/r/{AKS}/a_b-c", "r", "a_b-c"),
    (f"{PREFIX}/{'g' * 90}/{AKS}/{'n' * 63}", "g" * 90, "n" * 63),
    (f"{PREFIX}/rg-(x)/{AKS}/n1", "rg-(x)", "n1"),
])
def test_cluster_ref_valid_forms(value: str, rg: str, name: str) -> None:
    ref = model.ClusterRef.parse(value)
    assert (ref.subscription_id, ref.resource_group, ref.name) == (SUB, rg, name)
    assert ref.key == ref.id.lower() and str(ref) == ref.id
    assert model.ClusterRef.parse(ref.id) == ref


def test_cluster_ref_case_insensitive_identity() -> None:
    a, b = model.ClusterRef.parse(CLUSTER), model.ClusterRef.parse(CLUSTER.upper())
    assert a.key == b.key and a.subscription_id == b.subscription_id == SUB
    assert a != b  # names keep their case for display; compare with key


HOSTILE = [
    "", " ", "/", "aks-dev-01", CLUSTER[1:], "//" + CLUSTER[1:],
    CLUSTER + "/agentPools/np1", CLUSTER + "/..", CLUSTER + "/../other", CLUSTER.replace("aks-dev-01", "..%2Fother"),
    CLUSTER.replace("rg-platform-dev", "rg/../prod"), CLUSTER.replace("rg-platform-dev", "rg%2Fprod"),
    CLUSTER + "?api-version=2024-05-01", CLUSTER + "#x", CLUSTER + "%00", CLUSTER + "\x00",
    CLUSTER.replace(SUB, "not-a-guid"), CLUSTER.replace(SUB, SUB[:-1]), CLUSTER.replace(SUB, SUB + "a"),
    CLUSTER.replace(SUB, SUB.replace("-", "")), CLUSTER.replace(SUB, "{" + SUB + "}"), CLUSTER.replace(SUB, "g" * 8 + SUB[8:]),
    CLUSTER.replace("Microsoft.ContainerService", "Microsoft.ContainerServic"),
    CLUSTER.replace("managedClusters", "fleets"), CLUSTER.replace("Microsoft.ContainerService/managedClusters",
                                                                    "Microsoft.Kubernetes/connectedClusters"),
    CLUSTER.replace("resourceGroups", "resourcegroup"), CLUSTER.replace("/providers/", "/provider/"),
    f"{PREFIX}/{'g' * 91}/{AKS}/n", f"{PREFIX}/rg./{AKS}/n", f"{PREFIX}//{AKS}/n",
    f"{PREFIX}/rg/{AKS}/{'n' * 64}", f"{PREFIX}/rg/{AKS}/-n", f"{PREFIX}/rg/{AKS}/n-", f"{PREFIX}/rg/{AKS}/_n",
    f"{PREFIX}/rg/{AKS}/n.1", f"{PREFIX}/rg/{AKS}/", f"{PREFIX}/rg/{AKS}/n n",
    CLUSTER.replace("aks-dev-01", "aks\u0430dev"), CLUSTER.replace("rg-platform-dev", "rg\u200bdev"),
    CLUSTER.replace("aks-dev-01", "\u212aelvin"), CLUSTER.replace("aks-dev-01", "aks-dev-01\nx"),
    "https://management.azure.com" + CLUSTER, CLUSTER + CLUSTER, CLUSTER + "x" * 2000,
    f"{PREFIX}/rg/providers/Microsoft.ContainerService/managedClusters/a/providers/Microsoft.Authorization/roleAssignments/x",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_cluster_ref_rejects_hostile_forms_in_one_line(value: str) -> None:
    with pytest.raises(errors.BadInput) as info:
        model.ClusterRef.parse(value)
    assert "\n" not in info.value.message and len(info.value.message) < 400


@pytest.mark.parametrize("value", [None, 42, b"/subscriptions/x", [CLUSTER], {"id": CLUSTER}])
def test_cluster_ref_rejects_non_strings(value: object) -> None:
    with pytest.raises(errors.BadInput, match="must be a string"):
        model.ClusterRef.parse(value)


def test_overlong_id_is_named_as_such() -> None:
    with pytest.raises(errors.BadInput, match="longer than 1024"):
        model.ClusterRef.parse(CLUSTER + "x" * 2000)


def test_identity_ref() -> None:
    value = f"{PREFIX}/argocd-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/argocd"
    ref = model.IdentityRef.parse(value.upper().replace("SUBSCRIPTIONS", "subscriptions"))
    assert ref.subscription_id == SUB and ref.name == "ARGOCD"
    assert model.IdentityRef.parse(value).id == value
    for bad in (value.replace("argocd", "ab").rsplit("/", 1)[0] + "/ab", CLUSTER, value + "/x", value.replace("/argocd", "/-id")):
        with pytest.raises(errors.BadInput):
            model.IdentityRef.parse(bad)


def test_scope_parse_and_contains() -> None:
    ref = model.ClusterRef.parse(CLUSTER)
    sub = model.Scope.parse(f"/subscriptions/{SUB.upper()}")
    group = model.Scope.parse(f"/subscriptions/{SUB}/resourceGroups/RG-Platform-Dev/")
    assert sub.contains(ref) and group.contains(ref) and str(sub) == f"/subscriptions/{SUB}"
    assert str(group) == f"/subscriptions/{SUB}/resourceGroups/RG-Platform-Dev"
    assert not model.Scope.parse(f"/subscriptions/{SUB}/resourceGroups/rg-platform").contains(ref)
    assert not model.Scope.parse("/subscriptions/00000000-0000-0000-0000-000000000000").contains(ref)
    for bad in ("/subscriptions/x", f"/subscriptions/{SUB}/resourceGroups", CLUSTER, "*", ""):
        with pytest.raises(errors.BadInput):
            model.Scope.parse(bad)


def test_federated_credential_trust_ignores_the_name_but_compares_issuer_and_subject_exactly() -> None:
    a = model.FederatedCredential("one", "https://oidc.example/x/", "system:serviceaccount:argocd:argocd-server")
    assert a.same_trust(model.FederatedCredential("two", a.issuer, a.subject))
    # Entra compares the token's iss byte for byte: AKS issuers end with "/", a credential without it never matches.
    assert not a.same_trust(model.FederatedCredential("two", "https://oidc.example/x", a.subject))
    assert not a.same_trust(model.FederatedCredential("two", "https://OIDC.example/x/", a.subject))
    assert not a.same_trust(model.FederatedCredential("one", a.issuer, "system:serviceaccount:argocd:other"))
    assert not a.same_trust(model.FederatedCredential("one", "https://oidc.example/y/", a.subject))
    assert a.audiences == ("api://AzureADTokenExchange",)


def test_near_misses_are_named() -> None:
    a = model.FederatedCredential("want", "https://oidc.example/x/", "system:serviceaccount:argocd:argocd-server")
    slash = a.near_miss(model.FederatedCredential("hand-made", "https://oidc.example/x", a.subject))
    assert "hand-made" in slash and "trailing slash" in slash
    assert "casing" in a.near_miss(model.FederatedCredential("c", "https://OIDC.example/x/", a.subject))
    assert "subject" in a.near_miss(model.FederatedCredential("c", a.issuer, a.subject.upper()))
    assert a.near_miss(model.FederatedCredential("c", a.issuer, a.subject)) == ""  # a match is no miss
    assert a.near_miss(model.FederatedCredential("c", "https://other.example/", a.subject)) == ""


def test_cluster_facts_tag_map() -> None:
    facts = model.ClusterFacts(ref=model.ClusterRef.parse(CLUSTER), provisioning_state="Succeeded", location="westeurope",
                               server="https://x", ca_data="", private=False, aad=True, azure_rbac=False,
                               oidc_issuer=None, workload_identity=False, tenant_id=None, tags=(("a", "1"), ("b", "2")))
    assert facts.tag_map() == {"a": "1", "b": "2"}
