#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser tests (test/dashboard.int.test.ts
# drives it with playwright-core) when /usr/bin/chromium is missing; prints the time it took.
set -euo pipefail
say() { printf '[setup] %s\n' "$*" >&2; }
started=$(date +%s)
if [ -x /usr/bin/chromium ]; then
  say "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi
say "installing chromium from Debian's packages (for the dashboard's browser tests)"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
say "chromium installed in $(( $(date +%s) - started )) s: $(/usr/bin/chromium --version 2>/dev/null)"
