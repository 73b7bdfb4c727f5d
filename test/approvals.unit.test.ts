import { describe, expect, test } from "bun:test";
import { approvalRequest, awaitingApprovalEvent, mayDecide, parseApproval } from "../lib/flows/approval.ts";
import type { FlowMessage, RunApprovalDecided, RunFinished } from "../lib/protocol/messages.ts";
import { accepted, command } from "./support/messages.ts";
import { memoryReadModel } from "./support/read-state.ts";
import { spec } from "./support/spec.ts";

const RUN = "run-cccccccccccccccccccccccc";
const T = "2026-12-08T10:00:00.000Z";
const fail = (field: string, message: string): never => {
  throw new Error(`${field}: ${message}`);
};

describe("[steps.approval] in flow.toml", () => {
  const read = spec((value: unknown, _: undefined) => parseApproval(value, "steps[0].approval", fail));
  test("given nothing or false, then no gate", () => {
    read.given(undefined).when(undefined).then(undefined);
    read.given(undefined).when(false).then(undefined);
  });
  test("given true, then any operate token, 24 h, rejected on timeout", () => {
    read.given(undefined).when(true).then({ approvers: [], timeoutMs: 86_400_000, onTimeout: "reject" });
  });
  test("given a table, then its keys", () => {
    read
      .given(undefined)
      .when({ approvers: ["alice"], timeout_ms: 2000, on_timeout: "approve" })
      .then({ approvers: ["alice"], timeoutMs: 2000, onTimeout: "approve" });
  });
  test("given a wrong key or value, then the field at fault is named", () => {
    read
      .given(undefined)
      .when({ approver: ["alice"] })
      .thenThrows('steps[0].approval.approver: unknown key "approver"');
    read.given(undefined).when({ timeout_ms: 0 }).thenThrows("steps[0].approval.timeout_ms: expected an integer");
    read.given(undefined).when({ on_timeout: "maybe" }).thenThrows('steps[0].approval.on_timeout: expected "approve"');
    read.given(undefined).when({ approvers: "alice" }).thenThrows("steps[0].approval.approvers: expected a list");
  });
});

describe("a gate's request and who may decide it", () => {
  test("given a step gate opened at T, then it expires timeout_ms later and holds the command", () => {
    const request = approvalRequest(
      { gate: "step", command: command(RUN) },
      { approvers: ["alice"], timeoutMs: 60_000, onTimeout: "reject" },
      T,
    );
    expect(request).toMatchObject({ gate: "step", attempt: 0, expiresAt: "2026-12-08T10:01:00.000Z" });
    expect(request.command?.runId).toBe(RUN);
    expect(mayDecide(request, "alice")).toBe(true);
    expect(mayDecide(request, "bob")).toBe(false);
    expect(mayDecide({ approvers: [] }, "bob")).toBe(true);
    const event = awaitingApprovalEvent(request, command(RUN), T)!;
    expect(event.event).toMatchObject({
      id: `codex-flows.run.awaiting_approval:${RUN}:0`,
      type: "codex-flows.run.awaiting_approval",
    });
  });
  test("given a run that a run event started, then its gate emits no run event (no notification loops)", () => {
    const own = { ...command(RUN), event: { ...command(RUN).event, type: "codex-flows.run.failed" } };
    const request = approvalRequest(
      { gate: "step", command: own },
      { approvers: [], timeoutMs: 1, onTimeout: "reject" },
      T,
    );
    expect(awaitingApprovalEvent(request, own, T)).toBeUndefined();
  });
});

describe("the read model of approvals", () => {
  const requested = (gate: "step" | "result", attempt = 0): FlowMessage =>
    approvalRequest(
      gate === "step"
        ? { gate, command: command(RUN) }
        : { gate, command: command(RUN), attempt, next: [], reason: "publish?" },
      { approvers: [], timeoutMs: 60_000, onTimeout: "reject" },
      T,
    );
  const decided = (decision: "approve" | "reject", by: string, attempt = 0): RunApprovalDecided => ({
    v: 1,
    kind: "run.approval_decided",
    runId: RUN,
    attempt,
    decision,
    by,
    comment: "why",
    decidedAt: T,
    expired: false,
  });

  test("given a step gate, then the run awaits approval with no attempt; the first decision is the one; applying everything twice changes nothing", () => {
    const model = memoryReadModel();
    const messages = [accepted(), requested("step"), decided("approve", "alice"), decided("reject", "bob")];
    messages.forEach((m, i) => model.apply(m, i + 1));
    expect(model.runs.get(RUN)).toMatchObject({ status: "queued", attempt: 0 });
    expect(JSON.parse(model.runs.get(RUN)!.approval_json!)).toMatchObject({ decision: "approve", by: "alice" });
    const before = model.snapshot();
    messages.forEach((m, i) => model.apply(m, i + 1));
    expect(model.snapshot()).toBe(before);
  });

  test("given a step gate rejected, then the run ends rejected saying by whom and why", () => {
    const model = memoryReadModel();
    [accepted(), requested("step"), decided("reject", "alice")].forEach((m, i) => model.apply(m, i + 1));
    expect(model.runs.get(RUN)).toMatchObject({ status: "rejected", error: "rejected by alice: why", completed_at: T });
  });

  test("given a result gate, then the finished attempt shows awaiting_approval without its verdict until approved", () => {
    const model = memoryReadModel();
    const finished: RunFinished = {
      v: 1,
      kind: "run.finished",
      runId: RUN,
      attempt: 1,
      host: "h",
      status: "completed",
      exitCode: 0,
      signal: null,
      result: { status: "changed", approval: { reason: "publish?" } },
      stdout: "",
      stderr: "",
      stdoutTruncated: false,
      stderrTruncated: false,
      startedAt: T,
      finishedAt: T,
      durationMs: 1,
    };
    const started = { v: 1 as const, kind: "run.started" as const, runId: RUN, attempt: 1, host: "h", startedAt: T };
    [accepted(), command(RUN), started, requested("result", 1), finished].forEach((m, i) => model.apply(m, i + 1));
    expect(model.runs.get(RUN)).toMatchObject({ status: "awaiting_approval", result_status: null });
    model.apply(decided("approve", "alice", 1), 6);
    expect(model.runs.get(RUN)).toMatchObject({ status: "completed", result_status: "changed" });
  });
});
