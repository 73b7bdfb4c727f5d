/**
 * The spawn floor, in its own process: what it costs this machine to run the trivial
 * step the way the bun runner does (Bun.spawn of this Bun with the seed's JSON on stdin,
 * waiting for exit and reading stdout). Prints a SpawnReport as JSON on stdout.
 *   --sequential N   latencies of N spawns one after another (default 50)
 *   --seconds S      how long each parallelism level runs (default 3)
 *   --parallelism L  comma-separated levels (default 1,2,4)
 */
import { parseArgs } from "node:util";
import { spawnStep, stepInput } from "./peers/step.ts";

export type SpawnReport = {
  sequentialMs: number[];
  rates: { parallelism: number; spawns: number; seconds: number; perSecond: number }[];
};

const { values } = parseArgs({
  options: {
    sequential: { type: "string", default: "50" },
    seconds: { type: "string", default: "3" },
    parallelism: { type: "string", default: "1,2,4" },
  },
});

const input = stepInput("spawn-floor");

/** One spawn of the trivial step; returns its latency in ms. */
async function spawnOnce(): Promise<number> {
  const started = performance.now();
  await spawnStep(input);
  return performance.now() - started;
}

const sequentialMs: number[] = [];
await spawnOnce(); // the first spawn warms the page cache and the transpiler cache
for (let i = 0; i < Number(values.sequential); i++) sequentialMs.push(await spawnOnce());

const rates: SpawnReport["rates"] = [];
for (const parallelism of values.parallelism.split(",").map(Number)) {
  const end = performance.now() + Number(values.seconds) * 1000;
  const started = performance.now();
  let spawns = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await spawnOnce();
      spawns++;
    }
  };
  await Promise.all(Array.from({ length: parallelism }, worker));
  const seconds = (performance.now() - started) / 1000;
  rates.push({ parallelism, spawns, seconds, perSecond: spawns / seconds });
}

process.stdout.write(JSON.stringify({ sequentialMs, rates } satisfies SpawnReport));
