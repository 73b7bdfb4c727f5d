import { createHash } from "node:crypto";

/** The default subject prefix: the stream `FLOWS` holds `flows.>`. */
export const DEFAULT_SUBJECT_PREFIX = "flows";

/** The lifecycle kinds a run publishes under `<prefix>.runs.<runId>.<kind>`. */
export type RunSubjectKind = "started" | "output" | "finished" | "cancel" | "released" | "superseded" | "approval";

/**
 * Every subject the system writes, built from one prefix. User data never reaches a
 * subject unchecked: event types are validated by EVENT_TYPE_PATTERN (no wildcards, no
 * whitespace, no empty tokens), event ids are hashed, run ids are our own hex tokens,
 * and queue names are checked by `queueToken`.
 */
export type Subjects = ReturnType<typeof subjects>;

/** Builds the subject set for one prefix (tests use a fresh prefix per stream). */
export function subjects(prefix: string = DEFAULT_SUBJECT_PREFIX) {
  return {
    prefix,
    all: `${prefix}.>`,
    allEvents: `${prefix}.events.>`,
    allCommands: `${prefix}.commands.>`,
    allRuns: `${prefix}.runs.>`,
    allCancels: `${prefix}.runs.*.cancel`,
    allApprovals: `${prefix}.runs.*.approval`,
    event: (type: string) => `${prefix}.events.${type}`,
    matched: (eventId: string) => `${prefix}.matched.${eventToken(eventId)}`,
    command: (queue: string) => `${prefix}.commands.${queueToken(queue)}`,
    run: (runId: string, kind: RunSubjectKind) => `${prefix}.runs.${runId}.${kind}`,
    // Pause and resume of one flow (`step` absent) or one step: the last message is the state.
    control: (flow: string, step?: string) => `${prefix}.control.${eventToken(`${flow}\n${step ?? ""}`)}`,
    allControl: `${prefix}.control.>`,
    held: (flow: string, step?: string) => `${prefix}.held.${eventToken(`${flow}\n${step ?? ""}`)}`,
    debounce: (flow: string, step: string, key: string) =>
      `${prefix}.debounce.${eventToken(`${flow}\n${step}\n${key}`)}`,
    allDebounce: `${prefix}.debounce.>`,
    schedule: (flow: string, name: string) => `${prefix}.schedules.${eventToken(`${flow}\n${name}`)}`,
    // One purge (a retention tick or `flow purge`): its rounds, the last one says how far it got.
    purge: (purgeId: string) => `${prefix}.purge.${eventToken(purgeId)}`,
    // The audit log: one subject per action (an operator's cancel, retry, replay...).
    audit: (action: string) => `${prefix}.audit.${action}`,
    allAudit: `${prefix}.audit.>`,
    // Outside the stream's `<prefix>.>` on purpose: presence is plain NATS, never stored.
    hostBeat: (hostId: string) => `${prefix}_hosts.${hostId}`,
    allHostBeats: `${prefix}_hosts.*`,
  };
}

/** A stable, subject-safe token for an event id (ids contain `.`, `:` and `/` in the wild). */
export function eventToken(eventId: string): string {
  return createHash("sha256").update(eventId).digest("hex").slice(0, 32);
}

// A queue is `<host or label or any>` or `<that>--<concurrency group>` (lib/flows/step-policy.ts).
const QUEUE_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;

/** Queue names become one subject token and a consumer name: letters, digits, `_` and `-`. */
export function queueToken(queue: string): string {
  if (!QUEUE_PATTERN.test(queue))
    throw new Error(`invalid queue name ${JSON.stringify(queue)}: expected letters, digits, _ or -`);
  return queue;
}

/** Whether a string may be used as a subject prefix (dot-separated plain tokens). */
export function isValidPrefix(prefix: string): boolean {
  return /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix);
}
