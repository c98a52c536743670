"""Every Bicep file under infra/ parses.

The Bicep compiler cannot be installed on the development machine, so this is
the first line of defence: pycep-parser (the grammar checkov uses) must accept
each file, and the result must carry what the file declares.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

INFRA = Path(__file__).resolve().parents[2] / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


def test_infra_has_the_expected_bicep_files() -> None:
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert {"main.bicep", "eventgrid.bicep"} <= names
    assert any(n.startswith("modules/") for n in names)


@pytest.fixture(scope="module")
def parser() -> BicepParser:
    return BicepParser()


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses(parser: BicepParser, path: Path) -> None:
    parsed: dict[str, Any] = dict(parser.parse(file_path=path))
    declared = sum(len(parsed.get(section, {})) for section in ("parameters", "resources", "modules", "outputs"))
    assert declared > 0, f"{path.name} parsed to nothing"
    # A missing or misspelt module path is an error `az bicep build` would have caught.
    for name, module in parsed.get("modules", {}).items():
        target = (path.parent / module["detail"]["path"]).resolve()
        assert target.is_file(), f"{path.name}: module {name} points at missing {module['detail']['path']}"
