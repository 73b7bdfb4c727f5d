import type { Static } from "@sinclair/typebox";
import type { FlowsView, SchedulesAnswer } from "../../../flows/schemas.ts";
import type { ScheduleTicksView } from "../../../schedules/schemas.ts";
import { get, watchChanges } from "../api.ts";
import { badge, h, link, show, showKeepingFocus, table, time } from "../dom.ts";
import type { PageContext } from "../page.ts";
import { pauseButton } from "./flows.ts";

type Schedule = Static<typeof SchedulesAnswer>["schedules"][number];
type Ticks = Static<typeof ScheduleTicksView>;

/** Ticks shown per schedule (the newest). */
const RECENT = 10;
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "in 5 minutes", "3 hours ago". */
function relative(iso: string | null, now: number): string {
  if (!iso) return "";
  const seconds = Math.round((Date.parse(iso) - now) / 1_000);
  const [value, unit] =
    Math.abs(seconds) < 90
      ? [seconds, "second"]
      : Math.abs(seconds) < 5_400
        ? [Math.round(seconds / 60), "minute"]
        : Math.abs(seconds) < 129_600
          ? [Math.round(seconds / 3_600), "hour"]
          : [Math.round(seconds / 86_400), "day"];
  return RELATIVE.format(value, unit as Intl.RelativeTimeFormatUnit);
}

function tickCell(tick: { outcome: string; eventId: string; reason: string | null }): HTMLElement {
  return h(
    "td",
    {},
    badge(tick.outcome),
    " ",
    tick.outcome === "emitted"
      ? link(`/ui/events/${encodeURIComponent(tick.eventId)}`, tick.eventId)
      : h("span", { class: "skip-reason" }, tick.reason ?? "skipped"),
  );
}

function scheduleCard(
  s: Schedule,
  ticks: Ticks | Error,
  paused: boolean,
  answer: HTMLElement,
  redraw: (done: string) => void,
  now: number,
): HTMLElement {
  const id = `sched-${s.flow}-${s.name}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const facts: [string, Node | string | (Node | string)[]][] = [
    ["Cron", h("code", { class: "cron" }, s.cron)],
    ["Zone", s.timezone],
    [
      "Next tick",
      s.nextTick
        ? [time(s.nextTick), h("span", { class: "muted small" }, ` ${relative(s.nextTick, now)}`)]
        : h("span", { class: "muted" }, "none"),
    ],
    [
      "Last tick",
      s.lastTick
        ? [
            time(s.lastTick.tick),
            h("span", { class: "muted small" }, ` ${relative(s.lastTick.tick, now)} `),
            badge(s.lastTick.outcome),
            s.lastTick.outcome === "skipped" ? h("div", { class: "skip-reason" }, s.lastTick.reason ?? "") : "",
          ]
        : h("span", { class: "muted" }, "none yet"),
    ],
    ["Emits", h("code", {}, s.eventType)],
    ["Catch-up, overlap", `${s.catchUp}, ${s.overlap}`],
  ];
  let recent: HTMLElement;
  if (ticks instanceof Error) recent = h("p", { class: "error" }, ticks.message);
  else if (ticks.ticks.length === 0) recent = h("p", { class: "empty" }, "No tick handled yet.");
  else
    recent = table(
      ["Tick", "Outcome"],
      ticks.ticks.map((t) =>
        h(
          "tr",
          { class: t.outcome === "skipped" ? "skipped" : null, "data-tick": t.tick },
          h("td", {}, time(t.tick)),
          tickCell(t),
        ),
      ),
      `The last ${ticks.ticks.length} ticks of ${s.flow} / ${s.name}`,
    );
  const counts = ticks instanceof Error ? null : ticks.counts;
  return h(
    "article",
    { class: "schedule", "aria-labelledby": id, "data-schedule": `${s.flow}/${s.name}` },
    h(
      "h2",
      { id },
      h("span", {}, `${s.flow} / ${s.name}`),
      paused ? [" ", badge("paused", "its flow is paused: the ticks' runs are held until it is resumed")] : null,
      " ",
      pauseButton(s.flow, undefined, paused, answer, redraw),
    ),
    h(
      "dl",
      { class: "facts" },
      facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    ),
    h(
      "h3",
      {},
      "Recent ticks",
      counts
        ? h(
            "span",
            { class: "muted small tick-counts" },
            ` · ${counts.emitted} emitted, ${counts.skipped} skipped in all`,
          )
        : null,
    ),
    recent,
  );
}

/** Each schedule: cron, zone, next and last ticks, recent ticks with why any was skipped, and its flow's pause and resume; live. */
export async function schedulesPage(ctx: PageContext): Promise<void> {
  const { main, signal } = ctx;
  const answer = h("p", { class: "answer", role: "status", "aria-live": "polite" });
  const intro = h("p", { class: "muted small" });
  const list = h("div", { class: "schedules" });
  show(main, h("h1", {}, "Schedules"), answer, intro, list);
  let drawn = "";
  const load = async () => {
    const [{ schedules }, catalog] = await Promise.all([
      get<Static<typeof SchedulesAnswer>>("/schedules", signal),
      get<Static<typeof FlowsView>>("/flows", signal),
    ]);
    const ticks = await Promise.all(
      schedules.map((s) =>
        get<Ticks>(
          `/schedules/ticks?flow=${encodeURIComponent(s.flow)}&schedule=${encodeURIComponent(s.name)}&limit=${RECENT}`,
          signal,
        ).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      ),
    );
    if (signal.aborted) return;
    const paused = new Map(catalog.flows.map((f) => [f.name, f.paused]));
    const text = JSON.stringify([schedules, ticks.map((t) => (t instanceof Error ? t.message : t)), [...paused]]);
    if (text === drawn) return;
    drawn = text;
    const now = Date.now();
    intro.textContent = schedules.length
      ? `${schedules.length} schedule${schedules.length === 1 ? "" : "s"} in the ingress's flows; times in your zone (hover for UTC). Pause holds the runs of the flow's ticks until it is resumed.`
      : "";
    // Keeps the keyboard focus on the same button or link across a live update.
    showKeepingFocus(
      list,
      schedules.length
        ? schedules.map((s, i) => scheduleCard(s, ticks[i]!, paused.get(s.flow) ?? false, answer, redraw, now))
        : h("p", { class: "empty" }, "No flow in the ingress's working directory has a schedule."),
    );
    document.body.dataset.ready = "schedules";
  };
  const refresh = async () => {
    try {
      await load();
      ctx.ok();
    } catch (error) {
      if (!signal.aborted) ctx.fail(error);
    }
  };
  // After a pause or resume: the answer stays, the cards show the new state.
  const redraw = () => void refresh();
  await load();
  void watchChanges(signal, refresh, ctx.live);
}
