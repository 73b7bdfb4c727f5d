/**
 * The child processes of one bench run. Every child is registered, so `stopAll` (run.ts
 * calls it in `finally` and on SIGINT/SIGTERM) stops each one by its own pid: SIGTERM,
 * then SIGKILL after a grace. Servers log to files under bench/results/logs/.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const RESULTS_DIR = join(import.meta.dir, "results");
export const LOG_DIR = join(RESULTS_DIR, "logs");

export type Child = { name: string; proc: Subprocess; logFile?: string; stop(): Promise<void> };

const children = new Set<Child>();

/** Starts a long-running child whose stdout and stderr go to `<LOG_DIR>/<name>.log`. */
export function startServer(name: string, cmd: string[], env: Record<string, string | undefined>, cwd?: string): Child {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${name}.log`);
  const proc = Bun.spawn(cmd, {
    env: clean(env),
    cwd,
    stdin: "ignore",
    stdout: Bun.file(logFile),
    stderr: Bun.file(logFile),
  });
  return register(name, proc, logFile);
}

/** Runs a child to its end and parses the JSON it prints on stdout (stderr passes through). */
export async function runJson<T>(
  name: string,
  cmd: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<T> {
  const proc = Bun.spawn(cmd, { env: clean(env), stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const child = register(name, proc);
  try {
    const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    if (code !== 0) throw new Error(`${name} exited with code ${code}`);
    return JSON.parse(text) as T;
  } finally {
    children.delete(child);
  }
}

/** Polls `url` until it answers 200; fails early when the child exits, naming its log. */
export async function waitHealthy(child: Child, url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null)
      throw new Error(`${child.name} exited (code ${child.proc.exitCode}) before it was ready; see ${child.logFile}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs} ms; see ${child.logFile}`);
}

/** CPU time (user + system, ms) a process has used so far, from /proc; undefined where there is none. */
export function cpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

/** Stops every registered child, newest first. */
export async function stopAll(): Promise<void> {
  for (const child of [...children].reverse()) await child.stop();
}

function register(name: string, proc: Subprocess, logFile?: string): Child {
  const child: Child = {
    name,
    proc,
    logFile,
    async stop() {
      children.delete(child);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(15_000).then(() => false)]);
      if (!exited) {
        console.error(`bench: ${name} (pid ${proc.pid}) ignored SIGTERM for 15 s; killing it`);
        proc.kill("SIGKILL");
        await proc.exited;
      }
    },
  };
  children.add(child);
  return child;
}

function clean(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
