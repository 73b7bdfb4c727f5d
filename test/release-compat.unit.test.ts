// The original project's two release-flow manifests, exactly as users have them
// installed, load with our loader and match the event Patch sends.
import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { loadManifest } from "../lib/flows/manifest.ts";
import { compileTriggers } from "../lib/flows/trigger.ts";
import { parseFlowEvent } from "../lib/protocol/event.ts";

const ORIGINAL = resolve(import.meta.dir, "fixtures/original-flows");
const OURS = resolve(import.meta.dir, "../flows");
const TAG = "rust-v0.169.0";

function release(repo: string, id = `patch:upstream.release:${repo}:${TAG}`) {
  const parsed = parseFlowEvent(
    {
      id,
      type: "upstream.release",
      source: "patch",
      payload: { provider: "github", repo, tag: TAG, url: `https://github.com/${repo}/releases/tag/${TAG}` },
    },
    new Date(0),
  );
  if (!parsed.ok) throw new Error(`bad event: ${JSON.stringify(parsed)}`);
  return parsed.event;
}

describe("the original release-flow manifests", () => {
  const bindings = loadManifest(join(ORIGINAL, "openai-codex-bindings/flow.toml"));
  const fork = loadManifest(join(ORIGINAL, "peezy-codex-fork/flow.toml"));

  test("given both original manifests, when loaded, then every step, cwd, timeout, [guidance] and config key is kept", () => {
    expect(bindings.steps).toHaveLength(1);
    expect(bindings.steps[0]).toMatchObject({
      name: "regenerate-bindings",
      runner: "bun",
      script: "exec/update-bindings.ts",
      cwd: "../..",
      timeoutMs: 1_200_000,
      trigger: { type: "upstream.release" },
    });
    expect(bindings.steps[0]!.workingDirectory).toBe(resolve(ORIGINAL, ".."));
    expect(Object.keys(bindings.config).sort()).toEqual([
      "commit",
      "generated_dir",
      "github_publish_workflow",
      "github_repo",
      "package_json",
      "package_name",
      "publish",
      "push",
    ]);

    expect(fork.steps[0]).toMatchObject({
      name: "rebase-patch-stack",
      runner: "code-mode",
      script: "exec/update-fork.code-mode.js",
      timeoutMs: 3_600_000,
      trigger: { type: "upstream.release" },
    });
    expect(fork.guidance).toEqual({ skills: ["jojo-development-flow"] });
    expect(fork.config).toMatchObject({
      codex_repo_env: "PEEZY_CODEX_REPO",
      target_branch_env: "PEEZY_CODEX_TARGET_BRANCH",
      cargo_target_dir_env: "PEEZY_CODEX_CARGO_TARGET_DIR",
      squash_patch_stack: true,
      push: false,
      publish: false,
    });
  });

  test("given a Patch-style upstream.release for openai/codex, when matched, then both original steps run; for another repo, neither does", () => {
    const triggers = compileTriggers([bindings, fork]);
    expect(triggers.problems).toEqual([]);
    const matched = triggers.match(release("openai/codex", `patch:upstream.release:openai/codex:${TAG}`));
    expect(matched.map((m) => [m.flow.name, m.step.name, m.matched])).toEqual([
      ["openai-codex-bindings", "regenerate-bindings", true],
      ["peezy-codex-fork", "rebase-patch-stack", true],
    ]);
    const other = triggers.match(release("other/repo"));
    expect(other.map((m) => m.matched)).toEqual([false, false]);
    expect(other[0]!.reasons).toEqual(["schema: /repo must be equal to one of the allowed values"]);
  });

  test("given our openai-codex-bindings, when loaded, then it keeps the original's manifest and every original config key with its default", () => {
    const ours = loadManifest(join(OURS, "openai-codex-bindings/flow.toml"));
    const { workingDirectory: _ours, scriptPath: _s1, trigger: ourTrigger, ...ourStep } = ours.steps[0]!;
    const { workingDirectory: _theirs, scriptPath: _s2, trigger: theirTrigger, ...theirStep } = bindings.steps[0]!;
    expect(ourStep).toEqual(theirStep);
    expect(ourTrigger.type).toBe(theirTrigger.type);
    expect(ourTrigger.schema).toBe(theirTrigger.schema!);
    expect(ours.config).toMatchObject(bindings.config);
    expect(ours.config).toMatchObject({ force: false, repo_env: "CODEX_FLOWS_BINDINGS_REPO" });
    // Off by default, so the original manifest's behaviour is kept.
    expect(ours.config).toMatchObject({ approve_push: false, approve_publish: false });
    // A release starts the original step only (deliver-approved follows an approved run's held event).
    const matched = compileTriggers([ours]).match(release("openai/codex"));
    expect(matched.map((m) => [m.step.name, m.matched])).toEqual([
      ["regenerate-bindings", true],
      ["deliver-approved", false],
    ]);
  });
});
