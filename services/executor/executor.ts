import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { FlowCatalog } from "../../lib/catalog.ts";
import { type DurableLoop, runDurableLoop } from "../../lib/consume.ts";
import { msgIds } from "../../lib/ids.ts";
import type { Logger } from "../../lib/log.ts";
import { decodeMessage, encodeMessage, type RunFinished, type RunStep } from "../../lib/messages.ts";
import { tailOf } from "../../lib/runners/capture.ts";
import { runStep } from "../../lib/runners/index.ts";
import type { StepOutcome } from "../../lib/runners/types.ts";
import type { Subjects } from "../../lib/subjects.ts";
import { SHARED_QUEUE } from "../matcher/decide.ts";

export type ExecutorOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subjects: Subjects;
  catalog: FlowCatalog;
  hostId: string;
  executorKind: string;
  concurrency: number;
  ackWaitMs: number;
  publishTimeoutMs: number;
  outputCapBytes: number;
  /** Bytes of each output stream's tail that the finished message carries. */
  outputTailBytes: number;
  log: Logger;
};

/** The durable consumer shared by every executor that serves a queue. */
export function executorDurable(queue: string): string {
  return `executor-${queue}`;
}

/**
 * Runs step commands from the shared queue, at most `concurrency` at a time. Each
 * attempt is announced (`started`) before the step runs and recorded (`finished`)
 * before the command is acked; the lease is kept with `working()` while the step runs.
 */
export function startExecutor(options: ExecutorOptions): DurableLoop {
  const { js, jsm, stream, subjects, catalog, hostId, log } = options;

  const publishDurably = async (subject: string, body: string, msgID: string, message: JsMsg) => {
    // The attempt's record must reach the log: keep the lease and retry until it does.
    for (let tries = 1; ; tries++) {
      try {
        return await js.publish(subject, body, { msgID, timeout: options.publishTimeoutMs });
      } catch (error) {
        if (tries >= 30) throw error;
        log.warn("publish failed; retrying", { subject, tries, error: String(error) });
        message.working();
        await Bun.sleep(Math.min(2_000, 100 * tries));
      }
    }
  };

  const execute = async (command: RunStep, attempt: number, message: JsMsg): Promise<StepOutcome> => {
    const found = catalog.find(command.flow, command.step);
    if (!found) {
      const now = new Date().toISOString();
      return {
        status: "failed", exitCode: null, signal: null,
        error: `flow "${command.flow}" has no step "${command.step}" on host ${hostId}`,
        stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false,
        startedAt: now, finishedAt: now, durationMs: 0,
      };
    }
    const lease = setInterval(() => message.working(), Math.max(500, Math.floor(options.ackWaitMs / 3)));
    try {
      return await runStep({ ...found, event: command.event, runId: command.runId, attempt, outputCapBytes: options.outputCapBytes });
    } finally {
      clearInterval(lease);
    }
  };

  const handle = async (message: JsMsg) => {
    const decoded = decodeMessage(message.data);
    if (!decoded.ok || decoded.message.kind !== "run.step") {
      log.error("poison message on the command queue; terminated", { seq: message.seq, error: decoded.ok ? decoded.message.kind : decoded.error });
      return { term: "not a run.step message" };
    }
    const command = decoded.message;
    const attempt = (command.attemptBase ?? 0) + message.info.deliveryCount;
    const started = { v: 1 as const, kind: "run.started" as const, runId: command.runId, attempt, host: hostId, startedAt: new Date().toISOString(), executor: options.executorKind };
    await publishDurably(subjects.run(command.runId, "started"), encodeMessage(started), msgIds.lifecycle(command.runId, attempt, "started"), message);
    const outcome = await execute(command, attempt, message);
    const stdout = tailOf(outcome.stdout, options.outputTailBytes);
    const stderr = tailOf(outcome.stderr, options.outputTailBytes);
    const finished: RunFinished = {
      v: 1,
      kind: "run.finished",
      runId: command.runId,
      attempt,
      host: hostId,
      status: outcome.status,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      ...(outcome.result ? { result: outcome.result } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
      stdout: stdout.text,
      stderr: stderr.text,
      stdoutTruncated: outcome.stdoutTruncated || stdout.truncated,
      stderrTruncated: outcome.stderrTruncated || stderr.truncated,
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
      durationMs: outcome.durationMs,
    };
    await publishDurably(subjects.run(command.runId, "finished"), encodeMessage(finished), msgIds.lifecycle(command.runId, attempt, "finished"), message);
    log.info("run finished", { runId: command.runId, flow: command.flow, step: command.step, attempt, status: outcome.status, ms: Math.round(outcome.durationMs) });
    return "ack" as const;
  };

  return runDurableLoop({
    js,
    jsm,
    stream,
    spec: { durable: executorDurable(SHARED_QUEUE), filterSubject: subjects.command(SHARED_QUEUE), ackWaitMs: options.ackWaitMs },
    slots: options.concurrency,
    batch: 1,
    log,
    handle,
  });
}
