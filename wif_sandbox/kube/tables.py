"""Server-side printing: ``meta.k8s.io/v1`` Tables, asked for by ``kubectl get``.

kubectl sends ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io, …`` and
prints whatever columns the server chooses, so these mirror kube-apiserver's
printers for the kinds served here (``NAME TYPE DATA AGE`` for Secrets …).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from wif_sandbox.kube import resources as res
from wif_sandbox.kube.store import Obj

Column = tuple[str, str, str, int, Callable[[Obj], Any]]  # name, type, format, priority, cell


def wants_table(accept: str) -> bool:
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in accept.split(","))


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration``: what the AGE column shows."""
    s = int(seconds)
    if s < 0:
        return "0s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 730:
        return f"{days}d"
    years = days // 365
    return f"{years}y{days % 365}d" if years < 8 and days % 365 else f"{years}y"


def _age(now: float) -> Callable[[Obj], str]:
    def cell(obj: Obj) -> str:
        created = obj["metadata"].get("creationTimestamp")
        if not created:
            return "<unknown>"
        stamp = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        return human_duration(now - stamp)
    return cell


def _subjects(kind: str) -> Callable[[Obj], str]:
    def cell(obj: Obj) -> str:
        found = [s for s in obj.get("subjects") or [] if s.get("kind") == kind]
        if kind == "ServiceAccount":
            return ", ".join(f"{s.get('namespace', '')}/{s.get('name')}" for s in found)
        return ", ".join(str(s.get("name")) for s in found)
    return cell


def _role(obj: Obj) -> str:
    ref = obj.get("roleRef") or {}
    return f"{ref.get('kind')}/{ref.get('name')}"


def _columns(rt: res.ResourceType, now: float) -> list[Column]:
    name: Column = ("Name", "string", "name", 0, lambda o: o["metadata"]["name"])
    age: Column = ("Age", "string", "", 0, _age(now))
    created: Column = ("Created At", "date", "", 0, lambda o: o["metadata"].get("creationTimestamp"))
    extra: dict[res.ResourceType, list[Column]] = {
        res.SECRETS: [("Type", "string", "", 0, lambda o: o.get("type", "")),
                      ("Data", "string", "", 0, lambda o: len(o.get("data") or {})), age],
        res.CONFIG_MAPS: [("Data", "string", "", 0,
                           lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})), age],
        res.SERVICE_ACCOUNTS: [("Secrets", "string", "", 0, lambda o: len(o.get("secrets") or [])), age],
        res.NAMESPACES: [("Status", "string", "", 0, lambda o: (o.get("status") or {}).get("phase", "")), age],
        res.CLUSTER_ROLES: [created],
        res.ROLES: [created],
        res.CLUSTER_ROLE_BINDINGS: [("Role", "string", "", 0, _role), age,
                                    ("Users", "string", "", 1, _subjects("User")),
                                    ("Groups", "string", "", 1, _subjects("Group")),
                                    ("ServiceAccounts", "string", "", 1, _subjects("ServiceAccount"))],
        res.ROLE_BINDINGS: [("Role", "string", "", 0, _role), age,
                            ("Users", "string", "", 1, _subjects("User")),
                            ("Groups", "string", "", 1, _subjects("Group")),
                            ("ServiceAccounts", "string", "", 1, _subjects("ServiceAccount"))],
    }
    return [name] + extra.get(rt, [age])


def table(rt: res.ResourceType, objects: list[Obj], resource_version: str, now: float) -> dict[str, Any]:
    columns = _columns(rt, now)
    rows = [
        {
            "cells": [cell(obj) for *_, cell in columns],
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": obj["metadata"]},
        }
        for obj in objects
    ]
    definitions = [
        {"name": n, "type": t, "format": f, "description": n, "priority": p} for n, t, f, p, _ in columns
    ]
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions, "rows": rows,
    }
