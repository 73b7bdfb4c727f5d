import { afterAll } from "bun:test";
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../../lib/nats/nats-server.ts";
import { tempDir } from "./temp.ts";

/** The repository root: where `bin/flow.ts` lives and the default cwd of a started CLI. */
export const REPO = resolve(import.meta.dir, "../..");

export type StartOptions = {
  /** Where the process runs; the repository root when absent. */
  cwd?: string;
  /** Added to a clean environment (PATH, HOME and the like; no CODEX_FLOW_* or NATS_URL from this shell). */
  env?: Record<string, string | undefined>;
  /** The entry point under the repository; bin/flow.ts when absent. */
  entry?: string;
  /** A command that runs bun (e.g. `ip netns exec <name>`); it must exec it, so the pid stays bun's. */
  wrap?: string[];
};

/** A started CLI process whose output is collected line by line. */
export type CliProcess = {
  readonly pid: number;
  readonly child: Subprocess<"ignore", "pipe", "pipe">;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Everything printed so far, both streams interleaved as they arrived. */
  output(): string;
  /** Resolves with the first line (either stream) matching `pattern`; rejects with the output so far on timeout or exit. */
  waitForLine(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  signal(signal: NodeJS.Signals): void;
  /** The exit code, once the process ends; rejects with the output so far when it outlives `timeoutMs`. */
  exit(timeoutMs?: number): Promise<number>;
};

type Waiter = { test(line: string): boolean; resolve(line: string): void };

/** The variables a child inherits: everything but this project's own, so the shell running the tests cannot leak into them. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("CODEX_FLOW") && key !== "NATS_URL") env[key] = value;
  }
  env.PATH = `${env.PATH ?? ""}:/usr/sbin`;
  return env;
}

/** Starts `bun run <entry> ...args` as a child process; prefer `useProcesses().start`, which also cleans up. */
export function startCli(args: string[], options: StartOptions = {}): CliProcess {
  const entry = resolve(REPO, options.entry ?? "bin/flow.ts");
  const env: Record<string, string> = { ...cleanEnv(), CODEX_FLOW_LOG: "info" };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const child = Bun.spawn([...(options.wrap ?? []), process.execPath, "run", entry, ...args], {
    cwd: options.cwd ?? REPO,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const all: string[] = [];
  const waiters = new Set<Waiter>();
  const onLine = (into: string[], line: string) => {
    into.push(line);
    all.push(line);
    for (const waiter of waiters) if (waiter.test(line)) waiter.resolve(line);
  };
  const pump = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const bytes of stream) {
      const parts = (rest + decoder.decode(bytes, { stream: true })).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) onLine(into, line);
    }
    if (rest) onLine(into, rest);
  };
  const drained = Promise.all([pump(child.stdout, stdout), pump(child.stderr, stderr)]).catch(() => undefined);
  const describe = () =>
    `\`bun run ${options.entry ?? "bin/flow.ts"} ${args.join(" ")}\` (pid ${child.pid}) printed:\n${all.join("\n") || "(nothing)"}`;

  return {
    pid: child.pid,
    child,
    stdout,
    stderr,
    output: () => all.join("\n"),
    async waitForLine(pattern, timeoutMs = 15_000) {
      const test =
        typeof pattern === "string" ? (line: string) => line.includes(pattern) : (line: string) => pattern.test(line);
      const seen = all.find(test);
      if (seen !== undefined) return seen;
      let waiter: Waiter | undefined;
      let timer: Timer | undefined;
      try {
        return await new Promise<string>((resolveLine, reject) => {
          waiter = { test, resolve: resolveLine };
          waiters.add(waiter);
          timer = setTimeout(
            () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; ${describe()}`)),
            timeoutMs,
          );
          // Output can still arrive after the exit is noticed, so look once more when the streams end.
          void child.exited
            .then(() => drained)
            .then(() => {
              const late = all.find(test);
              if (late !== undefined) resolveLine(late);
              else
                reject(
                  new Error(
                    `exited with code ${child.exitCode} before printing a line matching ${pattern}; ${describe()}`,
                  ),
                );
            });
        });
      } finally {
        if (waiter) waiters.delete(waiter);
        clearTimeout(timer);
      }
    },
    signal(signal) {
      child.kill(signal);
    },
    async exit(timeoutMs = 15_000) {
      let timer: Timer | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms; ${describe()}`)), timeoutMs);
      });
      try {
        const code = await Promise.race([child.exited, timeout]);
        await drained;
        return code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export type CliResult = { code: number; stdout: string; stderr: string };

/**
 * For a test file: `start` launches a long-running CLI process, `run` a command that
 * ends by itself (bounded). Whatever is still running in afterAll is killed (SIGKILL after
 * a short SIGTERM grace), so a failing test leaves no process behind.
 */
export function useProcesses() {
  const started: CliProcess[] = [];
  const extra: (() => Promise<unknown> | unknown)[] = [];
  const stopAll = async () => {
    await Promise.all(
      started.map(async (proc) => {
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
        proc.signal("SIGTERM");
        await proc.exit(3_000).catch(() => {
          proc.signal("SIGKILL");
          return proc.child.exited;
        });
      }),
    );
    for (const fn of extra.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
  };
  afterAll(stopAll);
  return {
    start(args: string[], options: StartOptions = {}): CliProcess {
      const proc = startCli(args, options);
      started.push(proc);
      return proc;
    },
    async run(args: string[], options: StartOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
      const proc = startCli(args, options);
      started.push(proc);
      const code = await proc.exit(options.timeoutMs ?? 20_000);
      return { code, stdout: proc.stdout.join("\n"), stderr: proc.stderr.join("\n") };
    },
    /** Stops every process still running (SIGTERM, then SIGKILL after 3 s), then runs the registered cleanups; idempotent. */
    stopAll,
    /** Registers cleanup that runs after every started process is gone (e.g. an orphan check). */
    cleanup(fn: () => Promise<unknown> | unknown): void {
      extra.push(fn);
    },
  };
}

let deployments = 0;

/**
 * The environment of one deployment of the services: its own stream, subject prefix, data
 * directory and ingress port (so tests sharing a nats-server never see each other), a host
 * id, and the given NATS_URL. `extra` wins; an `undefined` in it removes a variable.
 */
export async function serviceEnv(
  natsUrl: string | undefined,
  extra: Record<string, string | undefined> = {},
): Promise<Record<string, string | undefined>> {
  const id = `${process.pid}x${++deployments}`;
  return {
    NATS_URL: natsUrl,
    CODEX_FLOW_STREAM: `E2E${id}`,
    CODEX_FLOW_SUBJECT_PREFIX: `e2e${id}`,
    CODEX_FLOW_BACKEND_DATA_DIR: tempDir("codex-flows-e2e-data-"),
    CODEX_FLOW_BACKEND_PORT: String(await freePort()),
    CODEX_FLOW_HOST_ID: "e2e-host",
    ...extra,
  };
}

/** Waits for a service process to log that its HTTP API listens, and returns the URL. */
export async function ingressUrlOf(proc: CliProcess, timeoutMs = 15_000): Promise<string> {
  const line = await proc.waitForLine(/ info listening on http:\/\/\S+/, timeoutMs);
  return line.match(/http:\/\/\S+/)![0];
}
