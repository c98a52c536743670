"""Azure RBAC for the sandbox's ARM: may this principal perform this action at this scope?

As Azure evaluates a control-plane request ("How Azure RBAC determines if a user has access to a
resource", learn.microsoft.com/azure/role-based-access-control/overview): the role assignments of
the principal (and its groups) at the scope or any scope above it; a role definition grants the
action when one of its ``actions`` matches it and none of its ``notActions`` does; an assignment
with a condition (ABAC 2.0) grants only when the condition holds for the request. No deny
assignments here. A refusal is ARM's 403 ``AuthorizationFailed`` with ARM's message, which says
"or an ABAC condition not fulfilled" when an assignment would grant the action but its condition
failed (the message Azure's RBAC troubleshooting page quotes).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from wif_sandbox.arm import abac


@dataclass(frozen=True)
class RoleDefinition:
    guid: str
    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    """One role assignment, as authorization needs it."""

    principal_id: str
    scope: str
    role_guid: str
    condition: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    condition_failed: bool = False  # some assignment grants the action, but its condition did not hold


def under(scope: str, parent: str) -> bool:
    """``scope`` is ``parent`` or inside it (ARM ids are case-insensitive, segments whole)."""
    s, p = scope.lower().rstrip("/"), parent.lower().rstrip("/")
    return p in ("", "/") or s == p or s.startswith(p + "/")


def grants(role: RoleDefinition, action: str) -> bool:
    return (any(abac.action_matches(a, action) for a in role.actions)
            and not any(abac.action_matches(n, action) for n in role.not_actions))


def decide(grants_of_principal: Iterable[Grant], roles: Mapping[str, RoleDefinition], action: str, scope: str,
           request: Optional[abac.Request] = None) -> Decision:
    """Pure: the decision for ``action`` at ``scope`` given the principal's assignments."""
    condition_failed = False
    req = request or abac.Request(action, {}, {})
    for grant in grants_of_principal:
        role = roles.get(grant.role_guid.lower())
        if role is None or not under(scope, grant.scope) or not grants(role, action):
            continue
        if not grant.condition or abac.evaluate(abac.parse(grant.condition), req):
            return Decision(True)
        condition_failed = True
    return Decision(False, condition_failed)


def refusal(client_id: str, object_id: str, action: str, scope: str, decision: Decision) -> tuple[str, str]:
    """ARM's (code, message) for a refused request."""
    what = "authorization or an ABAC condition not fulfilled" if decision.condition_failed else "authorization"
    return ("AuthorizationFailed",
            f"The client '{client_id or object_id}' with object id '{object_id}' does not have {what} to perform "
            f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
            "please refresh your credentials.")


# ---- which action a request is ------------------------------------------------------------------

_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


def action_of(method: str, path: str) -> tuple[str, str]:
    """(action, scope) of an ARM request path, as ARM names them for authorization.

    ``/subscriptions/S`` is ``Microsoft.Resources/subscriptions/read``; a resource group
    ``Microsoft.Resources/subscriptions/resourceGroups/<verb>``; below ``/providers/NS/`` the types
    alternate with names (``NS/type/childType/<verb>``); a POST to a resource's child segment is
    ``NS/types/<that segment>/action``. The scope is the resource the path names (for a collection,
    its parent).
    """
    parts = [p for p in path.split("?")[0].split("/") if p]
    verb = _VERBS.get(method.upper(), "action")
    if "providers" not in [p.lower() for p in parts]:
        types = ["subscriptions"] + (["resourceGroups"] if len(parts) > 2 else [])
        scope = "/" + "/".join(parts[:4] if len(parts) > 3 else parts[:2])
        return f"Microsoft.Resources/{'/'.join(types)}/{verb}", scope
    at = max(i for i, p in enumerate(parts) if p.lower() == "providers")
    namespace, rest = parts[at + 1], parts[at + 2:]
    types = rest[0::2]
    named = len(rest) % 2 == 0  # type/name pairs to the end: the path names one resource
    if method.upper() == "POST" and not named:
        operation = types.pop()
        scope = "/" + "/".join(parts[:at + 2] + rest[:-1])
        return f"{namespace}/{'/'.join(types)}/{operation}/action", scope
    scope = "/" + "/".join(parts if named else parts[:-1])
    return f"{namespace}/{'/'.join(types)}/{verb}", scope


_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def role_guid(role_definition_id: str) -> str:
    found = _GUID.findall(role_definition_id or "")
    return found[-1].lower() if found else ""


def assignment_attributes(role_definition_id: str, principal_id: str, principal_type: str) -> dict[str, Sequence[str]]:
    """``Microsoft.Authorization/roleAssignments:*`` attributes a condition compares (GUIDs bare)."""
    prefix = "Microsoft.Authorization/roleAssignments:"
    return {prefix + "RoleDefinitionId": [role_guid(role_definition_id)], prefix + "PrincipalId": [principal_id.lower()],
            prefix + "PrincipalType": [principal_type]}
