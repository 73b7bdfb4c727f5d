import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { addressOf } from "../lib/protocol/address.ts";
import { consumers } from "../lib/protocol/consumers.ts";
import { decodeMessage, type FlowMessage, KIND_SCHEMAS } from "../lib/protocol/messages.ts";
import { subjects } from "../lib/protocol/subjects.ts";

// docs/architecture.md's table of kinds, subjects and message ids is what lib/protocol does:
// each row's templates match the subject and id addressOf gives a message of that kind.
const doc = readFileSync(join(import.meta.dir, "..", "docs", "architecture.md"), "utf8");
const rows = doc
  .split("\n")
  .filter((line) => /^\| `[a-z_]+\.[a-z_]+`/.test(line))
  .map((line) => line.split("|").map((cell) => cell.trim()));

/** A template such as `run:<runId>:<attempt>:<kind>` as a pattern: placeholders are one or more characters. */
function pattern(template: string): RegExp {
  const parts = template.split(/<[^>]+>/).map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join(".+")}$`);
}
const templates = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

const at = "2026-12-07T00:00:00.000Z";
const event = { id: "evt-1", type: "demo.ping", source: "test", payload: {}, receivedAt: at };
const command = {
  v: 1,
  kind: "run.step",
  runId: "run-1",
  eventId: "evt-1",
  generation: 0,
  flow: "demo",
  flowVersion: 1,
  step: "hello",
  runner: "bun",
  queue: "any",
  event,
  createdAt: at,
} as const;
const attempt = { runId: "run-1", attempt: 2, host: "host-a" };
/** One valid message of every kind (decoded below, so a sample that drifts from its schema fails here). */
const SAMPLES: Record<string, FlowMessage> = {
  "event.accepted": { v: 1, kind: "event.accepted", event, acceptedAt: at },
  "event.matched": { v: 1, kind: "event.matched", eventId: "evt-1", generation: 1, matchedAt: at, decisions: [] },
  "run.step": command,
  "run.started": { v: 1, kind: "run.started", ...attempt, startedAt: at },
  "run.finished": {
    v: 1,
    kind: "run.finished",
    ...attempt,
    status: "completed",
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    startedAt: at,
    finishedAt: at,
    durationMs: 1,
  },
  "run.cancel": { v: 1, kind: "run.cancel", runId: "run-1", requestedAt: at },
  "run.released": { v: 1, kind: "run.released", ...attempt, releasedAt: at, reason: "shutdown" },
  "run.output": { v: 1, kind: "run.output", ...attempt, chunk: 0, stream: "stdout", text: "hi", at },
  "run.held": {
    v: 1,
    kind: "run.held",
    runId: "run-1",
    command,
    pause: "demo/hello",
    pausedSeq: 7,
    reason: "held",
    heldAt: at,
  },
  "run.deferred": {
    v: 1,
    kind: "run.deferred",
    runId: "run-1",
    command,
    key: "k",
    debounceMs: 10,
    arrivedAt: at,
    dueAt: at,
  },
  "run.superseded": { v: 1, kind: "run.superseded", runId: "run-1", supersededBy: "evt-2", at },
  "flow.paused": { v: 1, kind: "flow.paused", flow: "demo", step: "hello", at },
  "flow.resumed": { v: 1, kind: "flow.resumed", flow: "demo", step: "hello", at, pausedSeq: 7 },
  "schedule.ticked": {
    v: 1,
    kind: "schedule.ticked",
    flow: "demo",
    schedule: "nightly",
    tick: at,
    outcome: "emitted",
    eventId: "evt-3",
    at,
  },
  "runs.purge": { v: 1, kind: "runs.purge", purgeId: "p-1", round: 1, at, rules: [], limit: 500, tombstoneDays: 400 },
  "operator.acted": {
    v: 1,
    kind: "operator.acted",
    actionId: "a-1",
    action: "cancel",
    actor: "ci",
    at,
    target: { runId: "run-1" },
    summary: "POST /runs/run-1/cancel",
  },
  "run.approval_requested": {
    v: 1,
    kind: "run.approval_requested",
    runId: "run-1",
    flow: "demo",
    step: "hello",
    gate: "step",
    attempt: 0,
    approvers: ["alice"],
    requestedAt: at,
    expiresAt: at,
    onTimeout: "reject",
    command,
  },
  "run.approval_decided": {
    v: 1,
    kind: "run.approval_decided",
    runId: "run-1",
    attempt: 0,
    decision: "approve",
    by: "alice",
    decidedAt: at,
    expired: false,
  },
};

describe("docs/architecture.md's message table is lib/protocol", () => {
  test("every kind of message has its row, and every row names a kind", () => {
    const documented = rows.flatMap((row) => templates(row[1]!));
    expect(documented.sort()).toEqual(Object.keys(KIND_SCHEMAS).sort());
  });

  for (const kind of Object.keys(KIND_SCHEMAS)) {
    test(`${kind}: the subject and message id follow the row`, () => {
      const row = rows.find((r) => templates(r[1]!).includes(kind))!;
      const message = SAMPLES[kind]!;
      expect(decodeMessage(JSON.stringify(message))).toEqual({ ok: true, message });
      const { subject, msgID } = addressOf(subjects("flows"), message, 3);
      const subjectTemplate = templates(row[2]!)[0]!.replace(/<kind>/, kind.split(".")[1]!);
      expect(subject).toMatch(pattern(subjectTemplate));
      expect(templates(row[4]!).some((id) => pattern(id).test(msgID))).toBe(true);
    });
  }

  test("every durable consumer has its row: the subjects it reads and the kinds it handles", () => {
    const s = subjects("flows");
    const defs = [
      consumers.matcher(s, { ackWaitMs: 1 }),
      consumers.debouncer(s, { ackWaitMs: 1 }),
      consumers.resumer(s, { ackWaitMs: 1 }),
      consumers.approver(s, { ackWaitMs: 1 }),
      consumers.executor(s, "any", { ackWaitMs: 1 }),
    ];
    const documented = rows.length > 0 ? doc.split("\n").filter((line) => line.startsWith("| `")) : [];
    const missing = defs.filter(
      (def) =>
        !documented.some(
          (line) =>
            line.includes(`\`${def.durable.replace(/-any$/, "-<queue>")}\``) &&
            line.includes(`\`${def.filterSubject.replace(/\.any$/, ".<queue>")}\``) &&
            def.kinds.every((k) => line.includes(`\`${k}\``)),
        ),
    );
    expect(missing.map((def) => def.durable)).toEqual([]);
  });
});
