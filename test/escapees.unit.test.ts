// lib/runners/escapees.ts: which pids can belong to processes a step started, so its end reads only those.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { pidsSince, stepStart } from "../lib/runners/escapees.ts";

const start = { pid: 5_000, forks: 100_000 };

describe("the pids handed out since a step started", () => {
  test("given no wrap, then the stretch from the step's pid to the last pid, ends included", () => {
    const since = pidsSince(start, { lastPid: 5_040, forks: 100_040, pidMax: 32_768 })!;
    expect([4_999, 5_000, 5_020, 5_040, 5_041, 301].map(since)).toEqual([false, true, true, true, false, false]);
  });

  test("given the pids wrapped past pid_max, then the stretch runs on from the bottom", () => {
    const since = pidsSince({ ...start, pid: 32_700 }, { lastPid: 350, forks: 100_200, pidMax: 32_768 })!;
    expect([32_699, 32_700, 32_767, 300, 350, 351, 5_000].map(since)).toEqual([
      false,
      true,
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  test("given as many forks as pid_max since the start, or a count that cannot be read, then every pid is a candidate", () => {
    expect(pidsSince(start, { lastPid: 5_040, forks: 100_000 + 32_768, pidMax: 32_768 })).toBeUndefined();
    expect(
      pidsSince({ ...start, forks: undefined }, { lastPid: 5_040, forks: 100_040, pidMax: 32_768 }),
    ).toBeUndefined();
    expect(pidsSince(start, { lastPid: undefined, forks: 100_040, pidMax: 32_768 })).toBeUndefined();
  });

  test("given real processes, then one started before the step is not on its stretch and one started after is", async () => {
    const read = (path: string) => Number(readFileSync(path, "utf8").trim());
    const sleeper = () => Bun.spawn(["/bin/sleep", "5"]);
    const before = sleeper();
    const step = sleeper();
    const since = stepStart(step.pid);
    const after = sleeper();
    for (const p of [before, step, after]) p.kill("SIGKILL");
    const forks = Number(/^processes (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))![1]);
    const onStretch = pidsSince(since, {
      lastPid: read("/proc/sys/kernel/ns_last_pid"),
      forks,
      pidMax: read("/proc/sys/kernel/pid_max"),
    })!;
    expect([before.pid, step.pid, after.pid].map(onStretch)).toEqual([false, true, true]);
  });
});
