/**
 * Bulk replay on the events page: the events a filter names (type and received-from,
 * POST /replays, admin) after a dry run's count and plan, and the events picked by their
 * checkboxes (POST /events/:id/replay each, operate) after their count.
 */
import type { Static } from "@sinclair/typebox";
import type { ReplayAnswer } from "../../replays/schemas.ts";
import { post } from "./api.ts";
import { type Child, h, link, show } from "./dom.ts";

type Answer = Static<typeof ReplayAnswer> & { error?: string };
type Entry = Answer["events"][number];
type Ref = { flow: string; step: string };
type Filter = { type: string; since: string; until?: string; flow?: string };

/** The most events picked at once (each is its own request). */
export const MAX_PICKED = 100;
/** Per-event replays in flight at once. */
const IN_FLIGHT = 4;
/** Entries of a plan or an answer listed; the rest are counted. */
const SHOWN = 25;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const eventLink = (id: string) => link(`/ui/events/${encodeURIComponent(id)}`, id);
const stepName = (ref: Ref) => `${ref.flow} / ${ref.step}`;

/** A bounded list: the first SHOWN items, then how many more. */
function shortList<T>(items: T[], label: string, item: (x: T) => Child[], key?: (x: T) => string): HTMLElement {
  return h(
    "ul",
    { class: "plan", "aria-label": label },
    items.slice(0, SHOWN).map((x) => h("li", { "data-event": key ? key(x) : null }, ...item(x))),
    items.length > SHOWN ? h("li", { class: "muted" }, `… and ${items.length - SHOWN} more`) : null,
  );
}

/** One event of a dry run: what would run (new ones marked) and what no longer matches, with why. */
function planItem(e: Entry): Child[] {
  const runs = [...e.same.map(stepName), ...e.newMatches.map((r) => `${stepName(r)} (new)`)];
  return [
    eventLink(e.eventId),
    ": ",
    runs.length ? `would run ${runs.join(", ")}` : h("span", { class: "muted" }, "nothing would run"),
    e.noLongerMatching.length
      ? h(
          "span",
          { class: "no-longer" },
          "; no longer matching: ",
          e.noLongerMatching.map((g) => `${stepName(g)} (${g.reasons.join("; ")})`).join(", "),
        )
      : null,
  ];
}

/** The POST /replays body for the filters in the URL, or what to set first. */
export function replayFilter(params: URLSearchParams): Filter | { why: string } {
  const type = params.get("type");
  const since = params.get("since");
  if (!type || !since) {
    const missing = !type && !since ? "a type and a received-from time" : !type ? "a type" : "a received-from time";
    return { why: `Set ${missing} to replay all events that match (an admin token).` };
  }
  const filter: Filter = { type, since };
  for (const name of ["until", "flow"] as const) if (params.get(name)) filter[name] = params.get(name)!;
  return filter;
}

/** A labelled optional reason for the audit log. */
function reasonField(id: string, max: number): { field: HTMLElement; value(): string | undefined } {
  const input = h("input", { id, maxlength: max, autocomplete: "off" });
  return {
    field: h("div", { class: "field" }, h("label", { for: id }, "Reason (optional, kept in the audit log)"), input),
    value: () => input.value.trim() || undefined,
  };
}

type Say = (text: string, ok: boolean) => void;

/** The confirmation under a count: reason, "Replay N events", "Leave them" (back to `ask`). */
function confirmation(n: number, reason: HTMLElement, ask: HTMLButtonElement, answer: HTMLElement) {
  const confirm = h("button", { type: "button", "data-key": "replay-confirm" }, `Replay ${plural(n, "event")}`);
  const keep = h("button", { type: "button", class: "secondary" }, "Leave them");
  keep.addEventListener("click", () => {
    show(answer);
    ask.focus();
  });
  return { confirm, row: [reason, h("div", { class: "actions" }, confirm, " ", keep)] };
}

/** "Replay events matching these filters…": POST /replays' dry run, then the replay of exactly the events counted. */
function filterReplay(filter: Filter, answer: HTMLElement, say: Say): HTMLButtonElement {
  const ask = h(
    "button",
    { type: "button", class: "secondary", "data-key": "replay-filter" },
    "Replay events matching these filters…",
  );
  ask.addEventListener("click", async () => {
    ask.disabled = true;
    show(answer, h("p", { class: "loading" }, "Counting…"));
    const dry = await post<Answer>("/replays", { ...filter, dryRun: true });
    ask.disabled = false;
    if (dry.status !== 200)
      return say(`Count failed (${dry.status}): ${dry.body.error ?? JSON.stringify(dry.body)}`, false);
    const n = dry.body.count;
    if (n === 0) return say(`No ${filter.type} event was received in this range: nothing to replay.`, true);
    const reason = reasonField("replay-reason", 2000);
    const { confirm, row } = confirmation(n, reason.field, ask, answer);
    show(
      answer,
      h(
        "p",
        { class: "dry-run" },
        h("strong", {}, `${plural(n, "event")} would be replayed`),
        dry.body.truncated ? ` (the first ${n} that match: narrow the range for the rest)` : "",
        filter.flow ? `, only the steps of flow ${filter.flow}` : "",
        ", matched anew against the flows as they are now:",
      ),
      shortList(dry.body.events, "What the replay would do", planItem, (e) => e.eventId),
      row,
    );
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      // Only the events counted: none accepted after the last of them (unless the answer was cut).
      const last = Date.parse(dry.body.events.at(-1)!.acceptedAt) + 1;
      const until =
        dry.body.truncated || (filter.until && Date.parse(filter.until) <= last)
          ? filter.until
          : new Date(last).toISOString();
      const done = await post<Answer>("/replays", { ...filter, until, dryRun: false, reason: reason.value() });
      if (done.status !== 200)
        return say(`Replay failed (${done.status}): ${done.body.error ?? JSON.stringify(done.body)}`, false);
      const replayed = done.body.replayed ?? [];
      const changed = replayed.length === n ? "" : ` (${n} were counted: the range changed meanwhile)`;
      show(
        answer,
        h("p", { class: "answer ok" }, `Replayed ${plural(replayed.length, "event")}${changed}.`),
        shortList(replayed, "Events replayed", (r) => [eventLink(r.eventId), ` · generation ${r.generation}`]),
      );
    });
    confirm.focus();
  });
  return ask;
}

/** One POST /events/:id/replay, its answer in words. */
async function replayOne(id: string, reason: string | undefined): Promise<{ ok: boolean; text: string }> {
  const query = new URLSearchParams({ wait: "none" });
  if (reason) query.set("reason", reason);
  try {
    const { status, body } = await post<{ generation?: number; error?: string }>(
      `/events/${encodeURIComponent(id)}/replay?${query}`,
    );
    const ok = status >= 200 && status < 300;
    return {
      ok,
      text: ok ? `replayed, generation ${body.generation}` : `${status}: ${body.error ?? JSON.stringify(body)}`,
    };
  } catch (error) {
    return { ok: false, text: error instanceof Error ? error.message : String(error) };
  }
}

/** "Replay picked events…": the count and the events, then one replay each, at most IN_FLIGHT at once, each answer shown. */
function pickedReplay(picked: Set<string>, answer: HTMLElement, say: Say): HTMLButtonElement {
  const ask = h("button", { type: "button", class: "secondary", "data-key": "replay-picked" }, "Replay picked events…");
  ask.addEventListener("click", () => {
    const ids = [...picked].slice(0, MAX_PICKED);
    if (ids.length === 0) return say("Pick events first (the checkboxes in the table).", false);
    // At most 500 characters go in the query string.
    const reason = reasonField("replay-picked-reason", 500);
    const { confirm, row } = confirmation(ids.length, reason.field, ask, answer);
    show(
      answer,
      h(
        "p",
        { class: "dry-run" },
        h("strong", {}, `${plural(ids.length, "picked event")} would be replayed`),
        ", each matched anew against the flows as they are now:",
      ),
      shortList(ids, "Picked events", (id) => [eventLink(id)]),
      row,
    );
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      const why = reason.value();
      const summary = h("p", { class: "answer" }, `Replaying ${plural(ids.length, "event")}…`);
      const items = ids.map((id) =>
        h("li", { "data-replay": id }, eventLink(id), h("span", { class: "muted" }, " · waiting")),
      );
      show(answer, summary, h("ul", { class: "plan", "aria-label": "Replay answers" }, items));
      let next = 0;
      let ok = 0;
      const worker = async () => {
        while (next < ids.length) {
          const i = next++;
          const result = await replayOne(ids[i]!, why);
          if (result.ok) ok++;
          items[i]!.replaceChildren(
            eventLink(ids[i]!),
            h("span", { class: result.ok ? null : "bad" }, ` · ${result.text}`),
          );
          items[i]!.dataset.ok = String(result.ok);
        }
      };
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, ids.length) }, worker));
      const refused = ids.length - ok;
      summary.className = `answer ${refused ? "error" : "ok"}`;
      summary.textContent = `Replayed ${ok} of ${plural(ids.length, "event")}${refused ? `; ${refused} refused (see each)` : ""}.`;
    });
    confirm.focus();
  });
  return ask;
}

/**
 * The events page's bulk replay: the picked events (operate; a scoped token's refusals
 * are shown per event) and the filter's (admin), hidden for tokens whose role may not.
 * `pick(id)` is a table cell with the event's checkbox, keeping `picked` across redraws.
 */
export function replaySection(params: URLSearchParams, picked: Set<string>) {
  const answer = h("div", { class: "bulk-answer", role: "status", "aria-live": "polite" });
  const say: Say = (text, ok) => show(answer, h("p", { class: `answer ${ok ? "ok" : "error"}` }, text));
  const filter = replayFilter(params);
  const byFilter =
    "why" in filter
      ? h("p", { class: "muted small", "data-needs": "admin" }, filter.why)
      : h("span", { "data-needs": "admin", "data-flow": filter.flow ?? "" }, filterReplay(filter, answer, say));
  const section = h(
    "section",
    { class: "bulk", "aria-label": "Bulk replay", "data-needs": "operate" },
    h("div", { class: "actions" }, pickedReplay(picked, answer, say), " ", byFilter),
    answer,
  );
  const pick = (id: string) =>
    h(
      "td",
      {},
      h("input", {
        type: "checkbox",
        class: "pick",
        "aria-label": `pick event ${id}`,
        checked: picked.has(id),
        "data-key": `pick ${id}`,
        onchange: (e: Event) => {
          const box = e.target as HTMLInputElement;
          if (!box.checked) return void picked.delete(id);
          if (picked.size < MAX_PICKED) return void picked.add(id);
          box.checked = false;
          say(`At most ${MAX_PICKED} events can be picked at once: replay these first.`, false);
        },
      }),
    );
  return { section, pick };
}
