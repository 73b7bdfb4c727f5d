import type { JsMsg } from "@nats-io/jetstream";
import type { FlowCatalog } from "../../lib/flows/catalog.ts";
import { isGroupQueue, queueBase, queueFor, SHARED_QUEUE } from "../../lib/flows/step-policy.ts";
import { type DurableLoop, runDurableLoop } from "../../lib/nats/consume.ts";
import { consumers } from "../../lib/protocol/consumers.ts";
import type { RunStep } from "../../lib/protocol/messages.ts";
import { Slots } from "../../lib/slots.ts";
import type { AbortReason, AttemptDeps } from "./attempt.ts";
import { handleCommand } from "./attempt.ts";
import { startDeadLetters } from "./dead-letters.ts";
import { startHeartbeat } from "./heartbeat.ts";

export type ExecutorOptions = Omit<AttemptDeps, "inflight"> & {
  labels: string[];
  concurrency: number;
  maxDeliver: number;
  replicas: number;
};

export type Executor = {
  queues(): string[];
  slotsInUse(): number;
  /** Takes no new work; lets running steps finish for `graceMs`, then hands the rest back. */
  stop(graceMs: number): Promise<void>;
};

/**
 * The queues this host serves: `any`, its host id, its labels, and the concurrency-group
 * queues of the flows it knows whose host part is one of those.
 */
export function servedQueues(hostId: string, labels: string[], catalog: FlowCatalog): string[] {
  const bases = new Set([SHARED_QUEUE, hostId, ...labels]);
  const groups = catalog
    .current()
    .flows.flatMap((flow) =>
      flow.steps.map((step) => queueFor(step.policy)).filter((q) => isGroupQueue(q) && bases.has(queueBase(q))),
    );
  return [...new Set([...bases, ...groups])];
}

/**
 * Runs step commands from every queue this host serves, at most `concurrency` at once
 * across all of them. A concurrency group's queue is a consumer with max_ack_pending 1,
 * so its runs never overlap on any host. Cancels arrive on a plain subscription to
 * `<prefix>.runs.*.cancel` and reach the run wherever it is in progress.
 */
export async function startExecutor(options: ExecutorOptions): Promise<Executor> {
  const { js, jsm, nc, stream, subjects, catalog, log } = options;
  const inflight = new Map<string, AbortController>();
  const deps: AttemptDeps = { ...options, inflight };
  const slots = new Slots(options.concurrency);
  const loops = new Map<string, DurableLoop>();

  const serve = async (queue: string) => {
    const consumer = consumers.executor(subjects, queue, options);
    // handleCommand holds the lease itself (renewed, and fenced when renewals go unanswered).
    const handle = (command: RunStep, delivery: JsMsg) => handleCommand(deps, command, delivery);
    loops.set(
      queue,
      await runDurableLoop({ js, jsm, stream, consumer, slots, batch: options.concurrency, log, handle }),
    );
  };
  for (const queue of servedQueues(options.hostId, options.labels, catalog)) await serve(queue);

  // Flows can change while we run: serve concurrency groups that appear.
  const watch = setInterval(() => {
    for (const queue of servedQueues(options.hostId, options.labels, catalog)) {
      if (!loops.has(queue)) serve(queue).catch((error) => log.error("cannot serve queue", { queue, error }));
    }
  }, 2_000);

  const deadLetters = await startDeadLetters(options);
  const stopBeat = startHeartbeat(nc, subjects, () => ({
    host: options.hostId,
    labels: options.labels,
    queues: [...loops.keys()],
    slotsInUse: slots.used,
    capacity: slots.capacity,
  }));
  const cancels = nc.subscribe(subjects.allCancels, {
    callback: (error, msg) => {
      if (error) return log.warn("cancel subscription", { error });
      const runId = msg.subject.split(".").at(-2)!;
      inflight.get(runId)?.abort("cancel" satisfies AbortReason);
    },
  });

  return {
    queues: () => [...loops.keys()],
    slotsInUse: () => slots.used,
    async stop(graceMs) {
      clearInterval(watch);
      stopBeat();
      await deadLetters.stop(2_000);
      const drained = await Promise.all([...loops.values()].map((loop) => loop.stop(graceMs)));
      if (drained.some((ok) => !ok)) {
        log.warn(`grace period over: handing ${inflight.size} running step(s) back`);
        for (const controller of inflight.values()) controller.abort("shutdown" satisfies AbortReason);
        await Promise.race([Promise.all([...loops.values()].map((loop) => loop.idle())), Bun.sleep(10_000)]);
      }
      cancels.unsubscribe();
    },
  };
}
