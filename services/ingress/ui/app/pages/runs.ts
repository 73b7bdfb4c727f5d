import { RUN_STATUSES } from "../../../../../lib/protocol/status.ts";
import { get, watchChanges } from "../api.ts";
import { bulkSection } from "../bulk.ts";
import { h, show, showKeepingFocus } from "../dom.ts";
import { navigate } from "../nav.ts";
import type { PageContext } from "../page.ts";
import { pagingNav } from "../paging.ts";
import { type RunView, runsTable } from "../runs-table.ts";

const STATUSES = RUN_STATUSES;
/** The URL's parameters that GET /runs takes as they are. */
const PASSED = ["eventId", "status", "needsAttention", "flow", "step", "host", "since", "until", "cursor", "limit"];

/** datetime-local wants local time without a zone; the URL keeps ISO (UTC). */
function localInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function filterForm(params: URLSearchParams): HTMLFormElement {
  const status = params.get("needsAttention") === "true" ? "attention" : (params.get("status") ?? "");
  const field = (name: string, label: string, input: HTMLElement) =>
    h("div", { class: "field" }, h("label", { for: `f-${name}` }, label), input);
  const text = (name: string) =>
    h("input", { id: `f-${name}`, name, value: params.get(name) ?? "", autocomplete: "off" });
  const select = h(
    "select",
    { id: "f-status", name: "status" },
    h("option", { value: "" }, "any"),
    h("option", { value: "attention", selected: status === "attention" }, "needs attention"),
    STATUSES.map((s) => h("option", { value: s, selected: status === s }, s.replace("_", " "))),
  );
  const since = h("input", {
    id: "f-since",
    name: "since",
    type: "datetime-local",
    value: localInput(params.get("since")),
  });
  const until = h("input", {
    id: "f-until",
    name: "until",
    type: "datetime-local",
    value: localInput(params.get("until")),
  });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter runs" },
    field("status", "Status", select),
    field("flow", "Flow", text("flow")),
    field("step", "Step", text("step")),
    field("host", "Host", text("host")),
    field("since", "Created from", since),
    field("until", "Created before", until),
    h(
      "div",
      { class: "field actions" },
      h("button", { type: "submit" }, "Apply"),
      h("a", { href: "/ui/runs", class: "button secondary" }, "Clear"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const data = new FormData(form);
    const value = (name: string) => String(data.get(name) ?? "").trim();
    if (value("status") === "attention") next.set("needsAttention", "true");
    else if (value("status")) next.set("status", value("status"));
    for (const name of ["flow", "step", "host"]) if (value(name)) next.set(name, value(name));
    for (const name of ["since", "until"]) if (value(name)) next.set(name, new Date(value(name)).toISOString());
    const query = next.toString();
    navigate(`/ui/runs${query ? `?${query}` : ""}`);
  });
  return form;
}

/** The runs page: filters and cursor paging in the URL, updated live while open. */
export async function runsPage(ctx: PageContext): Promise<void> {
  const { main, params, signal } = ctx;
  const api = new URLSearchParams({ limit: "50" });
  for (const name of PASSED) {
    const value = params.get(name);
    if (value) api.set(name, value);
  }
  const results = h("div", { "aria-busy": "true" }, h("p", { class: "loading", role: "status" }, "Loading runs…"));
  let drawn = "";
  // The runs picked for a bulk action: kept across live redraws.
  const picked = new Set<string>();
  const eventId = params.get("eventId");
  const scope = eventId
    ? h(
        "p",
        {},
        "Runs of event ",
        h("a", { href: `/ui/events/${encodeURIComponent(eventId)}` }, eventId),
        " · ",
        h("a", { href: "/ui/runs" }, "all runs"),
      )
    : null;
  show(main, h("h1", {}, "Runs"), scope, filterForm(params), bulkSection(params, picked), results);
  const load = async () => {
    try {
      const page = await get<{ runs: RunView[]; nextCursor?: string }>(`/runs?${api}`, signal);
      if (signal.aborted) return;
      ctx.ok();
      // Unchanged rows are left alone: no flicker, no lost focus, nothing re-announced.
      const text = JSON.stringify(page);
      if (text === drawn) return;
      drawn = text;
      const paging = pagingNav("/ui/runs", params, page.nextCursor, "Pages of runs");
      const attention = page.runs.filter((r) => r.needsAttention).length;
      showKeepingFocus(
        results,
        h(
          "p",
          { class: "summary", role: "status" },
          `${page.runs.length} run${page.runs.length === 1 ? "" : "s"} on this page`,
          attention
            ? h("strong", { class: "attention-count" }, ` · ${attention} need${attention === 1 ? "s" : ""} attention`)
            : null,
        ),
        page.runs.length
          ? runsTable(page.runs, "Runs", picked)
          : h("p", { class: "empty" }, "No runs match these filters."),
        paging,
      );
      results.setAttribute("aria-busy", "false");
      if (!document.body.dataset.ready) {
        document.body.dataset.ready = "runs";
        performance.mark("dashboard-ready");
      }
    } catch (error) {
      if (signal.aborted) return;
      ctx.fail(error);
    }
  };
  await load();
  void watchChanges(signal, load, ctx.live);
}
