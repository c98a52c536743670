"""ARM's own request throttling: token buckets per subscription, per principal, per operation type.

Figures from Microsoft Learn, "Understand how Azure Resource Manager throttles requests"
(https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling,
section "Regional throttling and token bucket algorithm", the architecture every subscription runs on
since 2024): limits apply per region, with a token bucket per subscription *and* per service
principal *and* per operation type:

    Scope         Operations  Bucket size  Refill rate per second
    Subscription  reads       250          25
    Subscription  deletes     200          10
    Subscription  writes      200          10
    Tenant        reads       250          25
    Tenant        deletes     200          10
    Tenant        writes      200          10

plus a *global* subscription limit per operation type, 15 times the per-principal one, shared by
all principals; a request is throttled when the global, the principal's or the tenant's bucket is
empty. The sandbox is one region. Reads are GET (and HEAD); every other method but DELETE is a
write (the page: "...-writes response headers for non-GET requests"), so POST actions such as
listClusterUserCredential spend write tokens.

The answer is 429 with ``Retry-After`` (whole seconds) and the remaining counts in
``x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`` (the principal's bucket),
``x-ms-ratelimit-remaining-subscription-global-{reads,writes,deletes}`` (the shared one) and
``x-ms-ratelimit-remaining-tenant-{...}`` for tenant-level requests, as on every ARM answer. The
error code (``SubscriptionRequestsThrottled`` / ``TenantRequestsThrottled``) and the message are
the ones ARM sends; the page documents the status and headers, not the body.

``Faults.arm_throttle`` turns it on; ``Faults.arm_throttle_scale`` multiplies every bucket size and
refill rate (0.02 makes a principal's read bucket 5 tokens refilling 0.5 a second, for tests and for
benchmarks that want the throttle to dominate sooner). Time is the sandbox clock.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from wif_sandbox import faults
from wif_sandbox.arm.base import ArmError

# (bucket size, refill per second) per operation type, for one principal; Microsoft Learn, above.
PRINCIPAL_LIMITS: dict[str, tuple[float, float]] = {"reads": (250, 25), "writes": (200, 10), "deletes": (200, 10)}
TENANT_LIMITS: dict[str, tuple[float, float]] = {"reads": (250, 25), "writes": (200, 10), "deletes": (200, 10)}
GLOBAL_FACTOR = 15  # the subscription's global limit is 15 times one principal's
_SINGULAR = {"reads": "read", "writes": "write", "deletes": "delete"}


def kind_of(method: str) -> str:
    """Which bucket a request spends: reads, writes or deletes."""
    method = method.upper()
    if method in ("GET", "HEAD", "OPTIONS"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


@dataclass
class Bucket:
    """A token bucket: ``size`` tokens when full, ``rate`` tokens back per second."""

    size: float
    rate: float
    tokens: float
    at: float  # clock reading of the last refill

    def refill(self, now: float) -> None:
        self.tokens = min(self.size, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now

    def wait(self) -> float:
        """Seconds until one token is there (0 when one is)."""
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def remaining(self) -> int:
        return int(self.tokens)


@dataclass(frozen=True)
class _Scope:
    """One bucket's key and how ARM names it in headers and refusals."""

    key: tuple[str, ...]
    header: str  # e.g. x-ms-ratelimit-remaining-subscription-global-reads
    limits: tuple[float, float]
    code: str
    subject: str  # "subscription 'S' actor 'P'"


class Throttle:
    """All of ARM's request buckets; ``admit`` spends a token or refuses with 429. Thread-safe."""

    def __init__(self, knobs: faults.Faults, clock: Callable[[], float]) -> None:
        self._knobs, self._clock = knobs, clock
        self._buckets: dict[tuple[str, ...], Bucket] = {}
        self._lock = threading.Lock()

    def admit(self, subscription: str, tenant: str, principal: str, method: str) -> dict[str, str]:
        """The remaining-count headers after spending one token in every bucket the request touches.

        Raises the 429 ARM answers (with ``Retry-After`` and the headers) when any of them is empty;
        a refused request spends nothing, as the bucket only pays for requests it lets through.
        """
        if not self._knobs.arm_throttle:
            return {}
        kind = kind_of(method)
        scopes = _scopes(subscription.lower(), tenant.lower(), principal.lower(), kind)
        with self._lock:
            now = self._clock()
            buckets = [self._bucket(s, now) for s in scopes]
            waits = [b.wait() for b in buckets]
            if max(waits) == 0.0:
                for b in buckets:
                    b.tokens -= 1.0
            headers = {s.header: str(b.remaining()) for s, b in zip(scopes, buckets)}
        if max(waits) == 0.0:
            return headers
        refusing = scopes[waits.index(max(waits))]
        seconds = max(1, math.ceil(max(waits)))
        raise ArmError(429, refusing.code,
                       f"Number of '{_SINGULAR[kind]}' requests for {refusing.subject} exceeded. Please try again "
                       f"after '{seconds}' seconds after additional tokens are available. "
                       "Refer to https://aka.ms/arm-throttling",
                       {**headers, "Retry-After": str(seconds)})

    def _bucket(self, scope: _Scope, now: float) -> Bucket:
        bucket = self._buckets.get(scope.key)
        if bucket is None:
            scale = max(self._knobs.arm_throttle_scale, 1e-6)  # a zero rate would never refill
            size, rate = scope.limits
            # At least one token, or a tiny scale would refuse everything for ever.
            bucket = Bucket(max(1.0, size * scale), rate * scale, max(1.0, size * scale), now)
            self._buckets[scope.key] = bucket
        bucket.refill(now)
        return bucket


def _scopes(subscription: str, tenant: str, principal: str, kind: str) -> list[_Scope]:
    """The buckets one request spends from: the principal's and the global one, or the tenant's."""
    if not subscription:
        return [_Scope(("tenant", tenant, principal, kind), f"x-ms-ratelimit-remaining-tenant-{kind}",
                       TENANT_LIMITS[kind], "TenantRequestsThrottled", f"tenant '{tenant}' actor '{principal}'")]
    size, rate = PRINCIPAL_LIMITS[kind]
    return [
        _Scope(("principal", subscription, principal, kind), f"x-ms-ratelimit-remaining-subscription-{kind}",
               (size, rate), "SubscriptionRequestsThrottled", f"subscription '{subscription}' actor '{principal}'"),
        _Scope(("global", subscription, kind), f"x-ms-ratelimit-remaining-subscription-global-{kind}",
               (size * GLOBAL_FACTOR, rate * GLOBAL_FACTOR), "SubscriptionRequestsThrottled",
               f"subscription '{subscription}'"),
    ]


def stamp(response_headers: dict[str, str], limits: Optional[dict[str, str]]) -> None:
    """Put the remaining counts on an answer without overriding what the answer set itself."""
    for name, value in (limits or {}).items():
        response_headers.setdefault(name, value)
