#!/usr/bin/env bash
# The per-executor guard (started by services/executor/ledger.ts): a tiny process of its
# own (bash, ~4 MB: a Bun one cost 20 MB of every host's memory) that enforces fencing
# while its executor does not run. It holds no secrets: its environment is PATH, the three
# CODEX_FLOWS_* variables below and what `systemctl --user` needs to reach the user manager
# (HOME, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS). Its stdin is a pipe only the executor
# holds, on which the executor writes a heartbeat line (`beat`) a few times per lease and
# the word `stop` on a graceful stop.
# - `stop`: the guard exits and touches nothing.
# - end of input without `stop` (the executor died, even by SIGKILL): it kills the process
#   group of every step the ledger lists for that executor (and, under systemd-run, its
#   unit, with `systemctl --user kill --signal=SIGKILL`), and exits.
# - no heartbeat for CODEX_FLOWS_FENCE_MS (the executor is frozen: SIGSTOP, a GC pause, a
#   swap storm): it kills those groups too, before the lease can pass to another host,
#   writing `fenced-<pid>` beside each entry so the executor, once it runs again, can say
#   its guard stopped the step; then it goes on guarding.
# The silence is the longer of the time its reads waited and the wall clock's, so a pause
# the waits do not count (a suspended VM) still counts once the wall clock catches up. A
# tick that came late (the guard itself was not scheduled) decides nothing: heartbeats may
# wait unread in the pipe.
set -u
dir=${CODEX_FLOWS_LEDGER:-}
executor=${CODEX_FLOWS_EXECUTOR_PID:-0}
fence_ms=${CODEX_FLOWS_FENCE_MS:-0}
[[ $fence_ms =~ ^[0-9]+$ ]] || fence_ms=0
declare -A units_killed=()

# The wall clock in microseconds (EPOCHREALTIME's separator follows the locale).
now_us() { local t=${EPOCHREALTIME//[!0-9]/}; echo "$((10#$t))"; }

# Kills the process group of each step the ledger lists for our executor; $1=1 leaves a note for the executor.
kill_listed() {
  local fenced=$1 silent_ms=$2 path name entry
  for path in "$dir"/*; do
    name=${path##*/}
    [[ $name =~ ^[1-9][0-9]*$ ]] || continue
    # An entry removed meanwhile: nothing to end.
    entry=$(<"$path") 2>/dev/null || continue
    # executorPid precedes the free-text fields (cmdline), so the first match is the field itself.
    [[ $entry =~ \"executorPid\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = "$executor" ] || continue
    if [ "$fenced" = 1 ] && [ ! -e "$dir/fenced-$name" ]; then printf '{"silentMs":%d}' "$silent_ms" >"$dir/fenced-$name"; fi
    # A systemd unit is the user manager's child, not ours: only systemctl ends it (once per silence).
    if [[ $entry =~ \"unit\":\"([^\"]+)\" ]] && [ -z "${units_killed[$name]:-}" ]; then
      units_killed[$name]=1
      systemctl --user kill --signal=SIGKILL "${BASH_REMATCH[1]}" >/dev/null 2>&1
    fi
    kill -KILL -- "-$name" 2>/dev/null
  done
}

if [ "$fence_ms" -gt 0 ]; then
  tick_ms=$((fence_ms / 10)); [ "$tick_ms" -gt 100 ] && tick_ms=100; [ "$tick_ms" -lt 10 ] && tick_ms=10
  printf -v tick '%d.%03d' $((tick_ms / 1000)) $((tick_ms % 1000))
else
  tick=""
fi
beat_at=$(now_us)
waited_ms=0
while :; do
  tick_at=$(now_us)
  IFS= read -r ${tick:+-t "$tick"} line
  status=$?
  if [ "$status" = 0 ]; then
    [ "$line" = stop ] && exit 0
    beat_at=$(now_us); waited_ms=0; units_killed=()
    continue
  fi
  if [ "$status" -le 128 ]; then
    # End of input: the executor is gone (a last line without its newline still counts).
    [ "$line" = stop ] && exit 0
    kill_listed 0 0
    exit 0
  fi
  now=$(now_us)
  waited_ms=$((waited_ms + tick_ms))
  late=$(((now - tick_at) / 1000 > 2 * tick_ms + 50))
  silent_ms=$(((now - beat_at) / 1000)); [ "$waited_ms" -gt "$silent_ms" ] && silent_ms=$waited_ms
  if [ "$late" = 0 ] && [ "$silent_ms" -ge "$fence_ms" ]; then kill_listed 1 "$silent_ms"; fi
done
