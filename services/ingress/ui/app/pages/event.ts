import type { Static } from "@sinclair/typebox";
import type { EventDetail } from "../../../schemas.ts";
import { get, post, watchChanges } from "../api.ts";
import { badge, h, jsonBlock, link, show, table, time } from "../dom.ts";
import type { PageContext } from "../page.ts";
import { errorsByPath, payloadTree } from "../payload.ts";
import { runsTable } from "../runs-table.ts";

type Detail = Static<typeof EventDetail>["event"];

type Decision = Detail["decisions"][number];

function decisionRow(d: Decision): HTMLElement {
  return h(
    "tr",
    {
      class: d.matched ? "matched" : d.nearMiss ? "unmatched near-miss" : "unmatched",
      "data-step": `${d.flowName}/${d.stepName}`,
    },
    h("td", {}, `${d.flowName} / ${d.stepName}`),
    h(
      "td",
      {},
      d.matched ? badge("matched") : badge("not_matched"),
      d.nearMiss ? h("div", { class: "near-miss-mark" }, "near miss") : null,
    ),
    h(
      "td",
      {},
      d.runId ? link(`/ui/runs/${encodeURIComponent(d.runId)}`, d.runId) : h("span", { class: "muted" }, "–"),
    ),
    h(
      "td",
      {},
      d.reasons.length
        ? h(
            "ul",
            { class: "reasons" },
            d.reasons.map((r) => h("li", {}, r)),
          )
        : h("span", { class: "muted" }, d.matched ? "trigger and schema accept it" : "–"),
    ),
  );
}

const HEAD = ["Flow / step", "Decision", "Run", "Reasons"];

/**
 * One generation's decisions: near misses first (the step wants this type but its schema
 * or a limit said no), then the steps it matched; the rest (other types, flows that did
 * not load) folded away with their count.
 */
function generationSection(generation: number, decisions: Decision[], latest: boolean, unfolded: boolean): HTMLElement {
  const near = decisions.filter((d) => d.nearMiss);
  const matched = decisions.filter((d) => d.matched);
  const rest = decisions.filter((d) => !d.matched && !d.nearMiss);
  const label = generation === 0 ? "Generation 0 (as accepted)" : `Generation ${generation} (replay ${generation})`;
  const counts = `${matched.length} matched · ${near.length} near miss${near.length === 1 ? "" : "es"} · ${rest.length} other${rest.length === 1 ? "" : "s"}`;
  const shown = [...near, ...matched];
  return h(
    "section",
    { class: "generation", "data-generation": generation, "aria-label": label },
    h(
      "h3",
      {},
      label,
      latest ? h("span", { class: "muted small" }, " · latest") : null,
      h("span", { class: "muted small" }, ` · ${counts}`),
    ),
    shown.length
      ? table(HEAD, shown.map(decisionRow), `${label}: near misses and matches`)
      : h("p", { class: "empty" }, "No step wanted this event's type."),
    rest.length
      ? h(
          "details",
          { class: "other-decisions", open: unfolded },
          h("summary", {}, `${rest.length} other step${rest.length === 1 ? "" : "s"} (another type, or not loaded)`),
          table(HEAD, rest.map(decisionRow), `${label}: other steps`),
        )
      : null,
  );
}

/** `unfolded`: the generations whose other steps the reader had opened (a live redraw keeps them open). */
function decisionsView(event: Detail, unfolded: ReadonlySet<string>): HTMLElement {
  if (event.decisions.length === 0)
    return h(
      "p",
      { class: "empty" },
      event.matchedGeneration === null ? "Not matched yet." : "No flow step was loaded when it was matched.",
    );
  const generations = [...new Set(event.decisions.map((d) => d.generation))].sort((a, b) => b - a);
  return h(
    "div",
    { class: "decisions" },
    generations.map((g, i) =>
      generationSection(
        g,
        event.decisions.filter((d) => d.generation === g),
        i === 0,
        unfolded.has(String(g)),
      ),
    ),
  );
}

/** One event: payload with schema errors against their paths, every step's decision, its runs, and replay. */
export async function eventPage(ctx: PageContext, id?: string): Promise<void> {
  const { main, signal } = ctx;
  const eventId = id!;
  const load = () =>
    get<Static<typeof EventDetail>>(`/events/${encodeURIComponent(eventId)}`, signal).then((a) => ({
      ...a.event,
      runs: a.runs,
    }));
  let event = await load();
  const answer = h("p", { class: "answer", role: "status", "aria-live": "polite" });
  // Not limited to one flow: a token scoped to some flows may not take it (data-flow="").
  const replay = h("button", { type: "button", "data-needs": "operate", "data-flow": "" }, "Replay event");
  const body = h("div", {});
  show(
    main,
    h("p", { class: "crumbs" }, h("a", { href: "/ui/events" }, "Events"), " / ", h("code", {}, eventId)),
    h("h1", {}, event.type),
    h(
      "div",
      { class: "actions" },
      replay,
      " ",
      h("a", { class: "button secondary", href: `/ui/events/${encodeURIComponent(eventId)}/chain` }, "Chain timeline"),
    ),
    answer,
    body,
  );
  const draw = () => {
    const unfolded = new Set(
      [...body.querySelectorAll("section.generation:has(> details.other-decisions[open])")].map(
        (s) => s.getAttribute("data-generation") ?? "",
      ),
    );
    // The latest generation's schema errors are the ones shown against the payload.
    const latest = Math.max(-1, ...event.decisions.map((d) => d.generation));
    const schemaReasons = event.decisions
      .filter((d) => d.generation === latest && !d.matched)
      .flatMap((d) =>
        d.reasons
          .filter((r) => r.startsWith("schema:"))
          .map((reason) => ({ step: `${d.flowName}/${d.stepName}`, reason })),
      );
    const facts: [string, Node | string][] = [
      ["Id", h("code", {}, event.id)],
      ["Source", event.source ?? "–"],
      ["Occurred", time(event.occurredAt ?? null)],
      ["Received", time(event.acceptedAt)],
      ["Stream sequence", String(event.seq)],
      [
        "Matched",
        event.matchedCount === null ? "not yet" : `${event.matchedCount} step${event.matchedCount === 1 ? "" : "s"}`,
      ],
    ];
    if (event.generation > 0) facts.push(["Replays", String(event.generation)]);
    if (event.parentRunId)
      facts.push(["Chained from", link(`/ui/runs/${encodeURIComponent(event.parentRunId)}`, event.parentRunId)]);
    if (event.traceUrl)
      facts.push([
        "Trace",
        h("a", { href: event.traceUrl, target: "_blank", rel: "noopener" }, event.traceId ?? "trace"),
      ]);
    show(
      body,
      h(
        "dl",
        { class: "facts" },
        facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
      ),
      h("h2", {}, "Payload"),
      schemaReasons.length
        ? h(
            "p",
            { class: "error-note" },
            `${schemaReasons.length} schema error${schemaReasons.length === 1 ? "" : "s"}, shown against the payload below.`,
          )
        : null,
      payloadTree(event.payload, errorsByPath(schemaReasons)),
      h("details", {}, h("summary", {}, "Payload JSON"), jsonBlock(event.payload)),
      h("h2", {}, "Match decisions"),
      decisionsView(event, unfolded),
      h("h2", {}, "Runs"),
      event.runs.length ? runsTable(event.runs, "Runs of this event") : h("p", { class: "empty" }, "No runs."),
    );
  };
  draw();
  replay.addEventListener("click", async () => {
    replay.disabled = true;
    answer.className = "answer";
    answer.textContent = "Replaying…";
    try {
      const { status, body: a } = await post<{ status?: string; generation?: number; seq?: number; error?: string }>(
        `/events/${encodeURIComponent(eventId)}/replay`,
      );
      const ok = status >= 200 && status < 300;
      answer.className = `answer ${ok ? "ok" : "error"}`;
      answer.textContent = ok
        ? `Replay: ${status} ${a.status}, generation ${a.generation} (stream sequence ${a.seq})`
        : `Replay: ${status} ${a.error ?? JSON.stringify(a)}`;
    } catch (error) {
      answer.className = "answer error";
      answer.textContent = error instanceof Error ? error.message : String(error);
    }
    replay.disabled = false;
  });
  void watchChanges(
    signal,
    async () => {
      try {
        const next = await load();
        ctx.ok();
        if (JSON.stringify(next) !== JSON.stringify(event)) {
          event = next;
          draw();
        }
      } catch (error) {
        if (!signal.aborted) ctx.fail(error);
      }
    },
    ctx.live,
  );
}
