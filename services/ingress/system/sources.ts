import type { ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import type { HostBeat } from "../../../lib/protocol/heartbeat.ts";

/** One durable consumer's backlog: what /metrics reports as codex_flows_consumer_*. */
export type ConsumerDepth = { consumer: string; pending: number; ackPending: number; waiting: number };

/** What the dashboard's read endpoints (GET /hosts) read besides the read model. */
export type SystemSources = {
  /** Executors heard from within three beats. */
  hosts(): HostBeat[];
  /** Every durable consumer of the stream with its backlog; throws when NATS cannot answer. */
  consumers(): Promise<ConsumerDepth[]>;
};

/**
 * Whether a consumer comes and goes rather than being a queue: one without a durable
 * name (an ordered consumer: the projector's, a CLI's), or one the server deletes when
 * idle (an inactive threshold: the `nats stream view` pager's "stream_pager_…" is named
 * like a durable but expires after an hour). The system's own durables set no threshold.
 */
export function isEphemeral(info: Pick<ConsumerInfo, "config">): boolean {
  return !info.config.durable_name || (info.config.inactive_threshold ?? 0) > 0;
}

/** Lists the stream's durable consumers (not ephemeral ones) with their pending, in-progress and waiting-pull counts. */
export async function consumerDepths(jsm: JetStreamManager, stream: string): Promise<ConsumerDepth[]> {
  const out: ConsumerDepth[] = [];
  for await (const info of jsm.consumers.list(stream)) {
    if (isEphemeral(info)) continue;
    out.push({
      consumer: info.name,
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      waiting: info.num_waiting,
    });
  }
  return out;
}
