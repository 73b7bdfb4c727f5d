import { dlopen, FFIType, read, suffix } from "bun:ffi";
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { hostname, constants as os } from "node:os";
import { join } from "node:path";
import { HintError } from "./hint.ts";

type Holder = { pid: number; host: string; command: string; since: string };

/** A held lock: `release` removes the file and lets go (also done at exit; the kernel lets go when the holder dies). */
export type DataDirLock = { path: string; release(): void };

/** A lock another process holds: `who` names it (pid, host, command, since when). */
export class LockHeldError extends HintError {
  constructor(
    message: string,
    readonly who: string,
  ) {
    super(message);
  }
}

const LOCK_EX = 2;
const LOCK_NB = 4;
/** flock's answers that mean it cannot lock this file at all (anything else under LOCK_NB: someone holds it). */
const UNLOCKABLE = new Set([os.errno.EBADF, os.errno.EINVAL, os.errno.ENOLCK, os.errno.EOPNOTSUPP]);

/** libc's flock(2): Bun's API has none. Loaded on first use. */
let libc: { flock(fd: number, operation: number): number; errno(): number } | undefined;
function flock(): NonNullable<typeof libc> {
  if (!libc) {
    const { symbols } = dlopen(process.platform === "linux" ? "libc.so.6" : `libc.${suffix}`, {
      flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      [process.platform === "linux" ? "__errno_location" : "__error"]: { args: [], returns: FFIType.ptr },
    });
    const where = (symbols.__errno_location ?? symbols.__error)!;
    libc = {
      flock: (fd, operation) => symbols.flock(fd, operation) as number,
      errno: () => read.i32(where() as never),
    };
  }
  return libc;
}

/**
 * One process per data directory and role (`dev`, `projector`, `executor`): an exclusive
 * flock(2) on `<dir>/<role>.lock`, which names the holder. Taking it is one atomic step
 * of the kernel's, and the kernel lets go when the holder dies however it dies, so a
 * stale lock is no race: exactly one of several contenders gets it. A lock held by
 * another process is a LockHeldError that names the holder's pid. Threads of the holding
 * process share its lock.
 */
export function lockDataDir(dir: string, role: string, command: string): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${role}.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
  // Bounded: each pass either takes the lock, is refused, or saw the file replaced by a release.
  for (let tries = 0; tries < 20; tries++) {
    // Bun opens files close-on-exec: steps and the guard shell never inherit the lock.
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    if (flock().flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const errno = flock().errno();
      closeSync(fd);
      if (UNLOCKABLE.has(errno))
        throw new Error(`cannot lock ${path}: flock(2) failed with errno ${errno} (a file system without locks?)`);
      const holder = holderOf(path);
      // Services started twice in one process (worker threads, tests) share its lock.
      if (holder?.pid === process.pid && holder.host === me.host) return { path, release() {} };
      const who = holder
        ? `pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.since})`
        : "another process";
      throw new LockHeldError(
        `${dir} is in use by ${who}: stop it first, or use another data directory (CODEX_FLOW_BACKEND_DATA_DIR)`,
        who,
      );
    }
    // A holder that released between our open and our flock removed the file we locked: lock the new one.
    if (!sameFile(fd, path)) {
      closeSync(fd);
      continue;
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(me)}\n`, 0);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      process.off("exit", release);
      // Removed while still locked, so no contender can lock this file after we let go
      // (unless it is gone or another file already: a removed data directory).
      if (sameFile(fd, path)) unlinkSync(path);
      closeSync(fd);
    };
    process.on("exit", release);
    return { path, release };
  }
  throw new HintError(`could not take ${path}: remove it if no codex-flows process uses ${dir}`);
}

function sameFile(fd: number, path: string): boolean {
  try {
    return fstatSync(fd).ino === statSync(path).ino;
  } catch {
    return false;
  }
}

/**
 * The holder a locked file names. It writes its name just after it takes the lock: a file
 * still empty, or still naming a dead holder, is read again for a moment (bounded) so
 * the refusal can name the live one.
 */
function holderOf(path: string): Holder | undefined {
  for (let tries = 0; tries < 50; tries++) {
    try {
      const text = readFileSync(path, "utf8");
      const holder = text.endsWith("\n") ? (JSON.parse(text) as Holder) : undefined;
      if (holder && (holder.host !== hostname() || alive(holder.pid))) return holder;
    } catch {
      // Not written yet, or gone: look again.
    }
    Bun.sleepSync(2);
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
