"""checkov's Bicep checks pass on infra/, except skips justified inline.

checkov runs once per session (module fixture), offline (--skip-download: no
Prisma Cloud guidelines, and therefore no severities). Without severities the
bar is "no failed check at all"; a check may only be silenced by a
`//checkov:skip=CKV_...: reason` comment inside the resource, and every such
comment must give a reason.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SKIP = re.compile(r"//\s*checkov:skip=(?P<id>CKV2?_[A-Z]+_\d+)(?::\s*(?P<reason>.*))?$")
MIN_REASON = 40  # characters: a sentence, not "n/a"


def _checkov() -> str:
    here = Path(sys.executable).with_name("checkov")
    found = str(here) if here.exists() else shutil.which("checkov")
    if not found:
        pytest.skip("checkov is not installed (it is in requirements-dev.txt)")
    return found


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    cmd = [_checkov(), "-d", str(INFRA), "--framework", "bicep", "--quiet", "--compact",
           "--skip-download", "-o", "json"]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    elapsed = time.monotonic() - started
    print(f"checkov took {elapsed:.1f}s")
    assert done.stdout.strip(), f"checkov printed nothing (exit {done.returncode}): {done.stderr[-2000:]}"
    data = json.loads(done.stdout)
    reports = data if isinstance(data, list) else [data]
    bicep = [r for r in reports if r.get("check_type") == "bicep"]
    assert bicep, f"no bicep report in checkov output: {done.stdout[:500]}"
    found: dict[str, Any] = bicep[0]
    return found


def _skip_comments() -> list[tuple[str, int, str, str]]:
    found = []
    for path in sorted(INFRA.rglob("*.bicep")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "checkov:skip" in line:
                m = SKIP.search(line.strip())
                assert m, f"{path.name}:{number}: malformed skip comment: {line.strip()}"
                found.append((path.name, number, m["id"], (m["reason"] or "").strip()))
    return found


def test_checkov_scanned_every_file(report: dict[str, Any]) -> None:
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, "checkov could not parse a Bicep file: its checks silently did not run"
    assert summary["resource_count"] > 0
    assert summary["passed"] > 0


def test_no_failed_checks(report: dict[str, Any]) -> None:
    failed = report["results"].get("failed_checks", [])
    lines = [f"{c['check_id']} {c.get('severity') or ''} {c['file_path']} {c['resource']}: {c['check_name']}" for c in failed]
    assert not failed, "checkov failed checks (fix them, or skip inline with a reason):\n" + "\n".join(lines)


def test_every_skip_is_justified(report: dict[str, Any]) -> None:
    skips = _skip_comments()
    for name, number, check_id, reason in skips:
        assert len(reason) >= MIN_REASON, f"{name}:{number}: skip of {check_id} needs a reason, got {reason!r}"
    # Every skip silences a check that actually ran: no stale skips left behind.
    assert report["summary"]["skipped"] == len(skips), (
        f"checkov skipped {report['summary']['skipped']} results but infra/ has {len(skips)} skip comments")
