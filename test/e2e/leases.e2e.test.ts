import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { isRunning } from "../fixtures/request.ts";
import {
  api,
  consumerInfo,
  Deployment,
  executions,
  firstAttemptEnds,
  killLeftoverSteps,
  lastSeq,
  recordingWorkFlow,
  summary,
  tempDir,
  withOutput,
  workMarks,
} from "../support/cluster.ts";
import { eventually, useNatsServer } from "../support/nats.ts";
import { serviceEnv, useProcesses } from "../support/processes.ts";

// Leases and graceful shutdown, with every service a process of its own and two executor
// processes (distinct host ids) sharing the queue `any`.
setDefaultTimeout(60_000);
const cli = useProcesses();
const nats = useNatsServer();
nats.cleanup(() => cli.stopAll());

const ACK_WAIT_MS = 1_500;
const STEP_MS = 4_000; // well past the ack wait: only a renewed lease keeps the command from being redelivered
const GRACE_MS = 500;

let deployment: Deployment;
let url: string;
let pids: string;
let script: string;
const client = api(() => url);

beforeAll(async () => {
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_ACK_WAIT_MS: String(ACK_WAIT_MS),
    CODEX_FLOW_EXECUTOR_CONCURRENCY: "2",
    CODEX_FLOW_SHUTDOWN_GRACE_MS: String(GRACE_MS),
  });
  deployment = new Deployment(cli, env);
  pids = tempDir(deployment, "codex-flows-e2e-steps-");
  // `ms` is how long the step works; `firstAttemptMs`, when given, replaces it on attempt 1.
  const flows = recordingWorkFlow(
    deployment,
    pids,
    "lease",
    "attempt === 1 && payload.firstAttemptMs !== undefined ? payload.firstAttemptMs : payload.ms",
  );
  script = flows.script;
  env.CODEX_FLOW_BACKEND_CWD = flows.cwd;
  url = await deployment.startControlPlane();
});

afterAll(async () => {
  await cli.stopAll();
  killLeftoverSteps(
    executions(pids).map((e) => e.pid),
    script,
  );
  deployment.removeTempDirs();
});

let events = 0;
async function fire(payload: Record<string, number>): Promise<string> {
  const answer = await client.post({ id: `lease-${++events}`, type: "lease.work", payload }, "matched");
  expect(answer.runIds).toHaveLength(1);
  return answer.runIds[0];
}

/** Exactly these executors (roles named after their host ids) run: the others get SIGTERM (idle, they exit 0), missing ones start. */
async function executors(...hosts: string[]) {
  for (const [role, entry] of deployment.roles) {
    if (entry.service === "executor" && !hosts.includes(role) && deployment.running(role))
      expect(await deployment.signal(role, "SIGTERM")).toBe(0);
  }
  for (const host of hosts) await deployment.ensure(host, "executor", { CODEX_FLOW_HOST_ID: host });
}

/** Waits until attempt `n` of the run is running on some host and its step process has started. */
async function runningAttempt(runId: string, n: number) {
  const run = await client.waitForRun(
    runId,
    (r) => r.status === "running" && r.attempt === n,
    15_000,
    `attempt ${n} to start`,
  );
  await eventually(
    () => executions(pids, runId).some((e) => e.attempt === n),
    10_000,
    `the step process of attempt ${n}`,
  );
  return run;
}

/** Nothing the read model shows as running on `host` once the projector applied everything in the stream. */
async function runningOn(host: string) {
  const after = await lastSeq(nats.url, deployment.env.CODEX_FLOW_STREAM!);
  return await client.runs(`status=running&host=${host}&after=${after}`);
}

const attemptsOf = (run: { attempts: { attemptNumber: number; status: string; host: string }[] }) =>
  run.attempts.map((a) => [a.attemptNumber, a.status, a.host]);

describe("leases: a running step keeps its command's lease", () => {
  test("given one executor and ack_wait 1.5 s, when a step works for 4 s, then it completes as attempt 1 and is never redelivered", () =>
    withOutput(deployment, async () => {
      await executors("exec-a");
      const runId = await fire({ ms: STEP_MS });
      const run = await client.waitForRun(runId, (r) => r.status === "completed", 20_000, "the run to complete");
      expect(attemptsOf(run)).toEqual([[1, "completed", "exec-a"]]);
      expect(run.result).toMatchObject({ message: "attempt 1 on exec-a" });
      expect(run.durationMs).toBeGreaterThanOrEqual(STEP_MS);
      // The executor had a free slot all along: without working() the server would have handed it the command again.
      expect(executions(pids, runId).map((e) => e.attempt)).toEqual([1]);
      const consumer = await consumerInfo(nats.url, deployment.env.CODEX_FLOW_STREAM!, "executor-any");
      expect(consumer.num_redelivered).toBe(0);
    }));

  test("given two executors, when the one running a step is killed with SIGKILL, then after the lease runs out the other runs it as attempt 2 and attempt 1 shows lost with its host", () =>
    withOutput(deployment, async () => {
      await executors("exec-a", "exec-b");
      const runId = await fire({ ms: STEP_MS });
      const first = await runningAttempt(runId, 1);
      const victim = first.host as string;
      const survivor = victim === "exec-a" ? "exec-b" : "exec-a";
      const role = deployment.roleOfHost(victim);
      // The step's parent is the executor process we are about to kill.
      expect(executions(pids, runId)[0]!.ppid).toBe(deployment.proc(role).pid);

      const killedAt = Date.now();
      expect(await deployment.signal(role, "SIGKILL")).toBeNull();
      expect(deployment.proc(role).child.signalCode).toBe("SIGKILL");
      // Its step ends with it (the executor's guard), before the lease can pass on: never two at once.
      const stepGoneAt = await firstAttemptEnds(pids, runId, ACK_WAIT_MS / 2);

      const run = await client.waitForRun(
        runId,
        (r) => r.status === "completed",
        30_000,
        "the run to complete on the surviving executor",
      );
      expect(attemptsOf(run)).toEqual([
        [1, "lost", victim],
        [2, "completed", survivor],
      ]);
      expect(run.attempts[0].error).toContain(`executor on ${victim} stopped before the attempt finished`);
      expect(run).toMatchObject({ attempt: 2, host: survivor, result: { message: `attempt 2 on ${survivor}` } });
      // Redelivered only once the lease ran out: the last renewal was at most ack_wait/3 before the kill.
      const restartedAfter = Date.parse(run.attempts[1].startedAt) - killedAt;
      expect(restartedAfter).toBeGreaterThanOrEqual(ACK_WAIT_MS / 2);
      expect(Date.parse(run.attempts[1].startedAt)).toBeGreaterThan(stepGoneAt);
      expect(executions(pids, runId).map((e) => [e.attempt, e.host])).toEqual([
        [1, victim],
        [2, survivor],
      ]);
    }));
});

describe("fencing a frozen executor", () => {
  test("given two executors, when the one running a step is frozen (SIGSTOP) past its lease, then its guard kills the step before attempt 2 starts elsewhere: their marks never overlap, and attempt 1 reads fenced, killed by the guard", () =>
    withOutput(deployment, async () => {
      await executors("exec-a", "exec-b");
      const runId = await fire({ firstAttemptMs: 60_000, ms: 1_000 });
      const first = await runningAttempt(runId, 1);
      const victim = first.host as string;
      const survivor = victim === "exec-a" ? "exec-b" : "exec-a";
      const frozen = deployment.proc(deployment.roleOfHost(victim));
      await eventually(() => workMarks(pids, runId, 1).length > 0, 10_000, "attempt 1 to work");

      // A GC pause, swap storm or VM pause of the executor alone: its step process runs on.
      frozen.signal("SIGSTOP");
      try {
        // Frozen until attempt 2 has worked a while (five marks, 250 ms) on the other host.
        await eventually(() => workMarks(pids, runId, 2).length >= 5, 30_000, `attempt 2 to work on ${survivor}`);
      } finally {
        frozen.signal("SIGCONT");
      }
      const run = await client.waitForRun(
        runId,
        (r) => r.status === "completed" && r.attempts[0]?.status === "fenced",
        30_000,
        "the run to complete and attempt 1 to read fenced",
      );
      // Never both at once: attempt 1's last mark comes before attempt 2's first.
      const [one, two] = [workMarks(pids, runId, 1), workMarks(pids, runId, 2)];
      console.log(`frozen executor: attempt 1's last mark came ${two[0]! - one.at(-1)!} ms before attempt 2's first`);
      expect(one.at(-1)!).toBeLessThan(two[0]!);
      expect(attemptsOf(run)).toEqual([
        [1, "fenced", victim],
        [2, "completed", survivor],
      ]);
      expect(run.attempts[0].error).toContain(`fenced on ${victim}`);
      expect(run.attempts[0].error).toContain("its guard killed the step");
    }));

  test("given a step that ends on its own while its executor is frozen past its lease, then attempt 1's record says how the step ended (completed), never that it was stopped", () =>
    withOutput(deployment, async () => {
      await executors("exec-a", "exec-b");
      const runId = await fire({ firstAttemptMs: 400, ms: 400 });
      const first = await runningAttempt(runId, 1);
      const victim = first.host as string;
      const frozen = deployment.proc(deployment.roleOfHost(victim));
      await eventually(() => workMarks(pids, runId, 1).length > 0, 10_000, "attempt 1 to work");
      frozen.signal("SIGSTOP");
      try {
        // The step ends 400 ms in, unseen; the lease passes and the other host runs attempt 2.
        await eventually(() => workMarks(pids, runId, 2).length > 0, 30_000, "attempt 2 to work on the other host");
      } finally {
        frozen.signal("SIGCONT");
      }
      const run = await client.waitForRun(
        runId,
        (r) => r.attempts[0]?.status === "completed" && r.attempts[1]?.status === "completed",
        30_000,
        "both attempts' records",
      );
      const [one, two] = [workMarks(pids, runId, 1), workMarks(pids, runId, 2)];
      expect(one.at(-1)!).toBeLessThan(two[0]!);
      expect(run.attempts[0]).toMatchObject({ attemptNumber: 1, host: victim, status: "completed", exitCode: 0 });
      expect(run.attempts[0].error ?? "").not.toContain("fenced");
    }));
});

describe("graceful shutdown: SIGTERM to an executor", () => {
  test("given a step still running when the grace (0.5 s) is over, then the executor exits 0, attempt 1 shows released, and the other executor completes the run as attempt 2", () =>
    withOutput(deployment, async () => {
      // Both executors up (one killed above comes back with the same host id).
      await executors("exec-a", "exec-b");
      const runId = await fire({ firstAttemptMs: 60_000, ms: 100 });
      const first = await runningAttempt(runId, 1);
      const victim = first.host as string;
      const survivor = victim === "exec-a" ? "exec-b" : "exec-a";
      const role = deployment.roleOfHost(victim);
      const step = executions(pids, runId)[0]!;

      const termAt = Date.now();
      expect(await deployment.signal(role, "SIGTERM")).toBe(0);
      const tookMs = Date.now() - termAt;
      const output = deployment.proc(role).output();
      expect(output).toContain("info SIGTERM: shutting down");
      expect(output).toContain("grace period over: handing 1 running step(s) back");
      expect(tookMs).toBeGreaterThanOrEqual(GRACE_MS);
      // The handed-back step's process is stopped, not left running without an executor.
      await eventually(() => !isRunning(step.pid), 5_000, `step process ${step.pid} to end`);

      // Once the executor is gone, nothing is left `running` on it: the run waits on its queue.
      expect(await runningOn(victim)).toEqual([]);
      const handedBack = await client.run(runId);
      expect(summary(handedBack)).toMatchObject({
        status: "queued",
        attempts: [{ n: 1, status: "released", host: victim }],
      });
      expect(handedBack.attempts[0].error).toContain(`executor on ${victim} shut down before the step finished`);

      const run = await client.waitForRun(
        runId,
        (r) => r.status === "completed",
        30_000,
        "the other executor to complete the run",
      );
      expect(attemptsOf(run)).toEqual([
        [1, "released", victim],
        [2, "completed", survivor],
      ]);
      expect(run.result).toMatchObject({ message: `attempt 2 on ${survivor}` });
    }));

  test("given a step that ends within the grace, then the stopping executor records it completed (attempt 1 only), takes no new work, and exits 0", () =>
    withOutput(deployment, async () => {
      // Only one executor, with a grace longer than the step: whatever it is running is its own.
      await executors();
      await deployment.start("exec-c", "executor", {
        CODEX_FLOW_HOST_ID: "exec-c",
        CODEX_FLOW_SHUTDOWN_GRACE_MS: "10000",
      });
      const runId = await fire({ ms: 2_500 });
      await runningAttempt(runId, 1);

      const stopping = deployment.proc("exec-c");
      stopping.signal("SIGTERM");
      await stopping.waitForLine("info SIGTERM: shutting down");
      // New work while it stops: matched and queued, but not taken by the stopping executor.
      const laterId = await fire({ ms: 0 });
      expect(stopping.child.exitCode).toBeNull();
      expect(await stopping.exit(15_000)).toBe(0);
      expect(stopping.output()).not.toContain("grace period over");

      const run = await client.run(runId, await lastSeq(nats.url, deployment.env.CODEX_FLOW_STREAM!));
      expect(run.status).toBe("completed");
      expect(attemptsOf(run)).toEqual([[1, "completed", "exec-c"]]);
      expect(executions(pids, runId)).toHaveLength(1);
      expect(await runningOn("exec-c")).toEqual([]);
      const later = await client.run(laterId);
      expect(summary(later)).toMatchObject({ status: "queued", attempts: [] });
      expect(executions(pids, laterId)).toEqual([]);

      // The next executor to come up takes it.
      await deployment.start("exec-d", "executor", { CODEX_FLOW_HOST_ID: "exec-d" });
      const done = await client.waitForRun(
        laterId,
        (r) => r.status === "completed",
        20_000,
        "exec-d to run the queued run",
      );
      expect(done.host).toBe("exec-d");
      expect(done.attempts.map((a: { host: string }) => a.host)).toEqual(["exec-d"]);
    }));
});
