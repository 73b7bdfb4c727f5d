import { describe, test } from "bun:test";
import { deferredRun } from "../lib/flows/debounce.ts";
import type { FlowPaused, FlowResumed, RunDeferred, RunHeld, RunStep } from "../lib/protocol/messages.ts";
import {
  type RouteFacts,
  releaseOrder,
  routeCommand,
  type Settled,
  type Stored,
  settleDeferred,
} from "../services/matcher/route.ts";
import { anEvent, command, T0 } from "./support/messages.ts";
import { spec } from "./support/spec.ts";

const RUN = "run-aaaaaaaaaaaaaaaaaaaaaaaa";
const NOW = "2026-11-23T10:05:00.000Z";
const run = command(RUN);
const routing = spec((when: RunStep, given: Omit<RouteFacts, "now">) => routeCommand(when, { ...given, now: NOW }));

const paused = (seq: number, step?: string): Stored => ({
  seq,
  message: { v: 1, kind: "flow.paused", flow: "bindings", ...(step ? { step } : {}), at: T0 } satisfies FlowPaused,
});
const resumed = (seq: number, pausedSeq: number, step?: string): Stored => ({
  seq,
  message: {
    v: 1,
    kind: "flow.resumed",
    flow: "bindings",
    ...(step ? { step } : {}),
    pausedSeq,
    at: T0,
  } satisfies FlowResumed,
});
const heldBy = (pause: string, pausedSeq: number, reason: string, extra: Partial<RunHeld> = {}): RunHeld => ({
  v: 1,
  kind: "run.held",
  runId: RUN,
  command: run,
  pause,
  pausedSeq,
  reason,
  heldAt: NOW,
  ...extra,
});
const FLOW_PAUSED = "held: flow bindings is paused; the run starts when it is resumed";
const STEP_PAUSED = "held: step bindings/regenerate is paused; the run starts when it is resumed";

describe("matcher routeCommand", () => {
  test("given neither its flow nor its step ever paused, when a run is routed, then it is published onto its queue", () => {
    routing.given({}).when(run).then({ kind: "publish" });
  });

  test("given its flow paused, when a run is routed, then it is held for the flow's pause, with the event's sequence to be released in order", () => {
    routing
      .given({ ofFlow: paused(7), eventSeq: 12 })
      .when(run)
      .then({ kind: "hold", held: heldBy("bindings", 7, FLOW_PAUSED, { eventSeq: 12 }) });
  });

  test("given its step paused, when a run is routed, then it is held for the step's pause, on the step's subject", () => {
    routing
      .given({ ofStep: paused(9, "regenerate") })
      .when(run)
      .then({ kind: "hold", step: "regenerate", held: heldBy("bindings/regenerate", 9, STEP_PAUSED) });
  });

  test("given both its flow and its step paused, when a run is routed, then the flow's pause holds it", () => {
    routing
      .given({ ofFlow: paused(7), ofStep: paused(9, "regenerate") })
      .when(run)
      .then({ kind: "hold", held: heldBy("bindings", 7, FLOW_PAUSED) });
  });

  test("given its flow paused then resumed, when a run is routed, then it is published", () => {
    routing
      .given({ ofFlow: resumed(8, 7) })
      .when(run)
      .then({ kind: "publish" });
  });

  test("given its flow resumed while its step is still paused, when a run is routed, then the step's pause holds it", () => {
    routing
      .given({ ofFlow: resumed(8, 7), ofStep: paused(9, "regenerate") })
      .when(run)
      .then({ kind: "hold", step: "regenerate", held: heldBy("bindings/regenerate", 9, STEP_PAUSED) });
  });

  test("given its step paused then resumed, when a run is routed, then it is published", () => {
    routing
      .given({ ofStep: resumed(10, 9, "regenerate") })
      .when(run)
      .then({ kind: "publish" });
  });
});

describe("matcher releaseOrder", () => {
  const releasing = spec((_resume: "resumed", stored: Stored[]) => releaseOrder(stored));
  const held = (seq: number, runId: string, eventSeq?: number): Stored => ({
    seq,
    message: heldBy("bindings", 1, FLOW_PAUSED, { runId, command: command(runId), ...(eventSeq ? { eventSeq } : {}) }),
  });

  test("given runs held out of their events' order (two matchers), when the flow is resumed, then they are released in the order their events were accepted", () => {
    releasing
      .given([held(20, "run-b", 11), held(21, "run-a", 10), held(22, "run-c", 12)])
      .when("resumed")
      .then([command("run-a"), command("run-b"), command("run-c")]);
  });

  test("given a run held by an older matcher (no event sequence), when resumed, then it is ordered by its own sequence among the others", () => {
    releasing
      .given([held(30, "run-late", 25), held(20, "run-old")])
      .when("resumed")
      .then([command("run-old"), command("run-late")]);
  });

  test("given nothing held, when resumed, then nothing is released", () => {
    releasing.given([]).when("resumed").thenNothing();
  });
});

describe("debouncer settleDeferred", () => {
  const DEBOUNCE = { ms: 1_000, key: "type" };
  /** The run of event `id`, stored at `storedSeq`, whose event was stored at `eventSeq` and arrived `ms` after T0. */
  const deferredOf = (id: string, ms: number, eventSeq?: number) => {
    const message = deferredRun(
      command(`run-${id}`, anEvent({ id })),
      DEBOUNCE,
      new Date(Date.parse(T0) + ms).toISOString(),
      eventSeq ?? 1,
    );
    if (eventSeq === undefined) delete message.eventSeq;
    return message;
  };
  const mine = deferredOf("e1", 0, 10);
  /** Given the deferred runs stored after mine on its key's subject, when mine is due, what it does. */
  const settling = spec((storedSeq: number, given: { later: Stored[]; deferred?: RunDeferred }) =>
    settleDeferred(given.deferred ?? mine, { storedSeq, later: given.later, now: NOW }),
  );
  const supersededBy = (eventId: string): Settled => ({
    kind: "supersede",
    superseded: { v: 1, kind: "run.superseded", runId: "run-e1", supersededBy: eventId, at: NOW },
  });

  test("given no later run on its key, when the run is due, then it is released", () => {
    settling.given({ later: [] }).when(20).then({ kind: "release" });
  });

  test("given a later event exactly the debounce time after it, when due, then it is superseded, naming that event", () => {
    settling
      .given({ later: [{ seq: 21, message: deferredOf("e2", 1_000, 11) }] })
      .when(20)
      .then(supersededBy("e2"));
  });

  test("given a later event a millisecond past the debounce time, when due, then it is released", () => {
    settling
      .given({ later: [{ seq: 21, message: deferredOf("e2", 1_001, 11) }] })
      .when(20)
      .then({ kind: "release" });
  });

  test("given two later events deferred out of their stored order (two matchers), when due, then the first stored supersedes it", () => {
    settling
      .given({
        later: [
          { seq: 21, message: deferredOf("e3", 600, 12) },
          { seq: 22, message: deferredOf("e2", 300, 11) },
        ],
      })
      .when(20)
      .then(supersededBy("e2"));
  });

  test("given a run deferred after it whose event was stored before its own (a slower matcher), when due, then it does not supersede it", () => {
    settling
      .given({ later: [{ seq: 21, message: deferredOf("e0", 500, 9) }] })
      .when(20)
      .then({ kind: "release" });
  });

  test("given a run of an older version (no event sequence) stored at 20, when due, then its stored sequence orders it: a run of an event stored at 11 does not supersede it", () => {
    settling
      .given({ deferred: deferredOf("e1", 0), later: [{ seq: 21, message: deferredOf("e2", 500, 11) }] })
      .when(20)
      .then({ kind: "release" });
    settling
      .given({ deferred: deferredOf("e1", 0), later: [{ seq: 21, message: deferredOf("e2", 500) }] })
      .when(20)
      .then(supersededBy("e2"));
  });
});
