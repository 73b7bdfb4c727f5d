/**
 * Bulk replay on the Events page (issue 23) in real headless Chromium: a filter's dry run
 * shows POST /replays' count and plan, then replays exactly those events (generation-1
 * runs, an audit record); picked events replay one by one, only the picked; a token
 * limited to other flows sees each refusal; read and operate tokens do not see what they
 * may not do.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import type { WatchedPage } from "./support/browser.ts";
import {
  enterToken,
  screenshotFolder,
  startDashboardSystem,
  useDashboardBrowser,
  withoutChromium,
} from "./support/dashboard.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { auditRecords, authed, json } from "./support/http.ts";
import { eventually, useNatsServer } from "./support/nats.ts";
import { namedTokens } from "./support/system.ts";

type Json = any;
// Evaluated in the page, where the DOM is.
declare const document: any;
const nats = useNatsServer();
const browser = useDashboardBrowser(screenshotFolder());
const READER = "reader-token-0123456789abcdef";
const OPS = "ops-token-0123456789abcdef0123";
const ADMIN = "admin-token-0123456789abcdef01";
const SCOPED = "scoped-token-0123456789abcdef";
let url: string;
let since: string;

const call = authed(() => url);
/** The generations of an event's runs, in order. */
const generations = async (eventId: string): Promise<number[]> =>
  (await json(call(READER, "GET", `/runs?limit=50&eventId=${encodeURIComponent(eventId)}`))).runs
    .map((r: Json) => r.generation)
    .sort();
const post = (id: string, type: string) =>
  json(call(OPS, "POST", "/events?wait=matched", { id, type, payload: { id } }));

/** Opens a page and enters a token; resolves once the page knows the token's role. */
async function signedIn(path: string, token: string, role: string, viewport?: { width: number; height: number }) {
  const watched = await browser.visit(url, path, viewport);
  await enterToken(watched.page, token);
  await watched.page.waitForSelector(`body[data-role="${role}"] main table`);
  return watched;
}

/** Closes the page: no errors but the expected ones (the token prompt's 401; refusals the page shows). */
async function closed({ page, errors }: WatchedPage, expected = /status of 401/): Promise<void> {
  await page.close();
  expect(errors.filter((e) => !expected.test(e))).toEqual([]);
}

const replayedIds = (page: Page, list: string) =>
  page.locator(`ul[aria-label="${list}"] a`).evaluateAll((links) => links.map((a) => a.textContent));

beforeAll(async () => {
  const cwd = writeFlows({
    again: [{ name: "echo", type: "r.filter", source: echoStep() }],
    picks: [{ name: "echo", type: "r.picked", source: echoStep() }],
  });
  const named = [
    { name: "viewer", token: READER, role: "read" },
    { name: "oncall", token: OPS, role: "operate" },
    { name: "root", token: ADMIN, role: "admin" },
    { name: "again-ci", token: SCOPED, role: "operate", flows: ["again"] },
  ];
  url = (await startDashboardSystem(nats, cwd, { tokens: namedTokens(named, cwd) })).url;
  since = new Date(Date.now() - 60_000).toISOString();
  for (let i = 0; i < 3; i++) await post(`r-filter-${i}`, "r.filter");
  for (let i = 0; i < 3; i++) await post(`r-picked-${i}`, "r.picked");
});

describe.skipIf(withoutChromium)("the Events page's bulk replay", () => {
  test("by filter: the dry run's count and plan as POST /replays answers them, then exactly those events replayed and audited", async () => {
    const watched = await signedIn("/ui/events?type=r.filter", ADMIN, "admin");
    const { page } = watched;
    // Without a received-from time the page says what to set.
    expect(await page.locator(".bulk").innerText()).toContain(
      "Set a received-from time to replay all events that match",
    );
    expect(await page.getByRole("button", { name: "Replay events matching these filters…" }).count()).toBe(0);
    await page.fill("#f-since", since);
    await page.press("#f-since", "Enter");
    await page.getByRole("button", { name: "Replay events matching these filters…" }).click();
    const dry = page.locator(".bulk .dry-run");
    await dry.waitFor();
    const api = await json(call(ADMIN, "POST", "/replays", { type: "r.filter", since, dryRun: true }));
    expect(api.count).toBe(3);
    expect(await dry.innerText()).toStartWith(`${api.count} events would be replayed`);
    const planned = await page
      .locator('ul[aria-label="What the replay would do"] li')
      .evaluateAll((items) => items.map((li) => [li.getAttribute("data-event"), li.textContent]));
    expect(planned.map(([id]) => id)).toEqual(api.events.map((e: Json) => e.eventId));
    for (const [id, text] of planned) expect(text).toBe(`${id}: would run again / echo`);
    await browser.screenshot(page, "bulk-replay-dry-run");
    // Nothing replayed before the confirmation.
    for (let i = 0; i < 3; i++) expect(await generations(`r-filter-${i}`)).toEqual([0]);
    // An event that arrives after the count is not among those replayed.
    await post("r-filter-3", "r.filter");
    await page.waitForSelector('tr[data-event="r-filter-3"]');
    await page.fill("#replay-reason", "flows fixed");
    await page.getByRole("button", { name: "Replay 3 events" }).click();
    await page.waitForSelector(".bulk .answer.ok");
    expect(await page.locator(".bulk .answer.ok").innerText()).toBe("Replayed 3 events.");
    expect(await replayedIds(page, "Events replayed")).toEqual(["r-filter-0", "r-filter-1", "r-filter-2"]);
    for (let i = 0; i < 3; i++)
      await eventually(
        async () => (await generations(`r-filter-${i}`)).join() === "0,1",
        15_000,
        `r-filter-${i}'s generation-1 run`,
      );
    for (const id of ["r-filter-3", "r-picked-0", "r-picked-1", "r-picked-2"])
      expect(await generations(id)).toEqual([0]);
    const audit = await eventually(
      async () => {
        const entries = (await json(call(READER, "GET", "/audit?action=bulk-replay"))).entries;
        return entries.length ? entries : false;
      },
      15_000,
      "the bulk replay's audit record",
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: "root", action: "bulk-replay", reason: "flows fixed" });
    expect(audit[0].summary).toContain("3 r.filter events");
    await closed(watched);
  });

  test("picked: the count first, then only the picked events replayed (picks kept across live updates); at 390 px", async () => {
    const watched = await signedIn("/ui/events?type=r.picked", OPS, "operate", { width: 390, height: 844 });
    const { page } = watched;
    const requested: string[] = [];
    page.on("request", (request) => requested.push(request.url()));
    // An operate token does not see the admin's replay by filter (here: what to set for it).
    expect(await page.locator('.bulk [data-needs="admin"]').count()).toBe(1);
    expect(await page.locator('.bulk [data-needs="admin"]').isVisible()).toBe(false);
    // By keyboard: Space picks.
    await page.getByRole("checkbox", { name: "pick event r-picked-0" }).press("Space");
    await page.getByRole("checkbox", { name: "pick event r-picked-2" }).check();
    // A live update redraws the table: the picks stay.
    await post("r-picked-3", "r.picked");
    await page.waitForSelector('tr[data-event="r-picked-3"]');
    expect(await page.getByRole("checkbox", { name: "pick event r-picked-0" }).isChecked()).toBe(true);
    expect(await page.getByRole("checkbox", { name: "pick event r-picked-2" }).isChecked()).toBe(true);
    await page.getByRole("button", { name: "Replay picked events…" }).click();
    await page.locator(".bulk .dry-run").waitFor();
    expect(await page.locator(".bulk .dry-run").innerText()).toStartWith("2 picked events would be replayed");
    expect((await replayedIds(page, "Picked events")).sort()).toEqual(["r-picked-0", "r-picked-2"]);
    await browser.screenshot(page, "bulk-replay-390");
    // No sideways page scroll at 390 px (the table scrolls in its own box).
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // By keyboard: a reason, then Tab to the confirmation and Enter.
    await page.fill("#replay-picked-reason", "picked by hand");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".bulk .answer.ok");
    expect(await page.locator(".bulk .answer.ok").innerText()).toBe("Replayed 2 of 2 events.");
    for (const id of ["r-picked-0", "r-picked-2"])
      await eventually(async () => (await generations(id)).join() === "0,1", 15_000, `${id}'s generation-1 run`);
    for (const id of ["r-picked-1", "r-picked-3"]) expect(await generations(id)).toEqual([0]);
    const audit = await auditRecords(call, READER, "action=replay", 2);
    expect(audit.map((e: Json) => e.eventId).sort()).toEqual(["r-picked-0", "r-picked-2"]);
    for (const entry of audit)
      expect(entry).toMatchObject({ actor: "oncall", action: "replay", reason: "picked by hand" });
    // Nothing from other origins.
    expect(requested.filter((r) => !r.startsWith(`${url}/`))).toEqual([]);
    await closed(watched);
  });

  test("a token limited to other flows sees each event's refusal; a read token sees no replay", async () => {
    const scoped = await signedIn("/ui/events?type=r.filter", SCOPED, "operate");
    await scoped.page.getByRole("checkbox", { name: "pick event r-filter-1" }).check();
    await scoped.page.getByRole("button", { name: "Replay picked events…" }).click();
    await scoped.page.keyboard.press("Enter");
    await scoped.page.waitForSelector(".bulk .answer.error");
    expect(await scoped.page.locator(".bulk .answer.error").innerText()).toBe(
      "Replayed 0 of 1 event; 1 refused (see each).",
    );
    const refusal = await scoped.page.locator('li[data-replay="r-filter-1"]').innerText();
    expect(refusal).toContain("403");
    expect(refusal).toContain("again-ci");
    expect(await generations("r-filter-1")).toEqual([0, 1]);
    await closed(scoped, /status of (401|403)/);

    const reader = await signedIn(`/ui/events?type=r.filter&since=${encodeURIComponent(since)}`, READER, "read");
    expect(await reader.page.locator(".bulk").count()).toBe(1);
    expect(await reader.page.locator(".bulk").isVisible()).toBe(false);
    expect(await reader.page.getByRole("button", { name: /Replay/ }).count()).toBe(0);
    await closed(reader);
  });
});
