"""Bounded in-process retries of the errors a second try within seconds usually fixes.

Only ``Throttled``, ``Unreachable`` and plain ``TemporaryError`` (5xx) are retried
here, ``attempts`` times in all. ``Conflict`` and ``NotReady`` are not: they need a
fresh read or a longer wait, which the runner (or a durable timer) provides. A
``Retry-After`` longer than ``max_delay_s`` is not slept here either: the error goes
up with its delay, so a throttled call never blocks a worker for minutes.

The SDK clients' own retry policies are switched off (``retry_total=0``,
``retries=False``) so that this is the only retry layer below the runner, and
the one place that logs ``Request attempt #1/3 failed; will retry``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

import tenacity

from wif_core import errors

log = logging.getLogger("wif_core.adapters")
T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    attempts: int = 3
    backoffs: tuple[float, ...] = (0.5, 2.0)  # delay before the 2nd, 3rd... attempt; the last one repeats
    max_delay_s: float = 10.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, failed_attempt: int, hint: Optional[float]) -> float:
        base = self.backoffs[min(failed_attempt, len(self.backoffs)) - 1] if self.backoffs else 0.0
        return max(base, hint or 0.0)


DEFAULT = Policy()
NO_RETRY = Policy(attempts=1)


def retryable(e: BaseException) -> bool:
    """Whether a quick second try can help: the error type says so."""
    return isinstance(e, errors.TemporaryError) and not isinstance(e, (errors.Conflict, errors.NotReady))


def _error(state: tenacity.RetryCallState) -> Optional[BaseException]:
    return state.outcome.exception() if state.outcome is not None else None


def call(policy: Policy, what: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` (which raises only project errors) with the policy's retries."""

    def hint(state: tenacity.RetryCallState) -> Optional[float]:
        e = _error(state)
        return e.delay if isinstance(e, errors.TemporaryError) else None

    def stop(state: tenacity.RetryCallState) -> bool:
        return state.attempt_number >= policy.attempts or (hint(state) or 0.0) > policy.max_delay_s

    def wait(state: tenacity.RetryCallState) -> float:
        return policy.delay(state.attempt_number, hint(state))

    def before_sleep(state: tenacity.RetryCallState) -> None:
        e = _error(state)
        message = e.message if isinstance(e, errors.WifError) else f"{what}: {e!r}"
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning("Request attempt #%d/%d failed; will retry in %.1fs: %s",
                    state.attempt_number, policy.attempts, delay, message)

    retrying = tenacity.Retrying(
        sleep=policy.sleep, stop=stop, wait=wait, retry=tenacity.retry_if_exception(retryable),
        before_sleep=before_sleep, reraise=True)
    return retrying(fn)
