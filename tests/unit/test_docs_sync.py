"""README, local.settings.sample.json and the code name the same settings."""
from __future__ import annotations

import json
import re
from pathlib import Path

from wif_core import config

ROOT = Path(__file__).resolve().parents[2]


def test_readme_documents_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m[1]: m[2] for m in re.finditer(r"^\| `([A-Z_]+)` \|([^|]*)\|", readme, re.M)}
    for name, (default, _) in config.SETTINGS.items():
        assert name in rows, f"README's configuration table lacks {name}"
        if default:
            assert f"`{default}`" in rows[name], f"README shows the wrong default for {name}"
        else:
            assert "required" in rows[name] or "empty" in rows[name] or "—" in rows[name], name


def test_readme_lists_no_setting_the_code_does_not_read() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(WIF_[A-Z_]+)` \|", readme, re.M))
    assert documented <= set(config.SETTING_NAMES), documented - set(config.SETTING_NAMES)


def test_local_settings_sample_has_every_setting() -> None:
    sample = json.loads((ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))
    values = sample["Values"]
    missing = [name for name in config.SETTING_NAMES if name not in values]
    assert not missing, f"local.settings.sample.json lacks {missing}"
    unknown = [k for k in values if k.startswith("WIF_") and k not in config.SETTING_NAMES]
    assert not unknown, f"local.settings.sample.json has settings the code does not read: {unknown}"
