/**
 * The step every system in the bench runs: bench/fixtures/trivial-step.ts spawned with
 * this Bun, the seed's JSON on stdin (as the bun runner gives it), its exit waited for and
 * its stdout read. Shared by the spawn floor (bench/spawn.ts), the bare spawns and the
 * BullMQ worker (bench/peers/), so each pays the same step.
 */
import { join } from "node:path";

export const TRIVIAL_STEP = join(import.meta.dir, "..", "fixtures", "trivial-step.ts");

/** The seed a runner hands the step for one event. */
export function stepInput(eventId: string): Buffer {
  const event = {
    id: eventId,
    type: "bench.run",
    source: "codex-flows bench",
    receivedAt: new Date().toISOString(),
    payload: {},
  };
  return Buffer.from(
    JSON.stringify({
      flow: { name: "bench-flow", version: 1, root: import.meta.dir, step: "trivial", config: {}, event },
    }),
  );
}

/** Spawns the trivial step once and waits for it; throws unless it reported success. */
export async function spawnStep(input: Buffer): Promise<void> {
  const child = Bun.spawn([process.execPath, TRIVIAL_STEP], { stdin: input, stdout: "pipe", stderr: "pipe" });
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  if (code !== 0 || !stdout.includes('FLOW_RESULT {"status":"completed"}'))
    throw new Error(`trivial step failed (exit ${code}): ${stdout}`);
}
