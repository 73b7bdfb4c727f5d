import { createHash } from "node:crypto";
import { join } from "node:path";

const APP_DIR = join(import.meta.dir, "app");

/** The dashboard as served: one page, one script, one stylesheet, all from this process. */
export type DashboardAssets = { html: string; js: string; css: string; version: string };

let built: Promise<DashboardAssets> | undefined;

/**
 * Bundles the dashboard's TypeScript (app/main.ts and what it imports) with Bun.build,
 * in memory, once per process: the first call starts it (the ingress does so when it
 * mounts the routes), later calls share the result. Nothing is fetched from anywhere.
 */
export function dashboardAssets(): Promise<DashboardAssets> {
  built ??= build();
  return built;
}

async function build(): Promise<DashboardAssets> {
  const result = await Bun.build({ entrypoints: [join(APP_DIR, "main.ts")], target: "browser", minify: true, sourcemap: "none" });
  const output = result.outputs[0];
  if (!result.success || !output) throw new Error(`the dashboard's bundle failed: ${result.logs.map(String).join("; ")}`);
  const js = await output.text();
  const css = await Bun.file(join(APP_DIR, "style.css")).text();
  const version = createHash("sha256").update(js).update(css).digest("hex").slice(0, 12);
  return { js, css, version, html: page(version) };
}

function page(version: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>codex-flows</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/assets/app.css?v=${version}">
<script type="module" src="/ui/assets/app.js?v=${version}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/ui/runs">codex-flows</a>
<nav aria-label="Pages"><a href="/ui/runs">Runs</a><a href="/ui/events">Events</a><a href="/ui/flows">Flows</a><a href="/ui/hosts">Hosts</a></nav>
<span id="live" class="live" aria-live="polite"></span></header>
<main id="main" tabindex="-1"><p class="loading">Loading…</p></main>
<noscript>The dashboard needs JavaScript; the API is at <a href="/openapi">/openapi</a>.</noscript>
</body>
</html>
`;
}
