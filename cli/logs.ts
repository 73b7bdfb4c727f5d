import { type ApiTarget, callApi } from "./client.ts";
import { UsageError } from "./args.ts";
import { printErrorLine, writeSafely } from "./terminal.ts";

/** Consecutive failed connections `logs -f` tolerates before it gives up. */
const MAX_RECONNECTS = 10;

type Stream = { status?: string; lastId?: string };

/**
 * `flow logs RUN [-f]`: prints a run's output as the ingress keeps it (stdout to stdout,
 * stderr to stderr); with -f follows it until the run ends, reconnecting after a cut
 * connection from the last event it saw (Last-Event-ID), so nothing repeats or goes
 * missing. Exit code 0 when the run completed, 1 otherwise.
 */
export async function logs(target: ApiTarget, runId: string | undefined, follow: boolean): Promise<number> {
  if (!runId) throw new UsageError("expected a run id: flow logs RUN [-f]");
  const stream: Stream = {};
  for (let failures = 0; ; ) {
    const before = stream.lastId;
    try {
      const outcome = await readStream(target, runId, follow, stream);
      if (outcome !== undefined) return outcome;
    } catch (error) {
      if (error instanceof UsageError || !follow) throw error;
      failures = stream.lastId !== before ? 1 : failures + 1;
      if (failures > MAX_RECONNECTS) throw new UsageError(`lost the ingress at ${target.url} ${MAX_RECONNECTS} times in a row: ${(error as Error).message}`);
      console.error(`[connection lost (${(error as Error).message}); reconnecting from ${stream.lastId ?? "the start"}]`);
      await Bun.sleep(Math.min(500 * failures, 3_000));
      continue;
    }
    if (stream.status !== undefined || !follow) break;
  }
  if (follow) console.error(`[run ${runId} ${stream.status ?? "unknown"}]`);
  return stream.status === "completed" ? 0 : follow ? 1 : 0;
}

/** One connection: prints what arrives; an exit code when the answer is an error, undefined otherwise. */
async function readStream(target: ApiTarget, runId: string, follow: boolean, stream: Stream): Promise<number | undefined> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (stream.lastId) headers["last-event-id"] = stream.lastId;
  const url = `${target.url.replace(/\/$/, "")}/runs/${encodeURIComponent(runId)}/output?follow=${follow}`;
  const response = await fetch(url, { headers }).catch((error) => {
    if (stream.lastId === undefined && !follow) throw new UsageError(`cannot reach the ingress at ${target.url}: ${(error as Error).message}`);
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
      if (event === "run" && data.cut && stream.lastId === undefined) console.error("[older output was dropped by retention]");
      // Output is the step's, and a payload's text may be in it: escaped on a terminal (cli/terminal.ts).
      if (event === "output") writeSafely(data.stream === "stderr" ? process.stderr : process.stdout, data.text, true);
      if (event === "end") stream.status = data.status;
      stream.lastId = frame.match(/^id: (.*)$/m)?.[1] ?? stream.lastId;
    }
  }
  if (follow && stream.status === undefined) throw new Error("the stream ended before the run did");
  return undefined;
}
