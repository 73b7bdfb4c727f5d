#!/usr/bin/env bash
# Installs the tools CI's tests use besides the project's own (Debian packages, only
# what is missing): systemd-analyze (systemd, for verifying deploy/systemd; systemd need
# not run), jq (the docs' nats CLI recipes pipe into it), ip (iproute2, the partition
# test's network namespaces) and script (bsdutils, a terminal for `nats stream view`).
# Prints the time it took.
set -euo pipefail
say() { printf '[install-ci-tools] %s\n' "$*" >&2; }
start=$SECONDS
missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
if [ ${#missing[@]} -eq 0 ]; then
  say "systemd-analyze, jq, ip and script already installed"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
say "installing ${missing[*]}"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
say "installed ${missing[*]} in $((SECONDS - start)) s"
