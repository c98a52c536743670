"""The two Microsoft Graph reads ``az role assignment`` makes, served beside Entra.

``az role assignment list`` names each principal (``POST /v1.0/directoryObjects/getByIds``)
and ``create --assignee <id>`` resolves the assignee first by service principal name
(``GET /v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '<id>')``), then
by object id. The sandbox's directory objects are service principals: registered
applications and user-assigned identities. The sandbox's ``/metadata/endpoints`` names
the Entra host as the Graph resource, so tokens for it carry that audience.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable

from wif_sandbox import wire

# (object id, app id, display name) of every service principal in the tenant
Objects = Callable[[], Iterable[tuple[str, str, str]]]
_SPN = re.compile(r"servicePrincipalNames/any\(c:c eq '([^']*)'\)", re.IGNORECASE)
_SP_TYPE = "#microsoft.graph.servicePrincipal"


def handle(req: wire.Request, objects: Objects, verify: Callable[[str], bool]) -> wire.Response:
    token = req.headers.get("authorization", "").partition(" ")[2].strip()
    if not verify(token):
        return _error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
    path = req.path.rstrip("/")
    if path == "/v1.0/directoryObjects/getByIds" and req.method == "POST":
        body = req.json() or {}
        wanted = {str(i).lower() for i in body.get("ids") or []}
        found = [_sp(*o) for o in objects() if o[0].lower() in wanted]
        return wire.Response.json(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata"
                                        "#directoryObjects", "value": found}, "graph.getByIds")
    if path == "/v1.0/servicePrincipals" and req.method == "GET":
        match = _SPN.search(req.q("$filter") or "")
        name = match.group(1).lower() if match else None
        found = [_sp(*o) for o in objects() if name is None or o[1].lower() == name]
        return wire.Response.json(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata"
                                        "#servicePrincipals", "value": found}, "graph.servicePrincipals.list")
    return _error(400, "Request_BadRequest", "The sandbox serves directoryObjects/getByIds and servicePrincipals only.")


def _sp(object_id: str, app_id: str, display_name: str) -> dict[str, Any]:
    return {"@odata.type": _SP_TYPE, "id": object_id, "appId": app_id, "displayName": display_name,
            "servicePrincipalNames": [app_id], "servicePrincipalType": "Application", "accountEnabled": True}


def _error(status: int, code: str, message: str) -> wire.Response:
    return wire.Response.json(status, {"error": {"code": code, "message": message}}, "graph.error")
