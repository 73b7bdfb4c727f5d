# Sourced (not run) by the install scripts that build a tool from the Go module proxy with
# the Go toolchain: install-jaeger.sh, install-nats-cli.sh, install-nats-server-current.sh.
# Gives them `say` (a line on stderr, prefixed with the script's name), `start` (for the
# time it took) and `need_go WHAT`, which sets GO to the toolchain or exits 1 saying that
# WHAT cannot be done without it.
say() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
start=$SECONDS
need_go() {
  GO=$(command -v go || echo /usr/local/go/bin/go)
  [ -x "$GO" ] || { say "the Go toolchain is missing: cannot $1"; exit 1; }
}
