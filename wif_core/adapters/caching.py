"""Short-lived memory of facts that every onboarding re-reads: the hub cluster and the identity.

In steady state each onboarding would otherwise read the hub (ARM GET plus
listClusterUserCredential) and the identity again. They change rarely, and a
stale copy fails loudly (TLS or token errors), so ``ttl_s`` of a couple of
minutes is safe. Target clusters are never cached: their provisioning state
must be fresh. Thread-safe: Functions may run activities concurrently.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Generic, Hashable, Optional, TypeVar

from wif_core import model, ports

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.clock = ttl_s, clock
        self._items: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._loading: dict[K, threading.Lock] = {}

    def get_or_load(self, key: K, load: Callable[[], V], keep: Callable[[V], bool] = lambda v: True) -> V:
        with self._lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit[1]
            gate = self._loading.setdefault(key, threading.Lock())
        # One load per key at a time (the first activities of a fleet all miss together);
        # other keys load in parallel: a slow read must not serialise unrelated ones.
        with gate:
            with self._lock:
                hit = self._fresh(key)
            if hit is not None:
                return hit[1]
            value = load()
            if keep(value):
                with self._lock:
                    self._items[key] = (self.clock(), value)
        return value

    def _fresh(self, key: K) -> Optional[tuple[float, V]]:
        hit = self._items.get(key)
        return hit if hit is not None and self.clock() - hit[0] < self.ttl_s else None

    def forget(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)


class CachedClusters:
    """Caches only the named clusters (the hub), and only once they are Succeeded."""

    def __init__(self, inner: ports.Clusters, keys: frozenset[str], ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.inner, self.keys = inner, keys
        self.cache: TTLCache[str, model.ClusterFacts] = TTLCache(ttl_s, clock)

    def get_cluster(self, ref: model.ClusterRef) -> model.ClusterFacts:
        if ref.key not in self.keys:
            return self.inner.get_cluster(ref)
        return self.cache.get_or_load(ref.key, lambda: self.inner.get_cluster(ref),
                                      keep=lambda facts: facts.provisioning_state == "Succeeded")


class CachedIdentities:
    """Caches ``get_identity``; credentials are always listed afresh (other writers exist)."""

    def __init__(self, inner: ports.Identities, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.cache: TTLCache[str, model.IdentityFacts] = TTLCache(ttl_s, clock)

    def get_identity(self, ref: model.IdentityRef) -> model.IdentityFacts:
        return self.cache.get_or_load(ref.id.lower(), lambda: self.inner.get_identity(ref))

    def list_credentials(self, ref: model.IdentityRef) -> list[model.FederatedCredential]:
        return self.inner.list_credentials(ref)

    def put_credential(self, ref: model.IdentityRef, credential: model.FederatedCredential) -> None:
        self.inner.put_credential(ref, credential)

    def delete_credential(self, ref: model.IdentityRef, name: str) -> bool:
        return self.inner.delete_credential(ref, name)
