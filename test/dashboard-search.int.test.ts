/**
 * Search (issue 23): GET /search over the read model's FTS5 index and the Search page in
 * real headless Chromium: an event found by a word in its payload, a run by its id and by
 * a word in its FLOW_RESULT, filters in the URL; and a read model rebuilt from the stream
 * answers the same. Screenshots go to CODEX_FLOWS_UI_SHOTS (or a temporary folder).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openReadModel } from "../lib/read-model/database.ts";
import { search } from "../services/ingress/search/queries.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { connectContext } from "../services/runtime/context.ts";
import {
  type DashboardSystem,
  screenshotFolder,
  startDashboardSystem,
  useDashboardBrowser,
  withoutChromium,
} from "./support/dashboard.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { eventually, useNatsServer } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";

declare const document: any;

const nats = useNatsServer();
const { visit, screenshot, done } = useDashboardBrowser(screenshotFolder());

type Json = any;

describe("search", () => {
  let sys: DashboardSystem;
  let runId: string;
  beforeAll(async () => {
    const cwd = writeFlows({
      notes: [{ name: "echo", type: "s.note", source: echoStep() }],
      other: [{ name: "echo", type: "s.other", source: echoStep() }],
    });
    sys = await startDashboardSystem(nats, cwd);
    const answer = await sys.post(
      { id: "s-ready", type: "s.note", payload: { note: "the Zanzibar release is ready" } },
      "true",
    );
    runId = answer.runIds[0];
    await sys.post({ id: "s-plain", type: "s.note", payload: { note: "nothing to see" } }, "true");
    await sys.post({ id: "s-other", type: "s.other", payload: { note: "zanzibar again, another type" } }, "true");
    // The index follows the projector a moment behind (docs/dashboard.md, Search): both runs' FLOW_RESULTs indexed.
    await eventually(
      async () => (await sys.get("/search?q=zanzibar&kind=run")).runs.length === 2,
      15_000,
      "the search index to take in both runs' results",
    );
  });

  test("GET /search: a word in a payload, a run by its id, a word of its FLOW_RESULT, filters narrowing", async () => {
    const byWord = await sys.get("/search?q=zanzibar");
    expect(byWord.events.map((e: Json) => e.id).sort()).toEqual(["s-other", "s-ready"]);
    const hit = byWord.events.find((e: Json) => e.id === "s-ready");
    expect(hit.snippet.filter((p: Json) => p.match).map((p: Json) => p.text)).toEqual(["Zanzibar"]);
    // The echo step's FLOW_RESULT message repeats the payload: its runs are found by the word too.
    expect(byWord.runs.map((r: Json) => r.eventId).sort()).toEqual(["s-other", "s-ready"]);
    const byType = await sys.get("/search?q=zanzibar&type=s.note");
    expect(byType.events.map((e: Json) => e.id)).toEqual(["s-ready"]);
    expect(byType.runs.map((r: Json) => r.id)).toEqual([runId]);
    const byFlow = await sys.get("/search?q=zanzibar&flow=other&kind=run");
    expect(byFlow.events).toEqual([]);
    expect(byFlow.runs.map((r: Json) => r.eventId)).toEqual(["s-other"]);
    // By its id: that run first, marked exact.
    const byId = await sys.get(`/search?q=${runId}`);
    expect(byId.runs[0]).toMatchObject({ id: runId, exact: true, eventId: "s-ready", flowName: "notes" });
    // A prefix of the last word finds; a word nobody wrote finds nothing.
    expect((await sys.get("/search?q=zanzi&kind=event")).events.map((e: Json) => e.id).sort()).toEqual([
      "s-other",
      "s-ready",
    ]);
    expect(await sys.get("/search?q=quetzalcoatl")).toMatchObject({ events: [], runs: [], more: false });
    // FTS syntax in q is taken as words, never as a query.
    expect((await sys.get(`/search?q=${encodeURIComponent('zanzibar" OR nothing*')}`)).events).toEqual([]);
    expect((await fetch(`${sys.url}/search?kind=both`)).status).toBe(400);
  });

  test("a read model rebuilt from the stream answers the same searches", async () => {
    const ctx = await connectContext(sys.config, nats.url, "rebuild");
    try {
      const { path } = await rebuildReadModel(ctx, join(tempDir("codex-flows-rebuild-"), "rebuilt.sqlite"));
      const db = await openReadModel(path);
      try {
        for (const q of ["zanzibar", runId, "nothing see", "notes echo"]) {
          const live = await sys.get(`/search?q=${encodeURIComponent(q)}`);
          expect(search(db, { q, type: "", flow: "", kind: "", limit: 25 })).toEqual(live);
        }
      } finally {
        await db.destroy();
      }
    } finally {
      await ctx.nc.close();
    }
  });

  test.skipIf(withoutChromium)(
    "the Search page: words and filters in the URL, an event by a payload word, a run by its id",
    async () => {
      const watched = await visit(sys.url, "/ui/search", { width: 1200, height: 900 });
      const { page } = watched;
      await page.getByRole("link", { name: "Search" }).waitFor();
      await page.fill("#s-q", "zanzibar");
      await page.fill("#s-type", "s.note");
      await page.keyboard.press("Enter");
      await page.waitForSelector('tr[data-event="s-ready"]');
      expect(new URL(page.url()).search).toBe("?q=zanzibar&type=s.note");
      expect(await page.locator('tr[data-event="s-other"]').count()).toBe(0);
      expect(await page.locator('tr[data-event="s-ready"] mark').innerText()).toBe("Zanzibar");
      await screenshot(page, "search");
      // A run by its id, at 390 px.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${sys.url}/ui/search?q=${runId}`);
      await page.waitForSelector(`tr[data-run="${runId}"].exact`);
      expect(await page.locator(`tr[data-run="${runId}"] a`).getAttribute("href")).toBe(`/ui/runs/${runId}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await screenshot(page, "search-390");
      await done(watched);
    },
  );
});
