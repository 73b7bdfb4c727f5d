import type { JetStreamManager } from "@nats-io/jetstream";
import type { Subjects } from "../protocol/subjects.ts";

/**
 * The subjects that are history only: what the read model folds in (events, match
 * decisions, run commands and every run record) and nothing reads back once the
 * consumers have acked it. Everything else in the stream is state read by its last
 * message (pause and resume, held and debounced runs, schedule ticks, purge rounds) and
 * a trim keeps it.
 */
export function historySubjects(subjects: Subjects): string[] {
  return [subjects.allEvents, `${subjects.prefix}.matched.>`, subjects.allCommands, subjects.allRuns];
}

/**
 * The first sequence from which the stream still holds every history message: its first
 * sequence when nothing inside it was removed, else (a trim left its state messages
 * behind) the first history message still in it. A rebuild from sequence `s` misses
 * nothing when this is at most `s + 1`.
 */
export async function streamStart(jsm: JetStreamManager, stream: string, subjects: Subjects): Promise<number> {
  const { state } = await jsm.streams.info(stream);
  // num_deleted is left out of the answer when it is 0.
  if (!state.num_deleted || state.messages === 0) return state.messages === 0 ? state.last_seq + 1 : state.first_seq;
  let first = state.last_seq + 1;
  for (const subject of historySubjects(subjects)) {
    const message = await jsm.direct.getMessage(stream, { seq: state.first_seq, next_by_subj: subject });
    if (message && message.seq < first) first = message.seq;
  }
  return first;
}

/** Why a trim stops short of where it was asked to go: a durable consumer that has not acked everything before. */
export type TrimLimit = { consumer: string; ackFloor: number };

/**
 * Where a trim up to a snapshot of sequence `snapshotSeq` can cut (everything of history
 * below the answer goes): one past the snapshot, or lower where a durable consumer still
 * has messages to deliver or to be acked (their work must not vanish). Pure.
 */
export function trimPoint(
  snapshotSeq: number,
  consumers: readonly { name: string; pending: number; ackPending: number; ackFloor: number }[],
): { upTo: number; limitedBy?: TrimLimit } {
  let upTo = snapshotSeq + 1;
  let limitedBy: TrimLimit | undefined;
  for (const c of consumers) {
    if (c.pending + c.ackPending === 0 || c.ackFloor + 1 >= upTo) continue;
    upTo = c.ackFloor + 1;
    limitedBy = { consumer: c.name, ackFloor: c.ackFloor };
  }
  return { upTo, limitedBy };
}

/** The durable consumers of `stream` with what trimPoint needs of each. */
export async function durableConsumers(
  jsm: JetStreamManager,
  stream: string,
): Promise<{ name: string; pending: number; ackPending: number; ackFloor: number }[]> {
  const out: { name: string; pending: number; ackPending: number; ackFloor: number }[] = [];
  for await (const info of jsm.consumers.list(stream)) {
    if (!info.config.durable_name) continue;
    out.push({
      name: info.name,
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      ackFloor: info.ack_floor.stream_seq,
    });
  }
  return out;
}

/** Purges every history message below `upTo` (JetStream purge by subject and sequence); returns how many went. */
export async function trimHistory(
  jsm: JetStreamManager,
  stream: string,
  subjects: Subjects,
  upTo: number,
): Promise<number> {
  let purged = 0;
  for (const filter of historySubjects(subjects))
    purged += (await jsm.streams.purge(stream, { filter, seq: upTo })).purged;
  return purged;
}
