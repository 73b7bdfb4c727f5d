import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type EmbeddedNats, freePort, startNatsServer } from "../lib/nats/nats-server.ts";
import { json } from "./support/http.ts";
import { eventually } from "./support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "./support/processes.ts";
import { storedEvents } from "./support/stored.ts";
import { tempDir } from "./support/temp.ts";

// `flow serve ingress` while NATS is down (issue 24 item 2): with a spool it listens at once,
// spools every event, says on /healthz why it is degraded, answers reads from SQLite and other
// writes 503, and once a nats-server comes up at its NATS_URL it provisions the stream and
// drains the spool. Without a spool it refuses to start, naming the URL.
setDefaultTimeout(60_000);
const cli = useProcesses();
let server: EmbeddedNats | undefined;
afterAll(async () => await server?.stop());

const post = (url: string, id: string) =>
  fetch(`${url}/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, type: "demo.ping", payload: { id } }),
  });

describe("flow serve ingress started while NATS is down", () => {
  test("given a spool, then it listens, answers 202 spooled, /healthz says why it is degraded, reads work, other writes are 503; once NATS is up the spool drains into the stream", async () => {
    const port = await freePort();
    const natsUrl = `nats://127.0.0.1:${port}`;
    const env = await serviceEnv(natsUrl, {
      CODEX_FLOW_INGRESS_SPOOL: join(tempDir("codex-flows-spool-"), "spool"),
      CODEX_FLOW_MATCH_WAIT_MS: "0",
    });
    const proc = cli.start(["serve", "ingress"], { env });
    const url = await ingressUrlOf(proc);
    const first = await post(url, "early-1");
    expect(first.status).toBe(202);
    expect(await json(first)).toEqual({ status: "accepted", eventId: "early-1", spooled: true });
    expect(await json(post(url, "early-2"))).toMatchObject({ status: "accepted", spooled: true });
    // A repeat while it waits is the same event.
    expect(await json(post(url, "early-1"))).toMatchObject({ status: "duplicate", spooled: true });

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    const body = await json(health);
    expect(body.ok).toBe(false);
    expect(body.nats).toEqual({ connected: false, jetstream: false, server: natsUrl });
    expect(body.reason).toContain(`NATS unreachable: no connection to NATS since this ingress started`);
    expect(body.reason).toContain(`cannot connect to NATS at ${natsUrl}`);
    expect(body.reason).toContain("events are spooled (2 waiting, the oldest for");
    expect(body.spool).toMatchObject({ depth: 2 });

    // Reads come from the read model (SQLite); a spooled event is not in it yet.
    const events = await fetch(`${url}/events`);
    expect(events.status).toBe(200);
    expect((await fetch(`${url}/events/early-1`)).status).toBe(404);
    // A write that is not an event has no spool: 503, Retry-After, and why.
    const purge = await fetch(`${url}/purge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ before: "2020-01-01" }),
    });
    expect(purge.status).toBe(503);
    expect(purge.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await json(purge)).error).toMatch(
      /^JetStream is unavailable \(no connection to NATS since .*cannot connect to NATS at .*; nothing was accepted, retry later$/,
    );
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^codex_flows_nats_connected 0$/m);

    server = await startNatsServer({ port, storeDir: tempDir("codex-flows-nats-") });
    await proc.waitForLine(`connected to NATS at ${natsUrl} and checked the stream ${env.CODEX_FLOW_STREAM}`, 20_000);
    await eventually(async () => (await json(fetch(`${url}/healthz`))).spool?.depth === 0, 20_000, "the spool drained");
    expect((await storedEvents(server.url, env.CODEX_FLOW_STREAM!)).map((s) => [s.id, s.msgId])).toEqual([
      ["early-1", "event:early-1"],
      ["early-2", "event:early-2"],
    ]);
    await eventually(async () => (await fetch(`${url}/healthz`)).status === 200, 10_000, "/healthz ok again");
    const after = await post(url, "after-1");
    expect(await json(after)).toMatchObject({ status: "accepted", eventId: "after-1", seq: 3 });
    proc.signal("SIGTERM");
    expect(await proc.exit(10_000)).toBe(0);
  });

  test("given a spool and NATS still down, then SIGTERM stops it at once (exit 0), its dialling with it", async () => {
    const env = await serviceEnv(`nats://127.0.0.1:${await freePort()}`, {
      CODEX_FLOW_INGRESS_SPOOL: join(tempDir("codex-flows-spool-"), "spool"),
    });
    const proc = cli.start(["serve", "ingress"], { env });
    const url = await ingressUrlOf(proc);
    expect(await json(post(url, "before-stop"))).toMatchObject({ spooled: true });
    await proc.waitForLine(
      "the ingress runs without NATS meanwhile (events go to its spool); trying again every 1000 ms",
    );
    const asked = Date.now();
    proc.signal("SIGTERM");
    expect(await proc.exit(10_000)).toBe(0);
    expect(Date.now() - asked).toBeLessThan(5_000);
  });

  test("given no spool, then it does not start, and says which NATS it could not reach and how to fix it", async () => {
    const env = await serviceEnv(`nats://127.0.0.1:${await freePort()}`);
    const { code, stderr } = await cli.run(["serve", "ingress"], { env });
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot connect to NATS at ${env.NATS_URL}`);
    expect(stderr).toContain("NATS_URL");
    expect(stderr).not.toContain("listening on");
  });
});
