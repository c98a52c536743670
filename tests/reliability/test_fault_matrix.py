"""Fault matrix: every step x every call it makes x every kind of fault, on the stateful fakes.

Each case injects one fault into one operation while one step of the chain runs:

* ``5xx``: a transient server error before the call takes effect;
* ``429``: throttling with ``Retry-After`` (the runner must sleep at least that long);
* ``timeout``: the call times out before it takes effect;
* ``lost-response``: the call takes effect, then the response is lost (the runner retries);
* ``crash-replay``: the call takes effect, then the process dies before recording the
  result; the whole chain is run again from scratch, as a durable replay or an
  Event Grid redelivery would.

Every case must converge: exactly one Secret, exactly the right federated
credentials (no two with the same issuer+subject), exactly one binding or role
assignment, nothing else; and a deregistration afterwards leaves nothing of ours.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

from tests import fakes
from wif_core import chain, config, errors, manifests, model, runner
from wif_core.steps import register as register_step

RETRY_AFTER = 37.0  # longer than any backoff or poll interval the chain uses by itself


class Crash(Exception):
    """The process died: nothing in it catches this, nothing it held survives."""



# ---- the matrix ---------------------------------------------------------------------------

FAULTS: dict[str, Callable[[fakes.World, str], None]] = {
    "5xx": lambda w, op: w.fail(op, errors.TemporaryError("503 Service Unavailable")),
    "429": lambda w, op: w.fail(op, errors.Throttled("429 Too Many Requests", delay=RETRY_AFTER)),
    "timeout": lambda w, op: w.fail(op, errors.Unreachable("timed out")),
    "lost-response": lambda w, op: w.fail_after(op, errors.Unreachable("connection reset after the write")),
    "crash-replay": lambda w, op: w.fail_after(op, Crash(f"process died after {op}")),
}

AFTER_FAULTS = ("lost-response", "crash-replay")

# Cluster kinds: how the target is set up and which settings the deployment uses.
KINDS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "kube-rbac": ({}, {}),
    "azure-rbac": ({"azure_rbac": True}, {}),
    "private": ({"private": True}, {}),
    "in-cluster": ({}, {"WIF_TOPOLOGY": "in-cluster", "WIF_HUB_CLUSTER_ID": ""}),
}

_REGISTER_COMMON = {
    "discover": ["arm.cluster.get", "arm.identity.get"],
    "federate": ["arm.credentials.list", "arm.credentials.put"],
    "await_propagation": ["kube.token.request", "entra.token"],
    "register": ["kube.Secret.get", "kube.Secret.create"],
}
_BIND = {
    "kube-rbac": ["kube.ClusterRoleBinding.get", "kube.ClusterRoleBinding.create"],
    "in-cluster": ["kube.ClusterRoleBinding.get", "kube.ClusterRoleBinding.create"],
    "azure-rbac": ["arm.role.get", "arm.role.put"],
    "private": ["arm.runcommand.run"],
}
_VERIFY = {"private": ["arm.runcommand.run"]}
# Writes that only happen when something is already there but out of date.
_STALE = [
    ("stale-secret", "register", "kube.Secret.patch"),
    ("stale-subjects", "bind_rbac", "kube.ClusterRoleBinding.replace"),
    ("stale-role-ref", "bind_rbac", "kube.ClusterRoleBinding.delete"),
    ("stale-role-ref", "bind_rbac", "kube.ClusterRoleBinding.create"),
]


def _deregister_ops(kind: str, scenario: str) -> list[str]:
    """The calls a deregistration makes: every removal reads our provenance record first."""
    binding = {"azure-rbac": ["arm.role.get", "arm.role.delete"], "private": ["arm.runcommand.run"]}.get(
        kind, ["kube.ClusterRoleBinding.get", "kube.ClusterRoleBinding.delete"])
    credentials = ["arm.credentials.list", "arm.credentials.delete"] if kind == "in-cluster" else []
    if scenario == "opted-out":  # the register chain's own deregister step: discover already read everything
        return ["kube.Secret.get", *binding, *credentials, "kube.Secret.delete"]
    if scenario == "cluster-deleted":
        ops = ["arm.cluster.get", "arm.identity.get", "arm.role.get"]
        ops += ["arm.role.delete"] if kind == "azure-rbac" else []
        if kind == "in-cluster":  # credentials are named from the cluster id: found without its issuer
            return ops + credentials
        return ["kube.Secret.get", *ops, "kube.Secret.delete"]
    return ["arm.cluster.get", "arm.identity.get", "kube.Secret.get", *binding, *credentials, "kube.Secret.delete"]


@dataclass(frozen=True)
class Case:
    kind: str
    chain: str  # register | deregister
    scenario: str  # fresh | stale-* | opted-out | cluster-exists | cluster-deleted
    step: str
    op: str
    fault: str

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.chain}:{self.scenario}/{self.step}/{self.op}/{self.fault}"


def _cases() -> list[Any]:
    cases: list[Case] = []
    for kind in KINDS:
        steps = dict(_REGISTER_COMMON, bind_rbac=_BIND[kind], verify=_VERIFY.get(kind, ["kube.sar.review"]))
        for step, ops in steps.items():
            cases += [Case(kind, "register", "fresh", step, op, fault) for op in ops for fault in FAULTS]
        if kind in ("kube-rbac", "in-cluster"):
            cases += [Case(kind, "register", sc, step, op, fault) for sc, step, op in _STALE for fault in FAULTS]
        elif kind == "azure-rbac":
            cases += [Case(kind, "register", "stale-secret", "register", "kube.Secret.patch", f) for f in FAULTS]
        # A registered cluster that lost its opt-in tag: the register chain ends in its deregister step.
        cases += [Case(kind, "register", "opted-out", "deregister", op, fault)
                  for op in _deregister_ops(kind, "opted-out") for fault in FAULTS]
        for scenario in ("cluster-exists", "cluster-deleted"):
            cases += [Case(kind, "deregister", scenario, "deregister", op, fault)
                      for op in _deregister_ops(kind, scenario) for fault in FAULTS]
    # The one read that only ever fails (NotFound: the cluster is gone) has no effect for a fault to follow.
    cases = [c for c in cases if not (c.kind == "in-cluster" and c.scenario == "cluster-deleted"
                                      and c.op == "arm.cluster.get" and c.fault in AFTER_FAULTS)]
    return [pytest.param(case, id=case.id) for case in cases]


# ---- running and checking -------------------------------------------------------------------


class Setup:
    def __init__(self, kind: str, clock: Optional[fakes.Clock] = None) -> None:
        cluster_args, env = KINDS[kind]
        self.kind = kind
        self.clock = clock or fakes.Clock()
        self.world = fakes.World(clock=self.clock)
        self.env = {"WIF_HUB_CLUSTER_ID": fakes.HUB_ID, "WIF_ARGOCD_IDENTITY_ID": fakes.IDENTITY_ID,
                    "WIF_ALLOWED_SCOPES": f"/subscriptions/{fakes.SUB}", "WIF_OPT_IN_TAG": "argocd=on", **env}
        self.settings = fakes.settings(**self.env)
        self.ref = self.world.add_cluster(fakes.cluster_id("target"), tags={"argocd": "on"}, **cluster_args)
        self.events: list[runner.Progress] = []

    def runner(self, on_progress: Optional[Callable[[runner.Progress], None]] = None) -> runner.Runner:
        """A fresh process: new ports, nothing remembered (no proven exchanges)."""
        return runner.Runner(self.world.ports(), self.settings, clock=self.clock, sleep=self.clock.sleep,
                             on_progress=on_progress or self.events.append)

    def run(self, chain_name: str, on_progress: Optional[Callable[[runner.Progress], None]] = None) -> runner.Report:
        return self.runner(on_progress).run(chain_name, self.ref)

    # -- preconditions --
    def prepare(self, case: Case) -> None:
        if case.scenario == "fresh":
            return
        assert self.run("register").ok
        target_store = self.world.objects[self.ref.key]
        binding_key = ("ClusterRoleBinding", None, manifests.binding_name(self.world.identity))
        if case.scenario == "stale-secret":
            facts = self.world.clusters[self.ref.key]
            self.world.clusters[self.ref.key] = model.ClusterFacts(**{**facts.__dict__, "server": "https://moved:443"})
        elif case.scenario == "stale-subjects":
            target_store[binding_key]["subjects"].append({"kind": "User", "name": "someone-else"})
        elif case.scenario == "stale-role-ref":
            target_store[binding_key]["roleRef"]["name"] = "view"
        elif case.scenario == "opted-out":
            facts = self.world.clusters[self.ref.key]
            self.world.clusters[self.ref.key] = model.ClusterFacts(**{**facts.__dict__, "tags": ()})
        elif case.scenario == "cluster-deleted":
            del self.world.clusters[self.ref.key]
            self.world.objects[self.ref.key].clear()  # its API server's objects went with it
        self.world.calls.clear()
        self.clock.sleeps.clear()

    # -- state --
    def objects(self, kind: str) -> list[tuple[str, tuple[str, Optional[str], str], dict[str, Any]]]:
        return [(cluster, key, obj) for cluster, store in self.world.objects.items()
                for key, obj in store.items() if key[0] == kind]

    def secret_home(self) -> model.ClusterRef:
        return self.settings.hub if self.settings.topology == "hub" and self.settings.hub else self.ref

    def issuer(self) -> str:
        facts = self.world.clusters[self.secret_home().key]
        assert facts.oidc_issuer
        return facts.oidc_issuer

    def assert_registered(self) -> None:
        w, s = self.world, self.settings
        secrets = self.objects("Secret")
        assert len(secrets) == 1, secrets
        home, key, secret = secrets[0]
        assert home == self.secret_home().key and key == ("Secret", s.namespace, manifests.secret_name(self.ref))
        desired = manifests.cluster_secret(s, w.clusters[self.ref.key], w.identity)
        assert register_step.plan(secret, desired) == "unchanged", secret

        credentials = [c for c, _ in w.credentials.values()]
        trusts = {(c.issuer.rstrip("/"), c.subject) for c in credentials}
        assert len(trusts) == len(credentials) == len(s.service_accounts) == 2, credentials
        assert trusts == {(self.issuer().rstrip("/"), subject) for subject in s.subjects()}
        assert all(c.audiences == (config.TOKEN_EXCHANGE_AUDIENCE,) for c in credentials)

        bindings = self.objects("ClusterRoleBinding")
        if self.kind == "azure-rbac":
            assert bindings == []
            wanted = manifests.role_assignment_name(self.ref.id, w.identity.principal_id, s.azure_rbac_role_id)
            assert list(w.assignments) == [(self.ref.key, wanted)]
        else:
            assert w.assignments == {}
            assert len(bindings) == 1, bindings
            where, _, binding = bindings[0]
            desired_binding = manifests.cluster_role_binding(s, w.identity, self.ref)
            assert where == self.ref.key
            assert (binding["roleRef"], binding["subjects"]) == (desired_binding["roleRef"], desired_binding["subjects"])
        kinds = {key[0] for _, store in w.objects.items() for key in store}
        assert kinds <= {"Secret", "ClusterRoleBinding"}, kinds  # nothing extra

    def assert_deregistered(self, *, credentials: bool = True) -> None:
        assert self.objects("Secret") == []
        assert self.objects("ClusterRoleBinding") == []
        assert self.world.assignments == {}
        if credentials:
            # The hub's federation is shared by every cluster and stays; in-cluster, it was this cluster's own.
            expected = 2 if self.settings.topology == "hub" else 0
            assert len(self.world.credentials) == expected, self.world.credentials


def _inject_during(setup: Setup, case: Case, fired: list[dict[str, int]]) -> Callable[[runner.Progress], None]:
    """Arm the fault when the step starts; note what is still pending when it ends."""

    def on_progress(event: runner.Progress) -> None:
        setup.events.append(event)
        if event.step != case.step:
            return
        if event.status == "started":
            FAULTS[case.fault](setup.world, case.op)
        elif event.status in ("done", "failed"):
            fired.append(setup.world.pending_faults())

    return on_progress


@pytest.mark.parametrize("case", _cases())
def test_fault_converges(case: Case) -> None:
    setup = Setup(case.kind)
    setup.prepare(case)
    fired: list[dict[str, int]] = []
    on_progress = _inject_during(setup, case, fired)

    if case.fault == "crash-replay":
        with pytest.raises(Crash):
            setup.run(case.chain, on_progress)
        assert setup.world.pending_faults() == {}, f"{case.op} is never called by {case.step}"
        report = setup.run(case.chain)  # replay from scratch in a new process
    else:
        report = setup.run(case.chain, on_progress)
        assert fired == [{}], f"{case.op} is never called by {case.step}: {fired}"

    assert report.ok, f"{report.failed_step}: {report.error}"
    if case.fault == "429":
        assert any(s >= RETRY_AFTER for s in setup.clock.sleeps), setup.clock.sleeps
    if case.fault in ("5xx", "429", "timeout", "lost-response"):
        assert any(e.step == case.step and e.status == "retrying" for e in setup.events)
    assert all(s <= 60 for s in setup.clock.sleeps if s != RETRY_AFTER)

    if case.chain == "register" and case.scenario != "opted-out":
        setup.assert_registered()
        assert setup.run("deregister").ok
    setup.assert_deregistered()


def test_in_cluster_deregister_after_delete_removes_its_credentials() -> None:
    setup = Setup("in-cluster")
    setup.prepare(Case("in-cluster", "deregister", "cluster-deleted", "deregister", "", ""))
    assert setup.run("deregister").ok
    setup.assert_deregistered()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_chain_step_is_in_the_matrix(kind: str) -> None:
    """A new step in the chain must get its row in the matrix."""
    cases = [p.values[0] for p in _cases()]
    covered = {(c.chain, c.step) for c in cases if c.kind == kind}
    expected = {("register", s.name) for s in chain.REGISTER}
    expected |= {("deregister", s.name) for s in chain.DEREGISTER}
    assert expected <= covered, expected - covered


@pytest.mark.parametrize("fault", ["lost-response", "timeout"])
def test_recreated_credential_is_proven_again_in_a_warm_process(fault: str) -> None:
    """A process that proved the exchange earlier must not trust that proof for a credential it re-creates,
    even when the response to the re-creating write is lost."""
    clock = fakes.Clock()
    world = fakes.World(clock=clock, propagation_delay=100.0)
    r = runner.Runner(world.ports(), fakes.settings(), clock=clock, sleep=clock.sleep)
    assert r.onboard(world.add_cluster(fakes.cluster_id("first"))).ok
    world.credentials.clear()  # someone removed the federation by hand
    FAULTS[fault](world, "arm.credentials.put")
    exchanged: dict[str, float] = {}  # subject -> time of its last successful exchange
    original = r.ports.tokens.exchange

    def exchange(**kwargs: str) -> None:
        original(**kwargs)
        exchanged[kwargs["assertion"].rsplit("|", 1)[1]] = clock.now

    r.ports.tokens.exchange = exchange  # type: ignore[method-assign]
    assert r.onboard(world.add_cluster(fakes.cluster_id("second"))).ok
    assert world.pending_faults() == {} and len(world.credentials) == 2
    for credential, written in world.credentials.values():
        assert exchanged.get(credential.subject, -1.0) >= written + 100.0, (credential.subject, written, exchanged)


# ---- the durable side: the same faults through function_app's orchestrator and the real replay engine ----

DURABLE_FAULTS = ("activity-crash", "redelivery", "429")
_DURABLE_WRITES = {
    "kube-rbac": [("federate", "arm.credentials.put"), ("register", "kube.Secret.create"),
                  ("bind_rbac", "kube.ClusterRoleBinding.create")],
    "azure-rbac": [("federate", "arm.credentials.put"), ("register", "kube.Secret.create"), ("bind_rbac", "arm.role.put")],
    "private": [("federate", "arm.credentials.put"), ("register", "kube.Secret.create"), ("bind_rbac", "arm.runcommand.run")],
}
_DURABLE_DEREGISTER = {"kube-rbac": ["kube.Secret.delete", "kube.ClusterRoleBinding.delete"],
                       "azure-rbac": ["kube.Secret.delete", "arm.role.delete"],
                       "private": ["kube.Secret.delete", "arm.runcommand.run"]}
def _durable_cases() -> list[Any]:
    cases = []
    for kind, writes in _DURABLE_WRITES.items():
        for step, op in writes:
            cases += [Case(kind, "register", "fresh", step, op, fault) for fault in DURABLE_FAULTS]
        cases += [Case(kind, "deregister", "cluster-exists", "deregister", op, fault)
                  for op in _DURABLE_DEREGISTER[kind] for fault in DURABLE_FAULTS]
    return [pytest.param(c, id=c.id) for c in cases]


def run_durable(setup: Setup, chain_name: str, hook: Callable[[Any], bool]) -> Any:
    from wif_functions import activities, appsettings, instances
    from wif_sandbox import driver

    host = driver.LocalDurable(clock=setup.clock, sleep=setup.clock.sleep)
    activities.use(setup.world.ports(), setup.settings)
    try:
        started = asyncio.run(instances.dispatch(host, setup.ref, chain_name, appsettings.snapshot(setup.env), "test"))
        return host.run(started.instance_id, stop_before=hook), host
    finally:
        activities.use(None)


@pytest.mark.parametrize("case", _durable_cases())
def test_durable_fault_converges(case: Case) -> None:
    from wif_functions import activities

    setup = Setup(case.kind, fakes.Clock(start=1_700_000_000.0))
    if case.chain == "deregister":
        assert setup.run("register").ok
    seen: list[str] = []
    armed_at: list[int] = []

    def hook(given: Any) -> bool:
        """Called before the host runs an activity: arm the fault the first time the step comes up."""
        if not isinstance(given, dict) or given.get("step") != case.step or seen:
            return False
        seen.append(case.step)
        if case.fault == "activity-crash":  # the activity's write lands, then its worker dies
            setup.world.fail_after(case.op, Crash(f"worker died after {case.op}"))
        elif case.fault == "429":
            setup.world.fail(case.op, errors.Throttled("429 Too Many Requests", delay=RETRY_AFTER))
            armed_at.append(len(setup.world.log))
        else:  # redelivery: a worker ran it, the write landed, the result never reached the history
            activities.run_step(given)
            activities.use(setup.world.ports(), setup.settings)  # the next delivery lands on a fresh worker
        return False

    inst, host = run_durable(setup, case.chain, hook)
    assert seen and setup.world.pending_faults() == {}, f"{case.op} is never called by {case.step}"
    assert inst.status == "Completed", inst.output
    if case.fault == "429":
        times = [t for t, op in setup.world.log[armed_at[0]:] if op == case.op]  # the throttled call, then its retry
        assert len(times) >= 2 and times[1] - times[0] >= RETRY_AFTER, times
    if case.chain == "register":
        setup.assert_registered()
        assert setup.run("deregister").ok
    setup.assert_deregistered()


@pytest.mark.parametrize("kind", list(_DURABLE_WRITES))
def test_durable_redelivered_event_after_completion_writes_nothing(kind: str) -> None:
    """Event Grid delivers at least once: the same write event after the run completed restarts the
    cluster's instance, which finds everything in place."""
    setup = Setup(kind, fakes.Clock(start=1_700_000_000.0))
    first, _ = run_durable(setup, "register", lambda given: False)
    assert first.status == "Completed", first.output
    before = state(setup.world)
    calls = Counter(setup.world.calls)
    again, _ = run_durable(setup, "register", lambda given: False)
    assert again.status == "Completed", again.output
    assert state(setup.world) == before
    made = {op: n - calls[op] for op, n in setup.world.calls.items() if op.rsplit(".", 1)[-1] in fakes.WRITES}
    # A private cluster is only reachable through run command, whose `kubectl apply` and `auth can-i` run again.
    allowed = {"arm.runcommand.run": 2} if kind == "private" else {}
    assert {op: n for op, n in made.items() if n} == allowed, made
    setup.assert_registered()


def state(world: fakes.World) -> str:
    """Everything a run can change, with the volatile resourceVersions left out."""
    objects = {cluster: {key: {k: v for k, v in obj.items() if k != "metadata"} for key, obj in store.items()}
               for cluster, store in world.objects.items()}
    return repr((objects, sorted(repr(c) for c, _ in world.credentials.values()), world.assignments))


# ---- the hub's federation run (wif_core.chain.FEDERATION) -----------------------------------

_FEDERATION_OPS = ["arm.cluster.get", "arm.identity.get", "arm.credentials.list", "arm.credentials.put",
                   "kube.token.request", "entra.token"]


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("op", _FEDERATION_OPS)
def test_the_hub_federation_run_converges_under_every_fault(op: str, fault: str) -> None:
    """Each call of the federation run, each fault; then a registration: two credentials, one Secret."""
    clock = fakes.Clock()
    world = fakes.World(clock=clock)
    settings = fakes.settings()

    def make(p: Any = None) -> runner.Runner:
        return runner.Runner(p or world.ports(), settings, clock=clock, sleep=clock.sleep)

    FAULTS[fault](world, op)
    if fault == "crash-replay":
        with pytest.raises(Crash):
            make().run("federation", model.ClusterRef.parse(fakes.HUB_ID))
        report = make().run("federation", model.ClusterRef.parse(fakes.HUB_ID))  # a new process: fresh ports
    else:
        report = make().run("federation", model.ClusterRef.parse(fakes.HUB_ID))
    assert world.pending_faults() == {}, f"the federation run never calls {op}"
    assert report.ok, report.error
    if fault == "429":
        assert max(clock.sleeps) >= RETRY_AFTER
    target = world.add_cluster(fakes.cluster_id("aks-after-federation"))
    onboard = make().onboard(target)
    assert onboard.ok, onboard.error
    assert len(world.credentials) == 2 and len({(c.issuer, c.subject) for c, _ in world.credentials.values()}) == 2
    assert onboard.results["federate"].created == (), "the registration found the federation done"
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(target)) is not None


# ---- permanent failures and the cluster deleted at every step: nothing left pointing Argo CD at it -------

_ONBOARD_STEPS = [s.name for s in chain.REGISTER if s.name not in ("discover", "deregister")]


def _first_op(kind: str, step: str) -> str:
    steps = dict(_REGISTER_COMMON, bind_rbac=_BIND[kind], verify=_VERIFY.get(kind, ["kube.sar.review"]))
    return steps[step][0]


def _assert_nothing_points_argo_at(setup: Setup) -> None:
    assert setup.objects("Secret") == [], "a failed onboarding left a cluster Secret"
    assert setup.objects("ClusterRoleBinding") == [] and setup.world.assignments == {}, "this run's grant was left"


@pytest.mark.parametrize("step", _ONBOARD_STEPS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_permanent_failure_at_any_step_of_a_first_onboarding_leaves_nothing(kind: str, step: str) -> None:
    setup = Setup(kind)
    op = _first_op(kind, step)

    def on_progress(event: runner.Progress) -> None:
        if event.step == step and event.status == "started":
            setup.world.fail(op, errors.Forbidden(f"403 on {op}"))

    report = setup.run("register", on_progress)
    assert not report.ok and report.failed_step == step, report.error
    assert "rolled back" in report.error, report.error
    _assert_nothing_points_argo_at(setup)
    if kind == "in-cluster":  # never registered: its own credentials go too, whichever run wrote them
        assert setup.world.credentials == {}, setup.world.credentials


@pytest.mark.parametrize("fault", ["permanent", "transient"])
@pytest.mark.parametrize("step", _ONBOARD_STEPS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_failed_re_registration_takes_the_cluster_out_only_when_argo_cannot_use_it(kind: str, step: str,
                                                                                     fault: str) -> None:
    """Registered before: a refused grant or a denied verify takes it out of Argo CD (nothing may point at a
    cluster it cannot use); a failure that says nothing about the cluster (retries of a transient error
    ran out, the shared federation, a conflict) keeps the working registration and says how to remove it."""
    setup = Setup(kind)
    assert setup.run("register").ok
    op = _first_op(kind, step)
    error = errors.Forbidden(f"403 on {op}") if fault == "permanent" else errors.TemporaryError(f"503 on {op}")

    times = chain.find("register", step).retry.attempts if fault == "transient" else 1  # exactly until the step gives up

    def on_progress(event: runner.Progress) -> None:
        if event.step == step and event.status == "started":
            setup.world.fail(op, *[error] * times)

    report = setup.run("register", on_progress)
    assert not report.ok and report.failed_step == step, report.error
    taken_out = fault == "permanent" and step in ("bind_rbac", "verify")
    if taken_out:
        assert "rolled back: removed" in report.error, report.error
        _assert_nothing_points_argo_at(setup)
    else:
        assert "from an earlier registration kept" in report.error and "delete secret" in report.error, report.error
        assert len(setup.objects("Secret")) == 1


@pytest.mark.parametrize("step", _ONBOARD_STEPS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_cluster_deleted_at_any_step_leaves_no_secret(kind: str, step: str) -> None:
    setup = Setup(kind)

    def on_progress(event: runner.Progress) -> None:
        if event.step == step and event.status == "started" and setup.ref.key in setup.world.clusters:
            del setup.world.clusters[setup.ref.key]  # ARM forgets it, its API server goes with its objects
            setup.world.objects[setup.ref.key].clear()

    report = setup.run("register", on_progress)
    if report.ok:
        # Nothing of the cluster was needed any more (the Secret's facts were read before): the delete
        # event that follows every deletion deregisters it.
        assert step == "register", (step, report.results)
        assert setup.run("deregister").ok
    _assert_nothing_points_argo_at(setup)


def test_a_failed_rollback_names_what_is_left_and_the_command_that_removes_it() -> None:
    setup = Setup("kube-rbac")

    def on_progress(event: runner.Progress) -> None:
        if event.step == "verify" and event.status == "started":
            setup.world.fail("kube.sar.review", errors.Forbidden("403 on SubjectAccessReview"))
        if event.step == "rollback" and event.status == "started":
            setup.world.fail("kube.ClusterRoleBinding.get", *[errors.Unreachable("timed out")] * 8)

    report = setup.run("register", on_progress)
    assert not report.ok and report.failed_step == "verify"
    assert "left: ClusterRoleBinding (" in report.error, report.error
    assert f"kubectl delete clusterrolebinding {manifests.binding_name(setup.world.identity)}" in report.error


@pytest.mark.parametrize("kind", list(_DURABLE_WRITES))
def test_durable_permanent_failure_rolls_back_through_the_orchestrator(kind: str) -> None:
    """The same rollback through function_app's orchestrator: one more activity, then the run fails saying so."""
    setup = Setup(kind, fakes.Clock(start=1_700_000_000.0))
    op = _first_op(kind, "verify")

    def hook(given: Any) -> bool:
        if isinstance(given, dict) and given.get("step") == "verify":
            setup.world.fail(op, errors.Forbidden(f"403 on {op}"))
        return False

    inst, host = run_durable(setup, "register", hook)
    assert inst.status == "Failed", inst.output
    steps = [a["input"]["step"] for a in inst.activities]
    assert steps[-2:] == ["verify", "rollback"] and "register" not in steps, steps
    assert "verify: " in str(inst.output) and "rolled back: removed" in str(inst.output), inst.output
    _assert_nothing_points_argo_at(setup)
