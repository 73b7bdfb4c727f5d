/**
 * How each row is measured. Every server under test is its own process (procs.ts), the
 * load comes from bench/load.ts in another, and figures are summarised by stats.ts.
 */
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { type EmbeddedNats, freePort } from "../lib/nats/nats-server.ts";
import { writeFlows } from "../test/support/flows.ts";
import type { LoadReport } from "./load.ts";
import { type Child, cpuMs, RESULTS_DIR, runJson, startServer, waitHealthy } from "./procs.ts";
import type { SpawnReport } from "./spawn.ts";
import { type Summary, summarize } from "./stats.ts";

export const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const SECRET = "bench-secret";

export type LoadOptions = { durationS: number; warmupS: number };
export type LoadFigures = {
  rps: number;
  /** The measured window (duration mode) or first send to last answer (count mode). */
  elapsedMs: number;
  latency: Summary;
  errors: number;
  failures: string[];
  statuses: Record<string, number>;
  /** CPU ms per request (warm-up included) of the server under test and of nats-server, where /proc tells. */
  cpuPerRequestMs?: { server: number; nats: number };
};
export type SpawnFigures = {
  sequential: Summary;
  rates: SpawnReport["rates"];
  best: { parallelism: number; perSecond: number };
};
/** The same server and load, fire-and-forget (`?wait=none`) and the default answer (waits for the match, answers runIds). */
export type DispatchFigures = { none: LoadFigures; matched: LoadFigures };
export type E2eFigures = {
  concurrency: number;
  idle: LoadFigures;
  burst: LoadFigures & { count: number; totalMs: number };
};

/** Progress goes to stderr so the table on stdout stays clean. */
export const progress = (line: string) => console.error(`bench: ${line}`);

/** A temporary directory that run.ts removes at the end. */
export const tempDirs: string[] = [];
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `codex-flows-bench-${label}-`));
  tempDirs.push(dir);
  return dir;
}

/**
 * A temporary directory for a flow package whose steps the bench times, under
 * bench/results/steps/ rather than the system's temp directory: Bun reads every directory
 * above a script it starts, and a shared /tmp with thousands of entries (11,000 on the
 * bench machine) added about 10 ms to each spawn of a step there, which the floor's
 * script (bench/fixtures/) never paid. Removed at the end like the others.
 */
export function stepDir(label: string): string {
  const parent = join(RESULTS_DIR, "steps");
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, `${label}-`));
  tempDirs.push(dir);
  return dir;
}

async function load(name: string, args: string[]): Promise<LoadReport> {
  return await runJson<LoadReport>(name, [BUN, join(import.meta.dir, "load.ts"), ...args], {
    ...process.env,
    BENCH_SECRET: SECRET,
  });
}

function figures(report: LoadReport): LoadFigures {
  const rps = report.latenciesMs.length / (report.elapsedMs / 1000);
  return {
    rps,
    elapsedMs: report.elapsedMs,
    latency: summarize(report.latenciesMs),
    errors: report.errors,
    failures: report.failures,
    statuses: report.statuses,
  };
}

/** Runs the load and charges the CPU the server and nats-server used to the requests sent. */
export async function loadWithCpu(
  name: string,
  args: string[],
  server: Child,
  nats: EmbeddedNats,
): Promise<LoadFigures> {
  const before = [cpuMs(server.proc.pid), cpuMs(nats.pid)];
  const report = await load(name, args);
  const after = [cpuMs(server.proc.pid), cpuMs(nats.pid)];
  const result = figures(report);
  if (before.some((x) => x === undefined) || after.some((x) => x === undefined)) return result;
  // Warm-up requests used CPU too: spread it over every request sent, assuming the same rate.
  const sent =
    report.mode === "duration"
      ? report.requests * (1 + report.warmupMs / report.elapsedMs)
      : report.requests + report.warmupRequests;
  return {
    ...result,
    cpuPerRequestMs: { server: (after[0]! - before[0]!) / sent, nats: (after[1]! - before[1]!) / sent },
  };
}

/** The load generator's arguments for `url` under 16 connections for the warm-up and then the measured duration. */
export function timedLoad(url: string, opts: LoadOptions, ...extra: string[]): string[] {
  return ["--url", url, ...extra, "--duration", String(opts.durationS), "--warmup", String(opts.warmupS)];
}

/** Row 1: the minimal Elysia handler that only publishes the raw body. */
export async function measureMinimal(nats: EmbeddedNats, opts: LoadOptions): Promise<LoadFigures> {
  const port = await freePort();
  const server = startServer("minimal-server", [BUN, join(import.meta.dir, "minimal-server.ts")], {
    ...process.env,
    NATS_URL: nats.url,
    PORT: String(port),
  });
  try {
    await waitHealthy(server, `http://127.0.0.1:${port}/healthz`);
    progress(`minimal handler up on :${port}; loading it for ${opts.warmupS}+${opts.durationS} s with 16 connections`);
    return await loadWithCpu("load-minimal", timedLoad(`http://127.0.0.1:${port}/events`, opts), server, nats);
  } finally {
    await server.stop();
  }
}

/** The environment of a real service process: its own stream, data directory and port, HMAC on. */
export function serviceEnv(
  natsUrl: string,
  port: number,
  label: string,
  cwd: string,
): Record<string, string | undefined> {
  return {
    ...process.env,
    NATS_URL: natsUrl,
    CODEX_FLOW_BACKEND_PORT: String(port),
    CODEX_FLOW_STREAM: `BENCH_${label.toUpperCase()}_${process.pid}`,
    CODEX_FLOW_SUBJECT_PREFIX: `bench${label}${process.pid}`,
    CODEX_FLOW_BACKEND_DATA_DIR: tempDir(`${label}-data`),
    CODEX_FLOW_BACKEND_SECRET: SECRET,
    CODEX_FLOW_BACKEND_CWD: cwd,
  };
}

/** Row 2: the real ingress (`flow serve ingress`), events of a type no flow matches. */
export async function measureIngress(nats: EmbeddedNats, opts: LoadOptions): Promise<LoadFigures> {
  const port = await freePort();
  const env = serviceEnv(nats.url, port, "ingress", tempDir("ingress-cwd"));
  const server = startServer("ingress", [BUN, join(ROOT, "bin", "flow.ts"), "serve", "ingress"], env, ROOT);
  try {
    await waitHealthy(server, `http://127.0.0.1:${port}/healthz`);
    progress(`ingress up on :${port}; loading it for ${opts.warmupS}+${opts.durationS} s with 16 connections`);
    return await loadWithCpu(
      "load-ingress",
      timedLoad(`http://127.0.0.1:${port}/events?wait=none`, opts),
      server,
      nats,
    );
  } finally {
    await server.stop();
  }
}

/**
 * Rows "dispatch": `flow serve all` (a flow that matches nothing the load sends), the same
 * 16 connections first without `?wait=` (the default: the answer waits for the matcher's
 * decision and carries runIds), then with `?wait=none` (its backlog would delay the default).
 */
export async function measureDispatch(nats: EmbeddedNats, opts: LoadOptions): Promise<DispatchFigures> {
  const cwd = writeFlows(
    {
      "bench-flow": [
        {
          name: "trivial",
          type: "bench.run",
          source: readFileSync(join(import.meta.dir, "fixtures", "trivial-step.ts"), "utf8"),
        },
      ],
    },
    tempDir("dispatch-cwd"),
  );
  const port = await freePort();
  const server = startServer(
    "dispatch",
    [BUN, join(ROOT, "bin", "flow.ts"), "serve", "all"],
    serviceEnv(nats.url, port, "dispatch", cwd),
    ROOT,
  );
  try {
    await waitHealthy(server, `http://127.0.0.1:${port}/healthz`);
    progress(
      `whole system up on :${port}; the default answer, then ?wait=none, ${opts.warmupS}+${opts.durationS} s each with 16 connections`,
    );
    const matched = await loadWithCpu(
      "load-dispatch-default",
      timedLoad(`http://127.0.0.1:${port}/events`, opts, "--expect-matched"),
      server,
      nats,
    );
    const none = await loadWithCpu(
      "load-dispatch-none",
      timedLoad(`http://127.0.0.1:${port}/events?wait=none`, opts),
      server,
      nats,
    );
    return { none, matched };
  } finally {
    await server.stop();
  }
}

export type AllFigures = LoadFigures & { threads: boolean; catchUpMs?: number; lagAfterLoad?: number };

/** Polls GET /healthz until the projector's lag is 0 (the matcher's and projector's work on the load is done); ms, or undefined after 120 s. */
export async function catchUp(url: string): Promise<{ ms?: number; lag?: number }> {
  const started = performance.now();
  let lag: number | undefined;
  while (performance.now() - started < 120_000) {
    const health = (await fetch(`${url}/healthz`).then((r) => r.json())) as { projector: { lag: number | null } };
    lag ??= health.projector.lag ?? undefined;
    if (health.projector.lag === 0) return { ms: performance.now() - started, lag };
    await Bun.sleep(20);
  }
  return { lag };
}

/**
 * Row all: the ingress of `flow serve all` (all four services in one command; the
 * projector, matcher and executor on a worker thread unless `threads` is false) under
 * the ingress row's load, no flow matching; then how long the projector takes to catch up.
 */
export async function measureAll(nats: EmbeddedNats, opts: LoadOptions, threads: boolean): Promise<AllFigures> {
  const port = await freePort();
  const label = threads ? "all" : "all1";
  const env = {
    ...serviceEnv(nats.url, port, label, tempDir(`${label}-cwd`)),
    CODEX_FLOW_THREADS: threads ? "on" : "off",
  };
  const server = startServer(`serve-${label}`, [BUN, join(ROOT, "bin", "flow.ts"), "serve", "all"], env, ROOT);
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(server, `${base}/healthz`);
    progress(
      `flow serve all (threads ${threads ? "on" : "off"}) up on :${port}; loading it for ${opts.warmupS}+${opts.durationS} s with 16 connections`,
    );
    const figures = await loadWithCpu(`load-${label}`, timedLoad(`${base}/events?wait=none`, opts), server, nats);
    const caught = await catchUp(base);
    return { ...figures, threads, catchUpMs: caught.ms, lagAfterLoad: caught.lag };
  } finally {
    await server.stop();
  }
}

/** Row 3: spawning the trivial step directly, sequentially and at parallelism 1, 2, 4. */
export async function measureSpawn(): Promise<SpawnFigures> {
  progress("spawn floor: 50 sequential spawns, then 3 s each at parallelism 1, 2, 4");
  const report = await runJson<SpawnReport>("spawn", [BUN, join(import.meta.dir, "spawn.ts")]);
  const best = report.rates.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  return {
    sequential: summarize(report.sequentialMs),
    rates: report.rates,
    best: { parallelism: best.parallelism, perSecond: best.perSecond },
  };
}

/** Row 4: `flow serve all` with one flow whose one step is the trivial script. */
export async function measureEndToEnd(nats: EmbeddedNats): Promise<E2eFigures> {
  const cwd = writeFlows(
    {
      "bench-flow": [
        {
          name: "trivial",
          type: "bench.run",
          source: readFileSync(join(import.meta.dir, "fixtures", "trivial-step.ts"), "utf8"),
          schema: { type: "object" },
        },
      ],
    },
    stepDir("e2e-cwd"),
  );
  const port = await freePort();
  const env = serviceEnv(nats.url, port, "e2e", cwd);
  const concurrency = loadConfig(env).concurrency;
  const server = startServer("serve-all", [BUN, join(ROOT, "bin", "flow.ts"), "serve", "all"], env, ROOT);
  try {
    await waitHealthy(server, `http://127.0.0.1:${port}/healthz`);
    const url = `http://127.0.0.1:${port}/events?wait=true`;
    progress(
      `whole system up on :${port} (executor concurrency ${concurrency}); 30 events one at a time (after 2 warm-up events)`,
    );
    const idle = await loadWithCpu(
      "load-e2e-idle",
      [
        "--url",
        url,
        "--type",
        "bench.run",
        "--expect-completed",
        "--concurrency",
        "1",
        "--count",
        "30",
        "--warmup-count",
        "2",
      ],
      server,
      nats,
    );
    progress("200 events at once");
    const burst = await loadWithCpu(
      "load-e2e-burst",
      ["--url", url, "--type", "bench.run", "--expect-completed", "--concurrency", "200", "--count", "200"],
      server,
      nats,
    );
    return { concurrency, idle, burst: { ...burst, count: 200, totalMs: burst.elapsedMs } };
  } finally {
    await server.stop();
    // The executor says how many steps it runs at a time; it must be the default we report.
    const said = /(\d+) at a time/.exec(readFileSync(server.logFile!, "utf8"))?.[1];
    if (said !== undefined && Number(said) !== concurrency)
      progress(`WARNING: the executor ran ${said} at a time, not ${concurrency}`);
  }
}
