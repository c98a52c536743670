"""The real adapters pointed at a running sandbox exactly as a deployment would be: by environment.

``monkeypatch`` puts ``sb.env`` into ``os.environ`` (azure-identity reads
``AZURE_*`` there, ``requests`` reads ``REQUESTS_CA_BUNDLE``), then
``bootstrap.build(Settings.from_env())`` wires everything with its defaults,
except that retries sleep into a list (no real sleeps in tests).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from wif_core import config, ports
from wif_core.adapters import bootstrap, retrying
from wif_sandbox.faults import LogEntry
from wif_sandbox.world import Sandbox

# Calls named "create" that store nothing: a TokenRequest mints a token, a
# SubjectAccessReview answers a question (kube-apiserver audits both as "create").
NOT_STORED = ("serviceaccounts/token.create", "subjectaccessreviews.create")


@dataclass
class Wired:
    sb: Sandbox
    settings: config.Settings
    ports: ports.Ports
    sleeps: list[float] = field(default_factory=list)

    def writes(self) -> list[str]:
        """Calls that changed state in Azure, Entra or a cluster (see NOT_STORED)."""
        settle(self.sb)
        return [e.key for e in self.sb.log.entries() if stored(e)]

    def counts(self) -> dict[str, int]:
        settle(self.sb)
        return self.sb.log.counts()


def settle(sb: Sandbox, quiet_s: float = 0.05, timeout_s: float = 2.0) -> None:
    """Wait until the request log stops growing.

    The sandbox records a call after it has sent the answer, so the client can
    read the answer before the log holds the call.
    """
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        now = len(sb.log.entries())
        if now == seen:
            return
        seen = now
        time.sleep(quiet_s)


def stored(entry: LogEntry) -> bool:
    return entry.write and entry.operation not in NOT_STORED


def wire(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, *, env: dict[str, str] | None = None,
         **build: Any) -> Wired:
    for name, value in {**sb.env, **(env or {})}.items():
        monkeypatch.setenv(name, value)
    settings = config.Settings.from_env()
    sleeps: list[float] = []
    build.setdefault("policy", retrying.Policy(sleep=sleeps.append))
    build.setdefault("run_command_poll_s", 0.05)
    return Wired(sb, settings, bootstrap.build(settings, **build), sleeps)


def fast_sleep(cap: float = 0.2) -> Callable[[float], None]:
    """A runner sleep that waits for real, but never long: sandbox delays are real time."""
    return lambda seconds: time.sleep(min(seconds, cap))
