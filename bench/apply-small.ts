/**
 * The read model's hot paths on their own, in this process, for before/after figures of
 * a change (docs/performance.md "After the profile"): the projector's inline writer
 * applying bench/workload.ts's messages in batches of --batch (the live projector commits
 * 1-3 messages at a time under the peers row's load), then `runsById` (each ?wait= answer's
 * run read) and `acceptedSeq` (each POST /events) on that read model. Prints CPU
 * microseconds per message, per read and per lookup as JSON. `--root DIR` measures another
 * checkout of the project (e.g. `git archive <commit> | tar -x -C DIR`, node_modules linked).
 *   bun bench/apply-small.ts [--root .] [--batch 6] [--messages 12000] [--drop-search-triggers]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    root: { type: "string", default: join(import.meta.dir, "..") },
    batch: { type: "string", default: "6" },
    messages: { type: "string", default: "12000" },
    "drop-search-triggers": { type: "boolean", default: false },
  },
});
const root = resolve(values.root);
const batch = Number(values.batch);
const total = Number(values.messages);
const { workload } = await import(join(root, "bench/workload.ts"));
const { subjects } = await import(join(root, "lib/protocol/subjects.ts"));
const { encodeMessage } = await import(join(root, "lib/protocol/messages.ts"));
const { openReadModel, rawSqlite, acceptedSeq } = await import(join(root, "lib/read-model/database.ts"));
const { inlineWriter } = await import(join(root, "services/projector/writer.ts"));
const { runsById } = await import(join(root, "services/ingress/runs/queries.ts"));

const cpuUs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return used.user + used.system;
};
const dir = mkdtempSync(join(tmpdir(), "codex-flows-apply-small-"));
try {
  const db = await openReadModel(join(dir, "read-model.sqlite"));
  if (values["drop-search-triggers"]) {
    // What the search index's triggers cost the projector (an experiment, never the product).
    for (const t of ["events_search_insert", "events_search_update", "runs_search_insert", "runs_search_update"])
      rawSqlite(db).exec(`DROP TRIGGER ${t}`);
  }
  const writer = inlineWriter(db);
  type Published = { message: { runId?: string } };
  const messages = [...(workload({ subjects: subjects(), maxMessages: total }) as Iterable<Published>)].map((p, i) => ({
    seq: i + 1,
    data: encodeMessage(p.message),
  }));
  const runIds = [
    ...new Set(
      [...(workload({ subjects: subjects(), maxMessages: total }) as Iterable<Published>)].flatMap((p) =>
        p.message.runId ? [p.message.runId] : [],
      ),
    ),
  ];
  let from = process.cpuUsage();
  for (let i = 0; i < messages.length; i += batch)
    await writer.commit({ after: i, messages: messages.slice(i, i + batch) });
  const applyUs = cpuUs(from) / messages.length;
  const reads = 20_000;
  from = process.cpuUsage();
  for (let i = 0; i < reads; i++) await runsById(db, [runIds[i % runIds.length]!], 1 << 20);
  const runsByIdUs = cpuUs(from) / reads;
  from = process.cpuUsage();
  for (let i = 0; i < reads; i++) acceptedSeq(db, `evt-new-${i}`);
  const acceptedSeqUs = cpuUs(from) / reads;
  await db.destroy();
  const round = (x: number) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      root,
      batch,
      messages: messages.length,
      searchTriggers: !values["drop-search-triggers"],
      applyCpuUsPerMessage: round(applyUs),
      runsByIdCpuUs: round(runsByIdUs),
      acceptedSeqCpuUs: round(acceptedSeqUs),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
