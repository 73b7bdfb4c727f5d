import { beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type Config, loadConfig } from "../lib/config.ts";
import { openReadModel } from "../lib/read-model/database.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { connectContext } from "../services/runtime/context.ts";
import { startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { authed, json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { REPO } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const T = {
  reader: "read-token-0123456789abcdef",
  ops: "operate-token-0123456789abcdef",
  ci: "ci-token-0123456789abcdef0123",
  boss: "admin-token-0123456789abcdef",
  legacy: "legacy-token-0123456789abcdef",
};
const TOKENS = JSON.stringify([
  { name: "reader", token: T.reader, role: "read" },
  { name: "ops", token: T.ops, role: "operate" },
  { name: "ci", token: T.ci, role: "operate", flows: ["release"] },
  { name: "boss", token: T.boss, role: "admin" },
]);
let url: string;
let config: Config;
let releaseRun: string;
let otherRun: string;

const call = authed(() => url);
const answer = async (response: Promise<Response>) => {
  const r = await response;
  return { status: r.status, body: await json(r) };
};
type Entry = {
  seq: number;
  actor: string;
  action: string;
  runId: string | null;
  eventId: string | null;
  flow: string | null;
  reason: string | null;
  summary: string;
};
const audit = async (query = "") => (await json(call(T.reader, "GET", `/audit${query}`))).entries as Entry[];
const since = () => new Date(Date.now() - 3_600_000).toISOString();

beforeAll(async () => {
  const cwd = writeFlows({
    release: [{ name: "publish", type: "release.asked", source: echoStep() }],
    other: [
      { name: "note", type: "other.asked", source: echoStep() },
      { name: "slow", type: "other.slow", source: "await Bun.sleep(60_000);\n" },
    ],
  });
  // As the services read it: CODEX_FLOW_BACKEND_TOKENS beside the single CODEX_FLOW_BACKEND_TOKEN.
  const { tokens } = loadConfig({ CODEX_FLOW_BACKEND_TOKENS: TOKENS, CODEX_FLOW_BACKEND_TOKEN: T.legacy }, { cwd });
  config = testConfig({ cwd, waitTimeoutMs: 10_000, token: T.legacy, tokens });
  const system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
  const posted = async (id: string, type: string) =>
    (await json(call(T.boss, "POST", "/events?wait=true", { id, type, payload: {} }))).runIds[0] as string;
  releaseRun = await posted("rel-1", "release.asked");
  otherRun = await posted("oth-1", "other.asked");
});

describe("roles", () => {
  test("a read token reads everything (200) and is refused every write with 403 naming its role", async () => {
    for (const path of [
      "/runs",
      `/runs/${releaseRun}`,
      "/events",
      "/events/rel-1",
      "/flows",
      "/audit",
      "/whoami",
      "/purge?before=2020-01-01",
    ]) {
      expect({ path, status: (await call(T.reader, "GET", path)).status }).toEqual({ path, status: 200 });
    }
    const writes: [string, string, unknown?][] = [
      ["POST", `/runs/${otherRun}/cancel`],
      ["POST", `/runs/${otherRun}/retry`],
      ["POST", "/events/oth-1/replay", { wait: false }],
      ["POST", "/replays", { type: "other.asked", since: since(), dryRun: false }],
      ["POST", "/flows/other/pause", {}],
      ["POST", "/flows/other/resume", {}],
      ["POST", "/purge", { before: "2020-01-01" }],
      ["GET", "/archive?before=2020-01-01"],
    ];
    for (const [method, path, body] of writes) {
      const got = await answer(call(T.reader, method, path, body));
      expect({ path, status: got.status, error: got.body.error }).toEqual({
        path,
        status: 403,
        error: expect.stringContaining(`token "reader" has role read`),
      });
    }
    expect((await call(undefined, "GET", "/runs")).status).toBe(401);
    expect(await json(call(T.reader, "GET", "/whoami"))).toEqual({ name: "reader", role: "read", flows: null });
  });

  test("an operate token cancels, retries, replays, pauses and resumes; purge, archive and bulk replay need admin", async () => {
    expect((await call(T.ops, "POST", `/runs/${otherRun}/retry?reason=flaky%20network`)).status).toBe(202);
    expect((await call(T.ops, "POST", "/flows/other/pause", { reason: "maintenance" })).status).toBe(200);
    expect((await call(T.ops, "POST", "/flows/other/resume", {})).status).toBe(200);
    expect((await call(T.ops, "POST", "/events/oth-1/replay", { wait: false, reason: "after the fix" })).status).toBe(
      202,
    );
    for (const [method, path, body] of [
      ["POST", "/replays", { type: "other.asked", since: since(), dryRun: false }],
      ["POST", "/purge", { before: "2020-01-01" }],
      ["GET", "/archive?before=2020-01-01"],
    ] as const) {
      const got = await answer(call(T.ops, method, path, body));
      expect({ path, status: got.status, error: got.body.error }).toEqual({
        path,
        status: 403,
        error: expect.stringContaining("has role operate"),
      });
      expect(got.body.error).toContain("needs admin");
    }
  });

  test("an admin token (and the single CODEX_FLOW_BACKEND_TOKEN, as admin `operator`) does all of it", async () => {
    expect(
      (
        await answer(
          call(T.boss, "POST", "/replays", {
            type: "release.asked",
            since: since(),
            dryRun: false,
            reason: "bulk check",
          }),
        )
      ).body,
    ).toMatchObject({ dryRun: false, count: 1 });
    expect((await call(T.boss, "GET", "/archive?before=2020-01-01")).status).toBe(200);
    expect((await call(T.boss, "POST", "/purge", { before: "2020-01-01", reason: "tidy" })).status).toBe(202);
    expect(await json(call(T.legacy, "GET", "/whoami"))).toEqual({ name: "operator", role: "admin", flows: null });
    expect((await call(T.legacy, "POST", "/purge?reason=legacy%20tidy", { before: "2020-01-02" })).status).toBe(202);
  });

  test("a token scoped to flows is refused another flow's run, flow or an unscoped replay, with 403 naming its scope", async () => {
    expect(await json(call(T.ci, "GET", "/whoami"))).toEqual({ name: "ci", role: "operate", flows: ["release"] });
    const refused = [
      await answer(call(T.ci, "POST", `/runs/${otherRun}/retry`)),
      await answer(call(T.ci, "POST", "/flows/other/pause", {})),
      await answer(call(T.ci, "POST", "/events/oth-1/replay", { wait: false, flow: "other" })),
    ];
    for (const got of refused)
      expect(got).toEqual({
        status: 403,
        body: { error: expect.stringMatching(/^token "ci" may act only on flows release; .* flow "other"$/) },
      });
    const unscoped = await answer(call(T.ci, "POST", "/events/rel-1/replay", { wait: false }));
    expect(unscoped).toEqual({
      status: 403,
      body: {
        error: expect.stringContaining(
          `token "ci" may act only on flows release; a replay of event "rel-1" is not limited to one flow`,
        ),
      },
    });
    expect((await call(T.ci, "POST", `/runs/${releaseRun}/retry`, { reason: "ci retry" })).status).toBe(202);
    expect((await call(T.ci, "POST", "/events/rel-1/replay", { wait: false, flow: "release" })).status).toBe(202);
  });
});

describe("the OpenAPI document and docs/security.md", () => {
  test("every guarded operation carries x-required-role, and the roles table in docs/security.md says the same", async () => {
    const doc = await json(fetch(`${url}/openapi.json`));
    const table = readFileSync(join(REPO, "docs/security.md"), "utf8")
      .split("### Roles and scopes")[1]!
      .split("\n")
      .filter((l) => /^\| `/.test(l));
    const documented = new Map<string, string>();
    for (const line of table) {
      const [routes, ...cells] = line
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim());
      const role = ["read", "operate", "admin"][cells.indexOf("yes")]!;
      let method = "";
      for (const piece of routes!.matchAll(/`([^`]+)`/g)) {
        const [first, second] = piece[1]!.split(" ");
        if (second !== undefined) method = first!;
        documented.set(`${method} ${(second ?? first)!.replace(/:(\w+)/g, "{$1}")}`, role);
      }
    }
    const marked = Object.entries<Record<string, { "x-required-role"?: string }>>(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).flatMap(([method, op]) =>
        op["x-required-role"] ? [[`${method.toUpperCase()} ${path}`, op["x-required-role"]] as const] : [],
      ),
    );
    expect(marked.length).toBeGreaterThanOrEqual(20);
    for (const [route, role] of marked) expect({ route, role: documented.get(route) }).toEqual({ route, role });
    expect(doc.paths["/purge"].post["x-required-role"]).toBe("admin");
    expect(doc.paths["/runs/{id}/cancel"].post["x-required-role"]).toBe("operate");
    expect(doc.paths["/audit"].get["x-required-role"]).toBe("read");
    expect(Object.keys(doc.paths["/archive"].get.responses)).toContain("403");
  });
});

describe("the audit log", () => {
  test("each action is one record naming the token and the reason", async () => {
    const entries = await eventually(
      async () => {
        const all = await audit("?limit=500");
        return all.length >= 9 ? all : undefined;
      },
      15_000,
      "the audit records",
    );
    const brief = entries.map((e) => [e.actor, e.action, e.runId ?? e.eventId ?? e.flow, e.reason]);
    expect(brief).toEqual(
      expect.arrayContaining([
        ["ops", "retry", otherRun, "flaky network"],
        ["ops", "pause", "other", "maintenance"],
        ["ops", "resume", "other", null],
        ["ops", "replay", "oth-1", "after the fix"],
        ["boss", "bulk-replay", null, "bulk check"],
        ["boss", "purge", null, "tidy"],
        ["operator", "purge", null, "legacy tidy"],
        ["ci", "retry", releaseRun, "ci retry"],
        ["ci", "replay", "rel-1", null],
      ]),
    );
    // Refused requests left nothing.
    expect(entries.filter((e) => e.actor === "reader")).toEqual([]);
    expect(entries).toHaveLength(9);
  });

  test("a retried identical request (the same cancel three times at once) leaves one audit record", async () => {
    const slow = (
      await json(call(T.boss, "POST", "/events?wait=matched", { id: "slow-1", type: "other.slow", payload: {} }))
    ).runIds[0] as string;
    await eventually(
      async () => (await json(call(T.reader, "GET", `/runs/${slow}`))).run.status === "running",
      15_000,
      "the slow run to start",
    );
    const tries = await Promise.all(
      [1, 2, 3].map(() => call(T.ops, "POST", `/runs/${slow}/cancel`, { reason: "stuck" })),
    );
    expect(tries.some((r) => r.status === 200)).toBe(true);
    expect(tries.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    const records = await eventually(async () => {
      const got = await audit(`?runId=${slow}`);
      return got.length > 0 ? got : undefined;
    });
    expect(records.map((e) => [e.actor, e.action, e.reason])).toEqual([["ops", "cancel", "stuck"]]);
  }, 30_000);

  test("GET /audit filters by action, actor, flow, target and time, and pages with a cursor", async () => {
    const all = await audit("?limit=500");
    expect((await audit("?action=purge")).map((e) => e.actor).sort()).toEqual(["boss", "operator"]);
    expect((await audit("?action=pause,resume&actor=ops")).map((e) => e.action)).toEqual(["resume", "pause"]);
    expect((await audit("?flow=release")).every((e) => e.flow === "release")).toBe(true);
    expect((await audit(`?eventId=oth-1`)).map((e) => e.action)).toEqual(["replay", "retry"]);
    expect(await audit(`?until=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)).toEqual([]);
    expect((await audit(`?since=${encodeURIComponent(since())}&limit=500`)).length).toBe(all.length);
    const paged: Entry[] = [];
    let cursor = "";
    for (let page = 0; page < 20; page++) {
      const got = await json(call(T.reader, "GET", `/audit?limit=3${cursor ? `&cursor=${cursor}` : ""}`));
      paged.push(...got.entries);
      if (!got.nextCursor) break;
      cursor = got.nextCursor;
    }
    expect(paged).toEqual(all);
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => b - a));
    const bad = await answer(call(T.reader, "GET", "/audit?action=explode"));
    expect(bad.status).toBe(400);
  });

  test("a read model rebuilt from the stream holds the same audit table", async () => {
    const live = await audit("?limit=500");
    const ctx = await connectContext(config, nats.url, "rebuild");
    try {
      const { path } = await rebuildReadModel(ctx, join(tempDir("codex-flows-rebuild-"), "rebuilt.sqlite"));
      const db = await openReadModel(path);
      const rows = await db.selectFrom("audit").selectAll().orderBy("seq", "desc").execute();
      await db.destroy();
      expect(
        rows.map((r) => ({
          seq: r.seq,
          actor: r.actor,
          action: r.action as string,
          runId: r.run_id,
          eventId: r.event_id,
          flow: r.flow,
          reason: r.reason,
          summary: r.summary,
        })),
      ).toEqual(
        live.map((e) => ({
          seq: e.seq,
          actor: e.actor,
          action: e.action,
          runId: e.runId,
          eventId: e.eventId,
          flow: e.flow,
          reason: e.reason,
          summary: e.summary,
        })),
      );
    } finally {
      await ctx.nc.close();
    }
  }, 30_000);

  test("no file of the read model holds any token's text", () => {
    const files = readdirSync(config.dataDir).filter((f) => f.startsWith("read-model.sqlite"));
    expect(files).toContain("read-model.sqlite");
    for (const file of files) {
      const bytes = readFileSync(join(config.dataDir, file)).toString("latin1");
      for (const [who, token] of Object.entries(T))
        expect({ file, who, found: bytes.includes(token) }).toEqual({ file, who, found: false });
    }
    // The names are there: the scan reads what the audit table holds.
    expect(files.some((f) => readFileSync(join(config.dataDir, f)).toString("latin1").includes("flaky network"))).toBe(
      true,
    );
  });

  test("no message in the stream holds any token's text", async () => {
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const { first_seq, last_seq } = (await jsm.streams.info(config.stream)).state;
      expect(last_seq).toBeGreaterThan(20);
      const found: string[] = [];
      for (let seq = first_seq; seq <= last_seq; seq++) {
        const msg = await jsm.streams.getMessage(config.stream, { seq }).catch(() => null);
        if (!msg) continue;
        const text = `${msg.subject} ${new TextDecoder().decode(msg.data)} ${JSON.stringify([...(msg.header?.keys() ?? [])].map((k) => msg.header!.get(k)))}`;
        for (const [who, token] of Object.entries(T)) if (text.includes(token)) found.push(`${who} at ${seq}`);
      }
      expect(found).toEqual([]);
    } finally {
      await nc.close();
    }
  });
});

describe("flow audit", () => {
  const run = async (token: string, args: string[]) => {
    const proc = Bun.spawn(["bun", join(REPO, "bin/flow.ts"), ...args, "--url", url], {
      env: { ...process.env, CODEX_FLOW_BACKEND_TOKEN: token },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    return { code, out, err };
  };
  const flow = (...args: string[]) => run(T.reader, ["audit", ...args]);

  test("flow retry --reason: the CLI's token name and reason are in the record", async () => {
    expect((await run(T.ops, ["retry", releaseRun, "--reason", "from the cli"])).code).toBe(0);
    const records = await eventually(async () =>
      (await audit(`?runId=${releaseRun}&actor=ops`)).filter((e) => e.reason === "from the cli"),
    );
    expect(records.map((e) => e.action)).toEqual(["retry"]);
  }, 30_000);

  test("--json prints one record a line, filtered; without it a table of who, what, target and why", async () => {
    const lines = await flow("--json", "--actor", "ops", "--action", "pause,retry", "--limit", "1000");
    expect(lines.code).toBe(0);
    const records = lines.out
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(records.map((r) => [r.action, r.reason])).toEqual([
      ["retry", "from the cli"],
      ["pause", "maintenance"],
      ["retry", "flaky network"],
    ]);
    const table = await flow("--action", "purge");
    expect(table.code).toBe(0);
    const rows = table.out.trim().split("\n");
    expect(rows[0]).toMatch(/^WHEN +ACTOR +ACTION +TARGET +REASON$/);
    expect(rows.slice(1).map((r) => r.split(/ {2,}/).slice(1))).toEqual([
      ["operator", "purge", "-", "legacy tidy"],
      ["boss", "purge", "-", "tidy"],
    ]);
    const paged = await flow("--json", "--limit", "2");
    expect(paged.out.trim().split("\n")).toHaveLength(2);
    expect((await flow("--action", "explode")).err).toContain("action=");
  }, 30_000);
});

describe("CODEX_FLOW_BACKEND_TOKENS at startup", () => {
  test("a malformed entry stops `flow serve ingress` with a message naming the entry, never its token", async () => {
    const secret = "should-never-be-printed-0123456789";
    const tokens = JSON.stringify([
      { name: "good", token: T.boss, role: "admin" },
      { name: "typo", token: secret, role: "superuser" },
    ]);
    const proc = Bun.spawn(["bun", join(REPO, "bin/flow.ts"), "serve", "ingress"], {
      env: { ...process.env, CODEX_FLOW_BACKEND_TOKENS: tokens, NATS_URL: nats.url, CODEX_FLOW_BACKEND_PORT: "0" },
      stdout: "pipe",
      stderr: "pipe",
      cwd: tempDir("codex-flows-cwd-"),
    });
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    expect(code).not.toBe(0);
    expect(err).toContain(
      `CODEX_FLOW_BACKEND_TOKENS entry 1 (typo): role: expected one of read, operate, admin, got "superuser"`,
    );
    expect(`${out}${err}`).not.toContain(secret);
    expect(`${out}${err}`).not.toContain(T.boss);
  }, 30_000);
});
