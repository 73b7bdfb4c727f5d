/** Bulk cancel and retry on the runs page: the filter in the URL, a dry-run count first, then the action on confirmation. */
import type { BulkAnswer } from "../../runs/bulk-schemas.ts";
import { post } from "./api.ts";
import { h, show } from "./dom.ts";

type Verb = "cancel" | "retry";
const LIVE = new Set(["queued", "running"]);
const CARRIED = ["flow", "step", "eventId", "host", "since", "until"];
const WORDS: Record<Verb, { ask: string; past: string; would: string; none: string }> = {
  cancel: {
    ask: "Cancel",
    past: "Canceled",
    would: "would be canceled",
    none: "No run that has not ended (queued, running or awaiting approval) matches these filters: nothing to cancel.",
  },
  retry: {
    ask: "Retry",
    past: "Retried",
    would: "would be retried",
    none: "No run that ended matches these filters: nothing to retry.",
  },
};

/** The POST /bulk/<verb> filter for the runs the page's URL lists, or why there is none. */
export function bulkFilter(params: URLSearchParams, verb: Verb): { filter: Record<string, string> } | { why: string } {
  const status = params.get("status");
  if (params.get("needsAttention"))
    return verb === "cancel"
      ? { why: "Runs that need attention have ended: there is nothing to cancel." }
      : { why: "Pick a status (failed, timed out, …) to retry by filter." };
  if (status && verb === "cancel" && !LIVE.has(status))
    return {
      why: `${status.replace(/_/g, " ")} runs have ended: only runs that have not ended (queued, running or awaiting approval) can be canceled.`,
    };
  if (status && verb === "retry" && LIVE.has(status))
    return { why: `${status} runs have not ended: only runs that ended can be retried.` };
  const filter: Record<string, string> = {};
  for (const name of CARRIED) if (params.get(name)) filter[name] = params.get(name)!;
  if (status) filter.status = status;
  if (Object.keys(filter).length === 0)
    return { why: "Filter the runs first (a flow, step, host, status or time range) for bulk cancel or retry." };
  return { filter };
}

/** One verb's button: asks the API how many runs the filter names, then acts on exactly those when confirmed. */
function bulkAction(
  params: URLSearchParams,
  verb: Verb,
  answer: HTMLElement,
  picks?: Set<string>,
): HTMLButtonElement | null {
  const picked = picks ? { ids: picks } : bulkFilter(params, verb);
  if ("why" in picked) return null;
  const words = WORDS[verb];
  const ask = h(
    "button",
    { type: "button", class: "secondary", "data-key": `bulk-${verb}${picks ? "-picked" : ""}` },
    picks ? `${words.ask} picked runs…` : `${words.ask} runs matching these filters…`,
  );
  const report = (text: string, ok: boolean) => show(answer, h("p", { class: `answer ${ok ? "ok" : "error"}` }, text));
  ask.addEventListener("click", async () => {
    ask.disabled = true;
    show(answer, h("p", { class: "loading" }, "Counting…"));
    if ("ids" in picked && picked.ids.size === 0)
      return report("Pick runs first (the checkboxes in the table).", false);
    const dry = await post<BulkAnswer & { error?: string }>(
      `/bulk/${verb}`,
      "ids" in picked ? { ids: [...picked.ids].slice(0, 500), dryRun: true } : { filter: picked.filter, dryRun: true },
    );
    ask.disabled = false;
    if (dry.status !== 200)
      return report(`Count failed (${dry.status}): ${dry.body.error ?? JSON.stringify(dry.body)}`, false);
    const n = dry.body.runs.length;
    if (n === 0)
      return report(
        "ids" in picked
          ? `None of the picked runs can be ${verb === "cancel" ? "canceled" : "retried"}: ${dry.body.skipped.map((s) => s.why).join("; ")}.`
          : words.none,
        true,
      );
    const confirm = h(
      "button",
      { type: "button", class: verb === "cancel" ? "danger" : null, "data-key": `bulk-${verb}-confirm` },
      `${words.ask} ${n} run${n === 1 ? "" : "s"}`,
    );
    const keep = h("button", { type: "button", class: "secondary" }, "Leave them");
    const more = dry.body.remaining ? ` (${dry.body.matched} match; a request takes ${n}, ask again for the rest)` : "";
    show(
      answer,
      h(
        "p",
        { class: "dry-run" },
        h("strong", {}, `${dry.body.matched} run${dry.body.matched === 1 ? "" : "s"} ${words.would}`),
        more,
        ": ",
        dry.body.runs
          .slice(0, 5)
          .map((r) => `${r.flowName}/${r.stepName} (${r.status.replace(/_/g, " ")})`)
          .join(", "),
        n > 5 ? ", …" : "",
      ),
      h("div", { class: "actions" }, confirm, " ", keep),
    );
    keep.addEventListener("click", () => {
      show(answer);
      ask.focus();
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      const done = await post<BulkAnswer & { error?: string }>(`/bulk/${verb}`, {
        ids: dry.body.runs.map((r) => r.id),
        dryRun: false,
      });
      if (done.status !== 200)
        return report(`${words.ask} failed (${done.status}): ${done.body.error ?? JSON.stringify(done.body)}`, false);
      const skipped = done.body.skipped.length
        ? `; ${done.body.skipped.length} changed meanwhile and were left alone`
        : "";
      report(`${words.past} ${done.body.runs.length} run${done.body.runs.length === 1 ? "" : "s"}${skipped}.`, true);
    });
    confirm.focus();
  });
  return ask;
}

/** Bulk cancel and retry of the runs picked, or of all the filters list (an operate token; hidden for read tokens). */
export function bulkSection(params: URLSearchParams, picks: Set<string>): HTMLElement {
  const answer = h("div", { class: "bulk-answer", role: "status", "aria-live": "polite" });
  const verbs = ["cancel", "retry"] as const;
  const buttons = [
    ...verbs.map((verb) => bulkAction(params, verb, answer, picks)),
    ...verbs.map((verb) => bulkAction(params, verb, answer)),
  ].filter((b) => b !== null);
  const why =
    buttons.length === 2
      ? h(
          "p",
          { class: "muted small" },
          "Or filter the runs (a flow, step, host, status or time range) to cancel or retry all that match.",
        )
      : null;
  return h(
    "section",
    { class: "bulk", "aria-label": "Bulk actions", "data-needs": "operate", "data-flow": params.get("flow") ?? "" },
    buttons.length
      ? h(
          "div",
          { class: "actions" },
          buttons.flatMap((b) => [b, " "]),
        )
      : null,
    why,
    answer,
  );
}
