/**
 * Where a run's CPU goes: `flow serve all` on one thread (CODEX_FLOW_THREADS=off, so
 * one profile holds every service) under `bun --cpu-prof`, on a nats-server of its own,
 * with the peers row's step; after a warm-up, a burst of --events events (200 in flight,
 * 4 steps at a time). Prints the CPU per run of each process of ours and of nats-server
 * (from /proc, steps excluded), then the profile's self time per run over the burst's
 * samples: the top functions and files. The profile stays in --out.
 *   bun bench/peers/profile.ts [--events 1000] [--top 25] [--out bench/results/profile]
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { processTree } from "../memory.ts";
import { cpuMs, RESULTS_DIR, stopAll } from "../procs.ts";
import { progress, tempDirs } from "../rows.ts";
import { round } from "../stats.ts";
import { readProfile, summarizeProfile } from "./cpuprofile.ts";
import { loadOurs, startOurs, stopOurs } from "./row.ts";
import { IN_FLIGHT, rssMb } from "./workload.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1000" },
    top: { type: "string", default: "25" },
    out: { type: "string", default: join(RESULTS_DIR, "profile") },
  },
});
const events = Number(values.events);
const out = values.out;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const ROOT = join(import.meta.dir, "..", "..");

try {
  const ours = await startOurs("profile", ["--cpu-prof", `--cpu-prof-dir=${out}`], { CODEX_FLOW_THREADS: "off" });
  let window: { from: number; to: number };
  const byProcess: Record<string, number> = {};
  try {
    await loadOurs(ours, "profile-warmup", 40, 4);
    const pids = [...processTree(ours.server.proc.pid), ours.nats.pid];
    const before = new Map(pids.map((pid) => [pid, cpuMs(pid) ?? 0]));
    progress(`profile: burst of ${events}, ${IN_FLIGHT} in flight, on flow serve all (one thread) under --cpu-prof`);
    const from = Date.now() * 1000;
    await loadOurs(ours, "profile-burst", events, IN_FLIGHT);
    window = { from, to: Date.now() * 1000 };
    for (const pid of pids) {
      const name =
        pid === ours.nats.pid
          ? "nats-server"
          : pid === ours.server.proc.pid
            ? "flow serve all"
            : `${rssMb(pid)?.name ?? "child"} ${pid}`;
      byProcess[name] = ((cpuMs(pid) ?? 0) - before.get(pid)!) / events;
    }
  } finally {
    await stopOurs(ours);
  }
  const total = Object.values(byProcess).reduce((a, b) => a + b, 0);
  console.log(
    `CPU per run over a burst of ${events} (steps excluded): ${round(total)} ms = ${Object.entries(byProcess)
      .map(([k, v]) => `${k} ${round(v)}`)
      .join(" + ")}`,
  );
  const file = readdirSync(out).find((name) => name.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${out}: did flow serve all exit cleanly?`);
  const profile = readProfile(join(out, file));
  const summary = summarizeProfile(profile, ROOT, window.from, window.to);
  if (summary.sampledMs === 0)
    throw new Error(
      `no sample of ${join(out, file)} falls in the burst (profile clock ${profile.startTime}..${profile.endTime} us, burst ${window.from}..${window.to})`,
    );
  const busy = byProcess["flow serve all"]!;
  console.log(
    `profile ${join(out, file)}: ${round(summary.sampledMs / events)} ms of busy samples per run over the burst (main thread; on a busy machine more than its ${round(busy)} ms of CPU, see cpuprofile.ts); ms/run below = share x ${round(busy)} ms`,
  );
  const top = Number(values.top);
  const table = (title: string, rows: { name: string; share: number }[]) =>
    [
      `| ${title} | share | ms/run |`,
      "|---|---|---|",
      ...rows.slice(0, top).map((r) => `| ${r.name} | ${round(r.share * 100)}% | ${round(r.share * busy)} |`),
    ].join("\n");
  console.log(
    `\n${table("file (self time, native calls charged to their caller)", summary.byFile)}\n\n${table("function (self time)", summary.byFunction)}\n\n${table("our function (samples charged to the nearest frame in lib/, services/, ...)", summary.byOwnCode)}`,
  );
} finally {
  await stopAll();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
