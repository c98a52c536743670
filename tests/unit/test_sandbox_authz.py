"""The sandbox's Azure RBAC and ABAC evaluation (wif_sandbox.arm.authz, .abac), on plain data."""
from __future__ import annotations

import pytest

from wif_sandbox.arm import abac, authz

SUB = "/subscriptions/00000000-0000-0000-0000-00000000aaaa"
CLUSTER = f"{SUB}/resourceGroups/rg-apps/providers/Microsoft.ContainerService/managedClusters/aks-1"
AKS_ROLES = ["b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b", "3498e952-d568-435e-9b2c-8d77e338d7f7"]
ARGO = "6c1d0a8e-1111-4222-8333-944455556666"
# infra/modules/scope-access-rg.bicep's condition, with its placeholders filled
CONDITION = f"""
( ( !(ActionMatches{{'Microsoft.Authorization/roleAssignments/write'}}) )
  OR ( @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{', '.join(AKS_ROLES)}}}
       AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {{{ARGO}}} ) )
AND
( ( !(ActionMatches{{'Microsoft.Authorization/roleAssignments/delete'}}) )
  OR ( @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{', '.join(AKS_ROLES)}}}
       AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {{{ARGO}}} ) )
"""
ROLES = {
    "reader": authz.RoleDefinition("reader", "Reader", ("*/read",)),
    "rbac-admin": authz.RoleDefinition("rbac-admin", "Role Based Access Control Administrator",
                                       ("Microsoft.Authorization/roleAssignments/write",
                                        "Microsoft.Authorization/roleAssignments/delete", "*/read"),),
    "contributor": authz.RoleDefinition("contributor", "Contributor", ("*",),
                                        ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write")),
}


@pytest.mark.parametrize("method, path, action, scope", [
    ("GET", CLUSTER, "Microsoft.ContainerService/managedClusters/read", CLUSTER),
    ("POST", f"{CLUSTER}/listClusterUserCredential",
     "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action", CLUSTER),
    ("POST", f"{CLUSTER}/runCommand", "Microsoft.ContainerService/managedClusters/runCommand/action", CLUSTER),
    ("GET", f"{CLUSTER}/commandResults/abc", "Microsoft.ContainerService/managedClusters/commandResults/read",
     f"{CLUSTER}/commandResults/abc"),
    ("PUT", f"{CLUSTER}/providers/Microsoft.Authorization/roleAssignments/g1", "Microsoft.Authorization/roleAssignments/write",
     f"{CLUSTER}/providers/Microsoft.Authorization/roleAssignments/g1"),
    ("GET", f"{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id/federatedIdentityCredentials",
     "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
     f"{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"),
    ("GET", SUB, "Microsoft.Resources/subscriptions/read", SUB),
    ("GET", f"{SUB}/resourcegroups", "Microsoft.Resources/subscriptions/resourceGroups/read", SUB),
    ("PUT", f"{SUB}/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/write", f"{SUB}/resourcegroups/rg"),
])
def test_the_action_of_a_request_is_named_as_arm_names_it(method: str, path: str, action: str, scope: str) -> None:
    assert authz.action_of(method, path + "?api-version=2024-01-01") == (action, scope)


def test_inherited_grants_actions_and_not_actions() -> None:
    reader_on_sub = [authz.Grant("p", SUB, "reader")]
    assert authz.decide(reader_on_sub, ROLES, "Microsoft.ContainerService/managedClusters/read", CLUSTER).allowed
    assert not authz.decide(reader_on_sub, ROLES, "Microsoft.ContainerService/managedClusters/write", CLUSTER).allowed
    on_other_group = [authz.Grant("p", f"{SUB}/resourceGroups/rg-other", "reader")]
    assert not authz.decide(on_other_group, ROLES, "Microsoft.ContainerService/managedClusters/read", CLUSTER).allowed
    lookalike = [authz.Grant("p", f"{SUB}/resourceGroups/rg-app", "reader")]  # a prefix, not a parent
    assert not authz.decide(lookalike, ROLES, "Microsoft.ContainerService/managedClusters/read", CLUSTER).allowed
    contributor = [authz.Grant("p", SUB, "contributor")]
    assert authz.decide(contributor, ROLES, "Microsoft.ContainerService/managedClusters/write", CLUSTER).allowed
    assert not authz.decide(contributor, ROLES, "Microsoft.Authorization/roleAssignments/write", CLUSTER).allowed


def _assignment_request(action: str, role: str, principal: str) -> abac.Request:
    attrs = authz.assignment_attributes(f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}", principal,
                                        "ServicePrincipal")
    return abac.Request(action, attrs if action.endswith("write") else {}, attrs if action.endswith("delete") else {})


@pytest.mark.parametrize("action", ["Microsoft.Authorization/roleAssignments/write",
                                    "Microsoft.Authorization/roleAssignments/delete"])
def test_the_constrained_delegation_condition_of_infra(action: str) -> None:
    grants = [authz.Grant("fn", SUB, "rbac-admin", CONDITION)]
    ok = authz.decide(grants, ROLES, action, CLUSTER, _assignment_request(action, AKS_ROLES[1], ARGO))
    assert ok.allowed
    for role, principal in ((AKS_ROLES[0], "someone-else"), ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", ARGO)):
        refused = authz.decide(grants, ROLES, action, CLUSTER, _assignment_request(action, role, principal))
        assert not refused.allowed and refused.condition_failed
        code, message = authz.refusal("app-1", "fn", action, CLUSTER, refused)
        assert code == "AuthorizationFailed" and "ABAC condition not fulfilled" in message and action in message
    # Reading is not what the condition constrains.
    assert authz.decide(grants, ROLES, "Microsoft.Authorization/roleAssignments/read", CLUSTER).allowed


def test_malformed_conditions_are_refused_not_guessed() -> None:
    for bad in ("@Request[x] Frobnicates {a}", "(ActionMatches{'a'}", "ActionMatches{'a'} AND", "@Request[x] GuidEquals"):
        with pytest.raises(abac.ConditionError):
            abac.parse(bad)
    assert not abac.evaluate(abac.parse("@Request[missing] StringEquals 'x'"), abac.Request("a", {}, {}))
    code, message = authz.refusal("app-1", "oid-1", "Microsoft.X/y/read", "/s", authz.Decision(False))
    assert message.startswith("The client 'app-1' with object id 'oid-1' does not have authorization to perform action "
                              "'Microsoft.X/y/read' over scope '/s' or the scope is invalid.")
