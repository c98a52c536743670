#!/usr/bin/env bash
# The floors job: every `>=X` of requirements.txt and requirements-dev.txt becomes `==X`, in a
# venv of its own (.venv-floors) on the oldest supported Python; then what `make test` runs
# (ruff, lint-imports, mypy, every test) and the sandbox demo. A floor that no longer works
# fails here, not in a user's deployment. Lines without a floor (types-*) install as written.
# checkov is left out: a scanner with its own pinned world (pydantic 2, boto3 ==...) that cannot
# install beside typing-extensions 4.6; its floor was checked on its own (tests/infra) and
# tests/infra/test_checkov.py skips here.
#
#   bash scripts/floors.sh            # FLOORS_PYTHON=... to choose the interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FLOORS_VENV:-.venv-floors}
OUT=$VENV/floors.txt

# The oldest Python the README supports, where there is one; else the default python3.
pick_python() {
  local p
  for p in "${FLOORS_PYTHON:-}" python3.10 "$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python3.10; do
    [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys' 2>/dev/null && { echo "$p"; return; }
  done
  echo python3
}
PY=$(pick_python)

# requirement lines -> pins: `name>=X,<Y  # why` -> `name==X`; lines without a floor stay as they are.
floors() {
  sed -e 's/[[:space:]]*#.*$//' -e '/^[[:space:]]*$/d' -e '/^-r /d' -e '/^checkov\b/d' "$@" |
    sed -E 's/^([A-Za-z0-9_.-]+)(\[[^]]*\])?[[:space:]]*>=[[:space:]]*([^,;[:space:]]+).*$/\1\2==\3/'
}

start=$(date +%s)
rm -rf "$VENV"
"$PY" -m venv "$VENV"
floors requirements.txt requirements-dev.txt >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "floors: $("$VENV/bin/python" --version), $(grep -c '==' "$OUT") requirements at their floors" \
  "(without one: $(grep -vE '==' "$OUT" | tr '\n' ' '))"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$OUT"
# Each floor must be what got installed (a transitive requirement can lift one silently).
"$VENV/bin/python" - "$OUT" <<'EOF'
import sys
from importlib.metadata import version

from packaging.version import Version

bad = []
for line in open(sys.argv[1]):
    name, eq, pinned = line.strip().partition("==")
    if not eq:
        continue
    got = version(name.split("[")[0])
    if Version(got) != Version(pinned):
        bad.append(f"{name}: wanted {pinned}, installed {got}")
if bad:
    sys.exit("floors: installed versions differ from the floors: " + "; ".join(bad))
EOF
echo "floors: installed in $(( $(date +%s) - start ))s"

"$VENV/bin/python" -m wif_sandbox demo >"$VENV/demo.log" 2>&1 || { tail -40 "$VENV/demo.log" >&2; echo "floors: the demo failed" >&2; exit 1; }
tail -1 "$VENV/demo.log"
"$VENV/bin/ruff" check --quiet wif_core wif_functions wif_sandbox function_app.py tests bench
"$VENV/bin/lint-imports" --no-cache >/dev/null || { "$VENV/bin/lint-imports" --no-cache; exit 1; }
"$VENV/bin/mypy" --cache-dir "$VENV/.mypy_cache" wif_core
bash scripts/pytest.sh "$VENV/bin/python"
echo "floors: passed in $(( $(date +%s) - start ))s"
