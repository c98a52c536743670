"""federate under concurrency: one writer per identity in a process, the others wait and re-read."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests import fakes
from wif_core import errors, model, ports
from wif_core.steps import discover, federate


class SlowPuts:
    """The fake identities, with each write taking ``seconds`` (as a throttled or distant ARM would)."""

    def __init__(self, inner: Any, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_credential(self, ref: model.IdentityRef, credential: model.FederatedCredential) -> None:
        time.sleep(self.seconds)
        self.inner.put_credential(ref, credential)


def discovered(world: fakes.World, p: ports.Ports) -> model.Discovered:
    return discover.discover(p, fakes.settings(), world.add_cluster(fakes.cluster_id("dev-1")))


def test_writers_one_holder_per_key_and_a_generation_per_release() -> None:
    w = ports.Writers()
    with w.hold("a") as first:
        with w.hold("a") as second, w.hold("b") as other:
            assert first and not second and other
        assert not w.wait("a", 0.01), "held: the wait ends at its bound"
    assert w.wait("a", 0.01) and w.generation("a") == 1 and w.generation("b") == 1
    with w.hold("a") as again:
        assert again
    assert w.generation("a") == 2


def test_wait_returns_as_soon_as_the_writer_is_done() -> None:
    w = ports.Writers()
    held, done = threading.Event(), []

    def writer() -> None:
        with w.hold("id"):
            held.set()
            time.sleep(0.05)

    t = threading.Thread(target=writer)
    t.start()
    held.wait()
    done.append(w.wait("id", 5.0))
    t.join()
    assert done == [True] and w.generation("id") == 1


def test_a_fleet_of_first_onboardings_writes_each_credential_once() -> None:
    world = fakes.World()
    p = world.ports()
    p.identities = SlowPuts(p.identities, 0.05)
    d = discovered(world, p)
    settings = fakes.settings()
    start = threading.Barrier(8)
    results: list[object] = []

    def onboarding() -> None:
        start.wait()
        try:
            results.append(federate.federate(p, settings, d))
        except errors.WifError as e:  # pragma: no cover - reported by the assertion below
            results.append(e)

    threads = [threading.Thread(target=onboarding) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert world.calls["arm.credentials.put"] == 2, "two credentials, written by one of the eight"
    assert all(isinstance(r, model.Federated) and len(r.credentials) == 2 for r in results), results
    assert sum(len(r.created) for r in results if isinstance(r, model.Federated)) == 2
    assert len(world.credentials) == 2


def test_a_writer_still_busy_past_the_bound_is_waited_for_on_a_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    world = fakes.World()
    p = world.ports()
    d = discovered(world, p)
    before = sum(world.calls.values())
    monkeypatch.setattr(federate, "WRITER_WAIT_S", 0.01)
    with p.writers.hold(fakes.IDENTITY_ID.lower()):
        with pytest.raises(errors.NotReady, match="another onboarding .* writing the federated credentials") as e:
            federate.federate(p, fakes.settings(), d)
    assert e.value.delay == federate.WRITER_POLL_S
    assert sum(world.calls.values()) == before, "nothing read or written while another writer is at it"
    assert federate.federate(p, fakes.settings(), d).created, "once it is done, the step proceeds"


def test_credentials_written_meanwhile_by_another_writer_are_read_again_not_rewritten() -> None:
    world = fakes.World()
    p = world.ports()
    d = discovered(world, p)
    settings = fakes.settings()

    class Racing:
        """Another onboarding writes both credentials right after our first list."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.lists = inner, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def list_credentials(self, ref: model.IdentityRef) -> list[model.FederatedCredential]:
            seen = self.inner.list_credentials(ref)
            self.lists += 1
            if self.lists == 1:
                other = fakes.World().ports()  # the racer's own view of the same identity
                other.identities = self.inner
                with p.writers.hold(settings.identity.id.lower()):
                    federate.federate(other, settings, d)
            return seen

    racing = Racing(p.identities)
    p.identities = racing
    result = federate.federate(p, settings, d)
    assert result.created == () and len(result.credentials) == 2
    assert world.calls["arm.credentials.put"] == 2 and racing.lists == 2, "re-listed once the racer was done"


def test_the_propagation_diagnosis_names_a_near_miss_and_what_exists() -> None:
    import base64
    import json

    from wif_core import errors
    from wif_core.steps import propagation

    claims = {"iss": "https://oidc.example/hub/", "sub": "system:serviceaccount:argocd:argocd-server", "aud": ["x"]}
    token = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                     for part in ({"alg": "RS256"}, claims, {"sig": 1}))
    assert propagation.claims(token) == {"iss": claims["iss"], "sub": claims["sub"]}
    assert propagation.claims("not-a-jwt") == {} and propagation.claims("a.!!!.c") == {}
    existing = [model.FederatedCredential("by-hand", "https://oidc.example/hub", claims["sub"]),
                model.FederatedCredential("other", "https://elsewhere/", "system:serviceaccount:x:y")]
    message = propagation.diagnose(errors.NotFederated("exchange: no match (AADSTS700211)", 700211),
                                   model.IdentityFacts("id", "argocd", "c", "p", "t"), claims["iss"], claims["sub"],
                                   existing)
    assert "AADSTS700211" in message and "by-hand" in message and "other" in message
    assert "only by the trailing slash" in message and "still propagating" not in message
