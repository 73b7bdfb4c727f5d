import { bodyBytes, HEADER_ALLOWANCE } from "../../lib/nats/payload.ts";
import { type EventMatched, encodeMessage, type RunDeferred, type RunStep } from "../../lib/protocol/messages.ts";
import type { Decision } from "./decide.ts";

/** The longest reason a decision keeps when the decision must be shortened to fit. */
const REASON_MAX = 300;

/** Bytes a command leaves free for the run.held / run.deferred envelope that carries it while its flow is paused or debounced. */
export const ENVELOPE_ALLOWANCE = 2048;

/** A command ready to publish, with its run.deferred message when its step is debounced; each encoded, under the limit. */
export type FittedCommand = { command: RunStep; body: string; deferred?: { message: RunDeferred; body: string } };
/** A decision ready to publish: each message encoded, all of them under the limit. */
export type FittedDecision = { matched: string; commands: FittedCommand[] };

/**
 * Sizes a decision against the most bytes one message may carry. A command that cannot
 * fit (an event that fit the ingress, plus the command's fields) starts no run: its step's
 * decision becomes "not started" with the sizes, so the event's decisions say why, once,
 * and nothing is retried. So does a debounced run whose run.deferred message
 * (`deferredOf`: the command and its debounce key) cannot fit. A match message that is
 * still too large keeps one short reason per step. Pure.
 */
export function fitDecision(
  decision: Decision,
  limit: number,
  deferredOf: (command: RunStep) => RunDeferred | undefined = () => undefined,
): FittedDecision {
  const commands: FittedCommand[] = [];
  const refused = new Map<string, string>();
  for (const command of decision.commands) {
    const body = encodeMessage(command);
    const bytes = bodyBytes(body);
    if (bytes + ENVELOPE_ALLOWANCE > limit) {
      refused.set(
        command.runId,
        `not started: its run.step command would be ${bytes} bytes, over the limit of ${limit - ENVELOPE_ALLOWANCE} (the NATS server's max_payload less ${HEADER_ALLOWANCE} for headers and ${ENVELOPE_ALLOWANCE} for the envelope of a paused or debounced run)`,
      );
      continue;
    }
    const message = deferredOf(command);
    if (!message) {
      commands.push({ command, body });
      continue;
    }
    const deferredBody = encodeMessage(message);
    const deferredBytes = bodyBytes(deferredBody);
    if (deferredBytes <= limit) commands.push({ command, body, deferred: { message, body: deferredBody } });
    else
      refused.set(
        command.runId,
        `not started: its run.deferred message (the run waiting out its debounce, with a debounce key of ${bodyBytes(message.key)} bytes) would be ${deferredBytes} bytes, over the limit of ${limit} (the NATS server's max_payload less ${HEADER_ALLOWANCE} for headers); choose a debounce_key that names a short field`,
      );
  }
  const decisions = decision.matched.decisions.map((d) => {
    const why = d.runId === undefined ? undefined : refused.get(d.runId);
    if (why === undefined) return d;
    const { runId: _runId, queue: _queue, ...rest } = d;
    return { ...rest, matched: false, reasons: [...d.reasons, why] };
  });
  let matched: EventMatched = { ...decision.matched, decisions };
  let body = encodeMessage(matched);
  if (bodyBytes(body) > limit) {
    matched = {
      ...matched,
      decisions: decisions.map((d) => ({
        ...d,
        reasons: d.reasons.slice(-1).map((r) => (r.length > REASON_MAX ? `${r.slice(0, REASON_MAX)}…` : r)),
      })),
    };
    body = encodeMessage(matched);
  }
  return { matched: body, commands };
}
