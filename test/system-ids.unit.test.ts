// Issue 18 items 11 and 12: the ids and types the system generates are out of every client's reach.
import { describe, expect, test } from "bun:test";
import { chainedEvents } from "../lib/flows/chain.ts";
import { tickEventId } from "../lib/flows/schedule.ts";
import { reservedEventId, systemFieldProblems } from "../lib/protocol/event.ts";
import { runIdFor } from "../lib/protocol/ids.ts";
import { runEventFor } from "../services/executor/run-events.ts";
import { command, finished, T0 } from "./support/messages.ts";

describe("system event ids", () => {
  const runId = runIdFor("ev-1", 0, "fork", "rebase");

  test("given every id the system generates (tick, run event, next without an id), then each is reserved", () => {
    const runEvent = runEventFor(command(runId), { ...finished(runId, 1), status: "failed" }, T0, 0)!;
    const next = chainedEvents({ status: "completed", next: [{ type: "a.b" }] }, command(runId), T0).events[0]!;
    for (const id of [tickEventId("nightly", "daily", new Date(T0)), runEvent.event.id, next.event.id])
      expect(reservedEventId(id)).toContain("has the form of an id the system generates");
  });

  test("given ordinary client ids, including ones that merely mention the forms, then none is reserved", () => {
    for (const id of ["ev-1", "run-1", "run-abc/next/0", "my schedule:1", "x:codex-flows.run.failed", "Schedule-1"])
      expect(reservedEventId(id)).toBeUndefined();
  });

  test("given a type in the codex-flows namespace, then it is refused naming the field; a type that only starts alike is not", () => {
    expect(systemFieldProblems({ type: "codex-flows.run.failed" })).toEqual([
      'type: "codex-flows.run.failed" is in the system\'s namespace (codex-flows.*); only codex-flows itself emits these events',
    ]);
    expect(systemFieldProblems({ type: "codex-flows" })).toHaveLength(1);
    expect(systemFieldProblems({ type: "codex-flowsy.run" })).toEqual([]);
  });

  test("given a result whose next names a system id or type, then those are not started and the run says why", () => {
    const asked = {
      status: "completed" as const,
      next: [
        { id: `codex-flows.run.failed:${runId}:1`, type: "a.b" },
        { type: "codex-flows.run.failed" },
        { type: "a.b" },
      ],
    };
    const chained = chainedEvents(asked, command(runId), T0);
    expect(chained.events.map((e) => e.event.id)).toEqual([`${runId}/next/2`]);
    expect(chained.problems).toHaveLength(2);
    expect(chained.problems[0]).toStartWith("next[0] not started: id: ");
    expect(chained.problems[1]).toStartWith('next[1] not started: type: "codex-flows.run.failed" is in the system');
  });
});
