import type { Static } from "@sinclair/typebox";
import type { FlowsView, StepView } from "../../../flows/schemas.ts";
import { get } from "../api.ts";
import { duration, h, jsonBlock, link, show } from "../dom.ts";
import type { PageContext } from "../main.ts";
import { schemaView } from "../schema.ts";

function policy(step: StepView): string {
  const p = step.policy;
  const backoff = p.backoff as { kind: string; baseMs?: number; maxMs?: number; delaysMs?: number[] };
  const parts = [`${p.retries} retr${p.retries === 1 ? "y" : "ies"}`];
  if (p.retries > 0) parts.push(backoff.kind === "list" ? `backoff ${backoff.delaysMs?.map((d) => duration(d)).join(", ")}` : `backoff from ${duration(backoff.baseMs)} to ${duration(backoff.maxMs)}`);
  parts.push(`timeout ${duration(step.timeoutMs)}`);
  if (p.runsOn) parts.push(`runs on ${p.runsOn}`);
  if (p.concurrency) parts.push(`concurrency group ${p.concurrency}`);
  return parts.join(" · ");
}

function stepCard(flow: string, step: StepView): HTMLElement {
  return h(
    "article",
    { class: "step", "aria-label": `${flow} / ${step.name}` },
    h("h3", {}, step.name, " ", h("span", { class: "muted small" }, `${step.runner} · ${step.script}`)),
    h("dl", { class: "facts" }, h("dt", {}, "Trigger"), h("dd", {}, h("code", {}, step.trigger.type), step.trigger.schema ? ` with ${step.trigger.schema}` : ""), h("dt", {}, "Policies"), h("dd", {}, policy(step)), h("dt", {}, "Queue"), h("dd", {}, step.queue), h("dt", {}, "Runs"), h("dd", {}, link(`/ui/runs?flow=${encodeURIComponent(flow)}&step=${encodeURIComponent(step.name)}`, "see its runs"))),
    step.schemaError ? h("p", { class: "error" }, step.schemaError) : null,
    step.schema !== null ? h("details", { open: true }, h("summary", {}, "Payload schema"), schemaView(step.schema), h("details", {}, h("summary", {}, "as JSON"), jsonBlock(step.schema))) : h("p", { class: "muted" }, "No schema: any payload of this type matches."),
  );
}

/** The catalog: each flow's steps with trigger, schema, runner and policies; flows that failed to load first. */
export async function flowsPage(ctx: PageContext): Promise<void> {
  const catalog = await get<Static<typeof FlowsView>>("/flows", ctx.signal);
  show(
    ctx.main,
    h("h1", {}, "Flows"),
    catalog.problems.length
      ? h("section", { class: "problems", "aria-labelledby": "problems-h" }, h("h2", { id: "problems-h" }, `Load errors (${catalog.problems.length})`), h("ul", {}, catalog.problems.map((p) => h("li", {}, h("code", {}, p.path), h("div", {}, p.message)))))
      : null,
    catalog.flows.length ? null : h("p", { class: "empty" }, "No flows are loaded in the ingress's working directory."),
    catalog.flows.map((flow) =>
      h("section", { class: "flow", "aria-labelledby": `flow-${flow.name}` }, h("h2", { id: `flow-${flow.name}` }, flow.name, h("span", { class: "muted small" }, ` v${flow.version}`)), flow.description ? h("p", {}, flow.description) : null, h("p", { class: "muted small" }, flow.manifestPath), flow.steps.map((s) => stepCard(flow.name, s))),
    ),
    catalog.shadowed.length ? h("section", {}, h("h2", {}, "Shadowed copies"), h("ul", {}, catalog.shadowed.map((s) => h("li", {}, `${s.name}: ${s.path} (hidden by ${s.shadowedBy})`)))) : null,
  );
}
