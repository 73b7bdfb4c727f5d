import type { SearchView } from "../../../search/schemas.ts";
import { get } from "../api.ts";
import { badge, h, link, show, table, time } from "../dom.ts";
import { navigate } from "../nav.ts";
import type { PageContext } from "../page.ts";

const PASSED = ["q", "type", "flow", "kind"];

function searchForm(params: URLSearchParams): HTMLFormElement {
  const field = (name: string, label: string, hint?: string) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: `s-${name}` }, label),
      h("input", {
        id: `s-${name}`,
        name,
        value: params.get(name) ?? "",
        autocomplete: "off",
        type: name === "q" ? "search" : "text",
        placeholder: hint ?? null,
      }),
    );
  const kind = h(
    "select",
    { id: "s-kind", name: "kind" },
    [
      ["", "Events and runs"],
      ["event", "Events"],
      ["run", "Runs"],
    ].map(([value, text]) => h("option", { value, selected: (params.get("kind") ?? "") === value }, text)),
  );
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Search events and runs" },
    field("q", "Words or an id", "release 0.169.0, run-…, evt-…"),
    field("type", "Event type"),
    field("flow", "Flow"),
    h("div", { class: "field" }, h("label", { for: "s-kind" }, "Show"), kind),
    h(
      "div",
      { class: "field actions" },
      h("button", { type: "submit" }, "Search"),
      h("a", { href: "/ui/search", class: "button secondary" }, "Clear"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) next.set(k, String(v).trim());
    navigate(`/ui/search${next.size ? `?${next}` : ""}`);
  });
  return form;
}

/** A hit's snippet: the indexed text around the words, the words marked. */
function snippet(parts: SearchView["events"][number]["snippet"], exact: boolean): HTMLElement {
  if (exact) return h("span", { class: "exact-mark" }, "this id");
  if (!parts) return h("span", { class: "muted" }, "–");
  return h(
    "span",
    { class: "snippet" },
    parts.map((p) => (p.match ? h("mark", {}, p.text) : p.text)),
  );
}

/** Search: events and runs by id and by words in their payloads and results (GET /search), every field in the URL. */
export async function searchPage(ctx: PageContext): Promise<void> {
  const { main, params, signal } = ctx;
  const api = new URLSearchParams();
  for (const name of PASSED) if (params.get(name)) api.set(name, params.get(name)!);
  const form = searchForm(params);
  const results = h("div", { "aria-live": "polite" });
  show(main, h("h1", {}, "Search"), form, results);
  if (api.size === 0) {
    show(
      results,
      h(
        "p",
        { class: "muted" },
        "Find an event or a run by its id, or by words in its type, flow, step, payload, result or error; narrow by event type and flow.",
      ),
    );
    form.querySelector<HTMLInputElement>("#s-q")?.focus();
    return;
  }
  const answer = await get<SearchView>(`/search?${api}`, signal);
  const eventRows = answer.events.map((e) =>
    h(
      "tr",
      { "data-event": e.id, class: e.exact ? "exact" : null },
      h("td", { class: "id" }, link(`/ui/events/${encodeURIComponent(e.id)}`, e.id)),
      h("td", {}, e.type),
      h("td", {}, time(e.acceptedAt)),
      h("td", {}, snippet(e.snippet, e.exact)),
    ),
  );
  const runRows = answer.runs.map((r) =>
    h(
      "tr",
      { "data-run": r.id, class: r.exact ? "exact" : null },
      h("td", { class: "id" }, link(`/ui/runs/${encodeURIComponent(r.id)}`, r.id)),
      h("td", {}, `${r.flowName} / ${r.stepName}`),
      h("td", {}, badge(r.resultStatus ?? r.status)),
      h("td", {}, time(r.createdAt)),
      h("td", {}, snippet(r.snippet, r.exact)),
    ),
  );
  const kind = params.get("kind") ?? "";
  show(
    results,
    answer.more
      ? h("p", { class: "muted", role: "note" }, "More matched than are shown: add words or a filter.")
      : null,
    kind !== "run"
      ? [
          h("h2", {}, `Events (${answer.events.length}${answer.more ? "+" : ""})`),
          eventRows.length
            ? table(["Event", "Type", "Received", "Found in"], eventRows, "Events found")
            : h("p", { class: "empty" }, "No events found."),
        ]
      : null,
    kind !== "event"
      ? [
          h("h2", {}, `Runs (${answer.runs.length}${answer.more ? "+" : ""})`),
          runRows.length
            ? table(["Run", "Flow / step", "Status", "Created", "Found in"], runRows, "Runs found")
            : h("p", { class: "empty" }, "No runs found."),
        ]
      : null,
  );
  document.body.dataset.ready = "search";
  performance.mark("dashboard-ready");
  ctx.ok();
}
