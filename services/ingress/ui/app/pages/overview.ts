import { EFFECTIVE_STATUSES } from "../../../../../lib/protocol/status.ts";
import type { OverviewView } from "../../../overview/schemas.ts";
import { get, watchChanges } from "../api.ts";
import { inlineBar, stackedChart } from "../charts.ts";
import { badge, duration, h, link, show, showKeepingFocus, table, time } from "../dom.ts";
import type { PageContext } from "../page.ts";

const WINDOWS = [
  ["hour", "Last hour"],
  ["day", "Last day"],
  ["week", "Last week"],
] as const;

const SHORT = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
const percent = (rate: number | null) =>
  rate === null ? "–" : `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;

function statusSection(view: OverviewView): HTMLElement {
  const order = EFFECTIVE_STATUSES.filter((s) => view.totals[s] !== undefined);
  const total = Object.values(view.totals).reduce((a, b) => a + b, 0);
  const stacks = view.buckets.map((b) => ({ label: SHORT.format(new Date(b.start)), counts: b.counts }));
  const rows = view.buckets.map((b) =>
    h(
      "tr",
      {},
      h("td", {}, time(b.start)),
      order.map((s) => h("td", { class: "num" }, b.counts[s] ?? 0)),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "by-status-h" },
    h("h2", { id: "by-status-h" }, `Runs by status (${total})`),
    h(
      "ul",
      { class: "totals", "aria-label": "Runs in the window by status" },
      order.map((s) =>
        h(
          "li",
          { "data-status": s },
          h("span", { class: `swatch c-${s}` }),
          badge(s),
          " ",
          h("strong", { class: "count" }, view.totals[s] ?? 0),
        ),
      ),
    ),
    total
      ? stackedChart(stacks, order, `Runs created per ${duration(view.bucketMs)}, stacked by status`)
      : h("p", { class: "empty" }, "No runs were created in this window."),
    total
      ? h(
          "details",
          {},
          h("summary", {}, "as a table"),
          table(["From", ...order.map((s) => s.replace(/_/g, " "))], rows, "Runs per bucket by status"),
        )
      : null,
  );
}

function flowsSection(view: OverviewView): HTMLElement {
  const slowest = Math.max(0, ...view.flows.map((f) => f.p95Ms ?? 0));
  const since = encodeURIComponent(view.since);
  const rows = view.flows.map((f) =>
    h(
      "tr",
      { "data-flow": f.flow },
      h("td", {}, link(`/ui/runs?flow=${encodeURIComponent(f.flow)}&since=${since}`, f.flow)),
      h("td", { class: "num" }, f.runs),
      h("td", { class: "num" }, f.finished),
      h("td", { class: "num" }, f.failed),
      h(
        "td",
        { class: "num rate" },
        h("span", { class: "value" }, percent(f.failureRate)),
        inlineBar(f.failureRate ?? 0, 1, f.failed > 0 ? "bad" : "neutral"),
      ),
      h("td", { class: "num p50" }, duration(f.p50Ms)),
      h("td", { class: "num p95" }, h("span", { class: "value" }, duration(f.p95Ms)), inlineBar(f.p95Ms ?? 0, slowest)),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "flows-h" },
    h("h2", { id: "flows-h" }, "Per flow"),
    h(
      "p",
      { class: "muted small" },
      "Failure rate: failed or timed out (the step's FLOW_RESULT status when it gave one) of the runs whose step ended on its own. Durations: the latest attempt's, nearest-rank percentiles.",
    ),
    rows.length
      ? table(["Flow", "Runs", "Finished", "Failed", "Failure rate", "p50", "p95"], rows, "Runs per flow in the window")
      : h("p", { class: "empty" }, "No runs in this window."),
  );
}

function nowSection(view: OverviewView): HTMLElement {
  const deepest = Math.max(0, ...view.queues.map((q) => q.queued));
  const queues = view.queues.map((q) =>
    h(
      "tr",
      { "data-queue": q.queue },
      h("td", {}, q.queue),
      h("td", { class: "num depth" }, h("span", { class: "value" }, q.queued), inlineBar(q.queued, deepest)),
      h("td", { class: "num" }, q.held),
      h("td", {}, time(q.oldestQueuedAt)),
    ),
  );
  const hosts = view.hosts.map((x) =>
    h(
      "tr",
      { "data-host": x.host },
      h("td", {}, link(`/ui/runs?status=running&host=${encodeURIComponent(x.host)}`, x.host)),
      h("td", { class: "num" }, x.running),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "now-h" },
    h("h2", { id: "now-h" }, "Now"),
    h(
      "div",
      { class: "two" },
      h(
        "div",
        {},
        h("h3", {}, "Queued runs per queue"),
        queues.length
          ? table(["Queue", "Queued", "Held (paused or debounced)", "Oldest queued"], queues, "Queue depth")
          : h("p", { class: "empty" }, "Nothing is queued."),
      ),
      h(
        "div",
        {},
        h("h3", {}, "Running runs per host"),
        hosts.length
          ? table(["Host", "Running"], hosts, "Running per host")
          : h("p", { class: "empty" }, "Nothing is running."),
      ),
    ),
  );
}

/** Runs per status over time, per flow failure rate and durations, queues and hosts now: GET /overview, live. */
export async function overviewPage(ctx: PageContext): Promise<void> {
  const { main, params, signal } = ctx;
  const window = WINDOWS.some(([w]) => w === params.get("window")) ? params.get("window")! : "day";
  const choose = h(
    "nav",
    { class: "windows", "aria-label": "Time window" },
    WINDOWS.map(([w, label]) =>
      h(
        "a",
        { href: `/ui/overview?window=${w}`, "aria-current": w === window ? "page" : null, class: "button secondary" },
        label,
      ),
    ),
  );
  const period = h("p", { class: "muted small" });
  const body = h("div", { "aria-busy": "true" });
  show(main, h("h1", {}, "Overview"), choose, period, body);
  let drawn = "";
  const load = async () => {
    try {
      const view = await get<OverviewView>(`/overview?window=${window}`, signal);
      if (signal.aborted) return;
      ctx.ok();
      // `until` moves with every answer; redraw only when the numbers changed.
      const text = JSON.stringify({
        ...view,
        since: undefined,
        until: undefined,
        buckets: view.buckets.map((b) => b.counts),
      });
      show(period, "Runs created from ", time(view.since), " to ", time(view.until), ".");
      if (text !== drawn) {
        drawn = text;
        showKeepingFocus(body, statusSection(view), flowsSection(view), nowSection(view));
      }
      body.setAttribute("aria-busy", "false");
      // The first draw: what the bench times (bench/scale.ts).
      if (document.body.dataset.ready !== "overview") performance.mark("dashboard-ready");
      document.body.dataset.ready = "overview";
    } catch (error) {
      if (!signal.aborted) ctx.fail(error);
    }
  };
  await load();
  void watchChanges(signal, load, ctx.live);
}
