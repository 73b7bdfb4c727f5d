// The openai-codex-bindings flow through the whole system (ingress, stream, matcher,
// executor, read model) against throwaway git repositories, with the real
// @openai/codex@0.169.0 generating the bindings and the real npm registry answering
// `npm view`. Only `gh` is a stand-in: GitHub cannot be reached from here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { api, type Json } from "./support/cluster.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";
import {
  BINDINGS,
  PUBLISH_WORKFLOW,
  type ReleaseRepo,
  refs,
  releaseRepo,
  sh,
  standInGh,
  UNPUBLISHED,
} from "./support/release-repo.ts";

const nats = useNatsServer();
const FLOW = "openai-codex-bindings";
const TAG = "rust-v0.169.0";
const PATCH_ID = `patch:upstream.release:openai/codex:${TAG}`;
const RUN_MS = 240_000;
const gh = standInGh();
const timings: { scenario: string; status: string; ms: number }[] = [];
const pathBefore = process.env.PATH;

beforeAll(() => {
  // The executor runs in this process, so steps inherit this environment.
  process.env.PATH = `${gh.bin}:${pathBefore}`;
  for (const name of ["CODEX_FLOW_PUSH", "CODEX_FLOW_PUBLISH", "CODEX_FLOW_FORCE", "CODEX_FLOWS_BINDINGS_REPO"])
    delete process.env[name];
});

afterAll(() => {
  process.env.PATH = pathBefore;
  console.log(
    `\nopenai-codex-bindings scenarios (post -> final run, wall time):\n${timings.map((t) => `  ${t.scenario.padEnd(52)} ${t.status.padEnd(8)} ${(t.ms / 1000).toFixed(1)} s`).join("\n")}`,
  );
});

/** The four services in this process, discovering flows in `cwd`. */
async function system(cwd: string): Promise<{ client: ReturnType<typeof api>; url: string; stop(): Promise<void> }> {
  const running: RunningSystem = await startSystem(testConfig({ cwd }), nats.url, [
    "ingress",
    "matcher",
    "executor",
    "projector",
  ]);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= running.stop());
  nats.cleanup(stop);
  return { client: api(() => running.ingressUrl!), url: running.ingressUrl!, stop };
}

/** Posts a release event, waits for its one run to end, records the scenario's status and wall time. */
async function release(client: ReturnType<typeof api>, scenario: string, id: string, tag = TAG): Promise<Json> {
  const started = Date.now();
  const answer = await client.post(
    { id, type: "upstream.release", payload: { provider: "github", repo: "openai/codex", tag } },
    "matched",
  );
  expect(answer).toMatchObject({ status: "accepted", matched: 1 });
  const run = await client.waitForRun(
    answer.runIds[0],
    (r) => !["queued", "running"].includes(r.status),
    RUN_MS,
    `the ${scenario} run to end`,
  );
  timings.push({ scenario, status: run.result?.status ?? run.status, ms: Date.now() - started });
  expect(run).toMatchObject({ flowName: FLOW, stepName: "regenerate-bindings", status: "completed" });
  return run;
}

const argvs = (run: Json): string[][] => run.result.artifacts.commands.map((c: Json) => c.argv);
const commitsSince = (repo: ReleaseRepo) => Number(sh(repo.dir, "git", "rev-list", "--count", `${repo.initial}..HEAD`));
const npx = ["npx", "-y", "@openai/codex@0.169.0", "app-server", "generate-ts", "--experimental", "--out"];

describe("openai-codex-bindings installed in the repository's flows/", () => {
  let repo: ReleaseRepo;
  let sys: Awaited<ReturnType<typeof system>>;
  beforeAll(async () => {
    repo = releaseRepo(FLOW, "flows", BINDINGS);
    sys = await system(repo.dir);
  });
  afterAll(() => sys.stop());

  test(
    "a release regenerates the bindings with the real codex 0.169.0, bumps the version, commits once and pushes nothing",
    async () => {
      const run = await release(sys.client, "flows/: new release -> changed", PATCH_ID);
      expect(run.effectiveStatus).toBe("changed");
      expect(run.needsAttention).toBe(false);
      const { artifacts } = run.result;
      expect(artifacts).toMatchObject({
        tag: TAG,
        version: "0.169.0",
        committed: true,
        pushed: false,
        published: false,
        previousVersion: "0.168.0",
        repo: repo.dir,
      });
      expect(run.result.message).toContain(`${UNPUBLISHED} 0.169.0 regenerated for openai/codex ${TAG} and committed`);

      expect(commitsSince(repo)).toBe(1);
      const head = sh(repo.dir, "git", "rev-parse", "HEAD");
      expect(artifacts.commit).toBe(head);
      expect(sh(repo.dir, "git", "log", "-1", "--format=%s")).toBe("flow: update codex-flows for openai codex 0.169.0");
      expect(JSON.parse(sh(repo.dir, "git", "show", "HEAD:package.json")).version).toBe("0.169.0");
      const files = sh(repo.dir, "git", "show", "--name-only", "--format=", "HEAD").split("\n");
      expect(files).toContain("src/generated/index.ts");
      expect(files.filter((f) => f.startsWith("src/generated/")).length).toBeGreaterThan(100);
      expect(sh(repo.dir, "git", "status", "--porcelain")).toBe("");

      // The real CLI wrote them, and the repository's own `bun run test` loaded them.
      const commands = argvs(run);
      expect(commands).toContainEqual([...npx, join(repo.dir, "src/generated")]);
      expect(commands).toContainEqual(["bun", "install"]);
      expect(commands).toContainEqual(["bun", "run", "test"]);
      expect(commands).toContainEqual(["git", "diff", "--cached", "--check"]);
      const check = run.result.artifacts.commands.find((c: Json) => c.argv.join(" ") === "bun run test");
      expect(check).toMatchObject({ exitCode: 0, cwd: repo.dir });
      expect(check.stdout).toContain("bindings load");
      for (const c of run.result.artifacts.commands) expect(c.stdout.length + c.stderr.length).toBeLessThan(10_000);

      // Nothing pushed, nothing published.
      expect(refs(repo.origin)).toEqual([`${repo.initial} refs/heads/main`]);
      expect(commands.some((argv) => argv[0] === "git" && argv[1] === "push")).toBe(false);
      expect(gh.calls()).toEqual([]);
    },
    RUN_MS,
  );

  test("the same event again is a duplicate and starts no run", async () => {
    const answer = await sys.client.post(
      { id: PATCH_ID, type: "upstream.release", payload: { repo: "openai/codex", tag: TAG } },
      "matched",
    );
    expect(answer).toMatchObject({ status: "duplicate", eventId: PATCH_ID });
    expect(await sys.client.runs(`eventId=${encodeURIComponent(PATCH_ID)}`)).toHaveLength(1);
    expect(commitsSince(repo)).toBe(1);
  });

  test(
    "the release again under a new id finds nothing to regenerate: skipped, no commit",
    async () => {
      const run = await release(sys.client, "flows/: same release again -> skipped", `${PATCH_ID}:again`);
      expect(run.result).toMatchObject({ status: "skipped", message: `No generated binding changes for ${TAG}` });
      expect(run.needsAttention).toBe(false);
      expect(argvs(run)).toContainEqual([...npx, join(repo.dir, "src/generated")]);
      expect(commitsSince(repo)).toBe(1);
    },
    RUN_MS,
  );

  test(
    "a dirty worktree is blocked before anything is generated, /runs says it needs attention, and a retry once it is clean runs again",
    async () => {
      writeFileSync(join(repo.dir, "notes.txt"), "work in progress\n");
      let blockedRun: Json;
      try {
        const run = await release(sys.client, "flows/: dirty worktree -> blocked", `${PATCH_ID}:dirty`);
        expect(run.result.status).toBe("blocked");
        expect(run.result.message).toContain("has local changes (1 path: notes.txt");
        expect(run.result.message).toContain("notes.txt");
        expect(run.result.artifacts.dirty).toEqual(["?? notes.txt"]);
        expect(run).toMatchObject({ effectiveStatus: "blocked", needsAttention: true });
        expect(argvs(run).some((argv) => argv[0] === "npx")).toBe(false);
        const attention = await sys.client.runs("needsAttention=true");
        expect(attention.map((r: Json) => r.id)).toContain(run.id);
        expect(commitsSince(repo)).toBe(1);
        blockedRun = run;
      } finally {
        sh(repo.dir, "rm", "notes.txt");
      }
      // The person cleaned up; `flow retry RUN` / POST /runs/:id/retry starts attempt 2 of the same run.
      const started = Date.now();
      const retried = await fetch(`${sys.url}/runs/${encodeURIComponent(blockedRun.id)}/retry`, { method: "POST" });
      expect(retried.status).toBe(202);
      const again = await sys.client.waitForRun(
        blockedRun.id,
        (r) => r.attempt === 2 && !["queued", "running"].includes(r.status),
        RUN_MS,
        "the retried run to end",
      );
      timings.push({
        scenario: "flows/: blocked, cleaned, retried -> skipped",
        status: again.result.status,
        ms: Date.now() - started,
      });
      expect(again.result).toMatchObject({ status: "skipped", message: `No generated binding changes for ${TAG}` });
      expect(again.needsAttention).toBe(false);
      expect(commitsSince(repo)).toBe(1);
    },
    RUN_MS,
  );

  test(
    "a tag without a version fails, saying so",
    async () => {
      const run = await release(
        sys.client,
        "flows/: tag without a version -> failed",
        "patch:upstream.release:openai/codex:nightly",
        "rust-nightly",
      );
      expect(run.result).toMatchObject({
        status: "failed",
        message: 'release tag "rust-nightly" holds no MAJOR.MINOR.PATCH version (expected e.g. rust-v0.169.0)',
      });
      expect(run).toMatchObject({ effectiveStatus: "failed", needsAttention: true });
    },
    RUN_MS,
  );
});

describe("openai-codex-bindings installed in .codex/flows/", () => {
  test(
    "push = true: the commit goes to main of the local bare origin and nothing else happens",
    async () => {
      const repo = releaseRepo(FLOW, ".codex/flows", { ...BINDINGS, push: true });
      const sys = await system(repo.dir);
      try {
        const run = await release(sys.client, ".codex/flows/: push = true -> changed, pushed", PATCH_ID);
        expect(run.result.status).toBe("changed");
        // cwd "../.." is .codex/ here; the flow still works on the repository's top level.
        expect(run.result.artifacts).toMatchObject({ repo: repo.dir, committed: true, pushed: true, published: false });
        expect(commitsSince(repo)).toBe(1);
        const head = sh(repo.dir, "git", "rev-parse", "HEAD");
        expect(refs(repo.origin)).toEqual([`${head} refs/heads/main`]);
        expect(argvs(run).filter((argv) => argv[1] === "push")).toEqual([
          ["git", "push", "origin", "HEAD:refs/heads/main"],
        ]);
        expect(gh.calls()).toEqual([]);
        expect(sh(repo.dir, "git", "tag", "--list")).toBe("");
      } finally {
        await sys.stop();
      }
    },
    RUN_MS,
  );
});

describe("openai-codex-bindings pointed at another checkout", () => {
  test(
    "outside any git checkout and with no repo configured, the run is blocked and says how to point it at one",
    async () => {
      const host = releaseRepo(FLOW, "flows", BINDINGS);
      // The same folder, but no longer a git checkout: the flow has nothing to work on.
      sh(host.dir, "rm", "-rf", ".git");
      const sys = await system(host.dir);
      try {
        const run = await release(sys.client, "no checkout -> blocked", PATCH_ID);
        expect(run.result.status).toBe("blocked");
        expect(run.result.message).toContain("is not inside a git checkout");
        expect(run.result.message).toContain("repo_env");
        expect(run.needsAttention).toBe(true);
      } finally {
        await sys.stop();
      }
    },
    RUN_MS,
  );

  test(
    "a checkout without the configured package_json fails before anything is written",
    async () => {
      const repo = releaseRepo(FLOW, "flows", { package_name: UNPUBLISHED });
      const sys = await system(repo.dir);
      try {
        const run = await release(sys.client, "wrong checkout (no package_json) -> failed", PATCH_ID);
        expect(run.result).toMatchObject({
          status: "failed",
          message: `package_json "packages/codex-client/package.json" does not exist in ${repo.dir}; set package_json (and generated_dir) to this repository's bindings package`,
        });
        expect(sh(repo.dir, "git", "status", "--porcelain")).toBe("");
      } finally {
        await sys.stop();
      }
    },
    RUN_MS,
  );

  test(
    "the variable named by repo_env wins over repo: the flow updates that checkout",
    async () => {
      const host = releaseRepo(FLOW, "flows", {
        ...BINDINGS,
        repo: "/nonexistent/checkout",
        repo_env: "CODEX_FLOWS_BINDINGS_REPO_TEST",
      });
      const target = releaseRepo(FLOW, "flows", BINDINGS);
      process.env.CODEX_FLOWS_BINDINGS_REPO_TEST = target.dir;
      const sys = await system(host.dir);
      try {
        const run = await release(sys.client, "repo_env -> changed in the other checkout", PATCH_ID);
        expect(run.result).toMatchObject({ status: "changed", artifacts: { repo: target.dir, committed: true } });
        expect(commitsSince(target)).toBe(1);
        expect(commitsSince(host)).toBe(0);
      } finally {
        delete process.env.CODEX_FLOWS_BINDINGS_REPO_TEST;
        await sys.stop();
      }
    },
    RUN_MS,
  );
});

describe("openai-codex-bindings: publishing, published releases and failing checks", () => {
  test(
    "publish = true pushes to the github remote, then starts the publish workflow with gh (a recording stand-in)",
    async () => {
      const repo = releaseRepo(FLOW, "flows", { ...BINDINGS, publish: true });
      const github = repo.remote("github");
      const sys = await system(repo.dir);
      try {
        const run = await release(sys.client, "flows/: publish = true -> changed, published", PATCH_ID);
        expect(run.result.status).toBe("changed");
        expect(run.result.artifacts).toMatchObject({ committed: true, pushed: false, published: true });
        const head = sh(repo.dir, "git", "rev-parse", "HEAD");
        expect(refs(github)).toEqual([`${head} refs/heads/main`]);
        expect(refs(repo.origin)).toEqual([`${repo.initial} refs/heads/main`]);
        expect(gh.calls()).toEqual([["--version"], PUBLISH_WORKFLOW]);
      } finally {
        await sys.stop();
        writeFileSync(gh.record, "");
      }
    },
    RUN_MS,
  );

  test(
    "a version already on the npm registry is skipped without touching the repository (real npm view)",
    async () => {
      const repo = releaseRepo(FLOW, "flows", { ...BINDINGS, package_name: "@openai/codex" });
      const sys = await system(repo.dir);
      try {
        const run = await release(sys.client, "flows/: already published -> skipped", PATCH_ID);
        expect(run.result).toMatchObject({
          status: "skipped",
          message:
            "@openai/codex@0.169.0 is already published; nothing to do (set force = true or CODEX_FLOW_FORCE=1 to regenerate anyway)",
        });
        expect(argvs(run)).toEqual([
          ["git", "rev-parse", "--show-toplevel"],
          ["npm", "view", "@openai/codex@0.169.0", "version", "--json"],
        ]);
        expect(commitsSince(repo)).toBe(0);
      } finally {
        await sys.stop();
      }
    },
    RUN_MS,
  );

  test(
    "a failing check ends the step as failed naming it, and nothing is committed",
    async () => {
      const repo = releaseRepo(
        FLOW,
        "flows",
        { ...BINDINGS, checks: ["bun run test", "bun run lint"] },
        { lint: "echo 'lint: 3 problems' >&2; exit 3" },
      );
      const sys = await system(repo.dir);
      try {
        const run = await release(sys.client, "flows/: failing check -> failed", PATCH_ID);
        expect(run.result.status).toBe("failed");
        expect(run.result.message).toStartWith("check 2 of 2 failed: `bun run lint` exited with code 3");
        expect(run).toMatchObject({ effectiveStatus: "failed", needsAttention: true });
        const last = run.result.artifacts.commands.at(-1);
        expect(last).toMatchObject({ label: "check 2 of 2", argv: ["bun", "run", "lint"], exitCode: 3 });
        expect(last.stderr).toContain("lint: 3 problems");
        expect(commitsSince(repo)).toBe(0);
        expect(existsSync(join(repo.dir, "src/generated/index.ts"))).toBe(true);
        expect(readFileSync(join(repo.dir, "package.json"), "utf8")).toContain('"version": "0.169.0"');
      } finally {
        await sys.stop();
      }
    },
    RUN_MS,
  );
});
