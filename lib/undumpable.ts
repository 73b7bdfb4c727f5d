import { dlopen, FFIType } from "bun:ffi";

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
  if (process.platform !== "linux") return `not on Linux (${process.platform}): other processes of this user can read this one's environment`;
  try {
    const libc = dlopen("libc.so.6", { prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
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
