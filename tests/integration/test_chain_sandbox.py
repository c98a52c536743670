"""The whole chain with the real adapters against the sandbox: onboard, re-onboard, offboard.

``Runner(build(settings), settings)`` exactly as the CLI runs it; the sandbox's
request log shows what went over the wire. Waits are real (the sandbox's delays
are real time) but each runner sleep is capped at 0.2 s.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Optional

import pytest

from tests.integration import wired
from wif_core import manifests, model, runner
from wif_sandbox.world import Sandbox

RBAC = "rbac.authorization.k8s.io/v1"


@pytest.fixture
def w(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> wired.Wired:
    return wired.wire(sandbox, monkeypatch)


def run(w: wired.Wired) -> tuple[runner.Runner, list[runner.Progress]]:
    events: list[runner.Progress] = []
    return runner.Runner(w.ports, w.settings, sleep=wired.fast_sleep(), on_progress=events.append), events


def secret_of(w: wired.Wired, ref: model.ClusterRef) -> Optional[dict[str, Any]]:
    return w.sb.kube(w.sb.hub_id).get_object("v1", "Secret", w.settings.namespace, manifests.secret_name(ref))


def binding_of(w: wired.Wired, ref: model.ClusterRef) -> Optional[dict[str, Any]]:
    identity = w.ports.identities.get_identity(w.settings.identity)
    return w.sb.kube(ref.id).get_object(RBAC, "ClusterRoleBinding", None, manifests.binding_name(identity))


def test_onboard_then_again_without_writes_then_offboard(w: wired.Wired) -> None:
    ref = model.ClusterRef.parse(w.sb.target_ids[0])
    r, _ = run(w)
    report = r.onboard(ref)
    assert report.ok, report.error
    secret = secret_of(w, ref)
    assert secret is not None and secret["metadata"]["labels"][manifests.LABEL_SECRET_TYPE] == "cluster"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    target = w.ports.clusters.get_cluster(ref)
    assert data["server"] == target.server and data["name"] == manifests.argocd_name(w.settings, target)
    config = json.loads(data["config"])
    assert config["tlsClientConfig"] == {"insecure": False, "caData": target.ca_data}
    assert config["execProviderConfig"]["command"] == "argocd-k8s-auth"
    assert not {"bearerToken", "password", "username"} & config.keys()  # no credential: exec + pinned CA only
    assert not re.search(r"eyJ[\w-]+\.eyJ", json.dumps(data))
    binding = binding_of(w, ref)
    assert binding is not None and binding["roleRef"]["name"] == w.settings.cluster_role
    verified = report.results["verify"]
    assert isinstance(verified, model.Verified) and verified.allowed

    wired.settle(w.sb)
    w.sb.log.reset()
    again = r.onboard(ref)
    assert again.ok, again.error
    assert w.writes() == []  # the second onboarding only reads (and asks one SubjectAccessReview)

    w.sb.log.reset()
    gone = r.offboard(ref)
    assert gone.ok, gone.error
    assert gone.results["deregister"] == model.Deregistered(secret="deleted", binding="deleted")
    assert secret_of(w, ref) is None and binding_of(w, ref) is None
    assert all(key.endswith(".delete") for key in w.writes())


def test_an_azure_rbac_target_gets_a_role_assignment(w: wired.Wired) -> None:
    ref = model.ClusterRef.parse(w.sb.target_ids[1])
    r, _ = run(w)
    report = r.onboard(ref)
    assert report.ok, report.error
    bound = report.results["bind_rbac"]
    assert isinstance(bound, model.Bound) and (bound.mode, bound.via) == ("azure", "arm")
    assert w.ports.roles.get(ref.id, bound.name) is not None
    assert r.offboard(ref).ok
    assert w.ports.roles.get(ref.id, bound.name) is None


def test_a_private_target_is_bound_and_verified_through_run_command(w: wired.Wired) -> None:
    ref = model.ClusterRef.parse(w.sb.create_cluster("aks-private", "rg-apps", private=True))
    r, _ = run(w)
    report = r.onboard(ref)
    assert report.ok, report.error
    bound = report.results["bind_rbac"]
    assert isinstance(bound, model.Bound) and bound.via == "run-command"
    assert binding_of(w, ref) is not None
    assert w.counts()["arm managedClusters.runCommand.post"] >= 2  # apply, then auth can-i


def test_calls_per_onboarding_first_and_second_cluster(w: wired.Wired) -> None:
    r, _ = run(w)
    first, second = (model.ClusterRef.parse(t) for t in w.sb.target_ids)
    assert r.onboard(first).ok
    cold = w.counts()
    w.sb.log.reset()
    assert r.onboard(second).ok
    warm = w.counts()
    # The first onboarding of a process federates, proves the exchange and reads the hub and the identity.
    assert cold["arm federatedIdentityCredentials.put"] == 2 and cold["entra token.client_assertion"] == 2
    assert cold["arm managedClusters.get"] == 2 and cold["arm userAssignedIdentities.get"] == 1
    # The next one reads only its own cluster and the credential list: hub, identity, proofs and tokens are cached.
    assert warm["arm managedClusters.get"] == 1 and warm["arm managedClusters.listClusterUserCredential"] == 1
    assert warm["arm federatedIdentityCredentials.list"] == 1
    for absent in ("arm userAssignedIdentities.get", "arm federatedIdentityCredentials.put", "entra token.client_secret",
                   "entra token.client_assertion", "entra discovery.get"):
        assert absent not in warm, absent
    assert sum(warm.values()) <= 8 < sum(cold.values())


def test_the_chain_waits_for_provisioning_and_propagation(w: wired.Wired) -> None:
    w.sb.faults.provisioning_delay_s = 0.6
    w.sb.faults.propagation_delay_s = 0.6
    ref = model.ClusterRef.parse(w.sb.create_cluster("aks-slow", "rg-apps"))
    r, events = run(w)
    report = r.onboard(ref)
    assert report.ok, report.error
    waited = {e.step for e in events if e.status == "waiting"}
    assert {"discover", "await_propagation"} <= waited
    wired.settle(w.sb)
    statuses = w.sb.log.status_counts()
    assert statuses.get("entra token.client_assertion 400", 0) >= 1  # AADSTS70021 at least once, then success
    assert statuses.get("entra token.client_assertion 200", 0) == 2


def test_the_chain_converges_through_random_5xx_and_dropped_connections(w: wired.Wired) -> None:
    hub, targets = model.ClusterRef.parse(w.sb.hub_id), [model.ClusterRef.parse(t) for t in w.sb.target_ids]
    # Tokens first (MSAL then holds them for an hour): the faults below hit ARM, the API servers
    # and the token exchange, not this app's own sign-in.
    w.ports.kube(w.ports.clusters.get_cluster(hub)).list("v1", "Secret", w.settings.namespace)
    w.sb.faults.error_rate, w.sb.faults.timeout_rate, w.sb.faults.timeout_s = 0.25, 0.05, 0.2
    w.sb.faults.reseed(7)
    r, _ = run(w)
    for ref in targets:
        report = r.onboard(ref)
        assert report.ok, report.error
    w.sb.faults.error_rate = w.sb.faults.timeout_rate = 0.0
    wired.settle(w.sb)
    statuses = w.sb.log.status_counts()
    # 5xx answers and connections dropped without an answer (status 0) did happen:
    assert sum(n for key, n in statuses.items() if key.endswith((" 0", " 500", " 502", " 503"))) >= 3
    assert all(secret_of(w, ref) is not None for ref in targets)
    assert w.sleeps  # the adapters retried in place ...
    assert len(w.ports.identities.list_credentials(w.settings.identity)) == 2  # ... and wrote nothing twice
