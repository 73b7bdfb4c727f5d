// The release flows' approval path end to end: openai-codex-bindings with
// approve_publish / approve_push through the whole system (ingress, stream, matcher,
// executor, read model) against throwaway git repositories with bare remotes, the real
// @openai/codex@0.169.0 generating the bindings and the real npm registry answering
// `npm view`. Only `gh` is a stand-in: GitHub cannot be reached from here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { APPROVER_DURABLE } from "../lib/protocol/consumers.ts";
import { startSystem } from "../services/runtime/system.ts";
import { api, type Json } from "./support/cluster.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { BINDINGS, PUBLISH_WORKFLOW, refs, releaseRepo, sh, standInGh } from "./support/release-repo.ts";

const nats = useNatsServer();
const FLOW = "openai-codex-bindings";
const TAG = "rust-v0.169.0";
const RUN_MS = 240_000;
const gh = standInGh();
const pathBefore = process.env.PATH;

beforeAll(() => {
  // The executor runs in this process, so steps inherit this environment.
  process.env.PATH = `${gh.bin}:${pathBefore}`;
  for (const name of [
    "CODEX_FLOW_PUSH",
    "CODEX_FLOW_PUBLISH",
    "CODEX_FLOW_FORCE",
    "CODEX_FLOWS_BINDINGS_REPO",
    "CODEX_FLOW_APPROVE_PUSH",
    "CODEX_FLOW_APPROVE_PUBLISH",
  ])
    delete process.env[name];
});
afterAll(() => {
  process.env.PATH = pathBefore;
});

/** The four services in this process on the repository; the release event posted; its run once it awaits approval. */
async function heldRelease(cwd: string, id: string) {
  const config = testConfig({ cwd });
  const running = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= running.stop());
  nats.cleanup(stop);
  const url = running.ingressUrl!;
  const client = api(() => url);
  const answer = await client.post(
    { id, type: "upstream.release", payload: { provider: "github", repo: "openai/codex", tag: TAG } },
    "matched",
  );
  expect(answer).toMatchObject({ status: "accepted", matched: 1 });
  const run = await client.waitForRun(
    answer.runIds[0],
    (r) =>
      !["queued", "running"].includes(r.status) &&
      r.attempts.length > 0 &&
      r.attempts.every((a: Json) => a.completedAt),
    RUN_MS,
    "the regenerate-bindings run to end its process",
  );
  const decide = async (decision: "approve" | "reject", comment: string) => {
    const response = await fetch(`${url}/runs/${run.id}/${decision}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ comment }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { run: Json }).run;
  };
  return { config, url, client, run, decide, stop };
}

describe("openai-codex-bindings with approve_publish", () => {
  test(
    "the publish is held until a person approves: the commit is made, nothing reaches github and gh is not asked; approved, deliver-approved pushes that commit and starts the workflow",
    async () => {
      const repo = releaseRepo(FLOW, "flows", { ...BINDINGS, publish: true, approve_publish: true });
      const github = repo.remote("github");
      const held = await heldRelease(repo.dir, `patch:upstream.release:openai/codex:${TAG}:approve`);
      try {
        const { run } = held;
        expect(run).toMatchObject({ status: "awaiting_approval", effectiveStatus: "awaiting_approval" });
        const head = sh(repo.dir, "git", "rev-parse", "HEAD");
        expect(run.result.artifacts).toMatchObject({ committed: true, pushed: false, published: false, commit: head });
        expect(run.result.message).toContain(
          "start publish workflow publish-codex-flows.yml on peezy-tech/codex-flows await approval",
        );
        expect(run.approval).toMatchObject({ gate: "result", attempt: 1 });
        expect(run.approval.reason).toContain(`commit ${head.slice(0, 12)}`);
        // Held: nothing on the remotes, gh only asked for its version (the preflight).
        expect(refs(github)).toEqual([`${repo.initial} refs/heads/main`]);
        expect(refs(repo.origin)).toEqual([`${repo.initial} refs/heads/main`]);
        expect(gh.calls()).toEqual([["--version"]]);
        expect(await held.client.runs(`flow=${FLOW}&step=deliver-approved`)).toEqual([]);

        const approved = await held.decide("approve", "release notes checked");
        expect(approved).toMatchObject({ status: "completed", effectiveStatus: "changed" });
        expect(approved.approval).toMatchObject({ decision: "approve", comment: "release notes checked" });
        const delivered = await eventually(
          async () =>
            (await held.client.runs(`flow=${FLOW}&step=deliver-approved`)).find((r) =>
              ["completed", "failed", "timed_out"].includes(r.status),
            ),
          RUN_MS,
          "the deliver-approved run",
        );
        expect(delivered.result.status).toBe("changed");
        expect(delivered.result.artifacts).toMatchObject({ commit: head, pushed: false, published: true });
        expect(delivered.result.message).toContain(`approved: publish workflow publish-codex-flows.yml started`);
        expect(refs(github)).toEqual([`${head} refs/heads/main`]);
        expect(refs(repo.origin)).toEqual([`${repo.initial} refs/heads/main`]);
        expect(gh.calls()).toEqual([["--version"], PUBLISH_WORKFLOW]);

        // A client cannot skip the approval by posting the held event itself: the executor's id form is refused
        // at the door, and any other id is refused by the step, which pushes nothing.
        const forged = { type: "openai-codex-bindings.deliver", payload: { commit: head, push: true, publish: false } };
        const door = await fetch(`${held.url}/events`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ id: `${run.id}/next/7`, ...forged }),
        });
        expect(door.status).toBe(400);
        const posted = await held.client.post({ id: "forged-deliver-1", ...forged }, "matched");
        const refused = await held.client.waitForRun(
          posted.runIds[0],
          (r) => r.status === "completed",
          RUN_MS,
          "the forged delivery's run",
        );
        expect(refused.result.status).toBe("failed");
        expect(refused.result.message).toContain("is not the held result of regenerate-bindings");
        expect(refs(repo.origin)).toEqual([`${repo.initial} refs/heads/main`]);
      } finally {
        await held.stop();
        writeFileSync(gh.record, "");
      }
    },
    RUN_MS * 2,
  );
});

describe("openai-codex-bindings with approve_push", () => {
  test(
    "rejected: the run ends rejected and nothing is pushed or published, the bare remotes' refs unchanged",
    async () => {
      const repo = releaseRepo(FLOW, "flows", { ...BINDINGS, push: true, publish: true, approve_push: true });
      const github = repo.remote("github");
      const held = await heldRelease(repo.dir, `patch:upstream.release:openai/codex:${TAG}:reject`);
      try {
        const { run } = held;
        expect(run.status).toBe("awaiting_approval");
        expect(run.result.message).toContain("push to origin/main and start publish workflow");
        const rejected = await held.decide("reject", "not this week");
        expect(rejected).toMatchObject({ status: "rejected", error: "rejected by anonymous: not this week" });
        // The approver has handled the rejection: every approval message delivered, and none in hand
        // but the request itself (which waits for its expiry, then finds the decision).
        const nc = await connect({ servers: nats.url });
        try {
          const jsm = await jetstreamManager(nc);
          await eventually(
            async () => {
              const info = await jsm.consumers.info(held.config.stream, APPROVER_DURABLE);
              return info.num_pending === 0 && info.num_ack_pending === 1;
            },
            30_000,
            "the approver to handle the rejection",
          );
        } finally {
          await nc.close();
        }
        expect(await held.client.runs(`flow=${FLOW}&step=deliver-approved`)).toEqual([]);
        expect(refs(repo.origin)).toEqual([`${repo.initial} refs/heads/main`]);
        expect(refs(github)).toEqual([`${repo.initial} refs/heads/main`]);
        expect(gh.calls()).toEqual([["--version"]]);
        // The commit stays in the checkout, for a person to push by hand if wanted.
        expect(sh(repo.dir, "git", "rev-parse", "HEAD")).toBe(run.result.artifacts.commit);
      } finally {
        await held.stop();
        writeFileSync(gh.record, "");
      }
    },
    RUN_MS * 2,
  );
});
