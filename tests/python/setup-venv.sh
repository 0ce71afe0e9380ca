#!/usr/bin/env bash
# Creates (once) a virtualenv with the PyPI client rocketchat-api==3.7.1 for
# tests/python/client_check.py. Idempotent: does nothing when the package is
# already importable in the venv at the pinned version.
#
#   RCPUSH_PY_VENV   venv directory (default: target/py-venv, relative to the repo root)
#   PYTHON           interpreter used to create the venv (default: python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
venv="${RCPUSH_PY_VENV:-target/py-venv}"
python="${PYTHON:-python3}"
pin="3.7.1"

check() {
    "$venv/bin/python" - "$pin" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
import rocketchat_API.rocketchat  # noqa: F401
sys.exit(0 if version("rocketchat-api") == sys.argv[1] else 1)
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

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "rocketchat-api==$pin" || {
    echo "setup-venv: pip install rocketchat-api==$pin failed" >&2
    exit 1
}

check || {
    echo "setup-venv: rocketchat-api==$pin is still not importable from $venv" >&2
    exit 1
}
