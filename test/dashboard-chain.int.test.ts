/**
 * An event's chain (issue 23): GET /events/:id/chain and the Chain page in real headless
 * Chromium against a running system, for a three-level chain — a step whose FLOW_RESULT
 * `next` starts an event a second step matches, whose `next` starts a third. Screenshots
 * go to CODEX_FLOWS_UI_SHOTS (or a temporary folder).
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

const nats = useNatsServer();
const { visit, screenshot, done } = useDashboardBrowser(screenshotFolder());

/** A step that starts one `type` event carrying the word it was given. */
const starts = (type: string) => `const input = JSON.parse(await Bun.stdin.text());
console.log("passing on to ${type}");
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", next: [{ type: ${JSON.stringify(type)}, payload: { from: input.flow.event.id } }] }));
`;

type Json = any;

describe("an event's chain", () => {
  let sys: DashboardSystem;
  let chain: Json;
  beforeAll(async () => {
    const cwd = writeFlows({
      first: [{ name: "start", type: "chain.one", source: starts("chain.two") }],
      second: [{ name: "pass", type: "chain.two", source: starts("chain.three") }],
      third: [{ name: "finish", type: "chain.three", source: echoStep() }],
    });
    sys = await startDashboardSystem(nats, cwd);
    await sys.post({ id: "chain-root", type: "chain.one", payload: {} }, "true");
    chain = await eventually(
      async () => {
        const answer = await sys.get("/events/chain-root/chain");
        const done = answer.runs.length === 3 && answer.runs.every((r: Json) => r.status === "completed");
        return done ? answer : false;
      },
      30_000,
      "three completed runs in the chain",
    );
    expect(chain.runs.map((r: Json) => r.stepName)).toEqual(["start", "pass", "finish"]);
  });

  test("GET /events/:id/chain: the event, its run, the event its next started, that one's run, and the third level", async () => {
    expect(chain).toMatchObject({ eventId: "chain-root", cut: false, nodeLimit: 500, missing: [] });
    expect(chain.events.map((e: Json) => [e.type, e.level, e.chainDepth])).toEqual([
      ["chain.one", 0, 0],
      ["chain.two", 1, 1],
      ["chain.three", 2, 2],
    ]);
    const [start, pass, finish] = chain.runs;
    // Each level's event was started by the level above's run, and that run's `next` names it.
    expect(chain.events[1].parentRunId).toBe(start.id);
    expect(start.next).toEqual([chain.events[1].id]);
    expect(chain.events[2].parentRunId).toBe(pass.id);
    expect(pass.next).toEqual([chain.events[2].id]);
    expect(finish.next).toEqual([]);
    for (const run of chain.runs) {
      expect(run.attempts).toHaveLength(1);
      expect(run.attempts[0].host).toBeString();
      expect(new Date(run.attempts[0].startedAt).getTime()).toBeGreaterThanOrEqual(new Date(run.createdAt).getTime());
      expect(run.attempts[0].completedAt).not.toBeNull();
    }
    // From the middle: the chain goes on from there, levels counted from it.
    const middle = await sys.get(`/events/${encodeURIComponent(chain.events[1].id)}/chain`);
    expect(middle.events.map((e: Json) => [e.type, e.level])).toEqual([
      ["chain.two", 0],
      ["chain.three", 1],
    ]);
    const missing = await fetch(`${sys.url}/events/no-such-event/chain`);
    expect(missing.status).toBe(404);
  });

  test.skipIf(withoutChromium)(
    "the Chain page: three levels, each run's attempt on a time axis with its host; by keyboard and at 390 px",
    async () => {
      const watched = await visit(sys.url, "/ui/events/chain-root", { width: 1200, height: 900 });
      const { page } = watched;
      await page.getByRole("link", { name: "Chain timeline" }).click();
      await page.waitForSelector(".chain");
      expect(page.url()).toEndWith("/ui/events/chain-root/chain");
      for (const [level, event] of chain.events.entries()) {
        const node = page.locator(`li.chain-node.event[data-event="${event.id}"]`);
        expect(await node.getAttribute("data-level")).toBe(String(level));
        // The event's run is drawn under it, with its attempt's host in words and as a bar.
        const run = chain.runs[level];
        const row = node.locator(`> ul > li.chain-node.run[data-run="${run.id}"]`);
        expect(await row.locator(".chain-words").first().innerText()).toContain(
          `attempt 1 on ${run.attempts[0].host}: completed`,
        );
        expect(await row.locator("> .chain-row svg rect.attempt.c-completed").count()).toBe(1);
      }
      // Nested: level 2's event is inside level 1's run, which is inside level 0's event.
      expect(
        await page
          .locator(
            `li[data-event="chain-root"] li[data-run="${chain.runs[1].id}"] li[data-event="${chain.events[2].id}"]`,
          )
          .count(),
      ).toBe(1);
      expect(await page.locator(".chain-summary").innerText()).toStartWith("3 events on 3 levels, 3 runs");
      await screenshot(page, "chain");

      // At 390 px nothing scrolls sideways; by keyboard a run's link opens its page.
      await page.setViewportSize({ width: 390, height: 844 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await screenshot(page, "chain-390");
      const target = `/ui/runs/${encodeURIComponent(chain.runs[2].id)}`;
      let reached = false;
      for (let i = 0; i < 60 && !reached; i++) {
        await page.keyboard.press("Tab");
        reached = await page.evaluate((href: string) => document.activeElement?.getAttribute("href") === href, target);
      }
      expect(reached).toBe(true);
      await page.keyboard.press("Enter");
      await page.waitForURL(`**${target}`);
      await done(watched);
    },
  );
});
