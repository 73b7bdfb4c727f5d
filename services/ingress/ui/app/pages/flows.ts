import type { Static } from "@sinclair/typebox";
import type { FlowsView, StepView } from "../../../flows/schemas.ts";
import { get, post } from "../api.ts";
import { badge, duration, h, jsonBlock, link, show } from "../dom.ts";
import type { PageContext } from "../page.ts";
import { schemaView } from "../schema.ts";

function policy(step: StepView): string {
  const p = step.policy;
  const backoff = p.backoff as { kind: string; baseMs?: number; maxMs?: number; delaysMs?: number[] };
  const parts = [`${p.retries} retr${p.retries === 1 ? "y" : "ies"}`];
  if (p.retries > 0)
    parts.push(
      backoff.kind === "list"
        ? `backoff ${backoff.delaysMs?.map((d) => duration(d)).join(", ")}`
        : `backoff from ${duration(backoff.baseMs)} to ${duration(backoff.maxMs)}`,
    );
  parts.push(`timeout ${duration(step.timeoutMs)}`);
  if (p.runsOn) parts.push(`runs on ${p.runsOn}`);
  if (p.concurrency) parts.push(`concurrency group ${p.concurrency}`);
  return parts.join(" · ");
}

type Flow = Static<typeof FlowsView>["flows"][number];

/**
 * Pause or resume a flow (or one step): the button shows the API's answer, then the
 * page is drawn again with the new state.
 */
export function pauseButton(
  flow: string,
  step: string | undefined,
  paused: boolean,
  answer: HTMLElement,
  redraw: (done: string) => void,
): HTMLElement {
  const what = step ? `step ${flow}/${step}` : `flow ${flow}`;
  const button = h(
    "button",
    {
      type: "button",
      class: "secondary pause",
      "data-needs": "operate",
      "data-flow": flow,
      "data-key": `pause ${flow}${step ? `/${step}` : ""}`,
      title: paused
        ? `queue the runs held while ${what} was paused, in order`
        : `hold the matched runs of ${what} until it is resumed`,
    },
    paused ? "Resume" : "Pause",
  );
  button.addEventListener("click", async () => {
    button.disabled = true;
    answer.className = "answer";
    answer.textContent = `${paused ? "Resuming" : "Pausing"} ${what}…`;
    try {
      const { status, body } = await post<{ error?: string }>(
        `/flows/${encodeURIComponent(flow)}/${paused ? "resume" : "pause"}`,
        step ? { step } : {},
      );
      const ok = status >= 200 && status < 300;
      answer.className = `answer ${ok ? "ok" : "error"}`;
      answer.textContent = ok
        ? `${what} ${paused ? "resumed" : "paused"}`
        : `${paused ? "Resume" : "Pause"}: ${status} ${body.error ?? JSON.stringify(body)}`;
      if (ok) redraw(answer.textContent);
    } catch (error) {
      answer.className = "answer error";
      answer.textContent = error instanceof Error ? error.message : String(error);
    }
    button.disabled = false;
  });
  return button;
}

function stepCard(flow: string, step: StepView, answer: HTMLElement, redraw: (done: string) => void): HTMLElement {
  const debounce = step.debounce
    ? [
        h("dt", {}, "Debounce"),
        h(
          "dd",
          {},
          `${duration(step.debounce.ms)} by ${step.debounce.key}: only the last event of a burst starts a run`,
        ),
      ]
    : [];
  return h(
    "article",
    { class: "step", "aria-label": `${flow} / ${step.name}` },
    h(
      "h3",
      {},
      step.name,
      " ",
      h("span", { class: "muted small" }, `${step.runner} · ${step.script}`),
      step.paused ? [" ", badge("paused", "its matched runs are held until it is resumed")] : null,
      " ",
      pauseButton(flow, step.name, step.paused, answer, redraw),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Trigger"),
      h("dd", {}, h("code", {}, step.trigger.type), step.trigger.schema ? ` with ${step.trigger.schema}` : ""),
      ...debounce,
      h("dt", {}, "Policies"),
      h("dd", {}, policy(step)),
      h("dt", {}, "Queue"),
      h("dd", {}, step.queue),
      h("dt", {}, "Runs"),
      h(
        "dd",
        {},
        link(`/ui/runs?flow=${encodeURIComponent(flow)}&step=${encodeURIComponent(step.name)}`, "see its runs"),
      ),
    ),
    step.schemaError ? h("p", { class: "error" }, step.schemaError) : null,
    step.schema !== null
      ? h(
          "details",
          { open: true },
          h("summary", {}, "Payload schema"),
          schemaView(step.schema),
          h("details", {}, h("summary", {}, "as JSON"), jsonBlock(step.schema)),
        )
      : h("p", { class: "muted" }, "No schema: any payload of this type matches."),
  );
}

function flowSection(flow: Flow, answer: HTMLElement, redraw: (done: string) => void): HTMLElement {
  const paused = flow.paused
    ? h(
        "p",
        { class: "attention-banner" },
        `Paused${flow.pauseReason ? `: ${flow.pauseReason}` : ""}. Its matched runs are held (queued, saying why) until it is resumed.`,
      )
    : null;
  const schedules = flow.schedules.length
    ? h(
        "p",
        { class: "muted small" },
        `Schedules: ${flow.schedules.join(", ")} · `,
        link("/ui/schedules", "cron, next and last ticks, skips"),
      )
    : null;
  return h(
    "section",
    { class: "flow", "aria-labelledby": `flow-${flow.name}` },
    h(
      "h2",
      { id: `flow-${flow.name}` },
      flow.name,
      h("span", { class: "muted small" }, ` v${flow.version}`),
      " ",
      pauseButton(flow.name, undefined, flow.paused, answer, redraw),
    ),
    paused,
    flow.description ? h("p", {}, flow.description) : null,
    h("p", { class: "muted small" }, flow.manifestPath),
    schedules,
    flow.steps.map((s) => stepCard(flow.name, s, answer, redraw)),
  );
}

/** The catalog: each flow's steps with trigger, schema, runner, policies and pause state; flows that failed to load first. */
export async function flowsPage(ctx: PageContext, done?: string): Promise<void> {
  const catalog = await get<Static<typeof FlowsView>>("/flows", ctx.signal);
  const answer = h("p", { class: done ? "answer ok" : "answer", role: "status", "aria-live": "polite" }, done ?? "");
  // Drawn again with the new state, keeping the answer; a failed reload is shown where the answer was.
  const redraw = (text: string) =>
    void flowsPage(ctx, text).catch((error: unknown) => {
      answer.className = "answer error";
      answer.textContent = `${text}; reloading the page failed: ${error instanceof Error ? error.message : String(error)}`;
    });
  show(
    ctx.main,
    h("h1", {}, "Flows"),
    answer,
    catalog.problems.length
      ? h(
          "section",
          { class: "problems", "aria-labelledby": "problems-h" },
          h("h2", { id: "problems-h" }, `Load errors (${catalog.problems.length})`),
          h(
            "ul",
            {},
            catalog.problems.map((p) => h("li", {}, h("code", {}, p.path), h("div", {}, p.message))),
          ),
        )
      : null,
    catalog.flows.length ? null : h("p", { class: "empty" }, "No flows are loaded in the ingress's working directory."),
    catalog.flows.map((flow) => flowSection(flow, answer, redraw)),
    catalog.shadowed.length
      ? h(
          "section",
          {},
          h("h2", {}, "Shadowed copies"),
          h(
            "ul",
            {},
            catalog.shadowed.map((s) => h("li", {}, `${s.name}: ${s.path} (hidden by ${s.shadowedBy})`)),
          ),
        )
      : null,
  );
}
