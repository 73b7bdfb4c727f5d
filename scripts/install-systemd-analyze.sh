#!/usr/bin/env bash
# Installs `systemd-analyze` (Debian's systemd package) for the test that verifies the
# units in deploy/systemd; systemd need not run. Skips when the tool is there. Prints
# the time it took.
set -euo pipefail
say() { printf '[install-systemd-analyze] %s\n' "$*" >&2; }
start=$SECONDS
if command -v systemd-analyze >/dev/null 2>&1; then
  say "systemd-analyze already at $(command -v systemd-analyze)"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends systemd >&2
say "installed $(systemd-analyze --version | head -n 1) in $((SECONDS - start)) s"
