"""ARM's request throttling over HTTPS, seen by the unmodified Azure SDK and by the product's adapter.

The sandbox's buckets run on a virtual clock here (``arm.throttle`` is swapped for one on a clock
the test turns), so refills happen when the test says and no test sleeps. Scale 0.02 makes a
principal's read bucket 5 tokens refilling 0.5 a second: the sixth read waits 2 seconds.
"""
from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.msi.v2024_11_30.models import FederatedIdentityCredential

from tests import fakes
from tests.conftest import Azure
from tests.integration import wired
from wif_core import errors, model
from wif_sandbox.arm import throttle
from wif_sandbox.world import Sandbox

READS = "x-ms-ratelimit-remaining-subscription-reads"


@pytest.fixture
def clock(sandbox: Sandbox) -> fakes.Clock:
    virtual = fakes.Clock(0.0)
    sandbox.arm.throttle = throttle.Throttle(sandbox.faults, virtual)
    sandbox.faults.arm_throttle, sandbox.faults.arm_throttle_scale = True, 0.02
    sandbox.faults.msi_write_hold_s = 0.0
    return virtual


def _headers(pipeline_response: Any, deserialized: Any, headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in pipeline_response.http_response.headers.items()}


def _hub(sb: Sandbox) -> tuple[str, str]:
    ref = model.ClusterRef.parse(sb.hub_id)
    return ref.resource_group, ref.name


def test_the_sixth_read_is_refused_with_retry_after(sandbox: Sandbox, azure: Azure, clock: fakes.Clock) -> None:
    rg, name = _hub(sandbox)
    seen = [azure.aks.managed_clusters.get(rg, name, cls=_headers)[READS] for _ in range(5)]
    assert seen == ["4", "3", "2", "1", "0"]
    with pytest.raises(HttpResponseError) as refused:
        azure.aks.managed_clusters.get(rg, name)
    assert refused.value.status_code == 429 and refused.value.error is not None
    assert refused.value.error.code == "SubscriptionRequestsThrottled"
    assert refused.value.response.headers["Retry-After"] == "2"
    assert refused.value.response.headers[READS] == "0"
    clock.now += 2.0
    assert azure.aks.managed_clusters.get(rg, name).name == name
    wired.settle(sandbox)
    assert sandbox.log.status_counts()["arm managedClusters.get 429"] == 1


def test_every_answer_carries_the_remaining_counts(sandbox: Sandbox, azure: Azure, clock: fakes.Clock) -> None:
    rg, name = _hub(sandbox)
    fics = azure.msi.federated_identity_credentials
    made = fics.create_or_update("rg-argocd", "id-argocd", "c-1", FederatedIdentityCredential(
        issuer="https://i.example/", subject="s-1", audiences=["api://AzureADTokenExchange"]), cls=_headers)
    assert made["x-ms-ratelimit-remaining-subscription-writes"] == "3"
    assert made["x-ms-ratelimit-remaining-subscription-global-writes"] == "59"
    gone = fics.delete("rg-argocd", "id-argocd", "c-1", cls=_headers)
    assert gone["x-ms-ratelimit-remaining-subscription-deletes"] == "3"
    with pytest.raises(ResourceNotFoundError) as missing:  # an error answer spent a read and says so
        azure.aks.managed_clusters.get(rg, "aks-nowhere")
    assert missing.value.response.headers[READS] == "4"


def test_the_metadata_endpoint_is_not_throttled(sandbox: Sandbox, clock: fakes.Clock) -> None:
    url = f"{sandbox.arm.url}/metadata/endpoints?api-version=2022-09-01"
    answers = [requests.get(url, verify=sandbox.env["REQUESTS_CA_BUNDLE"], timeout=10) for _ in range(8)]
    assert {a.status_code for a in answers} == {200}
    assert all(READS not in a.headers for a in answers)


def test_off_by_default(sandbox: Sandbox, azure: Azure) -> None:
    rg, name = _hub(sandbox)
    assert not sandbox.faults.arm_throttle
    for _ in range(20):
        assert READS not in azure.aks.managed_clusters.get(rg, name, cls=_headers)


def test_the_adapter_maps_it_to_throttled_with_the_delay(sandbox: Sandbox, azure: Azure, clock: fakes.Clock,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    w = wired.wire(sandbox, monkeypatch, facts_ttl_s=0.0)  # every read goes to ARM
    ref = model.ClusterRef.parse(sandbox.hub_id)
    for _ in range(4):  # each: a cluster read and a listClusterUserCredential POST, which ARM counts as a write
        w.ports.clusters.get_cluster(ref)
    with pytest.raises(errors.Throttled) as throttled:  # the 4-token write bucket is empty, 0.2 a second
        w.ports.clusters.get_cluster(ref)
    assert throttled.value.delay == 5.0
    assert w.sleeps and set(w.sleeps) == {5.0}  # the in-process retries waited as told
    rg, name = _hub(sandbox)
    assert azure.aks.managed_clusters.get(rg, name).name == name  # the operator has buckets of its own
