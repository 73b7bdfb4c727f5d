import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { logger } from "../lib/log.ts";
import { processLedger } from "../services/executor/ledger.ts";
import { BIN, isRunning, waitUntilGone } from "./fixtures/request.ts";
import { tempDir } from "./support/temp.ts";

const LEDGER = resolve(import.meta.dir, "../services/executor/ledger.ts");
const LOG = resolve(import.meta.dir, "../lib/log.ts");

/** A stand-in executor process: starts a step in its own process group (with a grandchild), records it, waits. */
async function executorWithStep(
  dataDir: string,
  guarded = false,
  leaseMs = 60_000,
): Promise<{ executor: Bun.Subprocess; step: number; grandchild: number }> {
  const executor = Bun.spawn(
    [
      process.execPath,
      "-e",
      `const { processLedger } = await import(${JSON.stringify(LEDGER)});
       const { logger } = await import(${JSON.stringify(LOG)});
       const step = Bun.spawn(["sh", "-c", "sleep 300 & echo $!; wait"], { detached: true, stdout: "pipe" });
       const first = await step.stdout.getReader().read();
       const ledger = processLedger(${JSON.stringify(dataDir)}, "host-a", logger("test"));
       if (${guarded}) ledger.guard(${leaseMs});
       ledger.record(step.pid, "run-1", 1);
       console.log(step.pid + " " + new TextDecoder().decode(first.value).trim());
       await Bun.sleep(300_000);`,
    ],
    { stdout: "pipe" },
  );
  const { value } = await executor.stdout.getReader().read();
  const [step, grandchild] = new TextDecoder().decode(value).trim().split(" ").map(Number) as [number, number];
  return { executor, step, grandchild };
}

test("given an executor killed while its step runs, when the next executor on the host starts, then it ends the step's whole process group", async () => {
  const dataDir = tempDir("ledger-");
  const { executor, step, grandchild } = await executorWithStep(dataDir);
  const ledger = processLedger(dataDir, "host-a", logger("test"));
  // While its executor lives, a step is not an orphan: nothing is ended.
  expect(ledger.reapOrphans()).toBe(0);
  expect(isRunning(step)).toBe(true);

  executor.kill("SIGKILL");
  await executor.exited;
  expect(isRunning(step) && isRunning(grandchild)).toBe(true);
  expect(ledger.reapOrphans()).toBe(1);
  expect(await waitUntilGone(step)).toBe(true);
  expect(await waitUntilGone(grandchild)).toBe(true);
  expect(ledger.reapOrphans()).toBe(0);
});

test("given an executor with its guard, when it is killed with SIGKILL while its step runs, then the step's whole process group ends at once, before any other executor starts", async () => {
  const dataDir = tempDir("ledger-");
  const { executor, step, grandchild } = await executorWithStep(dataDir, true);
  // Another executor's step on the same host is not the guard's to end.
  const other = await executorWithStep(dataDir, false);
  await Bun.sleep(200);
  expect([isRunning(step), isRunning(grandchild)]).toEqual([true, true]);

  executor.kill("SIGKILL");
  await executor.exited;
  expect(await waitUntilGone(step, 2_000)).toBe(true);
  expect(await waitUntilGone(grandchild, 2_000)).toBe(true);
  expect([isRunning(other.step), isRunning(other.grandchild)]).toEqual([true, true]);
  // The next executor finds the guarded step ended and only cleans its record up.
  const ledger = processLedger(dataDir, "host-a", logger("test"));
  expect(ledger.reapOrphans()).toBe(0);
  other.executor.kill("SIGKILL");
  await other.executor.exited;
  expect(ledger.reapOrphans()).toBe(1);
  expect(await waitUntilGone(other.grandchild)).toBe(true);
});

test("issue 18: given a guarded executor frozen (SIGSTOP) while its step runs, then once its heartbeat has been silent for the fence time the guard ends the step's whole group and notes it for the executor", async () => {
  const dataDir = tempDir("ledger-");
  // Lease 1.5 s: heartbeats every 187 ms, fenced after 1 s of silence.
  const { executor, step, grandchild } = await executorWithStep(dataDir, true, 1_500);
  executor.kill("SIGSTOP");
  try {
    expect(await waitUntilGone(step, 10_000)).toBe(true);
    expect(await waitUntilGone(grandchild, 10_000)).toBe(true);
    // Not before the fence time: the guard's note says how long the executor had been silent.
    const ledger = processLedger(dataDir, "host-a", logger("test"));
    expect(ledger.guardFenced(step)).toBeGreaterThanOrEqual(1_000);
  } finally {
    executor.kill("SIGCONT");
    executor.kill("SIGKILL");
    await executor.exited;
  }
});

test("issue 18: given a guarded executor running a step in a systemd unit (the stand-in), when it is frozen, then the guard ends the unit with systemctl --user kill", async () => {
  const dataDir = tempDir("ledger-");
  // The stand-ins keep their units under $XDG_RUNTIME_DIR, as the user manager does; the guard gets that variable.
  const runtime = tempDir("ledger-runtime-");
  mkdirSync(join(runtime, "systemd-standin"));
  const executor = Bun.spawn(
    [
      process.execPath,
      "-e",
      `const { processLedger } = await import(${JSON.stringify(LEDGER)});
       const { logger } = await import(${JSON.stringify(LOG)});
       const client = Bun.spawn(["systemd-run", "--user", "--wait", "--collect", "--quiet", "--unit=codex-flow-run-u", "--working-directory=/", "--", "/bin/sleep", "300"], { detached: true });
       const ledger = processLedger(${JSON.stringify(dataDir)}, "host-u", logger("test"));
       ledger.guard(1_500);
       ledger.record(client.pid, "run-u", 1, "codex-flow-run-u");
       console.log(client.pid);
       await Bun.sleep(300_000);`,
    ],
    { stdout: "pipe", env: { ...process.env, PATH: `${BIN}:${process.env.PATH}`, XDG_RUNTIME_DIR: runtime } },
  );
  const { value } = await executor.stdout.getReader().read();
  const client = Number(new TextDecoder().decode(value).trim());
  const state = join(runtime, "systemd-standin", "codex-flow-run-u.service");
  const deadline = Date.now() + 10_000;
  while (!existsSync(state) && Date.now() < deadline) await Bun.sleep(10);
  const { pid: unitPid } = JSON.parse(readFileSync(state, "utf8")) as { pid: number };
  executor.kill("SIGSTOP");
  try {
    // The unit's process is the user manager's, outside the client's group: only `systemctl kill` reaches it.
    expect(await waitUntilGone(unitPid, 10_000)).toBe(true);
    expect(await waitUntilGone(client, 10_000)).toBe(true);
  } finally {
    executor.kill("SIGCONT");
    executor.kill("SIGKILL");
    await executor.exited;
  }
});

test("given a guard retired by a graceful stop (the word stop on its pipe) while its executor still runs, then it touches none of the executor's steps", async () => {
  const dataDir = tempDir("ledger-");
  const ledger = processLedger(dataDir, "host-b", logger("test"));
  const step = Bun.spawn(["sleep", "300"], { detached: true });
  // Recorded by this process, the live executor here.
  ledger.record(step.pid, "run-2", 1);
  ledger.guard(60_000).end();
  await Bun.sleep(500);
  expect(isRunning(step.pid)).toBe(true);
  step.kill("SIGKILL");
  ledger.forget(step.pid);
});
