import { describe, test } from "bun:test";
import type { FlowMessage, RunCancelRequested } from "../lib/protocol/messages.ts";
import { type AttemptFacts, decideAttempt } from "../services/executor/decide.ts";
import { command, finished, T0 } from "./support/messages.ts";
import { spec } from "./support/spec.ts";

const RUN = "run-aaaaaaaaaaaaaaaaaaaaaaaa";
const STEP = { flow: "bindings", step: "regenerate" };
const COMMAND_SEQ = 5;

/** What the stream and the catalog say about the run before this delivery. */
type Given = Pick<AttemptFacts<typeof STEP>, "finished" | "cancel" | "found">;
/** The delivery: its attempt, its command's base, and what happened to it while it waited. */
type When = { attempt: number; attemptBase?: number } & Partial<Pick<AttemptFacts<typeof STEP>, "aborted" | "fenced">>;

const delivery = spec((when: When, given: Given) =>
  decideAttempt({
    command: command(RUN, undefined, when.attemptBase === undefined ? {} : { attemptBase: when.attemptBase }),
    attempt: when.attempt,
    seq: COMMAND_SEQ,
    ...given,
    aborted: when.aborted,
    fenced: when.fenced ?? false,
    hostId: "host-a",
    maxLostAttempts: 3,
  }),
);

const stored = (seq: number, message: FlowMessage) => ({ seq, message });
const cancelAt = (seq: number) =>
  stored(seq, {
    v: 1,
    kind: "run.cancel",
    runId: RUN,
    requestedAt: T0,
    reason: "operator",
  } satisfies RunCancelRequested);
const nothingRecorded: Given = { found: STEP };
const gaveUp = {
  kind: "giveUp" as const,
  error: "gave up: the last 3 attempts ended without a result (their executors stopped mid-step)",
};
const run = (lastFinished?: ReturnType<typeof finished>) => ({ kind: "run" as const, found: STEP, lastFinished });

describe("executor decideAttempt", () => {
  test("given nothing recorded for the run, when its first delivery comes, then the step runs", () => {
    delivery.given(nothingRecorded).when({ attempt: 1 }).then(run());
  });

  test("given the run finished with no retry pending, when it is delivered again, then it is skipped", () => {
    delivery
      .given({ ...nothingRecorded, finished: stored(9, finished(RUN, 1)) })
      .when({ attempt: 2 })
      .then({ kind: "skip", reason: "attempt 1 already finished" });
  });

  test("given the run finished with a retry pending, when the retry is delivered, then it runs and knows the last record (its failures)", () => {
    const retrying = finished(RUN, 1, { status: "failed", failures: 1, retryInMs: 2_000 });
    delivery
      .given({ ...nothingRecorded, finished: stored(9, retrying) })
      .when({ attempt: 2 })
      .then(run(retrying));
  });

  test("given a finish of an attempt before the command's base (an earlier try, then flow retry), when the new command is delivered, then it runs as if nothing finished", () => {
    delivery
      .given({ ...nothingRecorded, finished: stored(9, finished(RUN, 1)) })
      .when({ attempt: 2, attemptBase: 1 })
      .then(run());
  });

  test("given a cancel stored after the command, when the command is delivered, then the attempt is recorded canceled", () => {
    delivery
      .given({ ...nothingRecorded, cancel: cancelAt(COMMAND_SEQ + 1) })
      .when({ attempt: 1 })
      .then({ kind: "cancel", error: "canceled before it started" });
  });

  test("given a cancel older than the command (a run queued again after it), when the command is delivered, then the step runs", () => {
    delivery
      .given({ ...nothingRecorded, cancel: cancelAt(COMMAND_SEQ - 1) })
      .when({ attempt: 1 })
      .then(run());
  });

  test("given nothing recorded, when the attempt was aborted by a cancel while it waited, then it is recorded canceled, even if it was also fenced", () => {
    delivery
      .given(nothingRecorded)
      .when({ attempt: 1, aborted: "cancel", fenced: true })
      .then({ kind: "cancel", error: "canceled before it started" });
  });

  test("given the run finished, when a cancel also came, then it is skipped: a finished run is not canceled again", () => {
    delivery
      .given({ ...nothingRecorded, finished: stored(9, finished(RUN, 1)), cancel: cancelAt(10) })
      .when({ attempt: 2 })
      .then({ kind: "skip", reason: "attempt 1 already finished" });
  });

  test("given nothing recorded, when the executor shuts down, then the delivery is handed back, even if it was also fenced", () => {
    delivery.given(nothingRecorded).when({ attempt: 1, aborted: "shutdown", fenced: true }).then({ kind: "handBack" });
  });

  test("given nothing recorded, when the lease was given up before the step started, then the delivery is abandoned", () => {
    delivery
      .given(nothingRecorded)
      .when({ attempt: 1, fenced: true })
      .then({ kind: "abandon", reason: "fenced before the step started" });
  });

  test("given no result for the last attempts, when exactly maxLostAttempts (3) ended without one, then it gives up; one fewer still runs", () => {
    delivery.given(nothingRecorded).when({ attempt: 4 }).then(gaveUp);
    delivery.given(nothingRecorded).when({ attempt: 3 }).then(run());
  });

  test("given a retry pending after attempt 2, when attempts after it were lost, then only those count toward giving up", () => {
    const retrying = finished(RUN, 2, { status: "failed", failures: 2, retryInMs: 1_000 });
    delivery
      .given({ ...nothingRecorded, finished: stored(9, retrying) })
      .when({ attempt: 5 })
      .then(run(retrying));
    delivery
      .given({ ...nothingRecorded, finished: stored(9, retrying) })
      .when({ attempt: 6 })
      .then(gaveUp);
  });

  test("given a command retried from attempt 5 (its base), when attempts after the base were lost, then attempts before the base do not count", () => {
    delivery.given(nothingRecorded).when({ attempt: 8, attemptBase: 5 }).then(run());
    delivery.given(nothingRecorded).when({ attempt: 9, attemptBase: 5 }).then(gaveUp);
  });

  test("given the catalog has no such step on this host, when the command is delivered, then the attempt is recorded failed, naming flow, step and host", () => {
    delivery
      .given({ found: undefined })
      .when({ attempt: 1 })
      .then({ kind: "giveUp", error: 'flow "bindings" has no step "regenerate" on host host-a' });
  });

  test("given too many lost attempts and no such step, when delivered, then the lost attempts are the reason given", () => {
    delivery.given({ found: undefined }).when({ attempt: 4 }).then(gaveUp);
  });
});
