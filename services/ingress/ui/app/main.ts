/**
 * The dashboard's entry: a path router over /ui/..., the token prompt, and the live
 * indicator. Each page renders into <main>; its signal aborts (stopping its polls and
 * streams) when the reader navigates away.
 */
performance.mark("dashboard-start");

import { setToken, TokenNeeded } from "./api.ts";
import { errorBox, h, show } from "./dom.ts";
import { navigate } from "./nav.ts";
import type { PageContext } from "./page.ts";
import { auditPage } from "./pages/audit.ts";
import { chainPage } from "./pages/chain.ts";
import { eventPage } from "./pages/event.ts";
import { eventsPage } from "./pages/events.ts";
import { flowsPage } from "./pages/flows.ts";
import { hostsPage } from "./pages/hosts.ts";
import { overviewPage } from "./pages/overview.ts";
import { runPage } from "./pages/run.ts";
import { runsPage } from "./pages/runs.ts";
import { schedulesPage } from "./pages/schedules.ts";
import { searchPage } from "./pages/search.ts";
import { forgetRole, learnRole } from "./role.ts";

/** What every page gets: where to draw, the URL's query, a signal that aborts on navigation, and how to report trouble. */
type Page = (ctx: PageContext, id?: string) => void | Promise<void>;

const ROUTES: [RegExp, Page, string][] = [
  [/^\/ui\/?$/, runsPage, "Runs"],
  [/^\/ui\/runs\/?$/, runsPage, "Runs"],
  [/^\/ui\/runs\/([^/]+)$/, runPage, "Run"],
  [/^\/ui\/events\/?$/, eventsPage, "Events"],
  [/^\/ui\/events\/([^/]+)$/, eventPage, "Event"],
  [/^\/ui\/events\/([^/]+)\/chain$/, chainPage, "Chain"],
  [/^\/ui\/flows\/?$/, flowsPage, "Flows"],
  [/^\/ui\/hosts\/?$/, hostsPage, "Hosts"],
  [/^\/ui\/overview\/?$/, overviewPage, "Overview"],
  [/^\/ui\/schedules\/?$/, schedulesPage, "Schedules"],
  [/^\/ui\/audit\/?$/, auditPage, "Audit"],
  [/^\/ui\/search\/?$/, searchPage, "Search"],
];

let current: AbortController | undefined;

function liveIndicator(ok: boolean, problem?: string): void {
  const el = document.getElementById("live");
  if (!el) return;
  el.textContent = ok ? "● live" : "○ reconnecting";
  el.className = ok ? "live on" : "live off";
  el.title = problem ?? (ok ? "updates as the read model changes" : "");
}

function tokenForm(main: HTMLElement, refused: boolean): void {
  const input = h("input", {
    id: "token",
    type: "password",
    autocomplete: "current-password",
    required: true,
    "aria-describedby": "token-help",
  });
  const form = h(
    "form",
    {
      class: "token",
      onsubmit: (event: Event) => {
        event.preventDefault();
        setToken(input.value.trim());
        forgetRole();
        void render();
      },
    },
    h("h1", {}, "Token needed"),
    refused ? h("p", { class: "error", role: "alert" }, "The API refused that token.") : null,
    h(
      "p",
      { id: "token-help" },
      "This backend asks for its CODEX_FLOW_BACKEND_TOKEN. It is kept for this tab only (sessionStorage) and sent as a header.",
    ),
    h("label", { for: "token" }, "Token"),
    input,
    h("button", { type: "submit" }, "Continue"),
  );
  show(main, form);
  input.focus();
}

let tokenRefused = false;

async function render(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const main = document.getElementById("main")!;
  const path = location.pathname;
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
    if (path.startsWith(a.pathname) || (a.pathname === "/ui/runs" && /^\/ui\/?$/.test(path)))
      a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  show(main, h("p", { class: "loading", role: "status" }, "Loading…"));
  const live = document.getElementById("live");
  if (live) live.textContent = "";
  const fail = (error: unknown) => {
    if (controller.signal.aborted) return;
    if (error instanceof TokenNeeded) {
      controller.abort();
      tokenForm(main, tokenRefused);
      tokenRefused = true;
      return;
    }
    const box = errorBox(error);
    box.id = "page-error";
    for (const placeholder of main.querySelectorAll(".loading")) placeholder.remove();
    document.getElementById("page-error")?.remove();
    main.prepend(box);
  };
  const ok = () => document.getElementById("page-error")?.remove();
  if (!route) return show(main, h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, path), "."));
  const [pattern, page, title] = route;
  const id = pattern.exec(path)?.[1];
  document.title = `${title} · codex-flows`;
  try {
    await learnRole();
    await page(
      { main, params: new URLSearchParams(location.search), signal: controller.signal, fail, ok, live: liveIndicator },
      id === undefined ? undefined : decodeURIComponent(id),
    );
    if (!controller.signal.aborted) tokenRefused = false;
  } catch (error) {
    fail(error);
  }
}

document.addEventListener("click", (event) => {
  const a = (event.target as Element).closest?.("a");
  if (
    !a ||
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey
  )
    return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith("/ui/") || a.target) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", () => void render());
void render();
