import { createHash } from "node:crypto";

/**
 * The run id for one step of one event in one match generation. Deterministic, so a
 * matcher that handles the same event twice (redelivery, a second matcher) produces the
 * same ids and JetStream dedup plus the idempotent projector drop the repeats.
 */
export function runIdFor(eventId: string, generation: number, flow: string, step: string): string {
  const digest = createHash("sha256").update(`${eventId}\n${generation}\n${flow}\n${step}`).digest("hex");
  return `run-${digest.slice(0, 24)}`;
}

/**
 * Nats-Msg-Id values: one place, so every writer dedups the same way. Each kind has its
 * own prefix and user text (an event id) only ever comes last, so no event id can
 * produce another message's id: an event `X:replay:1` is `event:X:replay:1`, the first
 * replay of X is `replay:1:X`.
 */
export const msgIds = {
  event: (eventId: string, generation: number) => (generation === 0 ? `event:${eventId}` : `replay:${generation}:${eventId}`),
  matched: (eventId: string, generation: number) => `matched:${generation}:${eventId}`,
  command: (runId: string, attempt: number) => `run:${runId}:${attempt}`,
  lifecycle: (runId: string, attempt: number, kind: string) => `run:${runId}:${attempt}:${kind}`,
  purge: (purgeId: string, round: number) => `purge:${round}:${purgeId}`,
};
