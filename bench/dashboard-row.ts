/**
 * Row dashboard: the runs page over a read model of READ_MODEL_RUNS runs. Two figures,
 * each against its target: how soon the page is interactive in headless Chromium
 * (bench/dashboard.ts), and the p99 of the API calls that page makes, sent one at a
 * time by bench/read.ts to the same `flow serve ingress`.
 */
import { join } from "node:path";
import type { EmbeddedNats } from "../lib/nats/nats-server.ts";
import type { DashboardReport } from "./dashboard.ts";
import { readLoad, serveReadModel } from "./data.ts";
import { runJson } from "./procs.ts";
import type { ReadQuery } from "./read.ts";
import { progress } from "./rows.ts";
import { round, type Summary, summarize } from "./stats.ts";
import type { Row } from "./table.ts";

export const READY_P99_MS = 300;
export const API_P99_MS = 20;

/** The views a person opens most: everything, what needs attention, one flow, a deep page. */
function views(deepCursor: string): { page: string; api: string }[] {
  return [
    { page: "/ui/runs", api: "/runs?limit=50" },
    { page: "/ui/runs?needsAttention=true", api: "/runs?limit=50&needsAttention=true" },
    { page: "/ui/runs?flow=release", api: "/runs?limit=50&flow=release" },
    { page: "/ui/runs?status=running", api: "/runs?limit=50&status=running" },
    { page: `/ui/runs?cursor=${deepCursor}`, api: `/runs?limit=50&cursor=${deepCursor}` },
  ];
}

export type DashboardFigures = {
  runs: number;
  ready: Summary;
  browserApi: Summary;
  api: Summary;
  phasesP50: Record<string, number>;
  errors: string[];
};

export async function measureDashboard(nats: EmbeddedNats): Promise<DashboardFigures> {
  const served = await serveReadModel(nats, "dashboard");
  try {
    const { runs, deepCursor } = served.built.samples;
    const pages = views(deepCursor);
    progress(`dashboard: the runs page in headless Chromium over ${runs} runs (${pages.length} views x 20 rounds)`);
    const browser = await runJson<DashboardReport>("dashboard", [
      process.execPath,
      join(import.meta.dir, "dashboard.ts"),
      "--url",
      served.url,
      "--paths",
      JSON.stringify(pages.map((p) => p.page)),
    ]);
    progress("dashboard: the same views' API calls, one at a time");
    const queries: ReadQuery[] = pages.map((p, i) => ({ name: `view ${i}`, paths: [p.api] }));
    const { report } = await readLoad(served, queries);
    const phasesP50 = Object.fromEntries(
      (["html", "script", "apiSent", "apiAnswered"] as const).map((k) => [
        k,
        summarize(browser.phases.map((p) => p[k])).p50,
      ]),
    );
    return {
      runs,
      ready: summarize(browser.readyMs),
      browserApi: summarize(browser.apiMs),
      api: summarize(report.latenciesMs),
      phasesP50,
      errors: [...browser.errors, ...report.failures],
    };
  } finally {
    await served.stop();
  }
}

/** The row: interactive p99 and API p99, ok only when both meet their targets. */
export function dashboardRow(f: DashboardFigures): Row {
  const note = `runs page interactive p50/p99 ${round(f.ready.p50)}/${round(f.ready.p99)} ms over ${f.ready.count} loads (headless Chromium, navigation start to first page drawn); its API calls p50/p99 ${round(f.api.p50)}/${round(f.api.p99)} ms (${f.api.count} sequential), as the browser timed them ${round(f.browserApi.p50)}/${round(f.browserApi.p99)} ms; p50 ms after navigation start: html ${round(f.phasesP50.html!)}, script ${round(f.phasesP50.script!)}, GET /runs sent ${round(f.phasesP50.apiSent!)}, answered ${round(f.phasesP50.apiAnswered!)}, drawn ${round(f.ready.p50)}`;
  const base = {
    row: `runs page (${round(f.runs / 1000)}k runs)`,
    p50: f.ready.p50,
    p99: f.ready.p99,
    target: `<${READY_P99_MS} & API<${API_P99_MS}`,
    note,
  };
  if (f.errors.length > 0 || f.ready.count === 0) return { ...base, verdict: "INVALID", failures: f.errors };
  return { ...base, verdict: f.ready.p99 < READY_P99_MS && f.api.p99 < API_P99_MS ? "ok" : "MISSED" };
}
