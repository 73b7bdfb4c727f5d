import type { ChainEvent, ChainRun, ChainView } from "../../../chain/schemas.ts";
import { get, watchChanges } from "../api.ts";
import { badge, duration, h, link, show, showKeepingFocus, time } from "../dom.ts";
import type { PageContext } from "../page.ts";
import { type Axis, eventMark, spansOf, timelineBars } from "../timeline.ts";

const ms = (iso: string) => new Date(iso).getTime();
const LIVE: ReadonlySet<string> = new Set(["queued", "running"]);

/** The span every row shares: from the first arrival or creation to the last end (now while anything is live). */
function axisOf(chain: ChainView): Axis {
  const now = ms(chain.now);
  const times = [
    ...chain.events.map((e) => ms(e.acceptedAt)),
    ...chain.runs.flatMap((r) => [
      ms(r.createdAt),
      ...(r.completedAt ? [ms(r.completedAt)] : []),
      ...r.attempts.flatMap((a) => [ms(a.startedAt), ...(a.completedAt ? [ms(a.completedAt)] : [])]),
    ]),
  ];
  if (chain.runs.some((r) => LIVE.has(r.status))) times.push(now);
  const start = Math.min(...times);
  return { start, end: Math.max(start + 1, ...times) };
}

type Tree = { events: Map<string, ChainEvent>; runsOf: Map<string, ChainRun[]>; axis: Axis; drawn: Set<string> };

function runNode(run: ChainRun, tree: Tree): HTMLElement {
  const spans = spansOf(run, tree.axis.end);
  const shown = run.resultStatus ?? run.status;
  const words = spans.map((s) => s.text).join(" · ");
  const children = run.next
    .map((id) => tree.events.get(id))
    .filter((e): e is ChainEvent => e !== undefined)
    .map((e) => eventNode(e, tree));
  return h(
    "li",
    { class: "chain-node run", "data-run": run.id },
    h(
      "div",
      { class: "chain-row" },
      h(
        "div",
        { class: "chain-label" },
        link(`/ui/runs/${encodeURIComponent(run.id)}`, `${run.flowName} / ${run.stepName}`),
        " ",
        badge(shown),
        run.generation > 0 ? h("span", { class: "muted small" }, ` replay ${run.generation}`) : null,
        h("div", { class: "muted small chain-words" }, words),
      ),
      h("div", { class: "chain-bar" }, timelineBars(spans, tree.axis, `${run.flowName} / ${run.stepName}: ${words}`)),
    ),
    children.length
      ? h("ul", { class: "chain-children", "aria-label": `events ${run.stepName}'s next started` }, children)
      : null,
  );
}

function eventNode(event: ChainEvent, tree: Tree): HTMLElement {
  tree.drawn.add(event.id);
  const runs = tree.runsOf.get(event.id) ?? [];
  const arrived = `${event.type} arrived ${new Date(event.acceptedAt).toLocaleTimeString()}`;
  return h(
    "li",
    { class: "chain-node event", "data-event": event.id, "data-level": event.level },
    h(
      "div",
      { class: "chain-row" },
      h(
        "div",
        { class: "chain-label" },
        h("span", { class: "level" }, `Level ${event.level}`),
        " ",
        link(`/ui/events/${encodeURIComponent(event.id)}`, event.type),
        h(
          "div",
          { class: "muted small chain-words" },
          h("code", {}, event.id),
          ` · ${event.matchedCount === null ? "not matched yet" : `${event.matchedCount} step${event.matchedCount === 1 ? "" : "s"} matched`}`,
        ),
      ),
      h("div", { class: "chain-bar" }, eventMark(ms(event.acceptedAt), tree.axis, arrived)),
    ),
    runs.length
      ? h(
          "ul",
          { class: "chain-children", "aria-label": `runs of ${event.type}` },
          runs.map((r) => runNode(r, tree)),
        )
      : null,
  );
}

const LEGEND: [string, string][] = [
  ["wait", "waiting in queue (or for a retry)"],
  ["held", "held by a pause or debounce"],
  ["approval", "awaiting approval"],
  ["attempt c-running", "attempt running"],
  ["attempt c-completed", "attempt completed"],
  ["attempt c-failed", "attempt failed"],
];

function chainView(chain: ChainView): (HTMLElement | null)[] {
  const axis = axisOf(chain);
  const runsOf = Map.groupBy(chain.runs, (r) => r.eventId);
  const tree: Tree = { events: new Map(chain.events.map((e) => [e.id, e])), runsOf, axis, drawn: new Set() };
  const root = chain.events[0]!;
  const levels = Math.max(...chain.events.map((e) => e.level)) + 1;
  const summary = `${chain.events.length} event${chain.events.length === 1 ? "" : "s"} on ${levels} level${levels === 1 ? "" : "s"}, ${chain.runs.length} run${chain.runs.length === 1 ? "" : "s"}, over ${duration(axis.end - axis.start)}`;
  return [
    h("p", { class: "chain-summary" }, summary),
    chain.cut
      ? h(
          "p",
          { class: "error-note", role: "note" },
          `Cut at ${chain.nodeLimit} events and runs: the deepest part of this chain is not shown. Open a later event's chain to see on.`,
        )
      : null,
    chain.missing.length
      ? h(
          "p",
          { class: "muted" },
          `${chain.missing.length} next event${chain.missing.length === 1 ? "" : "s"} not in the read model yet (or deleted): `,
          chain.missing.map((id) => h("code", {}, `${id} `)),
        )
      : null,
    h(
      "ul",
      { class: "legend", "aria-label": "Legend" },
      LEGEND.map(([kind, text]) =>
        h("li", {}, h("span", { class: `swatch span ${kind}`, "aria-hidden": "true" }), text),
      ),
    ),
    h(
      "div",
      { class: "chain-frame" },
      h(
        "div",
        { class: "axis chain-axis", "aria-hidden": "true" },
        h("span", {}, new Date(axis.start).toLocaleTimeString()),
        h("span", {}, `← ${duration(axis.end - axis.start)} →`),
        h("span", {}, new Date(axis.end).toLocaleTimeString()),
      ),
      h("ul", { class: "chain", "aria-label": `Chain of ${root.type}` }, eventNode(root, tree)),
    ),
  ];
}

/** An event's chain as a tree over a shared time axis: event → its runs (waits, attempts on hosts) → the events their `next` started → …; live. */
export async function chainPage(ctx: PageContext, id?: string): Promise<void> {
  const { main, signal } = ctx;
  const eventId = id!;
  const load = () => get<ChainView>(`/events/${encodeURIComponent(eventId)}/chain`, signal);
  let chain = await load();
  const body = h("div", { class: "chain-body" });
  show(
    main,
    h(
      "p",
      { class: "crumbs" },
      h("a", { href: "/ui/events" }, "Events"),
      " / ",
      link(`/ui/events/${encodeURIComponent(eventId)}`, h("code", {}, eventId)),
      " / chain",
    ),
    h("h1", {}, `Chain of ${chain.events[0]?.type ?? eventId}`),
    h("p", { class: "muted" }, "Started ", time(chain.events[0]?.acceptedAt)),
    body,
  );
  show(body, chainView(chain));
  void watchChanges(
    signal,
    async () => {
      try {
        const next = await load();
        ctx.ok();
        // `now` moves on every answer; redraw while something is live or anything else changed.
        if (
          JSON.stringify({ ...next, now: "" }) !== JSON.stringify({ ...chain, now: "" }) ||
          next.runs.some((r) => LIVE.has(r.status))
        ) {
          chain = next;
          showKeepingFocus(body, chainView(chain));
        }
      } catch (error) {
        if (!signal.aborted) ctx.fail(error);
      }
    },
    ctx.live,
  );
}
