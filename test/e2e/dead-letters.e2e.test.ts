import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import {
  api,
  Deployment,
  executions,
  killLeftoverSteps,
  lastSeq,
  recordingPrelude,
  tempDir,
  withOutput,
} from "../support/cluster.ts";
import { writeFlows } from "../support/flows.ts";
import { useNatsServer } from "../support/nats.ts";
import { type CliProcess, serviceEnv, useProcesses } from "../support/processes.ts";

// A command whose step kills its own executor every time: the run must still end, as a
// failed run that says why, by the executors' lost-attempt limit or by the server's
// max-deliveries advisory. Every service is a process of its own; the executor is
// restarted whenever it dies, as systemd's Restart= would.
setDefaultTimeout(60_000);
// Registered first, so it runs first: no supervisor starts an executor while the processes are being stopped.
const supervisors: { stop(): void }[] = [];
afterAll(() => {
  for (const supervisor of supervisors) supervisor.stop();
});
const cli = useProcesses();
const nats = useNatsServer();
nats.cleanup(() => cli.stopAll());

const deployments: { deployment: Deployment; script: string; pids: string }[] = [];
afterAll(async () => {
  await cli.stopAll();
  for (const { deployment, script, pids } of deployments) {
    killLeftoverSteps(
      executions(pids).map((e) => e.pid),
      script,
    );
    deployment.removeTempDirs();
  }
});

/** A deployment whose only step SIGKILLs its parent (the executor process) and exits. */
async function deploy(extra: Record<string, string>) {
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_ACK_WAIT_MS: "1000",
    CODEX_FLOW_EXECUTOR_CONCURRENCY: "2",
    ...extra,
  });
  const deployment = new Deployment(cli, env);
  const pids = tempDir(deployment, "codex-flows-e2e-steps-");
  const cwd = writeFlows(
    {
      doomed: [
        {
          name: "crash",
          type: "doomed.crash",
          source: `${recordingPrelude(pids)}
process.kill(process.ppid, "SIGKILL");
process.exit(0);
`,
        },
      ],
    },
    tempDir(deployment, "codex-flows-e2e-cwd-"),
  );
  const script = join(cwd, "flows", "doomed", "exec", "crash.ts");
  deployments.push({ deployment, script, pids });
  env.CODEX_FLOW_BACKEND_CWD = cwd;
  const url = await deployment.startControlPlane();
  const executor = supervise(deployment, "executor");
  await executor.started;
  return { deployment, pids, client: api(() => url), executor, stream: env.CODEX_FLOW_STREAM! };
}

/** Keeps one executor process running: starts it, and starts it again each time it dies. */
function supervise(deployment: Deployment, hostId: string) {
  const deaths: { pid: number; signal: NodeJS.Signals | number | null; code: number | null }[] = [];
  // A start that fails (no ready line) ends the supervision; the test reports it.
  const failures: string[] = [];
  let stopped = false;
  const keep = async (proc: CliProcess): Promise<void> => {
    await proc.child.exited;
    if (stopped) return;
    deaths.push({ pid: proc.pid, signal: proc.child.signalCode, code: proc.child.exitCode });
    await keep(await deployment.restart(hostId));
  };
  const started = deployment.start(hostId, "executor", { CODEX_FLOW_HOST_ID: hostId }).then((proc) => {
    void keep(proc).catch((error) => failures.push(String(error)));
    return proc;
  });
  const supervisor = {
    started,
    deaths,
    failures,
    stop() {
      stopped = true;
    },
  };
  supervisors.push(supervisor);
  return supervisor;
}

const attemptsOf = (run: { attempts: { attemptNumber: number; status: string }[] }) =>
  run.attempts.map((a) => [a.attemptNumber, a.status]);

describe("dead letters: a command whose executor dies on it every time", () => {
  test("given CODEX_FLOW_MAX_LOST_ATTEMPTS=2, when the step kills its executor twice, then the next executor gives up and the run ends failed", async () => {
    const { deployment, pids, client, executor, stream } = await deploy({ CODEX_FLOW_MAX_LOST_ATTEMPTS: "2" });
    await withOutput(deployment, async () => {
      const { runIds } = await client.post({ id: "doomed-lost-1", type: "doomed.crash" }, "matched");
      const run = await client.waitForRun(runIds[0], (r) => r.status === "failed", 30_000, "the run to end failed");
      executor.stop();
      expect(executor.failures).toEqual([]);

      expect(run.error).toContain("gave up: the last 2 attempts ended without a result");
      expect(attemptsOf(run)).toEqual([
        [1, "lost"],
        [2, "lost"],
        [3, "failed"],
      ]);
      expect(run.attempts[2].error).toContain("gave up");
      // Each attempt that ran killed the executor that ran it (the step's parent), and nothing else did.
      const ran = executions(pids, runIds[0]);
      expect(ran.map((e) => e.attempt)).toEqual([1, 2]);
      expect(executor.deaths).toEqual(ran.map((e) => ({ pid: e.ppid, signal: "SIGKILL", code: null })));
      // The executor that gave up is still running, and nothing is left queued or running.
      expect(deployment.running("executor")).toBe(true);
      expect(await client.runs(`status=queued,running&after=${await lastSeq(nats.url, stream)}`)).toEqual([]);
    });
  });

  test("given CODEX_FLOW_MAX_DELIVER=2, when the step kills its executor twice, then the max-deliveries advisory makes the live executor record the run failed", async () => {
    // The lost-attempt limit is out of reach: only the advisory can end this run.
    const { deployment, pids, client, executor, stream } = await deploy({
      CODEX_FLOW_MAX_DELIVER: "2",
      CODEX_FLOW_MAX_LOST_ATTEMPTS: "10",
    });
    await withOutput(deployment, async () => {
      const { runIds } = await client.post({ id: "doomed-advisory-1", type: "doomed.crash" }, "matched");
      const run = await client.waitForRun(runIds[0], (r) => r.status === "failed", 30_000, "the run to end failed");
      executor.stop();
      expect(executor.failures).toEqual([]);

      expect(run.error).toContain(
        "gave up after 2 deliveries without a result (max deliveries reached on executor-any",
      );
      expect(attemptsOf(run)).toEqual([
        [1, "lost"],
        [2, "failed"],
      ]);
      const ran = executions(pids, runIds[0]);
      expect(ran.map((e) => e.attempt)).toEqual([1, 2]);
      expect(executor.deaths).toEqual(ran.map((e) => ({ pid: e.ppid, signal: "SIGKILL", code: null })));
      // The third executor never got the command: it recorded the dead letter instead.
      const live = deployment.proc("executor");
      expect(deployment.running("executor")).toBe(true);
      expect(live.output()).toContain("dead letter recorded as a failed run");
      expect(await client.runs(`status=queued,running&after=${await lastSeq(nats.url, stream)}`)).toEqual([]);
    });
  });
});
