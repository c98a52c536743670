"""The one activity, ``run_step``: decode its input, run one step of the chain, encode the outcome.

SDKs load here, on the first activity a worker process runs, never at import
time; the wired ``Ports`` are cached per process and per settings, so the
ARM, Entra and Kubernetes clients (and their connection pools) are reused.
"""
from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Optional

from wif_functions import appsettings

if TYPE_CHECKING:
    from wif_core import chain, config, ports

log = logging.getLogger("wif_functions.activities")

_override: Optional[tuple[ports.Ports, config.Settings]] = None
_wired: dict[config.Settings, ports.Ports] = {}
_wiring = threading.Lock()


def use(p: Optional[ports.Ports], settings: Optional[config.Settings] = None) -> None:
    """Run activities against these ports (tests, the demo, benchmarks); ``use(None)`` rewires the real ones."""
    global _override
    if p is None:
        _override = None
        _wired.clear()
        return
    _override = (p, settings if settings is not None else appsettings.load())


def wired() -> tuple[ports.Ports, config.Settings]:
    if _override is not None:
        return _override
    settings = appsettings.load()
    p = _wired.get(settings)
    if p is None:
        # Once per process, even when the host starts its first activities all at once: the
        # ports hold the caches, the token cache and the one-writer-per-identity registry.
        with _wiring:
            p = _wired.get(settings)
            if p is None:
                from wif_core.adapters import bootstrap  # the Azure SDKs and kubernetes load here, once

                p = _wired[settings] = bootstrap.build(settings)
    return p, settings


def run_step(payload: object) -> chain.ActivityJSON:
    """Outcome JSON for one step. Transient errors raise, so Durable's retry policy applies."""
    from wif_core import chain, errors

    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return chain.encode_outcome(chain.Outcome("failed", error="activity input is not JSON"))
    try:
        p, settings = wired()
        outcome = chain.run_activity(p, settings, payload)
        return outcome if outcome is not None else chain.encode_outcome(chain.Outcome("failed", error="no outcome"))
    except errors.PermanentError as e:  # bad input or settings: retrying cannot help
        return chain.encode_outcome(chain.Outcome("failed", error=e.message))
    except errors.TemporaryError as e:
        where = f"{payload.get('chain')}/{payload.get('step')}" if isinstance(payload, dict) else "step"
        log.warning("%s failed; Durable retries it per the step's policy: %s", where, e.message)
        raise
