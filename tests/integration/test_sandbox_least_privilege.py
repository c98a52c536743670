"""Least privilege, proven: the chain runs with exactly infra's Azure rights, and each right is needed.

The sandbox's ARM authorizes every request as Azure does (``Faults.arm_rbac``: role assignments at
the scope and above, built-in and custom role definitions, the ABAC condition on role-assignment
writes); the function app gets exactly ``wif_sandbox.infra_grants`` (kept equal to ``infra/`` below),
with one allowed resource group so that the hub and the Argo CD identity sit outside it, as in a
real deployment. Each right is then taken away in turn: some step of some run must fail with ARM's
``AuthorizationFailed`` naming the action, and the product's message naming the grant to fix it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration import wired
from wif_core import model, runner
from wif_sandbox import infra_grants
from wif_sandbox.world import Sandbox, TargetSpec

TARGETS = [TargetSpec("aks-kube"), TargetSpec("aks-arbac", azure_rbac=True), TargetSpec("aks-priv", private=True)]


class Deployment:
    def __init__(self, sb: Sandbox, w: wired.Wired, made: dict[str, list[str]]) -> None:
        self.sb, self.w, self.made = sb, w, made

    def onboard(self, cluster_id: str) -> runner.Report:
        return runner.Runner(self.w.ports, self.w.settings, sleep=wired.fast_sleep()).onboard(
            model.ClusterRef.parse(cluster_id))

    def offboard_deleted(self) -> runner.Report:
        """A deleted cluster's leftovers are looked for at its scope: a role assignment read."""
        doomed = self.sb.create_cluster("aks-doomed", "rg-apps")
        self.sb.delete_cluster(doomed)
        return runner.Runner(self.w.ports, self.w.settings, sleep=wired.fast_sleep()).offboard(
            model.ClusterRef.parse(doomed))

    def scenarios(self) -> dict[str, runner.Report]:
        out = {f"onboard {model.ClusterRef.parse(c).name}": self.onboard(c) for c in self.sb.target_ids}
        out["offboard a deleted cluster"] = self.offboard_deleted()
        return out


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    azure_rbac = getattr(request, "param", True)
    with Sandbox.start(tmp_path / "sb", targets=TARGETS) as sb:
        for label in list(sb.function_grants):  # the boot's grants are at the subscriptions: one group instead
            infra_grants.revoke(sb, sb.function_grants, label)
        scope = f"/subscriptions/{sb.subscription_id}/resourceGroups/rg-apps"
        made = infra_grants.grant(sb, scopes=(scope,), azure_rbac=azure_rbac)
        assert sb.faults.arm_rbac  # on by default
        w = wired.wire(sb, monkeypatch, env={"WIF_ALLOWED_SCOPES": scope})
        yield Deployment(sb, w, made)


def test_the_chain_runs_with_exactly_infras_rights(deployment: Deployment) -> None:
    results = deployment.scenarios()
    failed = {name: r.error for name, r in results.items() if not r.ok}
    assert failed == {}, failed
    # and the enforcement is real: the function may not write a cluster, which no infra role allows
    refused = deployment.sb.log.entries()
    assert all(e.status != 403 for e in refused), [e.key for e in refused if e.status == 403]


# label -> (the deployment: with the Azure-RBAC assignment grant or without, as infra's
# WIF_ENABLE_AZURE_RBAC_ASSIGNMENTS decides), the action ARM must name
NEEDED = {
    "cluster-user": (True, "Microsoft.ContainerService/managedClusters/"),
    "run-command": (True, "Microsoft.ContainerService/managedClusters/runCommand/action"),
    "rbac-admin": (True, "Microsoft.Authorization/roleAssignments/write"),
    "hub-cluster-user": (True, "Microsoft.ContainerService/managedClusters/"),
    "federation": (True, "Microsoft.ManagedIdentity/userAssignedIdentities/"),
    # Reader's */read is also in Role Based Access Control Administrator: it is needed where infra
    # grants no role-assignment writes (the default), for the role assignment reads.
    "reader": (False, "Microsoft.Authorization/roleAssignments/read"),
}


@pytest.mark.parametrize("deployment, label", [(NEEDED[k][0], k) for k in NEEDED], indirect=["deployment"],
                         ids=list(NEEDED))
def test_each_right_is_needed(deployment: Deployment, label: str) -> None:
    infra_grants.revoke(deployment.sb, deployment.made, label)
    results = deployment.scenarios()
    failed = {name: r for name, r in results.items() if not r.ok}
    action = NEEDED[label][1]
    named = [name for name, r in failed.items() if "AuthorizationFailed" in r.error and action in r.error]
    assert named, {name: r.error for name, r in results.items()}
    for name in named:
        assert re.search(r"grant this app's identity|give this app's identity", failed[name].error), failed[name].error


def test_the_table_is_infras(deployment: Deployment) -> None:
    """The grants the sandbox gives are the ones the Bicep declares: role GUIDs per module, custom actions."""
    infra = infra_grants.INFRA
    scope_rg = (infra / "modules/scope-access-rg.bicep").read_text()
    scope_sub = (infra / "modules/scope-access-subscription.bicep").read_text()
    hub = (infra / "modules/hub-access.bicep").read_text()
    for text in (scope_rg, scope_sub):
        assert {infra_grants.READER, infra_grants.CLUSTER_USER, infra_grants.RBAC_ADMIN} <= set(
            re.findall(r"roleDefinitions', '([0-9a-f-]{36})'", text))
    assert re.findall(r"roleDefinitions', '([0-9a-f-]{36})'", hub) == [infra_grants.CLUSTER_USER]
    roles = infra_grants.custom_roles()
    assert roles[infra_grants.RUN_COMMAND].actions == ("Microsoft.ContainerService/managedClusters/runCommand/action",
                                                      "Microsoft.ContainerService/managedClusters/commandResults/read")
    assert all(a.startswith("Microsoft.ManagedIdentity/userAssignedIdentities/")
               for a in roles[infra_grants.FEDERATION].actions) and len(roles[infra_grants.FEDERATION].actions) == 4
    assert "ROLE_IDS" not in infra_grants.condition("p") and "ActionMatches" in infra_grants.condition("p")


def test_the_abac_condition_lets_the_function_grant_nothing_else(deployment: Deployment) -> None:
    from wif_core import errors, manifests

    cluster = deployment.sb.target_ids[1]
    sub = cluster.split("/")[2]
    owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
    for role, principal in ((owner, deployment.sb.function_principal_id),  # itself, Owner
                            (infra_grants.AKS_RBAC_ROLES[0], deployment.sb.function_principal_id)):  # itself, AKS admin
        wanted = model.RoleAssignment(manifests.role_assignment_name(cluster, principal, role), cluster,
                                      manifests.role_definition_id(sub, role), principal)
        with pytest.raises(errors.Forbidden, match="ABAC condition not fulfilled"):
            deployment.w.ports.roles.create(wanted)
    assert deployment.onboard(cluster).ok  # the grant the product makes is the one the condition allows
