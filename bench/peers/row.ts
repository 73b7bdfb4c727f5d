/**
 * Row peers: the same workload (workload.ts: the trivial step spawned per job, 4 at a
 * time, 200 in flight; single jobs; bursts of 200 and 2,000) on three systems in one run:
 * bare spawns (no orchestration), `flow serve all` (its own fresh nats-server, 2.9.10 as
 * the bench's) and BullMQ on Debian's redis-server (AOF, fsync every second). CPU per
 * event is each system's own processes' (steps excluded), idle RSS its processes' 3 s
 * after ready. BullMQ is skipped, with the reason, when redis-server or the bench-only
 * bullmq package cannot be had.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type EmbeddedNats, freePort, natsServerBinary, startNatsServer } from "../../lib/nats/nats-server.ts";
import { writeFlows } from "../../test/support/flows.ts";
import type { LoadReport } from "../load.ts";
import { processTree } from "../memory.ts";
import { type Child, cpuMs, LOG_DIR, runJson, startServer, waitHealthy } from "../procs.ts";
import { progress, serviceEnv, stepDir, tempDir } from "../rows.ts";
import { round, summarize } from "../stats.ts";
import type { Row } from "../table.ts";
import { TRIVIAL_STEP } from "./step.ts";
import { BURSTS, IN_FLIGHT, type PeerReport, type Phase, rssMb, SINGLES, STEP_SLOTS, WARMUP } from "./workload.ts";

const ROOT = join(import.meta.dir, "..", "..");
const BUN = process.execPath;
const BULLMQ_DIR = join(import.meta.dir, "bullmq");

export type PeerFigures = { bare: PeerReport; ours: PeerReport; bullmq: PeerReport | { skipped: string } };

export async function measurePeers(): Promise<PeerFigures> {
  progress(`peers: bare spawns (${STEP_SLOTS} at a time): ${SINGLES} single, bursts of ${BURSTS.join(" and ")}`);
  const bare = await runJson<PeerReport>("peer-bare", [BUN, join(import.meta.dir, "bare.ts")]);
  const ours = await measureOurs();
  const bullmq = await measureBullmq();
  return { bare, ours, bullmq };
}

export type Ours = { server: Child; nats: EmbeddedNats; port: number; url: string; secret: string; cpu(): number };

/**
 * `flow serve all` with a one-step flow (the trivial step, STEP_SLOTS at a time) on a
 * nats-server of its own, ready; `bunArgs` go before the script (e.g. --cpu-prof), `env` is
 * added to the services' environment. Stop it with `stopOurs`.
 */
export async function startOurs(
  label: string,
  bunArgs: string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<Ours> {
  const nats = await startNatsServer({ binary: natsServerBinary(), storeDir: tempDir(`${label}-nats`) });
  const cwd = writeFlows(
    {
      "bench-flow": [
        { name: "trivial", type: "bench.run", source: readFileSync(TRIVIAL_STEP, "utf8"), schema: { type: "object" } },
      ],
    },
    stepDir(`${label}-cwd`),
  );
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...serviceEnv(nats.url, port, label, cwd),
    CODEX_FLOW_EXECUTOR_CONCURRENCY: String(STEP_SLOTS),
    ...extraEnv,
  };
  const server = startServer(
    `${label}-serve-all`,
    [BUN, ...bunArgs, join(ROOT, "bin", "flow.ts"), "serve", "all"],
    env,
    ROOT,
  );
  try {
    await waitHealthy(server, `http://127.0.0.1:${port}/healthz`);
  } catch (error) {
    await stopOurs({ server, nats });
    throw error;
  }
  // Every process of ours alive at the sample (the steps have ended by then) and nats-server.
  const cpu = () => [...processTree(server.proc.pid), nats.pid].reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0);
  return {
    server,
    nats,
    port,
    url: `http://127.0.0.1:${port}/events?wait=true`,
    secret: env.CODEX_FLOW_BACKEND_SECRET!,
    cpu,
  };
}

export async function stopOurs(ours: Pick<Ours, "server" | "nats">): Promise<void> {
  await ours.server.stop();
  await ours.nats.stop();
}

/** `count` events of the step's type, `concurrency` in flight, each answered once its run completed (POST /events?wait=true). */
export async function loadOurs(ours: Ours, name: string, count: number, concurrency: number): Promise<Phase> {
  const before = ours.cpu();
  const args = [
    "--url",
    ours.url,
    "--type",
    "bench.run",
    "--expect-completed",
    "--count",
    String(count),
    "--concurrency",
    String(concurrency),
  ];
  const report = await runJson<LoadReport>(name, [BUN, join(import.meta.dir, "..", "load.ts"), ...args], {
    ...process.env,
    BENCH_SECRET: ours.secret,
  });
  if (report.errors > 0)
    throw new Error(
      `flow serve all: ${report.errors} of ${count} events did not complete: ${report.failures.join("; ")}`,
    );
  return { count, elapsedMs: report.elapsedMs, cpuMs: ours.cpu() - before, latenciesMs: report.latenciesMs };
}

/** Our side of the row: idle memory, then the workload through HTTP. */
async function measureOurs(): Promise<PeerReport> {
  const ours = await startOurs("peers");
  try {
    await Bun.sleep(3_000);
    const idle = [...processTree(ours.server.proc.pid), ours.nats.pid].map(rssMb).filter((x) => x !== undefined);
    const byProcessIdle: Record<string, number> = {};
    for (const x of idle) byProcessIdle[x.name] = Math.round(((byProcessIdle[x.name] ?? 0) + x.mb) * 10) / 10;
    progress(`peers: flow serve all up on :${ours.port}, idle ${JSON.stringify(byProcessIdle)}`);
    await loadOurs(ours, "peers-ours-warmup", WARMUP, 1);
    const single = await loadOurs(ours, "peers-ours-single", SINGLES, 1);
    const bursts: Phase[] = [];
    for (const count of BURSTS) {
      progress(`peers: flow serve all: burst of ${count}, ${IN_FLIGHT} in flight`);
      bursts.push(await loadOurs(ours, `peers-ours-burst-${count}`, count, IN_FLIGHT));
    }
    return { idleRssMb: idle.reduce((sum, x) => sum + x.mb, 0), byProcessIdle, single, bursts };
  } finally {
    await stopOurs(ours);
  }
}

/** Why BullMQ cannot be measured here, or undefined when redis-server and the package are there (installing the package on first use). */
export async function bullmqMissing(): Promise<string | undefined> {
  if (!Bun.which("redis-server", { PATH: process.env.PATH ?? "" }))
    return "redis-server not found (Debian: apt-get install -y redis-server)";
  if (existsSync(join(BULLMQ_DIR, "node_modules", "bullmq", "package.json"))) return undefined;
  progress(`peers: installing the bench-only bullmq package (bun install --frozen-lockfile in ${BULLMQ_DIR})`);
  const install = Bun.spawnSync([BUN, "install", "--frozen-lockfile"], {
    cwd: BULLMQ_DIR,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (install.exitCode === 0) return undefined;
  return `bullmq could not be installed (bun install --frozen-lockfile in ${BULLMQ_DIR} exited ${install.exitCode}: ${install.stderr.toString().trim().split("\n").slice(-2).join(" ")})`;
}

/** Debian's redis-server on a free loopback port, AOF fsync'd every second, its files in a temp dir; then the peer process. */
async function measureBullmq(): Promise<PeerReport | { skipped: string }> {
  const missing = await bullmqMissing();
  if (missing) {
    progress(`peers: BullMQ skipped: ${missing}`);
    return { skipped: missing };
  }
  const port = await freePort();
  const dir = tempDir("peers-redis");
  const config = join(dir, "redis.conf");
  writeFileSync(
    config,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      "appendonly yes",
      "appendfsync everysec",
      'save ""',
      "daemonize no",
      'logfile ""',
      "",
    ].join("\n"),
  );
  rmSync(join(LOG_DIR, "peers-redis.log"), { force: true }); // the last run's "Ready" must not count
  const redis = startServer("peers-redis", ["redis-server", config], process.env);
  try {
    await waitLog(redis.logFile!, "Ready to accept connections", redis.proc);
    progress(
      `peers: redis-server on 127.0.0.1:${port} (AOF everysec, ${dir}); BullMQ worker (concurrency ${STEP_SLOTS}) and producer in one process`,
    );
    return await runJson<PeerReport>("peer-bullmq", [BUN, join(BULLMQ_DIR, "peer.ts")], {
      ...process.env,
      REDIS_PORT: String(port),
      REDIS_PID: String(redis.proc.pid),
    });
  } finally {
    await redis.stop();
  }
}

/** Waits until `file` contains `text`; fails when the process exits first or after 10 s. */
async function waitLog(file: string, text: string, proc: { exitCode: number | null }): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (existsSync(file) && readFileSync(file, "utf8").includes(text)) return;
    if (proc.exitCode !== null) throw new Error(`redis-server exited (code ${proc.exitCode}); see ${file}`);
    await Bun.sleep(50);
  }
  throw new Error(`redis-server did not say "${text}" within 10 s; see ${file}`);
}

/** Ours against bare spawns: at least this share of their events/s in the 2,000 burst. */
export const BARE_SHARE = 0.8;

const perSecond = (p: Phase) => p.count / (p.elapsedMs / 1000);
const cpuPerEvent = (p: Phase) => p.cpuMs / p.count;

/** One system's row: burst 2,000 events/s, single-job p50/p99, and the rest in the note. */
function systemRow(row: string, r: PeerReport, target: string, verdict: Row["verdict"], extra = ""): Row {
  const latency = summarize(r.single.latenciesMs);
  const bursts = r.bursts
    .map(
      (b) =>
        `${b.count} in ${round(b.elapsedMs / 1000)} s (${round(perSecond(b))}/s, ${round(cpuPerEvent(b))} ms CPU/event)`,
    )
    .join(", ");
  const idle =
    r.idleRssMb === undefined ? "" : `; idle RSS ${round(r.idleRssMb)} MB ${JSON.stringify(r.byProcessIdle)}`;
  return {
    row,
    rps: perSecond(r.bursts.at(-1)!),
    p50: latency.p50,
    p99: latency.p99,
    target,
    verdict,
    note: `${extra}bursts: ${bursts}; single jobs ${round(cpuPerEvent(r.single))} ms CPU/event${idle}`,
  };
}

/** Three rows (BullMQ's says why when skipped); ours is judged against both others in the same run. */
export function peerRows(f: PeerFigures): Row[] {
  const last = (r: PeerReport) => r.bursts.at(-1)!;
  const bareShare = perSecond(last(f.ours)) / perSecond(last(f.bare));
  const peer = f.bullmq;
  const bullmq = "skipped" in peer ? undefined : peer;
  const timeRatio = bullmq ? last(f.ours).elapsedMs / last(bullmq).elapsedMs : undefined;
  const pass = timeRatio !== undefined && timeRatio <= 1 && bareShare >= BARE_SHARE;
  const ratios = `burst ${last(f.ours).count}: ${timeRatio === undefined ? "BullMQ n/a" : `${round(timeRatio)}x BullMQ's time, ${round(cpuPerEvent(last(f.ours)) / cpuPerEvent(last(bullmq!)))}x its CPU/event`}, ${round(bareShare * 100)}% of bare spawns' events/s; `;
  const rows = [
    systemRow("peers: bare spawns", f.bare, "(the floor)", "-"),
    systemRow(
      "peers: serve all",
      f.ours,
      `<=BullMQ, >=${round(BARE_SHARE * 100)}% bare`,
      timeRatio === undefined ? "n/a" : pass ? "ok" : "MISSED",
      ratios,
    ),
  ];
  if (bullmq) rows.push(systemRow("peers: BullMQ+Redis", bullmq, "(the peer)", "-"));
  else if ("skipped" in peer)
    rows.push({ row: "peers: BullMQ+Redis", target: "(the peer)", verdict: "n/a", note: `skipped: ${peer.skipped}` });
  return rows;
}
