import { describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { ensureConsumer, ensureStream } from "../lib/nats/jetstream.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();

async function manager() {
  const nc = await connect({ servers: nats.url });
  nats.cleanup(() => nc.close());
  return await jetstreamManager(nc);
}

describe("stream and consumer provisioning", () => {
  test("given several hosts starting at once, then every one succeeds and one stream exists with our settings", async () => {
    const config = testConfig();
    const managers = await Promise.all(Array.from({ length: 6 }, manager));
    await Promise.all(managers.map((jsm) => ensureStream(jsm, config)));
    const info = await managers[0]!.streams.info(config.stream);
    expect(info.config.subjects).toEqual([`${config.subjectPrefix}.>`]);
    expect(info.config.allow_direct).toBe(true);
    expect(info.config.retention).toBe("limits");
    expect(info.config.storage).toBe("file");
    expect(info.config.duplicate_window).toBe(config.duplicateWindowMs * 1_000_000);
    const names: string[] = [];
    for await (const name of managers[0]!.streams.names()) names.push(name);
    expect(names.filter((n) => n === config.stream)).toHaveLength(1);
  });

  test("given a stream made with other settings, then ensureStream brings ours back and keeps the messages", async () => {
    const config = testConfig();
    const jsm = await manager();
    await jsm.streams.add({
      name: config.stream,
      subjects: [`${config.subjectPrefix}.>`],
      duplicate_window: 5_000_000_000,
    });
    const nc = await connect({ servers: nats.url });
    nats.cleanup(() => nc.close());
    nc.publish(`${config.subjectPrefix}.events.x`, "{}");
    await nc.flush();
    await ensureStream(jsm, { ...config, duplicateWindowMs: 60_000, maxAgeMs: 3_600_000 });
    const info = await jsm.streams.info(config.stream);
    expect(info.config.duplicate_window).toBe(60_000 * 1_000_000);
    expect(info.config.max_age).toBe(3_600_000 * 1_000_000);
    expect(info.config.allow_direct).toBe(true);
    expect(info.state.messages).toBe(1);
  });

  test("given consumers provisioned at once and again with a new ack wait, then one consumer with the new setting", async () => {
    const config = testConfig();
    const jsm = await manager();
    await ensureStream(jsm, config);
    const spec = { durable: "matcher", filterSubject: `${config.subjectPrefix}.events.>`, ackWaitMs: 30_000 };
    await Promise.all([
      ensureConsumer(jsm, config.stream, spec),
      ensureConsumer(jsm, config.stream, spec),
      ensureConsumer(jsm, config.stream, spec),
    ]);
    await ensureConsumer(jsm, config.stream, { ...spec, ackWaitMs: 10_000 });
    const info = await jsm.consumers.info(config.stream, "matcher");
    expect(info.config.ack_wait).toBe(10_000 * 1_000_000);
    expect(info.config.filter_subject).toBe(spec.filterSubject);
    expect(info.config.ack_policy).toBe("explicit");
  });
});
