import { describe, expect, test } from "bun:test";
import {
  type Arrival,
  debounceDueAt,
  debounceKey,
  debounceVerdict,
  MATCHER_POLL_MS,
  MAX_MATCHER_LAG_MS,
  matcherWait,
} from "../lib/flows/debounce.ts";
import { type ManifestError, parseManifest } from "../lib/flows/manifest.ts";
import type { FlowEvent } from "../lib/protocol/event.ts";
import type { RunFinished, RunStep, StepDecision } from "../lib/protocol/messages.ts";
import { runEventFor } from "../services/executor/run-events.ts";
import { replayDiff } from "../services/ingress/replays/diff.ts";
import { accepted, command } from "./support/messages.ts";
import { memoryReadModel } from "./support/read-state.ts";

const event = (id: string, payload: unknown, type = "upstream.branch_update"): FlowEvent => ({
  id,
  type,
  receivedAt: "2026-06-01T00:00:00Z",
  payload,
});
/** An event stored at `seq` that arrived `ms` after midnight (seq defaults to the order of the ms). */
const arrival = (eventId: string, ms: number, seq = ms + 1): Arrival => ({
  eventId,
  seq,
  arrivedAt: new Date(Date.UTC(2026, 5, 1) + ms).toISOString(),
});

/** Which of a burst of arrivals (one key) start a run: each decided once its wait is over, seeing every other deferred run. */
function settle(arrivals: Arrival[], ms: number) {
  return arrivals.map((mine) => ({
    eventId: mine.eventId,
    ...debounceVerdict(
      mine,
      arrivals.filter((a) => a !== mine),
      ms,
    ),
  }));
}

describe("debounce decisions", () => {
  test("given events with the same key within N ms of each other, then only the last starts a run and each other names the one after it", () => {
    const burst = Array.from({ length: 20 }, (_, i) => arrival(`e${i}`, i * 100));
    const verdicts = settle(burst, 1_000);
    expect(verdicts.filter((v) => v.start).map((v) => v.eventId)).toEqual(["e19"]);
    expect(verdicts[0]).toEqual({ eventId: "e0", start: false, supersededBy: "e1" });
  });

  test("given a quiet gap longer than N ms, then the event before the gap starts a run and the next burst gets its own", () => {
    const verdicts = settle([arrival("a", 0), arrival("b", 500), arrival("c", 5_000), arrival("d", 5_200)], 1_000);
    expect(verdicts.map((v) => v.start)).toEqual([false, true, false, true]);
  });

  test("an arrival exactly N ms later still supersedes; one a millisecond later does not", () => {
    expect(debounceVerdict(arrival("a", 0), [arrival("b", 1_000)], 1_000)).toEqual({ start: false, supersededBy: "b" });
    expect(debounceVerdict(arrival("a", 0), [arrival("b", 1_001)], 1_000)).toEqual({ start: true });
    expect(debounceDueAt("2026-06-01T00:00:00.000Z", 1_500)).toBe("2026-06-01T00:00:01.500Z");
  });

  // Issue 18, item 9: two matchers publish deferred runs in the order they finish, not the order events were stored.
  test("given deferred runs published out of order by two matchers, then the last stored event starts and each other names the next stored one", () => {
    const stored = Array.from({ length: 20 }, (_, i) => arrival(`e${i}`, i * 10, 100 + i));
    const published = [...stored].sort((a, b) => ((a.seq * 7) % 20) - ((b.seq * 7) % 20));
    const verdicts = settle(published, 1_500);
    expect(verdicts.filter((v) => v.start).map((v) => v.eventId)).toEqual(["e19"]);
    for (const v of verdicts) if (!v.start) expect(v.supersededBy).toBe(`e${Number(v.eventId.slice(1)) + 1}`);
  });

  test("given an event stored earlier (a negative difference), then it never supersedes a later one; a later-stored event stamped a little earlier by another clock does", () => {
    expect(debounceVerdict(arrival("e19", 190, 119), [arrival("e16", 160, 116)], 1_500)).toEqual({ start: true });
    expect(
      debounceVerdict(arrival("e19", 190, 119), [arrival("e16", 160, 116), arrival("e20", 185, 120)], 1_500),
    ).toEqual({ start: false, supersededBy: "e20" });
  });

  test("given the matchers have not matched an event that arrived within the window, then the due run waits for them, at most MAX_MATCHER_LAG_MS past its due time", () => {
    const mine = arrival("a", 0);
    const due = debounceDueAt(mine.arrivedAt, 1_000);
    const at = (ms: number) => Date.UTC(2026, 5, 1) + ms;
    expect(matcherWait(mine, due, { arrivedAt: arrival("b", 900).arrivedAt }, 1_000, at(1_000))).toBe(MATCHER_POLL_MS);
    // An older event still being matched may hide a newer one of ours too.
    expect(matcherWait(mine, due, { arrivedAt: arrival("z", -50).arrivedAt }, 1_000, at(1_000))).toBe(MATCHER_POLL_MS);
    expect(matcherWait(mine, due, { arrivedAt: arrival("c", 1_001).arrivedAt }, 1_000, at(1_000))).toBe(0);
    expect(matcherWait(mine, due, undefined, 1_000, at(1_000))).toBe(0);
    expect(
      matcherWait(mine, due, { arrivedAt: arrival("b", 900).arrivedAt }, 1_000, at(1_000 + MAX_MATCHER_LAG_MS)),
    ).toBe(0);
  });

  test("the key is the value at the path: strings as they are, other values as JSON, missing as null", () => {
    expect(debounceKey(event("1", { repo: "openai/codex" }), "payload.repo")).toBe("openai/codex");
    expect(debounceKey(event("1", { ref: { n: 3 } }), "payload.ref")).toBe('{"n":3}');
    expect(debounceKey(event("1", {}), "payload.repo")).toBe("null");
    expect(debounceKey(event("1", {}), "type")).toBe("upstream.branch_update");
  });

  test("flow.toml: debounce_ms and debounce_key on a trigger; a bad one names the field", () => {
    const toml = (lines: string) =>
      `name = "fork"\n[[steps]]\nname = "rebuild"\nrunner = "bun"\nscript = "s.ts"\n[steps.trigger]\ntype = "upstream.branch_update"\n${lines}\n`;
    expect(
      parseManifest(toml(`debounce_ms = 60000\ndebounce_key = "payload.repo"`), "/f/flow.toml").steps[0]!.trigger
        .debounce,
    ).toEqual({ ms: 60_000, key: "payload.repo" });
    expect(() => parseManifest(toml(`debounce_ms = 0`), "/f/flow.toml")).toThrow("steps[0].trigger.debounce_ms");
    const bad = (() => {
      try {
        parseManifest(toml(`debounce_ms = 10\ndebounce_key = "body.repo"`), "/f/flow.toml");
      } catch (error) {
        return error as ManifestError;
      }
    })();
    expect(bad?.field).toBe("steps[0].trigger.debounce_key");
  });
});

describe("replay diffs", () => {
  const decision = (flow: string, step: string, matched: boolean): StepDecision => ({
    flow,
    flowVersion: 1,
    step,
    runner: "bun",
    matched,
    reasons: matched ? [] : ["type differs"],
  });
  const now = (flow: string, step: string, matched: boolean, reasons: string[] = []) => ({
    flow,
    step,
    matched,
    reasons,
  });

  test("given what matched then and what matches now, then each step is new, no longer matching (with the reason now), or the same", () => {
    const then = [
      decision("fork", "rebase", true),
      decision("fork", "notify", true),
      decision("bindings", "regen", false),
    ];
    const current = [
      now("fork", "rebase", true),
      now("fork", "notify", false, ["schema: /repo must be string"]),
      now("bindings", "regen", true),
    ];
    expect(replayDiff(then, current)).toEqual({
      newMatches: [{ flow: "bindings", step: "regen" }],
      noLongerMatching: [{ flow: "fork", step: "notify", reasons: ["schema: /repo must be string"] }],
      same: [{ flow: "fork", step: "rebase" }],
    });
  });

  test("a step or flow that is gone says so; an event never matched has only new matches; --flow limits both sides", () => {
    const then = [decision("fork", "old-step", true), decision("gone", "x", true)];
    const current = [now("fork", "rebase", true), now("other", "y", true)];
    expect(replayDiff(then, current).noLongerMatching).toEqual([
      { flow: "fork", step: "old-step", reasons: ['step "old-step" no longer exists in flow "fork"'] },
      { flow: "gone", step: "x", reasons: ['flow "gone" no longer exists'] },
    ]);
    expect(replayDiff(undefined, current)).toEqual({
      newMatches: [
        { flow: "fork", step: "rebase" },
        { flow: "other", step: "y" },
      ],
      noLongerMatching: [],
      same: [],
    });
    expect(replayDiff(then, current, "other")).toEqual({
      newMatches: [{ flow: "other", step: "y" }],
      noLongerMatching: [],
      same: [],
    });
  });
});

describe("run events", () => {
  const runCommand = (type = "upstream.release"): RunStep => ({
    v: 1,
    kind: "run.step",
    runId: "run-abc",
    eventId: "ev-1",
    generation: 0,
    flow: "fork",
    flowVersion: 1,
    step: "rebase",
    runner: "bun",
    queue: "any",
    event: event("ev-1", {}, type),
    createdAt: "2026-06-01T00:00:00Z",
  });
  const finished = (fields: Partial<RunFinished>): Omit<RunFinished, "v" | "kind"> => ({
    runId: "run-abc",
    attempt: 2,
    host: "h1",
    status: "completed",
    exitCode: 0,
    signal: null,
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    startedAt: "2026-06-01T00:00:00Z",
    finishedAt: "2026-06-01T00:00:01Z",
    durationMs: 1000,
    ...fields,
  });

  test("a run that needs intervention emits codex-flows.run.needs_intervention with a deterministic id and the run's summary", () => {
    const accepted = runEventFor(
      runCommand(),
      finished({ result: { status: "needs_intervention", message: "conflict in Cargo.lock" } }),
      "2026-06-01T00:00:02Z",
      0,
    )!;
    expect(accepted.event).toMatchObject({
      id: "codex-flows.run.needs_intervention:run-abc:2",
      type: "codex-flows.run.needs_intervention",
      payload: {
        runId: "run-abc",
        flow: "fork",
        step: "rebase",
        eventId: "ev-1",
        status: "needs_intervention",
        message: "conflict in Cargo.lock",
        host: "h1",
        attempt: 2,
        link: "/runs/run-abc",
      },
    });
  });

  test("failed, timed_out and blocked emit; completed, changed, canceled and a failure that will be retried do not", () => {
    expect(
      runEventFor(runCommand(), finished({ status: "failed", exitCode: 1, error: "exit 1" }), "t", 0)?.event.type,
    ).toBe("codex-flows.run.failed");
    expect(runEventFor(runCommand(), finished({ status: "timed_out" }), "t", 0)?.event.type).toBe(
      "codex-flows.run.timed_out",
    );
    expect(runEventFor(runCommand(), finished({ result: { status: "blocked" } }), "t", 0)?.event.type).toBe(
      "codex-flows.run.blocked",
    );
    expect(runEventFor(runCommand(), finished({ result: { status: "changed" } }), "t", 0)).toBeUndefined();
    expect(runEventFor(runCommand(), finished({ status: "canceled" }), "t", 0)).toBeUndefined();
    expect(runEventFor(runCommand(), finished({ status: "failed", retryInMs: 1000 }), "t", 0)).toBeUndefined();
  });

  test("a run of a step triggered by a run event emits none (no notification loops)", () => {
    expect(runEventFor(runCommand("codex-flows.run.failed"), finished({ status: "failed" }), "t", 0)).toBeUndefined();
  });
});

describe("read model of held, debounced and superseded runs", () => {
  const RUN = "run-bbbbbbbbbbbbbbbbbbbbbbbb";
  const T = "2026-11-23T10:00:05.000Z";

  test("given a held run then its release, then it is queued saying why, then on its queue saying nothing; applying everything twice changes nothing", () => {
    const model = memoryReadModel();
    const messages = [
      accepted(),
      { v: 1 as const, kind: "flow.paused" as const, flow: "bindings", at: T, reason: "freeze" },
      {
        v: 1 as const,
        kind: "run.held" as const,
        runId: RUN,
        command: command(RUN),
        pause: "bindings",
        pausedSeq: 2,
        reason: "held: flow bindings is paused",
        heldAt: T,
      },
    ];
    messages.forEach((m, i) => model.apply(m, i + 1));
    expect(model.runs.get(RUN)).toMatchObject({
      status: "queued",
      attempt: 0,
      held_reason: "held: flow bindings is paused",
    });
    const released = [
      { v: 1 as const, kind: "flow.resumed" as const, flow: "bindings", at: T, pausedSeq: 2 },
      command(RUN),
    ];
    released.forEach((m, i) => model.apply(m, i + 4));
    expect(model.runs.get(RUN)).toMatchObject({ status: "queued", held_reason: null });
    const before = model.snapshot();
    [...messages, ...released].forEach((m, i) => model.apply(m, i + 1));
    expect(model.snapshot()).toBe(before);
  });

  test("given a deferred run then superseded, then it is superseded with the event that superseded it and no attempt", () => {
    const model = memoryReadModel();
    model.apply(accepted(), 1);
    model.apply(
      {
        v: 1,
        kind: "run.deferred",
        runId: RUN,
        command: command(RUN),
        key: "openai/codex",
        debounceMs: 1000,
        arrivedAt: T,
        dueAt: T,
      },
      2,
    );
    expect(model.runs.get(RUN)!.held_reason).toContain(
      'debounced: starts at 2026-11-23T10:00:05.000Z unless another event with key "openai/codex" arrives within 1000 ms',
    );
    model.apply({ v: 1, kind: "run.superseded", runId: RUN, supersededBy: "ev-2", at: T }, 3);
    expect(model.runs.get(RUN)).toMatchObject({
      status: "superseded",
      superseded_by: "ev-2",
      held_reason: null,
      attempt: 0,
      error: "superseded by event ev-2 (debounce)",
    });
    expect(model.apply({ v: 1, kind: "run.superseded", runId: RUN, supersededBy: "ev-3", at: T }, 4)).toEqual([]);
  });
});
