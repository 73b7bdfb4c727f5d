import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type EmbeddedNats, startNatsServer } from "../../lib/nats/nats-server.ts";
import { Deployment, tempDir, withOutput } from "../support/cluster.ts";
import { json } from "../support/http.ts";
import { type Sent, send } from "../support/load.ts";
import { eventually } from "../support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";
import { countsById, latencyReport, storedEvents } from "../support/stored.ts";

// Issue 24 item 2: NATS is down for 60 s under a load of sequential senders, and the
// ingress (with CODEX_FLOW_INGRESS_SPOOL) is SIGKILLed meanwhile and started again while
// NATS is still down: it comes up without NATS, resumes the spool the killed one left and
// spools on. Every post answered 202 (spooled or not) ends in the stream exactly once, in
// the order each sender sent it. The publish deadline is 1 s here, so most of the outage
// is spent spooling at once behind a non-empty spool.
setDefaultTimeout(150_000);
const cli = useProcesses();
const SENDERS = 4;
const DEADLINE_MS = 1_000;
const OUTAGE_MS = 60_000;
/** When, into the outage, the ingress is killed (and started again at once). */
const KILL_AT_MS = 20_000;
let server: EmbeddedNats | undefined;
let deployment: Deployment | undefined;

afterAll(async () => {
  await cli.stopAll();
  await server?.stop();
  deployment?.removeTempDirs();
});

/** Posts `<name>-1`, `<name>-2`, ... one at a time (each after the previous answer), every 100 ms, until `stop.done` (at most 2000). */
async function sender(name: string, url: () => string, stop: { done: boolean }): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (let n = 1; !stop.done && n <= 2_000; n++) {
    sent.push(await send(url(), `${name}-${n}`));
    await Bun.sleep(100);
  }
  return sent;
}

const spoolOf = async (url: string) => (await json(await fetch(`${url}/healthz`))).spool;

describe("flow serve ingress with a spool while NATS is down", () => {
  test("given NATS down 60 s under load and the ingress killed and started again meanwhile, then every 202 ends in the stream exactly once, in order per sender", async () => {
    const storeDir = tempDir(new Deployment(cli, {}), "codex-flows-e2e-spool-nats-");
    server = await startNatsServer({ storeDir });
    const port = server.port;
    const env = await serviceEnv(server.url, {
      CODEX_FLOW_PUBLISH_DEADLINE_MS: String(DEADLINE_MS),
      CODEX_FLOW_PUBLISH_TIMEOUT_MS: "500",
      CODEX_FLOW_MATCH_WAIT_MS: "0",
    });
    deployment = new Deployment(cli, env);
    env.CODEX_FLOW_INGRESS_SPOOL = join(tempDir(deployment, "codex-flows-e2e-spool-"), "spool");
    const d = deployment;
    await withOutput(d, async () => {
      await d.start("ingress", "ingress");
      await d.proc("ingress").waitForLine(`checked the stream ${env.CODEX_FLOW_STREAM}`);
      let url = await ingressUrlOf(d.proc("ingress"));
      const stop = { done: false };
      const senders = Array.from({ length: SENDERS }, (_, i) => sender(`s${i + 1}`, () => url, stop));
      const report: Record<string, unknown> = {};
      let answers: Sent[][];
      let restartedAt = Infinity;
      let natsBackAt = Infinity;
      try {
        await eventually(
          async () => (await storedEvents(server!.url, env.CODEX_FLOW_STREAM!)).length >= 10,
          15_000,
          "ten events stored before the outage",
        );
        await server!.stop();
        server = undefined;
        const down = Date.now();
        // The spool takes what NATS cannot, and says so on /healthz and /metrics.
        const during = await eventually(
          async () => {
            const s = await spoolOf(url);
            return s?.depth >= 5 && s.oldestAgeMs > 0 ? s : undefined;
          },
          15_000,
          "events spooled, shown on /healthz",
        );
        const metrics = await (await fetch(`${url}/metrics`)).text();
        expect(metrics).toMatch(/^codex_flows_spool_depth [1-9]\d*$/m);
        expect(metrics).toMatch(/^codex_flows_spool_oldest_age_seconds \d/m);
        report.spoolDuringOutage = during;
        await Bun.sleep(Math.max(0, KILL_AT_MS - (Date.now() - down)));
        const beforeKill = await spoolOf(url);
        await d.signal("ingress", "SIGKILL");
        report.killedAfterMs = Date.now() - down;
        // Started again with NATS still down: it listens, resumes the spool it finds, and spools on.
        url = await ingressUrlOf(await d.restart("ingress"));
        restartedAt = Date.now();
        report.restartedAfterMs = restartedAt - down;
        const restarted = await json(await fetch(`${url}/healthz`));
        expect(restarted.ok).toBe(false);
        expect(restarted.nats.connected).toBe(false);
        expect(restarted.reason).toContain("NATS unreachable: no connection to NATS since this ingress started");
        expect(restarted.spool.depth).toBeGreaterThanOrEqual(beforeKill.depth);
        report.spoolAtRestart = { beforeKill: beforeKill.depth, afterRestart: restarted.spool.depth };
        await Bun.sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
        natsBackAt = Date.now();
        report.spoolWhenNatsBack = await spoolOf(url);
        server = await startNatsServer({ port, storeDir });
        report.natsBackAfterMs = natsBackAt - down;
        await eventually(async () => (await spoolOf(url))?.depth === 0, 40_000, "the spool drained");
        report.drainedMsAfterNatsBack = Date.now() - natsBackAt;
        await Bun.sleep(1_000);
      } finally {
        stop.done = true;
        answers = await Promise.all(senders);
      }
      const all = answers.flat();
      const stored = await storedEvents(server!.url, env.CODEX_FLOW_STREAM!);
      const counts = countsById(stored);
      const seqOf = new Map(stored.map((s) => [s.id, s.seq]));
      const accepted = all.filter((a) => a.status === 202);
      // Spooled by the restarted ingress before NATS was back: it took posts without ever having reached NATS.
      const spooledByRestarted = accepted.filter(
        (a) => a.body?.spooled === true && a.from >= restartedAt && a.to < natsBackAt,
      ).length;
      Object.assign(report, {
        sent: all.length,
        accepted: accepted.length,
        spooled: accepted.filter((a) => a.body?.spooled === true).length,
        spooledByRestarted,
        ...latencyReport(all),
        stored: stored.length,
      });
      console.log(`spool summary: ${JSON.stringify(report)}`);
      expect(accepted.filter((a) => a.body?.spooled === true).length).toBeGreaterThan(10);
      expect(spooledByRestarted).toBeGreaterThan(100);
      // Every 202 exactly once; a post cut by the kill may or may not have been stored, never twice.
      expect(
        accepted
          .filter((a) => counts.get(a.id) !== 1)
          .map((a) => ({ id: a.id, stored: counts.get(a.id) ?? 0, body: a.body })),
      ).toEqual([]);
      expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
      // In order per sender: the stream sequences of its accepted posts rise in the order it sent them.
      for (const mine of answers) {
        const seqs = mine.filter((a) => a.status === 202).map((a) => seqOf.get(a.id)!);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      }
      // Anything else was a clear refusal or the killed ingress's lost connection.
      expect(
        all.filter((a) => a.status !== 202 && a.error === undefined).map((a) => ({ status: a.status, body: a.body })),
      ).toEqual([]);
    });
  });
});
