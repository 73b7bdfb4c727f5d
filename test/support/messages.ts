import type { FlowEvent } from "../../lib/protocol/event.ts";
import type { EventAccepted, RunFinished, RunStarted, RunStep } from "../../lib/protocol/messages.ts";

/** Builders for stream messages with sensible defaults, for specifications. */
export const T0 = "2026-11-23T10:00:00.000Z";

export function anEvent(overrides: Partial<FlowEvent> = {}): FlowEvent {
  return {
    id: "patch:upstream.release:openai/codex:rust-v0.169.0",
    type: "upstream.release",
    receivedAt: T0,
    payload: { tag: "rust-v0.169.0" },
    ...overrides,
  };
}

export function accepted(event = anEvent(), extra: Partial<EventAccepted> = {}): EventAccepted {
  return { v: 1, kind: "event.accepted", event, acceptedAt: T0, ...extra };
}

export function command(runId: string, event = anEvent(), extra: Partial<RunStep> = {}): RunStep {
  return {
    v: 1,
    kind: "run.step",
    runId,
    eventId: event.id,
    generation: 0,
    flow: "bindings",
    flowVersion: 1,
    step: "regenerate",
    runner: "bun",
    queue: "any",
    event,
    createdAt: T0,
    ...extra,
  };
}

export function started(runId: string, attempt: number, host = "host-a", at = "2026-11-23T10:00:01.000Z"): RunStarted {
  return { v: 1, kind: "run.started", runId, attempt, host, startedAt: at };
}

export function finished(runId: string, attempt: number, extra: Partial<RunFinished> = {}): RunFinished {
  return {
    v: 1,
    kind: "run.finished",
    runId,
    attempt,
    host: "host-a",
    status: "completed",
    exitCode: 0,
    signal: null,
    result: { status: "changed", message: "regenerated" },
    stdout: "ok\n",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    startedAt: "2026-11-23T10:00:01.000Z",
    finishedAt: "2026-11-23T10:00:02.000Z",
    durationMs: 1000,
    ...extra,
  };
}
