"""``python -m wif_core``: event | plan | onboard | offboard | verify | argocd-values | list.

Exit codes: 0 ok, 1 failed, 2 bad input (a bad event, id, setting or
argument), 130 interrupted. Every error is one line on stderr, ``error: ...``;
``--debug`` adds the traceback. ``wif_core.cli_output`` renders what is printed.
Only commands that talk to Azure load ``wif_core.adapters`` (and with it the
Azure SDKs), so ``event --dry-run`` needs nothing else.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import IO, Callable, Mapping, NoReturn, Optional, Sequence, TextIO, cast

from wif_core import chain, cli_guards, cli_output, config, errors, events, helm_values, inventory, model, plan, ports, runner

PortsFactory = Callable[[config.Settings], ports.Ports]
OK, FAILED, BAD_INPUT, INTERRUPTED = 0, 1, 2, 130


class _Usage(Exception):
    """argparse's complaint, turned into one line and exit code 2."""


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(f"{message} (see '{self.prog} --help')")

    def exit(self, status: int = 0, message: Optional[str] = None) -> NoReturn:
        raise _Exit(status)


class _Version(argparse.Action):
    """``--version``: read only when asked (importlib.metadata, else pyproject.toml)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: Optional[str] = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: Optional[str] = None) -> None:
        sys.stdout.write(f"{cli_output.PACKAGE} {cli_output.version()}\n")
        parser.exit()


def _parser() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    p = _Parser(prog="python -m wif_core", parents=[common],
                description="Register AKS clusters into Argo CD with workload identity: no stored credential.")
    p.add_argument("--version", action=_Version, help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ev = sub.add_parser("event", parents=[common], help="classify Event Grid events (both schemas); run them")
    ev.add_argument("file", metavar="FILE|-", help="JSON payload: one event or an array; - reads stdin")
    ev.add_argument("--dry-run", action="store_true", help="only print the decisions (needs no settings)")
    pl = sub.add_parser("plan", parents=[common], help="print what onboarding would apply; apply nothing")
    pl.add_argument("--cluster", required=True, metavar="ID", help="ARM id of the AKS cluster")
    pl.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    for name, what in (("onboard", "run the whole chain"), ("offboard", "remove what onboarding created"),
                       ("verify", "check the Argo CD identity's access (SubjectAccessReview)")):
        one = sub.add_parser(name, parents=[common], help=what)
        one.add_argument("--cluster", required=True, metavar="ID", help="ARM id of the AKS cluster")
        one.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text",
                         help="text: one line for a person (default); json|yaml: the whole run")
        if name == "offboard":
            one.add_argument("-y", "--yes", action="store_true", help="do not ask first (asked only on a terminal)")
    av = sub.add_parser("argocd-values", parents=[common],
                        help="print the argo-cd Helm chart values that turn on workload identity on the hub")
    av.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    ls = sub.add_parser("list", parents=[common], help="the registered clusters, as their Argo CD Secrets say")
    ls.add_argument("-o", "--output", choices=("table", "yaml", "json"), default="table")
    return p


@dataclass
class _Context:
    env: Mapping[str, str]
    out: TextIO
    err: TextIO
    ports_factory: Optional[PortsFactory]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stdin: Optional[TextIO] = None

    def settings(self) -> config.Settings:
        return config.Settings.from_env(self.env)

    def ports(self, settings: config.Settings) -> ports.Ports:
        if self.ports_factory is not None:
            return self.ports_factory(settings)
        try:  # the Azure SDKs load here, and only here
            bootstrap = importlib.import_module("wif_core.adapters.bootstrap")
        except ImportError as e:
            raise errors.PermanentError(f"the Azure adapters cannot be loaded ({e}); "
                                        "install requirements.txt into this Python") from e
        return cast(PortsFactory, bootstrap.build)(settings)

    def error_prefix(self) -> str:
        return cli_output.paint("error:", cli_output.RED, cli_output.colour(self.err, self.env))

    def failed(self, report: runner.Report) -> None:
        step = f"{report.failed_step}: " if report.failed_step else ""
        self.err.write(f"{self.error_prefix()} {report.chain} {report.cluster}: {step}{_one_line(report.error)}\n")

    def outcome(self, report: runner.Report) -> None:
        """The run's last line on stderr: the error, or why the cluster was skipped (exit 0)."""
        if not report.ok:
            self.failed(report)
            return
        why = _skipped(report)
        if why:
            skipped = cli_output.paint("skipped:", cli_output.YELLOW, cli_output.colour(self.err, self.env))
            self.err.write(f"{skipped} {report.cluster}: {_one_line(why)}\n")

    def report(self, report: runner.Report, output: str) -> int:
        """A chain's run on stdout (a line for a person, or the whole run), then its outcome on stderr."""
        if output == "text":
            line = cli_output.human(report).rstrip("\n")
            if line:
                self.out.write(cli_output.paint(line, cli_output.GREEN, cli_output.colour(self.out, self.env)) + "\n")
        else:
            self.out.write(cli_output.machine(report, output))
        self.out.flush()
        self.outcome(report)
        return OK if report.ok else FAILED

    def emit(self, doc: object) -> None:
        self.out.write(json.dumps(doc, sort_keys=False) + "\n")
        self.out.flush()


_one_line = cli_output.one_line


def _skipped(report: runner.Report) -> str:
    """Why nothing was done: the hub itself, or a cluster outside the opt-in that was never registered."""
    gone = report.results.get("deregister")
    if isinstance(gone, model.Deregistered) and gone.reason:
        return gone.reason.removeprefix("skipped: ")
    found = report.results.get("discover")
    if isinstance(found, model.Discovered) and not found.eligible and not isinstance(gone, model.Deregistered):
        return found.reason
    return ""


def _read(name: str) -> bytes:
    limit = events.MAX_BYTES + 1  # one byte more than allowed, so events can say it is too big
    if name == "-":
        return sys.stdin.buffer.read(limit)
    try:
        with open(name, "rb") as f:
            return f.read(limit)
    except OSError as e:
        raise errors.BadInput(f"cannot read {name!r}: {e.strerror or type(e).__name__}") from None


def _scopes(env: Mapping[str, str]) -> Optional[tuple[model.Scope, ...]]:
    """WIF_ALLOWED_SCOPES when set (dry runs need no other setting); None: no scope filter."""
    raw = env.get("WIF_ALLOWED_SCOPES", "").strip()
    if not raw:
        return None
    try:
        return tuple(model.Scope.parse(item.strip()) for item in raw.split(",") if item.strip())
    except errors.BadInput as e:
        raise errors.ConfigError(f"WIF_ALLOWED_SCOPES: {e.message}") from None


def _runner(ctx: _Context, p: ports.Ports, settings: config.Settings, name: str) -> runner.Runner:
    return runner.Runner(p, settings, clock=ctx.clock, sleep=ctx.sleep,
                         on_progress=cli_output.Progress(ctx.err, chain.CHAINS[name]))


def _event(args: argparse.Namespace, ctx: _Context) -> int:
    payload = _read(args.file)
    if args.dry_run:
        for decision in events.decide(payload, _scopes(ctx.env)):
            ctx.emit(decision.to_json())
        return OK
    settings = ctx.settings()
    decisions = events.decide(payload, settings.allowed_scopes)
    status, last = OK, dict[str, str]()  # last action run per cluster: duplicate deliveries run once
    p = ctx.ports(settings) if any(d.action != "ignore" for d in decisions) else None
    for decision in decisions:
        row = decision.to_json()
        if decision.cluster is not None and decision.action != "ignore" and p is not None:
            if last.get(decision.cluster.key) == decision.action:
                row["run"] = "duplicate"
            else:
                last[decision.cluster.key] = decision.action
                name = "register" if decision.action == "register" else "deregister"
                report = _runner(ctx, p, settings, name).run(name, decision.cluster)
                skipped = _skipped(report) if report.ok else ""
                row.update(run="skipped" if skipped else ("ok" if report.ok else "failed"), error=report.error,
                           failed_step=report.failed_step, **({"reason_skipped": skipped} if skipped else {}))
                if not report.ok:
                    status = FAILED
                ctx.outcome(report)
        ctx.emit(row)
    return status


def _plan(args: argparse.Namespace, ctx: _Context) -> int:
    ref = model.ClusterRef.parse(args.cluster)
    settings = ctx.settings()
    doc = plan.build(ctx.ports(settings), settings, ref)
    if args.output == "json":
        ctx.emit(doc)
    else:
        import yaml  # only for this output

        ctx.out.write(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    return OK


def _argocd_values(args: argparse.Namespace, ctx: _Context) -> int:
    settings = ctx.settings()
    helm_values.components(settings.service_accounts)  # an unknown name fails before any Azure call
    identity = ctx.ports(settings).identities.get_identity(settings.identity)
    doc = helm_values.values(settings, identity)
    if args.output == "json":
        ctx.emit(doc)
    else:
        import yaml  # only for this output

        ctx.out.write(helm_values.header(settings, identity) + yaml.safe_dump(doc, sort_keys=False))
    return OK


def _list(args: argparse.Namespace, ctx: _Context) -> int:
    settings = ctx.settings()
    rows = inventory.registered(ctx.ports(settings), settings)
    if args.output == "json":
        ctx.emit({"clusters": [r.to_json() for r in rows]})
    elif args.output == "yaml":
        import yaml  # only for this output

        ctx.out.write(yaml.safe_dump({"clusters": [r.to_json() for r in rows]}, sort_keys=False))
    else:
        ctx.out.write(inventory.table(rows))
    return OK


def _onboard(args: argparse.Namespace, ctx: _Context) -> int:
    ref = model.ClusterRef.parse(args.cluster)
    settings = ctx.settings()
    run = cli_guards.OnboardRunner(ctx.ports(settings), settings, clock=ctx.clock, sleep=ctx.sleep,
                                   on_progress=cli_output.Progress(ctx.err, chain.REGISTER, quiet=("deregister",)))
    try:
        report = run.run("register", ref)
    except cli_guards.NotEligible as e:
        report = cli_guards.not_eligible(ref, e.results)
    return ctx.report(report, args.output)


def _verify(args: argparse.Namespace, ctx: _Context) -> int:
    ref = model.ClusterRef.parse(args.cluster)
    settings = ctx.settings()
    p = ctx.ports(settings)
    # Checked first: the SubjectAccessReview of a cluster never onboarded would poll until its deadline.
    missing = cli_guards.unregistered(p, settings, ref)
    if missing:
        report = runner.Report(cluster=ref.id, chain="verify", ok=False, error=missing)
    else:
        report = _runner(ctx, p, settings, "verify").run("verify", ref)
    return ctx.report(report, args.output)


def _confirmed(ctx: _Context, ref: model.ClusterRef) -> bool:
    """On a terminal, unless --yes: ask. Scripts (no terminal) are not asked, as before."""
    stdin = ctx.stdin or sys.stdin
    if not cli_output.is_terminal(stdin):
        return True
    ctx.err.write(f"offboard {ref.name}: delete its Argo CD cluster Secret, and the access and federated "
                  "credentials created for it? [y/N] ")
    ctx.err.flush()
    return stdin.readline().strip().lower() in ("y", "yes")


def _offboard(args: argparse.Namespace, ctx: _Context) -> int:
    ref = model.ClusterRef.parse(args.cluster)
    settings = ctx.settings()
    if not args.yes and not _confirmed(ctx, ref):
        ctx.err.write(f"{ctx.error_prefix()} offboard {ref.id}: not confirmed; nothing changed\n")
        return FAILED
    report = _runner(ctx, ctx.ports(settings), settings, "deregister").run("deregister", ref)
    return ctx.report(report, args.output)


_COMMANDS: dict[str, Callable[[argparse.Namespace, _Context], int]] = {
    "event": _event, "plan": _plan, "onboard": _onboard, "offboard": _offboard,
    "verify": _verify, "argocd-values": _argocd_values, "list": _list,
}


def main(argv: Optional[Sequence[str]] = None, *, ports_factory: Optional[PortsFactory] = None,
         env: Optional[Mapping[str, str]] = None, stdout: Optional[TextIO] = None,
         stderr: Optional[TextIO] = None, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep, stdin: Optional[TextIO] = None) -> int:
    """Run one command; returns the exit code. Tests inject ports, settings, streams, clock and sleep."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    ctx = _Context(os.environ if env is None else env, out, err, ports_factory, clock, sleep, stdin)
    debug = "--debug" in args_list

    def fail(code: int, message: str, exc: Optional[BaseException] = None) -> int:
        if debug and exc is not None:
            traceback.print_exception(exc, file=cast(IO[str], err))
        err.write(f"{ctx.error_prefix()} {_one_line(message)}\n")
        err.flush()
        return code

    try:
        with contextlib.redirect_stdout(out):  # --help goes where the caller's stdout is
            args = _parser().parse_args(args_list)
        return _COMMANDS[args.command](args, ctx)
    except _Exit as e:
        return e.status
    except _Usage as e:
        return fail(BAD_INPUT, str(e))
    except errors.BadInput as e:  # also ConfigError
        return fail(BAD_INPUT, e.message, e)
    except errors.WifError as e:
        return fail(FAILED, e.message, e)
    except KeyboardInterrupt:
        return fail(INTERRUPTED, "interrupted")
    except BrokenPipeError:
        return OK  # `... | head`: the reader has all it wanted
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, never a traceback unless asked
        hint = "" if debug else "; rerun with --debug for the traceback"
        return fail(FAILED, f"unexpected {type(e).__name__}: {str(e)[:200]}{hint}", e)
