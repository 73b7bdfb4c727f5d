import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { readModelPath } from "../lib/config.ts";
import { openReadModel, type ReadModel } from "../lib/read-model/database.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { connectContext, type ServiceContext } from "../services/runtime/context.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { publishHistory } from "./support/history.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { snapshotOf } from "./support/snapshot.ts";

const nats = useNatsServer();
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);
let config: ReturnType<typeof testConfig>;
let ctx: ServiceContext;
let system: RunningSystem;
let db: ReadModel;
let stopped = false;

const count = async (table: "events" | "runs" | "attempts" | "output" | "tombstones") =>
  Number(
    (
      await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );
const post = (id: string, wait = "matched") =>
  json(
    fetch(`${system.ingressUrl}/events?wait=${wait}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, type: "demo.tick", payload: {} }),
    }),
  );

beforeAll(async () => {
  // Flow `short` keeps its runs 3 days (failures 20); every other flow, the environment's 7 (failures 30).
  // Flow `capped` keeps its newest 2 final runs of each class (and the 7 days of the defaults).
  const step = [{ name: "a", type: "demo.never", source: echoStep() }];
  const cwd = writeFlows({ short: step, other: step, capped: step });
  const policy = async (flow: string, toml: string) =>
    await Bun.write(
      join(cwd, `flows/${flow}/flow.toml`),
      `${await Bun.file(join(cwd, `flows/${flow}/flow.toml`)).text()}\n[retention]\n${toml}\n`,
    );
  await policy("short", "days = 3\nfailed_days = 20");
  await policy("capped", "runs = 2");
  config = testConfig({ cwd, retention: { days: 7, failedDays: 30 }, retentionIntervalMs: 1_000 });
  ctx = await connectContext(config, nats.url, "test");
  nats.cleanup(() => ctx.nc.close());
  await publishHistory(ctx, [
    { id: "short/old-ok", flow: "short", at: ago(5), status: "completed" },
    { id: "short/old-failed", flow: "short", at: ago(5), status: "failed" },
    { id: "short/older-failed", flow: "short", at: ago(25), status: "failed" },
    { id: "short/new-ok", flow: "short", at: ago(1), status: "completed" },
    { id: "other/old-ok", flow: "other", at: ago(10), status: "completed" },
    { id: "other/mid-ok", flow: "other", at: ago(5), status: "completed" },
    { id: "other/old-failed", flow: "other", at: ago(10), status: "failed" },
    ...[4, 3, 2, 1].map((n) => ({ id: `capped/${n}`, flow: "capped", at: ago(n / 10), status: "completed" as const })),
    { id: "capped/failed", flow: "capped", at: ago(0.5), status: "failed" },
  ]);
  system = await startSystem(config, nats.url, ["ingress", "matcher", "projector"]);
  db = await openReadModel(readModelPath(config));
});

afterAll(async () => {
  await db?.destroy();
  if (!stopped) await system?.stop();
});

describe("retention", () => {
  test("given runs past their flow's retention (days, or beyond its newest N), then a tick deletes them with their events, attempts and output and keeps failures longer", async () => {
    await eventually(
      async () => (await count("tombstones")) === 5 || undefined,
      30_000,
      "the five expired events to be deleted",
    );
    const kept = await db.selectFrom("runs").select(["event_id", "status"]).orderBy("event_id").execute();
    const left = [
      "capped/1",
      "capped/2",
      "capped/failed",
      "other/mid-ok",
      "other/old-failed",
      "short/new-ok",
      "short/old-failed",
    ];
    expect(kept.map((r) => r.event_id)).toEqual(left);
    const events = await db.selectFrom("events").select("id").orderBy("id").execute();
    expect(events.map((e) => e.id)).toEqual(left);
    expect({ attempts: await count("attempts"), output: await count("output") }).toEqual({ attempts: 7, output: 7 });
    expect(
      await db
        .selectFrom("matches")
        .select("event_id")
        .where("event_id", "in", ["short/old-ok", "short/older-failed", "other/old-ok"])
        .execute(),
    ).toEqual([]);
  });

  test("given a deleted event, when its id is posted again, then it is a duplicate with its first sequence and starts nothing", async () => {
    const tombstone = await db.selectFrom("tombstones").select("seq").orderBy("seq").executeTakeFirstOrThrow();
    const again = await post("short/old-ok");
    expect(again).toMatchObject({ status: "duplicate", eventId: "short/old-ok", seq: tombstone.seq, idempotent: true });
    // A later event matched means the matcher and projector are past anything the repost could have caused.
    const sentinel = await post("sentinel");
    expect(sentinel.status).toBe("accepted");
    expect(await db.selectFrom("events").select("id").where("id", "=", "short/old-ok").execute()).toEqual([]);
    expect(await db.selectFrom("runs").select("id").where("event_id", "=", "short/old-ok").execute()).toEqual([]);
  });

  test("given the deleted id published into the stream again (past the dedup window), then the projector does not bring the event back", async () => {
    const { js, subjects } = ctx;
    const ack = await js.publish(
      subjects.event("demo.tick"),
      JSON.stringify({
        v: 1,
        kind: "event.accepted",
        event: { id: "other/old-ok", type: "demo.tick", receivedAt: new Date().toISOString(), payload: {} },
        acceptedAt: new Date().toISOString(),
      }),
    );
    await eventually(
      async () =>
        (await db.selectFrom("projector_state").select("seq").executeTakeFirstOrThrow()).seq >= ack.seq || undefined,
      15_000,
      "the projector to apply it",
    );
    expect(await db.selectFrom("events").select("id").where("id", "=", "other/old-ok").execute()).toEqual([]);
  });

  test("a rebuild from sequence 1 gives the same read model as the live one, row for row", async () => {
    await system.stop();
    stopped = true;
    const rebuilt = join(config.dataDir, "rebuilt.sqlite");
    await rebuildReadModel(ctx, rebuilt);
    expect(await snapshotOf(rebuilt)).toBe(await snapshotOf(readModelPath(config)));
  });
});
