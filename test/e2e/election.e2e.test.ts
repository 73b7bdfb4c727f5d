import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { freePort } from "../../lib/nats/nats-server.ts";
import { Deployment, tempDir, withOutput } from "../support/cluster.ts";
import { json } from "../support/http.ts";
import { type Sent, steadyLoad } from "../support/load.ts";
import { eventually } from "../support/nats.ts";
import { type NatsCluster, startNatsCluster } from "../support/nats-cluster.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";
import { countsById, latencyReport, storedEvents } from "../support/stored.ts";

// Issue 24 item 1: the stream's leader is killed in a 3-node cluster under 20 posts/s. A
// publish that fails for a reason that passes (no responders while the stream elects a
// leader, a timeout, a reconnect) is retried with the same Nats-Msg-Id until the publish
// deadline, so no sender sees a 503 and every accepted post is in the stream once. The
// summary line gives the 503 count and the latency percentiles.
// nats-server's followers wait 4-9 s (random) for a lost leader before they campaign, so
// an election after a SIGKILL ends within about 10 s but not always within the default
// 8 s deadline (three runs here: 6.9, 6.9 and 5.3 s for the longest-held post). The test
// sets the deadline above that worst case so that "no 503" cannot flake, and reports how
// many posts were held past the default (they would be 503, or spooled, with it).
const DEFAULT_DEADLINE_MS = 8_000;
setDefaultTimeout(120_000);
const cli = useProcesses();
const RATE_PER_S = 20;
let cluster: NatsCluster;
let deployment: Deployment;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  // No matcher here: the answer is the publish alone (CODEX_FLOW_MATCH_WAIT_MS=0).
  env = await serviceEnv(cluster.urls, {
    CODEX_FLOW_STREAM_REPLICAS: "3",
    CODEX_FLOW_MATCH_WAIT_MS: "0",
    CODEX_FLOW_PUBLISH_TIMEOUT_MS: "2000",
    CODEX_FLOW_PUBLISH_DEADLINE_MS: "12000",
  });
  deployment = new Deployment(cli, env);
  await deployment.start("ingress", "ingress");
  await cluster.streamCurrent(env.CODEX_FLOW_STREAM!);
});

afterAll(async () => {
  await cli.stopAll();
  await cluster?.close();
  deployment?.removeTempDirs();
});

/** The node that leads the stream now (undefined while it elects one). */
async function streamLeader(stream: string): Promise<string | undefined> {
  const nc = await connect({ servers: cluster.urls.split(","), timeout: 2_000 });
  try {
    // While the JetStream meta group elects a leader too, its API does not answer: "not known yet".
    const jsm = await jetstreamManager(nc, { timeout: 2_000 }).catch(() => undefined);
    return (await jsm?.streams.info(stream).catch(() => undefined))?.cluster?.leader;
  } finally {
    await nc.close();
  }
}

/** Runs a 20 posts/s load against `url` while the stream's leader is SIGKILLed; returns every answer and the report. */
async function killLeaderUnderLoad(url: string, name: string, report: Record<string, unknown>): Promise<Sent[]> {
  const stream = env.CODEX_FLOW_STREAM!;
  const load = steadyLoad(() => url, name, RATE_PER_S);
  const started = Date.now();
  let answers: Sent[];
  try {
    await Bun.sleep(2_000);
    const leader = await eventually(() => streamLeader(stream), 10_000, "the stream's leader");
    await cluster.stop(leader, "SIGKILL");
    report.killed = `${leader} at +${Date.now() - started} ms`;
    const next = await eventually(
      async () => {
        const now = await streamLeader(stream);
        return now && now !== leader ? now : undefined;
      },
      30_000,
      "a new stream leader",
    );
    report.newLeader = `${next} at +${Date.now() - started} ms`;
    await Bun.sleep(5_000);
  } finally {
    answers = await load.stop();
  }
  return answers;
}

/** No answer but 202, and every accepted post in the stream exactly once. */
async function everyPostStoredOnce(answers: Sent[], report: Record<string, unknown>): Promise<void> {
  const stored = await storedEvents(cluster.urls, env.CODEX_FLOW_STREAM!);
  const counts = countsById(stored);
  const accepted = answers.filter((a) => a.status === 202);
  Object.assign(report, {
    sent: answers.length,
    ...latencyReport(answers),
    spooled: accepted.filter((a) => a.body?.spooled === true).length,
    heldPastDefaultDeadline: answers.filter((a) => a.to - a.from > DEFAULT_DEADLINE_MS).length,
  });
  console.log(`election summary: ${JSON.stringify(report)}`);
  expect(
    answers
      .filter((a) => a.status !== 202)
      .map((a) => ({ id: a.id, status: a.status, error: a.error ?? a.body?.error })),
  ).toEqual([]);
  expect(
    accepted.filter((a) => counts.get(a.id) !== 1).map((a) => ({ id: a.id, stored: counts.get(a.id) ?? 0 })),
  ).toEqual([]);
  expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
}

describe("an R3 stream whose leader is killed under load", () => {
  test("given 20 posts/s, when the stream leader is SIGKILLed, then no post is answered 503 and every accepted post is in the stream once", () =>
    withOutput(deployment, async () => {
      const report: Record<string, unknown> = { ingress: "no spool" };
      const answers = await killLeaderUnderLoad(await ingressUrlOf(deployment.proc("ingress")), "election", report);
      await everyPostStoredOnce(answers, report);
    }));

  test("given the spool on and a 1 s deadline, when the new leader is SIGKILLed too (its node back first), then posts held past the deadline are spooled, none is 503, and every one is in the stream once", () =>
    withOutput(deployment, async () => {
      const down = cluster.nodes.find((n) => !n.server)!;
      await cluster.start(down.name);
      await cluster.streamCurrent(env.CODEX_FLOW_STREAM!);
      await deployment.signal("ingress", "SIGTERM");
      await deployment.start("spooling", "ingress", {
        CODEX_FLOW_BACKEND_PORT: String(await freePort()),
        CODEX_FLOW_PUBLISH_DEADLINE_MS: "1000",
        CODEX_FLOW_INGRESS_SPOOL: join(tempDir(deployment, "codex-flows-e2e-spool-"), "spool"),
      });
      const url = await ingressUrlOf(deployment.proc("spooling"));
      const report: Record<string, unknown> = { ingress: "spool, 1 s deadline" };
      const answers = await killLeaderUnderLoad(url, "spooled", report);
      await eventually(
        async () => (await json(await fetch(`${url}/healthz`))).spool?.depth === 0,
        30_000,
        "the spool drained",
      );
      await everyPostStoredOnce(answers, report);
      expect(report.spooled).toBeGreaterThan(0);
    }));
});
