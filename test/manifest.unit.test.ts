import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_TIMEOUT_MS, loadManifest, ManifestError, parseManifest } from "../lib/flows/manifest.ts";
import { DEFAULT_STEP_POLICY } from "../lib/flows/step-policy.ts";

const PATH = "/repo/flows/demo/flow.toml";
const STEP = `
[[steps]]
name = "do-work"
runner = "bun"
script = "exec/do-work.ts"

[steps.trigger]
type = "upstream.release"
`;
const manifest = (head = 'name = "demo"', steps = STEP) => `${head}\n${steps}`;

/** Runs parseManifest and returns the ManifestError it throws. */
function rejection(text: string): ManifestError {
  try {
    parseManifest(text, PATH);
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error("expected parseManifest to throw a ManifestError");
}

describe("parseManifest", () => {
  test("given the seed's example manifest, when parsed, then every field and resolved path is there", () => {
    const flow = parseManifest(
      `name = "example-flow"\nversion = 2\ndescription = "Short."\n[config]\ncommit = true\n[guidance]\nskills = ["git"]\n` +
        `[[steps]]\nname = "do-work"\nrunner = "code-mode"\nscript = "exec/do-work.ts"\ntimeout_ms = 1000\ncwd = "../.."\n` +
        `[steps.trigger]\ntype = "upstream.release"\nschema = "schemas/upstream-release.schema.json"\n`,
      PATH,
    );
    expect(flow).toEqual({
      name: "example-flow",
      version: 2,
      description: "Short.",
      config: { commit: true },
      guidance: { skills: ["git"] },
      root: "/repo/flows/demo",
      manifestPath: PATH,
      steps: [
        {
          name: "do-work",
          runner: "code-mode",
          script: "exec/do-work.ts",
          scriptPath: "/repo/flows/demo/exec/do-work.ts",
          timeoutMs: 1000,
          cwd: "../..",
          workingDirectory: "/repo",
          trigger: {
            type: "upstream.release",
            schema: "schemas/upstream-release.schema.json",
            schemaPath: "/repo/flows/demo/schemas/upstream-release.schema.json",
          },
          policy: DEFAULT_STEP_POLICY,
        },
      ],
    });
  });

  test("given a minimal manifest, when parsed, then version, config, timeout and working directory take their defaults", () => {
    const flow = parseManifest(manifest(), PATH);
    expect(flow.version).toBe(1);
    expect(flow.config).toEqual({});
    expect(flow.description).toBeUndefined();
    expect(flow.steps[0]?.timeoutMs).toBe(DEFAULT_TIMEOUT_MS);
    expect(flow.steps[0]?.workingDirectory).toBe("/repo/flows/demo");
    expect(flow.steps[0]?.trigger).toEqual({ type: "upstream.release" });
  });

  test("given broken TOML, when parsed, then the error is on field toml and gives line and column", () => {
    const error = rejection('name = "demo"\nversion = \n');
    expect(error.field).toBe("toml");
    expect(error.message).toStartWith(`${PATH}: toml: `);
    expect(error.message).toContain("line 2, column");
  });

  test("given [env] secrets, when parsed, then the flow names the secret-looking variables its steps receive", () => {
    expect(
      parseManifest(manifest('name = "demo"\n[env]\nsecrets = ["NOTIFY_WEBHOOK_SECRET", "GH_TOKEN"]'), PATH).env,
    ).toEqual({ secrets: ["NOTIFY_WEBHOOK_SECRET", "GH_TOKEN"] });
    expect(parseManifest(manifest(), PATH).env).toBeUndefined();
  });

  const cases: [string, string, string, string][] = [
    ["a missing name", manifest(""), "name", "expected a non-empty name"],
    ["a name with a space", manifest('name = "my flow"'), "name", '"my flow"'],
    ["version zero", manifest('name = "demo"\nversion = 0'), "version", "integer >= 1"],
    ["a fractional version", manifest('name = "demo"\nversion = 1.5'), "version", "integer >= 1"],
    [
      "a description that is not a string",
      manifest('name = "demo"\ndescription = 3'),
      "description",
      "expected a string, got number 3",
    ],
    ["config that is not a table", manifest('name = "demo"\nconfig = 3'), "config", "expected a table"],
    [
      "a skill that is not a string",
      manifest('name = "demo"\n[guidance]\nskills = ["a", 2]'),
      "guidance.skills[1]",
      "non-empty string",
    ],
    [
      "env secrets that are not a list",
      manifest('name = "demo"\n[env]\nsecrets = "GH_TOKEN"'),
      "env.secrets",
      "expected an array of variable names",
    ],
    [
      "an env secret that is no variable name",
      manifest('name = "demo"\n[env]\nsecrets = ["GH TOKEN"]'),
      "env.secrets[0]",
      "environment variable name",
    ],
    [
      "the system's own secret in env secrets",
      manifest('name = "demo"\n[env]\nsecrets = ["GH_TOKEN", "NATS_URL"]'),
      "env.secrets[1]",
      "NATS_URL is one of the system's own secrets, which no step gets",
    ],
    ["a misspelt env key", manifest('name = "demo"\n[env]\npass = ["GH_TOKEN"]'), "env.pass", 'unknown key "pass"'],
    ["a misspelt top-level key", manifest('name = "demo"\ndescripton = "x"'), "descripton", 'unknown key "descripton"'],
    ["no steps", manifest('name = "demo"', ""), "steps", "at least one [[steps]]"],
    [
      "an unknown runner",
      manifest(undefined, STEP.replace('"bun"', '"node"')),
      "steps[0].runner",
      '"bun", "code-mode"',
    ],
    [
      "a missing script",
      manifest(undefined, STEP.replace('script = "exec/do-work.ts"', "")),
      "steps[0].script",
      "non-empty string",
    ],
    [
      "a script that climbs out",
      manifest(undefined, STEP.replace('"exec/do-work.ts"', '"../other/x.ts"')),
      "steps[0].script",
      "inside the flow folder",
    ],
    [
      "an absolute script outside",
      manifest(undefined, STEP.replace('"exec/do-work.ts"', '"/etc/passwd"')),
      "steps[0].script",
      "inside the flow folder",
    ],
    [
      "a negative timeout",
      manifest(undefined, `${STEP.replace("[steps.trigger]", "timeout_ms = -5\n[steps.trigger]")}`),
      "steps[0].timeout_ms",
      "positive integer",
    ],
    [
      "an absolute cwd",
      manifest(undefined, STEP.replace("[steps.trigger]", 'cwd = "/tmp"\n[steps.trigger]')),
      "steps[0].cwd",
      "relative",
    ],
    [
      "a misspelt step key",
      manifest(undefined, STEP.replace("[steps.trigger]", "timeout = 5\n[steps.trigger]")),
      "steps[0].timeout",
      'unknown key "timeout"',
    ],
    [
      "no trigger",
      manifest(undefined, STEP.replace(/\[steps\.trigger\][\s\S]*/, "")),
      "steps[0].trigger",
      "expected a table",
    ],
    [
      "a trigger type with a wildcard",
      manifest(undefined, STEP.replace("upstream.release", "upstream.*")),
      "steps[0].trigger.type",
      "dot-separated",
    ],
    [
      "a schema outside the flow",
      manifest(undefined, `${STEP}schema = "../s.json"\n`),
      "steps[0].trigger.schema",
      "inside the flow folder",
    ],
    [
      "a misspelt trigger key",
      manifest(undefined, `${STEP}shcema = "s.json"\n`),
      "steps[0].trigger.shcema",
      'unknown key "shcema"',
    ],
    ["a duplicate step name", manifest(undefined, STEP + STEP), "steps[1].name", 'duplicate step name "do-work"'],
  ];
  for (const [given, text, field, expected] of cases) {
    test(`given ${given}, when parsed, then the error names the path and ${field}`, () => {
      const error = rejection(text);
      expect(error.path).toBe(PATH);
      expect(error.field).toBe(field);
      expect(error.message).toStartWith(`${PATH}: ${field}: `);
      expect(error.message).toContain(expected);
    });
  }

  test("given the second step has a bad timeout, when parsed, then the field points at steps[1]", () => {
    const second = STEP.replace("do-work", "other").replace("[steps.trigger]", 'timeout_ms = "soon"\n[steps.trigger]');
    expect(rejection(manifest(undefined, STEP + second)).field).toBe("steps[1].timeout_ms");
  });

  test("given an absolute script path inside the flow folder, when parsed, then it is accepted", () => {
    const flow = parseManifest(
      manifest(undefined, STEP.replace('"exec/do-work.ts"', '"/repo/flows/demo/exec/x.ts"')),
      PATH,
    );
    expect(flow.steps[0]?.scriptPath).toBe("/repo/flows/demo/exec/x.ts");
  });
});

describe("loadManifest", () => {
  const temp = mkdtempSync(join(tmpdir(), "manifest-"));
  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  test("given a manifest whose script file is missing, when loaded, then the error names the step's script", () => {
    const root = mkdtempSync(join(temp, "flow-"));
    writeFileSync(join(root, "flow.toml"), manifest());
    expect(() => loadManifest(join(root, "flow.toml"))).toThrow(
      `${join(root, "flow.toml")}: steps[0].script: script "exec/do-work.ts" not found`,
    );
  });

  test("given a manifest and its script on disk, when loaded, then the flow's root is the manifest's folder", () => {
    const root = mkdtempSync(join(temp, "flow-"));
    mkdirSync(join(root, "exec"));
    writeFileSync(join(root, "exec", "do-work.ts"), "");
    writeFileSync(join(root, "flow.toml"), manifest());
    const flow = loadManifest(join(root, "flow.toml"));
    expect(flow.root).toBe(root);
    expect(flow.steps[0]?.scriptPath).toBe(join(root, "exec", "do-work.ts"));
  });
});
