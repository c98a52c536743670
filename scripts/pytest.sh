#!/usr/bin/env bash
# Run pytest and name its outcome; exit code 5 ("no tests collected") is neither
# a pass nor an ordinary failure, so it is reported as such and fails the run.
set -u
python=${1:?usage: pytest.sh PYTHON [pytest args...]}
shift
"$python" -m pytest -q -p no:cacheprovider "$@"
rc=$?
case $rc in
  0) echo "tests: passed" ;;
  1) echo "tests: some tests failed" >&2 ;;
  5) echo "tests: pytest collected no tests (exit 5): the test paths or markers select nothing" >&2 ;;
  *) echo "tests: pytest could not run (exit $rc)" >&2 ;;
esac
exit $rc
