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
 * Nats-Msg-Id values, every one built here (lib/protocol/address.ts picks the one for a
 * message), so every writer dedups the same way. Each kind has its own prefix and user
 * text (an event id, a flow or schedule name) only ever comes last or between our own
 * fields, so no event id can produce another message's id: an event `X:replay:1` is
 * `event:X:replay:1`, the first replay of X is `replay:1:X`. The values are those of
 * every earlier version: a message written again after an upgrade is still a duplicate.
 */
export const msgIds = {
  event: (eventId: string, generation: number) =>
    generation === 0 ? `event:${eventId}` : `replay:${generation}:${eventId}`,
  matched: (eventId: string, generation: number) => `matched:${generation}:${eventId}`,
  /** A run's command for its attempt `attempt` (1 for a matched run, the next attempt for an operator's retry). */
  command: (runId: string, attempt: number) => `run:${runId}:${attempt}`,
  lifecycle: (runId: string, attempt: number, kind: "started" | "finished" | "released") =>
    `run:${runId}:${attempt}:${kind}`,
  output: (runId: string, attempt: number, chunk: number) => `run:${runId}:${attempt}:output:${chunk}`,
  /** A cancel of the run's attempt `attempt` (0: before any started, as the matcher's cancel of a superseded chain). */
  cancel: (runId: string, attempt: number) => `run:${runId}:cancel:${attempt}`,
  superseded: (runId: string) => `run:${runId}:superseded`,
  held: (runId: string, pausedSeq: number) => `held:${runId}:${pausedSeq}`,
  deferred: (runId: string) => `deferred:${runId}`,
  /** A pause or resume names the state it leaves (the control subject's last sequence), so two operators' identical requests make one message. */
  control: (kind: "flow.paused" | "flow.resumed", flow: string, step: string | undefined, lastSeq: number) =>
    `${kind}:${flow}:${step ?? ""}:${lastSeq}`,
  tick: (flow: string, schedule: string, tick: string) => `tick:${flow}:${schedule}:${tick}`,
  purge: (purgeId: string, round: number) => `purge:${round}:${purgeId}`,
  /** A run's approval request, and its one decision (any second decision, approve or reject, is a duplicate of the first). */
  approval: (runId: string, attempt: number, kind: "requested" | "decided") =>
    `run:${runId}:approval:${attempt}:${kind}`,
  /** An operator's action, by the action's own id (actionIdOf): a retried request that wrote the same messages is a duplicate. */
  acted: (actionId: string) => `acted:${actionId}`,
};

/**
 * The id of an operator action: a digest of the actor, the action and what identifies
 * it (its request summary and the message ids it wrote). The same request retried writes the same message ids (each deduplicated by
 * JetStream), so it gets the same id and its audit record is a duplicate too.
 */
export function actionIdOf(actor: string, action: string, parts: readonly string[]): string {
  return createHash("sha256")
    .update([actor, action, ...parts].join("\n"))
    .digest("hex")
    .slice(0, 32);
}
