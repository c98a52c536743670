"""Benchmarks on ``wif_sandbox``: cold start, API calls per cluster, fleet scale, propagation lag.

``python -m bench`` (``make bench``) runs them all, prints one table and writes
``bench/results.json``. Each module measures one thing and returns a flat dict of
numbers; ``bench.report`` judges them against the goals in issue 6.

The helpers here are what every benchmark needs to point the real adapters at a
sandbox the way a deployment is pointed at Azure: by environment variables
(azure-identity reads ``AZURE_*``, ``requests`` reads ``REQUESTS_CA_BUNDLE``).
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Callable, Iterator, Mapping

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``values`` for the block, restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def settle(size: Callable[[], int], quiet_s: float = 0.05, timeout_s: float = 2.0) -> None:
    """Wait until ``size()`` (a request log's length) stops growing.

    The sandbox records a call after it has sent the answer, so a client can
    hold the answer before the log holds the call.
    """
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        now = size()
        if now == seen:
            return
        seen = now
        time.sleep(quiet_s)
