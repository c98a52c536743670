"""The ordered steps and their retry and wait policies, as data.

Both runners walk these tuples: ``wif_core.runner`` in-process (CLI, demo,
tests) and the Durable Functions orchestrator in ``function_app``. A step's
outcome is one of three things, decided here once for both runners:

* done: the step's result, passed on to later steps;
* wait: ``errors.NotReady`` (cluster still provisioning, another writer busy
  with the identity's credentials, credential not yet propagated, RBAC not yet
  effective): poll again after ``Wait.interval`` until the step's deadline, then
  fail with the last observed error;
* retry: a ``TemporaryError`` carrying the server's delay (429 ``Retry-After``):
  try again per ``Retry``, but not before that delay (a durable timer, in Durable,
  because ``call_activity_with_retry`` only knows fixed backoffs);
* failed: a ``PermanentError``: stop, retries are useless.

Any other ``TemporaryError`` (5xx, 409, timeouts) is raised to the
runner, which retries it per ``Retry`` (``call_activity_with_retry`` in Durable).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Optional, Union

from wif_core import codec, config, errors, model, ports
from wif_core.steps import deregister, discover, federate, propagation, rbac, register, rollback, verify

Results = Mapping[str, object]


@dataclass(frozen=True)
class Retry:
    """Short retries of transient errors: ``attempts`` in all, exponential delays."""

    attempts: int = 4
    first_s: float = 1.0
    backoff: float = 2.0
    max_s: float = 30.0

    def delay(self, attempt: int, hint: Optional[float] = None) -> float:
        """Delay before attempt ``attempt + 1``; a server's Retry-After wins if longer."""
        base = min(self.max_s, self.first_s * self.backoff ** (attempt - 1))
        return max(base, hint or 0.0)


@dataclass(frozen=True)
class Wait:
    """Polling for a condition, with an interval proportional to the time waited.

    Proportional (not exponential) so that the lag between the condition
    becoming true and the chain noticing stays under ~10% of the wait plus
    ``first_s``, at a cost of O(log) polls.
    """

    timeout: Callable[[config.Settings], int]
    first_s: float = 1.0
    fraction: float = 0.09
    max_s: float = 30.0

    def interval(self, waited_s: float, hint: Optional[float] = None) -> float:
        return min(self.max_s, max(self.first_s, self.fraction * waited_s, hint or 0.0))


def _results_discovered(results: Results) -> model.Discovered:
    value = results.get("discover")
    if not isinstance(value, model.Discovered):
        raise errors.BadInput("this step needs the result of 'discover'")
    return value


def _eligible(settings: config.Settings, results: Results) -> bool:
    return eligible(results)


def eligible(results: Results) -> bool:
    # The orchestrator asks this before every step on every replay: read the flag from the
    # encoded result rather than decode the whole Discovered for it.
    if isinstance(results, Carried):
        flag = results.field("discover", "eligible")
        if isinstance(flag, bool):
            return flag
    return _results_discovered(results).eligible


StepFn = Callable[[ports.Ports, config.Settings, model.ClusterRef, Results], object]


@dataclass(frozen=True)
class Step:
    name: str
    run: StepFn
    retry: Retry = field(default_factory=Retry)
    wait: Optional[Wait] = None
    when: Callable[[config.Settings, Results], bool] = lambda s, r: True
    describe: str = ""
    # The earlier results the step reads; only these cross the activity boundary with it.
    needs: tuple[str, ...] = ("discover",)


def _with_discovered(fn: Callable[[ports.Ports, config.Settings, model.Discovered], object]) -> StepFn:
    return lambda p, s, ref, results: fn(p, s, _results_discovered(results))


_PROVISIONING = Wait(timeout=lambda s: s.provisioning_timeout_s, first_s=2.0, fraction=0.1, max_s=60.0)
_PROPAGATION = Wait(timeout=lambda s: s.propagation_timeout_s)
# Another onboarding in the same worker is writing the identity's credentials (federate.WRITER_POLL_S).
_WRITER = Wait(timeout=lambda s: s.propagation_timeout_s, max_s=10.0)

# Register writes the Secret last: until access is bound and verified nothing points Argo CD at
# the cluster, and a run that fails for good is rolled back (ROLLBACK) so nothing does after it.
REGISTER: tuple[Step, ...] = (
    Step("discover", lambda p, s, ref, r: discover.discover(p, s, ref), wait=_PROVISIONING, needs=(),
         describe="read the cluster, wait for provisioningState Succeeded"),
    Step("federate", _with_discovered(federate.federate), retry=Retry(attempts=6), wait=_WRITER, when=_eligible,
         describe="federated identity credentials for the Argo CD service accounts"),
    Step("await_propagation", _with_discovered(propagation.await_propagation), wait=_PROPAGATION, when=_eligible,
         describe="prove the SA token -> Entra token exchange works"),
    Step("bind_rbac", _with_discovered(rbac.bind), when=_eligible,
         describe="grant the Argo CD identity access on the cluster"),
    Step("verify", _with_discovered(verify.verify), wait=_PROPAGATION,
         when=lambda s, r: s.verify and _eligible(s, r),
         describe="SubjectAccessReview for the Argo CD identity"),
    Step("register", _with_discovered(register.register), when=_eligible,
         describe="create or update the Argo CD cluster Secret (last: access is in place)"),
    # A cluster that lost its opt-in tag is taken out again, where our Secret says it was registered;
    # the hub itself is skipped without a look.
    Step("deregister", lambda p, s, ref, r: deregister.deregister(p, s, ref, _results_discovered(r)),
         when=lambda s, r: not _eligible(s, r), describe="cluster not eligible: remove what we created, if anything"),
)

ROLLBACK: tuple[Step, ...] = (
    Step("rollback", lambda p, s, ref, r: rollback.rollback(p, s, r), needs=("discover", "failure"),
         describe="the onboarding failed: remove what points Argo CD at the cluster and what this run created"),
)


def rolls_back(chain: str, results: Results) -> bool:
    """After a permanent failure of this chain with these results, is there anything to roll back?"""
    return chain == "register" and "discover" in results and eligible(results)


DEREGISTER: tuple[Step, ...] = (
    Step("deregister", lambda p, s, ref, r: deregister.deregister(p, s, ref, None), needs=(),
         describe="remove the cluster Secret and the bindings we created"),
)

# The CLI's `verify` (and any on-demand check): read the cluster, then the SubjectAccessReview,
# whatever WIF_VERIFY says (that setting only decides whether onboarding ends with it).
VERIFY: tuple[Step, ...] = (
    REGISTER[0],
    Step("verify", _with_discovered(verify.verify), wait=_PROPAGATION, when=_eligible,
         describe="SubjectAccessReview for the Argo CD identity"),
)

# Hub topology: the hub's federation on its own, started with a cluster's registration so that
# a fleet arriving at once does not queue the one shared write behind every cluster's discover
# (activities run first in, first out). One activity, so nothing of it waits in that queue
# between reading the hub and writing; re-run while the credential propagates (it then lists
# and proves again). Each registration still runs its own federate and await_propagation,
# which find the credentials and the proof.
def _federate_hub(p: ports.Ports, settings: config.Settings) -> model.Federated:
    d = discover.discover_hub(p, settings)
    federated = federate.federate(p, settings, d)
    propagation.await_propagation(p, settings, d)
    return federated


FEDERATION: tuple[Step, ...] = (
    Step("federate_hub", lambda p, s, ref, r: _federate_hub(p, s), retry=Retry(attempts=6), wait=_PROPAGATION, needs=(),
         describe="the hub's federated credentials, written and proven ahead of a fleet's registrations"),
)

CHAINS: dict[str, tuple[Step, ...]] = {"register": REGISTER, "deregister": DEREGISTER, "verify": VERIFY,
                                       "federation": FEDERATION, "rollback": ROLLBACK}


def find(chain: str, step: str) -> Step:
    for candidate in CHAINS.get(chain, ()):
        if candidate.name == step:
            return candidate
    raise errors.BadInput(f"unknown step {chain}/{step}")


@dataclass(frozen=True)
class Outcome:
    status: str  # done | wait | retry | failed
    result: object = None
    error: str = ""
    delay: Optional[float] = None


def execute(step: Step, p: ports.Ports, settings: config.Settings, ref: model.ClusterRef,
            results: Results) -> Outcome:
    """Run one step once. TemporaryErrors other than NotReady propagate (retry them)."""
    try:
        return Outcome("done", step.run(p, settings, ref, results))
    except errors.NotReady as e:
        return Outcome("wait", error=e.message, delay=e.delay)
    except errors.TemporaryError as e:
        if e.delay is None:
            raise
        return Outcome("retry", error=e.message, delay=e.delay)
    except errors.PermanentError as e:
        return Outcome("failed", error=e.message)


# ---- the activity boundary: JSON in, JSON out, one codec -----------------------------

ActivityJSON = dict[str, codec.JSONValue]


class Carried(Mapping[str, object]):
    """Results as the orchestrator carries them: in their encoded form, decoded only when read.

    Every replay rebuilds them from history; most are only passed on (or reported), so they
    are neither decoded nor encoded again for that.
    """

    def __init__(self) -> None:
        self._encoded: dict[str, codec.JSONValue] = {}
        self._decoded: dict[str, object] = {}

    def add(self, name: str, encoded: codec.JSONValue) -> None:
        self._encoded[name] = encoded

    def encoded(self, name: str) -> codec.JSONValue:
        return self._encoded[name]

    def field(self, name: str, key: str) -> codec.JSONValue:
        """One field of a result, read from its encoded form without decoding it; None if absent."""
        value = self._encoded.get(name)
        return value.get(key) if isinstance(value, dict) else None

    def __getitem__(self, name: str) -> object:
        if name not in self._decoded:
            self._decoded[name] = codec.decode(self._encoded[name])
        return self._decoded[name]

    def __contains__(self, name: object) -> bool:  # Mapping's would decode the value to find out
        return name in self._encoded

    def __iter__(self) -> Iterator[str]:
        return iter(self._encoded)

    def __len__(self) -> int:
        return len(self._encoded)


def activity_input(chain: str, step: str, ref: model.ClusterRef, results: Results) -> ActivityJSON:
    """The activity's input: which step, which cluster, and the earlier results it ``needs``."""
    def encoded(name: str) -> codec.JSONValue:
        return results.encoded(name) if isinstance(results, Carried) else codec.encode(results[name])

    return {"chain": chain, "step": step, "cluster": ref.id,
            "results": {name: encoded(name) for name in find(chain, step).needs if name in results}}


def decode_activity_input(data: object) -> tuple[Step, model.ClusterRef, dict[str, object]]:
    if not isinstance(data, dict):
        raise errors.BadInput("activity input must be an object")
    step = find(str(data.get("chain")), str(data.get("step")))
    raw = data.get("results") or {}
    if not isinstance(raw, dict):
        raise errors.BadInput("activity input 'results' must be an object")
    return step, model.ClusterRef.parse(data.get("cluster")), {k: codec.decode(v) for k, v in raw.items()}


def encode_outcome(outcome: Outcome) -> ActivityJSON:
    return {"status": outcome.status, "result": codec.encode(outcome.result) if outcome.result is not None else None,
            "error": outcome.error, "delay": outcome.delay}


def decode_outcome(data: object, *, decode_result: bool = True) -> Outcome:
    """The activity's outcome; ``decode_result=False`` leaves the result encoded (see ``Carried``)."""
    if not isinstance(data, dict) or data.get("status") not in ("done", "wait", "retry", "failed"):
        raise errors.BadInput("activity output is not an outcome")
    raw = data.get("result")
    delay = data.get("delay")
    result = codec.decode(raw) if raw is not None and decode_result else raw
    return Outcome(str(data["status"]), result, str(data.get("error") or ""),
                   float(delay) if isinstance(delay, (int, float)) else None)


def run_activity(p: ports.Ports, settings: config.Settings, data: object) -> Union[ActivityJSON, None]:
    """What one Durable activity does: decode, execute one step, encode."""
    step, ref, results = decode_activity_input(data)
    return encode_outcome(execute(step, p, settings, ref, results))
