"""Azure Resource Manager for a tenant's subscriptions: AKS, managed identities, role assignments.

A ``wire.Handler`` behind one ``httpd.HttpsServer``. Every call is authenticated
(Entra token for the ARM audience) and needs ``api-version``; then the path says
which resource provider answers. Resource groups exist once something is in them
or once they are PUT (``resources``); the subscriptions are the ones the sandbox was
given (clusters and role assignments in any of them, identities in the first); any
other subscription answers ``SubscriptionNotFound``. api-versions are checked per
resource type (``versions``); ``/metadata/endpoints`` needs no token, as in Azure.
Once the caller is known, ARM's request throttle (``throttle``, off unless
``Faults.arm_throttle``) spends a token or answers 429, and stamps the remaining counts.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

from wif_sandbox import faults, wire
from wif_sandbox.arm import abac, authz, base, builtin_roles, resources, roledefinitions, routes, throttle, versions
from wif_sandbox.arm import roles as roles_mod
from wif_sandbox.arm.base import ArmError, Call
from wif_sandbox.arm.clusters import Clusters, DataPlane, ManagedCluster, Publish
from wif_sandbox.arm.identities import Identities
from wif_sandbox.arm.roles import RoleAssignments
from wif_sandbox.arm.runcommand import RunCommands
from wif_sandbox.entra import Entra

__all__ = ["Arm", "ArmError", "ManagedCluster"]
# Not authorized per request: the endpoint list (public), the subscription list (ARM filters it by
# access instead of refusing), async-operation polls (the resource provider checks those) and role
# definitions (readable by every principal of the tenant: `az role definition list` works for anyone).
_UNCHECKED = ("metadata", "subscriptions", "operation", "roleDefinition", "roleDefinitions")


class Arm:
    def __init__(self, *, subscription_id: str, entra: Entra, knobs: faults.Faults, ca_pem: bytes,
                 provision: Callable[[ManagedCluster], DataPlane], publish: Publish,
                 clock: Callable[[], float] = time.monotonic, more_subscriptions: tuple[str, ...] = ()) -> None:
        self.subscription_id = subscription_id
        self.subscription_ids = (subscription_id, *more_subscriptions)
        self.tenant_id = entra.tenant_id
        self.url = ""  # set once the HTTPS server listens
        self._entra = entra
        self.identities = Identities(subscription_id, entra.tenant_id, knobs, clock)
        self.roles = RoleAssignments(subscription_id, entra.tenant_id, self.principal_exists, more_subscriptions)
        self.clusters = Clusters(subscription_id, entra.tenant_id, knobs, clock, provision, publish, ca_pem,
                                 more_subscriptions)
        self.commands = RunCommands(knobs, clock)
        self.resources = resources.Resources(entra.tenant_id, self.subscription_ids, self._placed)
        self._knobs = knobs
        self.throttle = throttle.Throttle(knobs, clock)
        # Custom role definitions (guid -> definition) beside the built-in ones, for authorization.
        self.custom_roles: dict[str, authz.RoleDefinition] = {}

    def _placed(self) -> list[tuple[str, str, str, Optional[str]]]:
        """Where resources sit: each cluster's group and node resource group, each identity's group."""
        found: list[tuple[str, str, str, Optional[str]]] = []
        for c in self.clusters.all():
            sub = c.id.split("/")[2]
            found.append((sub, c.resource_group, c.location, None))
            found.append((sub, f"MC_{c.resource_group}_{c.name}_{c.location}", c.location, c.id))
        found += [(i.id.split("/")[2], i.id.split("/")[4], i.location, None) for i in self.identities.all()]
        return found

    def principal_exists(self, object_id: str) -> bool:
        oid = object_id.lower()
        directory = self._entra.directory
        with directory.lock:
            known = {a.principal_id for a in directory.apps.values()} | set(directory.groups)
        return oid in known or oid in self.identities.principal_ids()

    def operation_of(self, req: wire.Request) -> str:
        target = routes.parse(req.path)
        return target.operation(req.method) if target else f"unknown.{req.method.lower()}"

    def handle(self, req: wire.Request) -> wire.Response:
        operation = self.operation_of(req)
        limits: dict[str, str] = {}  # remaining-request counts, on every answer once the caller is known
        try:
            target = routes.parse(req.path)
            if target is not None and target.kind == "metadata":
                return resources.metadata(req, self.url, self._entra.url)
            principal, claims = base.authenticate(req, self.url, self._entra.verify_access_token)
            limits = self.throttle.admit(target.subscription if target else "", self.tenant_id, principal.oid,
                                         req.method)
            version = base.check_api_version(req)
            if target is None:
                raise ArmError(404, "InvalidResourceType",
                               f"The resource type could not be found in the namespace for api version '{version}'.")
            self._check_subscription(target)
            versions.check(version, target.kind, self._location_of(target))
            call = Call(req, principal, claims, version, self.url, operation)
            if self._knobs.arm_rbac and target.kind not in _UNCHECKED:
                self._authorize(call, target)
            answer = self._serve(call, target)
        except ArmError as e:
            answer = base.error_response(e, operation)
        throttle.stamp(answer.headers, limits)
        return answer

    def _role(self, guid: str) -> Optional[authz.RoleDefinition]:
        if guid in self.custom_roles:
            return self.custom_roles[guid]
        found = builtin_roles.by_guid(guid)
        return authz.RoleDefinition(found.guid, found.name, found.actions, found.not_actions) if found else None

    def _authorize(self, call: Call, t: routes.Target) -> None:
        """403 AuthorizationFailed unless the caller's role assignments grant the request's action."""
        req, who = call.req, call.principal
        action, scope = authz.action_of(req.method, req.path)
        mine = {who.oid.lower(), *(g.lower() for g in who.groups)}
        assignments = [a for a in self.roles.all() if a.principal_id.lower() in mine]
        roles = {g: r for g in {a.role_guid for a in assignments} if (r := self._role(g)) is not None}
        request = self._condition_request(call, t, action)
        # Deleting an assignment that is not there answers 204: a condition on the deleted one has nothing to see.
        gone = request is None
        grants = [authz.Grant(a.principal_id, a.scope, a.role_guid, "" if gone else a.condition or "") for a in assignments]
        decision = authz.decide(grants, roles, action, scope, request)
        if not decision.allowed:
            code, message = authz.refusal(who.appid, who.oid, action, scope, decision)
            raise ArmError(403, code, message)

    def _condition_request(self, call: Call, t: routes.Target, action: str) -> Optional[abac.Request]:
        """What an ABAC condition sees: the assignment asked for (write) or the one there (delete; None if absent)."""
        if t.kind != "role" or call.req.method not in ("PUT", "DELETE"):
            return abac.Request(action, {}, {})
        if call.req.method == "PUT":
            props = call.body().get("properties") or {}
            attrs = authz.assignment_attributes(str(props.get("roleDefinitionId") or ""),
                                                str(props.get("principalId") or ""), str(props.get("principalType") or ""))
            return abac.Request(action, attrs, {})
        there = next((a for a in self.roles.all() if a.id.lower() == f"{t.scope}/providers/{roles_mod.TYPE}/{t.name}".lower()),
                     None)
        if there is None:
            return None
        return abac.Request(action, {}, authz.assignment_attributes(there.role_definition_id, there.principal_id,
                                                                    there.principal_type))

    def _check_subscription(self, t: routes.Target) -> None:
        tenant_wide = t.kind == "subscriptions" or (t.kind.startswith("roleDefinition") and not t.subscription)
        if not tenant_wide and t.subscription.lower() not in {s.lower() for s in self.subscription_ids}:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{t.subscription}' could not be found.")

    def _location_of(self, t: routes.Target) -> str:
        """The location ARM names when it refuses an api-version: the resource's group's, if any."""
        if not t.resource_group:
            return ""
        group = self.resources.group(t.subscription, t.resource_group)
        return group.location if group else ""

    def _serve(self, call: Call, t: routes.Target) -> wire.Response:
        if t.kind in ("subscriptions", "subscription", "groups", "group"):
            return self.resources.serve(call, t)
        if t.kind in ("roleDefinition", "roleDefinitions"):
            return roledefinitions.serve(call, t)
        if t.kind in ("identity", "identities", "fic", "fics"):
            return self.identities.serve(call, t)
        if t.kind in ("role", "roles"):
            return self.roles.serve(call, t)
        if t.kind in ("clusterAction", "commandResult") and (t.child == "runCommand" or t.kind == "commandResult"):
            cluster = self._cluster(t)
            if t.kind == "commandResult":
                return self.commands.result(call, cluster, t.child)
            if call.req.method != "POST":
                raise ArmError(405, "MethodNotAllowed", "Run command accepts POST only.")
            return self.commands.start(call, cluster)
        return self.clusters.serve(call, t)

    def _cluster(self, t: routes.Target) -> ManagedCluster:
        rid = base.resource_id(t.subscription, t.resource_group, "Microsoft.ContainerService/managedClusters", t.name)
        cluster: Optional[ManagedCluster] = self.clusters.get(rid)
        if cluster is None:
            raise base.not_found("Microsoft.ContainerService/managedClusters", t.name, t.resource_group)
        return cluster
