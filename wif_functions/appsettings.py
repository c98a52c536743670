"""App settings for the function app: validated once per distinct environment.

The orchestrator must be deterministic, so it never reads the environment:
the client snapshots the settings into the orchestration input when it
starts a run, and every replay rebuilds the same ``Settings`` from that.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping, Optional

if TYPE_CHECKING:
    from wif_core import config

Snapshot = dict[str, str]

_cache: dict[tuple[tuple[str, str], ...], config.Settings] = {}


def snapshot(env: Optional[Mapping[str, str]] = None) -> Snapshot:
    """The app settings this project reads, as set in ``env`` (default: the process)."""
    from wif_core import config

    env = os.environ if env is None else env
    return {name: env[name] for name in config.SETTING_NAMES if name in env}


def load(env: Optional[Mapping[str, str]] = None) -> config.Settings:
    """``Settings`` for ``env``; raises ``errors.ConfigError`` naming the variable."""
    return from_snapshot(snapshot(env))


def from_snapshot(values: Mapping[str, str]) -> config.Settings:
    from wif_core import config

    key = tuple(sorted(values.items()))
    settings = _cache.get(key)
    if settings is None:
        settings = config.Settings.from_env(dict(values))
        if len(_cache) > 16:  # settings change rarely; keep the cache bounded anyway
            _cache.clear()
        _cache[key] = settings
    return settings
