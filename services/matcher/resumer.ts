import type { JsMsg } from "@nats-io/jetstream";
import { type DurableLoop, runPullLoop, whileWorking } from "../../lib/nats/consume.ts";
import type { Logger } from "../../lib/log.ts";
import { decodeMessage } from "../../lib/protocol/messages.ts";
import { Slots } from "../../lib/slots.ts";
import { type DispatchDeps, releaseHeld } from "./dispatch.ts";

export const RESUMER_DURABLE = "resumer";

/**
 * Follows pauses and resumes on the shared `resumer` consumer: each resume queues the
 * runs held since its pause, in order (services/matcher/dispatch.ts). One at a time, so
 * two resumes never interleave their runs.
 */
export function startResumer(deps: DispatchDeps & { ackWaitMs: number; log: Logger }): DurableLoop {
  const { js, jsm, stream, subjects, log } = deps;
  const handle = async (message: JsMsg) => {
    const decoded = decodeMessage(message.data);
    if (!decoded.ok) {
      log.error("poison message on a control subject; terminated", { seq: message.seq, error: decoded.error });
      return { term: decoded.error };
    }
    const control = decoded.message;
    if (control.kind !== "flow.resumed") return "ack" as const;
    // A long release keeps its lease, so no other matcher starts the same one meanwhile.
    const released = await whileWorking(message, deps.ackWaitMs, () => releaseHeld(deps, control.flow, control.step, control.pausedSeq, message.seq));
    log.info("resumed", { flow: control.flow, ...(control.step ? { step: control.step } : {}), released });
    return "ack" as const;
  };
  return runPullLoop({ js, jsm, stream, spec: { durable: RESUMER_DURABLE, filterSubject: subjects.allControl, ackWaitMs: deps.ackWaitMs, maxAckPending: 1 }, slots: new Slots(1), batch: 1, log, handle });
}
