import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../../lib/log.ts";
import { type DurableLoop, runDurableLoop, whileWorking } from "../../lib/nats/consume.ts";
import { consumers } from "../../lib/protocol/consumers.ts";
import type { FlowPaused, FlowResumed } from "../../lib/protocol/messages.ts";
import { Slots } from "../../lib/slots.ts";
import { type DispatchDeps, releaseHeld } from "./dispatch.ts";

/**
 * Follows pauses and resumes on the shared `resumer` consumer: each resume queues the
 * runs held since its pause, in order (services/matcher/dispatch.ts). One at a time, so
 * two resumes never interleave their runs.
 */
export async function startResumer(deps: DispatchDeps & { ackWaitMs: number; log: Logger }): Promise<DurableLoop> {
  const { js, jsm, stream, subjects, log } = deps;
  const handle = async (control: FlowPaused | FlowResumed, message: JsMsg) => {
    if (control.kind !== "flow.resumed") return "ack" as const;
    // A long release keeps its lease, so no other matcher starts the same one meanwhile.
    const released = await whileWorking(message, deps.ackWaitMs, () =>
      releaseHeld(deps, control.flow, control.step, control.pausedSeq, message.seq),
    );
    log.info("resumed", { flow: control.flow, ...(control.step ? { step: control.step } : {}), released });
    return "ack" as const;
  };
  return await runDurableLoop({
    js,
    jsm,
    stream,
    consumer: consumers.resumer(subjects, deps),
    slots: new Slots(1),
    batch: 1,
    log,
    handle,
  });
}
