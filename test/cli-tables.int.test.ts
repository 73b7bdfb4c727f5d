// Issue 23, item 2: the CLI's tables and JSON Lines, filters, one-line writes, exit codes
// and `flow logs --attempt`, against a real system (nats-server, the four services).
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../lib/nats/nats-server.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { readRepoFile } from "./support/docs.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { REPO, useProcesses } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const cli = useProcesses();

const DONE = 'console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n';
// Fails on every attempt, saying which on stdout; with `retries = 1` a run has two attempts.
const FLAKY =
  'console.log("try " + process.env.CODEX_FLOW_ATTEMPT);\nconsole.error("broke on try " + process.env.CODEX_FLOW_ATTEMPT);\nprocess.exit(1);\n';
// A verdict whose message runs over three lines.
const WORDY =
  'console.log("FLOW_RESULT " + JSON.stringify({ status: "blocked", message: "first line\\nsecond line\\nthird line" }));\n';
const SLOW = "await Bun.sleep(60_000);\n";

const cwd = writeFlows({
  shop: [
    { name: "pack", type: "order.placed", source: DONE },
    { name: "flaky", type: "order.placed", source: FLAKY, extra: "retries = 1\nretry_backoff_ms = 50" },
    { name: "wordy", type: "order.noted", source: WORDY },
    { name: "slow", type: "order.slow", source: SLOW },
  ],
});
let system: RunningSystem;
let url: string;
let env: Record<string, string>;
/** Runs of event order-1: pack (completed) and flaky (failed twice). */
let pack: string;
let flaky: string;

const post = async (event: object, wait = "true") =>
  await json(
    fetch(`${url}/events?wait=${wait}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(event),
    }),
  );
const lines = (text: string) => text.split("\n").filter((line) => line !== "");
const records = (text: string) => lines(text).map((line) => JSON.parse(line));
/** The fields docs/cli.md lists for a command's --json lines. */
const documentedFields = (command: string) =>
  [
    ...readRepoFile("docs/cli.md")
      .split("\n")
      .find((line) => line.startsWith(`| \`${command}\` |`))!
      .split("|")[3]!
      .matchAll(/`(\w+)`/g),
  ].map((m) => m[1]!);

beforeAll(async () => {
  system = await startSystem(testConfig({ cwd, hostId: "host-a" }), nats.url, [
    "ingress",
    "matcher",
    "executor",
    "projector",
  ]);
  nats.cleanup(() => system.stop());
  url = system.ingressUrl!;
  env = { CODEX_FLOW_URL: url, CODEX_FLOW_BACKEND_CWD: cwd };
  await post({ id: "order-1", type: "order.placed", source: "shop", payload: { n: 1 } });
  const runs = await eventually(
    async () => {
      const { runs } = await json(fetch(`${url}/runs?eventId=order-1`));
      return runs.length === 2 &&
        runs.every((r: { status: string; attempt: number }) =>
          r.status === "failed" ? r.attempt === 2 : r.status === "completed",
        )
        ? runs
        : undefined;
    },
    20_000,
    "pack to complete and flaky to fail twice",
  );
  pack = runs.find((r: { stepName: string }) => r.stepName === "pack").id;
  flaky = runs.find((r: { stepName: string }) => r.stepName === "flaky").id;
  await post({ id: "note-1", type: "order.noted", source: "desk" });
});

describe("flow runs: a table, or JSON Lines", () => {
  test("the table has a header, one aligned line per run, and a multi-line error on one line", async () => {
    const { code, stdout } = await cli.run(["runs", "--format", "table"], { env });
    expect(code).toBe(0);
    const [header, ...rows] = lines(stdout);
    expect(header).toMatch(/^RUN +FLOW\/STEP +STATUS +ATTEMPT +HOST +EVENT +AGE +DURATION +MESSAGE$/);
    expect(rows).toHaveLength(3);
    // Aligned: every row's STATUS and HOST cells start where their header does.
    for (const column of ["STATUS", "HOST", "EVENT"]) {
      const at = header!.indexOf(column);
      for (const row of rows)
        expect({ column, before: row[at - 1], here: row[at] }).toEqual({
          column,
          before: " ",
          here: expect.stringMatching(/\S/),
        });
    }
    expect(rows.find((r) => r.startsWith(flaky))).toMatch(
      new RegExp(
        `^${flaky} +shop/flaky +failed +2 +host-a +order-1 +\\d+s +\\d+(ms|\\.\\ds) +exited with code 1: broke on try 2$`,
      ),
    );
    const wordy = rows.find((r) => r.includes("shop/wordy"))!;
    expect(wordy).toMatch(/ blocked +1 +host-a +note-1 /);
    expect(wordy).toContain("first line ↵ second line ↵ third line");
  });

  test("--json prints one run a line with exactly the fields docs/cli.md lists, the values the API's", async () => {
    const { code, stdout } = await cli.run(["runs", "--event", "order-1", "--json"], { env });
    expect(code).toBe(0);
    const runs = records(stdout);
    expect(runs.map((r) => r.id)).toEqual(
      (await json(fetch(`${url}/runs?eventId=order-1`))).runs.map((r: { id: string }) => r.id),
    );
    for (const run of runs) expect(Object.keys(run)).toEqual(documentedFields("flow runs"));
    expect(runs.find((r) => r.id === flaky)).toMatchObject({
      flowName: "shop",
      stepName: "flaky",
      status: "failed",
      effectiveStatus: "failed",
      attempt: 2,
      host: "host-a",
      exitCode: 1,
      needsAttention: true,
    });
  });

  test("--flow, --step, --status, --host, --since, --limit and --event select as GET /runs does", async () => {
    const ids = async (...args: string[]) => {
      const { code, stdout, stderr } = await cli.run(["runs", "--json", ...args], { env });
      expect({ args, code, stderr }).toEqual({ args, code: 0, stderr: expect.any(String) });
      return records(stdout)
        .map((r) => r.id)
        .sort();
    };
    expect(await ids("--flow", "shop", "--step", "flaky")).toEqual([flaky]);
    expect(await ids("--status", "failed")).toEqual([flaky]);
    expect(await ids("--status", "completed,blocked", "--event", "order-1")).toEqual([pack]);
    expect(await ids("--host", "host-b")).toEqual([]);
    expect((await ids("--host", "host-a", "--since", "10m")).length).toBe(3);
    expect(await ids("--since", new Date(Date.now() + 60_000).toISOString())).toEqual([]);
    expect(await ids("--limit", "1")).toHaveLength(1);
    const none = await cli.run(["runs", "--flow", "nope"], { env });
    expect(none).toMatchObject({ code: 0, stdout: "" });
    expect(none.stderr).toContain("no runs match");
  });

  test("flow events: a table with a header; --type, --source, --limit; --json with the documented fields", async () => {
    const table = await cli.run(["events", "--source", "shop"], { env });
    expect(table.code).toBe(0);
    const [header, ...rows] = lines(table.stdout);
    expect(header).toMatch(/^EVENT +TYPE +SOURCE +AGE +GEN +DEPTH +RUNS +PARENT$/);
    expect(rows).toEqual([expect.stringMatching(/^order-1 +order\.placed +shop +\d+s +0 +0 +2 +-$/)]);
    const events = records((await cli.run(["events", "--type", "order.noted", "--json"], { env })).stdout);
    expect(events.map((e) => e.id)).toEqual(["note-1"]);
    expect(Object.keys(events[0])).toEqual(documentedFields("flow events"));
    expect(records((await cli.run(["events", "--limit", "1", "--json"], { env })).stdout)).toHaveLength(1);
  });

  test("on a terminal, a row is cut to the terminal's width with …, never broken; the message gives way first", async () => {
    const out = await inTerminal(["runs", "--event", "order-1"], { COLUMNS: "110" });
    const shown = lines(out);
    expect(shown).toHaveLength(3);
    for (const line of shown) expect(line.length).toBeLessThanOrEqual(110);
    expect(shown.find((line) => line.startsWith(flaky))).toMatch(/ exited with .*…$/);
    expect(shown.find((line) => line.startsWith(pack))).toMatch(/ shop\/pack +completed +1 +host-a /);
  });
});

/** Runs `flow ARGS` in a pseudo-terminal (util-linux `script`); what the terminal received, CRs dropped. */
async function inTerminal(args: string[], extra: Record<string, string> = {}): Promise<string> {
  const command = [process.execPath, "run", `${REPO}/bin/flow.ts`, ...args, "--url", url]
    .map((arg) => `'${arg}'`)
    .join(" ");
  const child = Bun.spawn(["script", "-qec", command, "/dev/null"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TERM: "xterm", ...extra },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return out.replaceAll("\r\n", "\n");
}

describe("writes print one line, or with --json their record", () => {
  test("cancel: `run-… canceled (attempt 1)`; retry: one line; --json: the run on one line", async () => {
    const { runIds } = await post({ id: "slow-1", type: "order.slow" }, "matched");
    await eventually(
      async () => (await json(fetch(`${url}/runs/${runIds[0]}`))).run.status === "running",
      15_000,
      "the slow step to start",
    );
    const canceled = await cli.run(["cancel", runIds[0]], { env });
    expect(canceled).toMatchObject({ code: 0, stdout: `${runIds[0]} canceled (attempt 1)` });
    const retried = await cli.run(["retry", runIds[0], "--json"], { env });
    expect(retried.code).toBe(0);
    expect(lines(retried.stdout)).toHaveLength(1);
    expect(JSON.parse(retried.stdout)).toMatchObject({ id: runIds[0] });
    await eventually(
      async () => (await json(fetch(`${url}/runs/${runIds[0]}`))).run.status === "running",
      15_000,
      "attempt 2 to start",
    );
    const again = await cli.run(["cancel", runIds[0]], { env });
    expect(again).toMatchObject({ code: 0, stdout: `${runIds[0]} canceled (attempt 2)` });
    const twice = await cli.run(["cancel", runIds[0]], { env });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("error 409");
    const third = await cli.run(["retry", runIds[0]], { env });
    expect(third.stdout).toMatch(new RegExp(`^${runIds[0]} retried: attempt 3 (queued|running)$`));
    await eventually(
      async () => (await json(fetch(`${url}/runs/${runIds[0]}`))).run.status === "running",
      15_000,
      "attempt 3 to start",
    );
    expect((await cli.run(["cancel", runIds[0], "--json"], { env })).stdout).toMatch(
      /^\{"id":"run-\w+",.*"status":"canceled"/,
    );
  }, 60_000);

  test("publish, replay, pause and resume: one line each; --json: one JSON line", async () => {
    const file = join(tempDir("codex-flows-event-"), "event.json");
    writeFileSync(file, JSON.stringify({ id: "note-2", type: "order.noted" }));
    const published = await cli.run(["publish", "--event", file, "--wait", "true"], { env });
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(/^event note-2 accepted at sequence \d+: run-\S+ blocked$/);
    const replayed = await cli.run(["replay", "note-2", "--json"], { env });
    expect(lines(replayed.stdout)).toHaveLength(1);
    expect(JSON.parse(replayed.stdout)).toMatchObject({ eventId: "note-2", generation: 1 });
    const line = await cli.run(["replay", "note-2"], { env });
    expect(line.stdout).toMatch(/^event note-2 replayed as generation 2 at sequence \d+: 1 run run-\S+$/);
    const paused = await cli.run(["pause", "shop", "--step", "wordy", "--json"], { env });
    expect(JSON.parse(paused.stdout)).toMatchObject({ flow: "shop", step: "wordy", paused: true });
    const resumed = await cli.run(["resume", "shop", "--step", "wordy"], { env });
    expect(resumed.stdout).toBe("step shop/wordy resumed: runs held meanwhile are queued in order");
  }, 30_000);
});

describe("exit codes", () => {
  test("flow fire with no matching step exits 3 (and --json gives each step's reasons)", async () => {
    const file = join(tempDir("codex-flows-event-"), "event.json");
    writeFileSync(file, JSON.stringify({ id: "x-1", type: "nobody.listens" }));
    const fired = await cli.run(["fire", "--event", file], { env });
    expect(fired.code).toBe(3);
    expect(fired.stdout).toContain("no step matched event x-1 (nobody.listens)");
    const asJson = await cli.run(["fire", "--event", file, "--json"], { env });
    expect(asJson.code).toBe(3);
    expect(records(asJson.stdout).map((r) => [`${r.flow}/${r.step}`, r.matched])).toContainEqual(["shop/pack", false]);
  });

  test("flow run exits 3 when the step's trigger does not take the event, as the matcher decides (type, then schema); --force runs it", async () => {
    const file = join(tempDir("codex-flows-event-"), "event.json");
    writeFileSync(file, JSON.stringify({ id: "note-9", type: "order.noted" }));
    const refused = await cli.run(["run", "shop", "pack", "--event", file], { env });
    expect(refused).toMatchObject({
      code: 3,
      stdout:
        'not run: event note-9 (order.noted) does not match shop/pack: type differs: step wants "order.placed", event is "order.noted" (--force runs it anyway)',
    });
    const asJson = await cli.run(["run", "shop", "pack", "--event", file, "--json"], { env });
    expect(asJson.code).toBe(3);
    expect(records(asJson.stdout)).toEqual([
      {
        flow: "shop",
        step: "pack",
        eventId: "note-9",
        matched: false,
        reasons: ['type differs: step wants "order.placed", event is "order.noted"'],
      },
    ]);
    const forced = await cli.run(["run", "shop", "pack", "--event", file, "--force", "--json"], { env });
    expect(forced.code).toBe(0);
    expect(records(forced.stdout)).toEqual([
      expect.objectContaining({ flow: "shop", step: "pack", eventId: "note-9", matched: false, status: "completed" }),
    ]);
    expect(forced.stderr).toContain("running it anyway (--force)");
  });

  test("flow fire --json: each step's outcome as a JSON line; the step's output on stderr", async () => {
    const file = join(tempDir("codex-flows-event-"), "event.json");
    writeFileSync(file, JSON.stringify({ id: "note-3", type: "order.noted" }));
    const { code, stdout, stderr } = await cli.run(["fire", "--event", file, "--json"], { env });
    expect(code).toBe(0);
    expect(records(stdout)).toEqual([
      expect.objectContaining({
        flow: "shop",
        step: "wordy",
        eventId: "note-3",
        matched: true,
        status: "completed",
        result: expect.objectContaining({ status: "blocked" }),
      }),
    ]);
    expect(stderr).toContain("FLOW_RESULT");
  });

  test("flow run checks the result's next as the system would: the events it would start and what they match; one it would not start is a warning and exit 1", async () => {
    const chainCwd = writeFlows({
      chain: [
        {
          name: "start",
          type: "chain.begin",
          source:
            'console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", next: [{ type: "chain.more", payload: { n: 1 } }, { type: "not a type" }] }));\n',
        },
        { name: "more", type: "chain.more", source: DONE },
      ],
    });
    writeFileSync(join(chainCwd, "event.json"), JSON.stringify({ id: "c-1", type: "chain.begin" }));
    const ran = await cli.run(["run", "chain", "start", "--event", "event.json"], { cwd: chainCwd });
    expect(ran.code).toBe(1);
    expect(ran.stdout).toMatch(
      /^chain\/start: completed result=completed in \d+ ms\n {2}next: event run-\w+\/next\/0 \(chain\.more\) would start chain\/more$/m,
    );
    expect(ran.stderr).toMatch(/^warning: next\[1\] not started: .*type/m);
    const asJson = records((await cli.run(["fire", "--event", "event.json", "--json"], { cwd: chainCwd })).stdout);
    expect(asJson).toEqual([
      expect.objectContaining({
        step: "start",
        next: [{ id: expect.stringMatching(/\/next\/0$/), type: "chain.more", matches: ["chain/more"] }],
        nextProblems: [expect.stringContaining("next[1] not started")],
      }),
    ]);
  });

  test("an ingress that does not answer is a failure (1) naming --url, not a usage mistake", async () => {
    const { code, stderr } = await cli.run(["runs", "--url", `http://127.0.0.1:${await freePort()}`]);
    expect(code).toBe(1);
    expect(stderr).toContain("cannot reach the ingress at http://127.0.0.1:");
    expect(stderr).toContain("set --url or CODEX_FLOW_URL");
    expect(stderr).not.toContain("--help");
  });

  test("usage mistakes exit 2: a bad flag, --json where there is no JSON form, a bad --format, --status or --limit", async () => {
    for (const args of [
      ["runs", "--bogus"],
      ["logs", flaky, "--json"],
      ["projector", "rebuild", "--json"],
      ["runs", "--format", "yaml"],
      ["runs", "--status", "done"],
      ["runs", "--limit", "0"],
      ["runs", "--since", "yesterday"],
      ["events", "--flow", "shop"],
      ["runs", "--type", "order.placed"],
      ["logs", flaky, "--attempt", "x"],
    ]) {
      const { code, stderr } = await cli.run(args, { env });
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(stderr).toContain("--help");
    }
    expect((await cli.run(["runs", "--status", "done"], { env })).stderr).toContain(
      '--status done: "done" is not a status',
    );
    expect((await cli.run(["logs", flaky, "--json"], { env })).stderr).toContain("flow logs has no JSON form");
    expect((await cli.run(["events", "--flow", "shop"], { env })).stderr).toContain(
      "flow events has no --flow filter (it takes --type, --source, --since, --until, --limit)",
    );
  });
});

describe("flow logs RUN --attempt N", () => {
  test("every attempt's output follows a header line naming its host and how it ended", async () => {
    const { code, stdout, stderr } = await cli.run(["logs", flaky], { env });
    expect(code).toBe(0);
    expect(lines(stdout)).toEqual(["try 1", "try 2"]);
    expect(lines(stderr)).toEqual([
      "── attempt 1 on host-a (failed, exit 1) ──",
      "broke on try 1",
      "── attempt 2 on host-a (failed, exit 1) ──",
      "broke on try 2",
    ]);
  });

  test("--attempt 2 prints only the second attempt's output; --attempt 3 is an error naming the attempts", async () => {
    const second = await cli.run(["logs", flaky, "--attempt", "2"], { env });
    expect(second.code).toBe(0);
    expect(lines(second.stdout)).toEqual(["try 2"]);
    expect(lines(second.stderr)).toEqual(["── attempt 2 on host-a (failed, exit 1) ──", "broke on try 2"]);
    const third = await cli.run(["logs", flaky, "--attempt", "3"], { env });
    expect(third.code).toBe(1);
    expect(third.stderr).toContain(`run ${flaky} has no attempt 3 (its attempts: 1, 2)`);
  });
});
