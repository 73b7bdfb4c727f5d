import { type ApiTarget, callApi } from "./client.ts";
import { UsageError } from "./args.ts";

/**
 * `flow logs RUN [-f]`: prints a run's output as the ingress keeps it (stdout to stdout,
 * stderr to stderr); with -f follows it until the run ends. Exit code 0 when the run
 * completed, 1 otherwise.
 */
export async function logs(target: ApiTarget, runId: string | undefined, follow: boolean): Promise<number> {
  if (!runId) throw new UsageError("expected a run id: flow logs RUN [-f]");
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const url = `${target.url.replace(/\/$/, "")}/runs/${encodeURIComponent(runId)}/output?follow=${follow}`;
  const response = await fetch(url, { headers }).catch((error) => {
    throw new UsageError(`cannot reach the ingress at ${target.url}: ${(error as Error).message}`);
  });
  if (!response.ok || !response.body) {
    const answer = await callApi(target, "GET", `/runs/${encodeURIComponent(runId)}`);
    console.error(`error ${response.status}: ${answer.body?.error ?? "no output"}`);
    return 1;
  }
  let status = "unknown";
  let buffer = "";
  for await (const text of response.body.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = frame.match(/^event: (.*)$/m)?.[1];
      const data = JSON.parse(frame.match(/^data: (.*)$/m)?.[1] ?? "{}");
      if (event === "run" && data.cut) console.error("[older output was dropped by retention]");
      if (event === "output") (data.stream === "stderr" ? process.stderr : process.stdout).write(data.text);
      if (event === "end") status = data.status;
    }
  }
  if (follow) console.error(`[run ${runId} ${status}]`);
  return status === "completed" ? 0 : follow ? 1 : 0;
}
