import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { readModelPath } from "../lib/config.ts";
import { lastMessage } from "../lib/nats/last-message.ts";
import { streamStart } from "../lib/nats/stream-history.ts";
import { MATCHER_DURABLE } from "../lib/protocol/consumers.ts";
import { runIdFor } from "../lib/protocol/ids.ts";
import { type EventMatched, encodeMessage, type FlowMessage } from "../lib/protocol/messages.ts";
import { openReadModel, type ReadModel } from "../lib/read-model/database.ts";
import { listSnapshots, snapshotsDir } from "../lib/read-model/snapshot.ts";
import { startProjectorService } from "../services/projector/service.ts";
import { connectContext, type ServiceContext } from "../services/runtime/context.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { publishHistory } from "./support/history.ts";
import { json } from "./support/http.ts";
import { accepted, anEvent, command } from "./support/messages.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { useProcesses } from "./support/processes.ts";
import { snapshotOf } from "./support/snapshot.ts";

const nats = useNatsServer();
const processes = useProcesses();
let config: ReturnType<typeof testConfig>;
let ctx: ServiceContext;
let system: RunningSystem;
let db: ReadModel;
let env: Record<string, string>;
let stopped = false;

const post = (id: string) =>
  json(
    fetch(`${system.ingressUrl}/events?wait=matched`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, type: "demo.go", payload: {} }),
    }),
  );
const checkpoint = async () => (await db.selectFrom("projector_state").select("seq").executeTakeFirstOrThrow()).seq;
const caughtUp = async () => {
  const last = (await ctx.jsm.streams.info(config.stream)).state.last_seq;
  await eventually(async () => (await checkpoint()) >= last || undefined, 30_000, `the projector to reach ${last}`);
};
/**
 * An event of flow `go` decided before this test (straight into the stream, no msgIDs):
 * its decision first, so the live matcher finds it there and decides nothing, then the
 * event, its command, and the decision again (the projector records a decision only
 * after its event).
 */
async function publishDecided(id: string): Promise<void> {
  const event = anEvent({ id, type: "demo.go", payload: {} });
  const runId = runIdFor(id, 0, "go", "a");
  const decided: EventMatched = {
    v: 1,
    kind: "event.matched",
    eventId: id,
    generation: 0,
    matchedAt: event.receivedAt,
    decisions: [
      { flow: "go", flowVersion: 1, step: "a", runner: "bun", matched: true, runId, queue: "any", reasons: [] },
    ],
  };
  const messages: [string, FlowMessage][] = [
    [ctx.subjects.matched(id), decided],
    [ctx.subjects.event("demo.go"), accepted(event, { acceptedAt: event.receivedAt })],
    [ctx.subjects.command("any"), command(runId, event, { flow: "go", step: "a" })],
    [ctx.subjects.matched(id), decided],
  ];
  for (const [subject, message] of messages) await ctx.js.publish(subject, encodeMessage(message));
}
const cli = (args: string[]) => processes.run(args, { env, timeoutMs: 60_000 });

beforeAll(async () => {
  const cwd = writeFlows({ go: [{ name: "a", type: "demo.go", source: echoStep() }] });
  // The dedup window at its least: a copy published again later is not caught by JetStream's msgID.
  config = testConfig({ cwd, duplicateWindowMs: 1_000 });
  env = {
    NATS_URL: nats.url,
    CODEX_FLOW_STREAM: config.stream,
    CODEX_FLOW_SUBJECT_PREFIX: config.subjectPrefix,
    CODEX_FLOW_BACKEND_DATA_DIR: config.dataDir,
    CODEX_FLOW_BACKEND_CWD: cwd,
  };
  ctx = await connectContext(config, nats.url, "test");
  nats.cleanup(() => ctx.nc.close());
  system = await startSystem(config, nats.url, ["ingress", "matcher", "projector"]);
  db = await openReadModel(readModelPath(config));
});

afterAll(async () => {
  await db?.destroy();
  if (!stopped) await system?.stop();
});

describe("snapshots, trim and rebuild", () => {
  test("a snapshot taken while the projector applies a history holds exactly the rows of its sequence", async () => {
    await publishDecided("old");
    for (const id of ["first", "second"]) expect((await post(id)).status).toBe("accepted");
    const runs = Array.from({ length: 300 }, (_, i) => ({
      id: `past/${i}`,
      flow: "go",
      at: new Date(Date.now() - 3_600_000 + i),
      status: "completed" as const,
    }));
    const publishing = publishHistory(ctx, runs);
    const before = await checkpoint();
    await eventually(
      async () => (await checkpoint()) > before + 50 || undefined,
      30_000,
      "the projector to be applying the history",
    );
    const taken = await cli(["projector", "snapshot", "--keep", "2"]);
    expect(taken.code).toBe(0);
    await publishing;
    await caughtUp();
    const [manifest] = listSnapshots(snapshotsDir(config.dataDir), config.stream);
    expect(manifest!.seq).toBeGreaterThan(before);
    expect(taken.stdout).toContain(`at sequence ${manifest!.seq}`);
    const file = join(snapshotsDir(config.dataDir), manifest!.file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const copy = new Database(file, { readonly: true });
    try {
      expect(copy.query("SELECT seq FROM projector_state").get()).toEqual({ seq: manifest!.seq });
      // Its events are exactly those the live read model has at or below its sequence: none after, none missing.
      const copied = copy
        .query<{ id: string }, []>("SELECT id FROM events ORDER BY id")
        .all()
        .map((r) => r.id);
      const live = (
        await db.selectFrom("events").select("id").where("seq", "<=", manifest!.seq).orderBy("id").execute()
      ).map((r) => r.id);
      expect(copied).toEqual(live);
      expect(copied.length).toBeLessThan(303);
      expect(copy.query("SELECT max(seq) AS seq FROM runs").get()).toMatchObject({ seq: expect.any(Number) });
      expect((copy.query("SELECT max(seq) AS seq FROM runs").get() as { seq: number }).seq).toBeLessThanOrEqual(
        manifest!.seq,
      );
    } finally {
      copy.close();
    }
  });

  test("trim up to the newest snapshot: the history below it goes, pauses and other state stay, and --dry-run removes nothing", async () => {
    expect(
      (
        await json(
          fetch(`${system.ingressUrl}/flows/go/pause`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{}",
          }),
        )
      ).paused,
    ).toBe(true);
    await json(
      fetch(`${system.ingressUrl}/flows/go/resume`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }),
    );
    await caughtUp();
    expect((await cli(["projector", "snapshot", "--keep", "2"])).code).toBe(0);
    const [manifest] = listSnapshots(snapshotsDir(config.dataDir), config.stream);
    for (const id of ["tail-1", "tail-2"]) expect((await post(id)).status).toBe("accepted");
    const dry = await cli(["stream", "trim", "--to-snapshot", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would remove the history below sequence ${manifest!.seq + 1}`);
    expect(await streamStart(ctx.jsm, config.stream, ctx.subjects)).toBe(1);
    const trimmed = await cli(["stream", "trim", "--to-snapshot"]);
    expect(trimmed.code).toBe(0);
    expect(trimmed.stdout).toMatch(/removed \d+ messages/);
    // Trimmed, and still covered by the snapshot (the pause and resume before it stay, so the stream may start at them).
    const start = await streamStart(ctx.jsm, config.stream, ctx.subjects);
    expect(start).toBeGreaterThan(1);
    expect(start).toBeLessThanOrEqual(manifest!.seq + 1);
    expect(await lastMessage({ jsm: ctx.jsm, stream: config.stream }, ctx.subjects.matched("first"))).toBeUndefined();
    expect(await lastMessage({ jsm: ctx.jsm, stream: config.stream }, ctx.subjects.control("go"))).toBeDefined();
    expect(await lastMessage({ jsm: ctx.jsm, stream: config.stream }, ctx.subjects.matched("tail-2"))).toBeDefined();
  });

  test("an event published into the stream again after the trim starts nothing: the matcher asks the read model", async () => {
    // "old" was decided long ago, past JetStream's dedup window (its messages carry no msgID that could still catch a repeat).
    const original = await db.selectFrom("events").selectAll().where("id", "=", "old").executeTakeFirstOrThrow();
    const runsBefore = await db.selectFrom("runs").select(["id", "seq"]).where("event_id", "=", "old").execute();
    expect(runsBefore).toHaveLength(1);
    const { state } = await ctx.jsm.streams.info(config.stream);
    const body = JSON.stringify({
      v: 1,
      kind: "event.accepted",
      event: { id: "old", type: "demo.go", receivedAt: original.received_at, payload: {} },
      acceptedAt: original.accepted_at,
    });
    const ack = await ctx.js.publish(ctx.subjects.event("demo.go"), body);
    expect(ack.seq).toBeGreaterThan(state.last_seq);
    await eventually(
      async () => {
        const info = await ctx.jsm.consumers.info(config.stream, MATCHER_DURABLE);
        return (info.ack_floor.stream_seq >= ack.seq && info.num_ack_pending === 0) || undefined;
      },
      30_000,
      "the matcher to ack the copy",
    );
    await caughtUp();
    expect(await lastMessage({ jsm: ctx.jsm, stream: config.stream }, ctx.subjects.matched("old"))).toBeUndefined();
    expect(await lastMessage({ jsm: ctx.jsm, stream: config.stream }, ctx.subjects.command("any"))).toMatchObject({
      message: { eventId: "tail-2" },
    });
    expect(await db.selectFrom("runs").select(["id", "seq"]).where("event_id", "=", "old").execute()).toEqual(
      runsBefore,
    );
  });

  test("a rebuild from the snapshot and the stream's tail equals the live read model, row for row", async () => {
    await system.stop();
    stopped = true;
    const rebuilt = join(config.dataDir, "rebuilt.sqlite");
    const result = await cli(["projector", "rebuild", "--output", rebuilt]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("from snapshot read-model-");
    expect(await snapshotOf(rebuilt)).toBe(await snapshotOf(readModelPath(config)));
  });

  test("with the stream trimmed past every snapshot, a rebuild refuses and says why and what to do; so does --from-scratch", async () => {
    rmSync(snapshotsDir(config.dataDir), { recursive: true });
    const refused = await cli(["projector", "rebuild", "--output", join(config.dataDir, "never.sqlite")]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`cannot rebuild: stream ${config.stream} starts at sequence`);
    expect(refused.stderr).toContain("there is no snapshot in");
    expect(refused.stderr).toContain("restore the stream from a backup");
    const scratch = await cli([
      "projector",
      "rebuild",
      "--from-scratch",
      "--output",
      join(config.dataDir, "never.sqlite"),
    ]);
    expect(scratch.code).not.toBe(0);
    expect(scratch.stderr).toContain("--from-scratch: stream");
    expect(statSync(join(config.dataDir, "never.sqlite"), { throwIfNoEntry: false })).toBeUndefined();
    // A projector behind the stream's start refuses too, instead of silently skipping what was trimmed.
    const fresh = join(config.dataDir, "fresh", "read-model.sqlite");
    await expect(startProjectorService(ctx, fresh)).rejects.toThrow(
      /is at sequence 0 but stream \S+ now starts at \d+ \(trimmed\)/,
    );
  });
});
