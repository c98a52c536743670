"""``labelSelector`` and ``fieldSelector`` query parameters, as apimachinery parses them.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``,
``a`` (exists) and ``!a``, comma-separated and and-ed. Field selectors support
what kube-apiserver supports for every type (``metadata.name``,
``metadata.namespace``) plus ``type`` on Secrets; anything else is a 400, as
real servers answer ``field label not supported``.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from wif_sandbox.kube import errors

Predicate = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside ``( … )`` value sets."""
    terms, depth, current = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[dict[str, str]], bool]:
    match = _SET_RE.match(term)
    if match:
        key, op, raw = match.groups()
        values = {v.strip() for v in raw.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in term:
            key, value = (part.strip() for part in term.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if term.startswith("!"):
        key = term[1:].strip()
        return lambda labels: key not in labels
    if re.fullmatch(r"[A-Za-z0-9./_-]+", term):
        return lambda labels: term in labels
    raise errors.bad_request(f"unable to parse requirement: {term!r}")


def labels(selector: str) -> Predicate:
    tests = [_label_term(t) for t in _split_terms(selector)]

    def matches(obj: dict[str, Any]) -> bool:
        found = obj.get("metadata", {}).get("labels") or {}
        return all(test(found) for test in tests)

    return matches


_FIELDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "metadata.name": lambda o: str(o.get("metadata", {}).get("name", "")),
    "metadata.namespace": lambda o: str(o.get("metadata", {}).get("namespace", "")),
}
_SECRET_FIELDS = {"type": lambda o: str(o.get("type", ""))}


def _field_term(term: str, supported: dict[str, Callable[[dict[str, Any]], str]]) -> Predicate:
    for op in ("!=", "==", "="):
        if op in term:
            name, want = (part.strip() for part in term.split(op, 1))
            break
    else:
        raise errors.bad_request(f"invalid selector: can't understand '{term}'")
    if name not in supported:
        raise errors.bad_request(f"field label not supported: {name}")
    getter = supported[name]
    if op == "!=":
        return lambda obj: getter(obj) != want
    return lambda obj: getter(obj) == want


def fields(selector: str, kind: str) -> Predicate:
    supported = dict(_FIELDS, **(_SECRET_FIELDS if kind == "Secret" else {}))
    tests = [_field_term(t, supported) for t in _split_terms(selector)]
    return lambda obj: all(test(obj) for test in tests)
