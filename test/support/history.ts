import { runIdFor } from "../../lib/protocol/ids.ts";
import { encodeMessage, type FlowMessage } from "../../lib/protocol/messages.ts";
import type { ServiceContext } from "../../services/runtime/context.ts";
import { accepted, anEvent, command, finished, started } from "./messages.ts";

/** One past run to write into the stream: its flow, when it was created and how it ended. */
export type PastRun = { id: string; flow: string; at: Date; status: "completed" | "failed"; output?: string };

/**
 * Publishes a finished history straight into the stream (as ingress, matcher and executor
 * would have written it, with their times in the past): per run its event, the match
 * decision, the command, the start, a chunk of output and the finish. Returns the run ids.
 */
export async function publishHistory(ctx: ServiceContext, runs: readonly PastRun[]): Promise<string[]> {
  const { js, subjects } = ctx;
  const ids: string[] = [];
  for (const run of runs) {
    const at = run.at.toISOString();
    const later = new Date(run.at.getTime() + 1000).toISOString();
    const event = anEvent({ id: run.id, type: "demo.tick", receivedAt: at, payload: { run: run.id } });
    const runId = runIdFor(run.id, 0, run.flow, "a");
    ids.push(runId);
    const decision = {
      flow: run.flow,
      flowVersion: 1,
      step: "a",
      runner: "bun",
      matched: true,
      runId,
      queue: "any",
      reasons: [],
    };
    const messages: [string, FlowMessage][] = [
      [subjects.event("demo.tick"), accepted(event, { acceptedAt: at })],
      [subjects.command("any"), command(runId, event, { flow: run.flow, step: "a", createdAt: at })],
      [
        subjects.matched(run.id),
        { v: 1, kind: "event.matched", eventId: run.id, generation: 0, matchedAt: at, decisions: [decision] },
      ],
      [subjects.run(runId, "started"), started(runId, 1, "host-a", at)],
      [
        subjects.run(runId, "output"),
        { v: 1, kind: "run.output", runId, attempt: 1, chunk: 0, stream: "stdout", text: run.output ?? "hello\n", at },
      ],
      [
        subjects.run(runId, "finished"),
        finished(runId, 1, {
          status: run.status,
          exitCode: run.status === "completed" ? 0 : 1,
          result: run.status === "completed" ? { status: "completed" } : undefined,
          startedAt: at,
          finishedAt: later,
        }),
      ],
    ];
    for (const [subject, message] of messages) await js.publish(subject, encodeMessage(message));
  }
  return ids;
}
