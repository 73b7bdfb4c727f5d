import { FINAL_STATUSES } from "../../../../../lib/protocol/status.ts";
import { get, post, readEvents, watchChanges } from "../api.ts";
import { approvalSection } from "../approval.ts";
import { artifactsView } from "../artifacts.ts";
import { badge, duration, h, jsonBlock, link, show, table, time } from "../dom.ts";
import { outputPane } from "../output.ts";
import type { PageContext } from "../page.ts";
import { type RunView, runDuration } from "../runs-table.ts";

const FINAL = FINAL_STATUSES;

/** Why an attempt ended, in words. */
const ENDINGS: Record<string, string> = {
  running: "still running",
  completed: "the step finished",
  failed: "the step failed",
  timed_out: "timed out (the step's timeout_ms)",
  canceled: "canceled by an operator",
  lost: "lost: its executor stopped before the attempt finished",
  released: "handed back when its executor shut down",
  fenced: "fenced: a newer attempt took over its lease",
};

function attemptsTable(run: RunView): HTMLElement {
  const rows = run.attempts.map((a, i) => {
    const retried = i < run.attempts.length - 1 && a.status !== "lost" && a.status !== "released" ? " → retried" : "";
    return h(
      "tr",
      {},
      h("td", { class: "num" }, a.attemptNumber),
      h("td", {}, a.host),
      h("td", {}, time(a.startedAt)),
      h("td", {}, time(a.completedAt)),
      h("td", { class: "num" }, duration(a.durationMs)),
      h(
        "td",
        {},
        badge(a.resultStatus ?? a.status),
        " ",
        `${ENDINGS[a.status] ?? a.status}${retried}`,
        a.exitCode === null ? "" : ` (exit ${a.exitCode})`,
        a.signal ? ` (${a.signal})` : "",
        a.error ? h("div", { class: "muted small" }, a.error) : null,
      ),
    );
  });
  return rows.length
    ? table(["#", "Host", "Started", "Ended", "Duration", "Why it ended"], rows, "Attempts")
    : h("p", { class: "empty" }, "No attempt has started yet.");
}

/** A result this long (as pretty JSON) starts folded: its artifacts are drawn above it anyway. */
const RESULT_OPEN_MAX = 2_000;

/** The step's FLOW_RESULT as the result: its status and message, and the whole of it as pretty JSON. */
function resultSection(result: { status?: string; message?: string } | null): HTMLElement | null {
  if (!result) return null;
  const pretty = JSON.stringify(result, null, 2);
  return h(
    "section",
    { id: "result", "aria-labelledby": "msg-h" },
    h("h2", { id: "msg-h" }, "Result ", typeof result.status === "string" ? badge(result.status) : null),
    result.message ? h("p", { class: "message" }, result.message) : null,
    h(
      "details",
      { class: "result-json", open: pretty.length <= RESULT_OPEN_MAX },
      h("summary", {}, "The step's FLOW_RESULT (JSON)"),
      jsonBlock(result),
    ),
  );
}

function summary(run: RunView): HTMLElement {
  const result = run.result as { status?: string; message?: string; artifacts?: unknown } | null;
  const facts: [string, Node | string][] = [
    [
      "Status",
      h("span", {}, badge(run.effectiveStatus), run.effectiveStatus === run.status ? "" : ` (process: ${run.status})`),
    ],
    ["Event", link(`/ui/events/${encodeURIComponent(run.eventId)}`, run.eventId)],
    ["Queue", run.queue],
    ["Host", run.host ?? "–"],
    ["Runner", run.runner],
    ["Created", time(run.createdAt)],
    ["Started", time(run.startedAt)],
    ["Finished", time(run.completedAt)],
    ["Duration", runDuration(run)],
    ["Attempts", String(run.attemptCount)],
  ];
  if (run.generation > 0) facts.push(["Replay", `generation ${run.generation}`]);
  if (run.waiting) facts.push(["Waiting", run.waiting]);
  if (run.traceUrl)
    facts.push(["Trace", h("a", { href: run.traceUrl, target: "_blank", rel: "noopener" }, run.traceId ?? "trace")]);
  return h(
    "div",
    {},
    run.needsAttention
      ? h(
          "p",
          { class: "attention-banner", role: "note" },
          `This run needs attention: ${run.effectiveStatus.replace(/_/g, " ")}.`,
        )
      : null,
    h(
      "dl",
      { class: "facts" },
      facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
    resultSection(result),
    run.error ? h("section", {}, h("h2", {}, "Error"), h("pre", { class: "output" }, run.error)) : null,
    artifactsView(result?.artifacts),
    h("h2", {}, "Attempts"),
    attemptsTable(run),
    run.nextEventIds.length
      ? h(
          "section",
          {},
          h("h2", {}, "Chained events"),
          h(
            "ul",
            {},
            run.nextEventIds.map((id) => h("li", {}, link(`/ui/events/${encodeURIComponent(id)}`, id))),
          ),
        )
      : null,
  );
}

/** Cancel and retry, each showing the API's answer. */
function actions(run: RunView, answer: HTMLElement, refresh: () => void): HTMLElement {
  const act = async (button: HTMLButtonElement, what: "cancel" | "retry") => {
    button.disabled = true;
    answer.className = "answer";
    answer.textContent = `${what === "cancel" ? "Canceling" : "Retrying"}…`;
    try {
      const { status, body } = await post<{ run?: RunView; error?: string }>(
        `/runs/${encodeURIComponent(run.id)}/${what}`,
      );
      const ok = status >= 200 && status < 300;
      answer.className = `answer ${ok ? "ok" : "error"}`;
      answer.textContent =
        ok && body.run
          ? `${what === "cancel" ? "Cancel" : "Retry"}: ${status}, run is ${body.run.status} (attempt ${body.run.attempt})`
          : `${what === "cancel" ? "Cancel" : "Retry"}: ${status} ${body.error ?? JSON.stringify(body)}`;
    } catch (error) {
      answer.className = "answer error";
      answer.textContent = error instanceof Error ? error.message : String(error);
    }
    button.disabled = false;
    refresh();
  };
  const final = FINAL.has(run.status);
  const cancel = h(
    "button",
    { type: "button", class: "danger", disabled: final, title: final ? "the run already ended" : "stop this run" },
    "Cancel run",
  );
  const retry = h(
    "button",
    { type: "button", disabled: !final, title: final ? "start a new attempt" : "only a run that ended can be retried" },
    "Retry run",
  );
  cancel.addEventListener("click", () => void act(cancel, "cancel"));
  retry.addEventListener("click", () => void act(retry, "retry"));
  return h("div", { class: "actions", "data-needs": "operate", "data-flow": run.flowName }, cancel, retry);
}

/** Output: every chunk so far and then live ones (GET /runs/:id/output, SSE) until the run ends. */
function followOutput(
  runId: string,
  pre: HTMLElement,
  state: HTMLElement,
  signal: AbortSignal,
  ctx: PageContext,
): { following(): boolean; restart(): void } {
  let following = false;
  let controller: AbortController | undefined;
  const start = () => {
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    signal.addEventListener("abort", () => mine.abort(), { once: true });
    following = true;
    state.textContent = "following live output…";
    const pane = outputPane(pre);
    pane.clear();
    let attempt = 0;
    let ended = false;
    readEvents(`/runs/${encodeURIComponent(runId)}/output`, mine.signal, (event, data) => {
      const d = data as {
        text?: string;
        stream?: string;
        attempt?: number;
        status?: string;
        cut?: boolean;
        error?: string;
      };
      if (event === "run" && d.cut) pane.note("[older output was dropped by retention]\n");
      if (event === "output" && d.text !== undefined) {
        if (d.attempt !== undefined && d.attempt !== attempt) {
          attempt = d.attempt;
          pane.note(`── attempt ${attempt} ──\n`);
        }
        pane.write(d.text, d.stream);
      }
      if (event === "end") {
        pane.end();
        ended = true;
        state.textContent = `output complete (run ${d.status})`;
      }
      if (event === "error") state.textContent = `output stream failed: ${d.error}`;
    }).then(
      () => {
        following = false;
        if (!ended && !mine.signal.aborted)
          state.textContent =
            "the output stream was closed by the server (restarting?); reload the page to follow it again";
      },
      (error) => {
        following = false;
        if (!mine.signal.aborted) ctx.fail(error);
      },
    );
  };
  start();
  return { following: () => following, restart: start };
}

/** One run: result, artifacts, attempts, output, and the operator's buttons. */
export async function runPage(ctx: PageContext, id?: string): Promise<void> {
  const { main, signal } = ctx;
  const runId = id!;
  const load = () => get<{ run: RunView }>(`/runs/${encodeURIComponent(runId)}`, signal).then((a) => a.run);
  let run = await load();
  const heading = h("h1", {}, `${run.flowName} / ${run.stepName}`);
  const answer = h("p", { class: "answer", role: "status", "aria-live": "polite" });
  const actionSlot = h("div", {});
  const body = h("div", {});
  const pre = h("pre", { class: "output live-output", tabindex: 0, "aria-label": "Run output" });
  const outputState = h("p", { class: "muted small", role: "status" });
  show(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "/ui/runs" }, "Runs"), " / ", h("code", {}, runId)),
    heading,
    actionSlot,
    answer,
    body,
    h("h2", {}, "Output"),
    outputState,
    pre,
  );
  const draw = () => {
    show(
      actionSlot,
      approvalSection(run, answer, () => void refresh()),
      actions(run, answer, () => void refresh()),
    );
    show(body, summary(run));
  };
  draw();
  const output = followOutput(runId, pre, outputState, signal, ctx);
  const refresh = async () => {
    try {
      const next = await load();
      ctx.ok();
      // Redraw only when the run changed, so open details and focus survive unrelated commits.
      const changed = JSON.stringify(next) !== JSON.stringify(run);
      const newAttempt = next.attempt !== run.attempt;
      run = next;
      if (changed) draw();
      // The stream ended with the last attempt: a retry (perhaps already over by now) or a
      // stream the server closed while the run goes on means following it again.
      if (!output.following() && (newAttempt || !FINAL.has(run.status))) output.restart();
    } catch (error) {
      if (!signal.aborted) ctx.fail(error);
    }
  };
  void watchChanges(signal, refresh, ctx.live);
}
