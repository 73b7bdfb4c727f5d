import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { approvalRequest, awaitingApprovalEvent, type StepApproval } from "../../lib/flows/approval.ts";
import { lastMessage } from "../../lib/nats/last-message.ts";
import { publisher } from "../../lib/nats/publish.ts";
import { decodeMessage, type RunDeferred, type RunStep } from "../../lib/protocol/messages.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";
import { releaseOrder, routeCommand, type Stored } from "./route.ts";

export type DispatchDeps = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subjects: Subjects;
  publishTimeoutMs: number;
};

/**
 * Where a matched run goes (route.ts routeCommand): held while its flow or step is
 * paused, otherwise onto its queue. The pauses are read from the stream for every run
 * (not a cached watch): once a pause is stored, no run of that flow slips past it. A
 * pause that ends while the run is being held is noticed right after: the resume
 * releases what was held before it, and this releases what came after.
 */
export async function route(
  deps: DispatchDeps,
  command: RunStep,
  eventSeq?: number,
  read: Promise<Pauses> = readPauses(deps, command),
): Promise<void> {
  const publish = publisher(deps);
  const { ofFlow, ofStep } = await read;
  const routed = routeCommand(command, { ofFlow, ofStep, eventSeq, now: new Date().toISOString() });
  if (routed.kind === "hold") {
    const { held, step } = routed;
    await publish(held);
    const now = await lastMessage(deps, deps.subjects.control(command.flow, step));
    if (now?.seq === held.pausedSeq) return;
  }
  await publish(command);
}

/** The last pause or resume of the command's flow and of its step. */
export type Pauses = { ofFlow: Stored | undefined; ofStep: Stored | undefined };

/**
 * The reads `route` decides by. Started before the caller's own checks when it wants the
 * round trips to overlap (the matcher's), as long as the command is published after them.
 */
export async function readPauses(deps: DispatchDeps, command: RunStep): Promise<Pauses> {
  const [ofFlow, ofStep] = await Promise.all([
    lastMessage(deps, deps.subjects.control(command.flow)),
    lastMessage(deps, deps.subjects.control(command.flow, command.step)),
  ]);
  return { ofFlow, ofStep };
}

/**
 * Where a run that may start goes: a step with `[steps.approval]` waits for a person (its
 * request holds the command, and the `codex-flows.run.awaiting_approval` event tells
 * whoever listens); any other goes through `route`. The approver (approver.ts) routes an
 * approved run.
 */
export async function admit(
  deps: DispatchDeps,
  command: RunStep,
  approval: StepApproval | undefined,
  eventSeq?: number,
  pauses?: Promise<Pauses>,
): Promise<void> {
  if (!approval) return await route(deps, command, eventSeq, pauses);
  const publish = publisher(deps);
  const now = new Date().toISOString();
  const request = approvalRequest({ gate: "step", command }, approval, now);
  await publish(request);
  const asked = awaitingApprovalEvent(request, command, now);
  if (asked) await publish(asked);
}

/** Publishes a debounced run's run.deferred message (lib/flows/debounce.ts deferredRun, sized by fit.ts) on its key's subject. */
export async function defer(deps: DispatchDeps, deferred: RunDeferred, body: string): Promise<void> {
  await publisher(deps)(deferred, { body });
}

/** Held runs one resume releases at most (a bound on the work of one resume). */
export const MAX_RELEASE = 100_000;

/**
 * Queues the runs a resume releases: those held for this pause (stream sequences after
 * the pause, before the resume), in route.ts releaseOrder. Each goes through `route`
 * again (another pause may still hold it); a run canceled meanwhile stays put.
 */
export async function releaseHeld(
  deps: DispatchDeps,
  flow: string,
  step: string | undefined,
  pausedSeq: number,
  resumedSeq: number,
): Promise<number> {
  const subject = deps.subjects.held(flow, step);
  const held: Stored[] = [];
  for (let cursor = pausedSeq + 1; held.length < MAX_RELEASE && cursor < resumedSeq; ) {
    const stored = await deps.jsm.direct.getMessage(deps.stream, { seq: cursor, next_by_subj: subject });
    if (!stored || stored.seq >= resumedSeq) break;
    cursor = stored.seq + 1;
    const decoded = decodeMessage(stored.data);
    if (decoded.ok && decoded.message.kind === "run.held") held.push({ seq: stored.seq, message: decoded.message });
  }
  let released = 0;
  for (const command of releaseOrder(held)) {
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
  const records = await Promise.all(
    (["started", "finished", "superseded", "cancel"] as const).map((kind) =>
      lastMessage(deps, deps.subjects.run(runId, kind)),
    ),
  );
  return records.some((record) => record !== undefined);
}
