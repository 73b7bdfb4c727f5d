import { DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../../lib/log.ts";
import { PULL_EXPIRES_MS, redeliveryDelayMs } from "../../lib/nats/consume.ts";
import { type AppliedListener, type ReadModel, readCheckpoint } from "../../lib/read-model/database.ts";
import { inSpan } from "../../lib/tracing/tracing.ts";
import { applyLinks } from "./trace-ids.ts";
import { type Committed, inlineWriter, type Writer } from "./writer.ts";

export type ProjectorOptions = {
  js: JetStreamClient;
  db: ReadModel;
  stream: string;
  /** The subject filter to follow: the whole stream (`flows.>`). */
  filterSubject: string;
  log: Logger;
  /** The most messages applied in one transaction. */
  maxBatch?: number;
  /** Live output kept per run (characters, the newest); older chunks are dropped (for the default writer). */
  outputRetentionBytes?: number;
  /** What applies the batches: by default this thread, through `db`. */
  writer?: Writer;
  /** Why the projector must not write now (its disk is low), else undefined: it pauses while this says so. */
  pausedBy?: () => string | undefined;
  /** Told of the purge rounds each commit applied (services/projector/retention.ts). */
  onPurged?: (outcomes: Committed["purges"]) => void;
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
  const writer = options.writer ?? inlineWriter(db, options.outputRetentionBytes);
  let stopping = false;
  const listeners = new Set<AppliedListener>();
  let current: Awaited<ReturnType<Awaited<ReturnType<JetStreamClient["consumers"]["get"]>>["consume"]>> | undefined;

  /** Commits failed in a row (a full disk): the consumer is made again after a growing pause, not at once. */
  let commitFailures = 0;
  const wake = Promise.withResolvers<void>();
  /** Takes a committed batch's answer: the new checkpoint, its listeners told. */
  const committed = (batch: JsMsg[], answer: Committed) => {
    commitFailures = 0;
    for (const { seq, error } of answer.skipped) {
      log.warn("skipping a message the read model cannot use", {
        seq,
        subject: batch.find((m) => m.seq === seq)?.subject,
        error,
      });
    }
    applied = answer.last;
    if (answer.purges.length > 0) options.onPurged?.(answer.purges);
    const change = { seq: applied, eventIds: new Set(answer.eventIds) };
    for (const listener of listeners) listener(change);
  };

  // Messages wait here for the next commit; one drain commits them in batches, in order,
  // with at most `writer.depth` batches at the writer (a writer thread applies one while
  // the next is on its way). Each batch names the checkpoint it follows, so a batch sent
  // behind one that failed is refused, never applied over the gap.
  const queue: JsMsg[] = [];
  /** The last sequence taken from the consumer. */
  let taken = applied;
  /** Set when a commit failed: take nothing more from this consumer (the failed batch would be a gap). */
  let failed = false;
  let draining: Promise<void> | undefined;
  // Settled after every commit: a follower waiting for room in the queue goes on then.
  let room = Promise.withResolvers<void>();
  const drain = (): Promise<void> =>
    (draining ??= (async () => {
      const inFlight: Promise<void>[] = [];
      let sent = applied;
      try {
        // A macrotask first, so the messages that arrive together are committed together.
        await new Promise((resolve) => setImmediate(resolve));
        while (queue.length > 0 || inFlight.length > 0) {
          if (queue.length > 0 && inFlight.length < writer.depth) {
            const batch = queue.splice(0, maxBatch);
            const after = sent;
            // One span per batch (tracing on), linked to the traces of its messages.
            const answer = inSpan(
              "apply",
              {
                attributes: () => ({
                  "codex_flows.batch.messages": batch.length,
                  "codex_flows.batch.last_seq": batch.at(-1)!.seq,
                }),
                links: () => applyLinks(batch),
              },
              () => writer.commit({ after, messages: batch }),
            );
            sent = batch.at(-1)!.seq;
            const done = (inFlight.at(-1) ?? Promise.resolve()).then(() => answer).then((a) => committed(batch, a));
            // Their failures are taken where `done` is awaited (a batch behind a failed one is never looked at).
            for (const promise of [answer, done]) promise.catch(() => undefined);
            inFlight.push(done);
            continue;
          }
          await inFlight.shift();
          room.resolve();
          room = Promise.withResolvers<void>();
        }
      } catch (error) {
        // Nothing of a failed batch (or of any sent after it) was applied: start again from the checkpoint.
        commitFailures++;
        log.error("projector commit failed; resuming from the checkpoint", {
          applied,
          retryInMs: redeliveryDelayMs(commitFailures),
          error,
        });
        failed = true;
        await Promise.allSettled(inFlight);
        queue.length = 0;
        void current?.close().catch(() => undefined);
      } finally {
        draining = undefined;
      }
    })());

  /**
   * While the read model's disk is low nothing is taken from the stream: the messages
   * wait there, and the consumer starts again from the checkpoint once space returns.
   * Polled (each second, or the stop), so it neither spins nor needs a restart.
   */
  const waitForSpace = async () => {
    const reason = options.pausedBy?.();
    if (!reason) return;
    log.warn(`projector paused: ${reason}; it goes on by itself once space returns`, { applied });
    while (!stopping && options.pausedBy?.()) await Promise.race([Bun.sleep(1_000), wake.promise]);
    if (!stopping) log.info("projector resumed: its disk has space again", { applied });
  };

  const follow = async () => {
    while (!stopping) {
      await waitForSpace();
      if (stopping) break;
      try {
        const consumer = await js.consumers.get(options.stream, {
          filter_subjects: options.filterSubject,
          ...(applied > 0
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: applied + 1 }
            : { deliver_policy: DeliverPolicy.All }),
        });
        // Short pulls, so idle heartbeats come every 2.5 s: in a cluster the ordered consumer lives on one
        // node, and when that node dies while our connection's node lives, missed heartbeats are the only sign.
        current = await consumer.consume({ max_messages: 1_000, expires: PULL_EXPIRES_MS });
        // close() can hang on a consumer that has not finished setting up; the iterator ends anyway.
        if (stopping) void current.close().catch(() => undefined);
        restartWhenRecreated(current);
        for await (const m of current) {
          if (stopping || failed) break;
          if (options.pausedBy?.()) {
            void current.close().catch(() => undefined);
            break;
          }
          if (m.seq <= taken) continue;
          taken = m.seq;
          queue.push(m);
          // Enough waiting: take more once the next commit is done.
          if (queue.length >= 2 * maxBatch) await Promise.race([drain(), room.promise]);
          else void drain();
        }
      } catch (error) {
        if (stopping) break;
        log.warn("projector consumer failed; resuming from the checkpoint", { applied, error });
        await Bun.sleep(500);
      }
      // Whatever was taken is committed before the consumer is made again from the checkpoint.
      await draining;
      queue.length = 0;
      taken = applied;
      // After a failed commit the same batch would fail again at once (75 times a second on a full disk).
      if (failed && !stopping) await Promise.race([Bun.sleep(redeliveryDelayMs(commitFailures)), wake.promise]);
      failed = false;
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
      wake.resolve();
      void current?.close().catch(() => undefined);
      await Promise.race([following, Bun.sleep(5_000)]);
      await draining;
    },
  };
}
