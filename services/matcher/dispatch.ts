import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { msgIds } from "../../lib/protocol/ids.ts";
import { lastMessage } from "../../lib/nats/last-message.ts";
import { decodeMessage, encodeMessage, type FlowMessage, type RunDeferred, type RunHeld, type RunStep } from "../../lib/protocol/messages.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";

export type DispatchDeps = { js: JetStreamClient; jsm: JetStreamManager; stream: string; subjects: Subjects; publishTimeoutMs: number };

/** The pause a step's runs wait for now (the flow's first, then the step's), with its sequence. */
async function activePause(deps: DispatchDeps, flow: string, step: string): Promise<{ key: string; step?: string; seq: number } | undefined> {
  // Read from the stream for every run (not a cached watch): once a pause is stored, no run of that flow slips past it.
  const [ofFlow, ofStep] = await Promise.all([lastMessage(deps, deps.subjects.control(flow)), lastMessage(deps, deps.subjects.control(flow, step))]);
  if (ofFlow?.message.kind === "flow.paused") return { key: flow, seq: ofFlow.seq };
  if (ofStep?.message.kind === "flow.paused") return { key: `${flow}/${step}`, step, seq: ofStep.seq };
  return undefined;
}

/**
 * Where a matched run goes: held while its flow or step is paused, otherwise onto its
 * queue. A pause that ends while the run is being held is noticed right after: the
 * resume releases what was held before it, and this releases what came after.
 */
export async function route(deps: DispatchDeps, command: RunStep, eventSeq?: number): Promise<void> {
  const publish = (subject: string, body: FlowMessage, msgID: string) => deps.js.publish(subject, encodeMessage(body), { msgID, timeout: deps.publishTimeoutMs });
  const pause = await activePause(deps, command.flow, command.step);
  if (pause) {
    const reason = `held: ${pause.step ? `step ${pause.key}` : `flow ${pause.key}`} is paused; the run starts when it is resumed`;
    const held: RunHeld = { v: 1, kind: "run.held", runId: command.runId, command, pause: pause.key, pausedSeq: pause.seq, reason, heldAt: new Date().toISOString(), ...(eventSeq ? { eventSeq } : {}) };
    await publish(deps.subjects.held(command.flow, pause.step), held, `held:${command.runId}:${pause.seq}`);
    const now = await lastMessage(deps, deps.subjects.control(command.flow, pause.step));
    if (now?.seq === pause.seq) return;
  }
  await publish(deps.subjects.command(command.queue), command, msgIds.command(command.runId, 1));
}

/** Publishes a debounced run's run.deferred message (lib/flows/debounce.ts deferredRun, sized by fit.ts) on its key's subject. */
export async function defer(deps: DispatchDeps, deferred: RunDeferred, body: string): Promise<void> {
  const { command, key } = deferred;
  await deps.js.publish(deps.subjects.debounce(command.flow, command.step, key), body, { msgID: `deferred:${command.runId}`, timeout: deps.publishTimeoutMs });
}

/** Held runs one resume releases at most (a bound on the work of one resume). */
export const MAX_RELEASE = 100_000;

/**
 * Queues the runs a resume releases: those held for this pause (stream sequences after
 * the pause, before the resume), in the order their events were accepted (the matcher
 * decides several events at once, so the order they were held in can differ). Each goes
 * through `route` again (another pause may still hold it); a run canceled meanwhile stays put.
 */
export async function releaseHeld(deps: DispatchDeps, flow: string, step: string | undefined, pausedSeq: number, resumedSeq: number): Promise<number> {
  const subject = deps.subjects.held(flow, step);
  const held: { order: number; command: RunStep }[] = [];
  for (let cursor = pausedSeq + 1; held.length < MAX_RELEASE && cursor < resumedSeq; ) {
    const stored = await deps.jsm.direct.getMessage(deps.stream, { seq: cursor, next_by_subj: subject });
    if (!stored || stored.seq >= resumedSeq) break;
    cursor = stored.seq + 1;
    const decoded = decodeMessage(stored.data);
    if (decoded.ok && decoded.message.kind === "run.held") held.push({ order: decoded.message.eventSeq ?? stored.seq, command: decoded.message.command });
  }
  held.sort((a, b) => a.order - b.order);
  let released = 0;
  for (const { command } of held) {
    if (await canceled(deps, command.runId)) continue;
    await route(deps, command);
    released++;
  }
  return released;
}

/** Whether an operator canceled the run (a held or debounced run must then never reach its queue). */
export async function canceled(deps: DispatchDeps, runId: string): Promise<boolean> {
  return (await lastMessage(deps, deps.subjects.run(runId, "cancel"))) !== undefined;
}

/** Whether a run has any record in the stream: it started, ended, was superseded or canceled (its command was published). */
export async function runRecorded(deps: DispatchDeps, runId: string): Promise<boolean> {
  const records = await Promise.all((["started", "finished", "superseded", "cancel"] as const).map((kind) => lastMessage(deps, deps.subjects.run(runId, kind))));
  return records.some((record) => record !== undefined);
}
