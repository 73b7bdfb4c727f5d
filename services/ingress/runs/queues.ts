import { JetStreamApiCodes, type JetStreamManager } from "@nats-io/jetstream";
import { isApiError } from "../../../lib/nats/jetstream.ts";
import { executorDurable } from "../../../lib/protocol/consumers.ts";

/** Says why queued runs wait: whether any executor is pulling from their queue right now. */
export type QueueWatch = (queue: string) => Promise<string | undefined>;

/**
 * An executor that serves a queue keeps a pull request open on its consumer; none open
 * and nothing in progress means no executor serves it now. Answers are cached briefly
 * so listing many queued runs costs one consumer lookup per queue. Only a consumer (or
 * stream) that does not exist means no executor has served the queue: a NATS failure (a
 * timeout, no responders, JetStream off) says that NATS could not tell.
 */
export function queueWatch(jsm: JetStreamManager, stream: string, cacheMs = 2_000): QueueWatch {
  const cache = new Map<string, { at: number; answer: Promise<string | undefined> }>();
  const look = async (queue: string): Promise<string | undefined> => {
    let info: Awaited<ReturnType<typeof jsm.consumers.info>> | undefined;
    try {
      info = await jsm.consumers.info(stream, executorDurable(queue));
    } catch (error) {
      const missing =
        isApiError(error, JetStreamApiCodes.ConsumerNotFound) || isApiError(error, JetStreamApiCodes.StreamNotFound);
      if (!missing)
        return `cannot tell whether an executor serves queue "${queue}": NATS did not answer (${error instanceof Error ? error.message : String(error)})`;
    }
    if (!info)
      return `no executor has served queue "${queue}" yet (a step's runs_on names a host id or an executor label: CODEX_FLOW_EXECUTOR_LABELS)`;
    if (info.num_waiting === 0 && info.num_ack_pending === 0)
      return `no executor is serving queue "${queue}" right now`;
    return undefined;
  };
  return (queue) => {
    const hit = cache.get(queue);
    if (hit && Date.now() - hit.at < cacheMs) return hit.answer;
    const answer = look(queue);
    cache.set(queue, { at: Date.now(), answer });
    return answer;
  };
}

/** Adds `waiting` (why it has not started) to each queued run; null when nothing stands in its way. */
export async function explainWaits<T extends { status: string; queue: string; heldReason?: string | null }>(
  runs: T[],
  watch?: QueueWatch,
): Promise<(T & { waiting: string | null })[]> {
  const why = async (run: T) =>
    run.status !== "queued" ? null : (run.heldReason ?? (watch ? ((await watch(run.queue)) ?? null) : null));
  return await Promise.all(runs.map(async (run) => ({ ...run, waiting: await why(run) })));
}
