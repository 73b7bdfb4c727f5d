// The peezy-codex-fork flow through the whole system (ingress, stream, matcher, executor
// running the code-mode runner against the app-server stand-in, projector, API), on real
// git repositories and a real cargo workspace built offline. The package is installed
// into a working directory's .codex/flows/ with its [config] pointed at the test upstream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { discoverFlows } from "../lib/flows/discovery.ts";
import { executeStep } from "../lib/runners/index.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { FAKE_CODEX, stepRequest } from "./fixtures/request.ts";
import { api, type Json } from "./support/cluster.ts";
import { CORE_LIB, type Fork, git, makeFork, makeUpstream, type Upstream } from "./support/codex-fork.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { REPO } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";
import { skipWithoutTool } from "./support/tools.ts";

const nats = useNatsServer();
const ROOT = tempDir("codex-fork-int-");
const RUN_MS = 240_000;
const ENV = [
  "CODEX_FLOWS_ENABLE_CODE_MODE",
  "CODEX_APP_SERVER_CODEX_COMMAND",
  "CARGO_TARGET_DIR",
  "PEEZY_CODEX_REPO",
  "CODEX_FLOW_PUSH",
  "CODEX_FLOW_PUBLISH",
  "CODEX_FLOW_APPROVE_PUSH",
  "CODEX_HOME",
] as const;
const saved = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
let upstream: Upstream;
let client: ReturnType<typeof api>;
let ingressUrl: string;
let events = 0;
// The fixtures build a Cargo workspace: without cargo (scripts/install-rust.sh, Debian's package) nothing here can run.
const skip = skipWithoutTool(Bun.which("cargo") !== null, "cargo", "scripts/install-rust.sh");

beforeAll(async () => {
  if (skip) return;
  upstream = makeUpstream(ROOT);
  const cwd = join(ROOT, "host");
  const installed = join(cwd, ".codex", "flows", "peezy-codex-fork");
  cpSync(join(REPO, "flows", "peezy-codex-fork"), installed, { recursive: true });
  // The user's own [config]: no npm package to ask about, this test's upstream.
  const manifest = readFileSync(join(installed, "flow.toml"), "utf8")
    .replace('package_name = "@peezy.tech/codex"', 'package_name = ""')
    .replace(
      'upstream_repo_url = "https://github.com/openai/codex.git"',
      `upstream_repo_url = ${JSON.stringify(upstream.path)}`,
    )
    // The shipped 5-minute debounce of upstream pushes, shortened so each scenario's push rebuilds within the test.
    .replace("debounce_ms = 300000", "debounce_ms = 200");
  writeFileSync(join(installed, "flow.toml"), manifest);
  // The executor's environment (steps inherit it): one cargo target dir for every scenario, so cargo builds each crate once.
  Object.assign(process.env, {
    CODEX_FLOWS_ENABLE_CODE_MODE: "1",
    CODEX_APP_SERVER_CODEX_COMMAND: FAKE_CODEX,
    CARGO_TARGET_DIR: join(ROOT, "cargo-target"),
    CODEX_HOME: join(ROOT, "codex-home"),
  });
  const system: RunningSystem = await startSystem(testConfig({ cwd }), nats.url, [
    "ingress",
    "matcher",
    "executor",
    "projector",
  ]);
  nats.cleanup(() => system.stop());
  ingressUrl = system.ingressUrl!;
  client = api(() => ingressUrl);
});

afterAll(() => {
  for (const name of ENV) saved[name] === undefined ? delete process.env[name] : (process.env[name] = saved[name]);
});

// A run whose result asked for approval has ended its attempt too (once the attempt's record is in).
const ended = (attempt: number) => (run: Json) =>
  run.attempt >= attempt &&
  (["completed", "failed", "timed_out", "canceled"].includes(run.status) ||
    (run.status === "awaiting_approval" && run.attempts.every((a: Json) => a.completedAt)));

/** Posts one event for `fork` and waits for its single run to end; prints the scenario's status and time. */
async function fire(
  scenario: string,
  fork: Fork,
  type: "upstream.release" | "upstream.branch_update",
  payload: Record<string, string>,
): Promise<Json> {
  process.env.PEEZY_CODEX_REPO = fork.path;
  const started = Date.now();
  const posted = await client.post(
    { id: `fork-test-${++events}`, type, payload: { repo: "openai/codex", ...payload } },
    "matched",
  );
  expect(posted.runIds).toHaveLength(1);
  const run = await client.waitForRun(posted.runIds[0], ended(1), RUN_MS, scenario);
  report(scenario, run, started);
  return run;
}

async function retry(scenario: string, run: Json): Promise<Json> {
  const started = Date.now();
  const answer = await fetch(`${ingressUrl}/runs/${encodeURIComponent(run.id)}/retry`, { method: "POST" });
  expect(answer.status).toBe(202);
  const done = await client.waitForRun(run.id, ended(run.attempt + 1), RUN_MS, scenario);
  report(scenario, done, started);
  return done;
}

function report(scenario: string, run: Json, started: number): void {
  console.log(
    `[release-fork] ${scenario}: ${run.effectiveStatus} (run ${run.status}) in ${Date.now() - started} ms${run.result?.message ? ` - ${run.result.message}` : run.error ? ` - ${run.error}` : ""}`,
  );
}

const command = (run: Json, label: string) =>
  (run.result.artifacts.commands as Json[]).find((c) => c.label === label || c.command === label);
const log = (repo: string, range: string) => git(repo, "log", "--format=%s", range).split("\n").filter(Boolean);

describe.skipIf(skip)("peezy-codex-fork", () => {
  test(
    "a clean patch stack is rebased onto the release tag, squashed into one commit, verified with cargo and not pushed",
    async () => {
      const fork = makeFork(ROOT, upstream, "clean", "clean");
      const originBefore = git(fork.origin, "rev-parse", "main");
      const run = await fire("clean rebase", fork, "upstream.release", { tag: "rust-v0.170.0" });
      expect(run.status).toBe("completed");
      expect(run.result.status).toBe("changed");
      const head = git(fork.path, "rev-parse", "HEAD");
      expect(run.result.artifacts).toMatchObject({
        tag: "rust-v0.170.0",
        version: "0.170.0",
        base: upstream.tag170,
        headAfter: head,
        patches: 2,
        squashed: true,
        pushed: false,
        published: false,
        binaryVersion: "codex-cli 0.170.0",
      });
      expect(git(fork.path, "rev-parse", "HEAD^")).toBe(upstream.tag170);
      expect(log(fork.path, "rust-v0.170.0..HEAD")).toEqual(["peezy: codex fork patches for rust-v0.170.0"]);
      expect(git(fork.path, "show", "HEAD:codex-rs/app-server/src/peezy.rs")).toContain("peezy");
      expect(git(fork.path, "remote", "get-url", "upstream")).toBe(upstream.path);
      expect(git(fork.origin, "rev-parse", "main")).toBe(originBefore);
      const labels = (run.result.artifacts.commands as Json[]).map((c) => c.command);
      for (const line of [
        `git rebase '${upstream.tag170}'`,
        "cargo build -p codex-cli --bin codex",
        "cargo test -p codex-protocol code_mode",
        "cargo fmt --check",
      ])
        expect(labels).toContain(line);
      expect(command(run, "cargo test -p codex-protocol code_mode").output).toContain("code_mode_fork_enabled");
      expect(run.needsAttention).toBe(false);

      // Upstream main moved: the second step rebuilds the same checkout onto that commit, with no tag.
      const rebuilt = await fire("branch_update rebuild", fork, "upstream.branch_update", {
        branch: "main",
        sha: upstream.main,
      });
      expect(rebuilt.stepName).toBe("rebuild-on-main");
      expect(rebuilt.result).toMatchObject({
        status: "changed",
        artifacts: {
          branch: "main",
          sha: upstream.main,
          base: upstream.main,
          tag: null,
          published: false,
          pushed: false,
        },
      });
      expect(git(fork.path, "rev-parse", "HEAD^")).toBe(upstream.main);
      expect(log(fork.path, `${upstream.main}..HEAD`)).toEqual(["peezy: codex fork patches for rust-v0.170.0"]);
    },
    RUN_MS * 2,
  );

  test(
    "a conflicting patch needs intervention; a second event meanwhile is blocked; resolved by hand, the retried run completes",
    async () => {
      const fork = makeFork(ROOT, upstream, "conflict", "conflict");
      const before = git(fork.path, "rev-parse", "HEAD");
      const run = await fire("conflicting patch", fork, "upstream.release", { tag: "rust-v0.170.0" });
      expect(run.status).toBe("completed");
      expect(run.effectiveStatus).toBe("needs_intervention");
      expect(run.needsAttention).toBe(true);
      const { artifacts } = run.result;
      expect(artifacts.rebase.unmergedFiles).toEqual(["codex-rs/core/src/lib.rs"]);
      expect(artifacts.rebase.currentPatch.subject).toBe(fork.patchSubjects[1]);
      expect(artifacts.rebase.currentPatch.patch).toContain("peezy-model");
      expect(artifacts.rebase.conflictDiff).toContain("<<<<<<<");
      expect(artifacts.rebase.headBefore).toBe(before);
      expect(artifacts.resume.join("\n")).toContain("git rebase --continue");
      expect(artifacts.resume.join("\n")).toContain(`flow retry ${run.id}`);
      expect(artifacts.resume.join("\n")).toContain(`/runs/${encodeURIComponent(run.id)}/retry`);
      expect(artifacts.prompt).toContain("without aborting");

      const again = await fire("rebase already in progress", fork, "upstream.release", { tag: "rust-v0.170.0" });
      expect(again.result.status).toBe("blocked");
      expect(again.result.message).toContain("a rebase is already in progress");
      expect(again.result.artifacts.rebase.unmergedFiles).toEqual(["codex-rs/core/src/lib.rs"]);
      const attention = await client.runs("needsAttention=true&flow=peezy-codex-fork");
      expect(attention.map((r: Json) => r.id)).toEqual(expect.arrayContaining([run.id, again.id]));

      // A person resolves the conflict and finishes the rebase, then retries the run through the engine.
      writeFileSync(join(fork.path, "codex-rs/core/src/lib.rs"), CORE_LIB("peezy-model"));
      git(fork.path, "add", "codex-rs/core/src/lib.rs");
      git(fork.path, "-c", "core.editor=true", "rebase", "--continue");
      const done = await retry("resolved by hand, then retry", run);
      expect(done.attempt).toBe(2);
      expect(done.result).toMatchObject({
        status: "changed",
        artifacts: { tag: "rust-v0.170.0", patches: 2, squashed: true, binaryVersion: "codex-cli 0.170.0" },
      });
      expect(done.needsAttention).toBe(false);
      expect(git(fork.path, "rev-parse", "HEAD^")).toBe(upstream.tag170);
      expect(git(fork.path, "show", "HEAD:codex-rs/core/src/lib.rs")).toContain("peezy-model");
      expect(done.attempts.map((a: Json) => a.resultStatus)).toEqual(["needs_intervention", "changed"]);
    },
    RUN_MS * 3,
  );

  test(
    "a failing verification command fails the run naming it, and nothing is pushed",
    async () => {
      const fork = makeFork(ROOT, upstream, "misformatted", "misformatted");
      const originBefore = git(fork.origin, "rev-parse", "main");
      process.env.CODEX_FLOW_PUSH = "1";
      try {
        const run = await fire("failing verification", fork, "upstream.release", { tag: "rust-v0.170.0" });
        expect(run.result.status).toBe("failed");
        expect(run.result.message).toStartWith("verification failed: `cargo fmt --check` exited with 1");
        expect(command(run, "cargo build -p codex-cli --bin codex").exitCode).toBe(0);
        expect(command(run, "cargo fmt --check")).toMatchObject({ exitCode: 1, workdir: join(fork.path, "codex-rs") });
        expect(command(run, "cargo fmt --check").output).toContain("peezy.rs");
        expect(run.result.artifacts.pushed).toBeUndefined();
        expect(git(fork.origin, "rev-parse", "main")).toBe(originBefore);
      } finally {
        delete process.env.CODEX_FLOW_PUSH;
      }
    },
    RUN_MS,
  );

  test(
    "with push on, the branch goes to origin with --force-with-lease, and a stale lease is refused",
    async () => {
      const fork = makeFork(ROOT, upstream, "pushing", "clean");
      process.env.CODEX_FLOW_PUSH = "yes";
      try {
        const run = await fire("push", fork, "upstream.release", { tag: "rust-v0.170.0" });
        expect(run.result).toMatchObject({ status: "changed", artifacts: { pushed: true, published: false } });
        expect(command(run, "push").command).toBe("git push origin 'HEAD:main' --force-with-lease");
        expect(git(fork.origin, "rev-parse", "main")).toBe(git(fork.path, "rev-parse", "HEAD"));

        // Someone else pushes to the fork's main; this checkout has not seen it, so its lease is stale.
        const other = join(ROOT, "pushing-other");
        git(ROOT, "clone", "-q", fork.origin, other);
        writeFileSync(join(other, "NOTE.md"), "someone else's work\n");
        git(other, "add", "NOTE.md");
        git(other, "commit", "-q", "-m", "someone else");
        git(other, "push", "-q", "origin", "main");
        const theirs = git(other, "rev-parse", "HEAD");
        const stale = await fire("stale lease", fork, "upstream.release", { tag: "rust-v0.170.0" });
        expect(stale.result.status).toBe("failed");
        expect(stale.result.message).toBe(
          "push failed: `git push origin 'HEAD:main' --force-with-lease` exited with 1",
        );
        expect(command(stale, "push").output).toContain("stale info");
        expect(git(fork.origin, "rev-parse", "main")).toBe(theirs);
      } finally {
        delete process.env.CODEX_FLOW_PUSH;
      }
    },
    RUN_MS * 2,
  );

  test(
    "with approve_push, the push and the tag wait for a person: approved, deliver-approved pushes the approved commit and publishes; rejected, origin keeps its refs",
    async () => {
      Object.assign(process.env, { CODEX_FLOW_PUSH: "1", CODEX_FLOW_PUBLISH: "1", CODEX_FLOW_APPROVE_PUSH: "1" });
      try {
        const fork = makeFork(ROOT, upstream, "approved", "clean");
        const originBefore = git(fork.origin, "for-each-ref");
        const held = await fire("held for approval", fork, "upstream.release", { tag: "rust-v0.170.0" });
        expect(held).toMatchObject({ status: "awaiting_approval", effectiveStatus: "awaiting_approval" });
        const head = git(fork.path, "rev-parse", "HEAD");
        expect(held.result.artifacts).toMatchObject({ pushed: false, published: false, headAfter: head });
        expect(held.result.message).toContain("push to origin/main and publish rust-v0.170.0 await approval");
        expect(git(fork.origin, "for-each-ref")).toBe(originBefore);
        const approve = await fetch(`${ingressUrl}/runs/${held.id}/approve`, { method: "POST" });
        expect(approve.status).toBe(200);
        const delivered = await eventually(
          async () =>
            (await client.runs("flow=peezy-codex-fork&step=deliver-approved")).find((r) => r.status === "completed"),
          RUN_MS,
          "the deliver-approved run",
        );
        expect(delivered.result).toMatchObject({
          status: "changed",
          artifacts: { commit: head, pushed: true, published: true },
        });
        expect(git(fork.origin, "rev-parse", "main")).toBe(head);
        expect(git(fork.origin, "rev-parse", "rust-v0.170.0^{commit}")).toBe(head);

        const refused = makeFork(ROOT, upstream, "refused", "clean");
        const refusedBefore = git(refused.origin, "for-each-ref");
        const waiting = await fire("held, then rejected", refused, "upstream.release", { tag: "rust-v0.170.0" });
        expect(waiting.status).toBe("awaiting_approval");
        const reject = await fetch(`${ingressUrl}/runs/${waiting.id}/reject`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ comment: "not this one" }),
        });
        expect(reject.status).toBe(200);
        // A later approved gate's delivery arrives; the rejected one's never does.
        const later = makeFork(ROOT, upstream, "later", "clean");
        const next = await fire("held, approved after a rejection", later, "upstream.release", {
          tag: "rust-v0.170.0",
        });
        await fetch(`${ingressUrl}/runs/${next.id}/approve`, { method: "POST" });
        await eventually(
          async () =>
            (await client.runs("flow=peezy-codex-fork&step=deliver-approved")).filter((r) => r.status === "completed")
              .length === 2,
          RUN_MS,
          "the later approved delivery",
        );
        expect(await client.runs("flow=peezy-codex-fork&step=deliver-approved")).toHaveLength(2);
        expect(git(refused.origin, "for-each-ref")).toBe(refusedBefore);
        expect(await client.run(waiting.id)).toMatchObject({
          status: "rejected",
          error: "rejected by anonymous: not this one",
        });
      } finally {
        for (const name of ["CODEX_FLOW_PUSH", "CODEX_FLOW_PUBLISH", "CODEX_FLOW_APPROVE_PUSH"])
          delete process.env[name];
      }
    },
    RUN_MS * 4,
  );
});

/** One attempt of the fork script on the code-mode runner directly, with `config` over the package's defaults. */
async function runScript(
  scenario: string,
  config: Record<string, unknown>,
  env: Record<string, string> = {},
  tag = "rust-v0.170.0",
): Promise<Json> {
  const root = join(REPO, "flows", "peezy-codex-fork");
  const request = stepRequest("update-fork.code-mode.js", {
    runner: "code-mode",
    scriptPath: join(root, "exec", "update-fork.code-mode.js"),
    workingDirectory: root,
    timeoutMs: RUN_MS,
    event: {
      id: `direct-${++events}`,
      type: "upstream.release",
      receivedAt: new Date().toISOString(),
      payload: { repo: "openai/codex", tag },
    },
    env: { PEEZY_CODEX_REPO: "", ...env },
  });
  const defaults = {
    package_name: "",
    codex_repo_env: "PEEZY_CODEX_REPO",
    target_branch: "main",
    upstream_remote: "upstream",
    upstream_repo_url: upstream.path,
    squash_patch_stack: true,
    push: false,
    publish: false,
    force: false,
  };
  request.flow.config = { ...defaults, ...config };
  const started = Date.now();
  const outcome = await executeStep(request);
  const run = {
    status: outcome.status,
    effectiveStatus: outcome.result?.status ?? outcome.status,
    result: outcome.result,
    error: outcome.error,
  };
  report(scenario, run, started);
  return run;
}

describe.skipIf(skip)("peezy-codex-fork's script on the code-mode runner", () => {
  test(
    "a verification command that outlives Code Mode's yield comes back as a session and is polled to its exit code",
    async () => {
      const fork = makeFork(ROOT, upstream, "slow", "clean");
      const run = await runScript("slow verification (yield 250 ms)", {
        codex_repo: fork.path,
        exec_yield_time_ms: 250,
        verify: ["sleep 2 && echo slow-done", "sleep 1 && exit 3"],
      });
      expect(run.result.status).toBe("failed");
      expect(run.result.message).toStartWith("verification failed: `sleep 1 && exit 3` exited with 3");
      expect(command(run, "sleep 2 && echo slow-done")).toMatchObject({ exitCode: 0, output: "slow-done\n" });
      expect(command(run, "sleep 2 && echo slow-done").durationMs).toBeGreaterThanOrEqual(2000);
    },
    RUN_MS,
  );

  test(
    "publish pushes an annotated rust-v<version> tag on the new head to origin and leaves the local upstream tag alone",
    async () => {
      const fork = makeFork(ROOT, upstream, "publishing", "clean");
      const run = await runScript("publish", { codex_repo: fork.path }, { CODEX_FLOW_PUBLISH: "true" });
      expect(run.result).toMatchObject({
        status: "changed",
        artifacts: { pushed: false, published: true, releaseTag: "rust-v0.170.0" },
      });
      const head = git(fork.path, "rev-parse", "HEAD");
      expect(git(fork.origin, "cat-file", "-t", "refs/tags/rust-v0.170.0")).toBe("tag");
      expect(git(fork.origin, "rev-parse", "refs/tags/rust-v0.170.0^{commit}")).toBe(head);
      expect(git(fork.origin, "rev-parse", "main")).not.toBe(head); // publish alone does not push the branch
      expect(git(fork.path, "rev-parse", "refs/tags/rust-v0.170.0^{commit}")).toBe(upstream.tag170);
    },
    RUN_MS,
  );

  test(
    "a version already on npm is skipped unless forced (asks the real npm registry)",
    async () => {
      const fork = makeFork(ROOT, upstream, "published", "clean");
      const config = { codex_repo: fork.path, package_name: "@openai/codex" };
      const skipped = await runScript("already published", config, {}, "rust-v0.169.0");
      expect(skipped.result).toMatchObject({
        status: "skipped",
        message: "@openai/codex@0.169.0 is already published (set force or CODEX_FLOW_FORCE=1 to rebuild anyway)",
      });
      expect(command(skipped, "npm view '@openai/codex@0.169.0' version --json").exitCode).toBe(0);
      writeFileSync(join(fork.path, "README.md"), "local edits\n");
      const forced = await runScript("already published, forced", config, { CODEX_FLOW_FORCE: "on" }, "rust-v0.169.0");
      expect(forced.result.status).toBe("blocked"); // went past the npm check to the dirty tree
      expect(forced.result.artifacts.commands.some((c: Json) => c.command.startsWith("npm view"))).toBe(false);
    },
    RUN_MS,
  );

  test(
    "no checkout configured is blocked; a checkout without codex-rs fails; a dirty tree is blocked; a tag without a version fails",
    async () => {
      const none = await runScript("no checkout", { codex_repo: "" });
      expect(none.result).toMatchObject({
        status: "blocked",
        message:
          "no fork checkout configured: set codex_repo in the flow's [config] or the PEEZY_CODEX_REPO environment variable",
        artifacts: { tag: "rust-v0.170.0", version: "0.170.0" },
      });

      const plain = join(ROOT, "plain");
      git(ROOT, "init", "-q", plain);
      const notCodex = await runScript("not a codex checkout", { codex_repo: "" }, { PEEZY_CODEX_REPO: plain });
      expect(notCodex.result).toMatchObject({
        status: "failed",
        message: `${plain} has no codex-rs/Cargo.toml: not a Codex checkout`,
      });

      const fork = makeFork(ROOT, upstream, "dirty", "clean");
      writeFileSync(join(fork.path, "README.md"), "local edits\n");
      const dirty = await runScript("dirty tree", { codex_repo: fork.path });
      expect(dirty.result).toMatchObject({
        status: "blocked",
        message: `${fork.path} has uncommitted changes on main; commit or stash them first`,
      });

      const badTag = await runScript("tag without a version", { codex_repo: fork.path }, {}, "nightly");
      expect(badTag.result).toMatchObject({
        status: "failed",
        message: "tag nightly has no MAJOR.MINOR.PATCH version in it",
      });
    },
    RUN_MS,
  );
});

test("the repository ships the package: both rebase steps on one script, the approved delivery apart, the [guidance] table accepted and ignored", () => {
  const { flows, problems } = discoverFlows(REPO);
  expect(problems).toEqual([]);
  const fork = flows.find((f) => f.name === "peezy-codex-fork")!;
  expect(fork.guidance?.skills?.length).toBeGreaterThan(0);
  expect(fork.steps.map((s) => [s.name, s.runner, s.script, s.timeoutMs, s.trigger.type])).toEqual([
    ["rebase-patch-stack", "code-mode", "exec/update-fork.code-mode.js", 3_600_000, "upstream.release"],
    ["rebuild-on-main", "code-mode", "exec/update-fork.code-mode.js", 3_600_000, "upstream.branch_update"],
    ["deliver-approved", "bun", "exec/deliver-approved.ts", 600_000, "peezy-codex-fork.deliver"],
  ]);
  expect(Object.keys(fork.config).sort()).toEqual(
    [
      "approve_publish",
      "approve_push",
      "cargo_target_dir",
      "cargo_target_dir_env",
      "codex_repo",
      "codex_repo_env",
      "force",
      "package_name",
      "publish",
      "push",
      "squash_patch_stack",
      "target_branch",
      "target_branch_env",
      "upstream_remote",
      "upstream_repo_url",
      "verify",
    ].sort(),
  );
});
