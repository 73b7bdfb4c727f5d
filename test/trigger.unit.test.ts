import { afterAll, afterEach, describe, expect, mock, spyOn, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv";
import { type Flow, parseManifest } from "../lib/flows/manifest.ts";
import { compileTriggers } from "../lib/flows/trigger.ts";
import type { FlowEvent } from "../lib/protocol/event.ts";

const temp = mkdtempSync(join(tmpdir(), "trigger-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const RELEASE_SCHEMA = JSON.stringify({
  type: "object",
  required: ["tag"],
  properties: { repo: { type: "string" }, tag: { type: "string" }, url: { type: "string", format: "uri" } },
});

type StepSpec = { name: string; type: string; schema?: string };

/** A flow folder in a fresh temp dir with the given schema files; scripts need not exist for matching. */
function flowWith(name: string, steps: StepSpec[], schemas: Record<string, string> = {}): Flow {
  const root = mkdtempSync(join(temp, `${name}-`));
  mkdirSync(join(root, "schemas"));
  for (const [file, content] of Object.entries(schemas)) writeFileSync(join(root, "schemas", file), content);
  const toml = steps
    .map(
      (s) =>
        `[[steps]]\nname = "${s.name}"\nrunner = "bun"\nscript = "run.ts"\n[steps.trigger]\ntype = "${s.type}"\n${s.schema ? `schema = "schemas/${s.schema}"\n` : ""}`,
    )
    .join("\n");
  return parseManifest(`name = "${name}"\n${toml}`, join(root, "flow.toml"));
}

function event(type: string, payload: unknown): FlowEvent {
  return { id: "e-1", type, receivedAt: "2025-01-01T00:00:00.000Z", payload };
}

const summary = (matches: ReturnType<ReturnType<typeof compileTriggers>["match"]>) =>
  matches.map((m) => ({ step: `${m.flow.name}/${m.step.name}`, matched: m.matched, reasons: m.reasons }));

describe("compileTriggers", () => {
  // spyOn patches the shared Ajv prototype; put it back for the other tests.
  afterEach(() => mock.restore());

  test("given steps of several flows, when an event arrives, then every step is reported in flow-name then step order", () => {
    const zeta = flowWith("zeta", [{ name: "only", type: "a.b" }]);
    const alpha = flowWith("alpha", [
      { name: "second-type", type: "other.type" },
      { name: "any-payload", type: "a.b" },
    ]);
    const index = compileTriggers([zeta, alpha]);
    expect(index.flows.map((f) => f.name)).toEqual(["alpha", "zeta"]);
    expect(summary(index.match(event("a.b", {})))).toEqual([
      { step: "alpha/second-type", matched: false, reasons: ['type differs: step wants "other.type", event is "a.b"'] },
      { step: "alpha/any-payload", matched: true, reasons: [] },
      { step: "zeta/only", matched: true, reasons: [] },
    ]);
  });

  test("given a step type that only differs in case, when matching, then it does not match (types are exact)", () => {
    const index = compileTriggers([flowWith("f", [{ name: "s", type: "Upstream.Release" }])]);
    expect(index.match(event("upstream.release", {}))[0]?.matched).toBe(false);
  });

  test("given a payload schema, when the payload breaks it, then each violation is a reason with its path", () => {
    const flow = flowWith("f", [{ name: "s", type: "upstream.release", schema: "release.schema.json" }], {
      "release.schema.json": RELEASE_SCHEMA,
    });
    const index = compileTriggers([flow]);
    expect(index.problems).toEqual([]);
    expect(index.match(event("upstream.release", { repo: 7, url: "not a uri" }))[0]).toMatchObject({
      matched: false,
      reasons: [
        "schema: / must have required property 'tag'",
        "schema: /repo must be string",
        'schema: /url must match format "uri"',
      ],
    });
    expect(index.match(event("upstream.release", { repo: "openai/codex", tag: "v1" }))[0]?.matched).toBe(true);
  });

  test("given two steps sharing one schema file, when compiling, then the schema is compiled once", () => {
    const compile = spyOn(Ajv.prototype, "compile");
    const flow = flowWith(
      "f",
      [
        { name: "one", type: "upstream.release", schema: "release.schema.json" },
        { name: "two", type: "upstream.release", schema: "release.schema.json" },
      ],
      { "release.schema.json": JSON.stringify({ $id: "release", ...JSON.parse(RELEASE_SCHEMA) }) },
    );
    const index = compileTriggers([flow]);
    expect(compile).toHaveBeenCalledTimes(1);
    expect(index.problems).toEqual([]);
    expect(index.match(event("upstream.release", { tag: "v1" })).map((m) => m.matched)).toEqual([true, true]);
    index.match(event("upstream.release", { tag: "v2" }));
    expect(compile).toHaveBeenCalledTimes(1);
  });

  const unusable: [string, Record<string, string>, string][] = [
    ["is missing", {}, "file not found"],
    ["is not JSON", { "bad.schema.json": "{ nope" }, "not valid JSON"],
    ["does not compile", { "bad.schema.json": JSON.stringify({ type: "no-such-type" }) }, "schema is invalid"],
  ];
  for (const [what, schemas, why] of unusable) {
    test(`given a trigger schema that ${what}, when compiling, then it is a problem and the step never matches`, () => {
      const flow = flowWith(
        "f",
        [
          { name: "s", type: "t.x", schema: "bad.schema.json" },
          { name: "plain", type: "t.x" },
        ],
        schemas,
      );
      const schemaPath = join(flow.root, "schemas/bad.schema.json");
      const index = compileTriggers([flow]);
      expect(index.problems).toHaveLength(1);
      expect(index.problems[0]?.path).toBe(schemaPath);
      expect(index.problems[0]?.message).toContain(why);
      const [broken, plain] = index.match(event("t.x", {}));
      expect(broken?.matched).toBe(false);
      expect(broken?.reasons[0]).toStartWith(`schema: unusable trigger schema ${schemaPath} (`);
      expect(broken?.reasons[0]).toContain(why);
      expect(plain?.matched).toBe(true);
    });
  }
});
