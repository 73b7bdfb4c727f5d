import type { MsgHdrs } from "@nats-io/nats-core";
import { decodeMessage, type FlowMessage } from "../../lib/protocol/messages.ts";
import { checkpointOf, type ReadModel, rawSqlite } from "../../lib/read-model/database.ts";
import type { PurgeOutcome } from "../../lib/read-model/purge.ts";
import { traceIdOf } from "../../lib/tracing/nats.ts";
import { traceIdsWanted } from "../../lib/tracing/tracing.ts";
import { evolve } from "./evolve.ts";
import { applyBatch, loadBatchState } from "./store.ts";
import { recordTraceIds, type Traced } from "./trace-ids.ts";
import { isPurge } from "./writes.ts";

/** One message of the stream, as the projector took it: its headers (a JsMsg's), or the trace id they named (a batch sent to a writer thread). */
export type StreamMessage = { seq: number; data: Uint8Array; headers?: MsgHdrs; traceId?: string | null };

const traceOf = (m: StreamMessage): string | null =>
  m.traceId !== undefined ? m.traceId : traceIdsWanted() ? traceIdOf(m.headers) : null;

/**
 * One batch of stream messages for a commit, in order. `after` is the checkpoint the
 * batch follows: a read model at another one refuses it.
 */
export type Batch = { after: number; messages: readonly StreamMessage[] };

/** What one commit did: its last sequence (the new checkpoint), the events whose rows it wrote, the messages it skipped, the purge rounds it applied. */
export type Committed = {
  last: number;
  eventIds: string[];
  skipped: { seq: number; error: string }[];
  purges: PurgeOutcome[];
};

/**
 * Applies batches to the read model, one transaction each, the checkpoint inside it, in
 * the order they are given. `depth`: how many batches may be handed over before the first
 * is done (a thread applies one while the next is on its way; on this thread one is enough).
 */
export type Writer = { depth: number; commit(batch: Batch): Promise<Committed>; close(): Promise<void> };

/**
 * A batch on its way to a writer thread: the bodies back to back in one buffer (`ends[i]`
 * is where message i's ends) and their sequences. Its buffers move to the thread without
 * a copy (they are transferred, not cloned).
 */
type PackedBatch = {
  after: number;
  bytes: Uint8Array<ArrayBuffer>;
  ends: Uint32Array<ArrayBuffer>;
  seqs: Float64Array<ArrayBuffer>;
  traces?: (string | null)[];
};

function pack({ after, messages }: Batch): PackedBatch {
  let size = 0;
  for (const m of messages) size += m.data.length;
  const bytes = new Uint8Array(size);
  const ends = new Uint32Array(messages.length);
  const seqs = new Float64Array(messages.length);
  let at = 0;
  messages.forEach((m, i) => {
    bytes.set(m.data, at);
    ends[i] = at += m.data.length;
    seqs[i] = m.seq;
  });
  const traces = traceIdsWanted() ? messages.map(traceOf) : [];
  return { after, bytes, ends, seqs, ...(traces.some((t) => t !== null) ? { traces } : {}) };
}

/** The batch a writer thread was sent (its messages are views of the one buffer). */
export function unpack({ after, bytes, ends, seqs, traces }: PackedBatch): Batch {
  const messages: StreamMessage[] = [];
  for (let i = 0, start = 0; i < seqs.length; start = ends[i++]!)
    messages.push({ seq: seqs[i]!, data: bytes.subarray(start, ends[i]), traceId: traces?.[i] ?? null });
  return { after, messages };
}

/** Applies batches on this thread, through `db` (the read model's one writer connection). */
export function inlineWriter(db: ReadModel, outputRetentionBytes?: number): Writer {
  const sqlite = rawSqlite(db);
  return {
    depth: 1,
    async commit({ after, messages }) {
      const decoded: { seq: number; message: FlowMessage }[] = [];
      const skipped: Committed["skipped"] = [];
      const traced: Traced[] = [];
      for (const m of messages) {
        const result = decodeMessage(m.data);
        if (!result.ok) {
          skipped.push({ seq: m.seq, error: result.error });
          continue;
        }
        decoded.push({ seq: m.seq, message: result.message });
        const traceId = traceOf(m);
        if (traceId !== null) traced.push({ message: result.message, traceId });
      }
      const last = messages[messages.length - 1]!.seq;
      const eventIds = new Set<string>();
      const purges: PurgeOutcome[] = [];
      await db
        .transaction()
        .execute(async (trx) => {
          const at = checkpointOf(sqlite);
          if (at !== after) throw new Error(`a batch that follows sequence ${after} came to a read model at ${at}`);
          // Evolve's writes go to the store a batch at a time; a purge ends one (it deletes at its
          // place in the stream), so what comes after it is evolved from a fresh read of the read model.
          let rest = decoded;
          do {
            const state = loadBatchState(
              sqlite,
              rest.map((d) => d.message),
            );
            let taken = 0;
            while (taken < rest.length) {
              const { seq, message } = rest[taken++]!;
              const writes = evolve(state, message, seq);
              state.apply(writes);
              if (writes.some(isPurge)) break;
            }
            const written = state.dirty();
            purges.push(...(await applyBatch(sqlite, trx, written, last, outputRetentionBytes)));
            for (const write of written) {
              if (isPurge(write)) continue;
              if (write.table === "events") eventIds.add(write.row.id);
              else if (write.table === "runs" || write.table === "matches") eventIds.add(write.row.event_id);
            }
            rest = rest.slice(taken);
          } while (rest.length > 0);
          recordTraceIds(sqlite, traced);
        })
        .catch((error: unknown) => {
          // SQLite's own messages ("database or disk is full") name no file: say which.
          if (!String((error as { code?: unknown }).code).startsWith("SQLITE_")) throw error;
          throw new Error(
            `read model ${sqlite.filename}: ${(error as Error).message} (${(error as { code: string }).code})`,
            { cause: error },
          );
        });
      return { last, eventIds: [...eventIds], skipped, purges };
    },
    async close() {},
  };
}

/** Where a writer thread keeps the read model, and how it opens it (see openReadModel). */
export type WriterThreadOptions = { path: string; scratch?: boolean; cacheKiB?: number; outputRetentionBytes?: number };

type WriterRequest =
  | { type: "open"; options: WriterThreadOptions }
  | { type: "commit"; batch: PackedBatch }
  | { type: "close" };
export type ToWriterThread = { id: number } & WriterRequest;
export type FromWriterThread = { id: number } & ({ ok: true; value?: Committed } | { ok: false; error: string });

/**
 * Applies batches on a thread of their own (services/projector/writer-worker.ts), which
 * opens its own connection to the read model: decoding, the batch's reads and its writes
 * run there while this thread takes the next messages from NATS. A thread that dies is
 * started again on the next commit (which then fails or succeeds on its own merits).
 */
export async function threadWriter(options: WriterThreadOptions): Promise<Writer> {
  let thread: Promise<WriterThread> | undefined;
  const start = () => {
    if (!thread) {
      const started = startWriterThread(options, () => thread === started && (thread = undefined));
      started.catch(() => thread === started && (thread = undefined));
      thread = started;
    }
    return thread;
  };
  await start();
  return {
    depth: 2,
    async commit(batch) {
      const writer = await start();
      const packed = pack(batch);
      return (await writer.call({ type: "commit", batch: packed }, [
        packed.bytes.buffer,
        packed.ends.buffer,
        packed.seqs.buffer,
      ])) as Committed;
    },
    async close() {
      const writer = await thread?.catch(() => undefined);
      thread = undefined;
      await writer?.call({ type: "close" }).catch(() => undefined);
      writer?.worker.terminate();
    },
  };
}

type WriterThread = {
  worker: Worker;
  call(message: WriterRequest, transfer?: Bun.Transferable[]): Promise<Committed | undefined>;
};

async function startWriterThread(options: WriterThreadOptions, ended: () => void): Promise<WriterThread> {
  const worker = new Worker(new URL("./writer-worker.ts", import.meta.url).href);
  const pending = new Map<number, { resolve(value: Committed | undefined): void; reject(error: Error): void }>();
  let dead: Error | undefined;
  let nextId = 0;
  const die = (error: Error) => {
    if (dead) return;
    dead = error;
    for (const waiter of pending.values()) waiter.reject(dead);
    pending.clear();
    ended();
  };
  worker.addEventListener("message", (event: MessageEvent<FromWriterThread>) => {
    const answer = event.data;
    const waiter = pending.get(answer.id);
    pending.delete(answer.id);
    if (answer.ok) waiter?.resolve(answer.value);
    else waiter?.reject(new Error(answer.error));
  });
  worker.addEventListener("error", (event) => die(new Error(`read model writer thread: ${event.message}`)));
  worker.addEventListener("close", () => die(new Error("read model writer thread ended")));
  const send = (message: WriterRequest, transfer: Bun.Transferable[] = []) =>
    new Promise<Committed | undefined>((resolve, reject) => {
      if (dead) return reject(dead);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id }, transfer);
    });
  try {
    await send({ type: "open", options });
  } catch (error) {
    worker.terminate();
    throw error;
  }
  return { worker, call: send };
}
