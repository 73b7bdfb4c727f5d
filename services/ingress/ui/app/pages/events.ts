import type { Static } from "@sinclair/typebox";
import type { EventView } from "../../../schemas.ts";
import { get, watchChanges } from "../api.ts";
import { h, link, show, showKeepingFocus, table, time } from "../dom.ts";
import { navigate } from "../nav.ts";
import type { PageContext } from "../page.ts";
import { pagingNav } from "../paging.ts";

type Event = Static<typeof EventView>;
const PASSED = ["type", "source", "since", "until", "cursor"];

function filterForm(params: URLSearchParams): HTMLFormElement {
  const field = (name: string, label: string) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: `f-${name}` }, label),
      h("input", {
        id: `f-${name}`,
        name,
        value: params.get(name) ?? "",
        autocomplete: "off",
        placeholder: name === "since" || name === "until" ? "2026-12-01T10:00:00Z" : null,
      }),
    );
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter events" },
    field("type", "Type"),
    field("source", "Source"),
    field("since", "Received from"),
    field("until", "Received before"),
    h(
      "div",
      { class: "field actions" },
      h("button", { type: "submit" }, "Apply"),
      h("a", { href: "/ui/events", class: "button secondary" }, "Clear"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) next.set(k, String(v).trim());
    navigate(`/ui/events${next.size ? `?${next}` : ""}`);
  });
  return form;
}

/** The events page: type, source, received, matched count, runs; filters and paging in the URL; live. */
export async function eventsPage(ctx: PageContext): Promise<void> {
  const { main, params, signal } = ctx;
  const api = new URLSearchParams({ limit: "50" });
  for (const name of PASSED) if (params.get(name)) api.set(name, params.get(name)!);
  const results = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading events…"));
  let drawn = "";
  show(main, h("h1", {}, "Events"), filterForm(params), results);
  const load = async () => {
    try {
      const page = await get<{ events: Event[]; nextCursor?: string }>(`/events?${api}`, signal);
      ctx.ok();
      const text = JSON.stringify(page);
      if (text === drawn) return;
      drawn = text;
      const rows = page.events.map((e) =>
        h(
          "tr",
          { "data-event": e.id },
          h("td", {}, e.type),
          h("td", { class: "id" }, link(`/ui/events/${encodeURIComponent(e.id)}`, e.id)),
          h("td", {}, e.source ?? h("span", { class: "muted" }, "–")),
          h("td", {}, time(e.acceptedAt)),
          h(
            "td",
            { class: "num" },
            e.matchedCount === null ? h("span", { class: "muted", title: "not matched yet" }, "…") : e.matchedCount,
          ),
          h(
            "td",
            {},
            e.runIds.length
              ? link(
                  `/ui/runs?eventId=${encodeURIComponent(e.id)}`,
                  `${e.runIds.length} run${e.runIds.length === 1 ? "" : "s"}`,
                )
              : h("span", { class: "muted" }, "none"),
            e.generation > 0 ? h("span", { class: "muted small" }, ` · replayed ${e.generation}×`) : null,
          ),
        ),
      );
      const paging = pagingNav("/ui/events", params, page.nextCursor, "Pages of events");
      showKeepingFocus(
        results,
        rows.length
          ? table(["Type", "Event", "Source", "Received", "Matched", "Runs"], rows, "Events")
          : h("p", { class: "empty" }, "No events match these filters."),
        paging,
      );
    } catch (error) {
      if (!signal.aborted) ctx.fail(error);
    }
  };
  await load();
  void watchChanges(signal, load, ctx.live);
}
