import { describe, expect, test } from "bun:test";
import { deferredRun } from "../lib/flows/debounce.ts";
import type { Flow, FlowStep } from "../lib/flows/manifest.ts";
import { DEFAULT_STEP_POLICY } from "../lib/flows/step-policy.ts";
import type { StepMatch } from "../lib/flows/trigger.ts";
import type { RunStep, StepDecision } from "../lib/protocol/messages.ts";
import { decide } from "../services/matcher/decide.ts";
import { fitDecision } from "../services/matcher/fit.ts";
import { giveUpDecision } from "../services/matcher/give-up.ts";
import { accepted, anEvent } from "./support/messages.ts";

const NOW = "2026-11-23T10:00:00.100Z";

function flow(name: string, steps: string[]): Flow {
  const root = `/flows/${name}`;
  const stepOf = (s: string): FlowStep => ({
    name: s,
    runner: "bun",
    script: `exec/${s}.ts`,
    scriptPath: `${root}/exec/${s}.ts`,
    timeoutMs: 300_000,
    workingDirectory: root,
    trigger: { type: "upstream.release" },
    policy: DEFAULT_STEP_POLICY,
  });
  return { name, version: 3, config: {}, steps: steps.map(stepOf), root, manifestPath: `${root}/flow.toml` };
}

/** A trigger index whose answers are given: which steps match and why the others don't. */
function indexOf(matches: (f: Flow) => StepMatch[]) {
  const flows = [flow("bindings", ["regenerate", "publish"]), flow("fork", ["rebase"])];
  return { match: () => flows.flatMap(matches) };
}

describe("matcher decide", () => {
  const index = indexOf((f) =>
    f.steps.map((step) => ({
      flow: f,
      step,
      matched: f.name === "bindings",
      reasons: f.name === "bindings" ? [] : ["schema: /repo must be string"],
    })),
  );

  test("given an event two steps match, then two commands on the shared queue and a decision for every step", () => {
    const { matched, commands } = decide(accepted(), index, NOW);
    expect(commands.map((c) => `${c.flow}/${c.step}@${c.queue}`)).toEqual([
      "bindings/regenerate@any",
      "bindings/publish@any",
    ]);
    expect(commands.every((c) => c.event.id === anEvent().id && c.createdAt === NOW && c.flowVersion === 3)).toBe(true);
    expect(matched.decisions.map((d) => [d.step, d.matched, d.reasons])).toEqual([
      ["regenerate", true, []],
      ["publish", true, []],
      ["rebase", false, ["schema: /repo must be string"]],
    ]);
    expect(matched.decisions.filter((d) => d.matched).map((d) => d.runId)).toEqual(commands.map((c) => c.runId));
  });

  test("given the same event decided twice (a redelivery), then the run ids are the same", () => {
    const first = decide(accepted(), index, NOW).commands.map((c) => c.runId);
    const again = decide(accepted(), index, "2026-11-23T11:00:00.000Z").commands.map((c) => c.runId);
    expect(again).toEqual(first);
    expect(new Set(first).size).toBe(2);
    expect(first.every((id) => /^run-[0-9a-f]{24}$/.test(id))).toBe(true);
  });

  test("given a replay of the event, then it gets new run ids and its generation", () => {
    const original = decide(accepted(), index, NOW);
    const replay = decide(accepted(anEvent(), { replay: { generation: 1, requestedAt: NOW } }), index, NOW);
    expect(replay.matched.generation).toBe(1);
    expect(replay.commands.every((c) => c.generation === 1)).toBe(true);
    expect(replay.commands.map((c) => c.runId).some((id) => original.commands.some((o) => o.runId === id))).toBe(false);
  });

  test("given a replay limited to one flow (flow replay --flow fork), then only that flow's steps get commands; the others' are recorded as not replayed", () => {
    const all = indexOf((f) => f.steps.map((step) => ({ flow: f, step, matched: true, reasons: [] })));
    const { matched, commands } = decide(
      accepted(anEvent(), { replay: { generation: 1, requestedAt: NOW, flow: "fork" } }),
      all,
      NOW,
    );
    expect(commands.map((c) => `${c.flow}/${c.step}`)).toEqual(["fork/rebase"]);
    expect(matched.decisions.map((d) => [d.flow, d.step, d.matched, d.runId !== undefined, d.reasons])).toEqual([
      ["bindings", "regenerate", false, false, ['not replayed: this replay is limited to flow "fork"']],
      ["bindings", "publish", false, false, ['not replayed: this replay is limited to flow "fork"']],
      ["fork", "rebase", true, true, []],
    ]);
  });

  test("given an event no step matches, then no command and every step's reason is kept", () => {
    const none = indexOf((f) =>
      f.steps.map((step) => ({
        flow: f,
        step,
        matched: false,
        reasons: ['type differs: step wants "upstream.release", event is "other"'],
      })),
    );
    const { matched, commands } = decide(accepted(anEvent({ type: "other" })), none, NOW);
    expect(commands).toEqual([]);
    expect(matched.decisions).toHaveLength(3);
    expect(matched.decisions.every((d) => d.reasons[0]!.startsWith("type differs"))).toBe(true);
  });
});

// Issue 18, item 8: a debounced run's deferred message is sized before publishing, and a give-up never denies a published run.
describe("debounced runs over the limit, and giving up", () => {
  const index = indexOf((f) => f.steps.map((step) => ({ flow: f, step, matched: f.name === "bindings", reasons: [] })));
  const byKey = (key: string) => (command: RunStep) =>
    command.step === "publish" ? deferredRun(command, { ms: 1_000, key }, NOW, 7) : undefined;

  test("given a debounced step whose key is the event's large payload, when fitted, then its run is refused once with the sizes and the other step's command is kept", () => {
    const decision = decide(
      accepted(anEvent({ payload: { repo: "openai/codex", blob: "x".repeat(30_000) } })),
      index,
      NOW,
    );
    const fitted = fitDecision(decision, 50_000, byKey("payload.blob"));
    expect(fitted.commands.map((c) => [c.command.step, c.deferred !== undefined])).toEqual([["regenerate", false]]);
    const publish = JSON.parse(fitted.matched).decisions.find((d: StepDecision) => d.step === "publish");
    expect(publish).toMatchObject({ matched: false });
    expect(publish.runId).toBeUndefined();
    expect(publish.reasons.at(-1)).toMatch(
      /^not started: its run\.deferred message \(the run waiting out its debounce, with a debounce key of 30000 bytes\) would be \d+ bytes, over the limit of 50000 /,
    );
  });

  test("given a debounced step with a short key, when fitted, then its deferred message is ready to publish, carrying its event's stream sequence", () => {
    const fitted = fitDecision(
      decide(accepted(anEvent({ payload: { repo: "openai/codex" } })), index, NOW),
      1_000_000,
      byKey("payload.repo"),
    );
    const deferred = fitted.commands.find((c) => c.command.step === "publish")!.deferred!;
    expect(deferred.message).toMatchObject({
      kind: "run.deferred",
      key: "openai/codex",
      eventSeq: 7,
      debounceMs: 1_000,
      arrivedAt: NOW,
    });
    expect(JSON.parse(deferred.body)).toEqual(deferred.message);
  });

  test("given a give-up after one run of the event was published and recorded, then that run keeps its id and only the other is not started and canceled", () => {
    const { matched } = decide(accepted(), index, NOW);
    const [regenerate, publish] = matched.decisions;
    const given = giveUpDecision(matched, new Set([regenerate!.runId!]), "after 30 deliveries: boom");
    expect(given.cancel).toEqual([publish!.runId!]);
    expect(given.matched.decisions.map((d) => [d.step, d.matched, d.runId, d.reasons.at(-1)])).toEqual([
      [
        "regenerate",
        true,
        regenerate!.runId,
        "the matcher gave up after 30 deliveries: boom, after this run was published",
      ],
      ["publish", false, undefined, "not started: the matcher gave up after 30 deliveries: boom"],
      ["rebase", false, undefined, undefined],
    ]);
  });
});
