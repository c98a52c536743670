"""Fixtures for the function app: app settings, the fake world behind the activity, a local durable host."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests import fakes
from wif_core import config
from wif_functions import activities, appsettings
from wif_sandbox import driver

ENV = {
    "WIF_HUB_CLUSTER_ID": fakes.HUB_ID,
    "WIF_ARGOCD_IDENTITY_ID": fakes.IDENTITY_ID,
    "WIF_ALLOWED_SCOPES": f"/subscriptions/{fakes.SUB}",
}


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in config.SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return dict(ENV)


@pytest.fixture
def clock() -> driver.VirtualClock:
    return driver.VirtualClock()


@pytest.fixture
def world(app_env: dict[str, str], clock: driver.VirtualClock) -> Iterator[fakes.World]:
    """Azure, Entra and the clusters in memory, wired behind the ``run_step`` activity."""
    w = fakes.World(clock=clock.time)
    activities.use(w.ports(), appsettings.load())
    yield w
    activities.use(None)


@pytest.fixture
def host(clock: driver.VirtualClock) -> driver.LocalDurable:
    """The durable client stand-in and host loop, running function_app's own functions."""
    return driver.LocalDurable(clock=clock.time, sleep=clock.sleep)
