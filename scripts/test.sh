#!/usr/bin/env bash
# Runs every test (unit, integration against real nats-servers, end-to-end with the
# services as processes) and ends with bun test's own counts as `N passed, N failed`.
# First installs what only the tests need, when missing (scripts/install-test-tools.sh;
# a tool that cannot be had is a warning and its tests say they were skipped);
# CODEX_FLOW_TEST_TOOLS=skip leaves that out.
set -uo pipefail
cd "$(dirname "$0")/.."
[ "${CODEX_FLOW_TEST_TOOLS:-}" = skip ] || bash scripts/install-test-tools.sh
export PATH="$PATH:/usr/sbin"
export CODEX_FLOW_LOG="${CODEX_FLOW_LOG:-warn}"
# The disk guard's default (1 GiB free) would refuse every write on a nearly full test
# machine: the suite's services get 64 MiB unless told otherwise; the guard's own tests
# set their thresholds.
export CODEX_FLOW_DISK_MIN_FREE_BYTES="${CODEX_FLOW_DISK_MIN_FREE_BYTES:-67108864}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bun test --timeout 120000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
echo "${passed} passed, ${failed} failed"
exit "$status"
