import { bodyBytes, checkFits } from "../../lib/nats/payload.ts";
import { resultTooLarge } from "../../lib/protocol/flow-result.ts";
import { type EventAccepted, encodeMessage, type RunFinished } from "../../lib/protocol/messages.ts";
import { tailOf } from "../../lib/runners/capture.ts";
import type { StepOutcome } from "../../lib/runners/types.ts";

/** The longest error a finished record carries (characters). */
const ERROR_MAX = 4096;

/** Room the rest of a finished record needs besides its result: ids, times, a bounded error, no tails. */
function recordRoom(limit: number): number {
  return Math.min(ERROR_MAX * 2, Math.floor(limit / 4));
}

/**
 * An outcome whose FLOW_RESULT cannot travel in a finished record under `limit` bytes
 * becomes a failure that says so, `FLOW_RESULT too large (N bytes, limit M)`, without
 * the result (and so without its `next` events). Any other outcome is returned as is.
 */
export function withResultThatFits(outcome: StepOutcome, limit: number): StepOutcome {
  if (!outcome.result) return outcome;
  const bytes = bodyBytes(JSON.stringify(outcome.result));
  const room = limit - recordRoom(limit);
  if (bytes <= room) return outcome;
  const { result: _dropped, ...rest } = outcome;
  return { ...rest, status: "failed", error: [resultTooLarge(bytes, room), outcome.error].filter(Boolean).join("; ") };
}

/**
 * The finished record encoded to fit under `limit` bytes: a long error is shortened,
 * then both output tails are halved (and marked truncated) until it fits; the run keeps
 * its whole result, which withResultThatFits already bounded. Throws PayloadTooLarge
 * only when even that cannot fit (a limit far below any real server's).
 */
export function encodeFinished(finished: RunFinished, limit: number): string {
  let record =
    finished.error !== undefined && finished.error.length > ERROR_MAX
      ? { ...finished, error: `${finished.error.slice(0, ERROR_MAX)}…` }
      : finished;
  let body = encodeMessage(record);
  let cap = Math.max(bodyBytes(record.stdout), bodyBytes(record.stderr));
  while (bodyBytes(body) > limit && cap > 0) {
    cap = cap < 64 ? 0 : Math.floor(cap / 2);
    const stdout = tailOf(record.stdout, cap);
    const stderr = tailOf(record.stderr, cap);
    record = {
      ...record,
      stdout: stdout.text,
      stderr: stderr.text,
      stdoutTruncated: record.stdoutTruncated || stdout.truncated,
      stderrTruncated: record.stderrTruncated || stderr.truncated,
    };
    body = encodeMessage(record);
  }
  return checkFits(`the run.finished record of ${finished.runId}`, body, limit);
}

/** Splits chained events into those that fit a message under `limit` bytes and a problem for each that does not. */
export function eventsThatFit(events: EventAccepted[], limit: number): { events: EventAccepted[]; problems: string[] } {
  const problems: string[] = [];
  const fitting = events.filter((accepted) => {
    const bytes = bodyBytes(encodeMessage(accepted));
    if (bytes <= limit) return true;
    problems.push(
      `next event ${JSON.stringify(accepted.event.id)} not started: it is ${bytes} bytes with its envelope, over the limit of ${limit} (the NATS server's max_payload less headers)`,
    );
    return false;
  });
  return { events: fitting, problems };
}
