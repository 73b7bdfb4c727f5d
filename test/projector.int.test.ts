import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { readModelPath } from "../lib/config.ts";
import { openReadModel } from "../lib/read-model/database.ts";
import { startProjector } from "../services/projector/projector.ts";
import { startProjectorService } from "../services/projector/service.ts";
import { inlineWriter, type Writer } from "../services/projector/writer.ts";
import { connectContext, type ServiceContext } from "../services/runtime/context.ts";
import { startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { snapshotOf } from "./support/snapshot.ts";

const nats = useNatsServer();
const EVENTS = 12;
let config: ReturnType<typeof testConfig>;
let lastSeq: number;
let ctx: ServiceContext;

beforeAll(async () => {
  const cwd = writeFlows({
    one: [
      { name: "a", type: "demo.tick", source: echoStep() },
      { name: "b", type: "demo.tick", source: echoStep("changed") },
    ],
    two: [{ name: "c", type: "demo.other", source: echoStep() }],
  });
  config = testConfig({ cwd });
  const system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  await Promise.all(
    Array.from({ length: EVENTS }, (_, i) =>
      fetch(`${system.ingressUrl}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: `tick/${i}`, type: i % 3 === 0 ? "demo.other" : "demo.tick", payload: { i } }),
      }),
    ),
  );
  await system.stop();
  ctx = await connectContext(config, nats.url, "test");
  nats.cleanup(() => ctx.nc.close());
  lastSeq = (await ctx.jsm.streams.info(config.stream)).state.last_seq;
});

describe("projector", () => {
  test("given a finished workload, then the read model holds every event and run, and its checkpoint is the stream's last sequence", async () => {
    const db = await openReadModel(readModelPath(config));
    try {
      expect(
        await db
          .selectFrom("events")
          .select(({ fn }) => fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow(),
      ).toEqual({ n: EVENTS });
      const runs = await db.selectFrom("runs").select(["status"]).execute();
      expect(runs).toHaveLength(4 + 8 * 2);
      expect(runs.every((r) => r.status === "completed")).toBe(true);
      expect((await db.selectFrom("projector_state").select("seq").executeTakeFirstOrThrow()).seq).toBe(lastSeq);
    } finally {
      await db.destroy();
    }
  });

  test("rebuilding from sequence 1 into a new file gives the same read model, row for row", async () => {
    const path = join(config.dataDir, "rebuild.sqlite");
    const service = await startProjectorService(ctx, path);
    await eventually(() => service.projector.appliedSeq() >= lastSeq, 15_000, "the rebuild to catch up");
    await service.stop();
    expect(await snapshotOf(path)).toBe(await snapshotOf(readModelPath(config)));
  });

  test("a projector stopped part-way resumes from its checkpoint and ends identical", async () => {
    const path = join(config.dataDir, "resume.sqlite");
    const first = await startProjectorService(ctx, path, { maxBatch: 5 });
    const firstBatch = new Promise<void>((resolve) => first.projector.onApplied(() => resolve()));
    await firstBatch;
    await first.stop();
    const stoppedAt = first.projector.appliedSeq();
    expect(stoppedAt).toBeLessThan(lastSeq);
    const second = await startProjectorService(ctx, path);
    expect(second.projector.appliedSeq()).toBe(stoppedAt);
    await eventually(() => second.projector.appliedSeq() >= lastSeq, 15_000, "the resumed projector to catch up");
    await second.stop();
    expect(await snapshotOf(path)).toBe(await snapshotOf(readModelPath(config)));
  });

  test("written on a thread of its own (as a rebuild writes), in many small batches, the read model is the same, row for row", async () => {
    const path = join(config.dataDir, "thread.sqlite");
    const service = await startProjectorService(ctx, path, { thread: true, scratch: true, maxBatch: 3 });
    await eventually(() => service.projector.appliedSeq() >= lastSeq, 15_000, "the threaded projector to catch up");
    await service.stop();
    expect(await snapshotOf(path)).toBe(await snapshotOf(readModelPath(config)));
  });

  test("a commit fails while the next batch is already with the writer: that batch is refused, the projector resumes from its checkpoint, nothing lost or applied twice", async () => {
    const path = join(config.dataDir, "failing.sqlite");
    const db = await openReadModel(path);
    const inline = inlineWriter(db);
    const refusals: string[] = [];
    let commits = 0;
    // Two batches at a time, as a writer thread takes them; the third commit fails once without writing.
    const writer: Writer = {
      depth: 2,
      async commit(batch) {
        if (++commits === 3) throw new Error("disk on fire");
        // The second batch takes a while, so the messages after the failing third one are taken
        // meanwhile and the fourth batch is with the writer before the failure is looked at.
        if (commits === 2) await Bun.sleep(300);
        return await inline.commit(batch).catch((error: Error) => {
          refusals.push(error.message);
          throw error;
        });
      },
      close: inline.close,
    };
    const projector = await startProjector({
      js: ctx.js,
      db,
      stream: config.stream,
      filterSubject: ctx.subjects.all,
      log: ctx.log,
      maxBatch: 4,
      writer,
    });
    try {
      await eventually(() => projector.appliedSeq() >= lastSeq, 15_000, "the projector to resume and catch up");
    } finally {
      await projector.stop();
      await db.destroy();
    }
    expect(commits).toBeGreaterThan(4);
    expect(refusals).toEqual([
      expect.stringMatching(/^a batch that follows sequence \d+ came to a read model at \d+$/),
    ]);
    expect(await snapshotOf(path)).toBe(await snapshotOf(readModelPath(config)));
  });

  test("while its disk is low (pausedBy), the projector takes nothing more, fails nothing, and once space returns it goes on by itself and ends identical", async () => {
    const path = join(config.dataDir, "paused.sqlite");
    const db = await openReadModel(path);
    const lines: string[] = [];
    const log = {
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(`error ${m}`),
    };
    // Low from the third batch on: the pause comes mid-stream, as a disk fills under a busy projector.
    let low = false;
    let batches = 0;
    const pausedBy = () => (low ? "the read model's disk is low: 1.0 MiB free under /srv/data" : undefined);
    const projector = await startProjector({
      js: ctx.js,
      db,
      stream: config.stream,
      filterSubject: ctx.subjects.all,
      log,
      maxBatch: 3,
      pausedBy,
    });
    projector.onApplied(() => {
      if (++batches === 3) low = true;
    });
    try {
      await eventually(
        () => lines.some((l) => l.startsWith("projector paused: the read model's disk is low")),
        15_000,
        "the projector to pause",
      );
      const pausedAt = projector.appliedSeq();
      expect(pausedAt).toBeLessThan(lastSeq);
      // Paused stays paused: the next polls (once a second) take nothing.
      await Bun.sleep(1_500);
      expect(projector.appliedSeq()).toBe(pausedAt);
      low = false;
      await eventually(() => projector.appliedSeq() >= lastSeq, 15_000, "the projector to go on once space returned");
    } finally {
      await projector.stop();
      await db.destroy();
    }
    expect(lines.filter((l) => l.startsWith("projector paused"))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith("projector resumed"))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith("error"))).toEqual([]);
    expect(await snapshotOf(path)).toBe(await snapshotOf(readModelPath(config)));
  });
});
