"""Role assignments through the unmodified ``azure-mgmt-authorization``, and what they grant on AKS.

ARM's rules (GUID names, one principal+role+scope, no in-place change, unknown
principals refused without ``principalType``) and the Azure-RBAC cluster's API
server honouring the AKS built-in roles at the cluster scope.
"""
from __future__ import annotations

import uuid

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from tests.conftest import Azure
from wif_sandbox.arm.kubeconfig import AKS_SERVER_APP_ID
from wif_sandbox.arm.roles import AKS_RBAC_CLUSTER_ADMIN, AKS_RBAC_READER
from wif_sandbox.world import Sandbox


def _role(sb: Sandbox, guid: str) -> str:
    return f"/subscriptions/{sb.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _argocd_principal(sb: Sandbox) -> str:
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    return identity.wi.principal_id


def _params(sb: Sandbox, guid: str, principal: str, ptype: str | None = "ServicePrincipal") -> RoleAssignmentCreateParameters:
    return RoleAssignmentCreateParameters(role_definition_id=_role(sb, guid), principal_id=principal, principal_type=ptype)


def test_role_assignment_lifecycle(sandbox: Sandbox, azure: Azure) -> None:
    scope, principal, name = sandbox.target_ids[1], _argocd_principal(sandbox), str(uuid.uuid4())
    ops = azure.auth.role_assignments
    made = ops.create(scope, name, _params(sandbox, AKS_RBAC_CLUSTER_ADMIN, principal))
    assert (made.name, made.scope, made.principal_id) == (name, scope, principal)
    assert ops.get(scope, name).role_definition_id.endswith(AKS_RBAC_CLUSTER_ADMIN)
    ops.create(scope, name, _params(sandbox, AKS_RBAC_CLUSTER_ADMIN, principal))  # same again: idempotent
    with pytest.raises(HttpResponseError) as twin:
        ops.create(scope, str(uuid.uuid4()), _params(sandbox, AKS_RBAC_CLUSTER_ADMIN, principal))
    assert twin.value.status_code == 409 and twin.value.error.code == "RoleAssignmentExists"
    with pytest.raises(HttpResponseError) as changed:
        ops.create(scope, name, _params(sandbox, AKS_RBAC_READER, principal))
    assert changed.value.error.code == "RoleAssignmentUpdateNotPermitted"
    at = list(ops.list_for_scope(scope, filter="atScope()"))
    mine = list(ops.list_for_scope(f"/subscriptions/{sandbox.subscription_id}", filter=f"principalId eq '{principal}'"))
    # atScope(): at the scope and above, so the subscription-wide grants of the function app and the
    # operator are there too (as in Azure)
    assert [a.name for a in at if a.scope == scope] == [name] and [a.name for a in mine] == [name]
    assert {a.scope for a in at} == {scope, f"/subscriptions/{sandbox.subscription_id}"}
    assert ops.delete(scope, name).name == name
    assert ops.delete(scope, name) is None  # 204: already gone
    with pytest.raises(ResourceNotFoundError):
        ops.get(scope, name)


def test_role_assignment_validation(module_sandbox: Sandbox, module_azure: Azure) -> None:
    ops, scope = module_azure.auth.role_assignments, module_sandbox.target_ids[1]
    principal = _argocd_principal(module_sandbox)
    with pytest.raises(HttpResponseError) as bad_name:
        ops.create(scope, "not-a-guid", _params(module_sandbox, AKS_RBAC_READER, principal))
    assert bad_name.value.error.code == "InvalidRoleAssignmentId"
    with pytest.raises(HttpResponseError) as unknown:
        ops.create(scope, str(uuid.uuid4()), _params(module_sandbox, AKS_RBAC_READER, str(uuid.uuid4()), None))
    assert unknown.value.status_code == 400 and unknown.value.error.code == "PrincipalNotFound"
    known = ops.create(scope, str(uuid.uuid4()), _params(module_sandbox, AKS_RBAC_READER, principal, None))
    assert known.principal_type == "ServicePrincipal"  # a known principal needs no principalType
    ops.delete(scope, known.name)


def test_azure_rbac_cluster_honours_role_assignments(sandbox: Sandbox, azure: Azure) -> None:
    cluster_id = sandbox.target_ids[1]  # the Azure-RBAC target
    identity = sandbox.arm.identities.get(sandbox.identity_id)
    assert identity is not None
    token = sandbox.entra.issue_token(identity.wi.principal_id, identity.wi.client_id, AKS_SERVER_APP_ID)
    server, ca = sandbox.plane(cluster_id).api_url, str(sandbox.ca_bundle)

    def status(path: str) -> int:
        return requests.get(server + path, headers={"Authorization": f"Bearer {token}"}, verify=ca, timeout=5).status_code

    assert status("/api/v1/namespaces") == 403
    name = str(uuid.uuid4())
    azure.auth.role_assignments.create(cluster_id, name, _params(sandbox, AKS_RBAC_READER, identity.wi.principal_id))
    assert (status("/api/v1/namespaces"), status("/api/v1/namespaces/default/secrets")) == (200, 403)
    azure.auth.role_assignments.delete(cluster_id, name)
    azure.auth.role_assignments.create(f"/subscriptions/{sandbox.subscription_id}/resourceGroups/rg-apps",
                                       str(uuid.uuid4()),
                                       _params(sandbox, AKS_RBAC_CLUSTER_ADMIN, identity.wi.principal_id))
    assert status("/api/v1/namespaces/default/secrets") == 200  # inherited from the resource group
    assert status("/api/v1/namespaces") == 200
