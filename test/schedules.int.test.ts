import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { flowCatalog } from "../lib/flows/catalog.ts";
import { ensureStream } from "../lib/nats/jetstream.ts";
import { decodeMessage, encodeMessage, type FlowMessage, type ScheduleTicked } from "../lib/protocol/messages.ts";
import { subjects as subjectsFor } from "../lib/protocol/subjects.ts";
import { startScheduler } from "../services/matcher/scheduler.ts";
import { startSystem } from "../services/runtime/system.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();

/** A cwd with one flow whose step runs `source` and whose schedules are given as TOML. */
function scheduledFlow(
  schedules: string,
  source = 'console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n',
): string {
  const cwd = tempDir("codex-flows-sched-");
  const root = join(cwd, "flows", "nightly");
  mkdirSync(join(root, "exec"), { recursive: true });
  writeFileSync(join(root, "exec", "go.ts"), source);
  writeFileSync(
    join(root, "flow.toml"),
    `name = "nightly"\n\n[[steps]]\nname = "go"\nrunner = "bun"\nscript = "exec/go.ts"\n\n[steps.trigger]\ntype = "nightly.tick"\n\n${schedules}\n`,
  );
  return cwd;
}

async function setup(cwd: string, overrides = {}) {
  const config = testConfig({ cwd, ...overrides });
  const connections = await Promise.all([connect({ servers: nats.url }), connect({ servers: nats.url })]);
  nats.cleanup(() => Promise.all(connections.map((nc) => nc.close())));
  const jsm = await jetstreamManager(connections[0]!);
  await ensureStream(jsm, config);
  const subjects = subjectsFor(config.subjectPrefix);
  const deps = connections.map((nc) => ({
    js: jetstream(nc),
    jsm,
    stream: config.stream,
    subjects,
    publishTimeoutMs: 5_000,
    catalog: flowCatalog(cwd),
    log: quiet,
  }));
  return { config, jsm, js: jetstream(connections[0]!), subjects, deps };
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} } as never;

/** Every message stored under `filter` (wildcards allowed), in stream order: direct gets, one subject match after another. */
async function stored(jsm: JetStreamManager, stream: string, filter: string): Promise<FlowMessage[]> {
  const out: FlowMessage[] = [];
  for (let seq = 1; out.length < 10_000; ) {
    const message = await jsm.direct.getMessage(stream, { seq, next_by_subj: filter });
    if (!message) break;
    const decoded = decodeMessage(message.data);
    if (decoded.ok) out.push(decoded.message);
    seq = message.seq + 1;
  }
  return out;
}

describe("schedules", () => {
  test("given two schedulers on two connections, when a schedule ticks every second, then exactly one event per tick enters the stream", async () => {
    const cwd = scheduledFlow(
      `[[schedules]]\nname = "every-second"\ncron = "* * * * * *"\noverlap = "allow"\nevent = { type = "nightly.tick", payload = { n = 1 } }\n`,
    );
    const { config, jsm, subjects, deps } = await setup(cwd);
    const schedulers = deps.map((d) => startScheduler({ ...d, everyMs: 50 }));
    try {
      await eventually(
        async () =>
          (await stored(jsm, config.stream, subjects.schedule("nightly", "every-second"))).length >= 4 || undefined,
        15_000,
        "four ticks",
      );
    } finally {
      await Promise.all(schedulers.map((s) => s.stop()));
    }
    const ticks = (await stored(jsm, config.stream, subjects.schedule("nightly", "every-second"))) as ScheduleTicked[];
    const events = (await stored(jsm, config.stream, subjects.allEvents)).flatMap((m) =>
      m.kind === "event.accepted" ? [m.event] : [],
    );
    const emitted = ticks.filter((t) => t.outcome === "emitted");
    expect(emitted.length).toBeGreaterThanOrEqual(3);
    expect(new Set(ticks.map((t) => t.tick)).size).toBe(ticks.length);
    expect(events.map((e) => e.id)).toEqual(emitted.map((t) => `schedule:nightly:every-second:${t.tick}`));
    expect(events[0]).toMatchObject({
      type: "nightly.tick",
      payload: { n: 1 },
      source: "schedule:nightly/every-second",
      occurredAt: emitted[0]!.tick,
    });
  }, 30_000);

  test("given the last tick three hours ago, when a scheduler starts, then catch_up = latest emits the newest missed tick and records the others as skipped; catch_up = all emits all three", async () => {
    const cwd = scheduledFlow(
      `[[schedules]]\nname = "hourly"\ncron = "0 * * * *"\ntimezone = "Europe/Berlin"\noverlap = "allow"\nevent = { type = "nightly.tick" }\n\n` +
        `[[schedules]]\nname = "hourly-all"\ncron = "0 * * * *"\ncatch_up = "all"\noverlap = "allow"\nevent = { type = "nightly.tick" }\n`,
    );
    const { config, js, jsm, subjects, deps } = await setup(cwd);
    const now = new Date("2026-06-01T12:30:00Z");
    for (const name of ["hourly", "hourly-all"]) {
      const tick = "2026-06-01T09:00:00.000Z";
      const last: ScheduleTicked = {
        v: 1,
        kind: "schedule.ticked",
        flow: "nightly",
        schedule: name,
        tick,
        outcome: "emitted",
        eventId: `schedule:nightly:${name}:${tick}`,
        lastEmittedEventId: "none-running",
        at: tick,
      };
      await js.publish(subjects.schedule("nightly", name), encodeMessage(last));
    }
    const scheduler = startScheduler({ ...deps[0]!, everyMs: 60_000 });
    await scheduler.pass(now);
    await scheduler.stop();

    const latest = (await stored(jsm, config.stream, subjects.schedule("nightly", "hourly"))) as ScheduleTicked[];
    expect(latest.slice(1).map((t) => [t.tick, t.outcome])).toEqual([
      ["2026-06-01T10:00:00.000Z", "skipped"],
      ["2026-06-01T11:00:00.000Z", "skipped"],
      ["2026-06-01T12:00:00.000Z", "emitted"],
    ]);
    expect(latest[1]!.reason).toContain("missed while no scheduler ran");
    const all = (await stored(jsm, config.stream, subjects.schedule("nightly", "hourly-all"))) as ScheduleTicked[];
    expect(all.slice(1).map((t) => t.outcome)).toEqual(["emitted", "emitted", "emitted"]);
    const ids = (await stored(jsm, config.stream, subjects.allEvents)).flatMap((m) =>
      m.kind === "event.accepted" ? [m.event.id] : [],
    );
    expect(ids.sort()).toEqual(
      [
        "schedule:nightly:hourly:2026-06-01T12:00:00.000Z",
        ...["10", "11", "12"].map((h) => `schedule:nightly:hourly-all:2026-06-01T${h}:00:00.000Z`),
      ].sort(),
    );
  }, 30_000);

  test("given a live scheduler, when one of its passes runs 35 s late (a busy host), then it emits every tick it owes and records none as missed (catch_up = latest)", async () => {
    const cwd = scheduledFlow(
      `[[schedules]]\nname = "ten"\ncron = "*/10 * * * * *"\noverlap = "allow"\nevent = { type = "nightly.tick" }\n`,
    );
    const { config, jsm, subjects, deps } = await setup(cwd);
    const scheduler = startScheduler({ ...deps[0]!, everyMs: 60_000 });
    await scheduler.pass(new Date("2026-06-01T12:00:05Z"));
    await scheduler.pass(new Date("2026-06-01T12:00:40Z"));
    await scheduler.stop();
    const ticks = (await stored(jsm, config.stream, subjects.schedule("nightly", "ten"))) as ScheduleTicked[];
    expect(ticks.map((t) => [t.tick, t.outcome])).toEqual(
      ["10", "20", "30", "40"].map((s) => [`2026-06-01T12:00:${s}.000Z`, "emitted"]),
    );
    const ids = (await stored(jsm, config.stream, subjects.allEvents)).flatMap((m) =>
      m.kind === "event.accepted" ? [m.event.id] : [],
    );
    expect(ids).toEqual(ticks.map((t) => t.eventId));
  }, 30_000);

  test("given a tick claimed by a scheduler that died before publishing its event, when another scheduler looks, then the event is published (once)", async () => {
    const cwd = scheduledFlow(`[[schedules]]\nname = "daily"\ncron = "0 0 * * *"\nevent = { type = "nightly.tick" }\n`);
    const { config, js, jsm, subjects, deps } = await setup(cwd);
    const tick = "2026-06-01T00:00:00.000Z";
    const eventId = `schedule:nightly:daily:${tick}`;
    const claim: ScheduleTicked = {
      v: 1,
      kind: "schedule.ticked",
      flow: "nightly",
      schedule: "daily",
      tick,
      outcome: "emitted",
      eventId,
      lastEmittedEventId: eventId,
      at: new Date().toISOString(),
    };
    await js.publish(subjects.schedule("nightly", "daily"), encodeMessage(claim), {
      msgID: `tick:nightly:daily:${tick}`,
    });
    const schedulers = deps.map((d) => startScheduler({ ...d, everyMs: 60_000 }));
    await Promise.all(schedulers.map((s) => s.pass(new Date("2026-06-01T00:00:30Z"))));
    await Promise.all(schedulers.map((s) => s.stop()));
    const events = (await stored(jsm, config.stream, subjects.allEvents)).flatMap((m) =>
      m.kind === "event.accepted" ? [m.event.id] : [],
    );
    expect(events).toEqual([eventId]);
  });

  test("given a whole system and a step that outlasts the interval, when ticks come, then they run as events, an overlapping tick is skipped with why, and GET /schedules shows next and last tick", async () => {
    const cwd = scheduledFlow(
      `[[schedules]]\nname = "fast"\ncron = "*/2 * * * * *"\nevent = { type = "nightly.tick" }\n`,
      'await Bun.sleep(3_000);\nconsole.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n',
    );
    const config = testConfig({ cwd });
    const system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
    nats.cleanup(() => system.stop());
    const url = system.ingressUrl!;
    const skipped = await eventually(
      async () => {
        const { schedules } = await json(fetch(`${url}/schedules`));
        return schedules[0]?.lastTick?.outcome === "skipped" ? schedules[0] : undefined;
      },
      20_000,
      "a skipped tick",
    );
    expect(skipped).toMatchObject({
      flow: "nightly",
      name: "fast",
      cron: "*/2 * * * * *",
      timezone: "UTC",
      eventType: "nightly.tick",
      catchUp: "latest",
      overlap: "skip",
    });
    expect(skipped.lastTick.reason).toContain("are still going (overlap = skip)");
    expect(Date.parse(skipped.nextTick)).toBeGreaterThan(Date.parse(skipped.lastTick.tick));
    const runs = await json(fetch(`${url}/runs?flow=nightly`));
    expect(runs.runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.runs.at(-1).eventId).toStartWith("schedule:nightly:fast:");
  }, 40_000);
});
