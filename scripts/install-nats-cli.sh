#!/usr/bin/env bash
# Installs the real `nats` CLI (natscli v0.5.0) as /usr/local/bin/nats with the Go
# toolchain (`go install`, from the Go module proxy). Skips when that version is there.
# Prints the time it took. Override the target directory with CODEX_FLOW_TOOLS_BIN.
set -euo pipefail
VERSION=v0.5.0
BIN_DIR="${CODEX_FLOW_TOOLS_BIN:-/usr/local/bin}"
. "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"
if [ -x "$BIN_DIR/nats" ] && [ "$("$BIN_DIR/nats" --version 2>/dev/null)" = "$VERSION" ]; then
  say "nats $VERSION already at $BIN_DIR/nats"
  exit 0
fi
need_go "install the nats CLI"
mkdir -p "$BIN_DIR"
GOBIN="$BIN_DIR" "$GO" install "github.com/nats-io/natscli/nats@$VERSION" >&2
say "installed $("$BIN_DIR/nats" --version) at $BIN_DIR/nats in $((SECONDS - start)) s"
