import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { discoverFlows } from "../lib/flows/discovery.ts";
import { compileTriggers } from "../lib/flows/trigger.ts";
import { parseFlowEvent } from "../lib/protocol/event.ts";

const temp = mkdtempSync(join(tmpdir(), "discovery-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A fresh working directory holding the given files (path -> content). */
function workspace(files: Record<string, string>): string {
  const cwd = mkdtempSync(join(temp, "cwd-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(cwd, path)), { recursive: true });
    writeFileSync(join(cwd, path), content);
  }
  return cwd;
}

/** A loadable flow folder: its manifest and its one step's script. */
function flow(dir: string, name: string, description = ""): Record<string, string> {
  return {
    [`${dir}/flow.toml`]: `name = "${name}"\ndescription = "${description}"\n[[steps]]\nname = "s"\nrunner = "bun"\nscript = "run.ts"\n[steps.trigger]\ntype = "t.x"\n`,
    [`${dir}/run.ts`]: "",
  };
}

describe("discoverFlows", () => {
  test("given no flow directories at all, when discovering, then nothing is found and nothing is wrong", () => {
    expect(discoverFlows(workspace({}))).toEqual({ flows: [], problems: [], shadowed: [] });
  });

  test("given flows in both directories, when discovering, then they are listed sorted by name", () => {
    const cwd = workspace({
      ...flow("flows/zeta", "zeta"),
      ...flow(".codex/flows/beta", "beta"),
      ...flow("flows/alpha", "alpha"),
    });
    const found = discoverFlows(cwd);
    expect(found.problems).toEqual([]);
    expect(found.flows.map((f) => f.name)).toEqual(["alpha", "beta", "zeta"]);
    expect(found.flows[1]?.root).toBe(join(cwd, ".codex/flows/beta"));
  });

  test("given the same flow installed in .codex and in flows, when discovering, then the .codex copy wins and the other is shadowed", () => {
    const cwd = workspace({ ...flow(".codex/flows/pkg", "pkg", "installed"), ...flow("flows/pkg", "pkg", "in repo") });
    const found = discoverFlows(cwd);
    expect(found.flows.map((f) => f.description)).toEqual(["installed"]);
    expect(found.shadowed).toEqual([
      { name: "pkg", path: join(cwd, "flows/pkg/flow.toml"), shadowedBy: join(cwd, ".codex/flows/pkg/flow.toml") },
    ]);
  });

  test("given one broken manifest among good ones, when discovering, then the others load and each of its problems names the path, field and line", () => {
    const cwd = workspace({
      ...flow("flows/a", "a"),
      "flows/b/flow.toml": 'name = "b"\nversion = "two"\n',
      ...flow("flows/c", "c"),
    });
    const found = discoverFlows(cwd);
    const manifest = join(cwd, "flows/b/flow.toml");
    expect(found.flows.map((f) => f.name)).toEqual(["a", "c"]);
    expect(found.problems).toEqual([
      {
        path: manifest,
        flow: "b",
        message: `${manifest}: version: expected an integer >= 1, got string "two" (line 2)`,
      },
      { path: manifest, flow: "b", message: `${manifest}: steps: expected at least one [[steps]] table, got nothing` },
    ]);
  });

  test("given a flow whose step script is missing, when discovering, then the flow is dropped and the problem names the script", () => {
    const cwd = workspace({ "flows/a/flow.toml": flow("flows/a", "a")["flows/a/flow.toml"] ?? "" });
    const found = discoverFlows(cwd);
    expect(found.flows).toEqual([]);
    expect(found.problems[0]?.message).toContain('steps[0].script: script "run.ts" not found');
  });

  test("given a broken .codex copy and a working flows copy, when discovering, then the working copy is used and the broken one reported", () => {
    const cwd = workspace({ ".codex/flows/pkg/flow.toml": "name = \n", ...flow("flows/pkg", "pkg") });
    const found = discoverFlows(cwd);
    expect(found.flows.map((f) => f.manifestPath)).toEqual([join(cwd, "flows/pkg/flow.toml")]);
    expect(found.problems.map((p) => p.path)).toEqual([join(cwd, ".codex/flows/pkg/flow.toml")]);
    expect(found.shadowed).toEqual([]);
  });

  test("given two folders of one directory declaring the same name, when discovering, then the first folder wins and the second is a problem", () => {
    const cwd = workspace({ ...flow("flows/one", "same"), ...flow("flows/two", "same") });
    const found = discoverFlows(cwd);
    expect(found.flows.map((f) => f.root)).toEqual([join(cwd, "flows/one")]);
    expect(found.problems).toEqual([
      {
        path: join(cwd, "flows/two/flow.toml"),
        message: `duplicate flow name "same", already declared by ${join(cwd, "flows/one/flow.toml")}`,
      },
    ]);
  });

  test("given folders without a manifest, stray files and a symlinked flow, when discovering, then only flow folders count", () => {
    const cwd = workspace({
      "flows/README.md": "notes",
      "flows/empty/.keep": "",
      ...flow("elsewhere/linked", "linked"),
    });
    symlinkSync(join(cwd, "elsewhere/linked"), join(cwd, "flows/linked"));
    const found = discoverFlows(cwd);
    expect(found.flows.map((f) => f.name)).toEqual(["linked"]);
    expect(found.problems).toEqual([]);
  });

  test("given a script or a schema that is a symlink leading out of the flow folder, when discovering, then the flow is refused naming the field and the target", () => {
    const cwd = workspace({
      ...flow("flows/sneaky", "sneaky"),
      "secret.txt": "s3cret",
      "flows/schemed/flow.toml": `name = "schemed"\n[[steps]]\nname = "s"\nrunner = "bun"\nscript = "run.ts"\n[steps.trigger]\ntype = "t.x"\nschema = "schema.json"\n`,
      "flows/schemed/run.ts": "",
    });
    rmSync(join(cwd, "flows/sneaky/run.ts"));
    symlinkSync(join(cwd, "secret.txt"), join(cwd, "flows/sneaky/run.ts"));
    symlinkSync("../../secret.txt", join(cwd, "flows/schemed/schema.json"));
    const found = discoverFlows(cwd);
    expect(found.flows).toEqual([]);
    const real = realpathSync(cwd);
    expect(found.problems).toEqual([
      {
        path: join(cwd, "flows/schemed/flow.toml"),
        flow: "schemed",
        message: `${join(cwd, "flows/schemed/flow.toml")}: steps[0].trigger.schema: "schema.json" resolves through a symlink to ${real}/secret.txt, outside the flow folder ${real}/flows/schemed`,
      },
      {
        path: join(cwd, "flows/sneaky/flow.toml"),
        flow: "sneaky",
        message: `${join(cwd, "flows/sneaky/flow.toml")}: steps[0].script: "run.ts" resolves through a symlink to ${real}/secret.txt, outside the flow folder ${real}/flows/sneaky`,
      },
    ]);
  });

  test("given a flow folder that is a symlink to outside the working directory, when discovering, then it is refused; one inside is found", () => {
    const outside = workspace(flow("away", "away"));
    const cwd = workspace(flow("elsewhere/near", "near"));
    mkdirSync(join(cwd, "flows"));
    symlinkSync(join(outside, "away"), join(cwd, "flows/away"));
    symlinkSync(join(cwd, "elsewhere/near"), join(cwd, "flows/near"));
    const found = discoverFlows(cwd);
    expect(found.flows.map((f) => f.name)).toEqual(["near"]);
    const manifest = join(cwd, "flows/away/flow.toml");
    expect(found.problems).toEqual([
      {
        path: manifest,
        message: `${manifest}: the flow folder resolves through a symlink to ${realpathSync(join(outside, "away"))}, outside the working directory ${realpathSync(cwd)}`,
      },
    ]);
  });

  test("given this repository, when discovering, then example-flow loads and its sample event matches its greet step", async () => {
    const repo = resolve(import.meta.dir, "..");
    const example = discoverFlows(repo).flows.find((f) => f.name === "example-flow");
    expect(example?.config).toEqual({ greeting: "hello" });
    const parsed = parseFlowEvent(
      await Bun.file(join(repo, "flows/example-flow/events/greet.json")).json(),
      new Date(0),
    );
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    const index = compileTriggers(example ? [example] : []);
    expect(index.problems).toEqual([]);
    expect(index.match(parsed.event).map((m) => [m.step.name, m.matched, m.reasons])).toEqual([["greet", true, []]]);
  });
});
