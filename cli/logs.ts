import { HintError } from "../lib/hint.ts";
import { UsageError } from "./args.ts";
import { type ApiTarget, apiFailure, callApi } from "./client.ts";
import { printErrorLine, writeSafely } from "./terminal.ts";

/** Consecutive failed connections `logs -f` tolerates before it gives up. */
const MAX_RECONNECTS = 10;

/** One attempt as GET /runs/:id tells it. */
type Attempt = {
  attemptNumber: number;
  host: string | null;
  status: string;
  exitCode: number | null;
  signal: string | null;
};

/** Where a reading stands: the run's end, the last event seen, the attempts known and the one shown last. */
type Stream = { status?: string; lastId?: string; only?: number; attempts: Map<number, Attempt>; shown?: number };

/** The line before an attempt's output: `── attempt 2 on host-b (failed, exit 1) ──`. */
export function attemptHeader(number: number, attempt: Attempt | undefined): string {
  if (!attempt) return `── attempt ${number} ──`;
  const end = attempt.exitCode !== null ? `, exit ${attempt.exitCode}` : attempt.signal ? `, ${attempt.signal}` : "";
  return `── attempt ${number} on ${attempt.host ?? "an unknown host"} (${attempt.status}${end}) ──`;
}

/** The run's attempts, read again (a new one began while following); false when the run is gone. */
async function readAttempts(target: ApiTarget, runId: string, stream: Stream): Promise<boolean> {
  const answer = await callApi(target, "GET", `/runs/${encodeURIComponent(runId)}`);
  if (apiFailure(answer)) return false;
  for (const a of answer.body.run.attempts as Attempt[]) stream.attempts.set(a.attemptNumber, a);
  return true;
}

/**
 * `flow logs RUN [-f]`: prints a run's output as the ingress keeps it (stdout to stdout,
 * stderr to stderr); with -f follows it until the run ends, reconnecting after a cut
 * connection from the last event it saw (Last-Event-ID), so nothing repeats or goes
 * missing. Each attempt's output comes after a header line on stderr (its host and how it
 * ended); `--attempt N` prints only that attempt's. Exit code 0 when the run completed, 1 otherwise.
 */
export async function logs(
  target: ApiTarget,
  runId: string | undefined,
  follow: boolean,
  attempt?: string,
): Promise<number> {
  if (!runId) throw new UsageError("expected a run id: flow logs RUN [-f] [--attempt N]");
  if (attempt !== undefined && !/^[1-9]\d{0,8}$/.test(attempt))
    throw new UsageError(`--attempt ${attempt}: expected an attempt number (1, 2, ...)`);
  const stream: Stream = { attempts: new Map(), only: attempt === undefined ? undefined : Number(attempt) };
  if (!(await readAttempts(target, runId, stream))) return 1;
  if (stream.only !== undefined && !stream.attempts.has(stream.only) && !follow) {
    printErrorLine(
      `run ${runId} has no attempt ${stream.only} (its attempts: ${[...stream.attempts.keys()].join(", ") || "none yet"})`,
    );
    return 1;
  }
  for (let failures = 0; ; ) {
    const before = stream.lastId;
    try {
      const outcome = await readStream(target, runId, follow, stream);
      if (outcome !== undefined) return outcome;
    } catch (error) {
      if (error instanceof UsageError || !follow) throw error;
      failures = stream.lastId !== before ? 1 : failures + 1;
      if (failures > MAX_RECONNECTS)
        throw new HintError(
          `lost the ingress at ${target.url} ${MAX_RECONNECTS} times in a row: ${(error as Error).message}`,
        );
      console.error(
        `[connection lost (${(error as Error).message}); reconnecting from ${stream.lastId ?? "the start"}]`,
      );
      await Bun.sleep(Math.min(500 * failures, 3_000));
      continue;
    }
    if (stream.status !== undefined || !follow) break;
  }
  if (follow) console.error(`[run ${runId} ${stream.status ?? "unknown"}]`);
  return stream.status === "completed" ? 0 : follow ? 1 : 0;
}

/** One connection: prints what arrives; an exit code when the answer is an error, undefined otherwise. */
async function readStream(
  target: ApiTarget,
  runId: string,
  follow: boolean,
  stream: Stream,
): Promise<number | undefined> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (stream.lastId) headers["last-event-id"] = stream.lastId;
  const url = `${target.url.replace(/\/$/, "")}/runs/${encodeURIComponent(runId)}/output?follow=${follow}`;
  const response = await fetch(url, { headers }).catch((error) => {
    if (stream.lastId === undefined && !follow)
      throw new HintError(`cannot reach the ingress at ${target.url}: ${(error as Error).message}`);
    throw error;
  });
  if (!response.ok || !response.body) {
    const answer = await callApi(target, "GET", `/runs/${encodeURIComponent(runId)}`);
    printErrorLine(`error ${response.status}: ${answer.body?.error ?? "no output"}`);
    return 1;
  }
  let buffer = "";
  for await (const text of response.body.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = frame.match(/^event: (.*)$/m)?.[1];
      if (!event) continue;
      const data = JSON.parse(frame.match(/^data: (.*)$/m)?.[1] ?? "{}");
      if (event === "run" && data.cut && stream.lastId === undefined)
        console.error("[older output was dropped by retention]");
      // Output is the step's, and a payload's text may be in it: escaped on a terminal (cli/terminal.ts).
      if (event === "output" && (stream.only === undefined || data.attempt === stream.only)) {
        if (data.attempt !== stream.shown) {
          // A header without the host is better than a follow that stops because the ingress blinked.
          if (!stream.attempts.has(data.attempt)) await readAttempts(target, runId, stream).catch(() => false);
          printErrorLine(attemptHeader(data.attempt, stream.attempts.get(data.attempt)));
          stream.shown = data.attempt;
        }
        writeSafely(data.stream === "stderr" ? process.stderr : process.stdout, data.text, true);
      }
      if (event === "end") stream.status = data.status;
      stream.lastId = frame.match(/^id: (.*)$/m)?.[1] ?? stream.lastId;
    }
  }
  if (follow && stream.status === undefined) throw new Error("the stream ended before the run did");
  return undefined;
}
