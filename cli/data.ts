import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip, createGzip } from "node:zlib";
import { UsageError } from "./args.ts";
import { type ApiTarget, callApi } from "./client.ts";
import { type Column, type Format, printRows } from "./output.ts";
import { printErrorLine } from "./terminal.ts";

/** What `flow archive` and `flow purge` cover: runs created before a date, of one flow, some statuses. */
export type DataOptions = { before?: string; flow?: string; status?: string };

function query(options: DataOptions, cursor?: string): string {
  if (!options.before) throw new UsageError("expected --before DATE (runs created before it, e.g. 2026-01-31)");
  const params = new URLSearchParams({ before: options.before });
  if (options.flow) params.set("flow", options.flow);
  if (options.status) params.set("status", options.status);
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}

async function get(target: ApiTarget, path: string): Promise<any> {
  const answer = await callApi(target, "GET", path);
  if (answer.status !== 200)
    throw new UsageError(`error ${answer.status}: ${answer.body?.error ?? JSON.stringify(answer.body)}`);
  return answer.body;
}

type PurgeGroup = { flow: string; status: string; runs: number; bytes: number };

const PURGE_COLUMNS: Column<PurgeGroup>[] = [
  { header: "FLOW", cell: (g) => g.flow },
  { header: "STATUS", cell: (g) => g.status },
  { header: "RUNS", cell: (g) => g.runs },
  { header: "BYTES", cell: (g) => g.bytes },
];

/**
 * `flow purge --before DATE [--flow F] [--status S] [--dry-run]`: what it deletes, a table
 * of runs and bytes per flow and status (--json with --dry-run: a group a line) and the
 * total on stderr; then, without --dry-run, the deletion (followed until done).
 */
export async function purge(target: ApiTarget, options: DataOptions, dryRun: boolean, format: Format): Promise<number> {
  if (format === "json" && !dryRun)
    throw new UsageError("flow purge has a JSON form only with --dry-run (the counts): add --dry-run or drop --json");
  const counts = await get(target, `/purge?${query(options)}`);
  printRows(
    format,
    counts.groups as PurgeGroup[],
    PURGE_COLUMNS,
    ({ flow, status, runs, bytes }) => ({ flow, status, runs, bytes }),
    `no final runs created before ${counts.before} match`,
  );
  printErrorLine(
    `total: ${counts.runs} runs, ${counts.bytes} bytes, ${counts.eventsWithoutRuns} events without runs, created before ${counts.before}`,
  );
  if (dryRun) return 0;
  const answer = await callApi(target, "POST", "/purge", {
    before: options.before,
    ...(options.flow ? { flow: options.flow } : {}),
    ...(options.status ? { status: options.status } : {}),
  });
  if (answer.status !== 202)
    throw new UsageError(`error ${answer.status}: ${answer.body?.error ?? JSON.stringify(answer.body)}`);
  console.error(
    `purge ${answer.body.purgeId} published at sequence ${answer.body.seq}; every projector deletes it in small rounds`,
  );
  // Followed until nothing is left; a purge that stops making progress for a minute is reported, not waited on for ever.
  let left = counts.runs + counts.eventsWithoutRuns;
  let progressAt = Date.now();
  while (left > 0) {
    await Bun.sleep(500);
    const now = await get(target, `/purge?${query(options)}`);
    const remaining = now.runs + now.eventsWithoutRuns;
    if (remaining < left) progressAt = Date.now();
    else if (Date.now() - progressAt > 60_000)
      throw new UsageError(
        `the purge made no progress for 60 s with ${remaining} left: is this host's projector running?`,
      );
    if (remaining !== left) console.error(`  ${remaining} left`);
    left = remaining;
  }
  console.log(`purged ${counts.runs} runs and ${counts.eventsWithoutRuns} events without runs`);
  return 0;
}

/**
 * `flow archive --before DATE [--flow F] [--status S] --out DIR`: what a purge of the
 * same selection would delete, as gzip JSON Lines (one run with its attempts, output
 * and event per line; then events without runs), read back and checked (line count and
 * SHA-256 of the content) before it says it is done.
 */
export async function archive(target: ApiTarget, options: DataOptions, out: string | undefined): Promise<number> {
  if (!out) throw new UsageError("expected --out DIR (where the archive is written)");
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  mkdirSync(resolve(out), { recursive: true });
  const path = join(resolve(out), `archive-${stamp}.jsonl.gz`);
  const gzip = createGzip();
  const file = createWriteStream(path);
  gzip.pipe(file);
  const hash = createHash("sha256");
  let lines = 0;
  let cursor: string | undefined;
  // Bounded by the selection: each page moves the cursor forward.
  do {
    const page = await get(target, `/archive?${query(options, cursor)}`);
    for (const record of page.records) {
      const line = `${JSON.stringify(record)}\n`;
      hash.update(line);
      if (!gzip.write(line)) await once(gzip, "drain");
      lines++;
    }
    cursor = page.nextCursor;
    console.error(`  ${lines} records written`);
  } while (cursor);
  gzip.end();
  await once(file, "close");
  const digest = hash.digest("hex");
  const check = await readBack(path);
  if (check.lines !== lines || check.sha256 !== digest)
    throw new Error(
      `${path}: verification failed: wrote ${lines} lines (sha256 ${digest}), read back ${check.lines} (sha256 ${check.sha256})`,
    );
  await Bun.write(`${path}.sha256`, `${digest}  content of ${path} (uncompressed), ${lines} lines\n`);
  console.log(`archived ${lines} records to ${path} (verified: ${lines} lines of JSON read back, sha256 ${digest})`);
  return 0;
}

/** Reads an archive back: every line must be JSON; its count and the SHA-256 of the uncompressed content. */
export async function readBack(path: string): Promise<{ lines: number; sha256: string }> {
  const hash = createHash("sha256");
  let lines = 0;
  for await (const line of createInterface({
    input: createReadStream(path).pipe(createGunzip()),
    crlfDelay: Infinity,
  })) {
    lines++;
    try {
      JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}: line ${lines} is not JSON: ${(error as Error).message}`);
    }
    hash.update(`${line}\n`);
  }
  return { lines, sha256: hash.digest("hex") };
}
