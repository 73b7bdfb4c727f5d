import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { decodeMessage } from "../../lib/protocol/messages.ts";
import type { Sent } from "./load.ts";

/** One accepted event as the stream holds it. */
export type StoredEvent = { seq: number; id: string; msgId: string | undefined };

/**
 * Every `event.accepted` message in the stream, in stream order, read one sequence at a
 * time from the stream itself (not the read model): what "stored once" is checked against.
 */
export async function storedEvents(natsUrls: string, stream: string): Promise<StoredEvent[]> {
  const nc = await connect({ servers: natsUrls.split(","), timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const { first_seq, last_seq } = (await jsm.streams.info(stream)).state;
    const out: StoredEvent[] = [];
    for (let seq = first_seq; seq <= last_seq && seq > 0; seq++) {
      const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!msg) continue;
      const decoded = decodeMessage(msg.data);
      if (decoded.ok && decoded.message.kind === "event.accepted")
        out.push({ seq, id: decoded.message.event.id, msgId: msg.header?.get("Nats-Msg-Id") || undefined });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** How often each event id is in the stream. */
export function countsById(stored: StoredEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of stored) counts.set(s.id, (counts.get(s.id) ?? 0) + 1);
  return counts;
}

/** The answers' latency percentiles (ms) and counts by status, for a test's report. */
export function latencyReport(answers: Sent[]): {
  byStatus: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
} {
  const byStatus: Record<string, number> = {};
  for (const a of answers) byStatus[String(a.status ?? a.kind)] = (byStatus[String(a.status ?? a.kind)] ?? 0) + 1;
  const ms = answers.map((a) => a.to - a.from).sort((x, y) => x - y);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)] ?? 0;
  return { byStatus, p50: at(0.5), p99: at(0.99), max: ms.at(-1) ?? 0 };
}
