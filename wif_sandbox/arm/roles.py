"""Microsoft.Authorization/roleAssignments at any scope, and what they grant on AKS.

ARM's rules: the name is a GUID; one principal+role+scope exists once (409
``RoleAssignmentExists`` under another name); an assignment cannot be changed in
place; an unknown principal is refused unless ``principalType`` is given (which
is how callers skip Entra's replication lag).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from wif_sandbox import wire
from wif_sandbox.arm import base
from wif_sandbox.arm.base import ArmError, Call
from wif_sandbox.arm.routes import Target

TYPE = "Microsoft.Authorization/roleAssignments"
# Built-in "Azure Kubernetes Service RBAC ..." roles the emulated API servers honour.
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
AKS_RBAC_ADMIN = "3498e952-d568-435e-9b2c-8d77e338d7f7"
AKS_RBAC_WRITER = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"
AKS_RBAC_READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"
_READ_VERBS = frozenset({"get", "list", "watch"})
_CLUSTER_WIDE_RBAC = frozenset({"clusterroles", "clusterrolebindings", "namespaces"})


@dataclass(frozen=True)
class Assignment:
    name: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str
    created_on: str
    created_by: str
    description: Optional[str] = None
    condition: Optional[str] = None  # ABAC, conditionVersion 2.0 (wif_sandbox.arm.abac)

    @property
    def id(self) -> str:
        return f"{self.scope}/providers/{TYPE}/{self.name}"

    @property
    def role_guid(self) -> str:
        return self.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id, "type": TYPE, "name": self.name,
            "properties": {
                "roleDefinitionId": self.role_definition_id, "principalId": self.principal_id,
                "principalType": self.principal_type, "scope": self.scope, "condition": self.condition,
                "conditionVersion": "2.0" if self.condition else None, "createdOn": self.created_on, "updatedOn": self.created_on,
                "createdBy": self.created_by, "updatedBy": self.created_by, "description": self.description,
                "delegatedManagedIdentityResourceId": None,
            },
        }


def _under(scope: str, parent: str) -> bool:
    s, p = scope.lower().rstrip("/"), parent.lower().rstrip("/")
    return s == p or s.startswith(p + "/")


class RoleAssignments:
    def __init__(self, subscription: str, tenant_id: str, principal_exists: Callable[[str], bool],
                 others: tuple[str, ...] = ()) -> None:
        self.subscription, self.tenant_id = subscription, tenant_id
        self.subscriptions = (subscription, *others)
        self._principal_exists = principal_exists
        self._items: dict[str, Assignment] = {}  # by lower-cased id
        self._lock = threading.Lock()

    def add(self, assignment: Assignment) -> None:
        """As an owner would assign it (no request, no checks): the sandbox's own set-up."""
        with self._lock:
            self._items[assignment.id.lower()] = assignment

    def remove(self, assignment_id: str) -> bool:
        with self._lock:
            return self._items.pop(assignment_id.lower(), None) is not None

    def all(self) -> list[Assignment]:
        with self._lock:
            return list(self._items.values())

    def roles_of(self, principal_id: str, resource_id: str) -> list[Assignment]:
        """Assignments of a principal at ``resource_id`` or above it, or below it (AKS namespace scopes)."""
        return [a for a in self.all() if a.principal_id.lower() == principal_id.lower()
                and (_under(resource_id, a.scope) or _under(a.scope, resource_id))]

    def serve(self, call: Call, t: Target) -> wire.Response:
        if not t.scope or t.subscription.lower() not in {s.lower() for s in self.subscriptions}:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{t.subscription}' could not be found.")
        method = call.req.method
        if t.kind == "roles" and method == "GET":
            return base.respond(200, {"value": [a.json() for a in self._list(t.scope, call.req.q("$filter"))]},
                                call.operation)
        if t.kind != "role":
            raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported for this resource.")
        key = f"{t.scope}/providers/{TYPE}/{t.name}".lower()
        if method == "GET":
            with self._lock:
                found = self._items.get(key)
            if found is None:
                raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{t.name}' is not found.")
            return base.respond(200, found.json(), call.operation)
        if method == "DELETE":
            with self._lock:
                gone = self._items.pop(key, None)
            return base.respond(200, gone.json(), call.operation) if gone else base.respond(204, None, call.operation)
        if method == "PUT":
            return self._put(call, t, key)
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported for this resource.")

    def _put(self, call: Call, t: Target, key: str) -> wire.Response:
        if not base.is_guid(t.name):
            raise ArmError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{t.name}' is not valid. The role "
                           "assignment ID must be a GUID.")
        props = call.body().get("properties") or {}
        role, principal = str(props.get("roleDefinitionId") or ""), str(props.get("principalId") or "")
        if "/providers/microsoft.authorization/roledefinitions/" not in role.lower() or \
                not base.is_guid(role.rsplit("/", 1)[-1]):
            raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{role}' is not valid.")
        ptype = str(props.get("principalType") or "")
        if not base.is_guid(principal) or (not ptype and not self._principal_exists(principal)):
            raise ArmError(400, "PrincipalNotFound", f"Principal {principal.replace('-', '')} does not exist in the "
                           f"directory {self.tenant_id}. Check that you have the correct principal ID. If you are "
                           "creating this principal and then immediately assigning a role, this error might be related "
                           "to a replication delay. In this case, set the role assignment principalType property to a "
                           "value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype")
        description, condition = props.get("description"), props.get("condition")
        new = Assignment(t.name, t.scope, role, principal, ptype or "ServicePrincipal", base.now_iso(),
                         call.principal.oid, str(description) if description is not None else None,
                         str(condition) if condition else None)
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                if (old.role_guid, old.principal_id.lower()) != (new.role_guid, principal.lower()):
                    raise ArmError(400, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, "
                                   "and scope are not allowed to be updated.")
                return base.respond(200, old.json(), call.operation)
            twin = next((a for a in self._items.values() if a.scope.lower() == t.scope.lower()
                         and a.role_guid == new.role_guid and a.principal_id.lower() == principal.lower()), None)
            if twin is not None:
                raise ArmError(409, "RoleAssignmentExists", f"The role assignment already exists. The ID of the "
                               f"existing role assignment is {twin.name.replace('-', '')}.")
            self._items[key] = new
        return base.respond(201, new.json(), call.operation)

    def _list(self, scope: str, odata_filter: str | None) -> list[Assignment]:
        """``atScope()``: at the scope or above; ``principalId eq '...'``: that principal; none: above and below."""
        text = (odata_filter or "").strip()
        at_scope = "atscope()" in text.lower()
        principal = ""
        if "principalid eq" in text.lower():
            principal = text.split("'")[1] if text.count("'") >= 2 else ""
        found = []
        for a in self.all():
            related = _under(scope, a.scope) if at_scope else (_under(scope, a.scope) or _under(a.scope, scope))
            if related and (not principal or a.principal_id.lower() == principal.lower()):
                found.append(a)
        return found


def aks_allows(assignments: list[Assignment], cluster_id: str, verb: str, resource: str, namespace: str) -> bool:
    """Whether AKS's built-in RBAC roles in ``assignments`` allow a Kubernetes request."""
    for a in assignments:
        ns_scope = a.scope.lower().startswith(cluster_id.lower() + "/namespaces/")
        if ns_scope and a.scope.rsplit("/", 1)[-1].lower() != namespace.lower():
            continue
        role = a.role_guid
        if role == AKS_RBAC_CLUSTER_ADMIN:
            return True
        if role == AKS_RBAC_ADMIN and (verb in _READ_VERBS or resource not in _CLUSTER_WIDE_RBAC):
            return True
        if role == AKS_RBAC_WRITER and resource not in _CLUSTER_WIDE_RBAC | {"roles", "rolebindings"}:
            if verb in _READ_VERBS or namespace:
                return True
        if role == AKS_RBAC_READER and verb in _READ_VERBS and resource != "secrets":
            return True
    return False
