import { describe, expect, test } from "bun:test";
import type { FlowMessage, PurgeRuns } from "../lib/protocol/messages.ts";
import { isPurge } from "../services/projector/writes.ts";
import { accepted, anEvent, command, finished, started, T0 } from "./support/messages.ts";
import { memoryReadModel } from "./support/read-state.ts";
import { spec } from "./support/spec.ts";

const RUN = "run-aaaaaaaaaaaaaaaaaaaaaaaa";

function given(messages: FlowMessage[]) {
  const model = memoryReadModel();
  messages.forEach((m, i) => model.apply(m, i + 1));
  return model;
}

describe("projector evolve", () => {
  test("given an accepted event, then the event row keeps its fields and an empty match", () => {
    const model = given([accepted()]);
    const row = model.events.get(anEvent().id)!;
    expect(row).toMatchObject({
      type: "upstream.release",
      seq: 1,
      generation: 0,
      matched_generation: null,
      payload_json: '{"tag":"rust-v0.169.0"}',
    });
  });

  test("given the same event accepted twice (beyond the dedup window), then the first one stays", () => {
    const model = given([accepted(), accepted(anEvent({ payload: { tag: "other" } }))]);
    expect(model.events.get(anEvent().id)!.payload_json).toBe('{"tag":"rust-v0.169.0"}');
    expect(model.events.get(anEvent().id)!.seq).toBe(1);
  });

  test("given a command, a start and a finish, then the run is completed with its result, attempt and host", () => {
    const model = given([accepted(), command(RUN), started(RUN, 1), finished(RUN, 1)]);
    expect(model.runs.get(RUN)).toMatchObject({
      status: "completed",
      attempt: 1,
      host: "host-a",
      result_status: "changed",
      exit_code: 0,
      stdout: "ok\n",
    });
    expect(JSON.parse(model.runs.get(RUN)!.result_json!)).toEqual({ status: "changed", message: "regenerated" });
    expect(model.attempts.get(`${RUN}:1`)).toMatchObject({
      status: "completed",
      completed_at: "2026-11-23T10:00:02.000Z",
    });
  });

  test("given a run that ended needs_intervention and is retried, then it no longer needs attention while queued and running, and its attempt keeps the verdict", () => {
    const verdict = finished(RUN, 1, { result: { status: "needs_intervention", message: "conflict" } });
    const retried = given([
      accepted(),
      command(RUN),
      started(RUN, 1),
      verdict,
      command(RUN, anEvent(), { attemptBase: 1 }),
    ]);
    expect(retried.runs.get(RUN)).toMatchObject({ status: "queued", result_status: null });
    const running = given([
      accepted(),
      command(RUN),
      started(RUN, 1),
      verdict,
      command(RUN, anEvent(), { attemptBase: 1 }),
      started(RUN, 2),
    ]);
    expect(running.runs.get(RUN)).toMatchObject({ status: "running", attempt: 2, result_status: null });
    expect(running.attempts.get(`${RUN}:1`)).toMatchObject({ result_status: "needs_intervention" });
  });

  test("given a command only, then the run is queued with no attempt", () => {
    const model = given([accepted(), command(RUN)]);
    expect(model.runs.get(RUN)).toMatchObject({ status: "queued", attempt: 0, started_at: null });
  });

  test("given attempt 1 started and attempt 2 started (a lost executor), then attempt 1 is lost and the run shows attempt 2", () => {
    const model = given([
      accepted(),
      command(RUN),
      started(RUN, 1, "host-a"),
      started(RUN, 2, "host-b"),
      finished(RUN, 2, { host: "host-b" }),
    ]);
    expect(model.attempts.get(`${RUN}:1`)).toMatchObject({ status: "lost", host: "host-a" });
    expect(model.attempts.get(`${RUN}:1`)!.error).toContain("host-a");
    expect(model.runs.get(RUN)).toMatchObject({ status: "completed", attempt: 2, host: "host-b" });
  });

  test("given attempt 1 fenced (its host cut off) after attempt 2 began, then attempt 1 says fenced with its host and why, and the run keeps attempt 2", () => {
    const fenced: FlowMessage = {
      v: 1,
      kind: "run.released",
      runId: RUN,
      attempt: 1,
      host: "host-a",
      releasedAt: T0,
      reason: "fenced on host-a: no lease renewal answered",
      fenced: true,
    };
    const model = given([
      accepted(),
      command(RUN),
      started(RUN, 1, "host-a"),
      started(RUN, 2, "host-b"),
      fenced,
      finished(RUN, 2, { host: "host-b" }),
    ]);
    expect(model.attempts.get(`${RUN}:1`)).toMatchObject({
      status: "fenced",
      host: "host-a",
      error: "fenced on host-a: no lease renewal answered",
    });
    expect(model.runs.get(RUN)).toMatchObject({ status: "completed", attempt: 2, host: "host-b" });
  });

  test("given attempt 1 fenced before another host took the run, then the attempt is fenced and the run waits on its queue; a plain release of a lost attempt changes nothing", () => {
    const fenced: FlowMessage = {
      v: 1,
      kind: "run.released",
      runId: RUN,
      attempt: 1,
      host: "host-a",
      releasedAt: T0,
      reason: "fenced on host-a",
      fenced: true,
    };
    expect(given([accepted(), command(RUN), started(RUN, 1, "host-a"), fenced]).runs.get(RUN)).toMatchObject({
      status: "queued",
      attempt: 1,
    });
    const released: FlowMessage = {
      v: 1,
      kind: "run.released",
      runId: RUN,
      attempt: 1,
      host: "host-a",
      releasedAt: T0,
      reason: "shut down",
    };
    const model = given([accepted(), command(RUN), started(RUN, 1, "host-a"), started(RUN, 2, "host-b"), released]);
    expect(model.attempts.get(`${RUN}:1`)!.status).toBe("lost");
  });

  test("given a late finish of an older attempt, then it is recorded on that attempt and the run keeps its newest", () => {
    const model = given([
      accepted(),
      command(RUN),
      started(RUN, 1),
      started(RUN, 2, "host-b"),
      finished(RUN, 1, { status: "failed", exitCode: 1 }),
    ]);
    expect(model.attempts.get(`${RUN}:1`)).toMatchObject({ status: "failed", exit_code: 1 });
    expect(model.runs.get(RUN)).toMatchObject({ status: "running", attempt: 2, host: "host-b" });
  });

  test("given the whole log applied twice, then the read model is the same as after once (idempotent)", () => {
    const log: FlowMessage[] = [
      accepted(),
      {
        v: 1,
        kind: "event.matched",
        eventId: anEvent().id,
        generation: 0,
        matchedAt: "2026-11-23T10:00:00.500Z",
        decisions: [
          {
            flow: "bindings",
            flowVersion: 1,
            step: "regenerate",
            runner: "bun",
            matched: true,
            runId: RUN,
            queue: "any",
            reasons: [],
          },
        ],
      },
      command(RUN),
      started(RUN, 1),
      finished(RUN, 1),
    ];
    const once = given(log);
    const twice = given([...log, ...log]);
    expect(twice.snapshot()).toBe(once.snapshot());
    for (const [i, m] of log.entries())
      expect(once.apply(m, i + 1).filter((w) => isPurge(w) || (w.table !== "matches" && w.table !== "events"))).toEqual(
        [],
      );
  });

  test("given output chunks, then they are stored once each and the run counts their size once, however often they are applied", () => {
    const chunk = (n: number, text: string) => ({
      v: 1 as const,
      kind: "run.output" as const,
      runId: RUN,
      attempt: 1,
      chunk: n,
      stream: "stdout" as const,
      text,
      at: T0,
    });
    const model = given([accepted(), command(RUN), started(RUN, 1), chunk(0, "hello "), chunk(1, "world\n")]);
    model.apply(chunk(1, "world\n"), 99);
    expect(model.runs.get(RUN)!.output_bytes).toBe(12);
    expect([...model.output.values()].map((o) => (o as { text: string }).text)).toEqual(["hello ", "world\n"]);
  });

  test("given a match decision, then the event records how many steps matched and every decision with its reasons", () => {
    const model = given([
      accepted(),
      {
        v: 1,
        kind: "event.matched",
        eventId: anEvent().id,
        generation: 0,
        matchedAt: "2026-11-23T10:00:00.500Z",
        decisions: [
          {
            flow: "bindings",
            flowVersion: 1,
            step: "regenerate",
            runner: "bun",
            matched: true,
            runId: RUN,
            queue: "any",
            reasons: [],
          },
          {
            flow: "fork",
            flowVersion: 2,
            step: "rebase",
            runner: "code-mode",
            matched: false,
            reasons: ["schema: /repo must be string"],
          },
        ],
      },
    ]);
    expect(model.events.get(anEvent().id)).toMatchObject({ matched_generation: 0, matched_count: 1 });
    const [match] = [...model.matches.values()] as { decisions_json: string }[];
    expect(
      JSON.parse(match!.decisions_json).map((d: { step: string; reasons: string[] }) => [d.step, d.reasons]),
    ).toEqual([
      ["regenerate", []],
      ["rebase", ["schema: /repo must be string"]],
    ]);
  });
});

/** What evolve writes for one message (`when`, stored at sequence `seq`), given the messages before it. */
const projection = spec((when: { message: FlowMessage; seq: number }, history: FlowMessage[]) =>
  given(history).apply(when.message, when.seq),
);

describe("projector evolve: purges are writes", () => {
  const purge: PurgeRuns = {
    v: 1,
    kind: "runs.purge",
    purgeId: "retention:2026-11-23T10:00:00.000Z",
    round: 1,
    at: T0,
    rules: [{ before: T0, keepRuns: 10 }],
    eventsBefore: T0,
    limit: 500,
    tombstoneDays: 400,
  };

  test("given a finished run, when a purge round arrives, then evolve writes that purge round (what it deletes the store picks from the read model), and no row", () => {
    projection
      .given([accepted(), command(RUN), started(RUN, 1), finished(RUN, 1)])
      .when({ message: purge, seq: 5 })
      .then([{ purge }]);
  });

  test("given an empty read model, when the next round of a purge arrives, then it is written as well: a round is applied wherever it stands", () => {
    projection
      .given([])
      .when({ message: { ...purge, round: 2 }, seq: 1 })
      .then([{ purge: { ...purge, round: 2 } }]);
  });

  test("given an event, when the same event is accepted again, then nothing is written", () => {
    projection.given([accepted()]).when({ message: accepted(), seq: 2 }).thenNothing();
  });

  test("given an event, when a run's output comes for a run never queued, then nothing is written", () => {
    projection
      .given([accepted()])
      .when({
        message: { v: 1, kind: "run.output", runId: RUN, attempt: 1, chunk: 0, stream: "stdout", text: "x", at: T0 },
        seq: 2,
      })
      .thenNothing();
  });

  test("given anything, when a message of a kind evolve does not know arrives, then it throws, naming the kind", () => {
    projection
      .given([])
      .when({ message: { v: 1, kind: "run.teleported" } as unknown as FlowMessage, seq: 1 })
      .thenThrows("unhandled message kind run.teleported");
  });
});
