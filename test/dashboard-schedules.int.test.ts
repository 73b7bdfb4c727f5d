/**
 * The dashboard's Schedules page in real headless Chromium against a running system,
 * and GET /schedules/ticks: a schedule every second whose runs outlast it, so ticks are
 * skipped; the page shows cron, zone, next and last ticks and each skip's reason, at
 * 390 px, and pauses and resumes the flow by keyboard alone.
 */
import { describe, expect, test } from "bun:test";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { screenshotFolder, startDashboardSystem, useDashboardBrowser, withoutChromium } from "./support/dashboard.ts";
import { writeFlows } from "./support/flows.ts";
import { eventually, useNatsServer } from "./support/nats.ts";

declare const document: any;
type Json = any;

const nats = useNatsServer();
const { visit, screenshot, done } = useDashboardBrowser(screenshotFolder());

describe.skipIf(withoutChromium)("schedules", () => {
  test("GET /schedules/ticks and the Schedules page: cron, zone, next and last ticks, skips and why, pause and resume by keyboard at 390 px", async () => {
    const cwd = writeFlows({ ticker: [{ name: "slow", type: "v.tick", source: "await Bun.sleep(2_500);" }] });
    appendFileSync(
      join(cwd, "flows", "ticker", "flow.toml"),
      '\n[[schedules]]\nname = "every-second"\ncron = "* * * * * *"\ntimezone = "Europe/Berlin"\noverlap = "skip"\nevent = { type = "v.tick", payload = {} }\n',
    );
    const sys = await startDashboardSystem(nats, cwd);
    const ticks = await eventually(
      async () => {
        const answer = await sys.get("/schedules/ticks?flow=ticker&schedule=every-second");
        return answer.counts.skipped >= 2 && answer.counts.emitted >= 1 ? answer : undefined;
      },
      20_000,
      "a skipped tick",
    );
    expect(ticks.ticks.map((t: Json) => t.tick)).toEqual([...ticks.ticks.map((t: Json) => t.tick)].sort().reverse());
    const skipped = ticks.ticks.find((t: Json) => t.outcome === "skipped");
    expect(skipped.reason).toContain("still going (overlap = skip)");
    const onlySkipped = await sys.get("/schedules/ticks?flow=ticker&outcome=skipped&limit=1");
    expect(onlySkipped.ticks).toHaveLength(1);
    expect(onlySkipped.ticks[0].outcome).toBe("skipped");
    expect((await fetch(`${sys.url}/schedules/ticks?outcome=maybe`)).status).toBe(400);

    const watched = await visit(sys.url, "/ui/schedules", { width: 390, height: 844 });
    const { page } = watched;
    await page.waitForSelector("body[data-ready=schedules]");
    const card = page.locator('article[data-schedule="ticker/every-second"]');
    const facts = (await card.locator("dl.facts").innerText()).replace(/\s+/g, " ");
    expect(facts).toContain("Cron * * * * * *");
    expect(facts).toContain("Zone Europe/Berlin");
    expect(facts).toMatch(/Next tick .+ Last tick/);
    expect(await card.locator("tr.skipped").first().innerText()).toContain("still going (overlap = skip)");
    expect(await card.locator(".tick-counts").innerText()).toMatch(/\d+ emitted, \d+ skipped in all/);
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await screenshot(page, "schedules-phone");
    // Live: the next tick handled shows up without a reload.
    const lastTick = () => card.locator("dl.facts dd").nth(3).locator("time").getAttribute("datetime");
    const first = await lastTick();
    await page.evaluate("window.sameDocument = true");
    await page.waitForFunction(
      (before) =>
        document
          .querySelectorAll("article.schedule dl.facts dd")[3]
          ?.querySelector("time")
          ?.getAttribute("datetime") !== before,
      first,
      { timeout: 10_000 },
    );
    expect(await page.evaluate("window.sameDocument")).toBe(true);

    // By keyboard alone: Tab to the flow's Pause button, Enter; then the same for Resume.
    const tabTo = async (name: string) => {
      for (let i = 0; i < 80; i++) {
        await page.keyboard.press("Tab");
        if ((await page.evaluate("document.activeElement?.textContent")) === name) return;
      }
      throw new Error(`no ${name} button reached by Tab`);
    };
    await tabTo("Pause");
    await page.keyboard.press("Enter");
    await page.waitForSelector('p.answer.ok:text("flow ticker paused")');
    await card.locator(".badge.s-paused").waitFor();
    expect((await sys.get("/flows")).flows.find((f: Json) => f.name === "ticker").paused).toBe(true);
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot(page, "schedules");
    await tabTo("Resume");
    await page.keyboard.press("Enter");
    await page.waitForSelector('p.answer.ok:text("flow ticker resumed")');
    // The card is redrawn from the API after the answer shows (as the pause above waits for its badge).
    await card.locator(".badge.s-paused").waitFor({ state: "detached" });
    expect(await card.locator(".badge.s-paused").count()).toBe(0);
    expect((await sys.get("/flows")).flows.find((f: Json) => f.name === "ticker").paused).toBe(false);
    await done(watched);
  }, 90_000);
});
