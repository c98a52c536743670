"""Pure parsing of an AKS cluster's ARM JSON and user kubeconfig into ClusterFacts."""
from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from tests import fakes
from wif_core import errors, model
from wif_core.adapters import aks_facts

REF = model.ClusterRef.parse(fakes.cluster_id("dev-1"))
CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()


def arm(state: str = "Succeeded", **props: Any) -> dict[str, Any]:
    properties = {
        "provisioningState": state, "fqdn": "dev-1-abc.hcp.westeurope.azmk8s.io",
        "aadProfile": {"managed": True, "enableAzureRBAC": False, "tenantID": fakes.TENANT},
        "oidcIssuerProfile": {"enabled": True, "issuerURL": "https://westeurope.oic.prod-aks.azure.com/t/u/"},
        "securityProfile": {"workloadIdentity": {"enabled": True}},
    }
    properties.update(props)
    return {"id": REF.id, "name": REF.name, "location": "westeurope", "tags": {"env": "dev", "team": "a"},
            "properties": properties}


def kubeconfig(server: str = "https://dev-1-abc.hcp.westeurope.azmk8s.io:443", ca: str = CA) -> bytes:
    cluster: dict[str, str] = {"certificate-authority-data": ca}
    if server:
        cluster["server"] = server
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev-1",
        "clusters": [{"name": "other", "cluster": {"server": "https://wrong:443", "certificate-authority-data": CA}},
                     {"name": "dev-1", "cluster": cluster}],
        "contexts": [{"name": "dev-1", "context": {"cluster": "dev-1", "user": "clusterUser"}}],
        "users": [{"name": "clusterUser", "user": {"exec": {"command": "kubelogin"}}}],
    }).encode()


def test_a_ready_public_cluster() -> None:
    facts = aks_facts.cluster_facts(REF, arm(), kubeconfig())
    assert facts.server == "https://dev-1-abc.hcp.westeurope.azmk8s.io:443"  # the current context's cluster
    assert facts.ca_data == CA and not facts.private
    assert facts.aad and not facts.azure_rbac and facts.workload_identity
    assert facts.oidc_issuer == "https://westeurope.oic.prod-aks.azure.com/t/u/"
    assert facts.tenant_id == fakes.TENANT and facts.location == "westeurope"
    assert facts.tags == (("env", "dev"), ("team", "a"))


def test_a_private_cluster_falls_back_to_its_private_fqdn() -> None:
    facts = aks_facts.cluster_facts(
        REF, arm(apiServerAccessProfile={"enablePrivateCluster": True}, privateFQDN="dev-1.privatelink.azmk8s.io"),
        kubeconfig(server=""))
    assert facts.private and facts.server == "https://dev-1.privatelink.azmk8s.io:443"


def test_a_cluster_still_creating_has_no_endpoint_yet() -> None:
    facts = aks_facts.cluster_facts(REF, arm("Creating"), None)
    assert facts.provisioning_state == "Creating" and facts.server == "" and facts.ca_data == ""


def test_azure_rbac_and_missing_profiles() -> None:
    facts = aks_facts.cluster_facts(REF, arm(aadProfile={"managed": True, "enableAzureRBAC": True}), kubeconfig())
    assert facts.azure_rbac and facts.tenant_id is None
    bare = aks_facts.cluster_facts(REF, {"properties": {"provisioningState": "Succeeded"}}, None)
    assert not bare.aad and bare.oidc_issuer is None and not bare.workload_identity and bare.tags == ()
    disabled = aks_facts.cluster_facts(REF, arm(oidcIssuerProfile={"enabled": False, "issuerURL": "https://x/"}), None)
    assert disabled.oidc_issuer is None


@pytest.mark.parametrize("bad", [b"clusters: [", b"{}", kubeconfig(ca="bm90IGEgY2VydA=="), kubeconfig(ca="%%%")])
def test_a_broken_kubeconfig_is_a_permanent_error_naming_the_cluster(bad: bytes) -> None:
    with pytest.raises(errors.PermanentError, match="dev-1"):
        aks_facts.cluster_facts(REF, arm(), bad)


def test_the_ref_is_arms_canonical_spelling_not_the_callers() -> None:
    canonical = model.ClusterRef.parse(fakes.cluster_id("Dev-1", "RG-Apps"))
    body = dict(arm(), id=canonical.id.replace("resourceGroups", "resourcegroups"), name="Dev-1")
    asked = model.ClusterRef.parse(canonical.id.lower())  # as an Event Grid subject may spell it
    facts = aks_facts.cluster_facts(asked, body, kubeconfig())
    assert facts.ref.id == canonical.id and facts.ref.name == "Dev-1" and facts.ref.resource_group == "RG-Apps"
    assert facts.ref.key == asked.key


def test_an_answer_for_another_resource_is_refused() -> None:
    other = dict(arm(), id=fakes.cluster_id("other"), name="other")
    with pytest.raises(errors.PermanentError, match="ARM answered for"):
        aks_facts.cluster_facts(REF, other, kubeconfig())
    assert aks_facts.cluster_facts(REF, dict(arm(), id=None), None).ref == REF  # no id at all: the request's
