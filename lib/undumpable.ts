import { dlopen, FFIType } from "bun:ffi";
import { readFileSync } from "node:fs";
import type { Logger } from "./log.ts";
import { looksSecret, SYSTEM_SECRET_ENV } from "./runners/step-env.ts";

/** NATS connection credentials whose names do not look secret by themselves (NATS_PASSWORD, NATS_TOKEN, NATS_CREDS do). */
const NATS_CREDENTIALS = ["NATS_USER", "NATS_NKEY"];

const PR_SET_DUMPABLE = 4;

/**
 * Marks this process not dumpable (prctl PR_SET_DUMPABLE 0): Linux then lets no process
 * without CAP_SYS_PTRACE read its /proc/PID/environ, mem or maps, or attach to it, even
 * one of the same user. So a step, which runs as the executor's user, cannot read the
 * secrets the executor was started with from `/proc/$PPID/environ` or its memory. A
 * step's own exec makes it dumpable again, so this reaches no step. Root still reads
 * everything (docs/security.md). Returns why it could not, or undefined once done.
 */
export function makeUndumpable(): string | undefined {
  if (process.platform !== "linux")
    return `not on Linux (${process.platform}): other processes of this user can read this one's environment`;
  try {
    const libc = dlopen("libc.so.6", {
      prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
    });
    try {
      if (libc.symbols.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0) return "prctl(PR_SET_DUMPABLE, 0) failed";
    } finally {
      libc.close();
    }
  } catch (error) {
    return `prctl(PR_SET_DUMPABLE, 0) could not be called: ${(error as Error).message}`;
  }
  return undefined;
}

/**
 * For a process that starts steps or holds the secrets: steps run as our user and must
 * read neither our environment nor our memory through /proc (makeUndumpable), and an
 * ancestor that holds our secrets in its environment is named in a warning.
 */
export function hideFromSteps(log: Logger): void {
  const problem = makeUndumpable();
  if (problem !== undefined)
    log.warn(`${problem}: a step could read the secrets this process was started with (docs/security.md)`);
  // Steps get no NATS_* variable at all, but only credentials are worth a warning: not NATS_SERVER_BIN, nor a NATS_URL without `user:password@`.
  const secret = (name: string, value: string) =>
    SYSTEM_SECRET_ENV.includes(name) ||
    looksSecret(name) ||
    NATS_CREDENTIALS.includes(name) ||
    (name === "NATS_URL" && value.includes("@"));
  const secrets = Object.entries(process.env).flatMap(([name, value]) =>
    value && secret(name, value) ? [`${name}=${value}`] : [],
  );
  for (const ancestor of ancestorsHolding(secrets)) {
    log.warn(
      `process ${ancestor.pid} (${ancestor.command}), which started this one, holds ${ancestor.names.join(", ")} in its environment, where steps (they run as this user) can read them: start the service without it, e.g. \`bun bin/flow.ts ...\` rather than \`bun run flow ...\` (docs/security.md)`,
    );
  }
}

/** How far up the process tree ancestorsHolding looks (a service is rarely more than a few levels below init). */
const MAX_ANCESTORS = 32;

/**
 * This process's ancestors whose environment (the one they were started with, as
 * /proc/PID/environ shows it to every process of their user) holds one of `entries`
 * (`NAME=value`): a `bun run` wrapper or a shell that passed the secrets on. Making
 * ourselves non-dumpable cannot hide them from a step; the operator can only start the
 * service another way. Ancestors of another user, or gone, are skipped.
 */
export function ancestorsHolding(entries: readonly string[]): { pid: number; command: string; names: string[] }[] {
  const found: { pid: number; command: string; names: string[] }[] = [];
  if (entries.length === 0) return found;
  let pid = process.ppid;
  for (let depth = 0; depth < MAX_ANCESTORS && pid > 1; depth++) {
    const environ = readProc(pid, "environ")?.split("\0");
    const held = environ ? entries.filter((entry) => environ.includes(entry)) : [];
    if (held.length > 0)
      found.push({
        pid,
        command: (readProc(pid, "cmdline") ?? "").replaceAll("\0", " ").trim(),
        names: held.map((entry) => entry.slice(0, entry.indexOf("="))),
      });
    const parent = Number(/^PPid:\s+(\d+)$/m.exec(readProc(pid, "status") ?? "")?.[1]);
    if (!Number.isSafeInteger(parent)) break;
    pid = parent;
  }
  return found;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "latin1");
  } catch {
    return undefined;
  }
}
