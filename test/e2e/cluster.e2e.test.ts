import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Deployment, killLeftoverSteps, tempDir, withOutput } from "../support/cluster.ts";
import {
  type Disruption,
  everyAnswerIsClear,
  loadFlows,
  nothingLost,
  quiescence,
  readExecutions,
  retriesAreAccepted,
  type Sent,
  steadyLoad,
} from "../support/load.ts";
import { findNatsCli, sh } from "../support/nats-cli.ts";
import { type NatsCluster, startNatsCluster } from "../support/nats-cluster.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";
import { skipWithoutTool } from "../support/tools.ts";

// Three nats-servers clustered on loopback, the stream created with 3 replicas
// (CODEX_FLOW_STREAM_REPLICAS=3, as docs/deploy.md says), and the services (two executors) as processes, each
// connected to whichever node it picked from the three-server NATS_URL. A steady load of
// events runs while (1) a node, then the node the ingress uses, is killed and started
// again, and (2) every service and then every node is restarted in turn (SIGTERM, the
// rolling restart of docs/operations.md). Each time: every accepted event ends with its
// runs completed exactly once, apart from attempts a disruption explains; every refusal
// is a 503 that says to retry.
setDefaultTimeout(170_000);
const cli = useProcesses();
const RATE_PER_S = 10;
const QUIESCENCE_MS = 40_000;
const SERVICES = ["projector", "matcher", "exec-1", "exec-2", "ingress"];
let cluster: NatsCluster;
let deployment: Deployment;
let env: Record<string, string | undefined>;
let executionLog: string;
let flowsDir: string;
let url: string;

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  env = await serviceEnv(cluster.urls, {
    CODEX_FLOW_EXECUTOR_CONCURRENCY: "6",
    CODEX_FLOW_PUBLISH_TIMEOUT_MS: "2000",
    CODEX_FLOW_SHUTDOWN_GRACE_MS: "2000",
    CODEX_FLOW_STREAM_REPLICAS: "3",
  });
  deployment = new Deployment(cli, env);
  executionLog = join(tempDir(deployment, "codex-flows-e2e-cluster-"), "executions.log");
  flowsDir = loadFlows(executionLog, tempDir(deployment, "codex-flows-e2e-cwd-"));
  env.CODEX_FLOW_BACKEND_CWD = flowsDir;
  await deployment.start("projector", "projector");
  await Promise.all([
    deployment.start("matcher", "matcher"),
    deployment.start("ingress", "ingress"),
    deployment.start("exec-1", "executor", { CODEX_FLOW_HOST_ID: "exec-1" }),
    deployment.start("exec-2", "executor", { CODEX_FLOW_HOST_ID: "exec-2" }),
  ]);
  url = await ingressUrlOf(deployment.proc("ingress"));
  const stream = env.CODEX_FLOW_STREAM!;
  await cluster.streamCurrent(stream);
  // The nats CLI's checks need the CLI (built with Go); the load below does not.
  if (skipWithoutTool(findNatsCli() !== undefined, "the nats CLI (natscli v0.5.0)", "scripts/install-nats-cli.sh"))
    return;
  const info = await sh(`nats stream info ${stream}`, { NATS_URL: cluster.urls }, flowsDir);
  expect(info.stdout).toMatch(/Replicas: 3/);
  expect(info.stdout).toMatch(/Leader: nats-\d/);
  // docs/deploy.md's way to move an existing 1-replica stream to 3, on a stream of its own: on
  // 2.9.10, a stream scaled up this way lost acknowledged messages when nodes were killed
  // afterwards (this test, three runs of three), so the load runs on a stream created with 3.
  const add = await sh(
    `nats stream add ${stream}_R1 --subjects '${stream.toLowerCase()}-r1.>' --replicas 1 --defaults`,
    { NATS_URL: cluster.urls },
    flowsDir,
  );
  expect(add.code).toBe(0);
  const edit = await sh(`nats stream edit ${stream}_R1 --replicas 3 -f`, { NATS_URL: cluster.urls }, flowsDir);
  expect(edit.code).toBe(0);
  await cluster.streamCurrent(`${stream}_R1`);
});

afterAll(async () => {
  await cli.stopAll();
  await cluster?.close();
  if (executionLog)
    killLeftoverSteps(
      readExecutions(executionLog).map((e) => e.pid),
      flowsDir,
    );
  deployment?.removeTempDirs();
});

/** Runs `disrupt` under a steady load, then checks every answer and every accepted event's runs. */
async function underLoad(name: string, disrupt: (disruptions: Disruption[]) => Promise<void>) {
  const started = Date.now();
  const report: Record<string, unknown> = { name };
  const load = steadyLoad(() => url, name, RATE_PER_S);
  const disruptions: Disruption[] = [];
  let answers: Sent[];
  try {
    await Bun.sleep(1_500);
    await disrupt(disruptions);
    await Bun.sleep(2_000);
  } finally {
    answers = await load.stop();
    report.disruptions = disruptions.map(
      (d) => `${d.role} ${d.how} at +${d.at - started} ms, back at +${d.readyAt - started} ms`,
    );
  }
  try {
    Object.assign(report, {
      loadSeconds: Math.round((Date.now() - started) / 1000),
      eventsSent: answers.length,
      accepted202: answers.filter((a) => a.status === 202).length,
    });
    everyAnswerIsClear(answers, disruptions, report);
    await retriesAreAccepted(url, answers, report);
    await quiescence(cluster.urls, env, report, QUIESCENCE_MS);
    await nothingLost(
      url,
      answers.map((a) => a.id),
      disruptions,
      executionLog,
      report,
    );
  } finally {
    report.seconds = Math.round((Date.now() - started) / 1000);
    console.log(`cluster summary: ${JSON.stringify(report, null, 2)}`);
  }
}

/** Stops a NATS node, starts it again, and waits until the stream is current on it. */
async function bounceNode(name: string, how: "SIGKILL" | "SIGTERM", disruptions: Disruption[]) {
  const at = Date.now();
  await cluster.stop(name, how);
  await Bun.sleep(1_500);
  await cluster.start(name);
  await cluster.streamCurrent(env.CODEX_FLOW_STREAM!);
  disruptions.push({ role: name, at, readyAt: Date.now(), how });
}

describe("a 3-node cluster with an R3 stream under a steady load", () => {
  test("given a node killed and restarted, then the node the ingress uses, then every accepted event ends with its runs completed once, and every refusal is a 503", () =>
    withOutput(deployment, async () => {
      await underLoad("kill", async (disruptions) => {
        const ingressNode = await cluster.nodeOf("codex-flows ingress e2e-host");
        expect(ingressNode).toBeDefined();
        const other = cluster.nodes.find((n) => n !== ingressNode)!;
        await bounceNode(other.name, "SIGKILL", disruptions);
        const now = await cluster.nodeOf("codex-flows ingress e2e-host");
        await bounceNode(now!.name, "SIGKILL", disruptions);
      });
    }));

  test("given a rolling restart (each service, then each NATS node, in turn), then nothing is lost and nothing ran twice beyond its recorded redeliveries", () =>
    withOutput(deployment, async () => {
      await underLoad("rolling", async (disruptions) => {
        for (const role of SERVICES) {
          const at = Date.now();
          expect(await deployment.signal(role, "SIGTERM")).toBe(0);
          const proc = await deployment.restart(role);
          if (role === "ingress") url = await ingressUrlOf(proc);
          disruptions.push({ role, at, readyAt: Date.now(), how: "SIGTERM" });
        }
        for (const node of cluster.nodes) await bounceNode(node.name, "SIGTERM", disruptions);
      });
    }));
});
