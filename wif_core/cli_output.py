"""What the command line prints: progress on stderr, a one-line human summary or JSON/YAML on stdout.

Pure rendering of ``runner.Report`` and ``runner.Progress``; ``wif_core.cli`` decides where it goes.
A failure's message is printed once, on the ``error:`` line: the progress line of the failed step
and the human summary leave it out, so a terminal does not show the same text three times.
"""
from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path
from typing import Mapping, Sequence, TextIO

from wif_core import chain, codec, model, runner

PACKAGE = "aks-argocd-wif"
GREEN, YELLOW, RED = "32", "33", "31"


def one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: treated as a script's pipe
        return False


def colour(stream: TextIO, env: Mapping[str, str]) -> bool:
    """Colour only for a person at a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return not env.get("NO_COLOR") and is_terminal(stream)


def paint(text: str, code: str, on: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if on else text


def version() -> str:
    """The installed distribution's version, else the one in pyproject.toml (run from a checkout)."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    found = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M) if project else None
    return found.group(1) if found else "unknown"


class Progress:
    """``[3/6] await_propagation  waiting (attempt 2): AADSTS70021 ...  4.1s`` on stderr.

    ``quiet`` steps do not announce their start: the CLI's onboard stops before the register
    chain's ``deregister`` runs, so "started" would announce a removal that never happens.
    """

    def __init__(self, err: TextIO, steps: Sequence[chain.Step], quiet: Sequence[str] = ()) -> None:
        self.err, self.names, self.quiet = err, [s.name for s in steps], set(quiet)
        self.extra = {s.name for s in chain.ROLLBACK}  # shown as [+] when a failed onboarding rolls back

    def __call__(self, event: runner.Progress) -> None:
        if event.status == "started" and event.step in self.quiet:
            return
        # A failure's message is on the error: line that ends the run; not here too.
        text = "" if event.status == "failed" or not event.message else one_line(event.message)
        if event.step in self.extra:
            self.err.write(f"[+] {event.step:<19} {event.status}{': ' + text[:300] if text else ''}\n")
            self.err.flush()
            return
        n = self.names.index(event.step) + 1 if event.step in self.names else 0
        status = event.status if event.status not in ("retrying", "waiting") else f"{event.status} (attempt {event.attempt})"
        took = f"  {event.seconds:.1f}s" if event.status not in ("started", "skipped") else ""
        self.err.write(f"[{n}/{len(self.names)}] {event.step:<17} {status}{': ' + text[:160] if text else ''}{took}\n")
        self.err.flush()


def summary(report: runner.Report) -> dict[str, object]:
    """The machine-readable run (``-o json|yaml``): these keys are relied on by scripts."""
    return {"cluster": report.cluster, "chain": report.chain, "ok": report.ok, "error": report.error,
            "failed_step": report.failed_step, "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
            "results": {k: codec.encode(v) for k, v in report.results.items()}}


def machine(report: runner.Report, output: str) -> str:
    if output == "yaml":
        import yaml  # only for this output

        return str(yaml.safe_dump(summary(report), sort_keys=False, default_flow_style=False))
    return json.dumps(summary(report), sort_keys=False) + "\n"


def human(report: runner.Report) -> str:
    """One line for a run that did its work, e.g. ``aks-1 registered → argocd/aks-1-ab12, verified in 7.1 s``.

    Empty for a failure or a skip: those are told once on stderr (``error:`` / ``skipped:``).
    """
    if not report.ok:
        return ""
    name, took = report.cluster.rstrip("/").rsplit("/", 1)[-1], f" in {sum(report.seconds.values()):.1f} s"
    done = report.results.get(report.chain)  # each chain's own step: register, verify, deregister
    if isinstance(done, model.Registered):
        verified = report.results.get("verify")
        check = ", verified" if isinstance(verified, model.Verified) and verified.allowed else ""
        same = " (unchanged)" if done.action == "unchanged" else ""
        return f"{name} registered → {done.namespace}/{done.name}{same}{check}{took}\n"
    if isinstance(done, model.Verified) and done.allowed:
        why = f" ({done.reason})" if done.reason else ""
        return f"{name} verified: the Argo CD identity has access{why}{took}\n"
    if isinstance(done, model.Deregistered) and not done.reason:
        creds = f", {len(done.credentials)} federated credential(s) deleted" if done.credentials else ""
        return f"{name} offboarded: Secret {done.secret}, binding {done.binding}{creds}{took}\n"
    return ""
