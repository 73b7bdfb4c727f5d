/**
 * The runs page in real headless Chromium (Debian's, through playwright-core), in its
 * own Bun process: loads each page path in turn, round after round, in one tab (a full
 * page load each time; assets cached after the first, as for a person who comes back;
 * a tab of its own per load would mostly measure Chromium starting a renderer process),
 * and measures from navigation start to the page's `dashboard-ready` mark (the first
 * page of runs drawn, its links and filters live). Prints one DashboardReport as JSON.
 *   bun bench/dashboard.ts --url http://127.0.0.1:PORT --paths '["/ui/runs"]' [--rounds 20] [--warmup-rounds 2]
 *     [--ready runs] [--api /runs?]
 * `--ready NAME`: the page's `body[data-ready=NAME]` (runs, overview, search); `--api PREFIX`: its API call's path.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

export type DashboardReport = {
  /** Navigation start to interactive, per measured load. */
  readyMs: number[];
  /** The page's own GET /runs calls as the browser timed them (Resource Timing). */
  apiMs: number[];
  /** Where the time goes, per load, ms after navigation start: the page's HTML received, its script running, its first GET /runs sent and answered. */
  phases: { html: number; script: number; apiSent: number; apiAnswered: number }[];
  errors: string[];
};

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    paths: { type: "string" },
    rounds: { type: "string", default: "20" },
    "warmup-rounds": { type: "string", default: "2" },
    ready: { type: "string", default: "runs" },
    api: { type: "string", default: "/runs?" },
  },
});
if (!values.url || !values.paths) {
  console.error("usage: bun bench/dashboard.ts --url URL --paths JSON [--rounds N] [--warmup-rounds N]");
  process.exit(2);
}
const paths = JSON.parse(values.paths) as string[];
const profile = mkdtempSync(join(tmpdir(), "codex-flows-bench-chromium-"));
const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  args,
  headless: true,
  viewport: { width: 1280, height: 900 },
});
const report: DashboardReport = { readyMs: [], apiMs: [], phases: [], errors: [] };
const API = JSON.stringify(values.api);
const PHASES = `(() => {
  const api = performance.getEntriesByType("resource").find((e) => (new URL(e.name).pathname + new URL(e.name).search).startsWith(${API}));
  return { html: performance.getEntriesByType("navigation")[0].responseEnd, script: performance.getEntriesByName("dashboard-start")[0].startTime, apiSent: api.startTime, apiAnswered: api.responseEnd };
})()`;
try {
  const warmup = Number(values["warmup-rounds"]);
  const page = await context.newPage();
  page.on("pageerror", (error) => report.errors.length < 5 && report.errors.push(error.message));
  for (let round = 0; round < warmup + Number(values.rounds); round++) {
    for (const path of paths) {
      try {
        await page.goto(`${values.url}${path}`);
        await page.waitForSelector(`body[data-ready=${values.ready}]`, { timeout: 10_000 });
        const ready = (await page.evaluate('performance.getEntriesByName("dashboard-ready")[0].startTime')) as number;
        const api = (await page.evaluate(
          `performance.getEntriesByType("resource").filter((e) => (new URL(e.name).pathname + new URL(e.name).search).startsWith(${API})).map((e) => e.duration)`,
        )) as number[];
        if (round >= warmup) {
          report.readyMs.push(ready);
          report.apiMs.push(...api);
          report.phases.push((await page.evaluate(PHASES)) as DashboardReport["phases"][number]);
        }
      } catch (error) {
        if (report.errors.length < 5) report.errors.push(`${path}: ${(error as Error).message.split("\n")[0]}`);
      }
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
