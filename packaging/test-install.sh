#!/usr/bin/env bash
# The Debian package, end to end (a step of .ci/run; README "Install"): build it with
# cargo-deb, install it with dpkg into a clean Debian root made by debootstrap, check the
# installed unit with `systemd-analyze verify`, run the installed binary as rcpush.service
# would (its ExecStart, its installed configuration and environment file, an unprivileged
# user, the state directory) and ask it the documented questions, stop it, then purge the
# package.
#
# Usage: packaging/test-install.sh [PROFILE]   (as root: debootstrap and chroot need it)
# PROFILE is the cargo profile whose binary is packaged, already built: `dev` in CI (the
# binary `cargo test` built; a release build would add about eight minutes), `release` for
# the package users install (`cargo deb` builds it: README "Install").
# Needs cargo-deb, debootstrap, curl and the Debian package registry (the clean root's
# packages); the root is made in a temporary folder and removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-dev}

fail() {
  echo "packaging/test-install.sh: $*" >&2
  exit 1
}

work=$(mktemp -d /tmp/rcpush-package.XXXXXX)
root=$work/root
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The package, from the binary already built (the dev profile earns a warning from cargo-deb).
cargo deb --profile "$profile" --no-build --fast --quiet -o "$work/" >/dev/null
deb=$(ls "$work"/rcpush_*.deb)

# A clean root of the host's own Debian release (the binary links the host's C library),
# with systemd, as the machines the package is for have it.
# Its packages are kept in $RCPUSH_DEBOOTSTRAP_CACHE (default /var/cache/rcpush-debootstrap)
# for the next run; $RCPUSH_DEB_BASE names a clean root made earlier, copied instead.
if [ -n "${RCPUSH_DEB_BASE:-}" ]; then
  cp -a "$RCPUSH_DEB_BASE" "$root"
else
  . /etc/os-release
  cache=${RCPUSH_DEBOOTSTRAP_CACHE:-/var/cache/rcpush-debootstrap}
  mkdir -p "$cache"
  debootstrap --variant=minbase --include=systemd --cache-dir="$cache" "$VERSION_CODENAME" "$root" \
    >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
fi

cp "$deb" "$root/tmp/rcpush.deb"
chroot "$root" dpkg -i /tmp/rcpush.deb
for f in /usr/bin/rcpush /etc/rcpush/config.toml /usr/lib/systemd/system/rcpush.service; do
  [ -e "$root$f" ] || fail "$f is not installed"
done
[ "$(stat -c %a "$root/etc/rcpush/rcpush.env")" = 600 ] ||
  fail "postinst did not write /etc/rcpush/rcpush.env for root alone"
grep -qx '/etc/rcpush/config.toml' "$root/var/lib/dpkg/info/rcpush.conffiles" ||
  fail "/etc/rcpush/config.toml is not a conffile"

[ -L "$root/etc/systemd/system/multi-user.target.wants/rcpush.service" ] ||
  fail "the package did not enable rcpush.service"
# The root's own systemd checks the unit. verify only warns (exit status 0) about a key it
# does not know: any output fails here.
verified=$(chroot "$root" systemd-analyze verify rcpush.service 2>&1) &&
  [ -z "$verified" ] || fail "systemd-analyze verify: $verified"

# What the unit runs, in its user's place: DynamicUser picks an unused id, the state
# directory is that user's alone. Only the port is the test's own (a free one, as a drop-in
# with Environment= would set it); everything else comes from the installed files.
exec_start=$(sed -n 's/^ExecStart=//p' "$root/usr/lib/systemd/system/rcpush.service")
uid=61999
mkdir -p "$root/var/lib/rcpush"
chown "$uid:$uid" "$root/var/lib/rcpush"
chmod 700 "$root/var/lib/rcpush"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password=$(sed -n 's/^RCPUSH_ADMIN_PASSWORD=//p' "$root/etc/rcpush/rcpush.env")
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin RCPUSH_ADMIN_PASSWORD="$password" \
  RCPUSH_SERVER_BIND="127.0.0.1:$port" \
  chroot --userspec="$uid:$uid" "$root" sh -c "cd /var/lib/rcpush && exec $exec_start" \
  >"$work/server.log" 2>&1 &
server=$!

url=http://127.0.0.1:$port
for _ in $(seq 1 300); do
  curl -sf "$url/api/info" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; fail "the server exited"; }
  sleep 0.1
done
curl -sf "$url/api/info" >/dev/null || { cat "$work/server.log" >&2; fail "no answer"; }

# `expect STATUS BODY curl-args...`: the answer, byte for byte.
expect() {
  local status=$1 body=$2
  shift 2
  local got
  got=$(curl -s -w '\n%{http_code}' "$@")
  [ "$got" = "$body"$'\n'"$status" ] || fail "$* answered $got, not $status $body"
}
# The README's documented errors of push.get.
expect 401 '{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}' \
  "$url/api/v1/push.get?id=WkbwSntxt8D3jLp8G"
# The admin the first start created, with the password postinst generated.
login=$(curl -sf -X POST "$url/api/v1/login" -H 'Content-Type: application/json' \
  -d "{\"user\":\"admin\",\"password\":\"$password\"}") || fail "the admin cannot log in"
read -r user_id token < <(python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d["userId"], d["authToken"])' <<<"$login")
expect 400 '{"success":false,"error":"error-message-not-found"}' \
  "$url/api/v1/push.get?id=nope" -H "X-User-Id: $user_id" -H "X-Auth-Token: $token"
grep -q "$password" "$work/server.log" && fail "the admin password is in the server's output"

kill -TERM "$server"
wait "$server" || { cat "$work/server.log" >&2; fail "the server did not stop cleanly on SIGTERM"; }
server=
[ -d "$root/var/lib/rcpush/db" ] || fail "no database in the state directory"

chroot "$root" dpkg --purge rcpush
[ ! -e "$root/etc/rcpush" ] || fail "purge left /etc/rcpush behind"
echo "packaging/test-install.sh: $(basename "$deb") installs, verifies, serves and purges"
