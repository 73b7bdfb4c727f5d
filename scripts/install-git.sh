#!/usr/bin/env bash
# git for the release flows and their tests (real repositories): Debian's package when
# git is not on PATH. Idempotent; prints the time it took.
set -euo pipefail
started=$(date +%s)
if ! command -v git >/dev/null 2>&1; then
  printf '[setup] installing git from Debian'"'"'s packages\n' >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq git >&2
fi
printf '[setup] %s (%ss)\n' "$(git --version)" "$(( $(date +%s) - started ))" >&2
