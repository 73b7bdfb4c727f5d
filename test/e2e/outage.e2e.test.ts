import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmbeddedNats, startNatsServer } from "../../lib/nats/nats-server.ts";
import { json } from "../support/http.ts";
import { eventually } from "../support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";

setDefaultTimeout(30_000);
const cli = useProcesses();

describe("flow serve ingress while NATS is down", () => {
  const PUBLISH_TIMEOUT_MS = 1_500;
  // The ingress rides out a NATS that is away for this long (issue 24), then answers 503 with Retry-After.
  const DEADLINE_MS = 2_000;
  // A server of this test's own, with a store that outlives it, so it can be stopped and started again.
  const storeDir = mkdtempSync(join(tmpdir(), "codex-flows-e2e-nats-"));
  let server: EmbeddedNats | undefined;

  afterAll(async () => {
    await cli.stopAll();
    await server?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  });

  const post = (url: string, id: string) =>
    fetch(`${url}/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, type: "demo.ping", payload: {} }),
    });

  test("given the nats-server stops, when an event is posted, then 503 with Retry-After comes back by the publish deadline; once a server is back on the same port and store, events are accepted again", async () => {
    server = await startNatsServer({ storeDir });
    const port = server.port;
    const env = await serviceEnv(server.url, {
      CODEX_FLOW_PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
      CODEX_FLOW_PUBLISH_DEADLINE_MS: String(DEADLINE_MS),
    });
    const ingress = cli.start(["serve", "ingress"], { env });
    const url = await ingressUrlOf(ingress);
    expect((await post(url, "before-outage")).status).toBe(202);

    await server.stop();
    server = undefined;
    // Right after the server went away the ingress may not know yet: the publish deadline bounds the answer.
    let started = Date.now();
    const first = await post(url, "during-outage-1");
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 1_000);
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await json(first)).error).toMatch(/^JetStream (is unavailable|did not acknowledge) .*retry later$/);

    // Once the client has noticed, the answer still waits out the deadline (a reconnect may come in it) and says why.
    await ingress.waitForLine(/ingress info nats: disconnect/);
    started = Date.now();
    const second = await post(url, "during-outage-2");
    expect(Date.now() - started).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 1_000);
    expect(second.status).toBe(503);
    expect(second.headers.get("content-type")).toContain("application/json");
    expect((await json(second)).error).toContain("JetStream is unavailable");
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect((await json(health)).nats.connected).toBe(false);

    server = await startNatsServer({ port, storeDir });
    const accepted = await eventually(
      async () => {
        const response = await post(url, "after-outage");
        return response.status === 202 ? await json(response) : undefined;
      },
      15_000,
      "a POST accepted after the nats-server came back",
    );
    // The stream survived in the store: the one event before the outage, then this one.
    expect(accepted).toMatchObject({ status: "accepted", eventId: "after-outage", seq: 2 });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
