"""Resource ids in other casings: Event Grid spells them freely, ARM answers with its canonical id.

``Sandbox.event(..., casing="lower"|"mixed")`` spells the cluster id as real
deliveries do (``resourcegroups``, ``microsoft.containerservice/managedclusters``, a
resource group name in another casing); ARM finds the cluster under any casing and
its body carries the ``id``, ``name`` and group casing of the creation.
"""
from __future__ import annotations

from typing import Iterator

import pytest
import requests

from tests.conftest import Azure
from wif_sandbox import events
from wif_sandbox.world import Sandbox

NAME, GROUP = "Aks-Casing", "RG-Apps"


@pytest.fixture(scope="module")
def cased(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, str]]:
    with Sandbox.start(tmp_path_factory.mktemp("sb"), targets=0) as sb:
        yield sb, sb.create_cluster(NAME, GROUP)


@pytest.mark.parametrize("casing", ["lower", "mixed"])
def test_event_spells_the_id_in_another_casing(cased: tuple[Sandbox, str], casing: str) -> None:
    sb, cluster_id = cased
    for schema in ("eventgrid", "cloudevents"):
        evt = sb.event(cluster_id, "write", schema, casing=casing)
        data = evt["data"]
        assert evt["subject"] != cluster_id and evt["subject"].lower() == cluster_id.lower()
        assert data["resourceUri"] == data["authorization"]["scope"] == evt["subject"]
        assert "/resourcegroups/" in evt["subject"] and "/microsoft.containerservice/managedclusters/" in evt["subject"]
        assert data["subscriptionId"] == sb.subscription_id
    mixed = sb.event(cluster_id, casing="mixed")["subject"]
    assert mixed.endswith(f"/resourcegroups/{GROUP.upper()}/providers/microsoft.containerservice/managedclusters/{NAME}")
    assert sb.event(cluster_id)["subject"] == cluster_id  # canonical by default


def test_unknown_casing_is_refused(cased: tuple[Sandbox, str]) -> None:
    sb, cluster_id = cased
    with pytest.raises(ValueError, match="casing is one of"):
        sb.event(cluster_id, casing="upper")


@pytest.mark.parametrize("casing", ["lower", "mixed"])
def test_arm_reads_any_casing_and_answers_canonically(cased: tuple[Sandbox, str], casing: str) -> None:
    sb, cluster_id = cased
    azure = Azure(sb)
    spelled = events.recase(cluster_id, casing)
    parts = spelled.split("/")
    got = azure.aks.managed_clusters.get(parts[4], parts[8])
    assert (got.id, got.name) == (cluster_id, NAME)
    raw = requests.get(f"{sb.arm_url}{spelled}", params={"api-version": "2025-01-01"}, timeout=5,
                       headers={"Authorization": "Bearer " + azure.token()}, verify=str(sb.ca_bundle))
    assert raw.status_code == 200 and (raw.json()["id"], raw.json()["name"]) == (cluster_id, NAME)
    assert raw.json()["properties"]["nodeResourceGroup"] == f"MC_{GROUP}_{NAME}_westeurope"
    listed = [c.id for c in azure.aks.managed_clusters.list_by_resource_group(parts[4])]
    assert listed == [cluster_id]


def test_a_new_cluster_in_a_known_group_takes_the_groups_casing(cased: tuple[Sandbox, str]) -> None:
    sb, cluster_id = cased
    other = sb.create_cluster("aks-second", GROUP.lower())
    assert f"/resourceGroups/{GROUP}/" in other
    assert sb.cluster(other).resource_group == GROUP
    again = sb.create_cluster(NAME.upper(), GROUP.upper())  # the same cluster, spelled otherwise: an update
    assert again == cluster_id
    sb.delete_cluster(other)


def test_published_events_follow_the_casing_knob(tmp_path_factory: pytest.TempPathFactory) -> None:
    with Sandbox.start(tmp_path_factory.mktemp("sb"), targets=0) as sb:
        sb.faults.event_casing = "mixed"
        cluster_id = sb.create_cluster(NAME, GROUP)
        sb.drain_events()
        subjects = [e["subject"] for e in sb.published if e["subject"].lower() == cluster_id.lower()]
        assert subjects == [events.recase(cluster_id, "mixed")]
