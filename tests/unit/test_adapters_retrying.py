"""The one in-process retry layer: which errors, how often, how long, what it logs."""
from __future__ import annotations

import logging

import pytest

from wif_core import errors
from wif_core.adapters import retrying


class Flaky:
    def __init__(self, *failures: Exception) -> None:
        self.failures, self.calls = list(failures), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def policy(sleeps: list[float], **kw: object) -> retrying.Policy:
    return retrying.Policy(sleep=sleeps.append, **kw)  # type: ignore[arg-type]


def test_transient_errors_are_retried_with_backoff_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    sleeps: list[float] = []
    fn = Flaky(errors.TemporaryError("HTTP 503"), errors.Unreachable("reset"))
    with caplog.at_level(logging.WARNING, "wif_core.adapters"):
        assert retrying.call(policy(sleeps), "read cluster", fn) == "ok"
    assert fn.calls == 3 and sleeps == [0.5, 2.0]
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "Request attempt #1/3 failed", "Request attempt #2/3 failed"]
    assert "will retry in 2.0s: reset" in caplog.records[1].getMessage()


def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    sleeps: list[float] = []
    fn = Flaky(*[errors.TemporaryError(f"HTTP 500 #{i}") for i in range(5)])
    with pytest.raises(errors.TemporaryError, match="#2"):
        retrying.call(policy(sleeps), "read", fn)
    assert fn.calls == 3 and len(sleeps) == 2


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    sleeps: list[float] = []
    fn = Flaky(errors.Throttled("429", delay=4.0))
    retrying.call(policy(sleeps), "write", fn)
    assert sleeps == [4.0]


def test_a_long_retry_after_goes_to_the_runner_instead_of_blocking() -> None:
    sleeps: list[float] = []
    fn = Flaky(errors.Throttled("429", delay=60.0))
    with pytest.raises(errors.Throttled) as raised:
        retrying.call(policy(sleeps, max_delay_s=10.0), "write", fn)
    assert fn.calls == 1 and sleeps == [] and raised.value.delay == 60.0


@pytest.mark.parametrize("error", [errors.Conflict("409"), errors.NotReady("AADSTS70021"),
                                   errors.Forbidden("403"), errors.NotFound("404")])
def test_conflicts_waits_and_permanent_errors_are_not_retried_here(error: Exception) -> None:
    sleeps: list[float] = []
    fn = Flaky(error)
    with pytest.raises(type(error)):
        retrying.call(policy(sleeps), "x", fn)
    assert fn.calls == 1 and sleeps == []
