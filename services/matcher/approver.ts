import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../../lib/log.ts";
import { type DurableLoop, runDurableLoop } from "../../lib/nats/consume.ts";
import { publisher } from "../../lib/nats/publish.ts";
import { consumers } from "../../lib/protocol/consumers.ts";
import { decodeMessage, type RunApprovalDecided, type RunApprovalRequested } from "../../lib/protocol/messages.ts";
import { Slots } from "../../lib/slots.ts";
import { canceled, type DispatchDeps, route } from "./dispatch.ts";

/** The most messages of one run's approval subject read to find a gate (a request and a decision per gate). */
export const MAX_APPROVAL_SCAN = 100;

/** What a run's approval subject says of one gate: its request and its first decision, with their sequences. */
type Gate = {
  request?: RunApprovalRequested;
  first?: { seq: number; decision: RunApprovalDecided };
};

/**
 * Follows approvals on the shared `approver` consumer. A request waits (handed back until
 * its expiry, JetStream's redelivery is the timer, so it survives restarts and passes
 * between hosts) until it is decided; if nobody decided by then, it publishes the
 * timeout's decision. A decision releases what its request held: an approved step gate's
 * command goes to its queue (through `route`, so a pause still holds it), an approved
 * result gate's `next` events are published (their ids are the ones the step's result
 * gave, so a repeat is a duplicate). Only the first decision of a gate acts (the stream
 * order decides, whatever the dedup window); a canceled run releases nothing.
 */
export async function startApprover(deps: DispatchDeps & { ackWaitMs: number; log: Logger }): Promise<DurableLoop> {
  const { js, jsm, stream, subjects, log } = deps;
  const publish = publisher(deps);

  const handle = async (message: RunApprovalRequested | RunApprovalDecided, delivery: JsMsg) => {
    const gate = await gateOf(deps, message.runId, message.attempt);
    if (message.kind === "run.approval_requested") {
      if (gate.first) return "ack" as const;
      const wait = Date.parse(message.expiresAt) - Date.now();
      if (wait > 0) return { nak: wait };
      const expired: RunApprovalDecided = {
        v: 1,
        kind: "run.approval_decided",
        runId: message.runId,
        attempt: message.attempt,
        decision: message.onTimeout,
        by: "timeout",
        comment: `no decision by ${message.expiresAt}`,
        decidedAt: new Date().toISOString(),
        expired: true,
      };
      await publish(expired);
      log.info("approval expired", { runId: message.runId, decision: message.onTimeout });
      return "ack" as const;
    }
    if (gate.first?.seq !== delivery.seq || !gate.request) return "ack" as const;
    if (message.decision === "reject" || (await canceled(deps, message.runId))) return "ack" as const;
    const { request } = gate;
    if (request.gate === "step" && request.command) await route(deps, request.command);
    for (const accepted of request.next ?? []) await publish(accepted);
    log.info("approved run released", { runId: message.runId, gate: request.gate, by: message.by });
    return "ack" as const;
  };

  return await runDurableLoop({
    js,
    jsm,
    stream,
    consumer: consumers.approver(subjects, deps),
    slots: new Slots(16),
    batch: 16,
    log,
    handle,
  });
}

/** One gate of a run, read from its approval subject in stream order (bounded by MAX_APPROVAL_SCAN). */
export async function gateOf(deps: DispatchDeps, runId: string, attempt: number): Promise<Gate> {
  const subject = deps.subjects.run(runId, "approval");
  const gate: Gate = {};
  let cursor = 1;
  for (let read = 0; read < MAX_APPROVAL_SCAN; read++) {
    const stored = await deps.jsm.direct.getMessage(deps.stream, { seq: cursor, next_by_subj: subject });
    if (!stored) break;
    cursor = stored.seq + 1;
    const decoded = decodeMessage(stored.data);
    const found = decoded.ok ? decoded.message : undefined;
    if (found?.kind === "run.approval_requested" && found.attempt === attempt) gate.request ??= found;
    else if (found?.kind === "run.approval_decided" && found.attempt === attempt)
      gate.first ??= { seq: stored.seq, decision: found };
  }
  return gate;
}
