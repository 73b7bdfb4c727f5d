// The release-flow helpers inside flows/openai-codex-bindings/exec/lib: pure parts only.
import { describe, expect, test } from "bun:test";
import { boundRecords, type CommandRecord, truncate } from "../flows/openai-codex-bindings/exec/lib/commands.ts";
import { splitDelivery } from "../flows/openai-codex-bindings/exec/lib/deliver.ts";
import {
  flag,
  fromEnvOrConfig,
  Outcome,
  parseStepInput,
  versionFromTag,
} from "../flows/openai-codex-bindings/exec/lib/release.ts";
import { inside } from "../flows/openai-codex-bindings/exec/lib/repo.ts";
import { readSettings } from "../flows/openai-codex-bindings/exec/lib/settings.ts";

/** The Outcome a call throws (the flow's early ends are Outcomes). */
function outcome(call: () => unknown): Outcome {
  try {
    call();
  } catch (error) {
    if (error instanceof Outcome) return error;
    throw error;
  }
  throw new Error("expected an Outcome");
}

describe("versionFromTag", () => {
  test.each([
    ["rust-v0.169.0", "0.169.0"],
    ["v1.2.3", "1.2.3"],
    ["rust-v0.170.0-alpha.2", "0.170.0-alpha.2"],
    ["codex 10.20.30 (stable)", "10.20.30"],
  ])("given the tag %p, then the version is %p", (tag, version) => {
    expect(versionFromTag(tag)).toBe(version);
  });

  test("given a tag without MAJOR.MINOR.PATCH, then the step is failed naming the tag", () => {
    expect(outcome(() => versionFromTag("rust-v0.169"))).toMatchObject({
      status: "failed",
      message: 'release tag "rust-v0.169" holds no MAJOR.MINOR.PATCH version (expected e.g. rust-v0.169.0)',
    });
  });
});

describe("flag", () => {
  test("given no variable, then the config value, else the fallback", () => {
    expect(flag({ push: true }, {}, "push", false)).toBe(true);
    expect(flag({}, {}, "push", false)).toBe(false);
  });

  test.each(["1", "true", "YES", " on "])("given CODEX_FLOW_PUSH=%p, then it overrides push = false", (value) => {
    expect(flag({ push: false }, { CODEX_FLOW_PUSH: value }, "push", false)).toBe(true);
  });

  test.each(["0", "false", "no", "OFF"])("given CODEX_FLOW_PUBLISH=%p, then it overrides publish = true", (value) => {
    expect(flag({ publish: true }, { CODEX_FLOW_PUBLISH: value }, "publish", false)).toBe(false);
  });

  test("given an empty variable, then the config decides", () => {
    expect(flag({ force: true }, { CODEX_FLOW_FORCE: "" }, "force", false)).toBe(true);
  });

  test("given a value that is no boolean, then failed naming the variable (a typo never silently means no)", () => {
    expect(outcome(() => flag({}, { CODEX_FLOW_PUSH: "ture" }, "push", false)).message).toBe(
      'CODEX_FLOW_PUSH="ture" is not a boolean (expected 1/true/yes/on or 0/false/no/off)',
    );
    expect(outcome(() => flag({ push: "yes" }, {}, "push", false)).message).toBe(
      'config push must be true or false, got "yes"',
    );
  });
});

describe("fromEnvOrConfig (the *_env convention)", () => {
  const config = { repo: "/srv/checkout", repo_env: "MY_REPO" };
  test("given the named variable is set, then it wins", () => {
    expect(fromEnvOrConfig(config, { MY_REPO: "/elsewhere" }, "repo")).toEqual({
      value: "/elsewhere",
      from: "$MY_REPO",
    });
  });
  test("given it is unset or blank, then the config value", () => {
    expect(fromEnvOrConfig(config, { MY_REPO: "  " }, "repo")).toEqual({ value: "/srv/checkout", from: "config repo" });
  });
  test("given neither, then nothing", () => {
    expect(fromEnvOrConfig({ repo_env: "MY_REPO" }, {}, "repo")).toBeUndefined();
  });
});

describe("readSettings", () => {
  test("given an empty [config], then the original's defaults, push and publish off (and no approval asked)", () => {
    expect(readSettings({}, {})).toEqual({
      packageName: "@peezy.tech/codex-flows",
      generatedDir: "packages/codex-client/src/app-server/generated",
      packageJson: "packages/codex-client/package.json",
      checks: undefined,
      commit: true,
      force: false,
      push: false,
      publish: false,
      approvePush: false,
      approvePublish: false,
      pushRemote: "origin",
      publishRemote: "github",
      branch: "main",
      githubRepo: "peezy-tech/codex-flows",
      githubPublishWorkflow: "publish-codex-flows.yml",
    });
  });

  test("given checks as strings and argv lists, then each is an argv (no shell)", () => {
    expect(readSettings({ checks: ["bun run test", ["bun", "run", "check:types"]] }, {}).checks).toEqual([
      ["bun", "run", "test"],
      ["bun", "run", "check:types"],
    ]);
    expect(readSettings({ checks: [] }, {}).checks).toEqual([]);
  });

  test("given a bad check or a name that reads as an option, then failed naming the key", () => {
    expect(outcome(() => readSettings({ checks: ["ok", []] }, {})).message).toBe(
      "config checks[1] must be a command: a non-empty string or a list of non-empty strings, got []",
    );
    expect(outcome(() => readSettings({ push_remote: "--upload-pack=evil" }, {})).message).toBe(
      'config push_remote = "--upload-pack=evil" is not a usable name',
    );
    expect(outcome(() => readSettings({ github_repo: "no-slash" }, {})).message).toBe(
      'config github_repo = "no-slash" is not a usable name',
    );
  });
});

describe("inside", () => {
  test("given paths inside the repository, then absolute; outside or the root itself, then failed naming the key", () => {
    expect(inside("/repo", "src/generated", "generated_dir")).toBe("/repo/src/generated");
    expect(outcome(() => inside("/repo", "../other", "generated_dir")).message).toBe(
      'config generated_dir = "../other" must name a path inside the repository /repo',
    );
    expect(outcome(() => inside("/repo", ".", "generated_dir")).status).toBe("failed");
    expect(outcome(() => inside("/repo", "/etc/passwd", "package_json")).status).toBe("failed");
  });
});

describe("parseStepInput", () => {
  test("given the seed's stdin, then the flow object; given anything else, then failed", () => {
    const input = parseStepInput(
      JSON.stringify({
        flow: {
          name: "f",
          version: 1,
          root: "/r",
          step: "s",
          config: { a: 1 },
          event: { id: "e", type: "t", payload: { tag: "v1.0.0" } },
        },
      }),
    );
    expect(input).toMatchObject({ name: "f", config: { a: 1 }, event: { payload: { tag: "v1.0.0" } } });
    expect(outcome(() => parseStepInput("nope")).message).toStartWith("stdin is not JSON");
    expect(outcome(() => parseStepInput("{}")).message).toBe('stdin must be {"flow": {...}}');
  });
});

describe("command records stay small", () => {
  test("given long output, then its head and tail are kept and the cut is counted", () => {
    const long = `${"a".repeat(2000)}${"b".repeat(5000)}${"c".repeat(3000)}`;
    const cut = truncate(long);
    expect(cut.startsWith("a".repeat(1000))).toBe(true);
    expect(cut.endsWith("c".repeat(3000))).toBe(true);
    expect(cut).toContain("[6000 characters cut]");
    expect(truncate("short")).toBe("short");
  });

  test("given many large records, then the JSON fits the budget and failed commands keep their output longest", () => {
    const record = (exitCode: number): CommandRecord => ({
      label: "x",
      argv: ["x"],
      cwd: "/",
      exitCode,
      durationMs: 1,
      stdout: "o".repeat(4000),
      stderr: "e".repeat(4000),
    });
    const records = [...Array.from({ length: 30 }, () => record(0)), record(1)];
    const bounded = boundRecords(records, 96_000);
    expect(JSON.stringify(bounded).length).toBeLessThanOrEqual(96_000);
    expect(bounded.at(-1)!.stderr).toHaveLength(4000);
    expect(bounded[0]!.stdout.length).toBeLessThan(400);
  });
});

describe("splitDelivery (approve_push / approve_publish)", () => {
  const settings = (config: Record<string, unknown>) => readSettings(config, {});
  test("given neither approval key, then push and publish happen now, as before", () => {
    expect(splitDelivery(settings({ push: true, publish: true }))).toEqual({
      now: { push: true, publish: true },
      held: { push: false, publish: false },
    });
  });
  test("given approve_publish, then the push happens now and the publish waits", () => {
    expect(splitDelivery(settings({ push: true, publish: true, approve_publish: true }))).toEqual({
      now: { push: true, publish: false },
      held: { push: false, publish: true },
    });
  });
  test("given approve_push, then the push waits and the publish after it waits too", () => {
    expect(splitDelivery(settings({ push: true, publish: true, approve_push: true }))).toEqual({
      now: { push: false, publish: false },
      held: { push: true, publish: true },
    });
  });
  test("given approval keys for what is off, then nothing waits", () => {
    expect(splitDelivery(settings({ approve_push: true, approve_publish: true }))).toEqual({
      now: { push: false, publish: false },
      held: { push: false, publish: false },
    });
  });
  test("given CODEX_FLOW_APPROVE_PUBLISH=1, then the environment turns it on", () => {
    expect(readSettings({}, { CODEX_FLOW_APPROVE_PUBLISH: "1" }).approvePublish).toBe(true);
  });
});
