#!/usr/bin/env bash
# Builds Jaeger (all-in-one, v1.75.0) with the Go toolchain from the Go module proxy into
# /usr/local/lib/codex-flows/jaeger/ (override with CODEX_FLOW_JAEGER_DIR), once: skips when
# that version's binary is there. test/tracing.int.test.ts starts it as the trace backend
# (its OTLP/HTTP receiver and its query HTTP API). Prints the time it took.
set -euo pipefail
VERSION=v1.75.0
DIR="${CODEX_FLOW_JAEGER_DIR:-/usr/local/lib/codex-flows/jaeger}"
. "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"
if [ -x "$DIR/jaeger" ] && [ "$(cat "$DIR/VERSION" 2>/dev/null)" = "$VERSION" ]; then
  say "jaeger $VERSION already at $DIR/jaeger"
  exit 0
fi
need_go "build jaeger"
mkdir -p "$DIR"
# Not `go install cmd@version`: Jaeger's go.mod has replace directives, which that refuses.
# The module is fetched from the proxy, copied somewhere writable and built as the main module.
src=$("$GO" mod download -json "github.com/jaegertracing/jaeger@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { say "could not download github.com/jaegertracing/jaeger@$VERSION"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/." "$work/" && chmod -R u+w "$work"
(cd "$work" && GOFLAGS=-trimpath "$GO" build -o "$DIR/jaeger" ./cmd/jaeger) >&2
echo "$VERSION" >"$DIR/VERSION"
say "built jaeger $VERSION at $DIR/jaeger in $((SECONDS - start)) s"
