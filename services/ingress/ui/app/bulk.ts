/** Bulk cancel on the runs page: the filter in the URL, a dry-run count first, then the cancel on confirmation. */
import type { BulkAnswer } from "../../runs/bulk-schemas.ts";
import { post } from "./api.ts";
import { h, show } from "./dom.ts";

const CANCELABLE = new Set(["queued", "running"]);
const CARRIED = ["flow", "step", "eventId", "host", "since", "until"];

/** The POST /bulk/cancel filter for the runs the page's URL lists, or why there is none. */
export function cancelFilter(params: URLSearchParams): { filter: Record<string, string> } | { why: string } {
  const status = params.get("status");
  if (params.get("needsAttention")) return { why: "Runs that need attention have ended: there is nothing to cancel." };
  if (status && !CANCELABLE.has(status)) return { why: `${status.replace(/_/g, " ")} runs have ended: only queued or running runs can be canceled.` };
  const filter: Record<string, string> = {};
  for (const name of CARRIED) if (params.get(name)) filter[name] = params.get(name)!;
  if (status) filter.status = status;
  if (Object.keys(filter).length === 0) return { why: "Filter the runs first (a flow, step, host, status or time range): a bulk cancel of every live run is not offered." };
  return { filter };
}

/** A section that asks the API how many runs the filter would cancel, then cancels them when confirmed. */
export function bulkCancelSection(params: URLSearchParams): HTMLElement {
  const picked = cancelFilter(params);
  const answer = h("div", { class: "bulk-answer", role: "status", "aria-live": "polite" });
  const ask = h("button", { type: "button", class: "secondary", "data-key": "bulk-count" }, "Cancel runs matching these filters…");
  const section = h("section", { class: "bulk", "aria-label": "Bulk cancel", "data-needs": "operate", "data-flow": params.get("flow") ?? "" }, ask, answer);
  if ("why" in picked) {
    ask.disabled = true;
    show(answer, h("p", { class: "muted" }, picked.why));
    return section;
  }
  const report = (text: string, ok: boolean) => show(answer, h("p", { class: `answer ${ok ? "ok" : "error"}` }, text));
  ask.addEventListener("click", async () => {
    ask.disabled = true;
    show(answer, h("p", { class: "loading" }, "Counting…"));
    const dry = await post<BulkAnswer & { error?: string }>("/bulk/cancel", { filter: picked.filter, dryRun: true });
    ask.disabled = false;
    if (dry.status !== 200) return report(`Count failed (${dry.status}): ${dry.body.error ?? JSON.stringify(dry.body)}`, false);
    const n = dry.body.runs.length;
    if (n === 0) return report("No queued or running run matches these filters: nothing to cancel.", true);
    const confirm = h("button", { type: "button", class: "danger", "data-key": "bulk-confirm" }, `Cancel ${n} run${n === 1 ? "" : "s"}`);
    const keep = h("button", { type: "button", class: "secondary" }, "Keep them");
    const more = dry.body.remaining ? ` (${dry.body.matched} match; a request cancels ${n}, ask again for the rest)` : "";
    show(answer, h("p", { class: "dry-run" }, h("strong", {}, `${dry.body.matched} run${dry.body.matched === 1 ? "" : "s"} would be canceled`), more, ": ", dry.body.runs.slice(0, 5).map((r) => `${r.flowName}/${r.stepName} (${r.status})`).join(", "), n > 5 ? ", …" : ""), h("div", { class: "actions" }, confirm, " ", keep));
    keep.addEventListener("click", () => {
      show(answer);
      ask.focus();
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      const done = await post<BulkAnswer & { error?: string }>("/bulk/cancel", { ids: dry.body.runs.map((r) => r.id), dryRun: false });
      if (done.status !== 200) return report(`Cancel failed (${done.status}): ${done.body.error ?? JSON.stringify(done.body)}`, false);
      const skipped = done.body.skipped.length ? `; ${done.body.skipped.length} had ended or were being canceled meanwhile` : "";
      report(`Canceled ${done.body.runs.length} run${done.body.runs.length === 1 ? "" : "s"}${skipped}.`, true);
    });
    confirm.focus();
  });
  return section;
}
