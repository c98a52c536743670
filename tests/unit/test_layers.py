"""Layering: which modules may import which third-party clients (every import, even inside functions)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDKS = ("azure.mgmt", "azure.identity", "kubernetes")
RUNTIME = ("azure.functions", "azure.durable_functions", "wif_functions", "function_app")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


CORE = sorted((ROOT / "wif_core").rglob("*.py"))


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_adapters_import_sdks_and_nothing_imports_the_functions_runtime(path: Path) -> None:
    names = imports(path)
    assert not [n for n in names if under(n, RUNTIME)], f"{path} imports the Functions runtime"
    if "adapters" not in path.parts:
        assert not [n for n in names if under(n, SDKS)], f"{path} imports an Azure SDK or kubernetes outside adapters"


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from azure.identity import DefaultAzureCredential\n")
    assert under(next(iter(imports(bad))), SDKS)


PRODUCT = sorted([*(ROOT / "wif_functions").rglob("*.py"), *(ROOT / "wif_core").rglob("*.py")])


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_product_never_imports_the_function_app_or_the_sandbox(path: Path) -> None:
    """One way: wif_sandbox (the Durable host stand-in among them) -> function_app -> wif_functions -> wif_core."""
    names = imports(path)
    assert not [n for n in names if under(n, ("function_app", "wif_sandbox", "tests", "bench"))], path


def test_function_app_imports_only_the_product_below_it() -> None:
    names = imports(ROOT / "function_app.py")
    assert not [n for n in names if under(n, ("wif_sandbox", "tests", "bench"))], names
