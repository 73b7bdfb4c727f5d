import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type Answer, answer, FIXTURE, fixtureEnv } from "./fixtures/old-main/scenario.ts";
import { json } from "./support/http.ts";
import { CURRENT_NATS_SERVER, eventually, freePort, useNatsServer } from "./support/nats.ts";
import { type CliProcess, ingressUrlOf, useProcesses } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

// A stream and read model written by the system of commit 64b0ba2 (test/fixtures/old-main,
// README.md there says how), read by this checkout's code, run as a user runs it: the CLI.
const processes = useProcesses();
const recorded: Record<string, Answer> = JSON.parse(readFileSync(join(FIXTURE, "api.json"), "utf8"));

/** Every kind of message the old system wrote into the fixture's stream (run.released needs an executor stopped mid-run: not there). */
const KINDS = [
  "event.accepted",
  "event.matched",
  "run.step",
  "run.started",
  "run.output",
  "run.finished",
  "run.cancel",
  "run.held",
  "run.deferred",
  "run.superseded",
  "flow.paused",
  "flow.resumed",
  "schedule.ticked",
  "runs.purge",
];

/**
 * Every row of every table of the SQLite file, in a stable order (blobs as hex), without
 * Kysely's migration tables: their rows say when each migration ran on that file (and a
 * lock row), not anything the stream holds, so they differ between any two files.
 */
function rowsOf(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readwrite: true });
  try {
    const tables = db
      .query<{ name: string }, []>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_migration%' ORDER BY name",
      )
      .all();
    const rows: Record<string, unknown[]> = {};
    // The search index is an index: its FTS5 storage and its row numbers follow the order rows
    // were written in (a migration's backfill, a rebuild's batches), so it is compared by what it holds.
    rows["search index (kind, id, text)"] = db
      .query(
        "SELECT d.kind, d.ref, t.body FROM search_event_text t JOIN search_docs d ON d.doc = t.rowid UNION ALL SELECT d.kind, d.ref, t.body FROM search_run_text t JOIN search_docs d ON d.doc = t.rowid ORDER BY 1, 2",
      )
      .all();
    for (const { name } of tables.filter(({ name }) => !name.startsWith("search_"))) {
      const count = db.query<{ n: number }, []>(`SELECT count(*) AS n FROM pragma_table_info('${name}')`).get()!.n;
      const order = Array.from({ length: count }, (_, i) => i + 1).join(", ");
      rows[name] = db
        .query<Record<string, unknown>, []>(`SELECT * FROM "${name}" ORDER BY ${order}`)
        .all()
        .map((row) =>
          Object.fromEntries(
            Object.entries(row).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v]),
          ),
        );
    }
    return rows;
  } finally {
    db.close();
  }
}

/** The fixture's JetStream store, unpacked into a fresh directory (a server started on it may change it). */
function unpackStore(): string {
  const dir = join(tempDir("codex-flows-compat-"), "store");
  mkdirSync(dir);
  const tar = Bun.spawnSync(["tar", "-xzf", join(FIXTURE, "store.tar.gz"), "-C", dir], { stderr: "pipe" });
  if (tar.exitCode !== 0) throw new Error(`tar: ${tar.stderr}`);
  return dir;
}

async function stop(proc: CliProcess): Promise<void> {
  proc.signal("SIGTERM");
  expect(await proc.exit(30_000)).toBe(0);
}

const SERVERS = [
  { version: "2.9.10", binary: "/usr/sbin/nats-server" },
  { version: "2.15.3", binary: CURRENT_NATS_SERVER },
];

/**
 * Fields the API has gained since 64b0ba2 (additions only: every field an old client read
 * is still there with its old value). Each is checked to be present, then set aside so the
 * rest of the answer must equal the old one exactly.
 */
const ADDED_FIELDS: Record<string, (value: unknown) => boolean> = {
  // GET /events/:id decisions: whether a step that wanted the event's type refused it (issue 23).
  nearMiss: (value) => typeof value === "boolean",
  // Runs and events: the OpenTelemetry trace, none for what was written before tracing (issue 22).
  traceId: (value) => value === null,
  traceUrl: (value) => value === null,
};
function withoutAdded<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutAdded) as T;
  if (!value || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const added = ADDED_FIELDS[key];
    if (added) {
      if (!added(field)) throw new Error(`the added field ${key} has an unexpected value ${JSON.stringify(field)}`);
      continue;
    }
    out[key] = withoutAdded(field);
  }
  return out as T;
}

for (const server of SERVERS) {
  describe.skipIf(!existsSync(server.binary))(
    `a stream and read model of 64b0ba2 (nats-server 2.9.10's store), on nats-server ${server.version}`,
    () => {
      const nats = useNatsServer({ storeDir: unpackStore(), binary: server.binary });
      const dataDir = tempDir("codex-flows-compat-data-");
      const readModel = join(dataDir, "read-model.sqlite");
      copyFileSync(join(FIXTURE, "read-model.sqlite"), readModel);
      const env = async () => ({ ...fixtureEnv(nats.url, dataDir), CODEX_FLOW_BACKEND_PORT: String(await freePort()) });

      test("the stream holds every kind of message, and the server reads all of them", async () => {
        const nc = await connect({ servers: nats.url });
        try {
          const jsm = await jetstreamManager(nc);
          const info = await jsm.streams.info("FLOWS");
          const kinds = new Set<string>();
          for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++)
            kinds.add((await jsm.streams.getMessage("FLOWS", { seq }))!.json<{ kind: string }>().kind);
          expect([...kinds].sort()).toEqual([...KINDS].sort());
        } finally {
          await nc.close();
        }
      });

      test("the new ingress, opened on the old read model, answers GET /runs and GET /events/:id as the old one did", async () => {
        const ingress = processes.start(["serve", "ingress"], { env: await env() });
        const url = await ingressUrlOf(ingress, 30_000);
        for (const [path, then] of Object.entries(recorded))
          expect({ path, ...withoutAdded(await answer(url, path)) }).toEqual({ path, ...then });
        await stop(ingress);
      });

      test("the new projector rebuilds from the old stream the old read model, row for row", async () => {
        const rebuilt = join(tempDir("codex-flows-compat-rebuilt-"), "rebuilt.sqlite");
        const rebuild = await processes.run(["projector", "rebuild", "--output", rebuilt, "--from-scratch"], {
          env: await env(),
          timeoutMs: 60_000,
        });
        expect(rebuild).toMatchObject({ code: 0 });
        const old = rowsOf(readModel);
        expect(old.runs!.length).toBeGreaterThan(10);
        expect(rowsOf(rebuilt)).toEqual(old);
      });

      test("the new services continue the old stream: the flow paused there stays paused (new events held too), its held runs run on resume, a new event runs to completion", async () => {
        const system = processes.start(["serve", "all"], { env: await env() });
        const url = await ingressUrlOf(system, 30_000);
        const post = (path: string, body: unknown) =>
          fetch(`${url}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
        const runOf = async (eventId: string) => (await json(fetch(`${url}/runs?eventId=${eventId}`))).runs[0];

        const gate = (await json(fetch(`${url}/flows`))).flows.find((f: { name: string }) => f.name === "gate");
        expect(gate).toMatchObject({ paused: true, pauseReason: "fixture: left paused" });
        const held = await runOf("gate-2");
        expect(held).toMatchObject({ status: "queued", heldReason: expect.stringContaining("paused") });

        // The new matcher reads the old pause: a new event for the paused flow is held too.
        expect((await post("/events", { id: "gate-3", type: "demo.gate" })).status).toBe(202);
        await eventually(
          async () => (await runOf("gate-3"))?.heldReason?.includes("paused"),
          30_000,
          "the new gate event's run to be held",
        );
        expect((await post("/events", { id: "after-upgrade", type: "demo.hello", payload: { n: 1 } })).status).toBe(
          202,
        );
        const fresh = await eventually(
          async () => {
            const run = await runOf("after-upgrade");
            return run?.status === "completed" ? run : undefined;
          },
          30_000,
          "the new event's run to complete",
        );
        expect(fresh).toMatchObject({
          stepName: "hello",
          result: { status: "completed", message: 'hello saw {"n":1}' },
        });
        // The held run has not moved while the flow stays paused.
        expect(await runOf("gate-2")).toMatchObject({ id: held.id, status: "queued" });

        expect((await post("/flows/gate/resume", {})).status).toBe(200);
        for (const id of ["gate-2", "gate-3"])
          await eventually(
            async () => (await runOf(id))?.status === "completed",
            30_000,
            `${id}'s held run to run on resume`,
          );
        // Every run the old system recorded is still there, as it was or (the held one) run since.
        const oldRuns = (recorded["/runs?limit=200"]!.body as { runs: { id: string; status: string }[] }).runs;
        const now = (await json(fetch(`${url}/runs?limit=200`))).runs as { id: string; status: string }[];
        for (const run of oldRuns)
          expect(now.find((r) => r.id === run.id)?.status).toBe(run.id === held.id ? "completed" : run.status);
        await stop(system);
      });
    },
  );
}
