"""The function app's Azure rights exactly as ``infra/`` declares them, for the sandbox's ARM.

One table, read where it can be from the Bicep itself (the ABAC condition text, the custom roles'
actions), and kept equal to the rest of the Bicep by ``tests/integration/test_sandbox_least_privilege.py``:

* at every allowed scope (``scope-access-rg.bicep`` / ``scope-access-subscription.bicep``): Reader,
  Azure Kubernetes Service Cluster User Role, the custom run-command role (WIF_RUN_COMMAND) and Role
  Based Access Control Administrator under the constrained-delegation condition (Azure-RBAC clusters);
* on the hub (``hub-access.bicep``): Azure Kubernetes Service Cluster User Role;
* on the Argo CD identity (``argocd-identity-access.bicep``): the custom federated-credential role.

``Faults.arm_rbac`` (on by default) enforces them; the sandbox gives its function app these
assignments at boot (``grant``) at the subscriptions it allows (``Grant.label`` names each, so a
test can take one away and see the step that needs it).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from wif_sandbox.arm import authz, builtin_roles

if TYPE_CHECKING:
    from wif_sandbox.world import Sandbox

INFRA = Path(__file__).resolve().parents[1] / "infra"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
AKS_RBAC_ROLES = ("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b", "3498e952-d568-435e-9b2c-8d77e338d7f7",
                  "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb", "7f6c6a51-bcf8-42ba-9220-52d62157d7db")
_NS = uuid.UUID("0b7b9a7e-7f0e-4a55-9c39-3c1c0e6a1f11")
RUN_COMMAND = str(uuid.uuid5(_NS, "aks-argocd-wif run command"))
FEDERATION = str(uuid.uuid5(_NS, "aks-argocd-wif federated credentials"))


def _bicep(name: str) -> str:
    return (INFRA / name).read_text(encoding="utf-8")


def _actions_after(text: str, anchor: str) -> tuple[str, ...]:
    """The quoted actions of the first ``actions``/list after ``anchor`` in a Bicep file."""
    block = text[text.index(anchor):]
    block = block[block.index("["):block.index("]") + 1]
    return tuple(re.findall(r"'([^']+)'", block))


def custom_roles() -> dict[str, authz.RoleDefinition]:
    run = _actions_after(_bicep("main.bicep"), "resource runCommandRole")
    federation = _actions_after(_bicep("modules/argocd-identity-access.bicep"), "var federatedCredentialActions")
    return {RUN_COMMAND: authz.RoleDefinition(RUN_COMMAND, "aks-argocd-wif run command", run),
            FEDERATION: authz.RoleDefinition(FEDERATION, "aks-argocd-wif federated credentials", federation)}


def condition(argo_principal_id: str) -> str:
    """The constrained-delegation condition, as scope-access-rg.bicep fills it in."""
    text = _bicep("modules/scope-access-rg.bicep")
    template = text.split("var conditionTemplate = '''", 1)[1].split("'''", 1)[0]
    return template.replace("ROLE_IDS", ", ".join(AKS_RBAC_ROLES)).replace("PRINCIPAL_ID", argo_principal_id)


def role(guid: str, custom: dict[str, authz.RoleDefinition]) -> Optional[authz.RoleDefinition]:
    if guid.lower() in custom:
        return custom[guid.lower()]
    found = builtin_roles.by_guid(guid.lower())
    return authz.RoleDefinition(found.guid, found.name, found.actions, found.not_actions) if found else None


@dataclass(frozen=True)
class Grant:
    label: str  # reader | cluster-user | run-command | rbac-admin | hub-cluster-user | federation
    scope: str
    role_guid: str
    condition: str = ""


def grants(*, scopes: tuple[str, ...], hub_id: str, identity_id: str, argo_principal_id: str,
           run_command: bool = True, azure_rbac: bool = True) -> list[Grant]:
    out: list[Grant] = []
    for scope in scopes:
        out += [Grant("reader", scope, READER), Grant("cluster-user", scope, CLUSTER_USER)]
        if run_command:
            out.append(Grant("run-command", scope, RUN_COMMAND))
        if azure_rbac:
            out.append(Grant("rbac-admin", scope, RBAC_ADMIN, condition(argo_principal_id)))
    if hub_id:
        out.append(Grant("hub-cluster-user", hub_id, CLUSTER_USER))
    out.append(Grant("federation", identity_id, FEDERATION))
    return out


def grant(sb: Sandbox, *, scopes: tuple[str, ...], run_command: bool = True,
          azure_rbac: bool = True) -> dict[str, list[str]]:
    """Give the sandbox's function app infra's assignments; label -> the assignment ids made."""
    from wif_sandbox.arm import base, roles

    sb.arm.custom_roles.update(custom_roles())
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    made: dict[str, list[str]] = {}
    for g in grants(scopes=scopes, hub_id=sb.hub_id, identity_id=sb.identity_id,
                    argo_principal_id=identity.wi.principal_id, run_command=run_command, azure_rbac=azure_rbac):
        sub = g.scope.split("/")[2]
        a = roles.Assignment(str(uuid.uuid4()), g.scope,
                             f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{g.role_guid}",
                             sb.function_principal_id, "ServicePrincipal", base.now_iso(), "infra",
                             f"aks-argocd-wif: {g.label}", g.condition or None)
        sb.arm.roles.add(a)
        made.setdefault(g.label, []).append(a.id)
    return made


def owner(sb: Sandbox, principal_id: str, scopes: tuple[str, ...]) -> None:
    """Owner at each scope: the operator who runs the sandbox by hand."""
    from wif_sandbox.arm import base, roles

    for scope in scopes:
        sub = scope.split("/")[2]
        sb.arm.roles.add(roles.Assignment(
            str(uuid.uuid4()), scope, f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
            principal_id, "ServicePrincipal", base.now_iso(), "sandbox", "sandbox operator"))


def revoke(sb: Sandbox, made: dict[str, list[str]], label: str) -> None:
    for assignment_id in made.pop(label, []):
        sb.arm.roles.remove(assignment_id)
