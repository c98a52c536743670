"""Fault knobs and the request log every emulated service shares.

``Faults`` holds mutable knobs read on every request, so a test or benchmark can
turn them while the sandbox runs. Transport faults (latency, random 5xx, random
timeouts) are applied by ``httpd`` in front of every service; behaviour knobs
(propagation, provisioning, throttling of ARM and of credential writes, run-command duration, the webhook's
token path) are read by the services that emulate those Azure behaviours.

``RequestLog`` records one entry per HTTP call as (service, operation, status).

Operation naming convention (benchmarks count on it): ``<resource>.<verb>``,
where the last dot-separated part says what the call did. A call is a *write*
when that suffix is one of :data:`WRITE_VERBS` (``put``, ``create``, ``delete``,
``patch``, ``update``, ``post`` ...); everything else (``get``, ``list``,
``watch``, ``token`` reads, ``discovery``) is a read. Examples:
``managedClusters.get``, ``federatedIdentityCredentials.put``,
``roleAssignments.delete``, ``managedClusters.runCommand.post``,
``secrets.create``, ``token.client_assertion``. A call answered by an injected
fault is logged under the operation the service would have logged (when the
service can name it up front) and the fault's status; a dropped connection is
logged with status 0.
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from wif_sandbox import webhook

WRITE_VERBS = frozenset(
    {"put", "create", "delete", "patch", "update", "post", "apply", "replace", "write", "deletecollection"}
)

TIMEOUT_STATUS = 0  # logged for a connection the sandbox dropped without answering


def is_write(operation: str) -> bool:
    """Whether an operation name denotes a write, by its last ``.`` suffix."""
    return operation.rsplit(".", 1)[-1].lower() in WRITE_VERBS


@dataclass
class Faults:
    """Mutable knobs; all default to a well-behaved, instant cloud."""

    latency_s: float = 0.0  # added to every call
    error_rate: float = 0.0  # share of calls answered with a 5xx
    timeout_rate: float = 0.0  # share of calls held for timeout_s then dropped
    timeout_s: float = 0.5
    seed: int | None = None
    # Entra: a new federated credential is not usable for this long.
    propagation_delay_s: float = 0.0
    # ARM: managedClusters stay "Creating" for this long after a PUT.
    provisioning_delay_s: float = 0.0
    # ARM: federated credential writes per second per identity (0 = unthrottled).
    # Azure documents roughly 0.25/s per identity when this is on.
    msi_write_rate_per_s: float = 0.0
    msi_write_burst: float = 1.0  # writes the bucket holds when full
    # ARM: a run command result stays "Running" for this long.
    run_command_delay_s: float = 0.0
    # ARM: how long an in-flight federated credential write holds its identity,
    # so that concurrent writes can collide (409) as they do in Entra.
    msi_write_hold_s: float = 0.05
    # Argo CD pods: where the workload identity webhook mounts the projected token
    # (``webhook.NEW_TOKEN_FILE`` from v1.6.0, ``webhook.OLD_TOKEN_FILE`` before).
    webhook_token_file: str = webhook.NEW_TOKEN_FILE
    # Event Grid: how the system topic spells cluster ids (``events.recase``: canonical | lower | mixed).
    event_casing: str = "canonical"
    # ARM: authorize every request against the caller's role assignments (wif_sandbox.arm.authz), as
    # Azure does: the function app has exactly infra's rights, the operator is Owner (wif_sandbox.infra_grants).
    arm_rbac: bool = True
    # ARM: its documented request throttling (wif_sandbox.arm.throttle): token buckets per subscription and
    # principal, per subscription (global) and per tenant, for reads, writes and deletes; 429 with Retry-After.
    # Off by default so tests and benchmarks that do not ask for it keep an unthrottled ARM.
    arm_throttle: bool = False
    arm_throttle_scale: float = 1.0  # multiplies every bucket size and refill rate (Azure's figures at 1.0)
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._rng.seed(self.seed)

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        if name == "seed" and "_rng" in self.__dict__:  # ``faults.seed = 7`` replays the same fates
            with self._lock:
                self._rng.seed(value)  # type: ignore[arg-type]

    def reseed(self, seed: int | None) -> None:
        self.seed = seed

    def draw(self) -> str:
        """Fate of one call: ``"ok"``, ``"error"`` or ``"timeout"``."""
        with self._lock:
            roll = self._rng.random()
        if roll < self.timeout_rate:
            return "timeout"
        if roll < self.timeout_rate + self.error_rate:
            return "error"
        return "ok"

    def error_status(self) -> int:
        """Which 5xx an injected error uses; varied because clients treat them alike."""
        with self._lock:
            return self._rng.choice((500, 502, 503))


@dataclass(frozen=True)
class LogEntry:
    at: float  # time.time() when the response was sent
    service: str
    operation: str
    status: int
    duration_ms: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.service} {self.operation}"

    @property
    def write(self) -> bool:
        return is_write(self.operation)


class RequestLog:
    """Thread-safe record of every call the sandbox answered (or dropped)."""

    def __init__(self, sink: Callable[[LogEntry], None] | None = None) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()
        self.sink = sink  # e.g. ``serve`` prints one line per call to stderr

    def record(self, service: str, operation: str, status: int, duration_ms: float = 0.0) -> LogEntry:
        entry = LogEntry(time.time(), service, operation, status, duration_ms)
        with self._lock:
            self._entries.append(entry)
        if self.sink is not None:
            self.sink(entry)
        return entry

    def entries(self, service: str | None = None) -> list[LogEntry]:
        with self._lock:
            items = list(self._entries)
        return [e for e in items if service is None or e.service == service]

    def counts(self) -> dict[str, int]:
        """Calls per ``"service operation"`` key."""
        return dict(Counter(e.key for e in self.entries()))

    def status_counts(self) -> dict[str, int]:
        """Calls per ``"service operation status"`` key."""
        return dict(Counter(f"{e.key} {e.status}" for e in self.entries()))

    def total(
        self, service: str | None = None, writes: bool | None = None, operation: str | None = None
    ) -> int:
        """Number of calls, optionally only one service, only writes/reads, one operation."""
        return sum(
            1
            for e in self.entries(service)
            if (writes is None or e.write == writes) and (operation is None or e.operation == operation)
        )

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
