#!/usr/bin/env bash
# Creates (once) a virtualenv with the PyPI client rocketchat-api==3.7.1 for
# tests/python/client_check.py and hypothesis for tests/python/hypothesis_check.py.
# Idempotent: does nothing when both are importable in the venv at the pinned versions.
#
#   RCPUSH_PY_VENV   venv directory (default: target/py-venv, relative to the repo root)
#   PYTHON           interpreter used to create the venv (default: python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
venv="${RCPUSH_PY_VENV:-target/py-venv}"
python="${PYTHON:-python3}"
pin="3.7.1"
hypothesis_pin="6.155.2"

check() {
    "$venv/bin/python" - "$pin" "$hypothesis_pin" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
import hypothesis  # noqa: F401
import rocketchat_API.rocketchat  # noqa: F401
ok = (version("rocketchat-api"), version("hypothesis")) == (sys.argv[1], sys.argv[2])
sys.exit(0 if ok else 1)
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
    "rocketchat-api==$pin" "hypothesis==$hypothesis_pin" || {
    echo "setup-venv: pip install rocketchat-api==$pin hypothesis==$hypothesis_pin failed" >&2
    exit 1
}

check || {
    echo "setup-venv: rocketchat-api==$pin or hypothesis==$hypothesis_pin is still not importable from $venv" >&2
    exit 1
}
