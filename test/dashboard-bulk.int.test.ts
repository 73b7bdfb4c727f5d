/**
 * Bulk cancel (issue 23): POST /bulk/cancel over a selection or a filter, a dry run first,
 * the token roles and scopes, one audit record per run; and the Runs page's bulk cancel in
 * real headless Chromium: the count first, then the cancel. Runs stay queued (their step
 * runs on a host that does not exist), so there is something to cancel.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { useBrowser } from "./support/browser.ts";
import { enterToken, screenshotFolder, startDashboardSystem, withoutChromium } from "./support/dashboard.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { auditRecords, authed, json } from "./support/http.ts";
import { eventually, useNatsServer } from "./support/nats.ts";
import { namedTokens } from "./support/system.ts";

type Json = any;
const nats = useNatsServer();
const browser = useBrowser();
const READER = "reader-token-0123456789abcdef";
const OPS = "ops-token-0123456789abcdef0123";
const SCOPED = "scoped-token-0123456789abcdef";
let url: string;

const call = authed(() => url);
const runsOf = async (query: string): Promise<Json[]> =>
  (await json(call(READER, "GET", `/runs?limit=500&${query}`))).runs;

beforeAll(async () => {
  const nowhere = 'runs_on = "nowhere"';
  const cwd = writeFlows({
    stuck: [{ name: "wait", type: "b.stuck", source: echoStep(), extra: nowhere }],
    picked: [{ name: "wait", type: "b.picked", source: echoStep(), extra: nowhere }],
    ui: [{ name: "wait", type: "b.ui", source: echoStep(), extra: nowhere }],
    done: [{ name: "echo", type: "b.done", source: echoStep() }],
  });
  const named = [
    { name: "viewer", token: READER, role: "read" },
    { name: "oncall", token: OPS, role: "operate" },
    { name: "picked-ci", token: SCOPED, role: "operate", flows: ["picked"] },
  ];
  url = (await startDashboardSystem(nats, cwd, { tokens: namedTokens(named, cwd) })).url;
  for (let i = 0; i < 3; i++)
    await json(call(OPS, "POST", "/events?wait=matched", { id: `b-stuck-${i}`, type: "b.stuck", payload: {} }));
  for (let i = 0; i < 2; i++)
    await json(call(OPS, "POST", "/events?wait=matched", { id: `b-picked-${i}`, type: "b.picked", payload: {} }));
  for (let i = 0; i < 4; i++)
    await json(call(OPS, "POST", "/events?wait=matched", { id: `b-ui-${i}`, type: "b.ui", payload: {} }));
  for (let i = 0; i < 2; i++)
    await json(call(OPS, "POST", "/events?wait=true", { id: `b-done-${i}`, type: "b.done", payload: {} }));
  await eventually(async () => (await runsOf("status=queued")).length === 9, 15_000, "nine queued runs");
});

describe("POST /bulk/cancel", () => {
  test("a dry run (the default) counts and lists, and cancels nothing", async () => {
    const answer = await json(call(OPS, "POST", "/bulk/cancel", { filter: { flow: "stuck" } }));
    expect(answer).toMatchObject({ dryRun: true, matched: 3, remaining: 0, skipped: [] });
    expect(answer.runs.map((r: Json) => r.flowName)).toEqual(["stuck", "stuck", "stuck"]);
    expect((await runsOf("flow=stuck&status=queued")).length).toBe(3);
  });

  test("roles and scopes: a read token may not, a token of other flows may not, and nothing is canceled", async () => {
    expect((await call(READER, "POST", "/bulk/cancel", { filter: { flow: "stuck" }, dryRun: false })).status).toBe(403);
    const scoped = await call(SCOPED, "POST", "/bulk/cancel", { filter: { flow: "stuck" }, dryRun: false });
    expect(scoped.status).toBe(403);
    expect(((await scoped.json()) as Json).error).toContain("picked");
    expect((await runsOf("flow=stuck&status=queued")).length).toBe(3);
    expect((await call(OPS, "POST", "/bulk/cancel", { filter: {} })).status).toBe(400);
    expect((await call(OPS, "POST", "/bulk/cancel", { ids: ["x"], filter: { flow: "stuck" } })).status).toBe(400);
    expect((await call(OPS, "POST", "/bulk/cancel", { filter: { status: "completed" } })).status).toBe(400);
    expect((await call(OPS, "POST", "/bulk/cancel", { filter: { since: "yesterday" } })).status).toBe(400);
    expect((await call(OPS, "POST", "/bulk/cancel", {})).status).toBe(400);
  });

  test("a selection by ids: the live ones canceled, each with an audit record naming the token and reason; unknown ids skipped", async () => {
    const picked = await runsOf("flow=picked");
    const answer = await json(
      call(SCOPED, "POST", "/bulk/cancel", {
        ids: [...picked.map((r) => r.id), "run-nope"],
        dryRun: false,
        reason: "stale picks",
      }),
    );
    expect(answer).toMatchObject({ dryRun: false, matched: 2, skipped: [{ id: "run-nope", why: "no such run" }] });
    expect((await runsOf("flow=picked")).map((r) => r.status)).toEqual(["canceled", "canceled"]);
    const audit = await auditRecords(call, READER, "action=cancel&flow=picked", 2);
    for (const entry of audit)
      expect(entry).toMatchObject({ actor: "picked-ci", action: "cancel", reason: "stale picks", flow: "picked" });
    expect(audit.map((e: Json) => e.runId).sort()).toEqual(picked.map((r) => r.id).sort());
    // Again: they ended, so they are skipped, not canceled twice.
    const again = await json(call(SCOPED, "POST", "/bulk/cancel", { ids: picked.map((r) => r.id), dryRun: false }));
    expect(again).toMatchObject({ matched: 0, runs: [] });
    expect(again.skipped.map((s: Json) => s.why)).toEqual(["already ended (canceled)", "already ended (canceled)"]);
  });

  test("by a filter: every matching run canceled", async () => {
    const answer = await json(
      call(OPS, "POST", "/bulk/cancel", { filter: { flow: "stuck", status: "queued" }, dryRun: false }),
    );
    expect(answer).toMatchObject({ dryRun: false, matched: 3 });
    expect((await runsOf("flow=stuck")).map((r) => r.status)).toEqual(["canceled", "canceled", "canceled"]);
  });
});

describe("POST /bulk/retry", () => {
  test("the ended runs of a filter: a dry run, then a new attempt of each, with an audit record; live runs are not retried", async () => {
    const dry = await json(call(OPS, "POST", "/bulk/retry", { filter: { flow: "done" } }));
    expect(dry).toMatchObject({ dryRun: true, matched: 2 });
    expect((await runsOf("flow=done")).map((r) => r.attemptCount)).toEqual([1, 1]);
    const done = await json(
      call(OPS, "POST", "/bulk/retry", {
        filter: { flow: "done", status: "completed" },
        dryRun: false,
        reason: "try again",
      }),
    );
    expect(done).toMatchObject({ dryRun: false, matched: 2, skipped: [] });
    await eventually(
      async () => (await runsOf("flow=done")).every((r) => r.attemptCount === 2 && r.status === "completed"),
      15_000,
      "second attempts completed",
    );
    const audit = await auditRecords(call, READER, "action=retry&flow=done", 2);
    for (const entry of audit) expect(entry).toMatchObject({ actor: "oncall", reason: "try again" });
    // Runs still queued are not retried.
    const queued = await runsOf("flow=ui&status=queued");
    const again = await json(call(OPS, "POST", "/bulk/retry", { ids: queued.map((r) => r.id), dryRun: false }));
    expect(again.runs).toEqual([]);
    expect(again.skipped.map((s: Json) => s.why)).toEqual(queued.map(() => "still queued"));
    expect((await call(READER, "POST", "/bulk/retry", { filter: { flow: "done" } })).status).toBe(403);
    expect((await call(OPS, "POST", "/bulk/retry", { filter: { status: "queued" } })).status).toBe(400);
  });
});

describe.skipIf(withoutChromium)("the Runs page's bulk cancel and retry", () => {
  test("the count first, then the cancel of the filter's runs; retry likewise", async () => {
    const { page, errors } = await browser.open({ width: 390, height: 844 });
    await page.goto(`${url}/ui/runs?flow=ui`);
    await enterToken(page, OPS);
    await page.waitForSelector("main table");
    await page.getByRole("button", { name: "Cancel runs matching these filters…" }).click();
    const dry = page.locator(".bulk .dry-run");
    await dry.waitFor();
    expect(await dry.innerText()).toStartWith("4 runs would be canceled");
    // Nothing is canceled before the confirmation.
    expect((await runsOf("flow=ui&status=queued")).length).toBe(4);
    await page.screenshot({ path: join(screenshotFolder(), "bulk-cancel-dry-run.png"), fullPage: true });
    // The confirmation has the focus: Enter cancels.
    await page.keyboard.press("Enter");
    await page.waitForSelector(".bulk .answer.ok");
    expect(await page.locator(".bulk .answer.ok").innerText()).toBe("Canceled 4 runs.");
    expect((await runsOf("flow=ui")).map((r) => r.status)).toEqual(["canceled", "canceled", "canceled", "canceled"]);
    await page.waitForSelector('tr[data-status="canceled"]');
    // A selection: one run picked by its checkbox, retried alone.
    await page.goto(`${url}/ui/runs?flow=done`);
    await page.waitForSelector("main table");
    const [first] = await runsOf("flow=done");
    await page.getByRole("checkbox", { name: `pick done / echo ${first.id}` }).check();
    await page.getByRole("button", { name: "Retry picked runs…" }).click();
    await page.locator(".bulk .dry-run").waitFor();
    expect(await page.locator(".bulk .dry-run").innerText()).toStartWith("1 run would be retried");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".bulk .answer.ok");
    expect(await page.locator(".bulk .answer.ok").innerText()).toBe("Retried 1 run.");
    await eventually(
      async () =>
        (await runsOf("flow=done"))
          .map((r) => r.attemptCount)
          .sort()
          .join() === "2,3",
      15_000,
      "the picked run's third attempt",
    );
    await eventually(
      async () => (await runsOf("flow=done")).every((r) => r.status === "completed"),
      15_000,
      "both completed",
    );
    // Retry by filter the same way: the count, then the new attempts.
    await page.goto(`${url}/ui/runs?flow=done`);
    await page.waitForSelector("main table");
    await page.getByRole("button", { name: "Retry runs matching these filters…" }).click();
    await page.locator(".bulk .dry-run").waitFor();
    expect(await page.locator(".bulk .dry-run").innerText()).toStartWith("2 runs would be retried");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".bulk .answer.ok");
    expect(await page.locator(".bulk .answer.ok").innerText()).toBe("Retried 2 runs.");
    await eventually(
      async () =>
        (await runsOf("flow=done"))
          .map((r) => r.attemptCount)
          .sort()
          .join() === "3,4",
      15_000,
      "one more attempt each",
    );
    await page.close();
    expect(errors.filter((e) => !/401/.test(e))).toEqual([]);
  });
});
