/**
 * Turns the figures into rows with their targets and verdicts (ok, MISSED, INVALID when
 * a request or a run failed, n/a when the row it is compared with was not run), and
 * prints them as a fixed-width table.
 */

import { dashboardRow } from "./dashboard-row.ts";
import { dataRows } from "./data.ts";
import { fsyncRows } from "./fsync.ts";
import { latencyRows } from "./latency.ts";
import { memoryRows } from "./memory.ts";
import { peerRows } from "./peers/row.ts";
import type { LoadFigures } from "./rows.ts";
import type { Results } from "./run.ts";
import { scaleRows } from "./scale.ts";
import { round } from "./stats.ts";
import { tracingRows } from "./tracing-row.ts";
import { yearRows } from "./year.ts";

export type Verdict = "ok" | "MISSED" | "INVALID" | "n/a" | "-";
export type Row = {
  row: string;
  rps?: number;
  p50?: number;
  p99?: number;
  target: string;
  verdict: Verdict;
  note: string;
  failures?: string[];
};

/** Ingress: at least this share of the minimal handler's requests/s, and p99 below this. */
export const INGRESS_RATIO = 0.9;
export const INGRESS_P99_MS = 20;
/** The default answer (waits for the match decision): p99 below this under 16 connections. */
export const DISPATCH_P99_MS = 100;
/** Idle end to end: p50 at most the spawn p50 plus this. */
export const IDLE_OVERHEAD_MS = 15;
/** A burst of 200: at most this factor of 200 / (best spawns per second). */
export const BURST_FACTOR = 1.15;

const pct = (x: number) => `${round(x * 100)}%`;

/** "cpu/req: server 45 us, nats 25 us" when /proc told us. */
function cpuNote(f: LoadFigures): string {
  const cpu = f.cpuPerRequestMs;
  return cpu ? `; cpu/req server ${round(cpu.server * 1000)} us, nats ${round(cpu.nats * 1000)} us` : "";
}

/** A load row: its figures and verdict, INVALID when a request or the warm-up failed. */
export function loadRow(row: string, f: LoadFigures, target: string, pass: boolean | undefined, note: string): Row {
  const base = { row, rps: f.rps, p50: f.latency.p50, p99: f.latency.p99, target };
  if (f.errors > 0)
    return {
      ...base,
      verdict: "INVALID",
      note: `${f.errors} failed of ${f.latency.count + f.errors}; ${note}`,
      failures: f.failures,
    };
  if (f.failures.length > 0)
    return { ...base, verdict: "INVALID", note: `warm-up failed; ${note}`, failures: f.failures };
  return { ...base, verdict: pass === undefined ? "n/a" : pass ? "ok" : "MISSED", note };
}

/** The rows of the table, from whatever rows were run. */
export function verdicts(r: Results): Row[] {
  const rows: Row[] = [];
  if (r.minimal) {
    const row = loadRow(
      "minimal handler",
      r.minimal,
      "(the limit)",
      true,
      `${r.minimal.latency.count} requests${cpuNote(r.minimal)}`,
    );
    rows.push(row.verdict === "ok" ? { ...row, verdict: "-" } : row);
  }
  if (r.ingress) {
    const ratio = r.minimal ? r.ingress.rps / r.minimal.rps : undefined;
    const pass = ratio === undefined ? undefined : ratio >= INGRESS_RATIO && r.ingress.latency.p99 < INGRESS_P99_MS;
    const note = `${ratio === undefined ? "ratio n/a (run minimal too)" : `${pct(ratio)} of minimal`}, ${r.ingress.latency.count} requests${cpuNote(r.ingress)}`;
    rows.push(loadRow("ingress", r.ingress, `>=${pct(INGRESS_RATIO)} & p99<${INGRESS_P99_MS}`, pass, note));
  }
  if (r.dispatch) {
    const { none, matched } = r.dispatch;
    rows.push(
      loadRow(
        "dispatch ?wait=none",
        none,
        "(fire and forget)",
        true,
        `flow serve all, ${none.latency.count} requests${cpuNote(none)}`,
      ),
    );
    const cost = matched.latency.p50 - none.latency.p50;
    rows.push(
      loadRow(
        "dispatch default",
        matched,
        `p99<${DISPATCH_P99_MS}`,
        matched.latency.p99 < DISPATCH_P99_MS,
        `answers runIds: +${round(cost)} ms p50 over ?wait=none, ${pct(matched.rps / none.rps)} of its rate${cpuNote(matched)}`,
      ),
    );
  }
  for (const all of [r.all, r.all1]) {
    if (!all) continue;
    const ratio = r.minimal ? all.rps / r.minimal.rps : undefined;
    const pass = ratio === undefined ? undefined : ratio >= INGRESS_RATIO && all.latency.p99 < INGRESS_P99_MS;
    const caught =
      all.catchUpMs === undefined
        ? "projector NOT caught up within 120 s"
        : `projector caught up ${round(all.catchUpMs / 1000)} s after the load (lag ${all.lagAfterLoad})`;
    const note = `${ratio === undefined ? "ratio n/a (run minimal too)" : `${pct(ratio)} of minimal`}, POST /events (fire and forget), ${all.latency.count} requests; ${caught}${cpuNote(all)}`;
    rows.push(
      loadRow(
        all.threads ? "serve all (threads)" : "serve all (1 thread)",
        all,
        `>=${pct(INGRESS_RATIO)} & p99<${INGRESS_P99_MS}`,
        pass,
        note,
      ),
    );
  }
  if (r.spawn) {
    const levels = r.spawn.rates.map((x) => `${x.parallelism}: ${round(x.perSecond)}/s`).join(", ");
    rows.push({
      row: "spawn floor",
      rps: r.spawn.best.perSecond,
      p50: r.spawn.sequential.p50,
      p99: r.spawn.sequential.p99,
      target: "(the floor)",
      verdict: "-",
      note: `best at parallelism ${r.spawn.best.parallelism} (${levels})`,
    });
  }
  if (r.e2e) {
    const { idle, burst, concurrency } = r.e2e;
    const idleLimit = r.spawn ? r.spawn.sequential.p50 + IDLE_OVERHEAD_MS : undefined;
    const idleRow = loadRow(
      "e2e idle (30 x 1)",
      idle,
      idleLimit === undefined ? "n/a: run spawn" : `p50<=${round(idleLimit)} ms`,
      idleLimit === undefined ? undefined : idle.latency.p50 <= idleLimit,
      `executor concurrency ${concurrency}${cpuNote(idle)}`,
    );
    rows.push({ ...idleRow, rps: undefined });
    const floorS = r.spawn ? burst.count / r.spawn.best.perSecond : undefined;
    const totalS = burst.totalMs / 1000;
    const note = `all ${burst.count} in ${round(totalS)} s${floorS === undefined ? "" : ` = ${round(totalS / floorS)}x the floor ${round(floorS)} s`}${cpuNote(burst)}`;
    const burstRow = loadRow(
      `e2e burst (${burst.count} at once)`,
      burst,
      floorS === undefined ? "n/a: run spawn" : `<=${round(BURST_FACTOR * floorS)} s`,
      floorS === undefined ? undefined : totalS <= BURST_FACTOR * floorS,
      note,
    );
    rows.push({ ...burstRow, rps: burst.count / totalS });
  }
  return [
    ...rows,
    ...dataRows(r),
    ...(r.dashboard ? [dashboardRow(r.dashboard)] : []),
    ...(r.memory ? memoryRows(r.memory) : []),
    ...(r.fsync ? fsyncRows(r.fsync) : []),
    ...(r.year ? yearRows(r.year) : []),
    ...(r.scale ? scaleRows(r.scale) : []),
    ...(r.peers ? peerRows(r.peers) : []),
    ...(r.latency ? latencyRows(r.latency) : []),
    ...(r.tracing ? tracingRows(r.tracing) : []),
  ];
}

const COLUMNS: [string, number, (row: Row) => string][] = [
  ["row", 24, (x) => x.row],
  ["per s", 9, (x) => num(x.rps)],
  ["p50 ms", 8, (x) => num(x.p50)],
  ["p99 ms", 8, (x) => num(x.p99)],
  ["target", 17, (x) => x.target],
  ["verdict", 8, (x) => x.verdict],
  ["notes", 0, (x) => x.note],
];

function num(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "-" : String(round(value));
}

/** The printed table: a header naming the machine, one line per row, then any failures. */
export function formatTable(r: Results, rows: Row[]): string {
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (COLUMNS[i]![1] ? cell.padEnd(COLUMNS[i]![1]) : cell))
      .join(" ")
      .trimEnd();
  const out = [
    `codex-flows bench (${r.machine.cores} cores, bun ${r.machine.bun}, nats-server ${r.machine.natsServer}; ${r.options.warmupS}+${r.options.durationS} s per HTTP row)`,
    line(COLUMNS.map(([name]) => name)),
    ...rows.map((row) => line(COLUMNS.map(([, , cell]) => cell(row)))),
  ];
  for (const row of rows) for (const failure of row.failures ?? []) out.push(`  ${row.row} failed: ${failure}`);
  for (const [row, problem] of Object.entries(r.problems))
    out.push(`${row.padEnd(24)} ERROR: not measured: ${problem}`);
  return out.join("\n");
}
