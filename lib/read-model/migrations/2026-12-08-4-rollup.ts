import { type Kysely, sql } from "kysely";

/**
 * The overview's rollup (GET /overview?window=day|week): the runs counted per period of
 * their creation, flow, status and effective status (`run_counts`, per hour `h` and per
 * 6 hours `q`), and their durations per period and flow as one histogram of fixed buckets
 * (`run_durations`, per hour, 6 hours and day `d`; `buckets` the JSON `[[bucket, n], …]`
 * of the buckets that hold any, in order), so a window reads a few hundred rows instead
 * of every run in it. Triggers on `runs` keep the counts in step with every write, whoever
 * makes it (the projector's upserts, a purge, retention, a rebuild from the stream), a row
 * whose count falls to 0 going (a rebuild never makes it); a duration that comes or goes
 * is one row appended to `duration_deltas`, which the projector's indexers fold into the
 * histograms in batches (services/projector/fold-durations.ts; a reader adds the deltas
 * not folded yet). So a rebuild gives the same rollup. Filled here from the runs there.
 *
 * Periods are the creation time cut to the hour (`YYYY-MM-DDTHH`, the 6-hour one at 00,
 * 06, 12 or 18) or the day (`YYYY-MM-DD`), UTC. `duration_buckets` fixes the buckets:
 * durations under 64 ms each their own, then 16 a doubling (each about 4.4% wider than the
 * last). A bucket is the row with the greatest `lo` at or under a duration; its values are
 * `lo` up to the next bucket's `lo` - 1. Written once: other buckets are another migration.
 */
const EXACT = 64;
const PER_DOUBLING = 16;
const DOUBLINGS = 26; // up to 64 x 2^26 ms (about 50 days); longer durations share the last bucket

function bucketLows(): number[] {
  const lows = Array.from({ length: EXACT }, (_, ms) => ms);
  for (let k = 1; k <= DOUBLINGS * PER_DOUBLING; k++) lows.push(Math.ceil(EXACT * 2 ** (k / PER_DOUBLING)));
  return lows;
}

const PERIOD = {
  h: (row: string) => `substr(${row}.created_at, 1, 13)`,
  q: (row: string) =>
    `substr(${row}.created_at, 1, 11) || printf('%02d', cast(substr(${row}.created_at, 12, 2) as integer) / 6 * 6)`,
  d: (row: string) => `substr(${row}.created_at, 1, 10)`,
};
const COUNT_LEVELS = ["h", "q"] as const;
const DURATION_LEVELS = ["h", "q", "d"] as const;
const EFFECTIVE = (row: string) => `coalesce(${row}.result_status, ${row}.status)`;
const BUCKET = (row: string) =>
  `coalesce((select bucket from duration_buckets where lo <= ${row}.duration_ms order by lo desc limit 1), 0)`;

const add = (row: string) => [
  ...COUNT_LEVELS.map(
    (level) => `insert into run_counts (level, period, flow_name, status, effective, n)
       values ('${level}', ${PERIOD[level](row)}, ${row}.flow_name, ${row}.status, ${EFFECTIVE(row)}, 1)
       on conflict do update set n = n + 1`,
  ),
  delta(row, 1),
];

const remove = (row: string) => [
  ...COUNT_LEVELS.flatMap((level) => {
    const key = `level = '${level}' and period = ${PERIOD[level](row)} and flow_name = ${row}.flow_name and status = ${row}.status and effective = ${EFFECTIVE(row)}`;
    return [`update run_counts set n = n - 1 where ${key}`, `delete from run_counts where ${key} and n = 0`];
  }),
  delta(row, -1),
];

/** A duration in or out: one row appended, folded into the histograms behind the projector. */
function delta(row: string, n: 1 | -1): string {
  return `insert into duration_deltas (period, flow_name, bucket, n)
     select ${PERIOD.h(row)}, ${row}.flow_name, ${BUCKET(row)}, ${n} where ${row}.duration_ms is not null`;
}

const CHANGED = ["created_at", "flow_name", "status", "result_status", "duration_ms"];
const body = (statements: string[]) => `begin ${statements.map((s) => `${s};`).join("\n")} end`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table duration_buckets (lo integer primary key, bucket integer not null)`.execute(db);
  const lows = bucketLows();
  for (let at = 0; at < lows.length; at += 200) {
    const part = lows.slice(at, at + 200).map((lo, i) => `(${lo}, ${at + i})`);
    await sql.raw(`insert into duration_buckets (lo, bucket) values ${part.join(", ")}`).execute(db);
  }
  await sql`create table run_counts (level text not null, period text not null, flow_name text not null, status text not null, effective text not null, n integer not null, primary key (level, period, flow_name, status, effective)) without rowid`.execute(
    db,
  );
  await sql`create table run_durations (level text not null, period text not null, flow_name text not null, n integer not null, buckets text not null, primary key (level, period, flow_name)) without rowid`.execute(
    db,
  );
  await sql`create table duration_deltas (id integer primary key, period text not null, flow_name text not null, bucket integer not null, n integer not null)`.execute(
    db,
  );
  for (const statement of [
    `create trigger runs_rollup_insert after insert on runs ${body(add("new"))}`,
    `create trigger runs_rollup_update after update of ${CHANGED.join(", ")} on runs
       when ${CHANGED.map((c) => `old.${c} is not new.${c}`).join(" or ")} ${body([...remove("old"), ...add("new")])}`,
    `create trigger runs_rollup_delete after delete on runs ${body(remove("old"))}`,
    ...COUNT_LEVELS.map(
      (level) => `insert into run_counts (level, period, flow_name, status, effective, n)
         select '${level}', ${PERIOD[level]("r")}, r.flow_name, r.status, ${EFFECTIVE("r")}, count(*) from runs r where true group by 2, 3, 4, 5`,
    ),
  ])
    await sql.raw(statement).execute(db);
  // The histograms of the runs already there: counted per bucket by SQLite, put into arrays here.
  for (const level of DURATION_LEVELS) {
    const { rows } = await sql<{ period: string; flow: string; bucket: number; n: number }>`
      select ${sql.raw(PERIOD[level]("r"))} as period, r.flow_name as flow, ${sql.raw(BUCKET("r"))} as bucket, count(*) as n
      from runs r where r.duration_ms is not null group by 1, 2, 3 order by 1, 2`.execute(db);
    const histograms = new Map<string, { period: string; flow: string; n: number; buckets: [number, number][] }>();
    for (const { period, flow, bucket, n } of rows) {
      const key = `${period}\n${flow}`;
      const h = histograms.get(key) ?? histograms.set(key, { period, flow, n: 0, buckets: [] }).get(key)!;
      h.n += n;
      h.buckets.push([bucket, n]);
    }
    for (const h of histograms.values())
      await sql`insert into run_durations (level, period, flow_name, n, buckets) values (${level}, ${h.period}, ${h.flow}, ${h.n}, ${JSON.stringify(h.buckets.sort(([a], [b]) => a - b))})`.execute(
        db,
      );
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const op of ["insert", "update", "delete"])
    await sql.raw(`drop trigger if exists runs_rollup_${op}`).execute(db);
  for (const table of ["duration_deltas", "run_durations", "run_counts", "duration_buckets"])
    await sql.raw(`drop table if exists ${table}`).execute(db);
}
