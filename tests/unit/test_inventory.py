"""The registered clusters, from our Secrets on the hub: pure reading, then through the ports."""
from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from tests import fakes
from wif_core import config, errors, inventory, manifests, model, runner

REF = model.ClusterRef.parse(fakes.cluster_id("aks-inv"))


def secret() -> dict[str, Any]:
    """The Secret register writes, as the API server returns it (data base64)."""
    world = fakes.World()
    facts = world.clusters[world.add_cluster(REF.id).key]
    obj = manifests.cluster_secret(fakes.settings(), facts, world.identity)
    obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in obj.pop("stringData").items()}
    return obj


def test_entry_reads_what_argo_cd_shows() -> None:
    e = inventory.entry(secret())
    assert e is not None and e.cluster == REF.id and e.server == "https://aks-inv.hcp.example:443"
    assert e.name.startswith("aks-inv-") and e.secret == f"argocd/{manifests.secret_name(REF)}"
    assert (e.rbac, e.location) == ("kubernetes", "westeurope")
    assert set(e.to_json()) == {"cluster", "name", "server", "secret", "rbac", "location"}


@pytest.mark.parametrize("spoil", ["managed-by", "cluster-id", "secret-type"])
def test_a_secret_without_our_provenance_is_not_listed(spoil: str) -> None:
    obj = secret()
    meta = obj["metadata"]
    if spoil == "managed-by":
        meta["labels"][manifests.LABEL_MANAGED_BY] = "someone-else"
    elif spoil == "cluster-id":
        del meta["annotations"][manifests.ANNOTATION_CLUSTER_ID]
    else:
        meta["labels"][manifests.LABEL_SECRET_TYPE] = "repository"
    assert inventory.entry(obj) is None and inventory.entries([obj, secret()]) != []


def test_hand_edited_data_lists_the_cluster_without_the_field() -> None:
    obj = secret()
    obj["data"]["server"] = "not base64!"
    del obj["data"]["name"]
    e = inventory.entry(obj)
    assert e is not None and e.server == "" and e.name == obj["metadata"]["annotations"][manifests.ANNOTATION_ARGOCD_NAME]


def test_entries_are_sorted_by_cluster_id_whatever_the_case() -> None:
    later = copy.deepcopy(secret())
    later["metadata"]["annotations"][manifests.ANNOTATION_CLUSTER_ID] = fakes.cluster_id("AKS-Z")
    assert [e.cluster for e in inventory.entries([later, secret()])] == [REF.id, fakes.cluster_id("AKS-Z")]


def test_registered_reads_the_hub_once_and_lists_what_onboarding_wrote() -> None:
    world = fakes.World()
    world.add_cluster(REF.id)
    assert runner.Runner(world.ports(), fakes.settings()).run("register", REF).ok
    world.calls.clear()
    found = inventory.registered(world.ports(), fakes.settings())
    assert [e.cluster for e in found] == [REF.id]
    assert dict(world.calls) == {"arm.cluster.get": 1, "kube.Secret.list": 1} and world.writes() == 0


def test_registered_needs_the_hub_topology() -> None:
    env = {"WIF_ARGOCD_IDENTITY_ID": fakes.IDENTITY_ID, "WIF_ALLOWED_SCOPES": f"/subscriptions/{fakes.SUB}",
           "WIF_TOPOLOGY": "in-cluster"}
    with pytest.raises(errors.BadInput, match="in-cluster"):
        inventory.registered(fakes.World().ports(), config.Settings.from_env(env))
