#!/usr/bin/env bash
# Installs (once) the real realtime clients that tests/system/realtime_clients.rs drives:
#
#   node     @rocket.chat/sdk 0.2.9, @rocket.chat/ddp-client 1.1.2 and ws, exactly as
#            tests/clients/package-lock.json pins them, into $RCPUSH_NODE_CLIENTS
#            (default target/node-clients); the bot scripts find them through NODE_PATH.
#   python   rocketchat-async 4.3.0 (with websockets 10.4) in a virtualenv of its own,
#            $RCPUSH_RT_VENV (default target/rt-venv), by `tests/python/setup-venv.sh realtime`.
#
#   bash tests/clients/setup.sh [node|python|all]      (default: all)
#
# Idempotent and offline once done: an install whose lockfile stamp (node) or pinned versions
# (python) match is left alone without touching the network. A missing install is made with
# `npm ci --prefer-offline` (npm's cache serves a wiped target/ again without the registry).
#
# Two overrides in package.json: @rocket.chat/sdk 0.2.9 names its `asteroid` dependency as
# GitHub's rocketchat/asteroid (a fork of 0.6.1 that cannot be fetched here), replaced by the
# registry's asteroid 0.6.1, whose driver API and login frame are the same; and
# @rocket.chat/ui-kit (under ddp-client 1.1.2) names `typia` with a Yarn `patch:` protocol
# npm cannot read, replaced by the plain typia 9.7.2 it patches (types only, unused at run time).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
what="${1:-all}"
node_dir="${RCPUSH_NODE_CLIENTS:-target/node-clients}"

node_clients() {
    command -v node >/dev/null && command -v npm >/dev/null || {
        echo "setup: node and npm are not installed (apt-get install nodejs npm)" >&2
        return 1
    }
    local stamp
    stamp="$(sha256sum tests/clients/package.json tests/clients/package-lock.json | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$node_dir/.installed" 2>/dev/null || true)" = "$stamp" ] && node_check; then
        return 0
    fi
    mkdir -p "$node_dir"
    cp tests/clients/package.json tests/clients/package-lock.json "$node_dir/"
    rm -f "$node_dir/.installed"
    (cd "$node_dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) || {
        echo "setup: npm ci in $node_dir failed (is the npm registry or npm's cache there?)" >&2
        return 1
    }
    node_check || {
        echo "setup: the pinned node clients are still not loadable from $node_dir" >&2
        return 1
    }
    echo "$stamp" >"$node_dir/.installed"
}

# The three packages load and are the pinned versions (the lockfile fixes the rest).
node_check() {
    NODE_PATH="$node_dir/node_modules" node - <<'JS' >/dev/null 2>&1
const want = { "@rocket.chat/sdk": "0.2.9", "@rocket.chat/ddp-client": "1.1.2", "asteroid": "0.6.1" };
for (const [name, version] of Object.entries(want)) {
  require(name);
  const got = require(`${name}/package.json`).version;
  if (got !== version) throw new Error(`${name} ${got}, want ${version}`);
}
require("ws");
JS
}

# Its own virtualenv, made by the suite's one venv script.
python_clients() {
    bash tests/python/setup-venv.sh realtime
}

# The tests that need the clients run in parallel and each calls this script: one at a time.
mkdir -p target
exec 9>target/.clients-setup.lock
flock 9

case "$what" in
node) node_clients ;;
python) python_clients ;;
all) node_clients && python_clients ;;
*)
    echo "usage: tests/clients/setup.sh [node|python|all]" >&2
    exit 2
    ;;
esac
