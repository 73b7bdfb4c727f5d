/**
 * The dashboard's Audit page and role-hiding in real headless Chromium against a running
 * system with named tokens (CODEX_FLOW_BACKEND_TOKENS): what a person with each role sees.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { useBrowser } from "./support/browser.ts";
import { signIn, startDashboardSystem, withoutChromium } from "./support/dashboard.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { authed, json } from "./support/http.ts";
import { eventually, useNatsServer } from "./support/nats.ts";
import { namedTokens } from "./support/system.ts";

declare const document: any;

const nats = useNatsServer();
const browser = useBrowser();
const READER = "reader-token-0123456789abcdef";
const OPS = "ops-token-0123456789abcdef0123";
const SCOPED = "scoped-token-0123456789abcdef";
let url: string;
let runId: string;

const call = authed(() => url);

beforeAll(async () => {
  if (withoutChromium) return;
  const cwd = writeFlows({
    notes: [{ name: "write", type: "ui.note", source: echoStep() }],
    extra: [{ name: "other", type: "ui.extra", source: echoStep() }],
  });
  const named = [
    { name: "viewer", token: READER, role: "read" },
    { name: "oncall", token: OPS, role: "operate" },
    { name: "extra-ci", token: SCOPED, role: "operate", flows: ["extra"] },
  ];
  url = (await startDashboardSystem(nats, cwd, { tokens: namedTokens(named, cwd) })).url;
  runId = (await json(call(OPS, "POST", "/events?wait=true", { id: "ui-audit-1", type: "ui.note", payload: {} })))
    .runIds[0];
  expect((await call(OPS, "POST", `/runs/${runId}/retry`, { reason: "checking the audit page" })).status).toBe(202);
  expect((await call(OPS, "POST", "/flows/notes/pause?reason=window")).status).toBe(200);
  expect((await call(OPS, "POST", "/flows/notes/resume", {})).status).toBe(200);
  await eventually(
    async () => (await json(call(READER, "GET", "/audit"))).entries.length === 3,
    15_000,
    "three audit records",
  );
});

/** Opens `path`, gives the token in the form, and waits for the page's data. */
const signedIn = (path: string, token: string, viewport?: { width: number; height: number }) =>
  signIn(browser, url, path, token, "main :is(table, .empty)", viewport);

/** The 401s before the token was given are the browser's own log lines. */
const unauthorized = (errors: string[]) => errors.filter((e) => !/401/.test(e));

describe.skipIf(withoutChromium)("the Audit page", () => {
  test("at 390 px, by keyboard: the records show who, what and why; a filter goes into the URL", async () => {
    const { page, errors } = await signedIn("/ui/audit", OPS, { width: 390, height: 800 });
    const rows = page.locator("tr[data-audit]");
    expect(await rows.count()).toBe(3);
    const texts = await rows.allInnerTexts();
    expect(texts[0]).toContain("oncall");
    expect(texts[0]).toContain("resume");
    expect(texts[1]).toContain("window");
    expect(texts[2]).toContain("retry");
    expect(texts[2]).toContain("checking the audit page");
    expect(await page.locator(`tr[data-audit] a[href="/ui/runs/${runId}"]`).count()).toBe(1);
    // Nothing wider than the phone: the table scrolls in its own box, the page does not.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // By keyboard: focus the action filter, pick "pause", submit with Enter.
    await page.focus("#f-action");
    await page.keyboard.press("ArrowDown"); // cancel
    for (let i = 0; i < 4; i++) await page.keyboard.press("ArrowDown"); // retry, replay, bulk-replay, pause
    expect(await page.locator("#f-action").inputValue()).toBe("pause");
    await page.focus("#f-actor");
    await page.keyboard.press("Enter");
    await page.waitForURL(/action=pause/);
    await page.waitForFunction(() => document.querySelectorAll("tr[data-audit]").length === 1);
    expect(await page.locator("tr[data-audit]").innerText()).toContain("window");
    expect(unauthorized(errors)).toEqual([]);
    await page.close();
  }, 60_000);
});

describe.skipIf(withoutChromium)("actions by role", () => {
  test("a read token sees the run and flows but no cancel, retry, replay or pause; an operate token sees them", async () => {
    const reader = await signedIn(`/ui/runs/${runId}`, READER);
    await reader.page.waitForSelector("h1");
    expect(await reader.page.evaluate(() => document.body.dataset.role)).toBe("read");
    expect(await reader.page.locator("button:has-text('Retry run')").isVisible()).toBe(false);
    expect(await reader.page.locator("button:has-text('Cancel run')").isVisible()).toBe(false);
    await reader.page.click("nav a[href='/ui/flows']");
    await reader.page.waitForSelector("main :is(table, section, .empty, h2)");
    expect(await reader.page.locator("button.pause").count()).toBeGreaterThan(0);
    expect(await reader.page.locator("button.pause:visible").count()).toBe(0);
    await reader.page.goto(`${url}/ui/events/ui-audit-1`);
    await reader.page.waitForSelector("h1:has-text('ui.note')");
    expect(await reader.page.locator("button:has-text('Replay event')").isVisible()).toBe(false);
    expect(unauthorized(reader.errors)).toEqual([]);
    await reader.page.close();

    const ops = await signedIn(`/ui/runs/${runId}`, OPS);
    await ops.page.waitForSelector("button:has-text('Retry run')");
    expect(await ops.page.evaluate(() => document.body.dataset.role)).toBe("operate");
    expect(await ops.page.locator("button:has-text('Retry run')").isVisible()).toBe(true);
    expect(unauthorized(ops.errors)).toEqual([]);
    await ops.page.close();
  }, 60_000);

  test("a token scoped to flow extra sees no actions on notes' run, notes' pause or an event's replay, and extra's pause", async () => {
    const scoped = await signedIn(`/ui/runs/${runId}`, SCOPED);
    await scoped.page.waitForSelector("h1");
    await scoped.page.waitForFunction(() => document.body.dataset.role === "operate");
    expect(await scoped.page.locator("button:has-text('Retry run')").count()).toBe(1);
    expect(await scoped.page.locator("button:has-text('Retry run')").isVisible()).toBe(false);
    await scoped.page.click("nav a[href='/ui/flows']");
    await scoped.page.waitForSelector("button.pause[data-flow='extra']");
    const visible = await scoped.page
      .locator("button.pause:visible")
      .evaluateAll((buttons) => buttons.map((b: any) => b.dataset.flow));
    expect(visible.length).toBeGreaterThan(0);
    expect(visible.every((flow: string) => flow === "extra")).toBe(true);
    expect(await scoped.page.locator("button.pause[data-flow='notes']").count()).toBeGreaterThan(0);
    await scoped.page.goto(`${url}/ui/events/ui-audit-1`);
    await scoped.page.waitForSelector("h1:has-text('ui.note')");
    expect(await scoped.page.locator("button:has-text('Replay event')").isVisible()).toBe(false);
    expect(unauthorized(scoped.errors)).toEqual([]);
    await scoped.page.close();
  }, 60_000);
});
