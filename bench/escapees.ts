/**
 * What the end of a direct step costs in /proc reads (lib/runners/escapees.ts): the scan
 * for processes that left the step's group, reading only the pids handed out since the
 * step (what the runner does) against reading every process, with `--extra N` idle
 * processes started first (a busy host has hundreds). Prints one line per process count.
 *   bun bench/escapees.ts [--extra 0,300] [--rounds 200]
 */

import { readdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { escapedProcesses, stepStart } from "../lib/runners/escapees.ts";

const { values } = parseArgs({
  options: { extra: { type: "string", default: "0,300" }, rounds: { type: "string", default: "200" } },
});
const rounds = Math.min(Math.max(Number(values.rounds) || 200, 1), 10_000);
const marker = { CODEX_FLOW_RUN_ID: "bench-run", CODEX_FLOW_ATTEMPT: "1" };
const sleeper = (detached = false) =>
  Bun.spawn(["/bin/sleep", "120"], { detached, stdout: "ignore", stderr: "ignore" });

const msPerScan = (scan: () => void) => {
  const started = performance.now();
  for (let i = 0; i < rounds; i++) scan();
  return (performance.now() - started) / rounds;
};

for (const extra of values.extra.split(",").map((n) => Math.min(Math.max(Number(n) || 0, 0), 2_000))) {
  const idle = Array.from({ length: extra }, () => sleeper());
  // The step, and what it started while it ran (four processes, as a short step might).
  const step = sleeper(true);
  const since = stepStart(step.pid);
  const children = Array.from({ length: 4 }, () => sleeper());
  const processes = readdirSync("/proc").filter((n) => /^\d+$/.test(n)).length;
  const stretch = msPerScan(() => escapedProcesses(step.pid, marker, since));
  const every = msPerScan(() => escapedProcesses(step.pid, marker));
  console.log(
    `${processes} processes: ${stretch.toFixed(3)} ms per step end reading the pids since the step, ${every.toFixed(3)} ms reading every process (${(every / stretch).toFixed(1)}x)`,
  );
  for (const p of [...idle, step, ...children]) p.kill("SIGKILL");
  await Promise.all([...idle, step, ...children].map((p) => p.exited));
}
