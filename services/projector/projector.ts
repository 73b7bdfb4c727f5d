import { DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { PULL_EXPIRES_MS } from "../../lib/consume.ts";
import type { Logger } from "../../lib/log.ts";
import { decodeMessage, type FlowMessage } from "../../lib/messages.ts";
import { type AppliedListener, type ReadModel, rawSqlite, readCheckpoint } from "../../lib/read-model/database.ts";
import { evolve } from "./evolve.ts";
import { applyBatch, loadBatchState } from "./store.ts";

export type ProjectorOptions = {
  js: JetStreamClient;
  db: ReadModel;
  stream: string;
  /** The subject filter to follow: the whole stream (`flows.>`). */
  filterSubject: string;
  log: Logger;
  /** The most messages applied in one transaction. */
  maxBatch?: number;
  /** Live output kept per run (characters, the newest); older chunks are dropped. */
  outputRetentionBytes?: number;
};


export type Projector = {
  /** The last stream sequence applied to the read model. */
  appliedSeq(): number;
  /** Resolves once `seq` is applied, or false after `timeoutMs`. */
  waitFor(seq: number, timeoutMs: number): Promise<boolean>;
  /** Calls `listener` after every committed batch with its last sequence and the events it touched. */
  onApplied(listener: AppliedListener): () => void;
  stop(): Promise<void>;
};

/**
 * Follows the whole stream with an ordered consumer from the checkpoint on and applies
 * messages in batches: one SQLite transaction per batch, the checkpoint inside it, so a
 * restart resumes exactly where the last commit ended. Messages that are already waiting
 * are gathered into the same batch; a caught-up projector commits every message at once.
 */
export async function startProjector(options: ProjectorOptions): Promise<Projector> {
  const { js, db, log } = options;
  const maxBatch = options.maxBatch ?? 2_000;
  let applied = await readCheckpoint(db);
  const sqlite = rawSqlite(db);
  let stopping = false;
  const listeners = new Set<AppliedListener>();
  let current: Awaited<ReturnType<Awaited<ReturnType<JetStreamClient["consumers"]["get"]>>["consume"]>> | undefined;

  const commit = async (batch: JsMsg[]) => {
    const decoded: { seq: number; message: FlowMessage }[] = [];
    for (const m of batch) {
      const result = decodeMessage(m.data);
      if (result.ok) decoded.push({ seq: m.seq, message: result.message });
      else log.warn("skipping a message the read model cannot use", { seq: m.seq, subject: m.subject, error: result.error });
    }
    const last = batch[batch.length - 1]!.seq;
    const eventIds = new Set<string>();
    await db.transaction().execute(async (trx) => {
      const state = await loadBatchState(trx, decoded.map((d) => d.message));
      for (const { seq, message } of decoded) state.apply(evolve(state, message, seq));
      const writes = state.dirty();
      await applyBatch(sqlite, trx, writes, last, options.outputRetentionBytes);
      for (const write of writes) {
        if (write.table === "events") eventIds.add(write.row.id);
        else if (write.table === "runs" || write.table === "matches") eventIds.add(write.row.event_id);
      }
    });
    applied = last;
    for (const listener of listeners) listener({ seq: applied, eventIds });
  };

  // Messages wait here for the next commit; one drain commits them in batches, in order.
  const queue: JsMsg[] = [];
  let draining: Promise<void> | undefined;
  const drain = (): Promise<void> =>
    (draining ??= (async () => {
      try {
        // A macrotask first, so the messages that arrive together are committed together.
        await new Promise((resolve) => setImmediate(resolve));
        while (queue.length > 0) await commit(queue.splice(0, maxBatch));
      } catch (error) {
        // Nothing of a failed batch was applied: start again from the checkpoint.
        log.error("projector commit failed; resuming from the checkpoint", { applied, error: String(error) });
        queue.length = 0;
        void current?.close().catch(() => undefined);
      } finally {
        draining = undefined;
      }
    })());

  const follow = async () => {
    while (!stopping) {
      try {
        const consumer = await js.consumers.get(options.stream, {
          filter_subjects: options.filterSubject,
          ...(applied > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: applied + 1 } : { deliver_policy: DeliverPolicy.All }),
        });
        // Short pulls, so idle heartbeats come every 2.5 s: in a cluster the ordered consumer lives on one
        // node, and when that node dies while our connection's node lives, missed heartbeats are the only sign.
        current = await consumer.consume({ max_messages: 1_000, expires: PULL_EXPIRES_MS });
        // close() can hang on a consumer that has not finished setting up; the iterator ends anyway.
        if (stopping) void current.close().catch(() => undefined);
        restartWhenRecreated(current);
        for await (const m of current) {
          if (stopping) break;
          if (m.seq <= applied || m.seq <= (queue.at(-1)?.seq ?? 0)) continue;
          queue.push(m);
          // Enough waiting: let the commits catch up before taking more.
          if (queue.length >= 2 * maxBatch) await drain();
          else void drain();
        }
      } catch (error) {
        if (stopping) break;
        log.warn("projector consumer failed; resuming from the checkpoint", { applied, error: String(error) });
        await Bun.sleep(500);
      }
      // Whatever was taken is committed before the consumer is made again from the checkpoint.
      await draining;
      queue.length = 0;
    }
  };
  /**
   * After a nats-server restart nats.js re-creates the ordered consumer (an ephemeral one
   * does not survive it) but keeps the pending counts of the pull requests that died with
   * the server, so it asks for almost nothing and pulls again only once two idle heartbeats
   * were missed (30 s and more): the read model would stall. Start afresh from the
   * checkpoint instead.
   */
  function restartWhenRecreated(messages: NonNullable<typeof current>): void {
    void (async () => {
      for await (const status of messages.status()) {
        if (status.type !== "ordered_consumer_recreated") continue;
        log.info("projector consumer re-created by the client; resuming from the checkpoint", { applied });
        void messages.close().catch(() => undefined);
        break;
      }
    })();
  }

  const following = follow();

  const onApplied = (listener: AppliedListener) => {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  };
  return {
    appliedSeq: () => applied,
    onApplied,
    async waitFor(seq, timeoutMs) {
      if (applied >= seq) return true;
      return await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), timeoutMs);
        const off = onApplied((change) => change.seq >= seq && done(true));
        function done(ok: boolean) {
          clearTimeout(timer);
          off();
          resolve(ok);
        }
      });
    },
    async stop() {
      stopping = true;
      void current?.close().catch(() => undefined);
      await Promise.race([following, Bun.sleep(5_000)]);
      await draining;
    },
  };
}
