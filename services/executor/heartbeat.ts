import type { NatsConnection } from "@nats-io/nats-core";
import { BEAT_EVERY_MS, type HostBeat } from "../../lib/protocol/heartbeat.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";

/** Publishes this executor's presence and load until the returned function is called. */
export function startHeartbeat(nc: NatsConnection, subjects: Subjects, beat: () => Omit<HostBeat, "at">): () => void {
  const send = () => {
    if (!nc.isClosed())
      nc.publish(subjects.hostBeat(beat().host), JSON.stringify({ ...beat(), at: new Date().toISOString() }));
  };
  send();
  const timer = setInterval(send, BEAT_EVERY_MS);
  return () => clearInterval(timer);
}
