import type { HostsView } from "../../../system/schemas.ts";
import { get } from "../api.ts";
import { h, show, table, time } from "../dom.ts";
import type { PageContext } from "../page.ts";

const REFRESH_MS = 5_000;

function render(view: HostsView): (Node | null)[] {
  const p = view.projector;
  const hosts = view.hosts.map((x) =>
    h(
      "tr",
      {},
      h("td", {}, x.host),
      h("td", {}, x.labels.join(", ") || h("span", { class: "muted" }, "–")),
      h("td", {}, x.queues.join(", ")),
      h("td", { class: "num" }, `${x.slotsInUse} / ${x.capacity}`),
      h("td", {}, time(x.at)),
    ),
  );
  const queues = view.queues.map((q) =>
    h(
      "tr",
      { class: q.pending > 0 && q.waiting === 0 ? "attention" : null },
      h("td", {}, q.consumer),
      h("td", { class: "num" }, q.pending),
      h("td", { class: "num" }, q.ackPending),
      h("td", { class: "num" }, q.waiting),
    ),
  );
  return [
    h("h1", {}, "Hosts"),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "NATS"),
      h(
        "dd",
        {},
        view.nats.connected ? `connected${view.nats.server ? ` (${view.nats.server})` : ""}` : "disconnected",
      ),
      h("dt", {}, "Projector"),
      h("dd", {}, `applied ${p.appliedSeq} of ${p.streamSeq ?? "?"}`, h("strong", {}, ` · lag ${p.lag ?? "unknown"}`)),
    ),
    h("h2", {}, "Executors heard from"),
    hosts.length
      ? table(["Host", "Labels", "Queues", "Slots in use", "Last heartbeat"], hosts, "Executors")
      : h("p", { class: "empty" }, "No executor has sent a heartbeat in the last 15 s."),
    h("h2", {}, "Queues"),
    view.queuesError ? h("p", { class: "error" }, view.queuesError) : null,
    queues.length
      ? table(["Consumer", "Waiting to be delivered", "In progress", "Open pulls"], queues, "Consumers")
      : h("p", { class: "empty" }, "No consumers."),
  ];
}

/** Executors (host, labels, queues, slots), consumers' backlogs and the projector's lag, refreshed every few seconds. */
export async function hostsPage(ctx: PageContext): Promise<void> {
  const { main, signal } = ctx;
  show(main, ...render(await get<HostsView>("/hosts", signal)));
  const timer = setInterval(async () => {
    try {
      const view = await get<HostsView>("/hosts", signal);
      show(main, ...render(view));
    } catch (error) {
      if (!signal.aborted) ctx.fail(error);
    }
  }, REFRESH_MS);
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
