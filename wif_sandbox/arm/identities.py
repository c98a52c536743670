"""Microsoft.ManagedIdentity: user-assigned identities and their federated credentials.

Entra's documented rules for federated identity credentials are enforced here,
in the order a writer meets them: write throttling per identity (429 with
``Retry-After``), no concurrent writes on one identity (409), an issuer+subject
pair at most once per identity (400), at most 20 credentials per identity (400).
A write holds its identity for ``Faults.msi_write_hold_s`` so that concurrency
is observable, as it is against the real service.
"""
from __future__ import annotations

import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from wif_sandbox import faults, wire
from wif_sandbox.arm import base
from wif_sandbox.arm.base import ArmError, Call
from wif_sandbox.arm.routes import Target
from wif_sandbox.federation import FederatedCredential, WorkloadIdentity

MAX_CREDENTIALS = 20
TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIC_TYPE = TYPE + "/federatedIdentityCredentials"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$")


@dataclass
class Identity:
    id: str
    name: str
    location: str
    tags: dict[str, str]
    wi: WorkloadIdentity  # what Entra reads: client id, principal, credentials
    busy: bool = False  # a credential write is in flight
    bucket: float = 0.0  # write tokens available
    refilled_at: float = 0.0
    created: str = field(default_factory=base.now_iso)


class Identities:
    def __init__(self, subscription: str, tenant_id: str, knobs: faults.Faults, clock: Callable[[], float]) -> None:
        self.subscription, self.tenant_id = subscription, tenant_id
        self._knobs, self._clock = knobs, clock
        self._by_id: dict[str, Identity] = {}
        self._lock = threading.Lock()

    # ----- in-process API (the sandbox, Entra) -----

    def create(self, resource_group: str, name: str, location: str = "westeurope",
               tags: Optional[dict[str, str]] = None) -> Identity:
        rid = base.resource_id(self.subscription, resource_group, TYPE, name)
        with self._lock:
            found = self._by_id.get(rid.lower())
            if found is not None:
                found.tags = dict(tags or found.tags)
                return found
            wi = WorkloadIdentity(str(uuid.uuid4()), str(uuid.uuid4()), self.tenant_id)
            made = self._by_id[rid.lower()] = Identity(rid, name, location, dict(tags or {}), wi)
            return made

    def by_client_id(self, client_id: str) -> Optional[WorkloadIdentity]:
        with self._lock:
            return next((i.wi for i in self._by_id.values() if i.wi.client_id == client_id.lower()), None)

    def principal_ids(self) -> set[str]:
        with self._lock:
            return {i.wi.principal_id for i in self._by_id.values()}

    def get(self, resource_id: str) -> Optional[Identity]:
        with self._lock:
            return self._by_id.get(resource_id.lower())

    def all(self) -> list[Identity]:
        with self._lock:
            return list(self._by_id.values())

    # ----- HTTP -----

    def serve(self, call: Call, t: Target) -> wire.Response:
        rid = base.resource_id(t.subscription, t.resource_group, TYPE, t.name)
        method = call.req.method
        if t.kind == "identities" and method == "GET":  # by subscription or by resource group
            prefix = f"/subscriptions/{t.subscription}/" + (f"resourcegroups/{t.resource_group}/" if t.resource_group else "")
            found = sorted((i for i in self.all() if i.id.lower().startswith(prefix.lower())), key=lambda i: i.id.lower())
            return base.respond(200, {"value": [_identity_json(i) for i in found]}, call.operation)
        if t.kind == "identity" and method == "PUT":
            body = call.body()
            created = self.get(rid) is None
            made = self.create(t.resource_group, t.name, str(body.get("location") or "westeurope"), body.get("tags"))
            return base.respond(201 if created else 200, _identity_json(made), call.operation)
        ident = self.get(rid)
        if ident is None:
            raise base.not_found(TYPE, t.name, t.resource_group)
        if t.kind == "identity" and method == "GET":
            return base.respond(200, _identity_json(ident), call.operation)
        if t.kind == "fics" and method == "GET":
            return self._list(call, ident)
        if t.kind == "fic" and method == "GET":
            with ident.wi.lock:
                cred = ident.wi.credentials.get(t.child.lower())
            if cred is None:
                raise base.not_found(FIC_TYPE, f"{t.name}/{t.child}", t.resource_group)
            return base.respond(200, _fic_json(ident, cred), call.operation)
        if t.kind == "fic" and method in ("PUT", "DELETE"):
            return self._write(call, ident, t.child)
        raise ArmError(405, "MethodNotAllowed", f"The HTTP method '{method}' is not supported for this resource.")

    def _list(self, call: Call, ident: Identity) -> wire.Response:
        creds = sorted(ident.wi.snapshot(), key=lambda c: c.name.lower())
        top = int(call.req.q("$top") or MAX_CREDENTIALS)
        skip = int(call.req.q("$skiptoken") or 0)
        page = creds[skip: skip + top]
        body: dict[str, Any] = {"value": [_fic_json(ident, c) for c in page]}
        if skip + top < len(creds):
            body["nextLink"] = call.url(f"{ident.id}/federatedIdentityCredentials") + f"&$top={top}&$skiptoken={skip + top}"
        return base.respond(200, body, call.operation)

    def _write(self, call: Call, ident: Identity, name: str) -> wire.Response:
        body = call.body() if call.req.method == "PUT" else {}
        self._throttle(ident)
        with self._lock:
            if ident.busy:
                raise ArmError(409, "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                               "Too many Federated Identity Credentials are written concurrently for the managed "
                               f"identity '{ident.id.lower()}'. Concurrent Federated Identity Credentials writes under "
                               "the same managed identity are not supported.")
            ident.busy = True
        try:
            time.sleep(self._knobs.msi_write_hold_s)
            if call.req.method == "DELETE":
                with ident.wi.lock:
                    gone = ident.wi.credentials.pop(name.lower(), None)
                return base.respond(200 if gone else 204, None, call.operation)
            cred, created = self._put(ident, name, body)
            return base.respond(201 if created else 200, _fic_json(ident, cred), call.operation)
        finally:
            with self._lock:
                ident.busy = False

    def _put(self, ident: Identity, name: str, body: dict[str, Any]) -> tuple[FederatedCredential, bool]:
        props = base.obj(body, "properties")
        issuer, subject = str(props.get("issuer") or ""), str(props.get("subject") or "")
        audiences = props.get("audiences") or []
        if not _NAME.match(name):
            raise ArmError(400, "BadRequest", f"Federated identity credential name '{name}' is invalid. It must be 3 "
                           "to 120 characters: letters, digits, '-' and '_', starting with a letter or digit.")
        if not issuer.startswith("https://") or not subject or not isinstance(audiences, list) or not audiences:
            raise ArmError(400, "BadRequest", "The federated identity credential must have an https issuer, a subject "
                           "and at least one audience.")
        with ident.wi.lock:
            creds = ident.wi.credentials
            clash = next((c for k, c in creds.items() if k != name.lower() and c.issuer == issuer
                          and c.subject == subject), None)
            if clash is not None:
                raise ArmError(400, "BadRequest", "Issuer and subject combination already exists for this Managed "
                               f"Identity. Existing federated identity credential: '{clash.name}'.")
            created = name.lower() not in creds
            if created and len(creds) >= MAX_CREDENTIALS:
                raise ArmError(400, "BadRequest", "Too many Federated Identity Credentials are configured for the "
                               f"managed identity '{ident.id.lower()}'. The maximum number of Federated Identity "
                               f"Credentials per managed identity is {MAX_CREDENTIALS}.")
            cred = FederatedCredential(name, issuer, subject, tuple(str(a) for a in audiences), self._clock())
            creds[name.lower()] = cred
        return cred, created

    def _throttle(self, ident: Identity) -> None:
        """Token bucket per identity: ``msi_write_rate_per_s`` writes a second, bursts of ``msi_write_burst``."""
        rate = self._knobs.msi_write_rate_per_s
        if rate <= 0:
            return
        burst = max(1.0, self._knobs.msi_write_burst)
        now = self._clock()
        with self._lock:
            if ident.refilled_at == 0.0:
                ident.bucket, ident.refilled_at = burst, now
            ident.bucket = min(burst, ident.bucket + (now - ident.refilled_at) * rate)
            ident.refilled_at = now
            if ident.bucket >= 1.0:
                ident.bucket -= 1.0
                return
            wait = max(1, math.ceil((1.0 - ident.bucket) / rate))
        raise ArmError(429, "TooManyRequests", "Too many federated identity credential writes for the managed identity "
                       f"'{ident.id.lower()}'. Retry after {wait} seconds.", {"Retry-After": str(wait)})


def _identity_json(ident: Identity) -> dict[str, Any]:
    return {
        "id": ident.id, "name": ident.name, "type": TYPE, "location": ident.location, "tags": ident.tags,
        "properties": {"tenantId": ident.wi.tenant_id, "principalId": ident.wi.principal_id,
                       "clientId": ident.wi.client_id, "isolationScope": "None"},
        "systemData": {"createdAt": ident.created},
    }


def _fic_json(ident: Identity, cred: FederatedCredential) -> dict[str, Any]:
    return {
        "id": f"{ident.id}/federatedIdentityCredentials/{cred.name}", "name": cred.name, "type": FIC_TYPE,
        "properties": {"issuer": cred.issuer, "subject": cred.subject, "audiences": list(cred.audiences)},
    }
