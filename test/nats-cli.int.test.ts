import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type EmbeddedNats, startNatsServer } from "../lib/nats/nats-server.ts";
import { eventToken } from "../lib/protocol/subjects.ts";
import { connectContext, type ServiceContext } from "../services/runtime/context.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { bashBlock } from "./support/docs.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { findNatsCli, inTerminal, type ShellResult, sh } from "./support/nats-cli.ts";
import { tempDir } from "./support/temp.ts";
import { skipWithoutTool } from "./support/tools.ts";

// Every `nats` command in README.md, docs/replay.md, docs/deploy.md and docs/operations.md,
// run with the real CLI (natscli v0.5.0) against a stream the services wrote, named as
// the docs name it (FLOWS, subjects flows.>). Each test checks what the command shows or does.
setDefaultTimeout(60_000);
const nats = useNatsServer();
// The id docs/replay.md uses, so that its commands run here exactly as written.
const ID = "patch:upstream.release:openai/codex:rust-v0.169.0";
let system: RunningSystem;
let stopped = false;
let ctx: ServiceContext;
let url: string;
let env: Record<string, string>;
let work: string;
let first: { seq: number; runIds: string[] };
const skip = skipWithoutTool(
  findNatsCli() !== undefined,
  "the nats CLI (natscli v0.5.0)",
  "scripts/install-nats-cli.sh",
);

beforeAll(async () => {
  if (skip) return;
  const config = testConfig({
    stream: "FLOWS",
    subjectPrefix: "flows",
    cwd: writeFlows({ release: [{ name: "build", type: "upstream.release", source: echoStep() }] }),
  });
  system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  ctx = await connectContext(config, nats.url, "operator");
  nats.cleanup(async () => {
    if (!stopped) await system.stop();
    await ctx.nc.close();
  });
  env = { NATS_URL: nats.url, ID };
  work = tempDir("codex-flows-nats-cli-");
  first = await json(
    fetch(`${url}/events?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: ID, type: "upstream.release", payload: { tag: "rust-v0.169.0" } }),
    }),
  );
});

async function run(command: string): Promise<ShellResult> {
  const result = await sh(command, env, work);
  if (result.code !== 0) throw new Error(`\`${command}\` exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The event's runs; with `after`, once the read model applied that stream sequence. */
async function runsOf(eventId: string, after?: number): Promise<{ id: string; generation: number; status: string }[]> {
  return (await json(fetch(`${url}/runs?eventId=${encodeURIComponent(eventId)}${after ? `&after=${after}` : ""}`)))
    .runs;
}

describe.skipIf(skip)("README quickstart", () => {
  test("nats --server <url> stream view FLOWS shows the stream's messages with their subjects, a page at a time, in a terminal", async () => {
    const view = await inTerminal(`nats --server ${nats.url} stream view FLOWS`, {});
    expect(view.code).toBe(0);
    expect(view.stdout).toContain("[1] Subject: flows.events.upstream.release");
    expect(view.stdout).toContain(`"kind":"event.accepted"`);
    expect(view.stdout).toContain("Subject: flows.commands.any");
    // Fewer messages than a page: the CLI says so instead of asking for the next page.
    expect(view.stdout).toContain("Reached apparent end of data");
  });
});

describe.skipIf(skip)("docs/replay.md, with the nats CLI alone", () => {
  test("1. view the accepted events, get one by sequence, save its body", async () => {
    // The doc's lines as written, with this stream's sequence for its example 42.
    const [viewAll, getOne, save] = bashBlock("docs/replay.md", "nats stream get FLOWS 42")
      .split("\n")
      .map((line) => line.replace(" 42", ` ${first.seq}`));
    const view = await inTerminal(viewAll!, env);
    expect(view.stdout).toContain(`[${first.seq}] Subject: flows.events.upstream.release`);
    expect(view.stdout).not.toContain("flows.matched.");
    const get = await run(getOne!);
    expect(get.stdout).toContain(`FLOWS#${first.seq}`);
    expect(get.stdout).toContain(ID);
    await run(save!);
    expect(JSON.parse(readFileSync(join(work, "event.json"), "utf8"))).toMatchObject({
      v: 1,
      kind: "event.accepted",
      event: { id: ID, type: "upstream.release" },
    });
  });

  test("2. the last match decision by subject gives the generation to go past", async () => {
    const generation = await run(bashBlock("docs/replay.md", "TOKEN=$("));
    expect(generation.stdout.trim()).toBe("0");
    expect(eventToken(ID)).toHaveLength(32);
  });

  test("3. republished with a replay mark and its message id, the event starts a run of generation 1; the same request again is a duplicate", async () => {
    const replay = bashBlock("docs/replay.md", "GEN=1");
    const answer = await run(replay);
    expect(answer.stdout).toMatch(/"stream":\s*"FLOWS"/);
    expect(answer.stdout).not.toContain("duplicate");
    const runs = await eventually(
      async () => {
        const all = await runsOf(ID);
        return all.length === 2 && all.every((r) => r.status === "completed") && all;
      },
      20_000,
      "the replay's run to complete",
    );
    expect(runs.map((r) => r.generation).sort()).toEqual([0, 1]);
    const again = await run(replay);
    expect(again.stdout).toMatch(/"duplicate":\s*true/);
  });

  test("without a replay mark, the republished event is the duplicate it is: the matcher starts nothing", async () => {
    const answer = await run(
      `nats req flows.events.upstream.release "$(cat event.json)" --header "Nats-Msg-Id:event:$ID:by-hand"`,
    );
    const seq = Number(answer.stdout.match(/"seq":\s*(\d+)/)![1]);
    // The matcher has acked everything up to the republished message...
    await eventually(
      async () => (await ctx.jsm.consumers.info("FLOWS", "matcher")).ack_floor.stream_seq >= seq,
      15_000,
      "the matcher to handle it",
    );
    // ...and started nothing new (read once the read model applied everything in the stream).
    const last = (await ctx.jsm.streams.info("FLOWS")).state.last_seq;
    expect((await runsOf(ID, last)).length).toBe(2);
  });
});

describe.skipIf(skip)("docs/deploy.md, looking at the stream", () => {
  test("stream info, subjects, get --last-for, consumer info and consumer ls show what the table says", async () => {
    const info = await run("nats --server $NATS_URL stream info FLOWS");
    expect(info.stdout).toMatch(/Subjects: flows\.>/);
    expect(info.stdout).toMatch(/Messages: [\d,]+/);
    const subjects = await run("nats stream subjects FLOWS");
    expect(subjects.stdout).toContain("flows.events.upstream.release");
    expect(subjects.stdout).toContain("flows.commands.any");
    const runId = first.runIds[0]!;
    const finished = await run(`nats stream get FLOWS --last-for flows.runs.${runId}.finished`);
    expect(finished.stdout).toContain(`"kind":"run.finished"`);
    expect(finished.stdout).toContain(runId);
    for (const durable of ["matcher", "executor-any"]) {
      const consumer = await run(`nats consumer info FLOWS ${durable}`);
      for (const label of ["Unprocessed Messages", "Outstanding Acks", "Redelivered Messages"])
        expect(consumer.stdout).toContain(label);
    }
    const ls = await run("nats consumer ls FLOWS");
    expect(ls.stdout).toContain("matcher");
    expect(ls.stdout).toContain("executor-any");
    expect(ls.stdout).toContain("executor-test-host");
    const dead = await run("nats consumer info FLOWS_ADVISORIES dead-letters");
    expect(dead.stdout).toContain("Unprocessed Messages");
  });
});

describe.skipIf(skip)("docs/operations.md: backup and restore, removing a host's queue", () => {
  let other: EmbeddedNats | undefined;
  afterAll(async () => {
    await other?.stop();
  });

  test("nats stream backup FLOWS <dir>, then nats stream restore <dir> on another server, gives the same messages", async () => {
    const before = await ctx.jsm.streams.info("FLOWS");
    await run("nats stream backup FLOWS backup-dir");
    other = await startNatsServer();
    const restore = await sh("nats --server $OTHER stream restore backup-dir", { ...env, OTHER: other.url }, work);
    expect(restore.code).toBe(0);
    const info = await run(`nats --server ${other.url} stream info FLOWS --json`);
    const state = JSON.parse(info.stdout).state;
    expect(state).toMatchObject({ messages: before.state.messages, last_seq: before.state.last_seq });
    const get = await run(`nats --server ${other.url} stream get FLOWS ${first.seq}`);
    expect(get.stdout).toContain(ID);
  });

  test("an R3 stream's backup restores onto a single server only with --replicas 1, as the doc's second restore line says", async () => {
    await run("nats stream backup FLOWS r3-backup");
    // A 3-node cluster's backup records 3 replicas in its configuration; nothing else differs.
    const meta = JSON.parse(readFileSync(join(work, "r3-backup", "backup.json"), "utf8"));
    writeFileSync(
      join(work, "r3-backup", "backup.json"),
      JSON.stringify({ ...meta, config: { ...meta.config, num_replicas: 3 } }),
    );
    const single = await startNatsServer();
    try {
      const [plain, withReplicas] = bashBlock("docs/operations.md", "nats stream restore")
        .split("\n")
        .filter((line) => line.startsWith("nats stream restore"))
        .map((line) =>
          line
            .replace(/\/var\/backups\/codex-flows\/\S+/, "r3-backup")
            .replace(/^nats /, `nats --server ${single.url} `),
        );
      const refused = await sh(plain!, env, work);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain("replicas > 1 not supported in non-clustered mode");
      await run(withReplicas!);
      const info = JSON.parse((await run(`nats --server ${single.url} stream info FLOWS --json`)).stdout);
      expect(info.config.num_replicas).toBe(1);
      expect(info.state.last_seq).toBe(meta.state.last_seq);
    } finally {
      await single.stop();
    }
  });

  test("nats consumer rm FLOWS executor-<host id> -f removes a removed host's queue", async () => {
    stopped = true;
    await system.stop();
    await run("nats consumer rm FLOWS executor-test-host -f");
    const ls = await run("nats consumer ls FLOWS");
    expect(ls.stdout).not.toContain("executor-test-host");
    expect(ls.stdout).toContain("executor-any");
  });
});
