"""ARM's token buckets on a virtual clock: burst, refill, Retry-After, which bucket a request spends."""
from __future__ import annotations

import threading

import pytest

from wif_sandbox import faults
from wif_sandbox.arm import throttle
from wif_sandbox.arm.base import ArmError

SUB, TENANT, ALICE, BOB = "sub-1", "tenant-1", "alice", "bob"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def limiter(scale: float = 1.0) -> tuple[throttle.Throttle, Clock]:
    clock = Clock()
    return throttle.Throttle(faults.Faults(arm_throttle=True, arm_throttle_scale=scale), clock), clock


def spend(t: throttle.Throttle, n: int, method: str = "GET", who: str = ALICE, sub: str = SUB) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(n):
        headers = t.admit(sub, TENANT, who, method)
    return headers


def refusal(t: throttle.Throttle, method: str = "GET", who: str = ALICE, sub: str = SUB) -> ArmError:
    with pytest.raises(ArmError) as refused:
        t.admit(sub, TENANT, who, method)
    return refused.value


def test_the_documented_figures() -> None:
    assert throttle.PRINCIPAL_LIMITS == {"reads": (250, 25), "writes": (200, 10), "deletes": (200, 10)}
    assert throttle.TENANT_LIMITS == throttle.PRINCIPAL_LIMITS
    assert throttle.GLOBAL_FACTOR == 15
    assert [throttle.kind_of(m) for m in ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")] == [
        "reads", "reads", "writes", "writes", "writes", "deletes"]


def test_a_principal_bursts_250_reads_then_waits_for_the_refill() -> None:
    t, clock = limiter()
    headers = spend(t, 250)
    assert headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    assert headers["x-ms-ratelimit-remaining-subscription-global-reads"] == str(250 * 15 - 250)
    e = refusal(t)
    assert (e.status, e.code, e.headers["Retry-After"]) == (429, "SubscriptionRequestsThrottled", "1")
    assert f"'read' requests for subscription '{SUB}' actor '{ALICE}' exceeded" in e.message
    assert e.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    clock.now += 0.05  # 25 a second: one token takes 40 ms
    assert spend(t, 1)["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    clock.now += 10.0  # ten seconds fill the bucket again, and no further
    assert spend(t, 1)["x-ms-ratelimit-remaining-subscription-reads"] == "249"


def test_retry_after_is_the_time_one_token_takes_rounded_up() -> None:
    t, clock = limiter(scale=0.02)  # writes: a bucket of 4, 0.2 a second
    spend(t, 4, "PUT")
    assert refusal(t, "PUT").headers["Retry-After"] == "5"
    clock.now += 2.5
    assert refusal(t, "PUT").headers["Retry-After"] == "3"  # 2.5 s still missing
    clock.now += 2.5
    assert spend(t, 1, "PUT")["x-ms-ratelimit-remaining-subscription-writes"] == "0"


def test_a_refused_request_spends_nothing() -> None:
    t, clock = limiter(scale=0.02)
    spend(t, 4, "PUT")
    for _ in range(10):
        refusal(t, "PUT")
    clock.now += 5.0
    spend(t, 1, "PUT")


def test_reads_writes_and_deletes_have_their_own_buckets() -> None:
    t, _ = limiter(scale=0.02)
    spend(t, 4, "PUT")
    refusal(t, "POST")  # a POST action is a write too
    assert spend(t, 1, "GET")["x-ms-ratelimit-remaining-subscription-reads"] == "4"
    assert spend(t, 1, "DELETE")["x-ms-ratelimit-remaining-subscription-deletes"] == "3"


def test_each_principal_has_a_bucket_and_all_share_the_global_one() -> None:
    t, _ = limiter(scale=0.02)  # reads: 5 per principal, 75 for the subscription
    spend(t, 5)
    refusal(t)
    assert spend(t, 5, who=BOB)["x-ms-ratelimit-remaining-subscription-global-reads"] == "65"
    for i in range(13):  # 13 more principals drain the global bucket
        spend(t, 5, who=f"p-{i}")
    e = refusal(t, who="newcomer")
    assert e.code == "SubscriptionRequestsThrottled" and "actor" not in e.message
    assert e.headers["x-ms-ratelimit-remaining-subscription-global-reads"] == "0"
    assert e.headers["x-ms-ratelimit-remaining-subscription-reads"] == "5"


def test_subscriptions_and_the_tenant_are_counted_apart() -> None:
    t, _ = limiter(scale=0.02)
    spend(t, 5)
    spend(t, 5, sub="sub-2")
    tenant = spend(t, 5, sub="")
    assert tenant == {"x-ms-ratelimit-remaining-tenant-reads": "0"}
    assert refusal(t, sub="").code == "TenantRequestsThrottled"


def test_off_by_default_admits_everything_without_headers() -> None:
    t = throttle.Throttle(faults.Faults(), Clock())
    assert spend(t, 1000) == {}


def test_concurrent_requests_never_spend_more_than_the_bucket() -> None:
    t, _ = limiter(scale=0.2)  # reads: 50 per principal, and the clock stands still
    admitted: list[int] = []

    def hammer() -> None:
        for _ in range(20):
            try:
                t.admit(SUB, TENANT, ALICE, "GET")
                admitted.append(1)
            except ArmError:
                pass

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(admitted) == 50


def test_stamp_keeps_what_the_answer_set() -> None:
    headers = {"x-ms-ratelimit-remaining-subscription-writes": "7"}
    throttle.stamp(headers, {"x-ms-ratelimit-remaining-subscription-writes": "9",
                             "x-ms-ratelimit-remaining-subscription-global-writes": "99"})
    assert headers == {"x-ms-ratelimit-remaining-subscription-writes": "7",
                       "x-ms-ratelimit-remaining-subscription-global-writes": "99"}
