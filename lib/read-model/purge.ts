import { type ExpressionBuilder, type Kysely, sql } from "kysely";
import { NEXT_NOT_STARTED } from "../protocol/flow-result.ts";
import type { PurgeRule, PurgeRuns } from "../protocol/messages.ts";
import { ATTENTION, FINAL_STATUSES } from "../protocol/status.ts";
import { type ReadModelDatabase, tombstoneKey } from "./database.ts";

type Db = Kysely<ReadModelDatabase>;

/** What one round of a purge deleted; `full`: it hit its limit, so more may be left for the next round. */
export type PurgeOutcome = {
  purgeId: string;
  round: number;
  runs: number;
  events: number;
  tombstonesDropped: number;
  full: boolean;
  ms: number;
};

const effective = sql<string>`coalesce(result_status, status)`;

/** The runs one rule covers: final ones, of its flow(s), class and statuses (the same attention rule as presentRun). */
export function covered(eb: ExpressionBuilder<ReadModelDatabase, "runs">, rule: PurgeRule) {
  const cut = sql<boolean>`coalesce(instr(error, ${NEXT_NOT_STARTED}), 0) > 0`;
  const attention = eb.or([eb(effective, "in", [...ATTENTION]), eb(cut, "=", sql<boolean>`1`)]);
  const other = eb.and([eb(effective, "not in", [...ATTENTION]), eb(cut, "=", sql<boolean>`0`)]);
  return eb.and([
    eb("status", "in", FINAL_STATUSES.list),
    ...(rule.flow !== undefined
      ? [eb("flow_name", "=", rule.flow)]
      : rule.except?.length
        ? [eb("flow_name", "not in", rule.except)]
        : []),
    ...(rule.class === "attention" ? [attention] : rule.class === "other" ? [other] : []),
    ...(rule.statuses?.length ? [eb(effective, "in", rule.statuses)] : []),
  ]);
}

/**
 * The ids of the runs a purge deletes next, at most `limit`, oldest first, in an order
 * that only depends on the read model (so every projector and a rebuild pick the same):
 * per rule, those created before its `before`, then per flow those beyond its newest
 * `keepRuns`. Uses the (flow_name, created_at, id) and (created_at, id) indexes.
 */
export async function selectRuns(db: Db, rules: readonly PurgeRule[], limit: number): Promise<string[]> {
  const picked = new Set<string>();
  for (const rule of rules) {
    if (picked.size >= limit) break;
    if (rule.before !== undefined) {
      const rows = await db
        .selectFrom("runs")
        .select("id")
        .where((eb) => covered(eb, rule))
        .where("created_at", "<", rule.before)
        .orderBy("created_at")
        .orderBy("id")
        .limit(limit - picked.size)
        .execute();
      for (const { id } of rows) if (picked.size < limit) picked.add(id);
    }
    if (rule.keepRuns === undefined) continue;
    const flows =
      rule.flow !== undefined
        ? [rule.flow]
        : (
            await db
              .selectFrom("runs")
              .select("flow_name")
              .distinct()
              .where((eb) => covered(eb, { ...rule, class: undefined, statuses: undefined }))
              .orderBy("flow_name")
              .execute()
          ).map((r) => r.flow_name);
    for (const flow of flows) {
      if (picked.size >= limit) break;
      const rows = await db
        .selectFrom("runs")
        .select("id")
        .where((eb) => covered(eb, { ...rule, flow }))
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(limit - picked.size)
        .offset(rule.keepRuns)
        .execute();
      for (const { id } of rows) if (picked.size < limit) picked.add(id);
    }
  }
  return [...picked];
}

/** Events accepted before `before` that started no run (nothing else keeps them), oldest first (after sequence `afterSeq`). */
export async function selectRunlessEvents(
  db: Db,
  before: string,
  limit: number,
  afterSeq = 0,
): Promise<{ id: string; seq: number }[]> {
  if (limit <= 0) return [];
  return await db
    .selectFrom("events")
    .select(["id", "seq"])
    .where("seq", ">", afterSeq)
    .where("accepted_at", "<", before)
    .where((eb) => eb.not(eb.exists(eb.selectFrom("runs").select("id").whereRef("runs.event_id", "=", "events.id"))))
    .orderBy("seq")
    .limit(limit)
    .execute();
}

/** How many events selectRunlessEvents would find, all of them. */
export async function countRunlessEvents(db: Db, before: string): Promise<number> {
  const row = await db
    .selectFrom("events")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("accepted_at", "<", before)
    .where((eb) => eb.not(eb.exists(eb.selectFrom("runs").select("id").whereRef("runs.event_id", "=", "events.id"))))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Applies one round of a purge inside the projector's transaction: deletes the runs it
 * selects with their attempts and output, then each of their events that has no run
 * left (with its match decisions), leaving a tombstone of each deleted event id; drops
 * tombstones past their horizon. Everything it reads is the read model, so a rebuild
 * that reaches this message deletes the same rows.
 */
export async function applyPurge(db: Db, message: PurgeRuns): Promise<PurgeOutcome> {
  const started = performance.now();
  const runIds = await selectRuns(db, message.rules, message.limit);
  const touched = new Set<string>();
  for (const chunk of chunks(runIds)) {
    for (const row of await db.selectFrom("runs").select("event_id").distinct().where("id", "in", chunk).execute())
      touched.add(row.event_id);
    await db.deleteFrom("output").where("run_id", "in", chunk).execute();
    await db.deleteFrom("attempts").where("run_id", "in", chunk).execute();
    await db.deleteFrom("runs").where("id", "in", chunk).execute();
  }
  const gone: { id: string; seq: number }[] = [];
  for (const chunk of chunks([...touched])) {
    gone.push(
      ...(await db
        .selectFrom("events")
        .select(["id", "seq"])
        .where("id", "in", chunk)
        .where((eb) =>
          eb.not(eb.exists(eb.selectFrom("runs").select("id").whereRef("runs.event_id", "=", "events.id"))),
        )
        .execute()),
    );
  }
  const room = message.limit - runIds.length;
  const runless = message.eventsBefore === undefined ? [] : await selectRunlessEvents(db, message.eventsBefore, room);
  gone.push(...runless);
  for (const chunk of chunks(gone)) {
    const ids = chunk.map((e) => e.id);
    await db.deleteFrom("matches").where("event_id", "in", ids).execute();
    await db.deleteFrom("events").where("id", "in", ids).execute();
    await db
      .insertInto("tombstones")
      .values(chunk.map((e) => ({ id_hash: tombstoneKey(e.id), seq: e.seq, deleted_day: dayOf(message.at) })))
      .onConflict((oc) => oc.column("id_hash").doNothing())
      .execute();
  }
  const horizon = dayOf(message.at) - message.tombstoneDays;
  const expired = db
    .selectFrom("tombstones")
    .select("id_hash")
    .where("deleted_day", "<", horizon)
    .orderBy("deleted_day")
    .limit(message.limit);
  const dropped = await db.deleteFrom("tombstones").where("id_hash", "in", expired).executeTakeFirst();
  const tombstonesDropped = Number(dropped.numDeletedRows);
  const full =
    runIds.length >= message.limit || (room > 0 && runless.length >= room) || tombstonesDropped >= message.limit;
  return {
    purgeId: message.purgeId,
    round: message.round,
    runs: runIds.length,
    events: gone.length,
    tombstonesDropped,
    full,
    ms: performance.now() - started,
  };
}

/** The day (since 1970-01-01, UTC) of an ISO time: a tombstone's age is counted in days, in 1-3 bytes instead of 24. */
function dayOf(iso: string): number {
  return Math.floor(Date.parse(iso) / 86_400_000);
}

function chunks<T>(items: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
