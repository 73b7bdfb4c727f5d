import { msgIds } from "./ids.ts";
import type { FlowMessage } from "./messages.ts";
import type { Subjects } from "./subjects.ts";

/** Where a message is published and the id JetStream dedups it by. */
export type Address = { subject: string; msgID: string };

/**
 * The subject and message id of every kind of message, in one place: a writer publishes
 * a message and this says where. `after` is the one fact some ids need that the message
 * does not carry: for `run.cancel` the attempt it cancels (0 before any), for
 * `flow.paused` the sequence of the last pause or resume it follows (0 for none).
 */
export function addressOf(subjects: Subjects, message: FlowMessage, after = 0): Address {
  switch (message.kind) {
    case "event.accepted":
      return {
        subject: subjects.event(message.event.type),
        msgID: msgIds.event(message.event.id, message.replay?.generation ?? 0),
      };
    case "event.matched":
      return { subject: subjects.matched(message.eventId), msgID: msgIds.matched(message.eventId, message.generation) };
    case "run.step":
      return {
        subject: subjects.command(message.queue),
        msgID: msgIds.command(message.runId, (message.attemptBase ?? 0) + 1),
      };
    case "run.started":
      return {
        subject: subjects.run(message.runId, "started"),
        msgID: msgIds.lifecycle(message.runId, message.attempt, "started"),
      };
    case "run.finished":
      return {
        subject: subjects.run(message.runId, "finished"),
        msgID: msgIds.lifecycle(message.runId, message.attempt, "finished"),
      };
    case "run.released":
      return {
        subject: subjects.run(message.runId, "released"),
        msgID: msgIds.lifecycle(message.runId, message.attempt, "released"),
      };
    case "run.output":
      return {
        subject: subjects.run(message.runId, "output"),
        msgID: msgIds.output(message.runId, message.attempt, message.chunk),
      };
    case "run.cancel":
      return { subject: subjects.run(message.runId, "cancel"), msgID: msgIds.cancel(message.runId, after) };
    case "run.superseded":
      return { subject: subjects.run(message.runId, "superseded"), msgID: msgIds.superseded(message.runId) };
    case "run.held": {
      // Held for its flow's pause (`pause` is the flow) or for its step's (`<flow>/<step>`).
      const step = message.pause === message.command.flow ? undefined : message.command.step;
      return {
        subject: subjects.held(message.command.flow, step),
        msgID: msgIds.held(message.runId, message.pausedSeq),
      };
    }
    case "run.deferred":
      return {
        subject: subjects.debounce(message.command.flow, message.command.step, message.key),
        msgID: msgIds.deferred(message.runId),
      };
    case "flow.paused":
      return {
        subject: subjects.control(message.flow, message.step),
        msgID: msgIds.control(message.kind, message.flow, message.step, after),
      };
    case "flow.resumed":
      return {
        subject: subjects.control(message.flow, message.step),
        msgID: msgIds.control(message.kind, message.flow, message.step, message.pausedSeq),
      };
    case "schedule.ticked":
      return {
        subject: subjects.schedule(message.flow, message.schedule),
        msgID: msgIds.tick(message.flow, message.schedule, message.tick),
      };
    case "runs.purge":
      return { subject: subjects.purge(message.purgeId), msgID: msgIds.purge(message.purgeId, message.round) };
    case "run.approval_requested":
      return {
        subject: subjects.run(message.runId, "approval"),
        msgID: msgIds.approval(message.runId, message.attempt, "requested"),
      };
    case "run.approval_decided":
      return {
        subject: subjects.run(message.runId, "approval"),
        msgID: msgIds.approval(message.runId, message.attempt, "decided"),
      };
    case "operator.acted":
      return { subject: subjects.audit(message.action), msgID: msgIds.acted(message.actionId) };
  }
}
