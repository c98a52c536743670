"""``argocd-values``: every key it prints exists in the argo-cd chart, and infra's template says the same.

The chart's keys come from ``tests/data/argo-cd-chart/values-excerpt.yaml``, a verbatim excerpt of
argo-helm's ``charts/argo-cd/values.yaml`` (chart 10.1.1, commit noted in its header).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import fakes
from wif_core import errors, helm_values

ROOT = Path(__file__).resolve().parents[2]
CHART = yaml.safe_load((ROOT / "tests" / "data" / "argo-cd-chart" / "values-excerpt.yaml").read_text())
TEMPLATE = ROOT / "infra" / "kubernetes" / "argocd-values-wif.yaml"
IDENTITY = fakes.World().identity
ALL = ",".join(helm_values.COMPONENTS)


def values(accounts: str = "") -> dict[str, Any]:
    overrides = {"WIF_ARGOCD_SERVICE_ACCOUNTS": accounts} if accounts else {}
    return helm_values.values(fakes.settings(**overrides), IDENTITY)


def not_in_chart(doc: Any, chart: Any, path: str = "") -> list[str]:
    """The paths of ``doc`` the chart has no value for.

    An empty map in the chart (``annotations: {}``, ``podLabels: {}``) is free-form: any string
    key and value go in it. Elsewhere each key must be the chart's, and a scalar must replace a scalar.
    """
    if isinstance(chart, dict) and not chart:
        return [] if isinstance(doc, dict) and all(isinstance(v, str) for v in doc.values()) else [path]
    if isinstance(doc, dict):
        if not isinstance(chart, dict):
            return [path]
        return [bad for k, v in doc.items()
                for bad in (not_in_chart(v, chart[k], f"{path}.{k}".lstrip(".")) if k in chart
                            else [f"{path}.{k}".lstrip(".")])]
    return [] if not isinstance(chart, (dict, list)) else [path]


def leaves(doc: Any, path: str = "") -> set[str]:
    if not isinstance(doc, dict):
        return {path}
    return {leaf for k, v in doc.items() for leaf in leaves(v, f"{path}.{k}".lstrip("."))}


@pytest.mark.parametrize("accounts", ["", ALL, "argocd-repo-server", "argocd-server,argocd-applicationset-controller"])
def test_every_key_printed_is_a_key_of_the_chart(accounts: str) -> None:
    doc = values(accounts)
    assert doc and not_in_chart(doc, CHART) == []


@pytest.mark.parametrize("wrong", [
    {"controller": {"podLabel": {"a": "b"}}},  # a typo of podLabels
    {"controller": {"serviceAccounts": {"annotations": {"a": "b"}}}},
    {"repo-server": {"podLabels": {"a": "b"}}},  # the component's name, not its values key
    {"server": {"serviceAccount": {"annotations": "a=b"}}},  # a string where the chart has a map
    {"server": {"serviceAccount": {"name": {"a": "b"}}}},  # a map where the chart has a scalar
])
def test_the_chart_check_catches_a_wrong_key(wrong: dict[str, Any]) -> None:
    assert not_in_chart({**values(), **wrong}, CHART) != []


def test_the_components_are_the_charts_and_so_are_their_default_service_accounts() -> None:
    for sa, component in helm_values.COMPONENTS.items():
        assert CHART[component.key]["serviceAccount"]["name"] == component.chart_default, sa
    # An empty default is <fullname>-<name>; the chart's nameOverride makes <fullname> "argocd" for release argocd.
    assert CHART["nameOverride"] == "argocd" and CHART["repoServer"]["name"] == "repo-server"


def test_values_carry_the_identity_and_the_webhook_label_and_nothing_the_webhook_owns() -> None:
    doc = values(ALL)
    assert list(doc) == ["controller", "server", "repoServer", "applicationSet"]
    for block in doc.values():
        assert block["podLabels"] == {"azure.workload.identity/use": "true"}
        assert block["serviceAccount"]["annotations"] == {
            "azure.workload.identity/client-id": IDENTITY.client_id,
            "azure.workload.identity/tenant-id": IDENTITY.tenant_id}
    assert "TOKEN" not in yaml.safe_dump(doc).upper() and "AUTHORITY" not in yaml.safe_dump(doc).upper()


def test_only_a_name_the_chart_would_not_give_is_pinned() -> None:
    doc = values(ALL)
    assert doc["repoServer"]["serviceAccount"]["name"] == "argocd-repo-server"
    assert all("name" not in doc[k]["serviceAccount"] for k in ("controller", "server", "applicationSet"))


def test_an_unknown_service_account_names_the_setting() -> None:
    with pytest.raises(errors.ConfigError, match="WIF_ARGOCD_SERVICE_ACCOUNTS: argocd-dex-server is not"):
        values("argocd-server,argocd-dex-server")


def test_infra_template_has_the_same_keys_as_the_command_for_the_default_service_accounts() -> None:
    """infra/hooks/postdeploy renders the template; it must say what the command says."""
    template = yaml.safe_load(TEMPLATE.read_text())
    doc = values()
    assert leaves(template) == leaves(doc)
    for key in doc:
        assert template[key]["podLabels"] == doc[key]["podLabels"]


def test_the_template_check_catches_drift() -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    drifted = values("argocd-application-controller,argocd-server,argocd-repo-server")
    assert leaves(template) != leaves(drifted)
