"""The in-process runner walking the chain against the stateful fakes."""
from __future__ import annotations

import base64

import pytest

from tests import fakes
from wif_core import errors, manifests, model, runner


def make(world: fakes.World, clock: fakes.Clock, **env: str) -> runner.Runner:
    events: list[runner.Progress] = []
    r = runner.Runner(world.ports(), fakes.settings(**env), clock=clock, sleep=clock.sleep, on_progress=events.append)
    r.events = events  # type: ignore[attr-defined]
    return r


@pytest.fixture
def clock() -> fakes.Clock:
    return fakes.Clock()


@pytest.fixture
def world(clock: fakes.Clock) -> fakes.World:
    return fakes.World(clock=clock)


def test_onboard_registers_binds_and_verifies(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("dev-1"), tags={"env": "dev"})
    report = make(world, clock, WIF_LABEL_TAGS="env").onboard(ref)
    assert report.ok, report.error
    secret = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert secret is not None and secret["metadata"]["labels"]["argocd.argoproj.io/secret-type"] == "cluster"
    assert secret["metadata"]["labels"][manifests.TAG_LABEL_PREFIX + "env"] == "dev"
    crb = world.object(ref.id, "ClusterRoleBinding", None, manifests.binding_name(world.identity))
    assert crb is not None and crb["subjects"][0]["name"] == world.identity.principal_id
    assert len(world.credentials) == 2  # one per Argo CD service account, on the hub's issuer
    assert {c.issuer for c, _ in world.credentials.values()} == {"https://oidc.example/hub/"}
    assert isinstance(report.results["verify"], model.Verified) and report.results["verify"].allowed


def test_second_onboard_makes_no_write_call(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("dev-1"))
    r = make(world, clock)
    assert r.onboard(ref).ok
    writes = world.writes()
    calls = sum(world.calls.values())
    report = r.onboard(ref)
    assert report.ok
    assert world.writes() == writes, world.calls
    # The same process already proved the exchange: no second TokenRequest/Entra round trip.
    assert world.calls["entra.token"] == 2
    assert sum(world.calls.values()) - calls <= 9


def test_waits_for_provisioning_then_proceeds(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("new"), state="Creating")
    original = world.ports().clusters.get_cluster
    r = make(world, clock)

    def flip_after_30s(p_ref: model.ClusterRef) -> model.ClusterFacts:
        if clock.now >= 30 and world.clusters[ref.key].provisioning_state == "Creating":
            world.set_state(ref, "Succeeded")
        return original(p_ref)

    r.ports.clusters.get_cluster = flip_after_30s  # type: ignore[method-assign]
    report = r.onboard(ref)
    assert report.ok, report.error
    waits = [e for e in r.events if e.step == "discover" and e.status == "waiting"]  # type: ignore[attr-defined]
    assert waits and "Creating" in waits[0].message
    assert 30 <= clock.now <= 30 + 4  # proportional polling: small lag after the flip


def test_propagation_wait_lag_is_small(clock: fakes.Clock) -> None:
    world = fakes.World(clock=clock, propagation_delay=200.0)
    ref = world.add_cluster(fakes.cluster_id("dev-2"))
    report = make(world, clock).onboard(ref)
    assert report.ok, report.error
    lag = report.seconds["await_propagation"] - 200.0
    assert 0 <= lag <= 0.1 * 200 + 1
    assert world.calls["entra.token"] < 60  # ~ln(D) polls (each 9% after the last), not one a second


def test_propagation_deadline_fails_with_last_error(clock: fakes.Clock) -> None:
    world = fakes.World(clock=clock, propagation_delay=10_000.0)
    ref = world.add_cluster(fakes.cluster_id("dev-3"))
    report = make(world, clock, WIF_PROPAGATION_TIMEOUT_SECONDS="120").onboard(ref)
    assert not report.ok and report.failed_step == "await_propagation"
    assert "AADSTS70021" in report.error and "120s" in report.error
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref)) is None


def test_failed_cluster_is_permanent(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("broken"), state="Failed")
    report = make(world, clock).onboard(ref)
    assert not report.ok and report.failed_step == "discover" and "Failed" in report.error
    assert clock.sleeps == [] and world.writes() == 0


@pytest.mark.parametrize("op", ["arm.credentials.put", "kube.Secret.create", "kube.ClusterRoleBinding.create"])
def test_transient_errors_are_retried_with_retry_after(world: fakes.World, clock: fakes.Clock, op: str) -> None:
    ref = world.add_cluster(fakes.cluster_id("flaky"))
    world.fail(op, errors.Throttled("429 Too Many Requests", delay=7.0), errors.TemporaryError("503"))
    report = make(world, clock).onboard(ref)
    assert report.ok, report.error
    assert 7.0 in clock.sleeps  # Retry-After honoured
    assert len(world.credentials) == 2
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref)) is not None


def test_transient_errors_give_up_after_attempts(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("down"))
    world.fail("kube.Secret.get", *[errors.Unreachable("connection refused") for _ in range(10)])
    report = make(world, clock).onboard(ref)
    assert not report.ok and report.failed_step == "register" and "connection refused" in report.error


def test_foreign_secret_is_never_overwritten(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("taken"))
    key = ("Secret", "argocd", manifests.secret_name(ref))
    world.objects[fakes.model.ClusterRef.parse(fakes.HUB_ID).key][key] = {
        "kind": "Secret", "metadata": {"name": key[2], "namespace": "argocd", "resourceVersion": "1"}, "data": {}}
    report = make(world, clock).onboard(ref)
    assert not report.ok and report.failed_step == "register" and "not created by" in report.error
    assert world.object(fakes.HUB_ID, *key)["data"] == {}  # type: ignore[index]


def test_azure_rbac_cluster_gets_a_deterministic_role_assignment(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("arbac"), azure_rbac=True)
    r = make(world, clock)
    assert r.onboard(ref).ok and r.onboard(ref).ok
    assert len(world.assignments) == 1
    (scope, name), assignment = next(iter(world.assignments.items()))
    assert scope == ref.key and name == manifests.role_assignment_name(ref.id, world.identity.principal_id,
                                                                        "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b")
    assert world.calls["arm.role.put"] == 1


def test_private_cluster_is_bound_and_verified_through_run_command(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("private"), private=True)
    report = make(world, clock).onboard(ref)
    assert report.ok, report.error
    assert report.results["bind_rbac"] == model.Bound("kubernetes", "run-command", manifests.binding_name(world.identity),
                                                      "created")
    assert world.calls["arm.runcommand.run"] == 3  # get (provenance first), apply, auth can-i
    assert not any(op.startswith("kube.ClusterRoleBinding") for op in world.calls)


def test_private_cluster_without_run_command_fails_clearly(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("private"), private=True)
    report = make(world, clock, WIF_RUN_COMMAND="false").onboard(ref)
    assert not report.ok and report.failed_step == "bind_rbac" and "not reachable" in report.error


def test_opt_in_tag_skips_and_cleans_up(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("tagged"), tags={"argocd": "on"})
    r = make(world, clock, WIF_OPT_IN_TAG="argocd=on")
    assert r.onboard(ref).ok
    world.clusters[ref.key] = model.ClusterFacts(**{**world.clusters[ref.key].__dict__, "tags": ()})
    report = r.onboard(ref)
    assert report.ok and "deregister" in report.results and "register" not in report.results
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref)) is None


def test_hub_itself_is_not_registered(world: fakes.World, clock: fakes.Clock) -> None:
    report = make(world, clock).onboard(model.ClusterRef.parse(fakes.HUB_ID))
    assert report.ok and not report.results["discover"].eligible  # type: ignore[attr-defined]
    assert world.writes() == 0


def test_out_of_scope_cluster_is_refused_before_any_call(world: fakes.World, clock: fakes.Clock) -> None:
    other = "/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/x/providers/" \
            "Microsoft.ContainerService/managedClusters/y"
    report = make(world, clock).onboard(model.ClusterRef.parse(other))
    assert not report.ok and "WIF_ALLOWED_SCOPES" in report.error and sum(world.calls.values()) == 0


def test_offboard_removes_only_ours(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("gone"))
    r = make(world, clock)
    assert r.onboard(ref).ok
    report = r.offboard(ref)
    assert report.ok
    assert report.results["deregister"] == model.Deregistered(secret="deleted", binding="deleted")
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref)) is None
    assert len(world.credentials) == 2  # the hub federation is shared by every cluster: kept
    again = r.offboard(ref)
    assert again.ok and again.results["deregister"] == model.Deregistered(secret="absent", binding="absent")


def test_offboard_after_cluster_deleted(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("deleted"), azure_rbac=True)
    r = make(world, clock)
    assert r.onboard(ref).ok
    del world.clusters[ref.key]
    report = r.offboard(ref)
    assert report.ok and report.results["deregister"] == model.Deregistered(secret="deleted", binding="deleted")
    assert world.assignments == {}


def test_in_cluster_topology_federates_each_cluster_and_cleans_up(world: fakes.World, clock: fakes.Clock) -> None:
    r = make(world, clock, WIF_TOPOLOGY="in-cluster", WIF_HUB_CLUSTER_ID="")
    refs = [world.add_cluster(fakes.cluster_id(f"edge-{i}")) for i in range(3)]
    for ref in refs:
        assert r.onboard(ref).ok
        assert world.object(ref.id, "Secret", "argocd", manifests.secret_name(ref)) is not None
    assert len(world.credentials) == 6
    assert r.offboard(refs[0]).ok
    assert len(world.credentials) == 4


def test_in_cluster_topology_stops_before_the_credential_limit(world: fakes.World, clock: fakes.Clock) -> None:
    r = make(world, clock, WIF_TOPOLOGY="in-cluster", WIF_HUB_CLUSTER_ID="")
    for i in range(10):
        assert r.onboard(world.add_cluster(fakes.cluster_id(f"edge-{i}"))).ok
    report = r.onboard(world.add_cluster(fakes.cluster_id("edge-10")))
    assert not report.ok and report.failed_step == "federate"
    assert "20 of 20" in report.error and "WIF_ARGOCD_IDENTITY_ID" in report.error
    assert len(world.credentials) == 20


def test_changed_cluster_updates_the_secret(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("moving"))
    r = make(world, clock)
    assert r.onboard(ref).ok
    world.clusters[ref.key] = model.ClusterFacts(**{**world.clusters[ref.key].__dict__, "server": "https://new:443"})
    report = r.onboard(ref)
    assert report.results["register"] == model.Registered("argocd", manifests.secret_name(ref), "updated")
    secret = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert secret is not None and base64.b64decode(secret["data"]["server"]) == b"https://new:443"


# ---- issue 16: the Secret's contract on re-registration, canonical ids, exact issuers ------------------

def _edit_secret(world: fakes.World, ref: model.ClusterRef, **data: str) -> dict:  # type: ignore[type-arg]
    secret = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert secret is not None
    secret["data"].update({k: base64.b64encode(v.encode()).decode() for k, v in data.items()})
    secret["metadata"]["labels"]["env"] = "prod"  # ApplicationSet selectors
    secret["metadata"].setdefault("annotations", {})["team.example/owner"] = "payments"
    return secret


def test_re_registration_merges_and_keeps_what_people_added_in_argocd(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("edited"))
    r = make(world, clock)
    assert r.onboard(ref).ok
    _edit_secret(world, ref, project="payments", namespaces="a,b", clusterResources="true", shard="2")
    world.clusters[ref.key] = model.ClusterFacts(**{**world.clusters[ref.key].__dict__, "server": "https://new:443"})
    report = r.onboard(ref)
    assert report.ok and report.results["register"].action == "updated"  # type: ignore[attr-defined]
    secret = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert secret is not None
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["server"] == "https://new:443"
    assert (data["project"], data["namespaces"], data["clusterResources"], data["shard"]) == ("payments", "a,b", "true", "2")
    assert secret["metadata"]["labels"]["env"] == "prod"
    assert secret["metadata"]["annotations"]["team.example/owner"] == "payments"
    assert world.calls["kube.Secret.replace"] == 0 and world.calls["kube.Secret.patch"] == 1
    # The edits alone are no reason to write: a third run is unchanged.
    assert r.onboard(ref).results["register"].action == "unchanged"  # type: ignore[attr-defined]


def test_labels_of_tags_no_longer_listed_are_removed(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("tags"), tags={"env": "dev", "team": "a"})
    assert make(world, clock, WIF_LABEL_TAGS="env,team").onboard(ref).ok
    report = make(world, clock, WIF_LABEL_TAGS="env").onboard(ref)
    assert report.ok and report.results["register"].action == "updated"  # type: ignore[attr-defined]
    labels = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))["metadata"]["labels"]  # type: ignore[index]
    assert labels[manifests.TAG_LABEL_PREFIX + "env"] == "dev" and manifests.TAG_LABEL_PREFIX + "team" not in labels


def test_our_secret_recorded_for_another_cluster_is_refused(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("mine"))
    r = make(world, clock)
    assert r.onboard(ref).ok
    secret = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert secret is not None
    other = fakes.cluster_id("someone-else")
    secret["metadata"]["annotations"][manifests.ANNOTATION_CLUSTER_ID] = other
    before = dict(secret["data"])
    report = r.onboard(ref)
    assert not report.ok and report.failed_step == "register"
    assert "recorded for cluster" in report.error and other in report.error and "delete it" in report.error
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))["data"] == before  # type: ignore[index]


def test_names_and_labels_come_from_arms_canonical_id_not_the_events_spelling(world: fakes.World,
                                                                              clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("Prod-1", "RG-Apps"))
    spelled = model.ClusterRef.parse(fakes.cluster_id("prod-1", "rg-apps").replace("resourceGroups", "resourcegroups"))
    r = make(world, clock)
    assert r.onboard(spelled).ok and r.onboard(ref).ok
    secrets = [k for k in world.objects[model.ClusterRef.parse(fakes.HUB_ID).key] if k[0] == "Secret"]
    assert len(secrets) == 1
    secret = world.object(fakes.HUB_ID, *secrets[0])
    assert secret is not None and secret["metadata"]["annotations"][manifests.ANNOTATION_CLUSTER_ID] == ref.id
    assert secret["metadata"]["labels"][manifests.LABEL_PREFIX + "resource-group"] == "RG-Apps"


def test_a_credential_differing_only_by_the_slash_is_not_taken_as_ours(world: fakes.World, clock: fakes.Clock) -> None:
    hub = world.clusters[model.ClusterRef.parse(fakes.HUB_ID).key]
    assert hub.oidc_issuer and hub.oidc_issuer.endswith("/")
    s = fakes.settings()
    for subject in s.subjects():  # hand-made, without the slash AKS issuers carry
        world.credentials[f"hand-{subject[-6:]}"] = (model.FederatedCredential(f"hand-{subject[-6:]}",
                                                                               hub.oidc_issuer.rstrip("/"), subject), 0.0)
    ref = world.add_cluster(fakes.cluster_id("slash"))
    report = make(world, clock).onboard(ref)
    assert report.ok, report.error
    federated = report.results["federate"]
    assert len(federated.created) == 2  # type: ignore[attr-defined]
    assert any("trailing slash" in note for note in federated.notes)  # type: ignore[attr-defined]
    assert {c.issuer for c, _ in world.credentials.values()} == {hub.oidc_issuer, hub.oidc_issuer.rstrip("/")}


def test_propagation_deadline_fails_with_the_diagnosis(world: fakes.World, clock: fakes.Clock) -> None:
    hub = world.clusters[model.ClusterRef.parse(fakes.HUB_ID).key]
    assert hub.oidc_issuer
    world.propagation_delay = 10 ** 6  # never within the deadline
    ref = world.add_cluster(fakes.cluster_id("never"))
    report = make(world, clock, WIF_PROPAGATION_TIMEOUT_SECONDS="60").onboard(ref)
    assert not report.ok and report.failed_step == "await_propagation"
    assert "gave up after 60s" in report.error and "AADSTS70021" in report.error
    assert f"issuer {hub.oidc_issuer!r}" in report.error and "system:serviceaccount:argocd:" in report.error
    assert "still propagating" in report.error  # the exact credential exists: Entra has not caught up


def test_the_argocd_name_people_use_is_kept_and_a_template_change_renames(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("prod"))
    assert make(world, clock).onboard(ref).ok
    secret = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert secret is not None

    def name() -> str:
        got = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
        assert got is not None
        return base64.b64decode(got["data"]["name"]).decode()

    first = name()
    # A template change renames (the name still is the one we wrote) ...
    report = make(world, clock, WIF_CLUSTER_NAME_TEMPLATE="{resource_group}-{name}-{hash}").onboard(ref)
    assert report.ok and name().startswith("rg-apps-prod-") and name() != first
    # ... a name set by hand stays, with a note, and the next run is unchanged.
    secret = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert secret is not None
    secret["data"]["name"] = base64.b64encode(b"payments-prod").decode()
    report = make(world, clock, WIF_CLUSTER_NAME_TEMPLATE="{resource_group}-{name}-{hash}").onboard(ref)
    assert report.ok and name() == "payments-prod"
    assert any("kept the Argo CD name 'payments-prod'" in n for n in report.results["register"].notes)  # type: ignore[attr-defined]
    again = make(world, clock, WIF_CLUSTER_NAME_TEMPLATE="{resource_group}-{name}-{hash}").onboard(ref)
    assert again.results["register"].action == "unchanged"  # type: ignore[attr-defined]


def test_a_secret_from_before_unique_names_keeps_its_bare_name(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("legacy"))
    assert make(world, clock).onboard(ref).ok
    secret = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert secret is not None
    secret["data"]["name"] = base64.b64encode(b"legacy").decode()  # what versions before unique names wrote
    del secret["metadata"]["annotations"][manifests.ANNOTATION_ARGOCD_NAME]
    report = make(world, clock).onboard(ref)
    assert report.ok and report.results["register"].action == "updated"  # type: ignore[attr-defined]
    got = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert got is not None and base64.b64decode(got["data"]["name"]) == b"legacy"  # destinations by name keep working


def test_an_identity_in_another_tenant_than_the_hubs_names_its_tenant(world: fakes.World, clock: fakes.Clock) -> None:
    import json

    world.identity = model.IdentityFacts(world.identity.id, world.identity.name, world.identity.client_id,
                                         world.identity.principal_id, "99999999-0000-4000-8000-000000000000")
    ref = world.add_cluster(fakes.cluster_id("cross-tenant"))
    assert make(world, clock).onboard(ref).ok
    got = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))
    assert got is not None
    env = json.loads(base64.b64decode(got["data"]["config"]))["execProviderConfig"]["env"]
    assert env["AZURE_TENANT_ID"] == "99999999-0000-4000-8000-000000000000"  # the webhook would inject the hub's
