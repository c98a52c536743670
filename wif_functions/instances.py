"""One orchestration per cluster: its instance id, and starting or signalling it.

The instance id is a pure function of the normalised (lower-cased) ARM id, so
every trigger that names a cluster lands on the same instance:

* nothing running            -> ``start_new`` (a finished instance re-runs; every step is idempotent);
* running the same action    -> absorbed: duplicate Event Grid deliveries collapse into the run;
* running the other action   -> ``raise_event(desired_action)``: the orchestrator lets its
  in-flight activity finish, then switches chain (a delete during registration ends deregistered).

``host.json`` sets ``overridableExistingInstanceStates: NonRunningStates`` so two triggers
racing to start the same cluster cannot replace each other's run: the loser's ``start_new``
fails, and it re-reads the status instead.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol

if TYPE_CHECKING:
    from wif_core import model

log = logging.getLogger("wif_functions.instances")

ORCHESTRATOR = "cluster_orchestrator"
EVENT = "desired_action"
ACTIONS = ("register", "deregister")
FEDERATION = "federation"  # internal: the hub's federation (wif_core.chain.FEDERATION); no trigger asks for it
ACTIVE = frozenset({"Running", "Pending", "ContinuedAsNew", "Suspended"})


class Client(Protocol):
    """The part of ``DurableOrchestrationClient`` this module uses."""

    async def start_new(self, orchestration_function_name: str, instance_id: Optional[str] = None,
                        client_input: Optional[Any] = None) -> str: ...

    async def get_status(self, instance_id: str, show_history: bool = False, show_history_output: bool = False,
                         show_input: bool = False) -> Any: ...

    async def raise_event(self, instance_id: str, event_name: str, event_data: Any = None) -> None: ...


@dataclass(frozen=True)
class Dispatch:
    instance_id: str
    action: str
    disposition: str  # started | restarted | absorbed | signalled


def instance_id(ref: model.ClusterRef) -> str:
    """``aks-<name>-<24 hex of sha256(lower-cased ARM id)>``: readable, unique, URL- and table-key-safe."""
    digest = hashlib.sha256(ref.key.encode("utf-8")).hexdigest()[:24]
    return f"aks-{ref.name.lower()}-{digest}"


def federation_instance_id(hub: model.ClusterRef, identity: model.IdentityRef) -> str:
    """``federation-<hub>-<24 hex>``: one per hub and Argo CD identity, never a cluster's id."""
    digest = hashlib.sha256(f"{hub.key}|{identity.id.lower()}".encode()).hexdigest()[:24]
    return f"federation-{hub.name.lower()}-{digest}"


def orchestration_input(action: str, ref: model.ClusterRef, settings: Mapping[str, str], source: str) -> dict[str, Any]:
    if action not in (*ACTIONS, FEDERATION):
        raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
    return {"action": action, "cluster": ref.id, "settings": dict(settings), "source": source}


async def dispatch(client: Client, ref: model.ClusterRef, action: str, settings: Mapping[str, str],
                   source: str) -> Dispatch:
    """Make sure the cluster's orchestration is (or ends up) doing ``action``."""
    iid = instance_id(ref)
    status = await client.get_status(iid, show_input=True)
    running = running_action(status)
    if running == action:
        log.info("%s for %s absorbed by the running instance %s", action, ref.id, iid)
        return Dispatch(iid, action, "absorbed")
    if running is None:
        started = await _start(client, iid, ref, action, settings, source, "restarted" if status else "started")
        if action == "register":
            await ensure_federation(client, settings, source)
        return started
    await client.raise_event(iid, EVENT, {"action": action, "id": uuid.uuid4().hex, "source": source})
    # A run that ended between get_status and raise_event drops the event: start one instead.
    status = await client.get_status(iid, show_input=True)
    if running_action(status) is None and not _ended_doing(status, action):
        return await _start(client, iid, ref, action, settings, source, "restarted")
    log.info("%s for %s signalled to the running %s instance %s", action, ref.id, running, iid)
    return Dispatch(iid, action, "signalled")


async def ensure_federation(client: Client, settings: Mapping[str, str], source: str) -> Optional[str]:
    """Hub topology: have the hub's federation run on its own, once, alongside the registrations.

    A fleet created at once starts hundreds of registrations whose activities queue first-in
    first-out; without this, the identity's only two credential writes (throttled to ~0.25/s,
    then propagating) would start after every cluster's ``discover``. Nothing depends on it:
    each registration's own federate step checks and, if need be, writes. So it starts only if
    it has never run or did not complete, and its id is returned when it is started here.
    """
    from wif_core import errors
    from wif_functions import appsettings

    try:
        parsed = appsettings.from_snapshot(settings)
    except errors.ConfigError:  # the registration's own run reports it, naming the setting
        return None
    if parsed.topology != "hub" or parsed.hub is None:
        return None
    iid = federation_instance_id(parsed.hub, parsed.identity)
    state = runtime_status(await client.get_status(iid))
    if state in ACTIVE or state == "Completed":
        return None
    try:
        await client.start_new(ORCHESTRATOR, iid, orchestration_input(FEDERATION, parsed.hub, settings, source))
    except Exception:  # noqa: BLE001 - another trigger started it first ("already exists")
        return None
    log.info("the hub's federation: started instance %s", iid)
    return iid


async def _start(client: Client, iid: str, ref: model.ClusterRef, action: str, settings: Mapping[str, str],
                 source: str, disposition: str) -> Dispatch:
    try:
        await client.start_new(ORCHESTRATOR, iid, orchestration_input(action, ref, settings, source))
    except Exception:  # noqa: BLE001 - the extension reports "already exists" as a bare Exception
        status = await client.get_status(iid, show_input=True)
        if running_action(status) != action:
            raise
        log.info("%s for %s: another trigger started %s first", action, ref.id, iid)
        return Dispatch(iid, action, "absorbed")
    log.info("%s for %s: %s instance %s", action, ref.id, disposition, iid)
    return Dispatch(iid, action, disposition)


def runtime_status(status: Any) -> Optional[str]:
    value = getattr(status, "runtime_status", None) if status else None
    return None if value is None else str(getattr(value, "value", value))


def running_action(status: Any) -> Optional[str]:
    """The action an active instance is carrying out, or None when nothing runs."""
    if runtime_status(status) not in ACTIVE:
        return None
    custom = as_dict(getattr(status, "custom_status", None))
    if custom.get("action") in ACTIONS:  # follows a switch made after the start
        return str(custom["action"])
    started = as_dict(getattr(status, "input_", None))
    return str(started.get("action") or "register")


def _ended_doing(status: Any, action: str) -> bool:
    return runtime_status(status) == "Completed" and as_dict(getattr(status, "output", None)).get("action") == action


def as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}
