import { afterEach, expect, test } from "bun:test";
import { STREAM_PROBE_TIMEOUT_MS } from "../services/ingress/system/stream-probe.ts";
import { startSystem } from "../services/runtime/system.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

// The server of this file alone: the test freezes it.
const nats = useNatsServer();
const resume = () => process.kill(nats.server.pid, "SIGCONT");
afterEach(resume);

test("given a connected ingress, when JetStream stops answering, then /healthz is 503 with ok false and the reason, and ok again once it answers", async () => {
  const config = testConfig();
  const system = await startSystem(config, nats.url, ["ingress"]);
  nats.cleanup(() => system.stop());
  const healthz = async () => {
    const response = await fetch(`${system.ingressUrl}/healthz`);
    return { status: response.status, body: await json(response) };
  };
  const before = await healthz();
  expect(before).toMatchObject({ status: 200, body: { ok: true, nats: { connected: true, jetstream: true } } });
  expect(before.body.reason).toBeUndefined();

  // A stopped server keeps the TCP connection (the client still counts itself connected) while
  // nothing answers: as nats-server 2.9.10 behaved with its store's disk full.
  process.kill(nats.server.pid, "SIGSTOP");
  const frozen = await eventually(
    async () => {
      const answer = await healthz();
      return answer.status === 503 ? answer : undefined;
    },
    20_000,
    "/healthz to say 503",
  );
  expect(frozen.body).toMatchObject({ ok: false, nats: { connected: true, jetstream: false } });
  expect(frozen.body.reason).toBe(
    `JetStream stream info for ${config.stream} failed: no answer within ${STREAM_PROBE_TIMEOUT_MS} ms`,
  );

  resume();
  const back = await eventually(
    async () => {
      const answer = await healthz();
      return answer.status === 200 ? answer : undefined;
    },
    20_000,
    "/healthz to say 200 again",
  );
  expect(back.body).toMatchObject({ ok: true, nats: { connected: true, jetstream: true } });
});
