import type { Static } from "@sinclair/typebox";
import type { EventView } from "../../../schemas.ts";
import { get, watchChanges } from "../api.ts";
import { h, link, show, showKeepingFocus, table, time } from "../dom.ts";
import { filterField, filterForm } from "../filters.ts";
import type { PageContext } from "../page.ts";
import { pagingNav } from "../paging.ts";
import { replaySection } from "../replay.ts";

type Event = Static<typeof EventView>;
const PASSED = ["type", "source", "since", "until", "cursor"];

function filters(params: URLSearchParams): HTMLFormElement {
  return filterForm("/ui/events", "Filter events", [
    filterField(params, "type", "Type"),
    filterField(params, "source", "Source"),
    filterField(params, "since", "Received from"),
    filterField(params, "until", "Received before"),
    filterField(params, "flow", "Only flow (replay)"),
  ]);
}

/**
 * The events page: type, source, received, matched count, runs; filters and paging in the
 * URL; live. Events can be picked (kept across live updates) and replayed, or all a filter names.
 */
export async function eventsPage(ctx: PageContext): Promise<void> {
  const { main, params, signal } = ctx;
  const api = new URLSearchParams({ limit: "50" });
  for (const name of PASSED) if (params.get(name)) api.set(name, params.get(name)!);
  const results = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading events…"));
  let drawn = "";
  // The events picked for a replay: kept across live redraws.
  const picked = new Set<string>();
  const replay = replaySection(params, picked);
  show(main, h("h1", {}, "Events"), filters(params), replay.section, results);
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
          replay.pick(e.id),
        ),
      );
      const paging = pagingNav("/ui/events", params, page.nextCursor, "Pages of events");
      showKeepingFocus(
        results,
        rows.length
          ? table(["Type", "Event", "Source", "Received", "Matched", "Runs", "Pick"], rows, "Events")
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
