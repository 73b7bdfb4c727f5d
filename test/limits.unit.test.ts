// The pure parts of issue 9's limits: nesting depth, result-line sizing, chain budgets,
// output pieces and decision fitting, given/when/then.
import { describe, expect, test } from "bun:test";
import { type ChainLimits, chainedEvents, runBudget } from "../lib/flows/chain.ts";
import { nestsDeeperThan } from "../lib/json-depth.ts";
import { parseFlowEvent } from "../lib/protocol/event.ts";
import { ResultLineMeter } from "../lib/runners/result-line.ts";
import { utf8Pieces } from "../services/executor/output.ts";
import { runEventFor } from "../services/executor/run-events.ts";
import { decide } from "../services/matcher/decide.ts";
import { ENVELOPE_ALLOWANCE, fitDecision } from "../services/matcher/fit.ts";
import { accepted, anEvent, command, finished, T0 } from "./support/messages.ts";

describe("nestsDeeperThan", () => {
  test("given brackets inside strings (escaped quotes too), when measuring, then only structure counts", () => {
    expect(nestsDeeperThan('{"a":"[[[[[[","b":"\\"[[[[["}', 1)).toBe(false);
    expect(nestsDeeperThan('{"a":[{"b":[]}]}', 3)).toBe(true);
    expect(nestsDeeperThan('{"a":[{"b":[]}]}', 4)).toBe(false);
    expect(nestsDeeperThan(Buffer.from(`${"[".repeat(65)}${"]".repeat(65)}`))).toBe(true);
  });
});

describe("ResultLineMeter", () => {
  test("given a result line split across chunks, even inside its prefix, when fed, then its JSON's size is known without keeping it", () => {
    const meter = new ResultLineMeter();
    for (const piece of ["noise\nFLOW_RE", 'SULT {"st', 'atus":"completed"}', "\nafter\n"])
      meter.push(Buffer.from(piece));
    expect(meter.lastResultBytes).toBe('{"status":"completed"}'.length);
  });

  test("given a later result line without a newline at the end, when the stream ends, then it is the one measured", () => {
    const meter = new ResultLineMeter();
    meter.push(Buffer.from('FLOW_RESULT {"a":1}\nFLOW_RESULT {"status":"x"}'));
    meter.end();
    expect(meter.lastResultBytes).toBe('{"status":"x"}'.length);
  });
});

describe("chainedEvents budget", () => {
  const limits: ChainLimits = { maxDepth: 20, maxNext: 10, maxChainEvents: 50 };
  const result = (n: number) => ({
    status: "completed" as const,
    next: Array.from({ length: n }, () => ({ type: "tree.node" })),
  });

  test("given a chain in which every result asks for 3 more, when it runs to the end, then it starts at most the budget in all", () => {
    let total = 0;
    let frontier = [command("run-root", anEvent())];
    for (let depth = 0; frontier.length > 0 && depth < 30; depth++) {
      const next = frontier.flatMap((c) => chainedEvents(result(3), c, T0, limits).events);
      total += next.length;
      frontier = next.map((e, i) => ({
        ...command(`run-${depth}-${i}`, e.event),
        chainDepth: e.chain!.depth,
        ...(e.chain!.budget !== undefined ? { chainBudget: e.chain!.budget } : {}),
      }));
    }
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(limits.maxChainEvents);
  });

  // Issue 18 item 7: every event matches three steps; each run asks for `asks` more events.
  const threeSteps = {
    match: () =>
      ["a", "b", "c"].map((name) => ({
        flow: { name: "fan", version: 1 },
        step: { name, runner: "bun", policy: { runsOn: undefined, concurrency: undefined } },
        matched: true,
        reasons: [],
      })),
  } as never;
  const wholeChain = (asks: number, chainLimits: ChainLimits) => {
    let events = 0;
    let runs = 0;
    let frontier = [accepted(anEvent({ id: "root", type: "tree.node" }))];
    for (let level = 0; frontier.length > 0 && level <= chainLimits.maxDepth; level++) {
      const commands = frontier.flatMap((event) => decide(event, threeSteps, T0).commands);
      runs += commands.length;
      frontier = commands.flatMap((c) => chainedEvents(result(asks), c, T0, chainLimits).events);
      events += frontier.length;
    }
    return { events, runs };
  };

  test("given three steps matching every event (limits 20/4), when each run asks for 10 more, then the whole chain starts at most 20 events", () => {
    const { events, runs } = wholeChain(10, { maxDepth: 8, maxNext: 4, maxChainEvents: 20 });
    expect(events).toBeGreaterThan(0);
    expect(events).toBeLessThanOrEqual(20);
    expect(runs).toBeLessThanOrEqual(3 * (20 + 1));
  });

  test("given the default limits and three steps asking for 10 each, then the chain starts at most 1000 events", () => {
    const { events } = wholeChain(10, { maxDepth: 8, maxNext: 100, maxChainEvents: 1000 });
    expect(events).toBeGreaterThan(0);
    expect(events).toBeLessThanOrEqual(1000);
  });

  test("given one of three runs of an event with 20 left, when it starts 3, then what it started, their shares and what it left add up to its third, and its run event carries the rest", () => {
    const run = command("run-share", anEvent(), { chainBudget: 20, chainShares: 3 });
    expect(runBudget(run, limits)).toBe(6);
    const chained = chainedEvents(result(3), run, T0, limits);
    const shares = chained.events.map((e) => e.chain!.budget!);
    expect(chained.events.length + shares.reduce((a, b) => a + b, 0) + chained.unspent).toBe(6);
    const failed = runEventFor(run, { ...finished("run-share", 1), status: "failed" }, T0, chained.unspent)!;
    expect(failed.chain!.budget).toBe(chained.unspent);
  });

  test("given a result asking for more than one result may start, then the first ones start and the cut is named", () => {
    const chained = chainedEvents(result(12), command("run-a"), T0, limits);
    expect(chained.events).toHaveLength(10);
    expect(chained.problems).toEqual([
      "next events cut: the result asked for 12, 10 started, 2 not started: one result may start at most 10 (CODEX_FLOW_MAX_NEXT_EVENTS)",
    ]);
  });
});

describe("utf8Pieces", () => {
  test("given text with multi-byte characters, when cut, then no piece is over the limit and none splits a character", () => {
    const text = "é€😀".repeat(1000);
    const pieces = utf8Pieces(text, 100);
    expect(pieces.join("")).toBe(text);
    for (const piece of pieces) expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(100);
  });
});

describe("fitDecision", () => {
  const index = {
    match: () => [
      {
        flow: { name: "f", version: 1 },
        step: { name: "s", runner: "bun", policy: { runsOn: undefined, concurrency: undefined } },
        matched: true,
        reasons: [],
      },
    ],
  } as never;

  test("given a command over the limit, when fitted, then it is not sent and the step's decision says why", () => {
    const decision = decide(accepted(anEvent({ payload: { blob: "x".repeat(5_000) } })), index, T0);
    const fitted = fitDecision(decision, 4_000);
    expect(fitted.commands).toEqual([]);
    const [d] = JSON.parse(fitted.matched).decisions;
    expect(d.matched).toBe(false);
    expect(d.runId).toBeUndefined();
    expect(d.reasons.at(-1)).toMatch(
      new RegExp(
        `^not started: its run\\.step command would be \\d+ bytes, over the limit of ${4_000 - ENVELOPE_ALLOWANCE} `,
      ),
    );
  });

  test("given a command that fits, when fitted, then it is sent unchanged", () => {
    const decision = decide(accepted(), index, T0);
    expect(fitDecision(decision, 1_000_000).commands.map((c) => c.command)).toEqual(decision.commands);
  });
});

describe("a FlowEvent's length limits count code points, as JSON Schema (and the OpenAPI document) does", () => {
  test("given 40 mathematical letters (80 UTF-16 units) as occurredAt, when parsed, then it fits the limit of 64; 65 of them do not", () => {
    expect(parseFlowEvent({ id: "a", type: "x.y", occurredAt: "𝕿".repeat(40) }, new Date())).toMatchObject({
      ok: true,
    });
    expect(parseFlowEvent({ id: "a", type: "x.y", occurredAt: "𝕿".repeat(65) }, new Date())).toEqual({
      ok: false,
      errors: ["occurredAt: expected string length less or equal to 64"],
    });
  });
});
