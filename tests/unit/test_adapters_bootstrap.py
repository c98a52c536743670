"""Wiring without a network: the hub/identity cache, the default credential, one kube client per server."""
from __future__ import annotations

import os
import threading
import time

import pytest
from azure.core.credentials import AccessToken

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


class CountingCredential:
    def __init__(self, clock: Clock, lifetime_s: float = 3600) -> None:
        self.clock, self.lifetime_s, self.calls = clock, lifetime_s, 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.calls += 1
        return AccessToken(f"token-{self.calls}", int(self.clock() + self.lifetime_s))


def test_the_aks_token_is_asked_for_again_only_near_its_expiry() -> None:
    clock = Clock()
    credential = CountingCredential(clock)
    token = bootstrap.TokenCache(credential, "6dae42f8-4368-4678-94ff-3960e28e3630/.default",  # type: ignore[arg-type]
                                 margin_s=300, clock=clock)
    assert [token() for _ in range(5)] == ["token-1"] * 5 and credential.calls == 1
    clock.now = 3600 - 301
    assert token() == "token-1"
    clock.now = 3600 - 299  # within the margin: a fresh one before any request could carry an expired one
    assert token() == "token-2" and credential.calls == 2


def test_concurrent_misses_of_one_key_load_it_once() -> None:
    cache: caching.TTLCache[str, int] = caching.TTLCache(ttl_s=60)
    loads, start = [], threading.Barrier(6)

    def load() -> int:
        loads.append(1)
        time.sleep(0.05)  # a slow ARM read: the others arrive while it is under way
        return 7

    def reader(out: list[int]) -> None:
        start.wait()
        out.append(cache.get_or_load("hub", load))

    got: list[int] = []
    threads = [threading.Thread(target=reader, args=(got,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [7] * 6 and len(loads) == 1
