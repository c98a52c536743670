"""Microsoft.Resources as ARM serves it: subscriptions, resource groups, ``/metadata/endpoints``.

Shapes follow azure-rest-api-specs (resources/…/subscriptions.json 2022-12-01 and
resources.json ResourceGroup). A resource group exists once something is in it (a
cluster, its node resource group ``MC_…``, an identity) or once it was PUT; its name
matches in any casing and answers in the spelling it was created with, and its location
is the one given at creation, else that of its first resource. ``/metadata/endpoints``
answers without a token, as ARM does, so ``az cloud register`` can discover the sandbox.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from wif_sandbox import wire
from wif_sandbox.arm import base
from wif_sandbox.arm.base import ArmError, Call
from wif_sandbox.arm.routes import Target

GROUP_TYPE = "Microsoft.Resources/resourceGroups"
# (subscription, group name, location, managedBy) of what exists in ARM's other providers.
Placed = Callable[[], Iterable[tuple[str, str, str, Optional[str]]]]


@dataclass
class Group:
    subscription: str
    name: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)
    managed_by: Optional[str] = None

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"/subscriptions/{self.subscription}/resourceGroups/{self.name}", "name": self.name,
            "type": GROUP_TYPE, "location": self.location, "tags": self.tags,
            "properties": {"provisioningState": "Succeeded"},
        }
        if self.managed_by:
            body["managedBy"] = self.managed_by
        return body


class Resources:
    def __init__(self, tenant_id: str, subscriptions: tuple[str, ...], placed: Placed) -> None:
        self.tenant_id, self.subscriptions = tenant_id, subscriptions
        self._placed = placed
        self._explicit: dict[tuple[str, str], Group] = {}
        self._lock = threading.Lock()

    # ----- in-process API -----

    def groups(self, subscription: str) -> list[Group]:
        """Every group of a subscription: created ones first, then the ones resources imply, by name."""
        with self._lock:
            found = {k: v for k, v in self._explicit.items() if k[0] == subscription.lower()}
        for sub, name, location, managed_by in self._placed():
            key = (sub.lower(), name.lower())
            if key[0] == subscription.lower() and key not in found:
                found[key] = Group(sub, name, location, managed_by=managed_by)
        return sorted(found.values(), key=lambda g: g.name.lower())

    def group(self, subscription: str, name: str) -> Optional[Group]:
        return next((g for g in self.groups(subscription) if g.name.lower() == name.lower()), None)

    def put_group(self, subscription: str, name: str, location: str, tags: dict[str, str]) -> tuple[Group, bool]:
        existing = self.group(subscription, name)
        with self._lock:
            key = (subscription.lower(), name.lower())
            made = self._explicit.get(key)
            if made is None:
                made = existing or Group(self.canonical_subscription(subscription), name, location)
                self._explicit[key] = made
            made.tags = dict(tags)
        return made, existing is None

    def canonical_subscription(self, subscription: str) -> str:
        return next((s for s in self.subscriptions if s.lower() == subscription.lower()), subscription)

    # ----- HTTP -----

    def serve(self, call: Call, t: Target) -> wire.Response:
        method = call.req.method
        if t.kind == "subscriptions":
            subs = [self._subscription_json(s) for s in self.subscriptions]
            return base.respond(200, {"value": subs, "count": {"type": "Total", "value": len(subs)}}, call.operation)
        sub = self.canonical_subscription(t.subscription)
        if t.kind == "subscription" and method == "GET":
            return base.respond(200, self._subscription_json(sub), call.operation)
        if t.kind == "groups" and method == "GET":
            return base.respond(200, {"value": [g.json() for g in self.groups(sub)]}, call.operation)
        if t.kind == "group":
            return self._group(call, sub, t.resource_group)
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported for this resource.")

    def _group(self, call: Call, sub: str, name: str) -> wire.Response:
        method = call.req.method
        if method == "PUT":
            body = call.body()
            location = str(body.get("location") or "")
            if not location:
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            made, created = self.put_group(sub, name, location, dict(body.get("tags") or {}))
            return base.respond(201 if created else 200, made.json(), call.operation)
        found = self.group(sub, name)
        if method == "HEAD":  # az group exists
            return base.respond(204 if found else 404, None, call.operation)
        if method != "GET":
            raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported for this resource.")
        if found is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        return base.respond(200, found.json(), call.operation)

    def _subscription_json(self, sub: str) -> dict[str, Any]:
        number = self.subscriptions.index(sub) + 1 if sub in self.subscriptions else 0
        return {
            "id": f"/subscriptions/{sub}", "authorizationSource": "RoleBased", "managedByTenants": [],
            "subscriptionId": sub, "tenantId": self.tenant_id, "displayName": f"wif-sandbox-{number}",
            "state": "Enabled", "tags": {},
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                     "spendingLimit": "Off"},
        }


def metadata(req: wire.Request, arm_url: str, login_url: str) -> wire.Response:
    """``GET /metadata/endpoints``: the sandbox as one cloud, in the shape of the api-version asked for."""
    version = req.q("api-version") or ""
    if not version:
        raise ArmError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all requests.")
    audiences = ["https://management.core.windows.net/", "https://management.azure.com/"]
    authentication = {"loginEndpoint": login_url + "/", "audiences": audiences, "tenant": "common",
                      "identityProvider": "AAD"}
    if version < "2019-05-01":  # the original shape: one object, no cloud name
        legacy = {"galleryEndpoint": "", "graphEndpoint": "https://graph.windows.net/", "portalEndpoint": "",
                  "authentication": authentication}
        return base.respond(200, legacy, "metadata.get")
    cloud = {
        "portal": "", "authentication": authentication, "media": "", "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/", "name": "WifSandbox", "resourceManager": arm_url + "/",
        # The sandbox's Graph (wif_sandbox.graph) sits on Entra's host.
        "microsoftGraphResourceId": login_url + "/", "batch": "", "sqlManagement": "",
        "vmImageAliasDoc": "", "activeDirectoryDataLake": "", "gallery": "",
        "suffixes": {"acrLoginServer": "azurecr.io", "keyVaultDns": "vault.azure.net", "storage": "core.windows.net",
                     "sqlServerHostname": "database.windows.net"},
    }
    # 2022-09-01 answers the cloud the endpoint belongs to; 2019-05-01 the list of clouds.
    return base.respond(200, cloud if version >= "2022-09-01" else [cloud], "metadata.get")
