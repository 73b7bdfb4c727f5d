/**
 * What the dashboard reads besides the runs and events API, as HTTP: the page itself,
 * GET /flows, GET /hosts and the GET /changes long poll, with and without a token.
 */

import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
const TOKEN = "api-token";
let url: string;
let stream: string;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  const cwd = writeFlows({
    notes: [
      {
        name: "write",
        type: "note.posted",
        source: echoStep(),
        schema: { type: "object", properties: { text: { type: "string" } } },
        extra: 'runs_on = "test-host"\nretries = 2',
      },
    ],
  });
  mkdirSync(join(cwd, "flows", "broken"), { recursive: true });
  writeFileSync(join(cwd, "flows", "broken", "flow.toml"), "not toml = = =");
  const config = testConfig({ cwd, token: TOKEN, labels: ["gpu"] });
  const system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  nats.cleanup(() => system.stop());
  url = system.ingressUrl!;
  stream = config.stream;
});

describe("the dashboard's page", () => {
  test("/ redirects to /ui/; every /ui/ path is the page, with a CSP that admits only its own inline script and style", async () => {
    const root = await fetch(`${url}/`, { redirect: "manual" });
    expect({ status: root.status, location: root.headers.get("location") }).toEqual({ status: 302, location: "/ui/" });
    for (const path of ["/ui", "/ui/", "/ui/runs", "/ui/events/some%20id"]) {
      const page = await fetch(`${url}${path}`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const csp = page.headers.get("content-security-policy")!;
      const script = /<script type="module">([\s\S]*)<\/script>/.exec(html)![1]!;
      const style = /<style>([\s\S]*)<\/style>/.exec(html)![1]!;
      expect(csp).toContain(`script-src 'sha256-${createHash("sha256").update(script).digest("base64")}'`);
      expect(csp).toContain(`style-src 'sha256-${createHash("sha256").update(style).digest("base64")}'`);
      expect(csp).toContain("default-src 'self'");
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    }
  });
});

describe("its read endpoints", () => {
  test("each needs the token like the other reads", async () => {
    for (const path of ["/flows", "/hosts", "/changes", "/overview", "/schedules/ticks"])
      expect((await fetch(`${url}${path}`)).status).toBe(401);
  });

  test("GET /flows: each step's trigger, schema, runner, policies and queue; the broken flow's load error", async () => {
    const body = (await (await fetch(`${url}/flows`, { headers: auth })).json()) as any;
    expect(body.flows).toHaveLength(1);
    expect(body.flows[0].steps[0]).toMatchObject({
      name: "write",
      runner: "bun",
      trigger: { type: "note.posted", schema: "schemas/write.schema.json" },
      schema: { type: "object", properties: { text: { type: "string" } } },
      schemaError: null,
      policy: { retries: 2, runsOn: "test-host", concurrency: null },
      queue: "test-host",
    });
    expect(body.problems).toHaveLength(1);
    expect(body.problems[0].path).toEndWith(join("broken", "flow.toml"));
  });

  test("GET /hosts: the executor with its labels, queues and slots; durable consumers only; the projector's lag", async () => {
    // The executor beats every 5 s; the ingress may have started after its first beat.
    let body: any;
    for (let i = 0; i < 80; i++) {
      body = await (await fetch(`${url}/hosts`, { headers: auth })).json();
      if (body.hosts.length > 0) break;
      await Bun.sleep(100);
    }
    expect(body.hosts).toEqual([
      {
        host: "test-host",
        labels: ["gpu"],
        queues: expect.arrayContaining(["any", "test-host", "gpu"]),
        slotsInUse: 0,
        capacity: expect.any(Number),
        at: expect.any(String),
      },
    ]);
    expect(body.queues.map((q: { consumer: string }) => q.consumer)).toEqual(
      expect.arrayContaining(["executor-any", "executor-test-host", "executor-gpu", "matcher"]),
    );
    expect(body.queues.every((q: { consumer: string }) => !/_\d+$/.test(q.consumer))).toBe(true);
    expect(body.projector).toMatchObject({ lag: expect.any(Number), appliedSeq: expect.any(Number) });
  });

  test("GET /changes without `after` answers at once with the applied sequence; with it, holds until the read model moves past it", async () => {
    const first = (await (await fetch(`${url}/changes`, { headers: auth })).json()) as { seq: number };
    const held = fetch(`${url}/changes?after=${first.seq}`, { headers: auth }).then(
      (r) => r.json() as Promise<{ seq: number }>,
    );
    const settled = await Promise.race([held.then(() => "answered"), Bun.sleep(300).then(() => "held")]);
    expect(settled).toBe("held");
    const posted = (await (
      await fetch(`${url}/events`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ id: "changes-1", type: "note.posted", payload: {} }),
      })
    ).json()) as { seq: number };
    const answeredAfter = Date.now();
    expect((await held).seq).toBeGreaterThanOrEqual(posted.seq);
    // Woken by the projector's commit, not by the 25 s bound.
    expect(Date.now() - answeredAfter).toBeLessThan(5_000);
    const bad = await fetch(`${url}/changes?after=soon`, { headers: auth });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('after="soon" is invalid');
  });
  test("ephemeral consumers (one without a durable name; one the way `nats stream view`'s pager makes it) are backlogs neither on GET /hosts nor in /metrics", async () => {
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await fetch(`${url}/events`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ id: "eph-1", type: "note.posted", payload: {} }),
      }); // something in the stream for the pager to read
      const unnamed = await jsm.consumers.add(stream, {
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.All,
        inactive_threshold: nanos(60_000),
      });
      // The pager's consumer as the nats CLI 0.1 creates it: a durable name, in memory, gone after an idle hour.
      const pager = await jsm.consumers.add(stream, {
        durable_name: "stream_pager_4242",
        description: "JSM Stream Pager",
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: ">",
        inactive_threshold: nanos(3_600_000),
        mem_storage: true,
      });
      const listed: string[] = [];
      for await (const info of jsm.consumers.list(stream)) listed.push(info.name);
      expect(listed).toEqual(expect.arrayContaining([unnamed.name, pager.name, "matcher"]));
      expect(pager.num_pending).toBeGreaterThan(0);

      const hosts = (await (await fetch(`${url}/hosts`, { headers: auth })).json()) as {
        queues: { consumer: string }[];
      };
      const shown = hosts.queues.map((q) => q.consumer);
      expect(shown).toContain("matcher");
      expect(shown).not.toContain(unnamed.name);
      expect(shown).not.toContain(pager.name);
      const metrics = await (await fetch(`${url}/metrics`, { headers: auth })).text();
      expect(metrics).toContain('codex_flows_consumer_pending{consumer="matcher"}');
      expect(metrics).not.toContain(unnamed.name);
      expect(metrics).not.toContain("stream_pager_4242");
    } finally {
      await nc.close();
    }
  });
});

describe("stopping the ingress", () => {
  test("ends held long polls and output streams at once instead of waiting for them", async () => {
    const cwd = writeFlows({ notes: [{ name: "write", type: "note.posted", source: echoStep() }] });
    // No executor: the run stays queued, so its output stream would follow it forever.
    const system = await startSystem(testConfig({ cwd }), nats.url, ["ingress", "matcher", "projector"]);
    const base = system.ingressUrl!;
    const posted = (await (
      await fetch(`${base}/events?wait=matched`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "stop-1", type: "note.posted", payload: {} }),
      })
    ).json()) as { runIds: string[] };
    const { seq } = (await (await fetch(`${base}/changes`)).json()) as { seq: number };
    const held = fetch(`${base}/changes?after=${seq}`).then((r) => r.json());
    const stream = await fetch(`${base}/runs/${posted.runIds[0]}/output`);
    const streamed = stream.text();
    await Bun.sleep(200);
    const started = Date.now();
    await system.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await held).toEqual({ seq });
    expect(await streamed).toContain("event: run");
  });
});
