/**
 * The warm row's system part: `flow serve all` (a nats-server of its own) with one flow
 * whose one step is the trivial module step, warm and then spawned, under the peers
 * workload's shape: 30 single events one at a time (p50), then a burst of 2,000 events
 * with 200 in flight (events/s), each answered once its run completed (?wait=true).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, natsServerBinary, startNatsServer } from "../lib/nats/nats-server.ts";
import { writeFlows } from "../test/support/flows.ts";
import type { LoadReport } from "./load.ts";
import { runJson, startServer, waitHealthy } from "./procs.ts";
import { serviceEnv, stepDir, tempDir } from "./rows.ts";
import { round, type Summary, summarize } from "./stats.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const STEP = readFileSync(join(import.meta.dir, "fixtures", "trivial-module.ts"), "utf8");
const SLOTS = 4;
const BURST = 2000;
const IN_FLIGHT = 200;

export type SystemMode = { single: Summary; burst: { count: number; inFlight: number; ms: number; perSecond: number } };

/** One system, the step warm (`warm = { workers = N }`) or spawned. */
export async function measureSystem(label: string, warm: boolean, log: (line: string) => void): Promise<SystemMode> {
  const nats = await startNatsServer({ binary: natsServerBinary(), storeDir: tempDir(`${label}-nats`) });
  const extra = warm ? `warm = { workers = ${SLOTS} }` : undefined;
  const cwd = writeFlows(
    {
      "bench-flow": [
        { name: "trivial", type: "bench.run", source: STEP, schema: { type: "object" }, ...(extra ? { extra } : {}) },
      ],
    },
    stepDir(`${label}-cwd`),
  );
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...serviceEnv(nats.url, port, label, cwd),
    CODEX_FLOW_EXECUTOR_CONCURRENCY: String(SLOTS),
  };
  const server = startServer(`${label}-serve-all`, [BUN, join(ROOT, "bin", "flow.ts"), "serve", "all"], env, ROOT);
  try {
    await waitHealthy(server, `http://127.0.0.1:${port}/healthz`);
    const load = async (name: string, count: number, concurrency: number) => {
      const args = [
        "--url",
        `http://127.0.0.1:${port}/events?wait=true`,
        "--type",
        "bench.run",
        "--expect-completed",
        "--count",
        String(count),
        "--concurrency",
        String(concurrency),
      ];
      const report = await runJson<LoadReport>(name, [BUN, join(import.meta.dir, "load.ts"), ...args], {
        ...process.env,
        BENCH_SECRET: env.CODEX_FLOW_BACKEND_SECRET,
      });
      if (report.errors > 0)
        throw new Error(
          `${label}: ${report.errors} of ${count} events did not complete: ${report.failures.join("; ")}`,
        );
      return report;
    };
    log(`${label}: flow serve all up on :${port}; 30 single events, then ${BURST} with ${IN_FLIGHT} in flight`);
    await load(`${label}-warmup`, 4, 1);
    const single = await load(`${label}-single`, 30, 1);
    const burst = await load(`${label}-burst`, BURST, IN_FLIGHT);
    return {
      single: summarize(single.latenciesMs),
      burst: {
        count: BURST,
        inFlight: IN_FLIGHT,
        ms: round(burst.elapsedMs),
        perSecond: round((BURST / burst.elapsedMs) * 1000),
      },
    };
  } finally {
    await server.stop();
    await nats.stop();
  }
}
