/**
 * What the spawn options cost the parent: the trivial step spawned N times one after
 * another with a plain Bun.spawn, then as the bun runner does (lib/runners/launch.ts:
 * `detached: true`, a copy of the environment plus a marker), alternating rounds; the
 * parent's own CPU per spawn (/proc, children excluded) and the wall time. --ballast MB
 * makes the parent hold that much more memory, touched (the service process is ~120 MB
 * resident, a bare spawner ~40).
 *   bun bench/peers/spawn-options.ts [--spawns 200] [--rounds 3] [--ballast 0]
 */
import { parseArgs } from "node:util";
import { cpuMs } from "../procs.ts";
import { round } from "../stats.ts";
import { stepInput, TRIVIAL_STEP } from "./step.ts";

const { values } = parseArgs({
  options: {
    spawns: { type: "string", default: "200" },
    rounds: { type: "string", default: "3" },
    ballast: { type: "string", default: "0" },
  },
});
const ballast = Array.from({ length: Number(values.ballast) }, (_, i) => new Uint8Array(1 << 20).fill(i & 0xff));
const input = stepInput("spawn-options");
const variants: Record<string, () => Parameters<typeof Bun.spawn>[1]> = {
  plain: () => ({ stdin: input, stdout: "pipe", stderr: "pipe" }),
  "as the runner": () => ({
    env: { ...process.env, CODEX_FLOWS_LAUNCH: crypto.randomUUID() },
    cwd: process.cwd(),
    stdin: input,
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  }),
};

for (let r = 0; r < Number(values.rounds); r++) {
  for (const [name, options] of Object.entries(variants)) {
    const cpu = cpuMs(process.pid)!;
    const started = performance.now();
    for (let i = 0; i < Number(values.spawns); i++) {
      const child = Bun.spawn([process.execPath, TRIVIAL_STEP], options());
      await Promise.all([new Response(child.stdout as ReadableStream).text(), child.exited]);
    }
    const n = Number(values.spawns);
    console.log(
      `round ${r + 1}, ${name}, ballast ${ballast.length} MB: parent CPU ${round((cpuMs(process.pid)! - cpu) / n)} ms/spawn, wall ${round((performance.now() - started) / n)} ms/spawn`,
    );
  }
}
