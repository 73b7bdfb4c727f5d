// The per-executor guard (started by services/executor/ledger.ts): a tiny process of its
// own that enforces fencing while its executor does not run. It holds no secrets: its
// environment is PATH, the three variables below and what `systemctl --user` needs to
// reach the user manager (HOME, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS). Its stdin is a pipe only the
// executor holds, on which the executor writes a heartbeat line (`beat`) every few
// hundred ms and the word `stop` on a graceful stop.
// - `stop`: the guard exits and touches nothing.
// - end of input without `stop` (the executor died, even by SIGKILL): it kills the process
//   group of every step the ledger lists for that executor (and, under systemd-run, its
//   unit, with `systemctl --user kill --signal=SIGKILL`), and exits.
// - no heartbeat for CODEX_FLOWS_FENCE_MS (the executor is frozen: SIGSTOP, a GC pause, a
//   swap storm): it kills those groups too, before the lease can pass to another host,
//   writing `fenced-<pid>` beside each entry so the executor, once it runs again, can say
//   its guard stopped the step; then it goes on guarding.
// The silence is measured on both the monotonic and the wall clock, so a pause the
// monotonic clock does not count (a suspended VM) still counts once the wall clock catches up.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemctlKillArgv } from "../../lib/runners/systemd.ts";

const dir = process.env.CODEX_FLOWS_LEDGER ?? "";
const executorPid = Number(process.env.CODEX_FLOWS_EXECUTOR_PID);
const fenceMs = Number(process.env.CODEX_FLOWS_FENCE_MS);

/** Ledger entries whose unit was killed since the last heartbeat. */
const unitsKilled = new Set<string>();
let beatAt = performance.now();
let beatWallAt = Date.now();
const silentMs = () => Math.max(performance.now() - beatAt, Date.now() - beatWallAt);

/** Kills the process group of each step the ledger lists for our executor; `fenced` leaves a note for the executor. */
function killListed(fenced: boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const entry = JSON.parse(readFileSync(join(dir, name), "utf8")) as { executorPid?: number; unit?: string };
      if (entry.executorPid !== executorPid) continue;
      const note = join(dir, `fenced-${name}`);
      if (fenced && !existsSync(note)) writeFileSync(note, JSON.stringify({ silentMs: Math.round(silentMs()) }));
      // A systemd unit is the user manager's child, not ours: only systemctl ends it (once per silence).
      if (entry.unit && !unitsKilled.has(name)) {
        unitsKilled.add(name);
        Bun.spawnSync(systemctlKillArgv(entry.unit), { stdout: "ignore", stderr: "ignore" });
      }
      process.kill(-Number(name), "SIGKILL");
    } catch {
      // An entry removed meanwhile, or a group already gone: nothing to end.
    }
  }
}

if (Number.isFinite(fenceMs) && fenceMs > 0) {
  const every = Math.max(10, Math.min(100, Math.floor(fenceMs / 10)));
  let tickAt = performance.now();
  setInterval(() => {
    // A late tick means the guard itself did not run (a busy host): heartbeats may wait unread in the pipe, so decide on the next tick.
    const late = performance.now() - tickAt > 2 * every + 50;
    tickAt = performance.now();
    if (!late && silentMs() >= fenceMs) killListed(true);
  }, every);
}

let pending = "";
for await (const chunk of Bun.stdin.stream()) {
  pending += new TextDecoder().decode(chunk);
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  if (lines.includes("stop")) process.exit(0);
  if (lines.length > 0) {
    beatAt = performance.now();
    beatWallAt = Date.now();
    unitsKilled.clear();
  }
  // Bounded: only a partial line is kept, and the executor writes short ones.
  if (pending.length > 64) pending = "";
}
killListed(false);
process.exit(0);
