// The peer rows' pure parts: the profile summary, the step slots and the verdict.
import { describe, expect, test } from "bun:test";
import { type CpuProfile, summarizeProfile } from "./cpuprofile.ts";
import { peerRows } from "./row.ts";
import { type PeerReport, type Phase, slots } from "./workload.ts";

const ROOT = "/repo";

describe("summarizeProfile", () => {
  // root -> runStep (lib/run.ts) -> spawn (native); root -> (idle); root -> parse (node_modules/lib)
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [2, 4, 5] },
      { id: 2, callFrame: { functionName: "runStep", url: "file:///repo/lib/run.ts", lineNumber: 9 }, children: [3] },
      { id: 3, callFrame: { functionName: "spawn", url: "", lineNumber: -1 } },
      { id: 4, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
      { id: 5, callFrame: { functionName: "parse", url: "/repo/node_modules/lib/index.js", lineNumber: 0 } },
    ],
    startTime: 0,
    endTime: 6000,
    // one sample a millisecond at 1, 2, 3, 4, 5, 6 ms
    samples: [3, 3, 2, 4, 5, 3],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
  };

  test("given samples of a native call, when summarized, then they are named with and charged to their caller's file; idle is left out", () => {
    const summary = summarizeProfile(profile, ROOT);
    expect(summary.sampledMs).toBe(5);
    expect(summary.byFunction[0]).toEqual({ name: "spawn (native) in runStep lib/run.ts:10", ms: 3, share: 0.6 });
    expect(summary.byFile.map((f) => [f.name, f.ms])).toEqual([
      ["lib/run.ts", 4],
      ["node_modules/lib", 1],
    ]);
    expect(summary.byOwnCode.map((f) => [f.name, f.ms])).toEqual([
      ["runStep lib/run.ts:10", 4],
      ["(outside our code: timers, sockets, GC, nats.js deliveries)", 1],
    ]);
  });

  test("given a window, when summarized, then only the samples inside it count", () => {
    const summary = summarizeProfile(profile, ROOT, 2500, 5500);
    expect(summary.sampledMs).toBe(2);
    expect(summary.byFunction.map((f) => f.name)).toEqual(["runStep lib/run.ts:10", "parse node_modules/lib:1"]);
  });
});

test("slots: never more than the limit at a time, and every job runs", async () => {
  const slot = slots(2);
  let running = 0;
  let most = 0;
  const done: number[] = [];
  await Promise.all(
    Array.from({ length: 7 }, (_, i) =>
      slot(async () => {
        most = Math.max(most, ++running);
        await Bun.sleep(5);
        running--;
        done.push(i);
      }),
    ),
  );
  expect(most).toBe(2);
  expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
});

describe("peerRows", () => {
  const phase = (count: number, seconds: number, cpuMs = count): Phase => ({
    count,
    elapsedMs: seconds * 1000,
    cpuMs,
    latenciesMs: [5, 6, 7],
  });
  const report = (burstSeconds: number): PeerReport => ({
    single: phase(30, 0.3),
    bursts: [phase(200, burstSeconds / 10), phase(2000, burstSeconds)],
  });

  test("given ours faster than BullMQ and within 80% of bare spawns, then ok, with the ratios in the note", () => {
    const [, ours] = peerRows({ bare: report(9), ours: report(10), bullmq: report(12) });
    expect(ours!.verdict).toBe("ok");
    expect(ours!.note).toContain("0.83x BullMQ's time");
    expect(ours!.note).toContain("90% of bare spawns' events/s");
  });

  test("given ours slower than BullMQ, then MISSED", () => {
    expect(peerRows({ bare: report(9), ours: report(20), bullmq: report(12) })[1]!.verdict).toBe("MISSED");
  });

  test("given BullMQ skipped, then ours is not judged and the BullMQ row says why", () => {
    const rows = peerRows({ bare: report(9), ours: report(10), bullmq: { skipped: "redis-server not found" } });
    expect(rows[1]!.verdict).toBe("n/a");
    expect(rows[2]).toMatchObject({
      row: "peers: BullMQ+Redis",
      verdict: "n/a",
      note: "skipped: redis-server not found",
    });
  });
});
