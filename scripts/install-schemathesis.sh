#!/usr/bin/env bash
# Installs schemathesis (PyPI) for the API fuzz test (test/e2e/fuzz.e2e.test.ts) when it is
# not on PATH: a virtualenv (Debian's python3 refuses system-wide pip installs), linked
# into /usr/local/bin as root or ~/.local/bin otherwise. Idempotent; prints the time it took.
set -euo pipefail
VERSION=4.32.5
started=$(date +%s)
say() { printf '[schemathesis] %s\n' "$*" >&2; }

if command -v schemathesis >/dev/null 2>&1; then
  say "present: $(schemathesis --version 2>/dev/null | head -n 1)"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; VENV=/opt/codex-flows-schemathesis; BIN=/usr/local/bin; else SUDO="sudo"; VENV="$HOME/.local/share/codex-flows-schemathesis"; BIN="$HOME/.local/bin"; fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  say "installing python3 and python3-venv from Debian's packages"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv >&2
fi
[ -x "$VENV/bin/schemathesis" ] || {
  say "installing schemathesis $VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
}
mkdir -p "$BIN"
ln -sf "$VENV/bin/schemathesis" "$BIN/schemathesis"
say "$("$BIN/schemathesis" --version | head -n 1) in $(( $(date +%s) - started )) s"
