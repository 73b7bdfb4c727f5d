import type { ReadModel } from "../../lib/read-model/database.ts";
import type { IngressDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { readCheckpoint } from "../projector/store.ts";
import type { AppliedSignal } from "./events/wait.ts";

/**
 * Waits (bounded) until the read model has applied stream sequence `seq`, so an answer
 * after a write shows that write. Wakes on the in-process projector's signal, and polls
 * the checkpoint otherwise. Returns whether it got there.
 */
export async function waitForSeq(db: ReadModel, seq: number, timeoutMs: number, applied?: AppliedSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await readCheckpoint(db)) >= seq) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await nextChange(Math.min(left, applied ? 250 : 20), applied);
  }
}

/** Resolves on the projector's next commit (when it shares the process) or after `ms`. */
export function nextChange(ms: number, applied?: AppliedSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    const off = applied?.(finish);
    function finish() {
      clearTimeout(timer);
      off?.();
      resolve();
    }
  });
}

/**
 * `?after=SEQ` on a read: answer only once the read model has applied stream sequence
 * SEQ (the `seq` a write answered with), or 503 when it does not within the wait bound.
 */
export async function readAfter(deps: Pick<IngressDeps, "db" | "waitTimeoutMs" | "applied">, after: string | undefined): Promise<void> {
  if (after === undefined || after === "") return;
  const seq = Number(after);
  if (!/^\d+$/.test(after)) throw new HttpError(400, `after=${JSON.stringify(after)} is invalid: expected a stream sequence (the seq a write answered with)`);
  if (!(await waitForSeq(deps.db, seq, deps.waitTimeoutMs, deps.applied))) {
    throw new HttpError(503, `the read model has not applied sequence ${seq} within ${deps.waitTimeoutMs} ms; retry later`);
  }
}
