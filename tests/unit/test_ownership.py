"""Ownership by recorded provenance: a foreign object under our name survives onboarding and
offboarding intact, and the run ends with the conflict named (issue 12)."""
from __future__ import annotations

import copy
from typing import Any

import pytest

from tests import fakes
from wif_core import errors, manifests, model, runner
from wif_core.steps import rbac

HUB = model.ClusterRef.parse(fakes.HUB_ID)


@pytest.fixture
def clock() -> fakes.Clock:
    return fakes.Clock()


@pytest.fixture
def world(clock: fakes.Clock) -> fakes.World:
    return fakes.World(clock=clock)


def make(world: fakes.World, clock: fakes.Clock, **env: str) -> runner.Runner:
    return runner.Runner(world.ports(), fakes.settings(**env), clock=clock, sleep=clock.sleep)


def binding_key(world: fakes.World) -> tuple[str, None, str]:
    return ("ClusterRoleBinding", None, manifests.binding_name(world.identity))


def foreign_binding(world: fakes.World, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": rbac.API, "kind": "ClusterRoleBinding", "resourceVersion": "1",
            "metadata": {"name": manifests.binding_name(world.identity), "resourceVersion": "1", **meta},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "name": "platform-team"}]}


def secret_of(world: fakes.World, ref: model.ClusterRef) -> Any:
    return world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref))


# ---- ClusterRoleBinding: the Kubernetes API and AKS run command ----------------------------------------

@pytest.mark.parametrize("private", [False, True], ids=["api", "run-command"])
@pytest.mark.parametrize("meta", [
    {"labels": {"app.kubernetes.io/managed-by": "Helm"}},
    {},
    {"labels": {manifests.LABEL_MANAGED_BY: manifests.MANAGED_BY},
     "annotations": {manifests.ANNOTATION_CLUSTER_ID: fakes.cluster_id("another-cluster")}},
], ids=["helm", "unlabelled", "ours-for-another-cluster"])
def test_a_foreign_binding_survives_onboarding_and_offboarding(world: fakes.World, clock: fakes.Clock,
                                                              private: bool, meta: dict[str, Any]) -> None:
    ref = world.add_cluster(fakes.cluster_id("shared"), private=private)
    world.objects[ref.key][binding_key(world)] = foreign_binding(world, **meta)
    before = copy.deepcopy(world.objects[ref.key][binding_key(world)])
    report = make(world, clock).onboard(ref)
    assert not report.ok and report.failed_step == "bind_rbac"
    assert manifests.binding_name(world.identity) in report.error and "left as it is" in report.error
    assert ("recorded for cluster" in report.error) if "annotations" in meta else ("seems to belong to" in report.error)
    if private:
        assert "az aks command invoke" in report.error  # the fix names the path that reaches the cluster
    assert world.objects[ref.key][binding_key(world)] == before
    assert secret_of(world, ref) is None  # nothing points Argo CD at a cluster it cannot use
    offboard = make(world, clock).offboard(ref)
    assert offboard.ok and offboard.results["deregister"].binding in ("foreign", "other-cluster")  # type: ignore[attr-defined]
    assert world.objects[ref.key][binding_key(world)] == before


def test_a_binding_written_by_an_earlier_version_is_adopted_and_stamped(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("legacy"))
    old = manifests.cluster_role_binding(fakes.settings(), world.identity, ref)
    del old["metadata"]["annotations"][manifests.ANNOTATION_CLUSTER_ID]  # what versions before provenance wrote
    old["metadata"]["resourceVersion"] = "1"
    world.objects[ref.key][binding_key(world)] = old
    report = make(world, clock).onboard(ref)
    assert report.ok, report.error
    assert report.results["bind_rbac"].action == "updated"  # type: ignore[attr-defined]
    stamped = world.objects[ref.key][binding_key(world)]
    assert stamped["metadata"]["annotations"][manifests.ANNOTATION_CLUSTER_ID] == ref.id


def test_a_labelled_binding_of_another_identity_is_not_adopted(world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("label-only"))
    labelled = foreign_binding(world, labels={manifests.LABEL_MANAGED_BY: manifests.MANAGED_BY},
                               annotations={"aks-argocd-wif.io/identity": "/subscriptions/x/other-identity"})
    world.objects[ref.key][binding_key(world)] = labelled
    report = make(world, clock).onboard(ref)
    assert not report.ok and "seems to belong to aks-argocd-wif" in report.error
    assert world.objects[ref.key][binding_key(world)]["subjects"] == [{"kind": "Group", "name": "platform-team"}]


# ---- Azure RBAC role assignments ------------------------------------------------------------------

def _assignment(world: fakes.World, ref: model.ClusterRef, **changes: str) -> model.RoleAssignment:
    name = manifests.role_assignment_name(ref.id, world.identity.principal_id, "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b")
    values = dict(name=name, scope=ref.id, principal_id=world.identity.principal_id,
                  role_definition_id=manifests.role_definition_id(ref.subscription_id, "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"))
    values.update(changes)
    return model.RoleAssignment(**values)


@pytest.mark.parametrize("changes, words", [
    ({"principal_id": "someone-else"}, "principal someone-else"),
    ({"role_definition_id": "/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/"
                            "7f6c6a51-bcf8-42ba-9220-52d62157d7db"}, "role 7f6c6a51"),
    ({"description": "granted by hand for the audit"}, "its description says"),
    ({"description": f"aks-argocd-wif for {fakes.cluster_id('elsewhere')}"}, "its description says"),
], ids=["principal", "role", "foreign-description", "another-cluster"])
def test_a_role_assignment_under_our_name_that_is_not_our_grant_is_a_conflict(
        world: fakes.World, clock: fakes.Clock, changes: dict[str, str], words: str) -> None:
    ref = world.add_cluster(fakes.cluster_id("arbac"), azure_rbac=True)
    theirs = _assignment(world, ref, **changes)
    world.assignments[(ref.key, theirs.name)] = theirs
    report = make(world, clock).onboard(ref)
    assert not report.ok and report.failed_step == "bind_rbac", report.error
    assert words in report.error and "az role assignment delete --ids" in report.error
    assert make(world, clock).offboard(ref).ok
    assert world.assignments == {(ref.key, theirs.name): theirs}  # never deleted
    assert secret_of(world, ref) is None


def test_our_role_assignment_records_the_cluster_and_is_removed_on_offboarding(world: fakes.World,
                                                                               clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("arbac-ours"), azure_rbac=True)
    assert make(world, clock).onboard(ref).ok
    (only,) = world.assignments.values()
    assert only.description == f"aks-argocd-wif for {ref.id}"
    assert make(world, clock).offboard(ref).ok and world.assignments == {}


# ---- federated identity credentials ----------------------------------------------------------------

def test_a_credential_under_our_name_trusting_another_subject_is_not_overwritten(world: fakes.World,
                                                                                clock: fakes.Clock) -> None:
    s = fakes.settings()
    hub = world.clusters[HUB.key]
    assert hub.oidc_issuer
    ours = manifests.desired_credentials(s, HUB, hub.oidc_issuer)[0]
    squatter = model.FederatedCredential(ours.name, "https://token.actions.githubusercontent.com", "repo:org/app:main")
    world.credentials[ours.name] = (squatter, 0.0)
    ref = world.add_cluster(fakes.cluster_id("fic"))
    report = make(world, clock).onboard(ref)
    assert not report.ok and report.failed_step == "federate"
    assert ours.name in report.error and "repo:org/app:main" in report.error and "left as it is" in report.error
    assert world.credentials[ours.name][0] == squatter


def test_a_same_trust_credential_under_another_name_is_reused_and_never_deleted(world: fakes.World,
                                                                               clock: fakes.Clock) -> None:
    env = {"WIF_TOPOLOGY": "in-cluster", "WIF_HUB_CLUSTER_ID": ""}
    s = fakes.settings(**env)
    ref = world.add_cluster(fakes.cluster_id("incluster"))
    issuer = world.clusters[ref.key].oidc_issuer
    assert issuer
    handmade = model.FederatedCredential("made-by-hand", issuer, s.subjects()[0])
    world.credentials[handmade.name] = (handmade, 0.0)
    report = make(world, clock, **env).onboard(ref)
    assert report.ok, report.error
    assert len(report.results["federate"].created) == 1  # type: ignore[attr-defined]
    offboard = make(world, clock, **env).offboard(ref)
    assert offboard.ok and len(offboard.results["deregister"].credentials) == 1  # type: ignore[attr-defined]
    assert list(world.credentials) == ["made-by-hand"]


# ---- the hub and clusters outside the opt-in -------------------------------------------------------

def test_onboarding_the_hub_is_skipped_without_a_write_or_a_look_at_its_rbac(world: fakes.World,
                                                                             clock: fakes.Clock) -> None:
    for chain_name in ("register", "deregister"):
        world.calls.clear()
        report = make(world, clock).run(chain_name, HUB)
        assert report.ok, report.error
        assert "hub" in report.results["deregister"].reason  # type: ignore[attr-defined]
        assert world.writes() == 0
        assert not any(op.startswith("kube.") for op in world.calls), world.calls


def test_a_cluster_outside_the_opt_in_that_was_never_registered_gets_one_look_and_no_write(world: fakes.World,
                                                                                           clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("untagged"))
    report = make(world, clock, WIF_OPT_IN_TAG="argocd=on").onboard(ref)
    assert report.ok and "not registered" in report.results["deregister"].reason  # type: ignore[attr-defined]
    assert world.writes() == 0
    assert world.calls["kube.ClusterRoleBinding.get"] == 1  # a grant of ours left by a run that died first?
    # A cluster outside the opt-in that does not let us look is skipped, not failed.
    world.fail("kube.ClusterRoleBinding.get", errors.Forbidden("403"))
    refused = make(world, clock, WIF_OPT_IN_TAG="argocd=on").onboard(ref)
    assert refused.ok and refused.results["deregister"].binding == "skipped"  # type: ignore[attr-defined]


def test_a_grant_left_by_a_run_that_died_before_its_secret_is_swept_when_the_cluster_leaves_the_opt_in(
        world: fakes.World, clock: fakes.Clock) -> None:
    ref = world.add_cluster(fakes.cluster_id("crashed"), tags={"argocd": "on"})

    class Died(BaseException):
        pass

    world.fail_after("kube.ClusterRoleBinding.create", Died())
    with pytest.raises(Died):
        make(world, clock, WIF_OPT_IN_TAG="argocd=on").onboard(ref)
    assert binding_key(world) in world.objects[ref.key] and secret_of(world, ref) is None
    world.clusters[ref.key] = model.ClusterFacts(**{**world.clusters[ref.key].__dict__, "tags": ()})
    report = make(world, clock, WIF_OPT_IN_TAG="argocd=on").onboard(ref)
    assert report.ok and report.results["deregister"].binding == "deleted"  # type: ignore[attr-defined]
    assert binding_key(world) not in world.objects[ref.key]
