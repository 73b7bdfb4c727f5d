import type { FlowCatalog } from "../../lib/flows/catalog.ts";
import type { Flow } from "../../lib/flows/manifest.ts";
import { dueTicks, type Schedule, tickEvent, tickEventId } from "../../lib/flows/schedule.ts";
import type { Logger } from "../../lib/log.ts";
import { lastMessage } from "../../lib/nats/last-message.ts";
import { publisher } from "../../lib/nats/publish.ts";
import type { EventAccepted, ScheduleTicked } from "../../lib/protocol/messages.ts";
import type { DispatchDeps } from "./dispatch.ts";

/** How often a scheduler looks for due ticks. */
export const SCHEDULER_EVERY_MS = 1_000;
/** A tick claimed this recently has its event published again (deduplicated) by a scheduler that has not seen it through. */
const CONFIRM_WITHIN_MS = 60_000;

export type Scheduler = { stop(): Promise<void> /** One pass now (tests). */; pass(now?: Date): Promise<void> };

/**
 * Emits schedule ticks as ordinary events. Every host may run one: each tick is first
 * claimed by a `schedule.ticked` message whose msgID names the tick, so of several
 * schedulers exactly one goes on to publish the tick's event (whose id is deterministic
 * too, so the event dedup path would catch a second one anyway). A claim younger than a
 * minute whose event this scheduler has not published is published again (dropped as a
 * duplicate when it exists), so a claimer that died in between loses no tick. The last
 * tick on the schedule's subject is where a scheduler resumes after everything was down.
 */
export function startScheduler(
  deps: DispatchDeps & { catalog: FlowCatalog; log: Logger; everyMs?: number; duplicateWindowMs?: number },
): Scheduler {
  const { subjects, log } = deps;
  // Only inside the dedup window: a repeat there is dropped by its msgID and never enters the stream.
  const confirmWithinMs = Math.min(CONFIRM_WITHIN_MS, (deps.duplicateWindowMs ?? 120_000) / 2);
  const firstSeen = new Map<string, Date>();
  // Tick events this scheduler published or re-published: a claimer that died before its event is covered once.
  const confirmed = new Set<string>();
  const publish = publisher(deps);

  const record = async (
    flow: Flow,
    schedule: Schedule,
    tick: Date,
    outcome: ScheduleTicked["outcome"],
    lastEmitted: string | undefined,
    reason?: string,
  ) => {
    const eventId = tickEventId(flow.name, schedule.name, tick);
    const ticked: ScheduleTicked = {
      v: 1,
      kind: "schedule.ticked",
      flow: flow.name,
      schedule: schedule.name,
      tick: tick.toISOString(),
      outcome,
      eventId,
      ...(outcome === "emitted"
        ? { lastEmittedEventId: eventId }
        : lastEmitted
          ? { lastEmittedEventId: lastEmitted }
          : {}),
      ...(reason ? { reason } : {}),
      at: new Date().toISOString(),
    };
    const ack = await publish(ticked);
    return !ack.duplicate;
  };

  /** Publishes a tick's event; a repeat is dropped by its msgID (or, beyond the dedup window, by the matcher). */
  const emit = async (flow: Flow, schedule: Schedule, tick: Date): Promise<string> => {
    const now = new Date();
    const event = tickEvent(flow.name, schedule, tick, now);
    const accepted: EventAccepted = { v: 1, kind: "event.accepted", event, acceptedAt: now.toISOString() };
    await publish(accepted);
    if (confirmed.size > 10_000) confirmed.clear();
    confirmed.add(event.id);
    return event.id;
  };

  const handle = async (flow: Flow, schedule: Schedule, now: Date) => {
    const key = `${flow.name}\n${schedule.name}`;
    if (!firstSeen.has(key)) firstSeen.set(key, now);
    const last = await lastMessage(deps, subjects.schedule(flow.name, schedule.name));
    const lastTicked = last?.message.kind === "schedule.ticked" ? last.message : undefined;
    const due = dueTicks(schedule, lastTicked ? new Date(lastTicked.tick) : undefined, firstSeen.get(key)!, now);
    if (
      lastTicked?.outcome === "emitted" &&
      !confirmed.has(lastTicked.eventId) &&
      now.getTime() - Date.parse(lastTicked.at) < confirmWithinMs
    ) {
      await emit(flow, schedule, new Date(lastTicked.tick));
    }
    let lastEmitted = lastTicked?.lastEmittedEventId;
    for (const { tick, reason } of due.skip) await record(flow, schedule, tick, "skipped", lastEmitted, reason);
    // Ticks caught up together (catch_up = all) are not checked against each other.
    let caughtUp = false;
    for (const tick of due.emit) {
      if (schedule.overlap === "skip" && !caughtUp && lastEmitted && (await stillRunning(deps, lastEmitted))) {
        await record(
          flow,
          schedule,
          tick,
          "skipped",
          lastEmitted,
          `the runs of the previous tick (${lastEmitted}) are still going (overlap = skip)`,
        );
        continue;
      }
      // Whoever stores the claim first publishes the event; the others stop here.
      if (!(await record(flow, schedule, tick, "emitted", lastEmitted))) return;
      lastEmitted = await emit(flow, schedule, tick);
      caughtUp = true;
      log.info("schedule ticked", { flow: flow.name, schedule: schedule.name, tick: tick.toISOString() });
    }
  };

  const pass = async (now = new Date()) => {
    for (const flow of deps.catalog.current().flows) {
      for (const schedule of flow.schedules ?? []) {
        await handle(flow, schedule, now).catch((error) =>
          log.warn("schedule pass failed; trying again next pass", { flow: flow.name, schedule: schedule.name, error }),
        );
      }
    }
  };

  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= pass().finally(() => (running = undefined));
  }, deps.everyMs ?? SCHEDULER_EVERY_MS);
  return {
    pass,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * Whether any run of an event is still going: not matched yet, or a run with no final
 * record (held and debounced runs count as going).
 */
export async function stillRunning(deps: DispatchDeps, eventId: string): Promise<boolean> {
  const matched = await lastMessage(deps, deps.subjects.matched(eventId));
  if (matched?.message.kind !== "event.matched") return true;
  for (const decision of matched.message.decisions) {
    if (!decision.runId) continue;
    const [finished, superseded, cancel] = await Promise.all(
      (["finished", "superseded", "cancel"] as const).map((kind) =>
        lastMessage(deps, deps.subjects.run(decision.runId!, kind)),
      ),
    );
    const ended =
      (finished?.message.kind === "run.finished" && finished.message.retryInMs === undefined) ||
      superseded !== undefined ||
      cancel !== undefined;
    if (!ended) return true;
  }
  return false;
}
