import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { readBack } from "../cli/data.ts";
import { readModelPath } from "../lib/config.ts";
import { openReadModel } from "../lib/read-model/database.ts";
import { type ProjectorService, startProjectorService } from "../services/projector/service.ts";
import { connectContext, type ServiceContext } from "../services/runtime/context.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { publishHistory } from "./support/history.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { useProcesses } from "./support/processes.ts";
import { snapshotOf } from "./support/snapshot.ts";
import { tableRows } from "./support/table.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const processes = useProcesses();
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);
const TOKEN = "purge-token";
const BIG = "x".repeat(200_000);
const BEFORE = ago(30).toISOString().slice(0, 10);
let config: ReturnType<typeof testConfig>;
let ctx: ServiceContext;
let system: RunningSystem;
let second: ProjectorService;
let secondPath: string;
let stopped = false;

const flow = (args: string[]) =>
  processes.run(args, {
    env: { CODEX_FLOW_URL: system.ingressUrl, CODEX_FLOW_BACKEND_TOKEN: TOKEN },
    timeoutMs: 60_000,
  });
const runsIn = async (path: string) => {
  const db = await openReadModel(path);
  try {
    return (await db.selectFrom("runs").select("event_id").orderBy("event_id").execute()).map((r) => r.event_id);
  } finally {
    await db.destroy();
  }
};

beforeAll(async () => {
  const cwd = writeFlows({
    alpha: [{ name: "a", type: "demo.never", source: echoStep() }],
    beta: [{ name: "a", type: "demo.never", source: echoStep() }],
  });
  // Rounds of 2 runs: the purge below takes several, each published by a projector after the last.
  config = testConfig({ cwd, token: TOKEN, purgeRoundRuns: 2 });
  ctx = await connectContext(config, nats.url, "test");
  nats.cleanup(() => ctx.nc.close());
  const old = (id: string, f: string, status: "completed" | "failed") => ({
    id,
    flow: f,
    at: ago(40),
    status,
    output: BIG,
  });
  await publishHistory(ctx, [
    old("alpha/1", "alpha", "completed"),
    old("alpha/2", "alpha", "completed"),
    old("alpha/3", "alpha", "failed"),
    old("beta/1", "beta", "completed"),
    old("beta/2", "beta", "failed"),
    { id: "alpha/new", flow: "alpha", at: ago(1), status: "completed" },
  ]);
  system = await startSystem(config, nats.url, ["ingress", "projector"]);
  // A second host's projector, with a read model of its own.
  secondPath = join(tempDir("codex-flows-second-"), "read-model.sqlite");
  second = await startProjectorService(ctx, secondPath);
});

afterAll(async () => {
  if (stopped) return;
  await second?.stop();
  await system?.stop();
});

describe("archive and purge", () => {
  test("the purge and archive endpoints need the token", async () => {
    for (const path of [`/purge?before=${BEFORE}`, `/archive?before=${BEFORE}`])
      expect((await fetch(`${system.ingressUrl}${path}`)).status).toBe(401);
    expect(
      (
        await fetch(`${system.ingressUrl}/purge`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ before: BEFORE }),
        })
      ).status,
    ).toBe(401);
  });

  test("given a bad date, then purge says which option is wrong", async () => {
    const { code, stderr } = await flow(["purge", "--before", "last week", "--dry-run"]);
    expect(code).toBe(2);
    expect(stderr).toContain(
      'before="last week" is invalid: expected a date (2026-01-31) or an ISO time (2026-01-31T12:00:00Z)',
    );
  });

  test("purge --dry-run prints a table of runs and bytes per flow and status (--json: a group a line), and deletes nothing", async () => {
    await eventually(
      async () => (await runsIn(readModelPath(config))).length === 6 || undefined,
      15_000,
      "the history in the read model",
    );
    const { code, stdout, stderr } = await flow(["purge", "--before", BEFORE, "--dry-run"]);
    expect(code).toBe(0);
    expect(stdout.split("\n")[0]).toMatch(/^FLOW +STATUS +RUNS +BYTES$/);
    const rows = tableRows(stdout);
    expect(rows.map((r) => [r.FLOW, r.STATUS, r.RUNS])).toEqual([
      ["alpha", "completed", "2"],
      ["alpha", "failed", "1"],
      ["beta", "completed", "1"],
      ["beta", "failed", "1"],
    ]);
    expect(Number(rows[0]!.BYTES)).toBeGreaterThanOrEqual(2 * BIG.length);
    expect(Number(stderr.match(/^total: 5 runs, (\d+) bytes/m)![1])).toBeGreaterThanOrEqual(5 * BIG.length);
    const asJson = await flow(["purge", "--before", BEFORE, "--dry-run", "--json"]);
    expect(asJson.code).toBe(0);
    expect(
      asJson.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual(rows.map((r) => ({ flow: r.FLOW, status: r.STATUS, runs: Number(r.RUNS), bytes: Number(r.BYTES) })));
    const narrowed = await flow(["purge", "--before", BEFORE, "--flow", "alpha", "--status", "failed", "--dry-run"]);
    expect(tableRows(narrowed.stdout).map((r) => [r.FLOW, r.STATUS, r.RUNS])).toEqual([["alpha", "failed", "1"]]);
    expect(narrowed.stderr).toContain("total: 1 runs");
    // The purge itself has no JSON form: a usage mistake before anything is deleted.
    const refused = await flow(["purge", "--before", BEFORE, "--json"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("flow purge has a JSON form only with --dry-run");
    expect(await runsIn(readModelPath(config))).toHaveLength(6);
  });

  test("archive writes gzip JSON Lines of what a purge would delete, read back and verified", async () => {
    const out = tempDir("codex-flows-archive-");
    const { code, stdout } = await flow(["archive", "--before", BEFORE, "--flow", "alpha", "--out", out]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/archived 3 records to .*\.jsonl\.gz \(verified: 3 lines/);
    const file = readdirSync(out).find((f) => f.endsWith(".jsonl.gz"))!;
    const back = await readBack(join(out, file));
    expect(back.lines).toBe(3);
    expect(await Bun.file(join(out, `${file}.sha256`)).text()).toStartWith(back.sha256);
    const lines = new TextDecoder()
      .decode(Bun.gunzipSync(await Bun.file(join(out, file)).bytes()))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    const summary = lines.map((r) => [r.kind, r.event.id, r.run.flow_name, r.attempts.length, r.output[0].text.length]);
    expect(summary.sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      ["run", "alpha/1", "alpha", 1, BIG.length],
      ["run", "alpha/2", "alpha", 1, BIG.length],
      ["run", "alpha/3", "alpha", 1, BIG.length],
    ]);
  });

  test("purge deletes through the stream: both hosts' read models lose the same rows, and the file shrinks", async () => {
    const path = readModelPath(config);
    // Its pages into the file first (not in the WAL), so the size says what the file holds.
    const raw = new Database(path);
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    raw.close();
    const sizeBefore = statSync(path).size;
    expect(sizeBefore).toBeGreaterThan(5 * BIG.length);
    const { code, stdout, stderr } = await flow(["purge", "--before", BEFORE]);
    expect({ code, stderr }).toMatchObject({ code: 0 });
    expect(stdout).toContain("purged 5 runs");
    expect(await runsIn(path)).toEqual(["alpha/new"]);
    const last = async () => (await ctx.jsm.streams.info(config.stream)).state.last_seq;
    await eventually(
      async () => second.projector.appliedSeq() === (await last()) || undefined,
      15_000,
      "the second projector to catch up",
    );
    stopped = true;
    await system.stop();
    await second.stop();
    expect(await snapshotOf(secondPath)).toBe(await snapshotOf(path));
    expect(statSync(path).size).toBeLessThan(sizeBefore - 4 * BIG.length);
  });
});
