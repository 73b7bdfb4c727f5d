import type { NatsConnection } from "@nats-io/nats-core";
import { sql } from "kysely";
import { BEAT_EVERY_MS, type HostBeat } from "../../lib/protocol/heartbeat.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";
import type { ReadModel } from "../../lib/read-model/database.ts";
import type { HeldConnections } from "./held.ts";
import type { Health } from "./schemas.ts";
import type { SpoolState } from "./spool/spool.ts";
import type { ConsumerDepth } from "./system/sources.ts";

/** Counters this ingress process keeps (Prometheus counters restart with the process). */
export type IngressCounters = { accepted: number; duplicates: number; rejected: Map<number, number> };

export function ingressCounters(): IngressCounters {
  return { accepted: 0, duplicates: 0, rejected: new Map() };
}

/** Step duration buckets, in seconds. */
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

export type MetricsSources = {
  db: ReadModel;
  /** The stream's durable consumers with their backlogs (not ephemeral ones); throws when NATS cannot answer. */
  consumers: () => Promise<ConsumerDepth[]>;
  counters: IngressCounters;
  health: () => Promise<Health>;
  hosts: () => HostBeat[];
  /** The spool's state, when CODEX_FLOW_INGRESS_SPOOL is on. */
  spool?: () => SpoolState;
  held: HeldConnections;
};

/** Follows executors' heartbeats; `hosts()` are the ones heard from within three beats. */
export function watchHosts(nc: NatsConnection, subjects: Subjects): { hosts(): HostBeat[]; stop(): void } {
  const seen = new Map<string, { beat: HostBeat; at: number }>();
  const sub = nc.subscribe(subjects.allHostBeats, {
    callback: (error, msg) => {
      if (error) return;
      try {
        const beat = msg.json<HostBeat>();
        seen.set(beat.host, { beat, at: Date.now() });
      } catch {
        // A malformed beat is someone else's noise on our subject; it is not a host.
      }
    },
  });
  return {
    hosts: () => [...seen.values()].filter((s) => Date.now() - s.at < 3 * BEAT_EVERY_MS).map((s) => s.beat),
    stop: () => sub.unsubscribe(),
  };
}

/** The Prometheus text exposition of everything /metrics reports. */
export async function renderMetrics(sources: MetricsSources): Promise<string> {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [Record<string, string | number>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labelText(labels)} ${value}`);
  };
  const { counters, db } = sources;
  metric("codex_flows_events_accepted_total", "counter", "Events this ingress accepted into the stream.", [
    [{}, counters.accepted],
  ]);
  metric(
    "codex_flows_events_duplicate_total",
    "counter",
    "Events this ingress answered as duplicates (the id was accepted before).",
    [[{}, counters.duplicates]],
  );
  metric(
    "codex_flows_events_rejected_total",
    "counter",
    "Event posts this ingress refused, by HTTP status.",
    [...counters.rejected].map(([status, n]) => [{ status }, n]),
  );

  const { held } = sources;
  metric(
    "codex_flows_held_requests",
    "gauge",
    "Requests this ingress holds open now (GET /changes long polls, output streams).",
    [[{}, held.total]],
  );
  metric("codex_flows_held_requests_clients", "gauge", "Client addresses holding at least one request open now.", [
    [{}, held.clients],
  ]);
  metric(
    "codex_flows_held_requests_limit",
    "gauge",
    "The bound on held requests: in total (CODEX_FLOW_MAX_HELD_CONNECTIONS, 503 beyond) and per client address (CODEX_FLOW_MAX_HELD_PER_CLIENT, 429 beyond).",
    [
      [{ scope: "total" }, held.limits.total],
      [{ scope: "client" }, held.limits.perClient],
    ],
  );

  const events = await db
    .selectFrom("events")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  metric("codex_flows_events", "gauge", "Events in the read model.", [[{}, Number(events.n)]]);
  const byStatus = await db
    .selectFrom("runs")
    .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("status")
    .execute();
  metric(
    "codex_flows_runs",
    "gauge",
    "Runs in the read model by process status.",
    byStatus.map((r) => [{ status: r.status }, Number(r.n)]),
  );

  const histogram = await db
    .selectFrom("runs")
    .select([
      "flow_name",
      "step_name",
      (eb) => eb.fn.countAll<number>().as("count"),
      (eb) => eb.fn.sum<number>("duration_ms").as("sum"),
    ])
    .select(BUCKETS.map((b, i) => sql<number>`sum(case when duration_ms <= ${b * 1000} then 1 else 0 end)`.as(`b${i}`)))
    .where("duration_ms", "is not", null)
    .groupBy(["flow_name", "step_name"])
    .execute();
  out.push(
    "# HELP codex_flows_step_duration_seconds How long attempts' steps ran, by flow and step (the latest attempt of each run).",
    "# TYPE codex_flows_step_duration_seconds histogram",
  );
  for (const row of histogram) {
    const labels = { flow: row.flow_name, step: row.step_name };
    BUCKETS.forEach((b, i) => {
      out.push(
        `codex_flows_step_duration_seconds_bucket${labelText({ ...labels, le: b })} ${Number((row as Record<string, unknown>)[`b${i}`])}`,
      );
    });
    out.push(`codex_flows_step_duration_seconds_bucket${labelText({ ...labels, le: "+Inf" })} ${Number(row.count)}`);
    out.push(`codex_flows_step_duration_seconds_sum${labelText(labels)} ${Number(row.sum) / 1000}`);
    out.push(`codex_flows_step_duration_seconds_count${labelText(labels)} ${Number(row.count)}`);
  }

  const health = await sources.health();
  metric("codex_flows_nats_connected", "gauge", "1 while this ingress is connected to NATS.", [
    [{}, health.nats.connected ? 1 : 0],
  ]);
  metric("codex_flows_projector_applied_sequence", "gauge", "The last stream sequence the read model applied.", [
    [{}, health.projector.appliedSeq],
  ]);
  if (health.projector.lag !== null)
    metric("codex_flows_projector_lag", "gauge", "Stream sequence minus the read model's applied sequence.", [
      [{}, health.projector.lag],
    ]);
  const disks = health.disk.dirs.filter((d) => d.freeBytes !== null);
  metric(
    "codex_flows_disk_free_bytes",
    "gauge",
    "Free space under a directory the disk guard watches (as an unprivileged writer sees it).",
    disks.map((d) => [{ dir: d.dir, role: d.role }, d.freeBytes!]),
  );
  metric(
    "codex_flows_disk_low",
    "gauge",
    "1 while a watched directory's disk is below its threshold: writes answer 507, the projector pauses.",
    health.disk.dirs.map((d) => [{ dir: d.dir, role: d.role }, d.low ? 1 : 0]),
  );

  const consumers: [Record<string, string>, number][][] = [[], [], []];
  try {
    for (const depth of await sources.consumers()) {
      const labels = { consumer: depth.consumer };
      consumers[0]!.push([labels, depth.pending]);
      consumers[1]!.push([labels, depth.ackPending]);
      consumers[2]!.push([labels, depth.waiting]);
    }
  } catch {
    // NATS unreachable: codex_flows_nats_connected already says so; the rest still renders.
  }
  metric("codex_flows_consumer_pending", "gauge", "Messages a durable consumer has not delivered yet.", consumers[0]!);
  metric(
    "codex_flows_consumer_ack_pending",
    "gauge",
    "Messages delivered and not yet acknowledged (in progress, or waiting for a retry).",
    consumers[1]!,
  );
  metric(
    "codex_flows_consumer_waiting_pulls",
    "gauge",
    "Open pull requests (executors or matchers ready for work).",
    consumers[2]!,
  );

  const spool = sources.spool?.();
  if (spool) {
    metric("codex_flows_spool_depth", "gauge", "Events in this ingress's spool, not yet in the stream.", [
      [{}, spool.depth],
    ]);
    metric(
      "codex_flows_spool_bytes",
      "gauge",
      "The spool's size on disk (507 beyond CODEX_FLOW_INGRESS_SPOOL_MAX_BYTES).",
      [[{}, spool.bytes]],
    );
    metric(
      "codex_flows_spool_oldest_age_seconds",
      "gauge",
      "How long the oldest spooled event has waited (0 when none).",
      [[{}, (spool.oldestAgeMs ?? 0) / 1000]],
    );
    metric("codex_flows_spool_spooled_total", "counter", "Events this process wrote to the spool.", [
      [{}, spool.spooled],
    ]);
    metric(
      "codex_flows_spool_drained_total",
      "counter",
      "Spooled events this process moved to the stream (or found there already).",
      [[{}, spool.drained]],
    );
    metric(
      "codex_flows_spool_refused_total",
      "counter",
      "Spooled events the stream refused for good, kept in the spool's refused.log.",
      [[{}, spool.refused]],
    );
  }
  const hosts = sources.hosts();
  metric(
    "codex_flows_executor_slots_in_use",
    "gauge",
    "Steps an executor is running, by host (from its heartbeat).",
    hosts.map((h) => [{ host: h.host }, h.slotsInUse]),
  );
  metric(
    "codex_flows_executor_slots",
    "gauge",
    "An executor's concurrency limit, by host.",
    hosts.map((h) => [{ host: h.host }, h.capacity]),
  );
  return `${out.join("\n")}\n`;
}

function labelText(labels: Record<string, string | number>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}
