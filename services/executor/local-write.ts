/**
 * A write to one of this host's own files that failed before a step could start: the
 * disk is full (ENOSPC), read-only (EROFS), out of inodes or failing (EIO). The step has
 * not run, so it is no failure of the step's and no lost attempt: the attempt records
 * this error as itself and the run is retried with backoff (services/executor/attempt.ts).
 */
export class LocalWriteError extends Error {
  constructor(
    readonly path: string,
    what: string,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException).code;
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`cannot write ${what} ${path}: ${code && !detail.startsWith(code) ? `${code}: ` : ""}${detail}`, { cause });
  }
}

/** What the attempt's record says: the error, that the step did not run, and when it is tried again. */
export function localWriteReason(error: LocalWriteError, hostId: string, retryInMs: number): string {
  return `not started on ${hostId}: ${error.message}; tried again in ${Math.round(retryInMs / 1000)} s (free space or fix the file system under the data directory)`;
}
