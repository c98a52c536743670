"""Objects and resourceVersions: the sandbox's etcd.

One global counter numbers every write, as etcd's revision does, so a list's
``metadata.resourceVersion`` and each object's version are comparable. Objects
go in and come out as deep copies: callers can never alter stored state by
mutating what they were given. One re-entrant lock guards everything; verbs
take it for a whole read-modify-write so a conflict check and the write that
follows it are atomic under the threaded HTTPS server.
"""
from __future__ import annotations

import copy
import threading
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

from wif_sandbox.kube.resources import ResourceType

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # group, plural, namespace ("" when cluster-scoped), name


def key_of(rt: ResourceType, namespace: str, name: str) -> Key:
    return (rt.group, rt.plural, namespace if rt.namespaced else "", name)


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content(obj: Obj) -> Obj:
    """What ``metadata.generation`` tracks: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


class Store:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self._clock = clock
        self._objects: dict[Key, Obj] = {}
        self._revision = 0

    @property
    def revision(self) -> str:
        with self.lock:
            return str(self._revision)

    def get(self, rt: ResourceType, namespace: str, name: str) -> Optional[Obj]:
        obj = self.peek(rt, namespace, name)
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, rt: ResourceType, namespace: str = "") -> list[Obj]:
        """Objects of a type, in etcd key order; ``namespace=""`` means all namespaces."""
        return [copy.deepcopy(o) for o in self.scan(rt, namespace)]

    def peek(self, rt: ResourceType, namespace: str, name: str) -> Optional[Obj]:
        """``get`` without the copy, for readers that never change what they read (authorization)."""
        with self.lock:
            return self._objects.get(key_of(rt, namespace, name))

    def scan(self, rt: ResourceType, namespace: str = "") -> list[Obj]:
        """``list`` without the copies, for readers that never change what they read (authorization).

        Writes replace an object rather than edit it in place, so what a reader holds stays whole.
        """
        with self.lock:
            found = [(k, o) for k, o in self._objects.items()
                     if k[:2] == (rt.group, rt.plural) and (not namespace or k[2] == namespace)]
        return [o for _, o in sorted(found, key=lambda item: item[0])]

    def stamp_new(self, rt: ResourceType, obj: Obj) -> Obj:
        """Server-owned metadata of a new object, without storing it (dry runs use this)."""
        meta = obj.setdefault("metadata", {})
        for owned in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
            meta.pop(owned, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(self._clock())
        meta["generation"] = 1
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        return obj

    def create(self, rt: ResourceType, obj: Obj) -> Obj:
        """Store a stamped object; the caller has checked that the name is free."""
        with self.lock:
            self._revision += 1
            obj["metadata"]["resourceVersion"] = str(self._revision)
            key = key_of(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            self._objects[key] = copy.deepcopy(obj)
            return obj

    def carry_over(self, old: Obj, new: Obj) -> Obj:
        """Keep what an update may not change (uid, creation time, generation until stored)."""
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        meta.pop("managedFields", None)
        for owned in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            meta[owned] = old_meta.get(owned, 1 if owned == "generation" else "")
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        return new

    def replace(self, rt: ResourceType, new: Obj) -> Obj:
        """Store an updated, validated object.

        ``generation`` moves only when content outside metadata changes; an update
        that changes nothing at all keeps its resourceVersion, as etcd would not
        have been written.
        """
        with self.lock:
            key = key_of(rt, new["metadata"].get("namespace", ""), new["metadata"]["name"])
            old = self._objects.get(key)
            if old is not None and _content(old) != _content(new):
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            if old == new:
                return copy.deepcopy(new)
            self._revision += 1
            new["metadata"]["resourceVersion"] = str(self._revision)
            self._objects[key] = copy.deepcopy(new)
            return new

    def delete(self, rt: ResourceType, namespace: str, name: str) -> Optional[Obj]:
        with self.lock:
            obj = self._objects.pop(key_of(rt, namespace, name), None)
            if obj is not None:
                self._revision += 1
            return obj

    def delete_namespace_contents(self, namespace: str) -> None:
        """What the namespace controller does after a namespace is deleted."""
        with self.lock:
            for key in [k for k in self._objects if k[2] == namespace]:
                del self._objects[key]
            self._revision += 1

    def items(self) -> Iterator[tuple[Key, Obj]]:
        with self.lock:
            return iter([(k, copy.deepcopy(o)) for k, o in self._objects.items()])
