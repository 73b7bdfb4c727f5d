import type { ReadModel } from "../../lib/read-model/database.ts";
import { readCheckpoint } from "../../lib/read-model/database.ts";
import type { Changes } from "./changes.ts";
import type { IngressDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";

/**
 * Waits (bounded) until the read model has applied stream sequence `seq`, so an answer
 * after a write shows that write. Returns whether it got there.
 */
export async function waitForSeq(db: ReadModel, seq: number, timeoutMs: number, changes: Changes): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const watch = changes.watch();
  try {
    for (;;) {
      if ((await readCheckpoint(db)) >= seq) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await watch.next(Math.min(left, 1_000));
    }
  } finally {
    watch.close();
  }
}

/**
 * `?after=SEQ` on a read: answer only once the read model has applied stream sequence
 * SEQ (the `seq` a write answered with), or 503 when it does not within the wait bound.
 */
export async function readAfter(
  deps: Pick<IngressDeps, "db" | "waitTimeoutMs" | "changes" | "lastSeq">,
  after: string | undefined,
): Promise<void> {
  if (after === undefined || after === "") return;
  const seq = Number(after);
  if (!/^\d{1,15}$/.test(after))
    throw new HttpError(
      400,
      `after=${JSON.stringify(after)} is invalid: expected a stream sequence (the seq a write answered with)`,
    );
  // A sequence the stream has not reached could only time out: say so at once.
  const last = await deps.lastSeq(seq);
  if (last !== null && seq > last)
    throw new HttpError(
      400,
      `after=${seq} is beyond the stream's last sequence ${last}: pass the seq a write answered with`,
    );
  if (!(await waitForSeq(deps.db, seq, deps.waitTimeoutMs, deps.changes))) {
    throw new HttpError(
      503,
      `the read model has not applied sequence ${seq} within ${deps.waitTimeoutMs} ms; retry later`,
    );
  }
}
