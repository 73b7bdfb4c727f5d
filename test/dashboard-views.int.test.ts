/**
 * The dashboard's views added for issue 23 in real headless Chromium against a running
 * system: the runs list's Started column for runs that never started, the event page's
 * near misses by generation, a release run's expected exits, folded long lines and
 * FLOW_RESULT, and the Overview page (its numbers against the runs API); the Schedules
 * page is in dashboard-schedules.int.test.ts. Screenshots go to CODEX_FLOWS_UI_SHOTS
 * (or a temporary folder).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import {
  type DashboardSystem,
  screenshotFolder,
  startDashboardSystem,
  useDashboardBrowser,
  withoutChromium,
} from "./support/dashboard.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { eventually, useNatsServer } from "./support/nats.ts";

declare const document: any;
declare const getComputedStyle: any;

const nats = useNatsServer();
const skip = withoutChromium;
const { visit, screenshot, done } = useDashboardBrowser(screenshotFolder());

const RELEASE_RESULT = {
  status: "changed",
  message: "@peezy.tech/codex-flows 0.169.0 regenerated for openai/codex rust-v0.169.0 and committed; not pushed",
  artifacts: {
    tag: "rust-v0.169.0",
    commands: [
      {
        label: "ask npm whether this version is published",
        argv: ["npm", "view", "@peezy.tech/codex-flows@0.169.0", "version", "--json"],
        cwd: "/srv/bindings",
        exitCode: 1,
        durationMs: 900,
        stdout: "",
        stderr: "npm error code E404\nnpm error 404 No match found for version 0.169.0",
        expected: "E404: this version is not published yet",
      },
      {
        label: "check the worktree is clean",
        argv: ["git", "status", "--porcelain"],
        cwd: "/srv/bindings",
        exitCode: 0,
        durationMs: 20,
        stdout: "",
        stderr: "",
      },
      {
        label: "check 1 of 1",
        argv: ["bun", "run", "lint"],
        cwd: "/srv/bindings",
        exitCode: 3,
        durationMs: 1200,
        stdout: "",
        stderr: "lint failed",
      },
    ],
  },
};
const LONG_LINE = `generated ${"src/app-server/generated/v2/ThreadItem.ts ".repeat(60)}`;

type Json = any;
type System = DashboardSystem;

/** Every run GET /runs lists for a query, across its pages. */
async function allRuns(sys: System, query: string): Promise<Json[]> {
  const runs: Json[] = [];
  let cursor = "";
  for (let page = 0; page < 20; page++) {
    const answer = await sys.get(`/runs?limit=500&${query}${cursor ? `&cursor=${cursor}` : ""}`);
    runs.push(...answer.runs);
    if (!answer.nextCursor) return runs;
    cursor = answer.nextCursor;
  }
  throw new Error("more than 20 pages of runs");
}

describe.skipIf(skip)("runs, events, release runs and the overview", () => {
  let sys: System;
  beforeAll(async () => {
    const cwd = writeFlows({
      quick: [{ name: "echo", type: "v.quick", source: echoStep() }],
      failing: [{ name: "exit", type: "v.fail", source: "process.exit(1);" }],
      never: [{ name: "wait", type: "v.never", source: echoStep(), extra: 'runs_on = "nowhere"' }],
      strict: [
        {
          name: "check",
          type: "v.strict",
          source: echoStep(),
          schema: { type: "object", required: ["repo"], properties: { repo: { type: "string" } } },
        },
      ],
      lenient: [{ name: "take", type: "v.strict", source: echoStep() }],
      release: [
        {
          name: "regenerate",
          type: "v.release",
          source: `console.log(${JSON.stringify(LONG_LINE)});\nconsole.log("short line after");\nconsole.log("FLOW_RESULT " + ${JSON.stringify(JSON.stringify(RELEASE_RESULT))});`,
        },
      ],
    });
    sys = await startDashboardSystem(nats, cwd);
    await sys.post({ id: "v-never-1", type: "v.never", payload: {} });
    for (let i = 0; i < 3; i++) await sys.post({ id: `v-quick-${i}`, type: "v.quick", payload: { i } }, "true");
    await sys.post({ id: "v-fail-1", type: "v.fail", payload: {} }, "true");
    await sys.post({ id: "v-release-1", type: "v.release", payload: {} }, "true");
  });

  test("runs list: Started is when a run started; one that never started says so, with when it was queued", async () => {
    const [never] = await allRuns(sys, "eventId=v-never-1");
    const [quick] = await allRuns(sys, "eventId=v-quick-0");
    expect(never).toMatchObject({ status: "queued", startedAt: null });
    expect(quick.startedAt).not.toBeNull();
    const watched = await visit(sys.url, "/ui/runs");
    const { page } = watched;
    await page.waitForSelector(`tr[data-run="${never.id}"]`);
    // Started is the 7th column.
    const started = (id: string) => page.locator(`tr[data-run="${id}"] td`).nth(6);
    expect((await started(never.id).innerText()).replace(/\s+/g, " ")).toMatch(/^not started queued /);
    expect(await started(never.id).locator("time").getAttribute("datetime")).toBe(never.createdAt);
    expect(await started(quick.id).locator("time").getAttribute("datetime")).toBe(quick.startedAt);
    expect(await started(quick.id).innerText()).not.toContain("not started");
    await screenshot(page, "runs-not-started");
    await done(watched);
  });

  test("event page: each generation's decisions, newest first, near misses first and the rest folded with their count", async () => {
    await sys.post({ id: "v-strict-bad", type: "v.strict", payload: { repo: 42 } }, "true");
    const replay = await fetch(`${sys.url}/events/v-strict-bad/replay`, { method: "POST" });
    expect(replay.status).toBe(202);
    const api = await eventually(async () => {
      const answer = await sys.get("/events/v-strict-bad");
      return answer.event.decisions.some((d: Json) => d.generation === 1) && answer.runs.length === 2
        ? answer
        : undefined;
    });
    const latest = api.event.decisions.filter((d: Json) => d.generation === 1);
    expect(latest.filter((d: Json) => d.nearMiss).map((d: Json) => `${d.flowName}/${d.stepName}`)).toEqual([
      "strict/check",
    ]);
    expect(latest.filter((d: Json) => d.matched).map((d: Json) => `${d.flowName}/${d.stepName}`)).toEqual([
      "lenient/take",
    ]);
    const others = latest.filter((d: Json) => !d.matched && !d.nearMiss).length;
    expect(others).toBe(4);

    const watched = await visit(sys.url, "/ui/events/v-strict-bad");
    const { page } = watched;
    await page.waitForSelector("section.generation");
    expect(
      await page.locator("section.generation").evaluateAll((s) => s.map((el) => el.getAttribute("data-generation"))),
    ).toEqual(["1", "0"]);
    expect(await page.locator('section.generation[data-generation="1"] h3').innerText()).toContain("latest");
    const newest = page.locator('section.generation[data-generation="1"]');
    const shown = newest.locator("> .table-wrap tbody tr");
    expect(await shown.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-step")))).toEqual([
      "strict/check",
      "lenient/take",
    ]);
    expect(await shown.first().locator(".near-miss-mark").innerText()).toMatch(/near miss/i);
    expect(await shown.first().innerText()).toContain("schema: /repo must be string");
    const folded = newest.locator("details.other-decisions");
    expect(await folded.locator("summary").innerText()).toBe(`${others} other steps (another type, or not loaded)`);
    expect(await folded.locator("tbody tr").first().isVisible()).toBe(false);
    await folded.locator("summary").focus();
    await page.keyboard.press("Enter");
    expect(await folded.locator("tbody tr").count()).toBe(others);
    expect(await folded.locator("tbody tr").first().isVisible()).toBe(true);
    expect(await folded.locator("tbody tr").first().innerText()).toContain("type differs");
    // A live update (another replay, drawn without a reload) leaves what the reader unfolded open.
    expect((await fetch(`${sys.url}/events/v-strict-bad/replay`, { method: "POST" })).status).toBe(202);
    await page.waitForSelector('section.generation[data-generation="2"]', { timeout: 15_000 });
    expect(
      await page.locator('section.generation[data-generation="1"] details.other-decisions').getAttribute("open"),
    ).toBe("");
    expect(
      await page.locator('section.generation[data-generation="2"] details.other-decisions').getAttribute("open"),
    ).toBeNull();
    await folded.locator("summary").click();
    await screenshot(page, "event-near-misses");
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await done(watched);
  });

  test("release run: an expected exit is not red, a long output line is folded until shown, the FLOW_RESULT is the result, not output", async () => {
    const [run] = await allRuns(sys, "eventId=v-release-1");
    expect(run.status).toBe("completed");
    const watched = await visit(sys.url, `/ui/runs/${run.id}`);
    const { page } = watched;
    const commands = page.locator("ol.commands > li");
    await commands.first().waitFor();
    expect(await commands.count()).toBe(3);
    expect(await commands.nth(0).getAttribute("class")).toContain("expected");
    expect(await commands.nth(0).locator(".exit").innerText()).toBe("exit 1");
    expect(await commands.nth(0).locator(".expected-mark").innerText()).toBe(
      "expected: E404: this version is not published yet",
    );
    expect(await commands.nth(2).getAttribute("class")).toContain("failed");
    const colour = (i: number) =>
      commands
        .nth(i)
        .locator(".exit")
        .evaluate((el) => getComputedStyle(el).backgroundColor as string);
    expect(await colour(0)).not.toBe(await colour(2));

    const pane = page.locator(".live-output");
    await page.waitForFunction(
      () => document.querySelector(".live-output")?.textContent.includes("short line after"),
      undefined,
      { timeout: 15_000 },
    );
    await page.waitForSelector(".live-output .flow-result-line");
    const long = pane.locator(".line.long");
    expect(await long.count()).toBe(1);
    const size = () =>
      long.evaluate((el) => ({
        shown: el.clientHeight as number,
        whole: el.scrollHeight as number,
        folded: el.classList.contains("folded") as boolean,
      }));
    const before = await size();
    expect(before.folded).toBe(true);
    expect(before.shown).toBeLessThan(before.whole);
    const toggle = pane.locator("button.show-all");
    expect(await toggle.innerText()).toBe(`show all (${LONG_LINE.trimEnd().length} characters)`);
    await screenshot(page, "run-release-folded");
    await toggle.focus();
    await page.keyboard.press("Enter");
    const after = await size();
    expect(after).toMatchObject({ folded: false, shown: after.whole });
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");

    const output = (await pane.textContent()) as string;
    expect(output).not.toContain("FLOW_RESULT {");
    expect(output).toContain("shown as the result above");
    expect(output).toContain("short line after");
    const result = page.locator("#result");
    expect(await result.locator("h2 .badge").innerText()).toMatch(/changed/i);
    expect(await result.locator("p.message").innerText()).toBe(RELEASE_RESULT.message);
    const api = await sys.get(`/runs/${run.id}`);
    expect(await result.locator("details.result-json pre").textContent()).toBe(JSON.stringify(api.run.result, null, 2));
    await screenshot(page, "run-release");
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await done(watched);
  });

  test("GET /overview: its numbers are the runs API's over the same window", async () => {
    const overview = await sys.get("/overview?window=hour");
    expect(overview).toMatchObject({ window: "hour", bucketMs: 300_000 });
    expect(overview.buckets).toHaveLength(12);
    const window = `since=${encodeURIComponent(overview.since)}&until=${encodeURIComponent(overview.until)}`;
    const all = await allRuns(sys, window);
    expect(Object.values(overview.totals).reduce((a: number, b) => a + (b as number), 0)).toBe(all.length);
    for (const [status, n] of Object.entries(overview.totals))
      expect({ status, n }).toEqual({ status, n: (await allRuns(sys, `${window}&effectiveStatus=${status}`)).length });
    const summed: Record<string, number> = {};
    for (const b of overview.buckets)
      for (const [s, n] of Object.entries(b.counts)) summed[s] = (summed[s] ?? 0) + (n as number);
    expect(summed).toEqual(overview.totals);

    expect(overview.flows.map((f: Json) => f.flow)).toEqual(
      ["failing", "lenient", "never", "quick", "release", "strict"].filter((f) => all.some((r) => r.flowName === f)),
    );
    for (const flow of overview.flows) {
      const runs = all.filter((r) => r.flowName === flow.flow);
      const finished = runs.filter((r) => ["completed", "failed", "timed_out"].includes(r.status));
      const failed = finished.filter((r) => ["failed", "timed_out"].includes(r.effectiveStatus));
      const durations = runs
        .map((r) => r.durationMs)
        .filter((d): d is number => d !== null)
        .sort((a, b) => a - b);
      const rank = (p: number) => (durations.length ? durations[Math.ceil((p / 100) * durations.length) - 1] : null);
      expect(flow).toEqual({
        flow: flow.flow,
        runs: runs.length,
        finished: finished.length,
        failed: failed.length,
        failureRate: finished.length ? failed.length / finished.length : null,
        p50Ms: rank(50),
        p95Ms: rank(95),
      });
    }
    expect(overview.flows.find((f: Json) => f.flow === "failing")).toMatchObject({ failed: 1, failureRate: 1 });
    const queued = await allRuns(sys, "status=queued");
    expect(overview.queues).toEqual([
      { queue: "nowhere", queued: queued.length, held: 0, oldestQueuedAt: queued.at(-1).createdAt },
    ]);
    // A day reads the hourly rollup and the hour under way: the same counts as the runs API
    // over its window; its percentiles are the duration bucket's highest value, at most 4.5%
    // over the exact nearest rank and never under it (docs/dashboard.md, Overview).
    const day = await sys.get("/overview?window=day");
    expect(day.buckets).toHaveLength(24);
    expect(new Date(day.since).getTime() % 3_600_000).toBe(0);
    const dayWindow = `since=${encodeURIComponent(day.since)}&until=${encodeURIComponent(day.until)}`;
    const dayRuns = await allRuns(sys, dayWindow);
    expect(Object.values(day.totals).reduce((a: number, b) => a + (b as number), 0)).toBe(dayRuns.length);
    for (const [status, n] of Object.entries(day.totals))
      expect({ status, n }).toEqual({ status, n: dayRuns.filter((r) => r.effectiveStatus === status).length });
    for (const flow of day.flows) {
      const runs = dayRuns.filter((r) => r.flowName === flow.flow);
      expect(flow.runs).toBe(runs.length);
      const durations = runs
        .map((r) => r.durationMs)
        .filter((d): d is number => d !== null)
        .sort((a, b) => a - b);
      for (const [p, got] of [
        [50, flow.p50Ms],
        [95, flow.p95Ms],
      ] as const) {
        const exact = durations.length ? durations[Math.ceil((p / 100) * durations.length) - 1]! : null;
        if (exact === null) expect(got).toBeNull();
        else {
          expect(got).toBeGreaterThanOrEqual(exact);
          expect(got).toBeLessThanOrEqual(exact < 64 ? exact : exact * 1.045);
        }
      }
    }
    const bad = await fetch(`${sys.url}/overview?window=year`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error).toContain("expected hour, day or week");
  });

  test("overview page: the same numbers, a chart per bucket, and no sideways scroll at 390 px", async () => {
    const watched = await visit(sys.url, "/ui/overview?window=hour");
    const { page } = watched;
    await page.waitForSelector("body[data-ready=overview]");
    const api = await sys.get("/overview?window=hour");
    for (const [status, n] of Object.entries(api.totals))
      expect(await page.locator(`.totals li[data-status="${status}"] .count`).innerText()).toBe(String(n));
    expect(await page.locator("svg.chart.bars g.bar").count()).toBe(12);
    for (const flow of api.flows) {
      const row = page.locator(`tr[data-flow="${flow.flow}"] td`);
      expect(await row.nth(1).innerText()).toBe(String(flow.runs));
      expect(await row.nth(3).innerText()).toBe(String(flow.failed));
    }
    expect(await page.locator('tr[data-flow="failing"] td.rate .value').innerText()).toBe("100%");
    expect(await page.locator('tr[data-queue="nowhere"] td.depth .value').innerText()).toBe(
      String(api.queues[0].queued),
    );
    expect(await page.locator('.windows a[aria-current="page"]').innerText()).toBe("Last hour");
    await screenshot(page, "overview");
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await screenshot(page, "overview-phone");
    // The window is a link: by keyboard to "Last week".
    await page.locator('.windows a[href$="window=week"]').focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(/window=week/);
    await page.waitForSelector('.windows a[aria-current="page"]:text("Last week")');
    await page.waitForFunction(() => document.querySelectorAll("svg.chart.bars g.bar").length === 28);
    await done(watched);
  });
});
