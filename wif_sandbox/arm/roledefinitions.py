"""Microsoft.Authorization/roleDefinitions: the built-in roles, at any scope, by GUID or by name.

``az role assignment create --role "<name>"`` resolves the name with
``GET {scope}/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName eq '<name>'``
and ``az role assignment list`` shows names by reading each definition by id. Custom
roles are not emulated: writes answer 405.
"""
from __future__ import annotations

import re

from wif_sandbox import wire
from wif_sandbox.arm import base, builtin_roles
from wif_sandbox.arm.base import ArmError, Call
from wif_sandbox.arm.routes import Target

_ROLE_NAME = re.compile(r"roleName\s+eq\s+'((?:[^']|'')*)'", re.IGNORECASE)


def serve(call: Call, t: Target) -> wire.Response:
    if call.req.method != "GET":
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{call.req.method}' is not supported for this "
                       "resource: the sandbox serves built-in role definitions only.")
    if t.kind == "roleDefinition":
        role = builtin_roles.by_guid(t.name)
        if role is None:
            raise ArmError(404, "RoleDefinitionDoesNotExist",
                           f"The specified role definition with ID '{t.name.replace('-', '')}' does not exist.")
        return base.respond(200, builtin_roles.definition_json(role, t.scope), call.operation)
    text = call.req.q("$filter") or ""
    match = _ROLE_NAME.search(text)
    if match:
        role = builtin_roles.by_name(match.group(1).replace("''", "'"))
        found = [role] if role is not None else []
    else:
        found = list(builtin_roles.ROLES)
    return base.respond(200, {"value": [builtin_roles.definition_json(r, t.scope) for r in found]}, call.operation)
