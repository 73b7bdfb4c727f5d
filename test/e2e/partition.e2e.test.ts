import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fenceAfterMs } from "../../lib/nats/lease.ts";
import { type EmbeddedNats, startNatsServer } from "../../lib/nats/nats-server.ts";
import { isRunning } from "../fixtures/request.ts";
import { api, Deployment, killLeftoverSteps, tempDir, withOutput } from "../support/cluster.ts";
import { writeFlows } from "../support/flows.ts";
import { eventually } from "../support/nats.ts";
import { netnsLab } from "../support/netns.ts";
import { serviceEnv, useProcesses } from "../support/processes.ts";

// A partition, for real: two executors, each in a network namespace of its own (veth to
// this one, where the nats-server and the other services are). The link of the host
// running a step is taken down mid-step. That executor cannot renew the lease, so it
// kills the step before the lease can pass; the other host runs the step once; when the
// link is back, attempt 1 says `fenced` with its host. The step's own marker files
// (a line with a timestamp every 50 ms) show the two executions never overlapped.
setDefaultTimeout(120_000);
const cli = useProcesses();
const lab = netnsLab();
const LEASE_MS = 4_000;
let nats: EmbeddedNats | undefined;
let deployment: Deployment;
let url: string;
let markers: string;
let script: string;
const client = api(() => url);

beforeAll(async () => {
  const hosts = [lab.host(1), lab.host(2)];
  nats = await startNatsServer({ host: lab.serverIp });
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_ACK_WAIT_MS: String(LEASE_MS),
    CODEX_FLOW_EXECUTOR_CONCURRENCY: "2",
  });
  deployment = new Deployment(cli, env);
  markers = tempDir(deployment, "codex-flows-partition-markers-");
  const cwd = writeFlows(
    {
      partition: [
        {
          name: "work",
          type: "partition.work",
          timeoutMs: 120_000,
          source: `import { appendFileSync } from "node:fs";
const attempt = Number(process.env.CODEX_FLOW_ATTEMPT);
const file = ${JSON.stringify(markers)} + "/" + process.env.CODEX_FLOW_RUN_ID + "-" + attempt + "-" + process.env.CODEX_FLOW_HOST_ID + ".log";
appendFileSync(file, "start " + Date.now() + " " + process.pid + "\\n");
const until = Date.now() + (attempt === 1 ? 30_000 : 2_000);
while (Date.now() < until) {
  appendFileSync(file, "alive " + Date.now() + "\\n");
  await Bun.sleep(50);
}
appendFileSync(file, "end " + Date.now() + "\\n");
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", message: "attempt " + attempt + " on " + process.env.CODEX_FLOW_HOST_ID }));
`,
        },
      ],
    },
    tempDir(deployment, "codex-flows-partition-cwd-"),
  );
  script = join(cwd, "flows", "partition", "exec", "work.ts");
  env.CODEX_FLOW_BACKEND_CWD = cwd;
  url = await deployment.startControlPlane();
  await Promise.all(
    hosts.map((host, i) =>
      deployment.start(`exec-${i + 1}`, "executor", { CODEX_FLOW_HOST_ID: `exec-${i + 1}` }, 20_000, host.exec),
    ),
  );
  cuts.push(...hosts);
});

const cuts: ReturnType<typeof lab.host>[] = [];

afterAll(async () => {
  try {
    for (const host of cuts) host.heal();
    await cli.stopAll();
    killLeftoverSteps(
      executions().map((e) => e.pid),
      script,
    );
    await nats?.stop();
  } finally {
    lab.cleanup();
    deployment?.removeTempDirs();
  }
});

type Execution = { attempt: number; host: string; pid: number; start: number; last: number; ended: boolean };

/** What each execution's marker file says: when it started, its last sign of life, whether it ended by itself. */
function executions(runId?: string): Execution[] {
  if (!markers || !existsSync(markers)) return [];
  return readdirSync(markers)
    .filter((name) => runId === undefined || name.startsWith(`${runId}-`))
    .map((name) => {
      const [, attempt, host] = name.replace(/\.log$/, "").match(/-(\d+)-([^-]+-\d+)$/)!;
      const lines = readFileSync(join(markers, name), "utf8")
        .trim()
        .split("\n")
        .map((line) => line.split(" "));
      const times = lines.map((parts) => Number(parts[1]));
      return {
        attempt: Number(attempt),
        host: host!,
        pid: Number(lines[0]![2]),
        start: times[0]!,
        last: times.at(-1)!,
        ended: lines.at(-1)![0] === "end",
      };
    })
    .sort((a, b) => a.attempt - b.attempt);
}

test(`given two executors in their own network namespaces, when the one running a step is cut off mid-step, then it fences the step within ${fenceAfterMs(LEASE_MS)} ms of its last renewal, the other host runs it once, never both at once, and attempt 1 says fenced with its host`, () =>
  withOutput(deployment, async () => {
    const answer = await client.post({ id: "partition-1", type: "partition.work" }, "matched");
    const runId = answer.runIds[0] as string;
    const first = await client.waitForRun(
      runId,
      (r) => r.status === "running" && r.attempt === 1,
      20_000,
      "attempt 1 to start",
    );
    await eventually(
      () => executions(runId).length === 1 && Date.now() - executions(runId)[0]!.start > 300,
      10_000,
      "the step of attempt 1 to be working",
    );
    const victim = first.host as string;
    const survivor = victim === "exec-1" ? "exec-2" : "exec-1";
    const victimHost = cuts[Number(victim.split("-")[1]) - 1]!;

    const cutAt = Date.now();
    victimHost.cut();
    // The other host takes the run once the lease ran out, and completes it.
    await eventually(
      () => executions(runId).some((e) => e.attempt === 2 && e.ended),
      40_000,
      "attempt 2 to run to its end on the other host",
    );
    const [one, two] = executions(runId);
    expect(one).toMatchObject({ attempt: 1, host: victim, ended: false });
    expect(two).toMatchObject({ attempt: 2, host: survivor, ended: true });
    // Fenced: the cut-off step stopped on its own host before the lease ran out (the lease is renewed up to the cut).
    expect(isRunning(one!.pid)).toBe(false);
    expect(one!.last - cutAt).toBeLessThan(LEASE_MS);
    // Never both at once: the second execution began after the first one's last sign of life.
    expect(two!.start).toBeGreaterThan(one!.last);
    console.log(
      `partition: cut at +0 ms; attempt 1 last alive at +${one!.last - cutAt} ms; attempt 2 started at +${two!.start - cutAt} ms on ${survivor}`,
    );

    victimHost.heal();
    const run = await client.waitForRun(
      runId,
      (r) => r.status === "completed" && r.attempts[0]?.status === "fenced",
      60_000,
      "the run to complete and attempt 1 to say fenced",
    );
    expect(
      run.attempts.map((a: { attemptNumber: number; status: string; host: string }) => [
        a.attemptNumber,
        a.status,
        a.host,
      ]),
    ).toEqual([
      [1, "fenced", victim],
      [2, "completed", survivor],
    ]);
    expect(run.attempts[0].error).toContain(`fenced on ${victim}`);
    expect(run.result).toMatchObject({ message: `attempt 2 on ${survivor}` });
    expect(deployment.proc(deployment.roleOfHost(victim)).output()).toContain("fencing the step");
    expect(executions(runId)).toHaveLength(2);
  }));
