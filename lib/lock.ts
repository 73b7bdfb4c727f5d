import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { HintError } from "./hint.ts";

type Holder = { pid: number; host: string; command: string; since: string };

/** A held lock: `release` removes the file (also done at exit). */
export type DataDirLock = { path: string; release(): void };

/**
 * One process per data directory and role (`dev`, `projector`, `executor`): creates
 * `<dir>/<role>.lock` naming the holder. A lock whose holder is gone (same host, pid
 * not alive) is taken over; a live one is a HintError that names the holder.
 */
export function lockDataDir(dir: string, role: string, command: string): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${role}.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${JSON.stringify(me)}\n`);
      closeSync(fd);
      const release = () => {
        if (readHolder(path)?.pid === process.pid) unlinkSync(path);
        process.off("exit", release);
      };
      process.on("exit", release);
      return { path, release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(path);
    // Services started twice in one process (tests, `flow dev` after a restart of one) share its lock.
    if (holder?.pid === process.pid && holder.host === me.host) return { path, release() {} };
    if (holder && (holder.host !== me.host || alive(holder.pid))) {
      throw new HintError(`${dir} is in use by pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.since}): stop it first, or use another data directory (CODEX_FLOW_BACKEND_DATA_DIR)`);
    }
    // The holder died without cleaning up: take the lock over.
    try {
      unlinkSync(path);
    } catch {
      // Someone else took it over first; the next try sees theirs.
    }
  }
  throw new HintError(`could not take ${path}: remove it if no codex-flows process uses ${dir}`);
}

function readHolder(path: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Holder;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
