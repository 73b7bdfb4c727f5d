#!/usr/bin/env bash
# Installs a current nats-server release beside Debian's 2.9.10 (the floor), for the
# second test run: /usr/local/lib/codex-flows/nats-server-current/nats-server, built with
# `go install` from the Go module proxy. Skips when that version is there. Prints the
# binary's path on stdout (CI sets NATS_SERVER_BIN to it) and the time it took.
set -euo pipefail
VERSION="${CODEX_FLOW_NATS_SERVER_CURRENT:-v2.15.3}"
DIR="${CODEX_FLOW_NATS_SERVER_CURRENT_DIR:-/usr/local/lib/codex-flows/nats-server-current}"
. "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"
if [ -x "$DIR/nats-server" ] && [ "$("$DIR/nats-server" --version 2>/dev/null)" = "nats-server: $VERSION" ]; then
  say "nats-server $VERSION already at $DIR/nats-server"
  echo "$DIR/nats-server"
  exit 0
fi
need_go "install nats-server $VERSION"
mkdir -p "$DIR"
GOBIN="$DIR" "$GO" install "github.com/nats-io/nats-server/v2@$VERSION" >&2
say "installed $("$DIR/nats-server" --version) at $DIR/nats-server in $((SECONDS - start)) s"
echo "$DIR/nats-server"
