/** One run's row on a chain's time axis: its wait in queue, held time and attempts as SVG bars drawn by hand. */
import type { ChainRun } from "../../chain/schemas.ts";
import { svg } from "./charts.ts";
import { duration } from "./dom.ts";

/** The time axis every row shares: [start, end] in ms since 1970. */
export type Axis = { start: number; end: number };

const WIDTH = 1000;
const HEIGHT = 18;

/** A span of a run's life: what it was doing from `from` to `to`, as a bar class and words. */
export type Span = { from: number; to: number; kind: string; text: string };

const ms = (iso: string) => new Date(iso).getTime();

/**
 * A run's spans: awaiting approval when its step has a gate, waiting in its queue until
 * the first attempt (held, when a pause or debounce holds it, or waiting for a retry that
 * is due later), then each attempt from its start to its end (now while it runs) on its
 * host, and the time its result's next events awaited approval when the result asked.
 */
export function spansOf(run: ChainRun, now: number): Span[] {
  const spans: Span[] = [];
  const firstStart = run.attempts[0] ? ms(run.attempts[0].startedAt) : null;
  const waitEnd = firstStart ?? (run.status === "queued" ? now : run.completedAt ? ms(run.completedAt) : now);
  // A step gate: the run awaited approval from its creation; its queue wait starts at the decision.
  const gate = run.approval?.gate === "step" ? gateSpan(run, ms(run.createdAt), now, "awaited approval") : undefined;
  if (gate) spans.push(gate);
  // Waiting or rejected: it never reached its queue.
  if (gate && run.approval?.decision !== "approve") return spans;
  const queuedFrom = Math.min(gate?.to ?? ms(run.createdAt), waitEnd);
  const waitKind = run.status === "queued" && run.heldReason ? "held" : "wait";
  const waitText =
    run.status === "queued" && run.heldReason
      ? `held (${run.heldReason})`
      : run.status === "superseded"
        ? "debounced, then superseded"
        : firstStart === null && run.status !== "queued"
          ? `never started (${run.status.replace(/_/g, " ")})`
          : "waited in queue";
  spans.push({
    from: queuedFrom,
    to: waitEnd,
    kind: run.status === "superseded" ? "held" : waitKind,
    text: `${waitText} ${duration(waitEnd - queuedFrom)}`,
  });
  run.attempts.forEach((a, i) => {
    const from = ms(a.startedAt);
    const to = a.completedAt ? ms(a.completedAt) : now;
    // The gap before a retry: waiting again (retry backoff or the queue).
    const previous = run.attempts[i - 1];
    if (previous?.completedAt && from > ms(previous.completedAt))
      spans.push({
        from: ms(previous.completedAt),
        to: from,
        kind: "wait",
        text: `waited ${duration(from - ms(previous.completedAt))} before attempt ${a.attempt}`,
      });
    spans.push({
      from,
      to,
      kind: `attempt c-${a.status}`,
      text: `attempt ${a.attempt} on ${a.host}: ${a.status.replace(/_/g, " ")}, ${duration(to - from)}`,
    });
  });
  if (run.status === "queued" && run.retryAt && run.attempts.length > 0) {
    const last = run.attempts.at(-1)!;
    if (last.completedAt)
      spans.push({
        from: ms(last.completedAt),
        to: now,
        kind: "wait",
        text: `retry due ${new Date(run.retryAt).toLocaleTimeString()}`,
      });
  }
  // A result gate: the step finished; its next events awaited approval.
  if (run.approval?.gate === "result")
    spans.push(gateSpan(run, ms(run.approval.requestedAt), now, "its next events awaited approval"));
  return spans;
}

/** The time a run's gate was open: from `from` to its decision (now while it awaits one). */
function gateSpan(run: ChainRun, from: number, now: number, what: string): Span {
  const approval = run.approval!;
  const to = approval.decidedAt ? ms(approval.decidedAt) : run.status === "awaiting_approval" ? now : from;
  const verdict = approval.decision
    ? `: ${approval.decision === "approve" ? "approved" : "rejected"} by ${approval.by ?? "?"}`
    : " (waiting)";
  return { from, to, kind: "approval", text: `${what} ${duration(to - from)}${verdict}` };
}

/** The row's bars, scaled to the shared axis; each bar carries its words as a title. */
export function timelineBars(spans: Span[], axis: Axis, label: string): SVGElement {
  const scale = (t: number) =>
    ((Math.min(Math.max(t, axis.start), axis.end) - axis.start) / Math.max(1, axis.end - axis.start)) * WIDTH;
  const chart = svg(
    "svg",
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      class: "chart timeline",
      role: "img",
      "aria-label": label,
      preserveAspectRatio: "none",
    },
    svg("rect", { x: 0, y: HEIGHT / 2 - 0.5, width: WIDTH, height: 1, class: "baseline" }),
  );
  for (const span of spans) {
    const x = scale(span.from);
    const bar = svg("rect", {
      x,
      y: span.kind.startsWith("attempt") ? 2 : 5,
      width: Math.max(2, scale(span.to) - x),
      height: span.kind.startsWith("attempt") ? HEIGHT - 4 : HEIGHT - 10,
      class: `span ${span.kind}`,
    });
    bar.append(svg("title", {}, document.createTextNode(span.text)));
    chart.append(bar);
  }
  return chart;
}

/** A mark where an event arrived on the shared axis. */
export function eventMark(at: number, axis: Axis, label: string): SVGElement {
  const x = ((Math.min(Math.max(at, axis.start), axis.end) - axis.start) / Math.max(1, axis.end - axis.start)) * WIDTH;
  return svg(
    "svg",
    {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      class: "chart timeline",
      role: "img",
      "aria-label": label,
      preserveAspectRatio: "none",
    },
    svg("rect", { x: 0, y: HEIGHT / 2 - 0.5, width: WIDTH, height: 1, class: "baseline" }),
    svg("rect", { x: Math.max(0, x - 2), y: 1, width: 4, height: HEIGHT - 2, class: "span arrived" }),
  );
}
