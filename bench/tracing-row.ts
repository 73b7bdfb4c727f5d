/**
 * Row tracing (opt-in, `--only tracing`): `flow serve all` under the `all` row's load
 * (POST /events ?wait=none, 16 connections, events no flow matches) with tracing off, then
 * on (OTEL_EXPORTER_OTLP_ENDPOINT set: an accept and a match span per event, the trace
 * context in every message's headers, spans exported over OTLP/HTTP to a sink in this
 * process that keeps them and counts them after the load, bench/otlp-sink.ts), and how
 * long the projector then takes to catch up. Off and on alternate, ROUNDS times each, and
 * each keeps its best run: on a shared machine the load of the moment would otherwise
 * decide more than tracing does. The note gives the CPU per request too.
 * Target: with tracing on, at least TRACING_RATIO of the requests/s off.
 */
import { join } from "node:path";
import { type EmbeddedNats, freePort } from "../lib/nats/nats-server.ts";
import { startOtlpSink } from "./otlp-sink.ts";
import { startServer, waitHealthy } from "./procs.ts";
import {
  type AllFigures,
  catchUp,
  type LoadOptions,
  loadWithCpu,
  progress,
  ROOT,
  serviceEnv,
  tempDir,
  timedLoad,
} from "./rows.ts";
import { round } from "./stats.ts";
import { loadRow, type Row } from "./table.ts";
import { perRequest, THREAD_GROUPS, type ThreadCpu, threadCpuMs } from "./thread-cpu.ts";

export const TRACING_RATIO = 0.9;
/** Off-then-on pairs measured; each side keeps its best. */
const ROUNDS = 3;
/** A run's figures, with the server's CPU per request split by thread (bench/thread-cpu.ts) where /proc tells. */
type Run = AllFigures & { threadUs?: ThreadCpu };
export type TracingFigures = { off: Run; on: Run; exportedBytes: number; exports: number; spans: number };

async function measureOnce(nats: EmbeddedNats, opts: LoadOptions, endpoint: string | undefined): Promise<Run> {
  const port = await freePort();
  const label = endpoint ? "traced" : "untraced";
  const env = {
    ...serviceEnv(nats.url, port, label, tempDir(`${label}-cwd`)),
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
  };
  const server = startServer(
    `serve-${label}`,
    [process.execPath, join(ROOT, "bin", "flow.ts"), "serve", "all"],
    env,
    ROOT,
  );
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(server, `${base}/healthz`);
    progress(
      `flow serve all, tracing ${endpoint ? "on" : "off"}, up on :${port}; loading it for ${opts.warmupS}+${opts.durationS} s with 16 connections`,
    );
    const before = threadCpuMs(server.proc.pid);
    const figures = await loadWithCpu(`load-${label}`, timedLoad(`${base}/events?wait=none`, opts), server, nats);
    const after = threadCpuMs(server.proc.pid);
    const caught = await catchUp(base);
    const serverUs = (figures.cpuPerRequestMs?.server ?? 0) * 1000;
    const threadUs = before && after && serverUs > 0 ? perRequest(before, after, serverUs) : undefined;
    return { ...figures, threads: true, catchUpMs: caught.ms, lagAfterLoad: caught.lag, threadUs };
  } finally {
    await server.stop();
  }
}

export async function measureTracing(nats: EmbeddedNats, opts: LoadOptions): Promise<TracingFigures> {
  // The trace backend is a sink that answers at once (bench/otlp-sink.ts): the row measures our side of tracing, not a backend's.
  const sink = startOtlpSink();
  try {
    const best = (a: Run, b: Run) => (b.rps > a.rps ? b : a);
    let off = await measureOnce(nats, opts, undefined);
    let on = await measureOnce(nats, opts, sink.url);
    for (let round = 1; round < ROUNDS; round++) {
      off = best(off, await measureOnce(nats, opts, undefined));
      on = best(on, await measureOnce(nats, opts, sink.url));
    }
    const { exports, bytes, spans } = sink.count();
    if (spans === 0) throw new Error("tracing on, yet no span reached the OTLP sink");
    return { off, on, exportedBytes: bytes, exports, spans };
  } finally {
    await sink.stop();
  }
}

/** Server and nats-server CPU per request (µs), when /proc told us: on a machine others load, steadier than requests/s. */
const cpuUs = (f: AllFigures) =>
  f.cpuPerRequestMs ? (f.cpuPerRequestMs.server + f.cpuPerRequestMs.nats) * 1000 : undefined;

export function tracingRows(t: TracingFigures): Row[] {
  const ratio = t.on.rps / t.off.rps;
  const [cpuOff, cpuOn] = [cpuUs(t.off), cpuUs(t.on)];
  const cpu =
    cpuOff && cpuOn
      ? `; CPU per request (ours and nats-server's) ${round(cpuOn)} us, off ${round(cpuOff)} us (${cpuOn >= cpuOff ? "+" : "-"}${round(Math.abs(cpuOn / cpuOff - 1) * 100)}%)`
      : "";
  const split =
    t.on.threadUs && t.off.threadUs
      ? `; of ours, on / off per thread: ${THREAD_GROUPS.map((g) => `${g} ${round(t.on.threadUs![g])} / ${round(t.off.threadUs![g])} us`).join(", ")}`
      : "";
  const caught = (f: AllFigures) =>
    f.catchUpMs === undefined ? "NOT caught up in 120 s" : `caught up ${round(f.catchUpMs / 1000)} s after`;
  return [
    loadRow(
      "tracing off",
      t.off,
      "(the base)",
      true,
      `flow serve all, POST /events ?wait=none, ${t.off.latency.count} requests; projector ${caught(t.off)}`,
    ),
    loadRow(
      "tracing on",
      t.on,
      `>=${round(TRACING_RATIO * 100)}% of off`,
      ratio >= TRACING_RATIO,
      `${round(ratio * 100)}% of off, ${t.on.latency.count} requests; projector ${caught(t.on)}; ${t.spans} spans in ${t.exports} OTLP exports, ${round(t.exportedBytes / 1e6)} MB${cpu}${split}`,
    ),
  ];
}
