/**
 * Approvals in the dashboard, in real headless Chromium against a running system with
 * named tokens: the banner of a run that awaits approval, Approve and Reject with a
 * comment (by keyboard, at 390 px), the decision shown after, and who sees the form.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { useBrowser } from "./support/browser.ts";
import { screenshotFolder, signIn, startDashboardSystem, withoutChromium } from "./support/dashboard.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { authed, json } from "./support/http.ts";
import { eventually, useNatsServer } from "./support/nats.ts";
import { namedTokens } from "./support/system.ts";

declare const document: any;

const nats = useNatsServer();
const browser = useBrowser();
const shots = screenshotFolder();
const READER = "reader-token-0123456789abcdef";
const ONCALL = "oncall-token-0123456789abcdef";
const OTHER = "other-token-0123456789abcdef0";
let url: string;

const call = authed(() => url);

/** Posts an event for the gated step and returns its run once it awaits approval. */
async function awaiting(eventId: string): Promise<string> {
  await call(ONCALL, "POST", "/events", { id: eventId, type: "ui.deploy", payload: {} });
  return await eventually(
    async () => {
      const runs = (await json(call(READER, "GET", `/runs?eventId=${eventId}`))).runs;
      return runs[0]?.status === "awaiting_approval" ? (runs[0].id as string) : undefined;
    },
    15_000,
    `the run of ${eventId} to await approval`,
  );
}

beforeAll(async () => {
  if (withoutChromium) return;
  const cwd = writeFlows({
    deploy: [
      {
        name: "ship",
        type: "ui.deploy",
        source: echoStep(),
        extra: '[steps.approval]\napprovers = ["oncall"]\ntimeout_ms = 3600000',
      },
    ],
  });
  const named = [
    { name: "viewer", token: READER, role: "read" },
    { name: "oncall", token: ONCALL, role: "operate" },
    { name: "other", token: OTHER, role: "operate" },
  ];
  url = (await startDashboardSystem(nats, cwd, { tokens: namedTokens(named, cwd) })).url;
});

/** Opens `path`, gives the token in the form, and waits for the page's heading. */
const signedIn = (path: string, token: string, viewport?: { width: number; height: number }) =>
  signIn(browser, url, path, token, "main h1", viewport);

const unauthorized = (errors: string[]) => errors.filter((e) => !/401/.test(e));

describe.skipIf(withoutChromium)("a run that awaits approval", () => {
  test("at 390 px, by keyboard: the banner says why, until when and who; a comment and Approve start the run; the decision shows after", async () => {
    const runId = await awaiting("ui-approve-1");
    const { page, errors } = await signedIn(`/ui/runs/${runId}`, ONCALL, { width: 390, height: 800 });
    const banner = page.locator("section.approval-banner");
    await banner.waitFor();
    const text = await banner.innerText();
    expect(text).toContain("This run awaits approval");
    expect(text).toContain("requires approval before it starts");
    expect(text).toContain("Who may decide: oncall");
    expect(text).toContain("then rejected");
    expect(await page.locator(".badge.s-awaiting_approval").first().isVisible()).toBe(true);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(shots, "approval-390.png"), fullPage: true });
    // By keyboard: the comment, then Tab to Approve and Enter.
    await page.focus("#approval-comment");
    await page.keyboard.type("checked the diff");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.dataset.key)).toBe("approve");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".approval-decided.approve");
    expect(await page.locator(".approval-decided").innerText()).toContain("Approved by oncall");
    expect(await page.locator(".approval-decided").innerText()).toContain("checked the diff");
    await page.waitForSelector("dl.facts .badge.s-completed", { timeout: 20_000 });
    const run = (await json(call(READER, "GET", `/runs/${runId}`))).run;
    expect(run).toMatchObject({ status: "completed", approval: { decision: "approve", by: "oncall" } });
    // The chain timeline: the time the run awaited approval, then its attempt, in words and as bars.
    const chain = await json(call(READER, "GET", "/events/ui-approve-1/chain"));
    expect(chain.runs[0].approval).toMatchObject({ gate: "step", decision: "approve", by: "oncall" });
    await page.goto(`${url}/ui/events/ui-approve-1/chain`);
    const node = page.locator(`li.chain-node.run[data-run="${runId}"]`);
    await node.waitFor();
    const words = await node.locator(".chain-words").first().innerText();
    expect(words).toContain("awaited approval");
    expect(words).toContain("approved by oncall");
    expect(words).toContain("attempt 1 on");
    expect(await node.locator("> .chain-row svg rect.approval").count()).toBe(1);
    expect(await node.locator("> .chain-row svg rect.attempt.c-completed").count()).toBe(1);
    expect(unauthorized(errors)).toEqual([]);
    await page.close();
  }, 60_000);

  test("Reject with a comment ends the run rejected; the runs list filters and badges the statuses", async () => {
    const runId = await awaiting("ui-reject-1");
    const waitingId = await awaiting("ui-waiting-1");
    const { page, errors } = await signedIn(`/ui/runs/${runId}`, ONCALL);
    await page.locator("section.approval-banner").waitFor();
    await page.screenshot({ path: join(shots, "approval.png"), fullPage: true });
    await page.fill("#approval-comment", "wrong window");
    await page.click("button[data-key='reject']");
    await page.waitForSelector(".approval-decided.reject");
    expect(await page.locator(".approval-decided").innerText()).toContain("Rejected by oncall");
    expect(await page.locator(".approval-decided").innerText()).toContain("wrong window");
    await page.waitForSelector("dl.facts .badge.s-rejected");
    expect(await page.locator("button[data-key='approve']").count()).toBe(0);
    await page.goto(`${url}/ui/runs?status=awaiting_approval`);
    await page.waitForSelector("main :is(table, .empty)");
    const rows = await page.locator("main table tbody tr").allInnerTexts();
    expect(rows.some((row) => row.includes("awaiting approval"))).toBe(true);
    expect(await page.locator(`main a[href="/ui/runs/${waitingId}"]`).count()).toBeGreaterThan(0);
    expect(await page.locator(`main a[href="/ui/runs/${runId}"]`).count()).toBe(0);
    expect(unauthorized(errors)).toEqual([]);
    await page.close();
  }, 60_000);

  test("a read token sees the banner without the form; an operate token not among the approvers is told who may decide", async () => {
    const runId = await awaiting("ui-who-1");
    const reader = await signedIn(`/ui/runs/${runId}`, READER);
    await reader.page.locator("section.approval-banner").waitFor();
    await reader.page.waitForFunction(() => document.body.dataset.role === "read");
    expect(await reader.page.locator("button[data-key='approve']").isVisible()).toBe(false);
    expect(await reader.page.locator("#approval-comment").isVisible()).toBe(false);
    await reader.page.close();

    const other = await signedIn(`/ui/runs/${runId}`, OTHER);
    await other.page.locator("section.approval-banner").waitFor();
    await other.page.waitForSelector("text=Only oncall may decide");
    expect(await other.page.locator("button[data-key='approve']").count()).toBe(0);
    expect(unauthorized(other.errors)).toEqual([]);
    await other.page.close();
  }, 60_000);
});
