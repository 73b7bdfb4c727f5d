import { describe, expect, test } from "bun:test";
import type { Flow, FlowStep } from "../lib/manifest.ts";
import { DEFAULT_STEP_POLICY } from "../lib/step-policy.ts";
import type { StepMatch } from "../lib/trigger.ts";
import { decide } from "../services/matcher/decide.ts";
import { accepted, anEvent } from "./support/messages.ts";

const NOW = "2026-11-23T10:00:00.100Z";

function flow(name: string, steps: string[]): Flow {
  const root = `/flows/${name}`;
  const stepOf = (s: string): FlowStep => ({ name: s, runner: "bun", script: `exec/${s}.ts`, scriptPath: `${root}/exec/${s}.ts`, timeoutMs: 300_000, workingDirectory: root, trigger: { type: "upstream.release" }, policy: DEFAULT_STEP_POLICY });
  return { name, version: 3, config: {}, steps: steps.map(stepOf), root, manifestPath: `${root}/flow.toml` };
}

/** A trigger index whose answers are given: which steps match and why the others don't. */
function indexOf(matches: (f: Flow) => StepMatch[]) {
  const flows = [flow("bindings", ["regenerate", "publish"]), flow("fork", ["rebase"])];
  return { match: () => flows.flatMap(matches) };
}

describe("matcher decide", () => {
  const index = indexOf((f) => f.steps.map((step) => ({ flow: f, step, matched: f.name === "bindings", reasons: f.name === "bindings" ? [] : ["schema: /repo must be string"] })));

  test("given an event two steps match, then two commands on the shared queue and a decision for every step", () => {
    const { matched, commands } = decide(accepted(), index, NOW);
    expect(commands.map((c) => `${c.flow}/${c.step}@${c.queue}`)).toEqual(["bindings/regenerate@any", "bindings/publish@any"]);
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
    const { matched, commands } = decide(accepted(anEvent(), { replay: { generation: 1, requestedAt: NOW, flow: "fork" } }), all, NOW);
    expect(commands.map((c) => `${c.flow}/${c.step}`)).toEqual(["fork/rebase"]);
    expect(matched.decisions.map((d) => [d.flow, d.step, d.matched, d.runId !== undefined, d.reasons])).toEqual([
      ["bindings", "regenerate", false, false, ['not replayed: this replay is limited to flow "fork"']],
      ["bindings", "publish", false, false, ['not replayed: this replay is limited to flow "fork"']],
      ["fork", "rebase", true, true, []],
    ]);
  });

  test("given an event no step matches, then no command and every step's reason is kept", () => {
    const none = indexOf((f) => f.steps.map((step) => ({ flow: f, step, matched: false, reasons: ['type differs: step wants "upstream.release", event is "other"'] })));
    const { matched, commands } = decide(accepted(anEvent({ type: "other" })), none, NOW);
    expect(commands).toEqual([]);
    expect(matched.decisions).toHaveLength(3);
    expect(matched.decisions.every((d) => d.reasons[0]!.startsWith("type differs"))).toBe(true);
  });
});
