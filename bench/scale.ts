/**
 * Row scale (opt-in, about 3 minutes): the overview and search over a read model of
 * 1,000,000 runs and their 500,000 events (bench/scale-model.ts, written straight into
 * SQLite), served by `flow serve ingress`. Each API call sequentially, 100 rounds after 5
 * of warm-up (bench/read.ts), p99 < 50 ms; each page in headless Chromium, 20 loads after
 * 2 (bench/dashboard.ts: navigation start to the data drawn), p99 < 300 ms.
 *   bun run bench --only scale          (SCALE_RUNS=N for another size)
 * SCALE_MODEL=FILE measures a read model buildScaleModel wrote before (of SCALE_RUNS runs) instead of writing one.
 */
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { type EmbeddedNats, freePort } from "../lib/nats/nats-server.ts";
import type { DashboardReport } from "./dashboard.ts";
import { type Child, runJson, startServer, waitHealthy } from "./procs.ts";
import type { ReadQuery, ReadReport } from "./read.ts";
import { progress, serviceEnv, tempDir } from "./rows.ts";
import { buildScaleModel, type ScaleModel, scaleModelOf } from "./scale-model.ts";
import { round, type Summary, summarize } from "./stats.ts";
import type { Row } from "./table.ts";

export const SCALE_API_P99_MS = 50;
export const SCALE_PAGE_P99_MS = 300;
const ROOT = join(import.meta.dir, "..");

/** The calls: each overview window; search by a word in every run, a rare word, a whole run id, a prefix, words with filters, filters alone. */
function calls(model: ScaleModel): { name: string; api: string; page?: { path: string; ready: string } }[] {
  const search = (q: string) => `/search?${q}`;
  return [
    ...(["hour", "day", "week"] as const).map((w) => ({
      name: `overview ${w}`,
      api: `/overview?window=${w}`,
      page: { path: `/ui/overview?window=${w}`, ready: "overview" },
    })),
    { name: "search common word", api: search("q=build"), page: { path: "/ui/search?q=build", ready: "search" } },
    { name: "search rare word", api: search("q=zanzibar"), page: { path: "/ui/search?q=zanzibar", ready: "search" } },
    {
      name: "search run id",
      api: search(`q=${model.sampleRunId}`),
      page: { path: `/ui/search?q=${model.sampleRunId}`, ready: "search" },
    },
    { name: "search prefix", api: search("q=comm") },
    { name: "search two words", api: search("q=commit+c4242") },
    { name: "search word+type", api: search("q=author&type=release") },
    { name: "search word+flow", api: search("q=commit&flow=flow-3&kind=run") },
    { name: "search type only", api: search("type=deploy") },
  ];
}

export type ScaleFigures = {
  model: ScaleModel;
  api: Record<string, Summary>;
  pages: Record<string, Summary>;
  errors: string[];
};

export async function measureScale(nats: EmbeddedNats, runs = 1_000_000): Promise<ScaleFigures> {
  const dir = tempDir("scale-data");
  progress(`scale: writing a read model of ${runs} runs straight into SQLite, then its search index`);
  const reuse = process.env.SCALE_MODEL;
  if (reuse) symlinkSync(reuse, join(dir, "read-model.sqlite"));
  const model = reuse ? scaleModelOf(runs) : await buildScaleModel(join(dir, "read-model.sqlite"), runs);
  progress(`scale: written in ${round(model.buildMs / 1000)} s, indexed in ${round(model.indexMs / 1000)} s`);
  const port = await freePort();
  const env = { ...serviceEnv(nats.url, port, "scale", tempDir("scale-cwd")), CODEX_FLOW_BACKEND_DATA_DIR: dir };
  const server: Child = startServer(
    "ingress-scale",
    [process.execPath, join(ROOT, "bin", "flow.ts"), "serve", "ingress"],
    env,
    ROOT,
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(server, `${url}/healthz`);
    const all = calls(model);
    progress(`scale: ${all.length} API calls, 100 rounds each, one at a time`);
    const queries: ReadQuery[] = all.map((c) => ({ name: c.name, paths: [c.api] }));
    const read = await runJson<ReadReport>("read-scale", [
      process.execPath,
      join(import.meta.dir, "read.ts"),
      ...["--url", url, "--queries", JSON.stringify(queries), "--rounds", "100"],
    ]);
    const api = Object.fromEntries(all.map((c) => [c.name, summarize(read.byQuery[c.name]!.latenciesMs)]));
    const pages: Record<string, Summary> = {};
    const errors = [...read.failures];
    for (const c of all.filter((c) => c.page)) {
      progress(`scale: ${c.page!.path} in headless Chromium, 20 loads`);
      const report = await runJson<DashboardReport>("dashboard-scale", [
        process.execPath,
        join(import.meta.dir, "dashboard.ts"),
        ...["--url", url, "--paths", JSON.stringify([c.page!.path])],
        ...["--ready", c.page!.ready, "--api", c.api],
      ]);
      pages[c.page!.path] = summarize(report.readyMs);
      errors.push(...report.errors);
    }
    return { model, api, pages, errors };
  } finally {
    await server.stop();
  }
}

/** One row per API call and per page, each against its target. */
export function scaleRows(f: ScaleFigures): Row[] {
  const size = `${round(f.model.runs / 1000)}k runs`;
  const verdict = (s: Summary, target: number) =>
    f.errors.length > 0 || s.count === 0 ? "INVALID" : s.p99 < target ? "ok" : "MISSED";
  return [
    ...Object.entries(f.api).map(
      ([name, s]): Row => ({
        row: `scale: ${name}`,
        p50: s.p50,
        p99: s.p99,
        target: `p99<${SCALE_API_P99_MS}`,
        verdict: verdict(s, SCALE_API_P99_MS),
        note: `API, ${s.count} sequential calls over ${size}`,
        ...(f.errors.length ? { failures: f.errors } : {}),
      }),
    ),
    ...Object.entries(f.pages).map(
      ([path, s]): Row => ({
        row: `scale: ${path.split("?")[0]!.replace("/ui/", "")} page ${path.split("?")[1] ?? ""}`,
        p50: s.p50,
        p99: s.p99,
        target: `p99<${SCALE_PAGE_P99_MS}`,
        verdict: verdict(s, SCALE_PAGE_P99_MS),
        note: `headless Chromium, ${s.count} loads, navigation start to the data drawn, over ${size}`,
      }),
    ),
    {
      row: "scale: build",
      target: "(time)",
      verdict: "-",
      note: `${f.model.runs} runs and ${f.model.events} events written in ${round(f.model.buildMs / 1000)} s (rollup by its triggers), search index ${round(f.model.indexMs / 1000)} s`,
    },
  ];
}
