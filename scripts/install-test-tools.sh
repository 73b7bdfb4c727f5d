#!/usr/bin/env bash
# Installs what only the tests need, each when it is missing (fast when present):
# systemd-analyze, jq, ip and script (install-ci-tools.sh), Chromium (the dashboard's
# browser tests), schemathesis (the API fuzz test), cargo and rustfmt (the release-fork
# tests), the nats CLI (test/nats-cli.int.test.ts) and a current nats-server
# (test/deploy.int.test.ts), and Jaeger built from source (test/tracing.int.test.ts; minutes the
# first time). scripts/test.sh runs it first. A tool that cannot be had here
# (no Go, no network) is a warning, and the tests that need it are skipped saying why;
# under CI=true they run, so there a missing tool fails them.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { printf '[test-tools] %s\n' "$*" >&2; }
start=$SECONDS
try() {
  local what=$1; shift
  "$@" >&2 || say "warning: $what could not be installed here (see above); the tests that need it will be skipped"
}
try "systemd-analyze, jq, ip or script" bash scripts/install-ci-tools.sh
try "chromium" bash scripts/install-chromium.sh
try "schemathesis" bash scripts/install-schemathesis.sh
try "cargo and rustfmt" bash scripts/install-rust.sh
try "the nats CLI" bash scripts/install-nats-cli.sh
try "a current nats-server" bash scripts/install-nats-server-current.sh
try "jaeger" bash scripts/install-jaeger.sh
say "test tools checked in $((SECONDS - start)) s"
