"""Wiring without a network: the hub/identity cache, the default credential, one kube client per server."""
from __future__ import annotations

import os

import pytest

from tests import fakes
from wif_core import errors, model
from wif_core.adapters import bootstrap, caching, kube


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hub_facts_are_cached_for_the_ttl_and_targets_never(monkeypatch: pytest.MonkeyPatch) -> None:
    world, clock = fakes.World(), Clock()
    hub = model.ClusterRef.parse(fakes.HUB_ID)
    target = world.add_cluster(fakes.cluster_id("dev-1"))
    clusters = caching.CachedClusters(world.ports().clusters, frozenset({hub.key}), ttl_s=120, clock=clock)
    for _ in range(3):
        clusters.get_cluster(hub)
        clusters.get_cluster(target)
    assert world.calls["arm.cluster.get"] == 1 + 3
    clock.now = 121
    clusters.get_cluster(model.ClusterRef.parse(fakes.HUB_ID.upper().replace("SUBSCRIPTIONS", "subscriptions")))
    assert world.calls["arm.cluster.get"] == 5  # expired: read again (and the key ignores case)


def test_a_hub_that_is_not_succeeded_is_not_cached() -> None:
    world, clock = fakes.World(), Clock()
    hub = model.ClusterRef.parse(fakes.HUB_ID)
    world.set_state(hub, "Updating")
    clusters = caching.CachedClusters(world.ports().clusters, frozenset({hub.key}), ttl_s=120, clock=clock)
    clusters.get_cluster(hub)
    clusters.get_cluster(hub)
    assert world.calls["arm.cluster.get"] == 2


def test_identity_is_cached_but_credentials_are_always_listed() -> None:
    world, clock = fakes.World(), Clock()
    identities = caching.CachedIdentities(world.ports().identities, ttl_s=120, clock=clock)
    ref = model.IdentityRef.parse(fakes.IDENTITY_ID)
    for _ in range(3):
        identities.get_identity(ref)
        identities.list_credentials(ref)
    assert world.calls["arm.identity.get"] == 1 and world.calls["arm.credentials.list"] == 3


@pytest.mark.parametrize(("authority", "discovery"), [
    ("https://login.microsoftonline.com", True), ("https://login.microsoftonline.us", True),
    ("https://127.0.0.1:8443", False), ("https://login.sandbox.example", False),
])
def test_default_credential_skips_instance_discovery_only_off_microsoft_hosts(
        authority: str, discovery: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", fakes.TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", "app")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-real-secret")
    settings = fakes.settings(AZURE_AUTHORITY_HOST=authority)
    credential = bootstrap.default_credential(settings)
    environment = credential.credentials[0]._credential  # type: ignore[attr-defined]
    assert environment._authority == authority
    assert environment._instance_discovery is discovery


def test_build_wires_every_port_and_reuses_kube_clients() -> None:
    world = fakes.World()
    settings = fakes.settings()
    p = bootstrap.build(settings, credential=_NoCredential())
    hub = world.clusters[model.ClusterRef.parse(fakes.HUB_ID).key]
    first = p.kube(hub)
    assert p.kube(hub) is first and isinstance(first, kube.Kube)
    ca_file = first.api.configuration.ssl_ca_cert
    assert os.path.exists(ca_file)
    creating = model.ClusterFacts(**{**hub.__dict__, "server": "", "ca_data": "", "provisioning_state": "Creating"})
    with pytest.raises(errors.NotReady, match="no API server address"):
        p.kube(creating)


class _NoCredential:
    def get_token(self, *scopes: str, **kwargs: object) -> object:
        raise AssertionError("no call is made in this test")
