// Issue 23, item 2: a flow.toml's errors all at once, each with its line; a schema's bad regex named as such.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { discoverFlows } from "../lib/flows/discovery.ts";
import { ManifestError, parseManifest } from "../lib/flows/manifest.ts";
import { fieldLine } from "../lib/flows/toml-lines.ts";
import { compileTriggers } from "../lib/flows/trigger.ts";
import { tempDir } from "./support/temp.ts";

const PATH = "/flows/demo/flow.toml";

function errorsOf(text: string): ManifestError[] {
  try {
    parseManifest(text, PATH);
  } catch (error) {
    if (error instanceof ManifestError) return error.all;
    throw error;
  }
  throw new Error("expected parseManifest to throw a ManifestError");
}

const BROKEN = `name = "demo"
version = 1
colour = "blue"

[[steps]]
name = "first"
runner = "python"
script = "exec/first.ts"
timeout_ms = "soon"

[steps.trigger]
type = "demo.go"

[[steps]]
name = "second"
script = "exec/second.ts"
runner = "bun"
trigger = { type = "demo.*" }
`;

describe("a manifest's errors", () => {
  test("given four mistakes in one file, when parsed, then all four are reported in order, each with its field and line", () => {
    const errors = errorsOf(BROKEN);
    expect(errors.map((e) => [e.field, e.line])).toEqual([
      ["colour", 3],
      ["steps[0].runner", 7],
      ["steps[0].timeout_ms", 9],
      ["steps[1].trigger.type", 18],
    ]);
    expect(errors[1]!.message).toBe(
      `${PATH}: steps[0].runner: expected one of "bun", "code-mode", got string "python" (line 7)`,
    );
  });

  test("given a key that is missing, when parsed, then the line is its table's", () => {
    const errors = errorsOf(
      'name = "demo"\n\n[[steps]]\nname = "one"\nrunner = "bun"\n\n[steps.trigger]\ntype = "demo.go"\n',
    );
    expect(errors.map((e) => [e.field, e.line])).toEqual([["steps[0].script", 3]]);
  });

  test("given a syntax error, when parsed, then the one error carries smol-toml's line and column", () => {
    const errors = errorsOf('name = "demo"\nversion = = 2\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.field).toBe("toml");
    expect(errors[0]!.line).toBe(2);
    expect(errors[0]!.message).toContain("(line 2, column");
  });

  test("fieldLine follows arrays of tables, sub-tables, dotted keys and inline tables; none for what is not there", () => {
    const text =
      '[[steps]]\nname = "a"\n[[steps]]\nname = "b"\n[steps.trigger]\ntype = "x"\n[config]\nnested.key = 1\n[[schedules]]\nevent = { type = "t" }\n';
    expect(fieldLine(text, "steps[1].name")).toBe(4);
    expect(fieldLine(text, "steps[1].trigger.type")).toBe(6);
    expect(fieldLine(text, "steps[0].trigger")).toBe(1);
    expect(fieldLine(text, "config.nested.key")).toBe(8);
    expect(fieldLine(text, "schedules[0].event.type")).toBe(10);
    expect(fieldLine(text, "retention")).toBeUndefined();
  });

  test("given a flow folder with two mistakes, when discovered, then flow list's problems are both, each with its line", () => {
    const cwd = tempDir("codex-flows-manifest-");
    mkdirSync(join(cwd, "flows", "demo", "exec"), { recursive: true });
    writeFileSync(join(cwd, "flows", "demo", "flow.toml"), BROKEN);
    const { problems } = discoverFlows(cwd);
    expect(problems.map((p) => p.message.match(/: (\S+): .*\(line (\d+)\)$/)?.slice(1))).toEqual([
      ["colour", "3"],
      ["steps[0].runner", "7"],
      ["steps[0].timeout_ms", "9"],
      ["steps[1].trigger.type", "18"],
    ]);
  });
});

describe("a trigger schema's regular expression", () => {
  test("given a schema whose pattern does not compile, then the problem says so, not that the JSON is invalid", () => {
    const cwd = tempDir("codex-flows-schema-");
    const root = join(cwd, "flows", "demo");
    mkdirSync(join(root, "exec"), { recursive: true });
    mkdirSync(join(root, "schemas"), { recursive: true });
    writeFileSync(join(root, "exec", "go.ts"), "");
    writeFileSync(
      join(root, "schemas", "go.json"),
      JSON.stringify({ type: "object", properties: { tag: { type: "string", pattern: "^v[0-9" } } }),
    );
    writeFileSync(
      join(root, "flow.toml"),
      'name = "demo"\n[[steps]]\nname = "go"\nrunner = "bun"\nscript = "exec/go.ts"\n[steps.trigger]\ntype = "demo.go"\nschema = "schemas/go.json"\n',
    );
    const discovery = discoverFlows(cwd);
    const { problems } = compileTriggers(discovery.flows, discovery.problems);
    const message = problems.map((p) => p.message).join("\n");
    expect(message).toContain(
      `trigger schema unusable: an invalid regular expression at /properties/tag/pattern "^v[0-9" (Invalid regular expression: `,
    );
    expect(message).not.toContain("not valid JSON");
  });
});
