"""ARM paths -> what they address, and the request-log operation of each call.

Matching is case-insensitive (ARM ids are); names keep the caller's casing.
Operation names follow ``faults``' convention: the last part is the verb, and
only writes end in a write verb (``listClusterUserCredential`` is a POST that
reads, so it is logged without ``.post``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

CLUSTERS = "microsoft.containerservice/managedclusters"
IDENTITIES = "microsoft.managedidentity/userassignedidentities"
ROLE_ASSIGNMENTS = "/providers/microsoft.authorization/roleassignments"
ROLE_DEFINITIONS = "/providers/microsoft.authorization/roledefinitions"

_VERBS = {"GET": "get", "PUT": "put", "DELETE": "delete", "PATCH": "patch", "POST": "post", "HEAD": "get"}


@dataclass(frozen=True)
class Target:
    # cluster | clusters | clusterAction | commandResult | operation | identity | identities | fic | fics | role |
    # roles | roleDefinition | roleDefinitions | subscriptions | subscription | groups | group | metadata
    kind: str
    subscription: str = ""
    resource_group: str = ""
    name: str = ""
    child: str = ""  # federated credential name, command id, operation id, action name
    scope: str = ""  # role assignments: the scope they sit at

    def operation(self, method: str) -> str:
        verb = _VERBS.get(method, method.lower())
        if self.kind in ("clusters", "fics", "roles", "identities", "roleDefinitions", "subscriptions", "groups"):
            verb = "list" if verb == "get" else verb
        resource = {
            "cluster": "managedClusters", "clusters": "managedClusters", "commandResult": "commandResults",
            "operation": "operations", "identity": "userAssignedIdentities", "fic": "federatedIdentityCredentials",
            "fics": "federatedIdentityCredentials", "role": "roleAssignments", "roles": "roleAssignments",
            "identities": "userAssignedIdentities", "roleDefinition": "roleDefinitions",
            "roleDefinitions": "roleDefinitions", "subscriptions": "subscriptions", "subscription": "subscriptions",
            "groups": "resourceGroups", "group": "resourceGroups", "metadata": "metadata",
        }.get(self.kind, "unknown")
        if self.kind == "clusterAction":
            return f"managedClusters.{self.child}" + (".post" if self.child == "runCommand" else "")
        return f"{resource}.{verb}"


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def parse(path: str) -> Optional[Target]:
    """What an ARM path addresses; None when nothing here serves it."""
    lowered = path.lower().rstrip("/")
    for marker, kind in ((ROLE_ASSIGNMENTS, "role"), (ROLE_DEFINITIONS, "roleDefinition")):
        at = lowered.find(marker)
        if at >= 0:
            return _scoped(path, at, len(marker), kind)
    seg = _segments(path)
    low = [s.lower() for s in seg]
    if low == ["metadata", "endpoints"]:
        return Target("metadata")
    if low == ["subscriptions"]:
        return Target("subscriptions")
    if len(seg) < 2 or low[0] != "subscriptions":
        return None
    sub = seg[1]
    if len(seg) <= 4 and (len(seg) == 2 or low[2] == "resourcegroups"):
        kinds = {2: "subscription", 3: "groups", 4: "group"}
        return Target(kinds[len(seg)], sub, seg[3] if len(seg) == 4 else "")
    if low[2:] == ["providers", "microsoft.managedidentity", "userassignedidentities"]:
        return Target("identities", sub)
    if len(seg) >= 6 and low[2] == "resourcegroups" and low[4] == "providers":
        return _in_group(sub, seg[3], seg[5:], low[5:])
    if low[2:5] == ["providers", "microsoft.containerservice", "managedclusters"] and len(seg) == 5:
        return Target("clusters", sub)
    if low[2:5] == ["providers", "microsoft.containerservice", "locations"] and len(seg) == 8 and \
            low[6] in ("operations", "operationresults"):
        return Target("operation", sub, child=seg[7])
    return None


def _in_group(sub: str, group: str, seg: list[str], low: list[str]) -> Optional[Target]:
    if len(seg) < 2:
        return None
    provider_type = "/".join(low[:2])
    rest, rest_low = seg[2:], low[2:]
    if provider_type == CLUSTERS:
        if not rest:
            return Target("clusters", sub, group)
        name = rest[0]
        if len(rest) == 1:
            return Target("cluster", sub, group, name)
        if len(rest) == 2 and rest_low[1] in ("listclusterusercredential", "runcommand"):
            action = "runCommand" if rest_low[1] == "runcommand" else "listClusterUserCredential"
            return Target("clusterAction", sub, group, name, action)
        if len(rest) == 3 and rest_low[1] == "commandresults":
            return Target("commandResult", sub, group, name, rest[2])
        return None
    if provider_type == IDENTITIES and not rest:
        return Target("identities", sub, group)
    if provider_type == IDENTITIES and rest:
        name = rest[0]
        if len(rest) == 1:
            return Target("identity", sub, group, name)
        if rest_low[1] == "federatedidentitycredentials":
            if len(rest) == 2:
                return Target("fics", sub, group, name)
            if len(rest) == 3:
                return Target("fic", sub, group, name, rest[2])
    return None


def _scoped(path: str, at: int, length: int, kind: str) -> Optional[Target]:
    """Role assignments and definitions: ``{scope}/providers/Microsoft.Authorization/{type}[/{name}]``."""
    scope = "/" + "/".join(_segments(path[:at]))
    tail = _segments(path[at + length:])
    seg = _segments(scope)
    sub = seg[1] if len(seg) >= 2 and seg[0].lower() == "subscriptions" else ""
    if scope == "/":
        scope = ""
    if not tail:
        return Target(kind + "s", sub, scope=scope)
    if len(tail) == 1:
        return Target(kind, sub, name=tail[0], scope=scope)
    return None
