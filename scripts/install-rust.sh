#!/usr/bin/env bash
# Installs cargo, rustc and rustfmt (Debian's packages) for the peezy-codex-fork tests,
# which build a tiny Cargo workspace offline. Skips when `cargo fmt` already works.
set -euo pipefail
say() { printf '[setup] %s\n' "$*" >&2; }
started=$(date +%s)
if command -v cargo >/dev/null 2>&1 && cargo fmt --version >/dev/null 2>&1; then
  say "$(cargo --version), $(cargo fmt --version) already present"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
say "installing cargo and rustfmt from Debian's packages"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq cargo rustfmt >&2
cargo fmt --version >/dev/null 2>&1 || { say "cargo fmt does not work after installing rustfmt"; exit 1; }
say "$(cargo --version), $(cargo fmt --version) installed in $(( $(date +%s) - started )) s"
