import type { RunView } from "../../schemas.ts";
import { badge, duration, h, link, table, time } from "./dom.ts";

export type { RunView };

/** A run's duration: recorded when it ended, counted up to now while it runs. */
export function runDuration(run: RunView): string {
  if (run.durationMs !== null) return duration(run.durationMs);
  if (run.status === "running" && run.startedAt) return `${duration(Date.now() - Date.parse(run.startedAt))} so far`;
  return "–";
}

/** The status cell: the effective status, and a visible marker (not only a colour) when it needs a person. */
export function statusCell(run: RunView): HTMLElement {
  const title = run.effectiveStatus === run.status ? undefined : `process status: ${run.status}`;
  return h(
    "td",
    {},
    badge(run.effectiveStatus, title),
    run.needsAttention ? h("span", { class: "attention-mark" }, "needs attention") : null,
    run.waiting ? h("div", { class: "muted small" }, run.waiting) : null,
  );
}

/** When it started; a run that never started says so, with when it was queued (its createdAt) shown as such. */
export function startedCell(run: RunView): HTMLElement {
  if (run.startedAt) return h("td", {}, time(run.startedAt));
  return h(
    "td",
    { class: "not-started" },
    h("span", { class: "muted" }, "not started"),
    h("div", { class: "muted small" }, "queued ", time(run.createdAt)),
  );
}

/** Runs as a table: status, flow, step, event, host, attempts, started, duration. Needs-attention rows stand out. */
export function runsTable(runs: RunView[], caption = "Runs", picked?: Set<string>): HTMLElement {
  // With `picked`: a last column with a checkbox per run that keeps the set of picked ids (for bulk actions).
  const pick = (run: RunView) =>
    picked
      ? h(
          "td",
          {},
          h("input", {
            type: "checkbox",
            class: "pick",
            "aria-label": `pick ${run.flowName} / ${run.stepName} ${run.id}`,
            checked: picked.has(run.id),
            "data-key": `pick ${run.id}`,
            onchange: (e: Event) =>
              (e.target as HTMLInputElement).checked ? picked.add(run.id) : picked.delete(run.id),
          }),
        )
      : null;
  const rows = runs.map((run) =>
    h(
      "tr",
      { class: run.needsAttention ? "attention" : null, "data-run": run.id, "data-status": run.effectiveStatus },
      statusCell(run),
      h("td", {}, link(`/ui/runs/${encodeURIComponent(run.id)}`, run.flowName)),
      h("td", {}, link(`/ui/runs/${encodeURIComponent(run.id)}`, run.stepName)),
      h("td", { class: "id" }, link(`/ui/events/${encodeURIComponent(run.eventId)}`, run.eventId)),
      h("td", {}, run.host ?? h("span", { class: "muted" }, "–")),
      h("td", { class: "num" }, run.attemptCount),
      startedCell(run),
      h("td", { class: "num" }, runDuration(run)),
      pick(run),
    ),
  );
  return table(
    ["Status", "Flow", "Step", "Event", "Host", "Attempts", "Started", "Duration", ...(picked ? ["Pick"] : [])],
    rows,
    caption,
  );
}
