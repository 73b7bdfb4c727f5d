import type { JetStreamManager } from "@nats-io/jetstream";
import { decodeMessage, type FlowMessage } from "../protocol/messages.ts";

/** The last message on a subject (a direct get), decoded, with its stream sequence; undefined when there is none. */
export async function lastMessage(
  deps: { jsm: JetStreamManager; stream: string },
  subject: string,
): Promise<{ seq: number; message: FlowMessage } | undefined> {
  const stored = await deps.jsm.direct.getMessage(deps.stream, { last_by_subj: subject });
  if (!stored) return undefined;
  const decoded = decodeMessage(stored.data);
  return decoded.ok ? { seq: stored.seq, message: decoded.message } : undefined;
}
