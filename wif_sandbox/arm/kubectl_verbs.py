"""The verbs of the run-command ``kubectl``, with kubectl's own output lines."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

from wif_sandbox.arm.kubectl import LAST_APPLIED, ApiFailure, CommandError, Kubectl, Resource, documents, split_commands


@dataclass
class Args:
    positional: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    namespace: str = ""
    output: str = ""
    ignore_not_found: bool = False
    as_user: str = ""
    as_groups: list[str] = field(default_factory=list)


_VALUED = {"-f": "files", "--filename": "files", "-n": "namespace", "--namespace": "namespace", "-o": "output",
           "--output": "output", "--as": "as_user", "--as-group": "as_groups"}


def parse(argv: list[str]) -> Args:
    args = Args()
    i = 0
    while i < len(argv):
        word = argv[i]
        flag, eq, value = word.partition("=")
        if flag in _VALUED:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise CommandError(f"error: flag needs an argument: {flag}")
                value = argv[i]
            _set(args, _VALUED[flag], value)
        elif flag == "--ignore-not-found":
            args.ignore_not_found = value.lower() != "false"
        elif word.startswith("-"):
            raise CommandError(f"error: unknown flag: {flag}")
        else:
            args.positional.append(word)
        i += 1
    return args


def _set(args: Args, attr: str, value: str) -> None:
    current = getattr(args, attr)
    if isinstance(current, list):
        current.append(value)
    else:
        setattr(args, attr, value)


def run(kubectl: Kubectl, command: str, files: dict[str, bytes]) -> tuple[int, str]:
    """Exit code and combined output of a command line, as run command reports them."""
    lines: list[str] = []
    code = 0
    for argv, joiner in split_commands(command):
        code = _one(kubectl, argv, files, lines)
        if code != 0 and joiner != ";":
            break
    return code, "".join(line + "\n" for line in lines)


def _one(kubectl: Kubectl, argv: list[str], files: dict[str, bytes], out: list[str]) -> int:
    try:
        if not argv or argv[0] != "kubectl":
            raise CommandError(f"sh: {argv[0] if argv else ''}: not found")
        verb, args = (argv[1] if len(argv) > 1 else ""), parse(argv[2:])
        if verb == "auth" and args.positional[:1] == ["can-i"]:
            return _can_i(kubectl, args, out)
        handlers = {"apply": _apply, "create": _create, "replace": _replace, "delete": _delete, "get": _get}
        if verb not in handlers:
            raise CommandError(f'error: unknown command "{verb}" for "kubectl"')
        handlers[verb](kubectl, args, files, out)
        return 0
    except (CommandError, ApiFailure) as e:
        out.append(str(e))
        return 1


def _objects(args: Args, files: dict[str, bytes]) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for name in args.files:
        if name not in files:
            raise CommandError(f'error: the path "{name}" does not exist')
        objs.extend(documents(files[name], name))
    return objs


def _locate(kubectl: Kubectl, obj: dict[str, Any], args: Args) -> tuple[Resource, str, str]:
    r = kubectl.by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    meta = obj.setdefault("metadata", {})
    namespace = (meta.get("namespace") or args.namespace or "default") if r.namespaced else ""
    if r.namespaced:
        meta["namespace"] = namespace
    return r, namespace, str(meta.get("name", ""))


def _apply(kubectl: Kubectl, args: Args, files: dict[str, bytes], out: list[str]) -> None:
    if not args.files:
        raise CommandError("error: must specify one of -f and -k")
    for obj in _objects(args, files):
        r, namespace, name = _locate(kubectl, obj, args)
        applied = json.dumps(obj, sort_keys=True)
        obj["metadata"].setdefault("annotations", {})[LAST_APPLIED] = applied + "\n"
        try:
            live = kubectl.call("GET", r.path(namespace, name))
        except ApiFailure as e:
            if e.status != 404:
                raise
            kubectl.call("POST", r.path(namespace), obj)
            out.append(f"{r.qualified}/{name} created")
            continue
        if (live.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED, "").strip() == applied:
            out.append(f"{r.qualified}/{name} unchanged")
            continue
        obj["metadata"]["resourceVersion"] = live["metadata"].get("resourceVersion", "")
        kubectl.call("PUT", r.path(namespace, name), obj)
        out.append(f"{r.qualified}/{name} configured")


def _create(kubectl: Kubectl, args: Args, files: dict[str, bytes], out: list[str]) -> None:
    """``kubectl create -f``: POST, so an object that exists already is an error (AlreadyExists, exit 1)."""
    _send_each(kubectl, args, files, out, "POST", "created")


def _replace(kubectl: Kubectl, args: Args, files: dict[str, bytes], out: list[str]) -> None:
    """``kubectl replace -f``: PUT as given; a ``metadata.resourceVersion`` in it is a precondition (Conflict)."""
    _send_each(kubectl, args, files, out, "PUT", "replaced")


def _send_each(kubectl: Kubectl, args: Args, files: dict[str, bytes], out: list[str], method: str, done: str) -> None:
    if not args.files:
        raise CommandError("error: must specify one of -f and -k")
    for obj in _objects(args, files):
        r, namespace, name = _locate(kubectl, obj, args)
        kubectl.call(method, r.path(namespace) if method == "POST" else r.path(namespace, name), obj)
        out.append(f"{r.qualified}/{name} {done}")


def _delete(kubectl: Kubectl, args: Args, files: dict[str, bytes], out: list[str]) -> None:
    targets: list[tuple[Resource, str, str]] = []
    if args.files:
        targets = [_locate(kubectl, obj, args) for obj in _objects(args, files)]
    elif len(args.positional) >= 2:
        r = kubectl.resource(args.positional[0])
        targets = [(r, args.namespace or "default" if r.namespaced else "", n) for n in args.positional[1:]]
    else:
        raise CommandError("error: resource(s) were provided, but no name was specified")
    for r, namespace, name in targets:
        try:
            kubectl.call("DELETE", r.path(namespace, name))
        except ApiFailure as e:
            if e.status == 404 and args.ignore_not_found:
                continue
            raise
        out.append(f'{r.qualified} "{name}" deleted')


def _get_one(kubectl: Kubectl, r: Any, namespace: str, name: str, args: Args) -> Optional[dict[str, Any]]:
    try:
        found: dict[str, Any] = kubectl.call("GET", r.path(namespace, name))
    except ApiFailure as e:
        if e.status == 404 and args.ignore_not_found:
            return None
        raise
    return found


def _get(kubectl: Kubectl, args: Args, files: dict[str, bytes], out: list[str]) -> None:
    if not args.positional:
        raise CommandError("error: you must specify the type of resource to get")
    r = kubectl.resource(args.positional[0])
    namespace = (args.namespace or "default") if r.namespaced else ""
    names = args.positional[1:]
    items = [found for found in (_get_one(kubectl, r, namespace, n, args) for n in names) if found is not None] \
        if names else kubectl.call("GET", r.path(namespace)).get("items", [])
    if names and not items:
        return  # --ignore-not-found: kubectl prints nothing and exits 0
    for item in items:
        item.setdefault("apiVersion", f"{r.group}/{r.version}" if r.group else r.version)
        item.setdefault("kind", r.kind)
    doc: Any = items[0] if len(names) == 1 else {"apiVersion": "v1", "kind": "List", "items": items,
                                                 "metadata": {"resourceVersion": ""}}
    if args.output == "json":
        out.append(json.dumps(doc, indent=4))
    elif args.output == "yaml":
        out.append(yaml.safe_dump(doc, sort_keys=False).rstrip("\n"))
    elif args.output == "name":
        out.extend(f"{r.qualified}/{i['metadata']['name']}" for i in items)
    else:
        out.append("NAME")
        out.extend(i["metadata"]["name"] for i in items)


def _can_i(kubectl: Kubectl, args: Args, out: list[str]) -> int:
    if len(args.positional) < 3:
        raise CommandError("error: you must specify two arguments: verb resource or verb resource/resourceName.")
    verb, what = args.positional[1], args.positional[2]
    kind, _, name = what.partition("/")
    r = kubectl.resource(kind)
    attrs: dict[str, Any] = {"verb": verb, "group": r.group, "resource": r.plural, "name": name}
    if r.namespaced:
        attrs["namespace"] = args.namespace or "default"
    spec: dict[str, Any] = {"resourceAttributes": attrs}
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    if args.as_user or args.as_groups:
        spec.update(user=args.as_user, groups=args.as_groups)
        answer = kubectl.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    else:
        review["kind"] = "SelfSubjectAccessReview"
        answer = kubectl.call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    allowed = bool(answer.get("status", {}).get("allowed"))
    out.append("yes" if allowed else "no")
    return 0 if allowed else 1
