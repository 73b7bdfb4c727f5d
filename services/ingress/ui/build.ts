import { createHash } from "node:crypto";
import { join } from "node:path";

const APP_DIR = join(import.meta.dir, "app");

/** The dashboard as served: one HTML page with its script and stylesheet inside, and the CSP that allows exactly those. */
export type DashboardAssets = { html: string; csp: string; bytes: number };

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

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

async function build(): Promise<DashboardAssets> {
  const result = await Bun.build({
    entrypoints: [join(APP_DIR, "main.ts")],
    target: "browser",
    minify: true,
    sourcemap: "none",
  });
  const output = result.outputs[0];
  if (!result.success || !output)
    throw new Error(`the dashboard's bundle failed: ${result.logs.map(String).join("; ")}`);
  // Inside <script>, "</script" would end the element; in JS text "<\/" means the same.
  const js = (await output.text()).replaceAll("</script", "<\\/script");
  const css = await Bun.file(join(APP_DIR, "style.css")).text();
  // Inline, so a page load is one request; the hashes let exactly this script and style run.
  const csp = `default-src 'self'; img-src 'self' data:; style-src ${sha256(css)}; script-src ${sha256(js)}; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`;
  const html = page(js, css);
  return { html, csp, bytes: Buffer.byteLength(html) };
}

function page(js: string, css: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>codex-flows</title>
<link rel="icon" href="data:,">
<style>${css}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/ui/runs">codex-flows</a>
<nav aria-label="Pages"><a href="/ui/overview">Overview</a><a href="/ui/runs">Runs</a><a href="/ui/events">Events</a><a href="/ui/flows">Flows</a><a href="/ui/schedules">Schedules</a><a href="/ui/hosts">Hosts</a><a href="/ui/audit">Audit</a><a href="/ui/search">Search</a></nav>
<span id="live" class="live" aria-live="polite"></span></header>
<main id="main" tabindex="-1"><p class="loading">Loading…</p></main>
<noscript>The dashboard needs JavaScript; the API is at <a href="/openapi">/openapi</a>.</noscript>
<script type="module">${js}</script>
</body>
</html>
`;
}
