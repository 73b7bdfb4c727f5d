import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { ServiceName } from "../../services/runtime/system.ts";
import { isRunning } from "../fixtures/request.ts";
import { writeFlows } from "./flows.ts";
import { json } from "./http.ts";
import { eventually } from "./nats.ts";
import { type CliProcess, ingressUrlOf, type useProcesses } from "./processes.ts";
import { tempDir as makeTempDir } from "./temp.ts";

/** The line each service logs once it is ready (the executor's names its host id). */
export function readyLine(service: ServiceName, hostId: string): RegExp {
  switch (service) {
    case "projector":
      return / projector info projecting /;
    case "matcher":
      return / matcher info matching against \d+ flow/;
    case "executor":
      return new RegExp(` executor info executing on host ${hostId}:`);
    case "ingress":
      return / ingress info listening on http:\/\/\S+/;
  }
}

type Processes = ReturnType<typeof useProcesses>;

/** One generation of a role: the process, and when it was started and stopped (test clock, ms). */
export type Generation = {
  proc: CliProcess;
  startedAt: number;
  readyAt?: number;
  stoppedAt?: number;
  how?: NodeJS.Signals;
};

/**
 * One deployment of the services as separate processes (`flow serve <service>`), by
 * role ("ingress", "exec-a", ...). A role can be killed and started again with the same
 * environment; every generation is kept, so a failure can show what each printed.
 */
export class Deployment {
  readonly roles = new Map<
    string,
    { service: ServiceName; env: Record<string, string | undefined>; wrap?: string[]; generations: Generation[] }
  >();
  readonly tempDirs: string[] = [];

  constructor(
    private readonly cli: Processes,
    /** The deployment's environment (serviceEnv): every role gets it, plus its own extras. */
    readonly env: Record<string, string | undefined>,
  ) {
    if (env.CODEX_FLOW_BACKEND_DATA_DIR) this.tempDirs.push(env.CODEX_FLOW_BACKEND_DATA_DIR);
  }

  /**
   * The shared services every host test needs before its executors: the projector
   * first (it creates the read model the ingress opens), then matcher and ingress.
   * Returns the ingress's URL.
   */
  async startControlPlane(): Promise<string> {
    await this.start("projector", "projector");
    await Promise.all([this.start("matcher", "matcher"), this.start("ingress", "ingress")]);
    return await ingressUrlOf(this.proc("ingress"));
  }

  /**
   * Starts `flow serve <service>` as `role` and waits until it says it is ready. `wrap`
   * (kept for restarts) runs it inside something, e.g. a network namespace.
   */
  async start(
    role: string,
    service: ServiceName,
    extra: Record<string, string | undefined> = {},
    timeoutMs = 20_000,
    wrap?: string[],
  ): Promise<CliProcess> {
    const known = this.roles.get(role);
    const env = known?.env ?? { ...this.env, ...extra };
    if (!known) this.roles.set(role, { service, env, wrap, generations: [] });
    const entry = this.roles.get(role)!;
    const proc = this.cli.start(["serve", service], { env, wrap: entry.wrap });
    const generation: Generation = { proc, startedAt: Date.now() };
    entry.generations.push(generation);
    await proc.waitForLine(readyLine(service, env.CODEX_FLOW_HOST_ID ?? ""), timeoutMs);
    generation.readyAt = Date.now();
    return proc;
  }

  /** Starts the role unless its current process is running (a new role, or one that ended, starts now). */
  async ensure(
    role: string,
    service: ServiceName,
    extra: Record<string, string | undefined> = {},
  ): Promise<CliProcess> {
    const current = this.roles.get(role)?.generations.at(-1)?.proc;
    if (current && current.child.exitCode === null && current.child.signalCode === null) return current;
    return await this.start(role, service, extra);
  }

  /** Whether the role's current process is running. */
  running(role: string): boolean {
    const current = this.roles.get(role)?.generations.at(-1)?.proc;
    return current !== undefined && current.child.exitCode === null && current.child.signalCode === null;
  }

  /** Starts the role again with the environment it had. */
  async restart(role: string, timeoutMs?: number): Promise<CliProcess> {
    const entry = this.roles.get(role);
    if (!entry) throw new Error(`no role ${role}`);
    return await this.start(role, entry.service, {}, timeoutMs);
  }

  /** The role's current (latest) process. */
  proc(role: string): CliProcess {
    const generation = this.roles.get(role)?.generations.at(-1);
    if (!generation) throw new Error(`no role ${role}`);
    return generation.proc;
  }

  generations(role: string): Generation[] {
    return this.roles.get(role)?.generations ?? [];
  }

  /** The executor role whose host id is `hostId`. */
  roleOfHost(hostId: string): string {
    for (const [role, entry] of this.roles)
      if (entry.service === "executor" && entry.env.CODEX_FLOW_HOST_ID === hostId) return role;
    throw new Error(`no executor role with host id ${hostId}`);
  }

  /** Signals the role's current process and waits for it to end; returns its exit code (null when a signal ended it). */
  async signal(role: string, signal: NodeJS.Signals, timeoutMs = 15_000): Promise<number | null> {
    const generation = this.roles.get(role)?.generations.at(-1);
    if (!generation) throw new Error(`no role ${role}`);
    generation.stoppedAt = Date.now();
    generation.how = signal;
    generation.proc.signal(signal);
    await generation.proc.exit(timeoutMs);
    return generation.proc.child.signalCode ? null : generation.proc.child.exitCode;
  }

  /** Every process's output, for an assertion message (long outputs keep their last lines). */
  describe(maxLines = 120): string {
    const parts: string[] = [];
    for (const [role, entry] of this.roles) {
      entry.generations.forEach((g, i) => {
        const lines = g.proc.output().split("\n");
        const shown =
          lines.length > maxLines ? [`... ${lines.length - maxLines} earlier lines`, ...lines.slice(-maxLines)] : lines;
        const end =
          g.proc.child.exitCode !== null || g.proc.child.signalCode !== null
            ? `exit ${g.proc.child.signalCode ?? g.proc.child.exitCode}`
            : "running";
        parts.push(`--- ${role} #${i + 1} (${entry.service}, pid ${g.proc.pid}, ${end}) ---\n${shown.join("\n")}`);
      });
    }
    return parts.join("\n");
  }

  /** Removes the deployment's temporary directories (call once its processes are gone). */
  removeTempDirs(): void {
    for (const dir of this.tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `body`; a failure carries every process's output, so it can be diagnosed from the report alone. */
export async function withOutput<T>(deployment: Deployment, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof Error) error.message += `\n\nprocess output:\n${deployment.describe()}`;
    throw error;
  }
}

/** A temporary directory removed by `removeTempDirs` (and at exit in any case). */
export function tempDir(deployment: Deployment, prefix: string): string {
  const dir = makeTempDir(prefix);
  deployment.tempDirs.push(dir);
  return dir;
}

export type Json = any;

/** The HTTP API of a deployment's ingress, as a client sees it. */
export function api(url: () => string) {
  const self = {
    async post(event: { id: string; type: string; payload?: unknown }, wait?: "matched" | "true"): Promise<Json> {
      const response = await fetch(`${url()}/events${wait ? `?wait=${wait}` : ""}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(event),
      });
      const body = await json(response);
      if (response.status !== 202) throw new Error(`POST /events answered ${response.status}: ${JSON.stringify(body)}`);
      return body;
    },
    async run(id: string, after?: number): Promise<Json> {
      const response = await fetch(`${url()}/runs/${encodeURIComponent(id)}${after ? `?after=${after}` : ""}`);
      const body = await json(response);
      if (response.status !== 200)
        throw new Error(`GET /runs/${id} answered ${response.status}: ${JSON.stringify(body)}`);
      return body.run;
    },
    async runs(query: string): Promise<Json[]> {
      const response = await fetch(`${url()}/runs?${query}`);
      const body = await json(response);
      if (response.status !== 200)
        throw new Error(`GET /runs?${query} answered ${response.status}: ${JSON.stringify(body)}`);
      return body.runs;
    },
    /** Polls the run until `done` holds (progress, not a guessed sleep); the error names the last state seen. */
    async waitForRun(id: string, done: (run: Json) => boolean, timeoutMs: number, what: string): Promise<Json> {
      const deadline = Date.now() + timeoutMs;
      let last: Json;
      for (;;) {
        last = await self.run(id).catch((error) => ({ unreadable: String(error) }));
        if (!("unreadable" in last) && done(last)) return last;
        if (Date.now() > deadline)
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; run ${id} is ${JSON.stringify(summary(last))}`,
          );
        await Bun.sleep(50);
      }
    },
  };
  return self;
}

/** A run reduced to what these tests look at. */
export function summary(run: Json) {
  if (!run || "unreadable" in run) return run;
  return {
    status: run.status,
    attempt: run.attempt,
    host: run.host,
    error: run.error,
    attempts: (run.attempts ?? []).map((a: Json) => ({
      n: a.attemptNumber,
      status: a.status,
      host: a.host,
      error: a.error,
    })),
  };
}

/** The stream's last sequence, read from JetStream directly (the read model is caught up once it applied this). */
export async function lastSeq(natsUrl: string, stream: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream)).state.last_seq;
  } finally {
    await nc.close();
  }
}

/** A consumer's state, for evidence in a test (redeliveries, pending). */
export async function consumerInfo(natsUrl: string, stream: string, durable: string) {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    return await jsm.consumers.info(stream, durable);
  } finally {
    await nc.close();
  }
}

/**
 * A step script prelude: reads the input and records this execution as `<dir>/<runId>-<attempt>.json`
 * (pid, parent pid, host), written whole or not at all (a temporary name, then a rename): a test
 * polling the folder never reads half a record.
 */
export function recordingPrelude(dir: string): string {
  return `import { renameSync, writeFileSync } from "node:fs";
const input = JSON.parse(await Bun.stdin.text());
const payload = input.flow.event.payload ?? {};
const attempt = Number(process.env.CODEX_FLOW_ATTEMPT);
const record = ${JSON.stringify(dir)} + "/" + process.env.CODEX_FLOW_RUN_ID + "-" + attempt + ".json";
writeFileSync(record + ".tmp", JSON.stringify({ runId: process.env.CODEX_FLOW_RUN_ID, attempt, pid: process.pid, ppid: process.ppid, host: process.env.CODEX_FLOW_HOST_ID }));
renameSync(record + ".tmp", record);
`;
}

export type Execution = { runId: string; attempt: number; pid: number; ppid: number; host: string };

/**
 * A flow `flow` whose one step `work` (on `<flow>.work`, timeout 120 s) records each
 * execution in `pids` (recordingPrelude), sleeps `sleepMs` (an expression over `attempt`
 * and `payload`) and reports its attempt and host. Returns the flows directory and the
 * step's script.
 */
export function recordingWorkFlow(
  deployment: Deployment,
  pids: string,
  flow: string,
  sleepMs: string,
): { cwd: string; script: string } {
  // While it works it appends the time to `<runId>-<attempt>.marks` every 50 ms (see workMarks).
  const source = `${recordingPrelude(pids)}
const marks = ${JSON.stringify(pids)} + "/" + process.env.CODEX_FLOW_RUN_ID + "-" + attempt + ".marks";
const { appendFileSync } = await import("node:fs");
for (const end = Date.now() + (${sleepMs}); Date.now() < end; ) {
  appendFileSync(marks, Date.now() + "\\n");
  await Bun.sleep(Math.min(50, end - Date.now()));
}
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", message: "attempt " + attempt + " on " + process.env.CODEX_FLOW_HOST_ID }));
`;
  const cwd = writeFlows(
    { [flow]: [{ name: "work", type: `${flow}.work`, timeoutMs: 120_000, source }] },
    tempDir(deployment, "codex-flows-e2e-cwd-"),
  );
  return { cwd, script: join(cwd, "flows", flow, "exec", "work.ts") };
}

/** Waits (up to `timeoutMs`) until attempt 1's step process of `runId` has ended with its killed executor; returns when it was seen gone. */
export async function firstAttemptEnds(pids: string, runId: string, timeoutMs: number): Promise<number> {
  const step = executions(pids, runId)[0]!;
  await eventually(
    () => !isRunning(step.pid),
    timeoutMs,
    `attempt 1's step process ${step.pid} to end with its executor`,
  );
  return Date.now();
}

/** The times (ms) attempt `attempt` of `runId` was seen working, in order: a recordingWorkFlow step's marks. */
export function workMarks(pids: string, runId: string, attempt: number): number[] {
  const path = join(pids, `${runId}-${attempt}.marks`);
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter(Boolean).map(Number);
}

/** The executions recorded by `recordingPrelude` steps, optionally of one run. */
export function executions(dir: string, runId?: string): Execution[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json") && (runId === undefined || name.startsWith(`${runId}-`)))
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as Execution)
    .sort((a, b) => a.attempt - b.attempt);
}

/**
 * SIGKILLs the step processes recorded in `pids` that still run `marker` (a script path),
 * so a test leaves nothing behind; returns how many it found. (An executor's guard ends
 * its steps when it dies; a step whose executor was frozen or cut off may still run.)
 */
export function killLeftoverSteps(pids: number[], marker: string): number {
  let found = 0;
  for (const pid of pids) {
    if (!isRunning(pid)) continue;
    const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
    if (!cmdline.includes(marker)) continue;
    found++;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** A small seeded PRNG (mulberry32), so a chaos run can be repeated from its printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
