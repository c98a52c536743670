"""The project's few error types; the type says whether a retry can help.

Adapters translate SDK errors (``HttpResponseError``, ``ApiException``,
``ClientAuthenticationError``) into these with ``raise ... from e``; messages
name the resource and what to do about it, and never carry a token.
"""
from __future__ import annotations

from typing import Optional


def short(text: object, limit: int = 300) -> str:
    """One line, cut to ``limit`` characters."""
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


class WifError(Exception):
    """Base of every error this project raises on purpose."""

    retryable = False

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class PermanentError(WifError):
    """Retries are useless: the input, the configuration or a permission is wrong."""


class BadInput(PermanentError):
    """The caller sent something unusable (event, resource id, HTTP body). Exit code 2."""


class ConfigError(BadInput):
    """An app setting is missing or invalid; the message names the variable."""


class NotFound(PermanentError):
    """The named resource does not exist."""


class Forbidden(PermanentError):
    """The caller lacks a permission; the message names the role or binding to grant."""


class Refused(PermanentError):
    """We will not do it: e.g. overwrite an Argo CD Secret this project did not create."""


class LimitExceeded(PermanentError):
    """A platform limit is reached (20 federated credentials per identity)."""


class TemporaryError(WifError):
    """Retrying later may succeed; ``delay`` is the server's hint in seconds."""

    retryable = True

    def __init__(self, message: str, delay: Optional[float] = None) -> None:
        super().__init__(message)
        self.delay = delay


class Throttled(TemporaryError):
    """HTTP 429 (or Entra/ARM throttling); ``delay`` comes from ``Retry-After``."""


class Unreachable(TemporaryError):
    """Connection refused, reset or timed out."""


class NotReady(TemporaryError):
    """A condition we wait for is not met yet (cluster provisioning, propagation).

    Runners wait for these with timers up to a deadline instead of counting
    them as failures.
    """


class NotFederated(NotReady):
    """Entra found no federated credential for the assertion yet: AADSTS70021 (none for its issuer
    and subject), 700211 (none for its issuer), 700213 (none for its subject). While a credential
    propagates Entra answers these too, so it is waited for; ``code`` names which one."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Conflict(TemporaryError):
    """HTTP 409: AlreadyExists, a stale resourceVersion, or a concurrent write.

    Retryable: re-reading and re-deciding usually resolves it.
    """


class TimedOut(PermanentError):
    """A wait reached its deadline; the message carries the last observed error."""
