import { Elysia } from "elysia";
import { dashboardAssets } from "./build.ts";

/** Only this origin: the dashboard loads nothing from anywhere else. */
const SECURITY = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

function asset(body: string, type: string, version: string, request: Request): Response {
  // The page names each asset with ?v=<hash of the bundle>, so a versioned request may be kept forever.
  const immutable = new URL(request.url).searchParams.get("v") === version;
  const headers = { ...SECURITY, "content-type": type, etag: `"${version}"`, "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache" };
  if (request.headers.get("if-none-match") === `"${version}"`) return new Response(null, { status: 304, headers });
  return new Response(body, { headers });
}

/**
 * The dashboard: `/` redirects to `/ui/`; every `/ui/...` path is the one page
 * (the script routes by path, so a view's URL can be shared); its assets are bundled at
 * start (build.ts). The page holds no data: everything it shows comes from the API
 * with the same token rules.
 */
export function uiRoutes() {
  void dashboardAssets().catch(() => undefined); // start bundling now; a failure is answered per request
  const hide = { detail: { hide: true } };
  const html = async () => new Response((await dashboardAssets()).html, { headers: { ...SECURITY, "content-type": "text/html; charset=utf-8", "cache-control": "no-cache" } });
  return new Elysia({ name: "ui" })
    .get("/", ({ redirect }) => redirect("/ui/", 302), hide)
    .get("/ui/assets/app.js", async ({ request }) => { const a = await dashboardAssets(); return asset(a.js, "text/javascript; charset=utf-8", a.version, request); }, hide)
    .get("/ui/assets/app.css", async ({ request }) => { const a = await dashboardAssets(); return asset(a.css, "text/css; charset=utf-8", a.version, request); }, hide)
    // Elysia matches /ui and /ui/ alike: both are the page.
    .get("/ui", html, hide)
    .get("/ui/*", html, hide);
}
