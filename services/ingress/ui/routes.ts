import { Elysia } from "elysia";
import { dashboardAssets } from "./build.ts";

/**
 * The dashboard: `/` redirects to `/ui/`; every `/ui/...` path is the one page (its
 * script routes by path, so a view's URL can be shared), bundled at start (build.ts).
 * The page holds no data: everything it shows comes from the API with the same token
 * rules. Its Content-Security-Policy lets only its own inline script and style run and
 * only this origin be fetched.
 */
export function uiRoutes() {
  void dashboardAssets().catch(() => undefined); // start bundling now; a failure is answered per request
  const hide = { detail: { hide: true } };
  const html = async () => {
    const { html, csp } = await dashboardAssets();
    return new Response(html, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      },
    });
  };
  return (
    new Elysia({ name: "ui" })
      .get("/", ({ redirect }) => redirect("/ui/", 302), hide)
      // Elysia matches /ui and /ui/ alike: both are the page.
      .get("/ui", html, hide)
      .get("/ui/*", html, hide)
  );
}
