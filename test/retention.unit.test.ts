import { describe, expect, test } from "bun:test";
import { loadConfig } from "../lib/config.ts";
import { parseManifest } from "../lib/flows/manifest.ts";
import { effectiveRetention, eventsBefore, keepsEverything, retentionRules } from "../lib/flows/retention.ts";
import { parseSelection } from "../services/ingress/data/queries.ts";
import { accepted, anEvent } from "./support/messages.ts";
import { memoryReadModel } from "./support/read-state.ts";

const NOW = Date.parse("2026-12-07T00:00:00.000Z");
const MANIFEST = (retention: string) =>
  `name = "keep"\n${retention}\n[[steps]]\nname = "a"\nrunner = "bun"\nscript = "a.ts"\n[steps.trigger]\ntype = "demo.tick"\n`;

describe("retention policy", () => {
  test("given [retention] in flow.toml, then its keys are read and 0 means kept for ever", () => {
    const flow = parseManifest(MANIFEST("[retention]\ndays = 7\nruns = 0\nfailed_days = 30"), "/flows/keep/flow.toml");
    expect(flow.retention).toEqual({ days: 7, failedDays: 30 });
  });

  test("given a bad [retention] key or value, then the manifest error names it", () => {
    expect(() => parseManifest(MANIFEST("[retention]\nday = 7"), "/f/flow.toml")).toThrow(
      /retention\.day: unknown key; expected one of days, runs, failed_days, failed_runs/,
    );
    expect(() => parseManifest(MANIFEST("[retention]\ndays = -1"), "/f/flow.toml")).toThrow(
      /retention\.days: expected an integer >= 0/,
    );
    expect(() => parseManifest(MANIFEST('[retention]\nruns = "10"'), "/f/flow.toml")).toThrow(
      /retention\.runs: expected an integer >= 0/,
    );
  });

  test("given a flow without failed_* keys, then failures are kept as long as its other runs", () => {
    expect(effectiveRetention({ days: 30, failedDays: 90 }, { days: 7 })).toEqual({
      days: 7,
      runs: undefined,
      failedDays: 90,
      failedRuns: undefined,
    });
    expect(effectiveRetention({}, { days: 7, runs: 100 })).toEqual({
      days: 7,
      runs: 100,
      failedDays: 7,
      failedRuns: 100,
    });
  });

  test("given defaults and one flow's own policy, when a tick resolves them, then each class gets its cut in time and the defaults skip that flow", () => {
    const rules = retentionRules({ days: 30, failedDays: 90 }, new Map([["keep", { days: 1, runs: 5 }]]), NOW);
    expect(rules).toEqual([
      { flow: "keep", class: "other", before: "2026-12-06T00:00:00.000Z", keepRuns: 5 },
      { flow: "keep", class: "attention", before: "2026-09-08T00:00:00.000Z", keepRuns: 5 },
      { except: ["keep"], class: "other", before: "2026-11-07T00:00:00.000Z" },
      { except: ["keep"], class: "attention", before: "2026-09-08T00:00:00.000Z" },
    ]);
    expect(eventsBefore({ days: 30 }, NOW)).toBe("2026-11-07T00:00:00.000Z");
  });

  test("given no policy anywhere, then a tick has nothing to cut; a flow that keeps everything is left out of the defaults", () => {
    expect(keepsEverything({}, new Map())).toBe(true);
    expect(keepsEverything({}, new Map([["keep", {}]]))).toBe(true);
    expect(
      retentionRules({ days: 1 }, new Map([["keep", { days: 0 }]]), NOW).every(
        (r) => r.flow !== "keep" && r.except?.includes("keep"),
      ),
    ).toBe(true);
  });
});

describe("tombstones in evolve", () => {
  test("given an event deleted by a purge (tombstoned), when its id is accepted again, then nothing is written", () => {
    const model = memoryReadModel();
    model.tombstones.add(anEvent().id);
    expect(model.apply(accepted(), 7)).toEqual([]);
    expect(model.events.size).toBe(0);
  });

  test("given an id never deleted, when it is accepted, then the event is written", () => {
    const model = memoryReadModel();
    model.tombstones.add("some-other-id");
    expect(model.apply(accepted(), 7)).toHaveLength(1);
  });
});

describe("the retention environment and the purge selection", () => {
  test("given CODEX_FLOW_RETENTION_* variables, then they are the defaults; a bad one is named", () => {
    expect(loadConfig({ CODEX_FLOW_RETENTION_DAYS: "30", CODEX_FLOW_RETENTION_FAILED_DAYS: "90" }).retention).toEqual({
      days: 30,
      runs: undefined,
      failedDays: 90,
      failedRuns: undefined,
    });
    expect(loadConfig({}).retention).toEqual({
      days: undefined,
      runs: undefined,
      failedDays: undefined,
      failedRuns: undefined,
    });
    expect(() => loadConfig({ CODEX_FLOW_RETENTION_RUNS: "many" })).toThrow(
      'CODEX_FLOW_RETENTION_RUNS="many" is invalid: expected an integer from 0 to',
    );
  });

  test("given a date, a flow and statuses, then the selection covers those runs and no runless events", () => {
    expect(parseSelection({ before: "2026-06-01", flow: "alpha", status: "failed,needs_intervention" })).toEqual({
      rule: { before: "2026-06-01T00:00:00.000Z", flow: "alpha", statuses: ["failed", "needs_intervention"] },
    });
    expect(parseSelection({ before: "2026-06-01T12:00:00+02:00" })).toEqual({
      rule: { before: "2026-06-01T10:00:00.000Z" },
      eventsBefore: "2026-06-01T10:00:00.000Z",
    });
  });

  test("given a bad date or status, then the error names the parameter and what it expects", () => {
    expect(() => parseSelection({})).toThrow(
      "before: expected a date (2026-01-31) or an ISO time (2026-01-31T12:00:00Z), got null",
    );
    expect(() => parseSelection({ before: "2026-13-45" })).toThrow('got "2026-13-45"');
    expect(() => parseSelection({ before: "2026-06-01", status: "failed;drop" })).toThrow(
      "status: expected comma-separated statuses",
    );
  });
});
