#!/usr/bin/env bash
# The floors job: every `>=X` of requirements.txt and requirements-dev.txt becomes `==X`, in a
# venv of its own (.venv-floors) on the oldest supported Python; then the sandbox demo and the
# tests that run the code against its dependencies (unit, integration, functions, e2e,
# reliability, bench). A floor that no longer works fails here, not in a user's deployment.
#
#   bash scripts/floors.sh            # FLOORS_PYTHON=... to choose the interpreter
#
# Tools that only lint or scan (ruff, mypy, import-linter, checkov, pycep-parser, types-*) are
# not installed: they do not run the code, and `make test` runs them at their latest versions.
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

# requirement lines -> pins: `name>=X,<Y  # why` -> `name==X`; lines without a floor are kept as
# they are (types-*), and tools that only lint are left out (see above).
floors() {
  sed -e 's/[[:space:]]*#.*$//' -e '/^[[:space:]]*$/d' -e '/^-r /d' "$@" |
    grep -viE '^(ruff|mypy|import-linter|checkov|pycep-parser|types-)' |
    sed -E 's/^([A-Za-z0-9_.-]+)(\[[^]]*\])?[[:space:]]*>=[[:space:]]*([^,;[:space:]]+).*$/\1\2==\3/'
}

start=$(date +%s)
rm -rf "$VENV"
"$PY" -m venv "$VENV"
floors requirements.txt requirements-dev.txt >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
if grep -vqE '==' "$OUT"; then
  echo "floors: a requirement without a floor (>=X): $(grep -vE '==' "$OUT" | tr '\n' ' ')" >&2
  exit 1
fi
echo "floors: $("$VENV/bin/python" --version) with $(wc -l <"$OUT") requirements at their floors"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$OUT"
# Each floor must be what got installed (a transitive requirement can lift one silently).
"$VENV/bin/python" - "$OUT" <<'EOF'
import sys
from importlib.metadata import version

from packaging.version import Version

bad = []
for line in open(sys.argv[1]):
    name, _, pinned = line.strip().partition("==")
    got = version(name.split("[")[0])
    if Version(got) != Version(pinned):
        bad.append(f"{name}: wanted {pinned}, installed {got}")
if bad:
    sys.exit("floors: installed versions differ from the floors: " + "; ".join(bad))
EOF
echo "floors: installed in $(( $(date +%s) - start ))s"

"$VENV/bin/python" -m wif_sandbox demo >"$VENV/demo.log" 2>&1 || { tail -40 "$VENV/demo.log" >&2; echo "floors: the demo failed" >&2; exit 1; }
tail -1 "$VENV/demo.log"
bash scripts/pytest.sh "$VENV/bin/python" tests/unit tests/integration tests/functions tests/e2e tests/reliability tests/bench
echo "floors: passed in $(( $(date +%s) - start ))s"
