import type { Logger } from "../../../lib/log.ts";
import { addressOf } from "../../../lib/protocol/address.ts";
import type { EventAccepted } from "../../../lib/protocol/messages.ts";
import type { Subjects } from "../../../lib/protocol/subjects.ts";
import { currentTraceHeaders, withSavedTrace } from "../../../lib/tracing/tracing.ts";
import { HttpError } from "../errors.ts";
import { type Published, type Publisher, RETRY_AFTER_S, Unavailable } from "../publish.ts";
import { encodeRecord, type SpoolRecord } from "./record.ts";
import { openSpoolStore } from "./store.ts";

/** What /healthz and /metrics show of the spool. */
export type SpoolState = {
  depth: number;
  bytes: number;
  maxBytes: number;
  oldestAgeMs: number | null;
  spooled: number;
  drained: number;
  refused: number;
};

/** A write's outcome with the spool on: stored in the stream, or spooled (fsynced, to be drained). */
export type Taken = (Published & { spooled?: false }) | { spooled: true; duplicate: boolean };

export type Spool = {
  /**
   * Publishes with `direct` (the API's publisher, with its guards), or spools when NATS
   * cannot take it within the deadline; while anything waits in the spool, spools at once (order).
   */
  take(message: EventAccepted, direct: Publisher): Promise<Taken>;
  state(): SpoolState;
  stop(): Promise<void>;
};

export type SpoolOptions = {
  dir: string;
  maxBytes: number;
  /** The drain's publisher: the events it publishes were answered 202 already, so no guard for new writes applies. */
  publish: Publisher;
  /** Where events are published (their subject and message id are kept in each record). */
  subjects: Subjects;
  /** Whether the read model already has this event (a drain after the dedup window, or a repeat): then it is not published again. */
  alreadyAccepted: (eventId: string) => boolean;
  log: Logger;
  /** Between drain attempts while NATS stays away (the publisher already waited its deadline). */
  pauseMs?: number;
};

/**
 * The ingress's spool (CODEX_FLOW_INGRESS_SPOOL): an event NATS cannot take within the
 * publish deadline is appended to an fsynced file and answered 202 `spooled: true`. One
 * drain publishes the records in order, with their own message ids, as soon as NATS
 * answers, and records its progress durably, so a restart resumes where it was; a
 * record published twice (a crash before its progress was recorded) is a duplicate
 * JetStream drops, or beyond the dedup window one the read model and the matcher know.
 */
export function startSpool(options: SpoolOptions): Spool {
  const { log, publish } = options;
  const store = openSpoolStore(options.dir, log);
  const counters = { spooled: 0, drained: 0, refused: 0 };
  let queue: { record: SpoolRecord; done: (error?: unknown) => void }[] = [];
  let queuedBytes = 0;
  let stopped = false;
  let wake: (() => void) | undefined;

  // Group commit: the appends of one turn of the event loop share one write and one fsync.
  const flush = () => {
    const batch = queue;
    queue = [];
    queuedBytes = 0;
    try {
      store.append(batch.map((b) => b.record));
      counters.spooled += batch.length;
      for (const b of batch) b.done();
    } catch (error) {
      log.error("spool: append failed; the writes are refused", { error, records: batch.length });
      for (const b of batch)
        b.done(
          new HttpError(
            507,
            `the spool could not store the event (${(error as Error).message}); nothing was accepted, retry later`,
            undefined,
            { "retry-after": String(RETRY_AFTER_S) },
          ),
        );
    }
    wake?.();
  };

  const append = (record: SpoolRecord): Promise<void> => {
    const size = encodeRecord(record).byteLength;
    if (store.bytes() + queuedBytes + size > options.maxBytes) {
      throw new HttpError(
        507,
        `the spool is full (${store.bytes() + queuedBytes} of CODEX_FLOW_INGRESS_SPOOL_MAX_BYTES=${options.maxBytes} bytes) and JetStream cannot take the event; nothing was accepted, retry later`,
        undefined,
        { "retry-after": String(RETRY_AFTER_S) },
      );
    }
    if (queue.length === 0) setImmediate(flush);
    queuedBytes += size;
    return new Promise((resolve, reject) =>
      queue.push({ record, done: (error) => (error ? reject(error) : resolve()) }),
    );
  };

  const depth = () => store.depth() + queue.length;

  const drainOne = async (): Promise<void> => {
    const entry = store.oldest()!;
    const record = store.read(entry);
    if (!options.alreadyAccepted(record.eventId)) {
      try {
        // The record's own message id (the same addressOf gives; kept in the record since the first spool version),
        // in the trace the event was accepted in (its accept span's context, kept in the record; none in an older record).
        await withSavedTrace(record.trace, () => publish(record.message));
      } catch (error) {
        if (error instanceof Unavailable || (error instanceof HttpError && error.status === 503)) {
          await Bun.sleep(options.pauseMs ?? 1_000);
          return;
        }
        // Refused for good (413 after max_payload was lowered, a permission): kept aside, named, and passed.
        store.setAside(record);
        counters.refused++;
        log.error("spool: the stream refused a spooled event; kept in refused.log", { eventId: record.eventId, error });
      }
    }
    store.drained(entry);
    counters.drained++;
  };

  const drained = (async () => {
    while (!stopped) {
      if (store.depth() === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      try {
        await drainOne();
      } catch (error) {
        log.error("spool: drain step failed; trying again", { error });
        await Bun.sleep(options.pauseMs ?? 1_000);
      }
    }
  })();

  return {
    async take(message, direct) {
      const { subject, msgID } = addressOf(options.subjects, message);
      const eventId = message.event.id;
      const spool = async (): Promise<Taken> => {
        if (store.holds(msgID) || queue.some((q) => q.record.msgID === msgID))
          return { spooled: true, duplicate: true };
        const trace = currentTraceHeaders();
        await append({ subject, msgID, eventId, message, spooledAt: Date.now(), ...(trace ? { trace } : {}) });
        return { spooled: true, duplicate: false };
      };
      if (depth() > 0) return await spool();
      try {
        return await direct(message);
      } catch (error) {
        if (error instanceof Unavailable) return await spool();
        throw error;
      }
    },
    state() {
      const oldest = queue[0]?.record.spooledAt;
      const first = store.oldest()?.spooledAt ?? oldest;
      return {
        depth: depth(),
        bytes: store.bytes(),
        maxBytes: options.maxBytes,
        oldestAgeMs: first === undefined ? null : Math.max(0, Date.now() - first),
        ...counters,
      };
    },
    async stop() {
      stopped = true;
      wake?.();
      // The drain's publish in flight ends with the connection (or its deadline); its progress is recorded or redone.
      await Promise.race([drained, Bun.sleep(2_000)]);
      store.close();
    },
  };
}
