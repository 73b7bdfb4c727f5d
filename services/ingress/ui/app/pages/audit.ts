import type { Static } from "@sinclair/typebox";
import type { AuditEntry } from "../../../audit/schemas.ts";
import { get, watchChanges } from "../api.ts";
import { h, link, show, showKeepingFocus, table, time } from "../dom.ts";
import { filterField, filterForm } from "../filters.ts";
import type { PageContext } from "../page.ts";
import { pagingNav } from "../paging.ts";

type Entry = Static<typeof AuditEntry>;
const ACTIONS = ["cancel", "retry", "replay", "bulk-replay", "pause", "resume", "purge"];
const PASSED = ["action", "actor", "flow", "since", "until", "cursor"];

function filters(params: URLSearchParams): HTMLFormElement {
  const action = h(
    "select",
    { id: "f-action", name: "action" },
    h("option", { value: "" }, "any"),
    ...ACTIONS.map((a) => h("option", { value: a, selected: params.get("action") === a }, a)),
  );
  return filterForm("/ui/audit", "Filter the audit log", [
    h("div", { class: "field" }, h("label", { for: "f-action" }, "Action"), action),
    filterField(params, "actor", "Actor (token name)"),
    filterField(params, "flow", "Flow"),
    filterField(params, "since", "From"),
    filterField(params, "until", "Before"),
  ]);
}

/** What an action was taken on, linked to its page where there is one. */
function target(e: Entry): Node {
  if (e.runId) return link(`/ui/runs/${encodeURIComponent(e.runId)}`, e.runId);
  if (e.eventId) return link(`/ui/events/${encodeURIComponent(e.eventId)}`, e.eventId);
  if (e.flow) return link("/ui/flows", e.step ? `${e.flow}/${e.step}` : e.flow);
  return h("span", { class: "muted" }, "–");
}

/** The audit page: who did what, when and why, newest first; filters and paging in the URL; live. */
export async function auditPage(ctx: PageContext): Promise<void> {
  const { main, params, signal } = ctx;
  const api = new URLSearchParams({ limit: "50" });
  for (const name of PASSED) if (params.get(name)) api.set(name, params.get(name)!);
  const results = h("div", {}, h("p", { class: "loading", role: "status" }, "Loading the audit log…"));
  let drawn = "";
  show(main, h("h1", {}, "Audit"), filters(params), results);
  const load = async () => {
    try {
      const page = await get<{ entries: Entry[]; nextCursor?: string }>(`/audit?${api}`, signal);
      ctx.ok();
      const text = JSON.stringify(page);
      if (text === drawn) return;
      drawn = text;
      const rows = page.entries.map((e) =>
        h(
          "tr",
          { "data-audit": String(e.seq) },
          h("td", {}, time(e.at)),
          h("td", {}, e.actor),
          h("td", {}, e.action),
          h("td", { class: "id" }, target(e)),
          h("td", {}, e.reason ?? h("span", { class: "muted" }, "–")),
          h("td", { class: "small" }, e.summary),
        ),
      );
      const paging = pagingNav("/ui/audit", params, page.nextCursor, "Pages of the audit log");
      showKeepingFocus(
        results,
        rows.length
          ? table(["When", "Actor", "Action", "Target", "Reason", "Request"], rows, "Operator actions, newest first")
          : h("p", { class: "empty" }, "No operator actions match these filters."),
        paging,
      );
    } catch (error) {
      if (!signal.aborted) ctx.fail(error);
    }
  };
  await load();
  void watchChanges(signal, load, ctx.live);
}
