"""What the steps need from the outside world, as small protocols.

``wif_core.adapters`` implements them with the Azure SDKs and the
``kubernetes`` client; tests implement them with small stateful fakes.
Kubernetes objects cross this boundary as plain dicts (the API's JSON).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Protocol

from wif_core import model

KubeObject = dict[str, Any]


class Clusters(Protocol):
    def get_cluster(self, ref: model.ClusterRef) -> model.ClusterFacts:
        """ARM GET + listClusterUserCredential. Raises ``errors.NotFound``."""


class Identities(Protocol):
    def get_identity(self, ref: model.IdentityRef) -> model.IdentityFacts: ...

    def list_credentials(self, ref: model.IdentityRef) -> list[model.FederatedCredential]: ...

    def put_credential(self, ref: model.IdentityRef, credential: model.FederatedCredential) -> None:
        """Create or update. Entra's 409 (concurrent write) and 429 surface as TemporaryError."""

    def delete_credential(self, ref: model.IdentityRef, name: str) -> bool:
        """True if it existed; a missing credential is not an error."""


class TokenExchange(Protocol):
    def exchange(self, *, tenant_id: str, client_id: str, assertion: str, scope: str) -> None:
        """Exchange a Kubernetes SA token for an Entra token as Argo CD will.

        Returns nothing on success (the token is dropped, never logged or kept);
        raises ``errors.NotReady`` while Entra answers AADSTS70021.
        """


class Kube(Protocol):
    """One Kubernetes API server, reached as this app's own identity."""

    def get(self, api_version: str, kind: str, namespace: Optional[str], name: str) -> Optional[KubeObject]: ...

    def list(self, api_version: str, kind: str, namespace: Optional[str], label_selector: str = "") -> list[KubeObject]: ...

    def create(self, obj: KubeObject) -> KubeObject:
        """Raises ``errors.Conflict`` when it already exists."""

    def replace(self, obj: KubeObject) -> KubeObject:
        """PUT with ``metadata.resourceVersion``: a stale version raises ``errors.Conflict``."""

    def patch(self, api_version: str, kind: str, namespace: Optional[str], name: str, merge: KubeObject) -> KubeObject:
        """JSON merge patch (RFC 7386); a ``metadata.resourceVersion`` in it is a precondition
        (stale: ``errors.Conflict``), a vanished object is ``errors.Conflict`` too (decide again)."""

    def delete(self, api_version: str, kind: str, namespace: Optional[str], name: str,
               resource_version: Optional[str] = None) -> bool:
        """True if it existed. With ``resource_version`` only that version is deleted (else ``errors.Conflict``)."""

    def create_token(self, namespace: str, service_account: str, audience: str, seconds: int = 600) -> str:
        """TokenRequest; the caller must not log or store the result."""

    def can_i(self, user: str, groups: tuple[str, ...], verb: str, resource: str,
              group: str = "", namespace: Optional[str] = None) -> tuple[bool, str]:
        """SubjectAccessReview for someone else: (allowed, reason)."""


class RoleAssignments(Protocol):
    def get(self, scope: str, name: str) -> Optional[model.RoleAssignment]: ...

    def create(self, assignment: model.RoleAssignment) -> None:
        """Create with a deterministic name. Raises ``errors.Conflict`` if taken."""

    def delete(self, scope: str, name: str) -> bool: ...


class RunCommand(Protocol):
    def run(self, ref: model.ClusterRef, command: str, files: dict[str, str]) -> model.RunResult:
        """AKS run command: ``kubectl`` inside the cluster's network, files attached."""


class Writers:
    """Who in this process is writing what: at most one writer per key.

    Others ``wait`` for the writer, up to a bound (a step that finds a write still under way
    after that raises ``errors.NotReady`` and is polled on a timer). ``generation`` counts
    finished writes per key, so a writer knows whether what it read before taking the key
    can still be trusted.
    """

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._done: dict[str, int] = {}
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)

    def wait(self, key: str, timeout_s: float) -> bool:
        """Until nobody writes ``key`` (True) or ``timeout_s`` has passed with a writer still at it (False)."""
        end = time.monotonic() + timeout_s
        with self._released:
            while key in self._held:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._released.wait(left)
        return True

    def generation(self, key: str) -> int:
        with self._lock:
            return self._done.get(key, 0)

    @contextmanager
    def hold(self, key: str) -> Iterator[bool]:
        """Yields True if this caller is now the writer for ``key``, False if someone else is."""
        with self._lock:
            mine = key not in self._held
            if mine:
                self._held.add(key)
        try:
            yield mine
        finally:
            if mine:
                with self._lock:
                    self._held.discard(key)
                    self._done[key] = self._done.get(key, 0) + 1
                    self._released.notify_all()


@dataclass
class Ports:
    clusters: Clusters
    identities: Identities
    tokens: TokenExchange
    kube: Callable[[model.ClusterFacts], Kube]  # one client per API server
    roles: RoleAssignments
    run_command: RunCommand
    # Token exchanges proven in this process ("client|issuer|subject"): a proven,
    # unchanged credential needs no second proof. federate forgets what it re-creates.
    proven: set[str] = field(default_factory=set)
    # Federated credential writes under way in this process, per identity (one writer at a time:
    # Entra throttles writes per identity, and concurrent writers only turn 2 writes into a storm).
    writers: Writers = field(default_factory=Writers)
