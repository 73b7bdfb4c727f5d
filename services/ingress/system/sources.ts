import type { JetStreamManager } from "@nats-io/jetstream";
import type { HostBeat } from "../../../lib/protocol/heartbeat.ts";

/** One durable consumer's backlog: what /metrics reports as codex_flows_consumer_*. */
export type ConsumerDepth = { consumer: string; durable: boolean; pending: number; ackPending: number; waiting: number };

/** What the dashboard's read endpoints (GET /hosts) read besides the read model. */
export type SystemSources = {
  /** Executors heard from within three beats. */
  hosts(): HostBeat[];
  /** Every durable consumer of the stream with its backlog; throws when NATS cannot answer. */
  consumers(): Promise<ConsumerDepth[]>;
};

/** Lists the stream's durable consumers with their pending, in-progress and waiting-pull counts. */
export async function consumerDepths(jsm: JetStreamManager, stream: string): Promise<ConsumerDepth[]> {
  const out: ConsumerDepth[] = [];
  for await (const info of jsm.consumers.list(stream)) {
    out.push({ consumer: info.name, durable: Boolean(info.config.durable_name), pending: info.num_pending, ackPending: info.num_ack_pending, waiting: info.num_waiting });
  }
  return out;
}
