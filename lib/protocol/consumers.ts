import { isGroupQueue } from "../flows/step-policy.ts";
import type { FlowMessage } from "./messages.ts";
import type { Subjects } from "./subjects.ts";

export type Kind = FlowMessage["kind"];
/** The message of one kind (or of one of several). */
export type MessageOf<K extends Kind> = Extract<FlowMessage, { kind: K }>;

/**
 * One shared durable pull consumer of the stream: its name, the subjects it reads, the
 * kinds of message it handles (anything else there is poison), and its settings.
 */
export type ConsumerDef<K extends Kind = Kind> = {
  durable: string;
  filterSubject: string;
  kinds: readonly K[];
  ackWaitMs: number;
  maxDeliver?: number;
  maxAckPending?: number;
};

/** The settings a consumer takes from the configuration. */
type Settings = { ackWaitMs: number; maxDeliver?: number };

export const MATCHER_DURABLE = "matcher";
export const DEBOUNCER_DURABLE = "debouncer";
export const RESUMER_DURABLE = "resumer";
export const APPROVER_DURABLE = "approver";

/** The durable consumer shared by every executor that serves a queue (the ingress reads its backlog). */
export function executorDurable(queue: string): string {
  return `executor-${queue}`;
}

/**
 * Every durable consumer of the stream, in one place (docs/architecture.md lists them):
 * who reads which subjects, and which kinds of message.
 */
export const consumers = {
  /** Accepted events, matched against the flows: a bounded number of deliveries per event (the give-up path records the rest). */
  matcher: (subjects: Subjects, settings: Settings): ConsumerDef<"event.accepted"> => ({
    durable: MATCHER_DURABLE,
    filterSubject: subjects.allEvents,
    kinds: ["event.accepted"],
    ackWaitMs: settings.ackWaitMs,
    ...(settings.maxDeliver !== undefined ? { maxDeliver: settings.maxDeliver } : {}),
  }),
  /** Debounced runs, each waiting until it is due or superseded. */
  debouncer: (subjects: Subjects, settings: Settings): ConsumerDef<"run.deferred"> => ({
    durable: DEBOUNCER_DURABLE,
    filterSubject: subjects.allDebounce,
    kinds: ["run.deferred"],
    ackWaitMs: settings.ackWaitMs,
  }),
  /** Pauses and resumes, one at a time in stream order: a resume releases the runs held for its pause. */
  resumer: (subjects: Subjects, settings: Settings): ConsumerDef<"flow.paused" | "flow.resumed"> => ({
    durable: RESUMER_DURABLE,
    filterSubject: subjects.allControl,
    kinds: ["flow.paused", "flow.resumed"],
    ackWaitMs: settings.ackWaitMs,
    maxAckPending: 1,
  }),
  /**
   * Approval requests and decisions: a request waits (redelivered) until it is decided or
   * expires; a decision releases what its request held. Many runs may wait at once.
   */
  approver: (
    subjects: Subjects,
    settings: Settings,
  ): ConsumerDef<"run.approval_requested" | "run.approval_decided"> => ({
    durable: APPROVER_DURABLE,
    filterSubject: subjects.allApprovals,
    kinds: ["run.approval_requested", "run.approval_decided"],
    ackWaitMs: settings.ackWaitMs,
    maxAckPending: 10_000,
  }),
  /** One queue's run commands, shared by every executor that serves it; a concurrency group's never overlap. */
  executor: (subjects: Subjects, queue: string, settings: Settings): ConsumerDef<"run.step"> => ({
    durable: executorDurable(queue),
    filterSubject: subjects.command(queue),
    kinds: ["run.step"],
    ackWaitMs: settings.ackWaitMs,
    ...(settings.maxDeliver !== undefined ? { maxDeliver: settings.maxDeliver } : {}),
    ...(isGroupQueue(queue) ? { maxAckPending: 1 } : {}),
  }),
};
