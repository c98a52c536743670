"""function_app indexes as the Functions host expects, in-process and with the Python worker's own loader."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

import function_app
from wif_functions import instances, orchestrator
from wif_sandbox import driver

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "on_cluster_event": {"eventGridTrigger", "durableClient"},
    "clusters": {"httpTrigger", "http", "durableClient"},
    "cluster": {"httpTrigger", "http", "durableClient"},
    instances.ORCHESTRATOR: {"orchestrationTrigger"},
    orchestrator.ACTIVITY: {"activityTrigger"},
}
ROUTES = {"clusters": "clusters", "cluster": "clusters/{subscription}/{resourceGroup}/{name}"}


def raw_bindings() -> dict[str, list[dict[str, Any]]]:
    return {f.get_function_name(): [json.loads(b) for b in f.get_raw_bindings()]
            for f in driver.indexed(function_app.app)}


def check(functions: dict[str, list[dict[str, Any]]]) -> None:
    assert {name: {b["type"] for b in bindings} for name, bindings in functions.items()} == EXPECTED
    for name, route in ROUTES.items():
        trigger = next(b for b in functions[name] if b["type"] == "httpTrigger")
        assert trigger["route"] == route and trigger["authLevel"] == "FUNCTION"
        assert "methods" not in trigger, "every method reaches the function, which answers 405 with Allow for wrong ones"
    assert all(b["direction"] == "IN" for b in functions["on_cluster_event"])


def test_get_functions_yields_the_expected_triggers_and_bindings() -> None:
    check(raw_bindings())


def test_the_event_grid_function_is_the_one_infra_subscribes() -> None:
    bicep = (ROOT / "infra" / "eventgrid.bicep").read_text()
    m = re.search(r"param functionName string = '([^']+)'", bicep)
    assert m is not None and m[1] in raw_bindings()


def _python313() -> Optional[str]:
    candidates = [shutil.which("python3.13"), *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))]
    for candidate in filter(None, candidates):
        ok = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False)
        if ok.returncode == 0 and ok.stdout.startswith("Python 3.13"):
            return candidate
    return None


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_python_worker_loader_indexes_function_app_on_python_313() -> None:
    """azure-functions-runtime (the worker for Python 3.13+) with azure-functions 2.x imports and indexes the app."""
    python = _python313()
    if python is None:
        pytest.skip("python3.13 is not installed: the 3.13 worker cannot be tried")
    venv = ROOT / ".venv" / "worker-py313"  # cached: .venv is the project's disposable environment
    bin_python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
        pip = subprocess.run([str(bin_python), "-m", "pip", "install", "-q", "azure-functions-runtime",
                              "azure-functions>=2,<3", "azure-functions-durable>=1.2.9,<2"],
                             capture_output=True, text=True, check=False, timeout=540)
        if pip.returncode != 0:
            pytest.skip(f"cannot install the Python 3.13 worker packages: {pip.stderr.strip()[-300:]}")
        (venv / ".installed").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    run = subprocess.run([str(bin_python), str(Path(__file__).with_name("worker_index.py")), str(ROOT)],
                         capture_output=True, text=True, check=False, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["python"].startswith("3.13")
    check(report["functions"])
    assert report["heavy_modules"] == [], "indexing must not load wif_core or an SDK"
    assert len(report["registered"]) == len(EXPECTED)


def test_importing_function_app_loads_no_sdk_and_no_core() -> None:
    code = ("import json, sys; import function_app; print(json.dumps(sorted(m for m in sys.modules if m.startswith("
            "('azure.mgmt', 'azure.identity', 'kubernetes', 'azure.eventgrid', 'wif_core', 'wif_sandbox')))))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(run.stdout) == []


def test_function_app_adds_only_its_own_modules_to_the_functions_libraries() -> None:
    code = ("import json, sys; import azure.functions, azure.durable_functions; base = set(sys.modules); "
            "import function_app; print(json.dumps(sorted(set(sys.modules) - base)))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    added = json.loads(run.stdout)
    assert added and all(m == "function_app" or m.split(".")[0] == "wif_functions" for m in added), added
