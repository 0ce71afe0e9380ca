#!/usr/bin/env bash
# Creates (once) one of the test suite's Python virtualenvs with its pinned PyPI packages:
#
#   api       rocketchat-api 3.7.1 (tests/python/client_check.py) and hypothesis 6.155.2
#             (tests/python/hypothesis_check.py), in $RCPUSH_PY_VENV (default target/py-venv)
#   realtime  rocketchat-async 4.3.0 with websockets 10.4 (the bots of tests/clients/, through
#             `tests/clients/setup.sh python`), in $RCPUSH_RT_VENV (default target/rt-venv):
#             a venv of its own, as rocketchat-api's pins other things
#
#   bash tests/python/setup-venv.sh [api|realtime]      (default: api)
#
# Idempotent: does nothing when every package imports at its pinned version.
#   PYTHON   interpreter used to create the venv (default: python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"

case "${1:-api}" in
api)
    venv="${RCPUSH_PY_VENV:-target/py-venv}"
    pins=("rocketchat-api==3.7.1" "hypothesis==6.155.2")
    modules="rocketchat_API.rocketchat hypothesis"
    ;;
realtime)
    venv="${RCPUSH_RT_VENV:-target/rt-venv}"
    pins=("rocketchat-async==4.3.0" "websockets==10.4")
    modules="rocketchat_async websockets"
    ;;
*)
    echo "usage: tests/python/setup-venv.sh [api|realtime]" >&2
    exit 2
    ;;
esac

# Every module imports and every package is at its pin.
check() {
    "$venv/bin/python" - "$modules" "${pins[@]}" <<'PY' >/dev/null 2>&1
import importlib
import sys
from importlib.metadata import version
for module in sys.argv[1].split():
    importlib.import_module(module)
for pin in sys.argv[2:]:
    name, pinned = pin.split("==")
    if version(name) != pinned:
        sys.exit(1)
PY
}

if [ -x "$venv/bin/python" ] && check; then
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || {
        echo "setup-venv: '$python -m venv $venv' failed (is python3-venv installed?)" >&2
        exit 1
    }
fi

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}" || {
    echo "setup-venv: pip install ${pins[*]} into $venv failed" >&2
    exit 1
}

check || {
    echo "setup-venv: ${pins[*]} still not importable from $venv" >&2
    exit 1
}
