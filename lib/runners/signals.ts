import { existsSync } from "node:fs";
import { resolve } from "node:path";

/** Where a program is (a path, or a name looked up on PATH); undefined when it is not there. */
export function resolveProgram(name: string, path: string | undefined): string | undefined {
  if (name === "") return undefined;
  if (name.includes("/")) return existsSync(name) ? resolve(name) : undefined;
  return Bun.which(name, { PATH: path ?? "" }) ?? undefined;
}

/** Signals the whole process group led by `pid`; a group that is already gone is fine. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  signalProcess(-pid, signal);
}

export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
