import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type EmbeddedNats, startNatsServer } from "../../lib/nats/nats-server.ts";
import { type EventAccepted, encodeMessage } from "../../lib/protocol/messages.ts";
import { Deployment, killLeftoverSteps, prng, tempDir, withOutput } from "../support/cluster.ts";
import { writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import {
  type Disruption,
  everyAnswerIsClear,
  loadFlows,
  nothingLost,
  quiescence,
  readExecutions,
  retriesAreAccepted,
  steadyLoad,
} from "../support/load.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";

// Nothing lost, nothing stuck: a steady load of events while every service in turn is
// killed with SIGKILL and started again (same environment, same data directory), then
// the nats-server itself is restarted on the same port and store. Sized for CI: about
// 25 s of load, one kill per service, on 2 cores. CHAOS_SEED=<n> repeats a run.
setDefaultTimeout(110_000);
const cli = useProcesses();

const SEED = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
const RATE_PER_S = 20;
const ACK_WAIT_MS = 3_000;
// A healthy deployment settles within a few seconds (a lost attempt waits one ack wait); a stalled one does not.
const QUIESCENCE_MS = 20_000;
// Killed and started again in this order, each at a random moment; then the nats-server.
const VICTIMS = ["ingress", "matcher", "exec-1", "projector", "exec-2"];

let server: EmbeddedNats | undefined;
let deployment: Deployment | undefined;
let flowsDir = "";
let executionLog = "";
afterAll(async () => {
  await cli.stopAll();
  await server?.stop();
  // Steps of an executor killed mid-step run on by themselves (they lead their own process group).
  if (executionLog)
    killLeftoverSteps(
      readExecutions(executionLog).map((e) => e.pid),
      flowsDir,
    );
  deployment?.removeTempDirs();
});

test(`given a steady load of events, when every service and then the nats-server is killed and restarted (seed ${SEED}), then nothing is lost and nothing is stuck`, async () => {
  console.log(`chaos seed ${SEED} (CHAOS_SEED=${SEED} repeats it)`);
  const rand = prng(SEED);
  const started = Date.now();
  const storeDir = mkdtempSync(join(tmpdir(), "codex-flows-e2e-nats-"));
  server = await startNatsServer({ storeDir });
  const natsUrl = server.url;
  const env = await serviceEnv(natsUrl, {
    CODEX_FLOW_ACK_WAIT_MS: String(ACK_WAIT_MS),
    CODEX_FLOW_EXECUTOR_CONCURRENCY: "6",
    CODEX_FLOW_PUBLISH_TIMEOUT_MS: "2000",
  });
  const d = new Deployment(cli, env);
  deployment = d;
  d.tempDirs.push(storeDir);
  executionLog = join(tempDir(d, "codex-flows-e2e-chaos-"), "executions.log");
  flowsDir = loadFlows(executionLog, tempDir(d, "codex-flows-e2e-cwd-"));
  env.CODEX_FLOW_BACKEND_CWD = flowsDir;
  const report: Record<string, unknown> = { seed: SEED };

  await withOutput(d, async () => {
    try {
      await d.start("projector", "projector");
      await Promise.all([
        d.start("matcher", "matcher"),
        d.start("ingress", "ingress"),
        d.start("exec-1", "executor", { CODEX_FLOW_HOST_ID: "exec-1" }),
        d.start("exec-2", "executor", { CODEX_FLOW_HOST_ID: "exec-2" }),
      ]);
      const url = await ingressUrlOf(d.proc("ingress"));

      // The sender: one event every 1/RATE s, unique ids, never waiting for an earlier answer.
      const load = steadyLoad(() => url, `chaos-${SEED}`, RATE_PER_S);
      const kills: Disruption[] = [];
      try {
        await Bun.sleep(1_500);
        for (const role of VICTIMS) {
          await Bun.sleep(1_000 + rand() * 2_000);
          const at = Date.now();
          await d.signal(role, "SIGKILL");
          await Bun.sleep(rand() * 1_000);
          await d.restart(role);
          kills.push({ role, at, readyAt: Date.now(), how: "SIGKILL" });
        }
        await Bun.sleep(1_000 + rand() * 2_000);
        const from = Date.now();
        const port = server!.port;
        await server!.stop();
        server = undefined;
        await Bun.sleep(rand() * 1_000);
        server = await startNatsServer({ port, storeDir });
        report.natsRestart = `down at +${from - started} ms, back at +${Date.now() - started} ms`;
        // An executor cut off from NATS for most of its lease fences its steps: that explains a `fenced` attempt.
        kills.push({ role: "nats-1", at: from, readyAt: Date.now(), how: "SIGTERM" });
        // Load goes on after the restart: every service has to pick up from where it was.
        await Bun.sleep(3_000);
      } finally {
        report.kills = kills.map((k) => `${k.role} at +${k.at - started} ms, back at +${k.readyAt - started} ms`);
      }
      const answers = await load.stop();
      Object.assign(report, {
        loadSeconds: Math.round((Date.now() - started) / 1000),
        eventsSent: answers.length,
        accepted202: answers.filter((a) => a.status === 202).length,
      });

      everyAnswerIsClear(answers, kills, report);
      await retriesAreAccepted(url, answers, report);
      await quiescence(natsUrl, env, report, QUIESCENCE_MS);
      await nothingLost(
        url,
        answers.map((a) => a.id),
        kills,
        executionLog,
        report,
      );
    } finally {
      report.seconds = Math.round((Date.now() - started) / 1000);
      console.log(`chaos summary: ${JSON.stringify(report, null, 2)}`);
    }
  });
});

describe("the read model after a burst", () => {
  // The projector commits a batch once the client's iterator says nothing more is pending;
  // the last messages of a burst must not wait in an uncommitted batch for a next message
  // that may never come. The bursts are published straight to the stream (as any writer's,
  // e.g. the executors' or the nats CLI's, arrive), fast enough to arrive in chunks.
  test("given bursts of messages and then silence, then after each burst the read model applies the stream's last message without further traffic", async () => {
    const nats = await startNatsServer();
    const env = await serviceEnv(nats.url, { CODEX_FLOW_WAIT_TIMEOUT_MS: "5000" });
    const d = new Deployment(cli, env);
    env.CODEX_FLOW_BACKEND_CWD = writeFlows(
      { quiet: [{ name: "never", type: "never.sent", source: "" }] },
      tempDir(d, "codex-flows-e2e-cwd-"),
    );
    const rand = prng(SEED);
    try {
      await withOutput(d, async () => {
        await d.start("projector", "projector");
        const url = await ingressUrlOf(await d.start("ingress", "ingress"));
        const nc = await connect({ servers: nats.url });
        const js = jetstream(nc);
        const stuck: string[] = [];
        let total = 0;
        try {
          for (let burst = 1; burst <= 20; burst++) {
            const size = 1 + Math.floor(rand() * 400);
            const now = new Date().toISOString();
            const acks = await Promise.all(
              Array.from({ length: size }, (_, i) => {
                const message: EventAccepted = {
                  v: 1,
                  kind: "event.accepted",
                  event: { id: `burst-${burst}-${i}`, type: "burst.tick", receivedAt: now, payload: {} },
                  acceptedAt: now,
                };
                return js.publish(`${env.CODEX_FLOW_SUBJECT_PREFIX}.events.burst.tick`, encodeMessage(message));
              }),
            );
            total += size;
            const last = Math.max(...acks.map((ack) => ack.seq));
            // Read-your-writes: answers once the read model applied `last`, 503 after the 5 s wait bound.
            const response = await fetch(`${url}/events?limit=1&after=${last}`);
            if (response.status !== 200) {
              const health = await json(fetch(`${url}/healthz`));
              stuck.push(
                `burst ${burst} (${size} messages): stream at ${last}, read model at ${health.projector.appliedSeq} 5 s later`,
              );
            }
          }
        } finally {
          await nc.close();
        }
        console.log(
          `bursts: ${total} messages in 20 bursts (seed ${SEED}); ${stuck.length} left the read model behind`,
        );
        expect(stuck).toEqual([]);
      });
    } finally {
      for (const role of d.roles.keys()) if (d.running(role)) await d.signal(role, "SIGTERM").catch(() => undefined);
      await nats.stop();
      d.removeTempDirs();
    }
  });
});
