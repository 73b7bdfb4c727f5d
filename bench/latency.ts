/**
 * Where one idle event's milliseconds go (issue 21, goal 3). `bun bench/latency.ts
 * [--events N] [--gap MS] [--spans]` starts `flow serve all` with the peers row's
 * one-step flow (bench/peers/row.ts startOurs), sends N events one at a time, GAP ms
 * apart (POST /events?wait=true, answered once the run completed), then reads the stream
 * back and prints each hop's p50/p99 from the messages' own JetStream timestamps and the
 * client's times. With --spans, tracing exports to a sink here, and the matcher's,
 * executor's and projector's spans (their start and end) split the hops further.
 * Then the floor: the same step spawned bare as many times, as far apart. All times are
 * this machine's wall clock (nats-server's, the services' and ours).
 */

import { rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { signBody } from "../lib/signature.ts";
import { startOurs, stopOurs } from "./peers/row.ts";
import { spawnStep, stepInput } from "./peers/step.ts";
import { stopAll } from "./procs.ts";
import { progress, tempDirs } from "./rows.ts";
import { round, summarize } from "./stats.ts";
import type { Row } from "./table.ts";

/** Idle latency (issue 21, goal 3): p50 at most the floor's p50 plus this, p99 at most the floor's p99 plus LATENCY_P99_OVER_MS. */
export const LATENCY_P50_OVER_MS = 3;
export const LATENCY_P99_OVER_MS = 8;

/** Wall-clock milliseconds with sub-millisecond precision (comparable with JetStream's timestamps). */
const wallMs = () => performance.timeOrigin + performance.now();

export type LatencyFigures = {
  events: number;
  gapMs: number;
  spans: boolean;
  /** Each hop's samples (ms), in path order. */
  hops: [string, number[]][];
  total: number[];
  floor: number[];
};

/** A span the services exported: its times (wall ms) and the attributes that tie it to a message. */
type Span = { name: string; start: number; end: number; seq?: number; lastSeq?: number; runId?: string };
type OtlpValue = { intValue?: string | number; stringValue?: string };
type OtlpSpan = {
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: OtlpValue }[];
};

/**
 * `flow serve all` with the peers row's one-step flow; `events` events one at a time,
 * `gapMs` apart (after 3 to warm up), then the same step spawned bare as many times, as
 * far apart (the floor). With `spans`, tracing exports to a sink here and the services'
 * spans split the hops further (tracing costs a little of its own).
 */
export async function measureLatency(events: number, gapMs: number, spans: boolean): Promise<LatencyFigures> {
  const received: Span[] = [];
  const sink = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      received.push(...otlpSpans(await request.json()));
      return new Response("{}", { headers: { "content-type": "application/json" } });
    },
  });
  const ours = await startOurs(
    "latency",
    [],
    spans ? { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.port}` } : {},
  );
  try {
    progress(`latency: flow serve all up on :${ours.port}; ${events} events one at a time, ${gapMs} ms apart`);
    const sent: Sent[] = [];
    for (let n = 0; n < events + 3; n++) {
      const id = `latency-${n}`;
      const body = JSON.stringify({ id, type: "bench.run", source: "codex-flows bench", payload: { n } });
      const headers = { "content-type": "application/json", "x-flow-signature-256": signBody(ours.secret, body) };
      const started = wallMs();
      const response = await fetch(ours.url, { method: "POST", body, headers });
      const text = await response.text();
      const answered = wallMs();
      if (response.status !== 202 || !text.includes('"completed"'))
        throw new Error(`event ${id}: HTTP ${response.status} ${text.slice(0, 300)}`);
      if (n >= 3) sent.push({ id, sent: started, answered });
      await Bun.sleep(gapMs);
    }
    if (spans) await Bun.sleep(1_500); // the last spans' export
    const stream = await readStream(ours.nats.url);
    progress(`latency: the floor, the step spawned bare ${events} times, ${gapMs} ms apart`);
    const floor: number[] = [];
    for (let n = 0; n < events; n++) {
      const started = performance.now();
      await spawnStep(stepInput(`floor-${n}`));
      floor.push(performance.now() - started);
      await Bun.sleep(gapMs);
    }
    const hops = timeline(sent, stream, received);
    return { events, gapMs, spans, hops, total: sent.map((e) => e.answered - e.sent), floor };
  } finally {
    await stopOurs(ours);
    sink.stop(true);
  }
}

type Sent = { id: string; sent: number; answered: number };

/** The spans of an OTLP/HTTP JSON export. */
function otlpSpans(export_: unknown): Span[] {
  const out: Span[] = [];
  const body = export_ as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
  for (const resource of body.resourceSpans ?? [])
    for (const scope of resource.scopeSpans ?? [])
      for (const s of scope.spans ?? []) {
        const attr = (key: string) => s.attributes?.find((a) => a.key === key)?.value;
        const int = (key: string) => (attr(key)?.intValue === undefined ? undefined : Number(attr(key)!.intValue));
        out.push({
          name: s.name,
          start: Number(BigInt(s.startTimeUnixNano) / 1000n) / 1000,
          end: Number(BigInt(s.endTimeUnixNano) / 1000n) / 1000,
          seq: int("codex_flows.stream.seq"),
          lastSeq: int("codex_flows.batch.last_seq"),
          runId: attr("codex_flows.run.id")?.stringValue,
        });
      }
  return out;
}

type Stored = {
  seq: number;
  at: number;
  kind: string;
  eventId?: string;
  runId?: string;
  ran?: { startedAt: number; finishedAt: number };
};

/** Every message of the stream with its JetStream timestamp. */
async function readStream(url: string): Promise<Stored[]> {
  const nc = await connect({ servers: url });
  try {
    const name = `BENCH_LATENCY_${process.pid}`;
    const last = (await (await jetstreamManager(nc)).streams.info(name)).state.last_seq;
    const consumer = await jetstream(nc).consumers.get(name, { deliver_policy: DeliverPolicy.All });
    const out: Stored[] = [];
    const messages = await consumer.consume();
    for await (const m of messages) {
      const body = m.json<{
        kind: string;
        eventId?: string;
        runId?: string;
        event?: { id: string };
        startedAt?: string;
        finishedAt?: string;
      }>();
      out.push({
        seq: m.seq,
        at: Number(BigInt(m.info.timestampNanos) / 1000n) / 1000,
        kind: body.kind,
        eventId: body.eventId ?? body.event?.id,
        runId: body.runId,
        ...(body.kind === "run.finished"
          ? { ran: { startedAt: Date.parse(body.startedAt!), finishedAt: Date.parse(body.finishedAt!) } }
          : {}),
      });
      if (m.seq >= last) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Each hop's samples, in path order. */
function timeline(events: Sent[], stream: Stored[], spans: Span[]): [string, number[]][] {
  const hops = new Map<string, number[]>();
  const add = (hop: string, ms: number | undefined) => {
    if (ms === undefined || !Number.isFinite(ms)) return;
    hops.set(hop, [...(hops.get(hop) ?? []), ms]);
  };
  for (const e of events) {
    const accepted = stream.find((m) => m.kind === "event.accepted" && m.eventId === e.id);
    const matched = stream.find((m) => m.kind === "event.matched" && m.eventId === e.id);
    const step = stream.find((m) => m.kind === "run.step" && m.eventId === e.id);
    const runId = step?.runId;
    const started = stream.find((m) => m.kind === "run.started" && m.runId === runId);
    const finished = stream.find((m) => m.kind === "run.finished" && m.runId === runId);
    if (!accepted || !matched || !step || !started || !finished) throw new Error(`event ${e.id}: messages missing`);
    const match = spans.find((s) => s.name === "match" && s.seq === accepted.seq);
    const attempt = spans.find((s) => s.name === "attempt" && s.runId === runId);
    const apply = spans
      .filter((s) => s.name === "apply" && s.lastSeq !== undefined && s.lastSeq >= finished.seq)
      .sort((a, b) => a.lastSeq! - b.lastSeq!)[0];
    add("client sent -> event.accepted stored", accepted.at - e.sent);
    if (match) {
      add("  event.accepted -> matcher handles it", match.start - accepted.at);
      add("  matcher handles it -> run.step stored", step.at - match.start);
    } else add("event.accepted -> run.step stored", step.at - accepted.at);
    add("(run.step stored -> event.matched stored)", matched.at - step.at);
    if (attempt) {
      add("  run.step -> executor handles it", attempt.start - step.at);
      add("  executor handles it -> run.started stored", started.at - attempt.start);
    } else add("run.step -> run.started stored", started.at - step.at);
    add("run.started -> run.finished stored (spawn, step, exit)", finished.at - started.at);
    if (finished.ran) {
      add("  run.started stored -> the runner starts (ms clock)", finished.ran.startedAt - started.at);
      add("  the runner: spawn, step, exit, reap (ms clock)", finished.ran.finishedAt - finished.ran.startedAt);
      add("  the runner ends -> run.finished stored (ms clock)", finished.at - finished.ran.finishedAt);
    }
    if (apply) {
      add("  run.finished -> projector's commit starts", apply.start - finished.at);
      add("  projector's commit", apply.end - apply.start);
      add("  commit done -> client got the answer", e.answered - apply.end);
    } else add("run.finished -> client got the answer", e.answered - finished.at);
    if (attempt) add("(executor's attempt span ends after run.finished)", attempt.end - finished.at);
    add("total (client)", e.answered - e.sent);
  }
  return [...hops];
}

/** The timeline as a Markdown table. */
export function formatTimeline(f: LatencyFigures): string {
  const lines = [...f.hops, ["bare spawn of the step (the floor)", f.floor] as [string, number[]]].map(([hop, ms]) => {
    const s = summarize(ms);
    return `| ${hop} | ${round(s.p50)} | ${round(s.p99)} | ${round(s.max)} | ${round(s.mean)} |`;
  });
  return ["| hop | p50 ms | p99 ms | max ms | mean ms |", "|---|---|---|---|---|", ...lines].join("\n");
}

/** The bench's row: the client's latency against the floor's, in the same run. */
export function latencyRows(f: LatencyFigures): Row[] {
  const total = summarize(f.total);
  const floor = summarize(f.floor);
  const p50Max = floor.p50 + LATENCY_P50_OVER_MS;
  const p99Max = floor.p99 + LATENCY_P99_OVER_MS;
  const slowest = f.hops
    .filter(([hop]) => !hop.startsWith("total") && !hop.startsWith("("))
    .map(([hop, ms]) => `${hop.trim()} ${round(summarize(ms).p50)}`)
    .join(", ");
  return [
    {
      row: "latency: one idle event",
      p50: total.p50,
      p99: total.p99,
      target: `<=${round(p50Max)}/${round(p99Max)}`,
      verdict: total.p50 <= p50Max && total.p99 <= p99Max ? "ok" : "MISSED",
      note: `${f.events} events ${f.gapMs} ms apart (?wait=true); floor (bare spawns) p50 ${round(floor.p50)}, p99 ${round(floor.p99)}; hops' p50 (ms): ${slowest}`,
    },
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "50" },
      gap: { type: "string", default: "150" },
      spans: { type: "boolean", default: false },
    },
  });
  try {
    const figures = await measureLatency(Number(values.events), Number(values.gap), values.spans ?? false);
    console.log(formatTimeline(figures));
  } finally {
    await stopAll();
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
