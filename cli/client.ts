import { signBody } from "../lib/signature.ts";
import { readJsonFile, UsageError } from "./args.ts";
import { printErrorLine, printJson, printLine } from "./terminal.ts";

/** Where a running ingress is, and how to sign what is sent to it. */
export type ApiTarget = { url: string; secret?: string; token?: string };

/** One API call: JSON in and out, signed when there is a body and a secret. */
export async function callApi(target: ApiTarget, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (text !== undefined) headers["content-type"] = "application/json";
  if (text !== undefined && target.secret) headers["x-flow-signature-256"] = signBody(target.secret, text);
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const response = await fetch(`${target.url.replace(/\/$/, "")}${path}`, { method, headers, body: text }).catch((error) => {
    throw new UsageError(`cannot reach the ingress at ${target.url}: ${(error as Error).message} (is \`flow serve\` or \`flow dev\` running? set --url or CODEX_FLOW_URL)`);
  });
  return { status: response.status, body: await response.json().catch(() => ({ error: `non-JSON answer with status ${response.status}` })) };
}

/** Prints an answer: the JSON on success, the error on stderr otherwise; the exit code. */
function report({ status, body }: { status: number; body: any }): number {
  if (status >= 200 && status < 300) {
    printJson(body);
    return 0;
  }
  printErrorLine(`error ${status}: ${body?.error ?? JSON.stringify(body)}`);
  return 1;
}

/** Posts a FlowEvent to an ingress. */
export function postEvent(target: ApiTarget, event: unknown, wait?: string) {
  return callApi(target, "POST", `/events${wait ? `?wait=${encodeURIComponent(wait)}` : ""}`, event);
}

/** `flow publish --event FILE`: sends the event to the ingress and prints its answer. */
export async function publish(target: ApiTarget, eventPath: string | undefined, wait: string | undefined): Promise<number> {
  return report(await postEvent(target, await readJsonFile(eventPath, "--event"), wait));
}

/** `flow cancel RUN`, `flow retry RUN` (`--reason TEXT`: why, for the audit log): operate on one run. */
export async function operateRun(target: ApiTarget, action: "cancel" | "retry", runId: string | undefined, reason?: string): Promise<number> {
  if (!runId) throw new UsageError(`expected a run id: flow ${action} RUN`);
  return report(await callApi(target, "POST", `/runs/${encodeURIComponent(runId)}/${action}`, reason ? { reason } : {}));
}

/** `flow replay EVENT [--wait true] [--flow F]`: matches a stored event again against today's flows (only F's steps run). */
export async function replayEvent(target: ApiTarget, eventId: string | undefined, wait: string | undefined, flow?: string, reason?: string): Promise<number> {
  if (!eventId) throw new UsageError("expected an event id: flow replay EVENT");
  return report(await callApi(target, "POST", `/events/${encodeURIComponent(eventId)}/replay`, { wait: wait === "true" ? true : wait === "matched" ? "matched" : false, ...(flow ? { flow } : {}), ...(reason ? { reason } : {}) }));
}

/** `flow runs [--event ID]`: the runs of one event, or the 20 newest, as the ingress reports them. */
export async function listRuns(target: ApiTarget, eventId: string | undefined, json: boolean): Promise<number> {
  const answer = await callApi(target, "GET", eventId ? `/runs?eventId=${encodeURIComponent(eventId)}` : "/runs?limit=20");
  if (answer.status !== 200 || json) return report(answer);
  const runs = answer.body.runs as Record<string, unknown>[];
  if (runs.length === 0) printLine(eventId ? `no runs for event ${eventId}` : "no runs yet");
  for (const run of runs) {
    printLine([run.id, `${run.flowName}/${run.stepName}`, run.status, run.effectiveStatus, `attempt ${run.attempt}`, run.host ?? "-", run.completedAt ?? run.startedAt ?? run.createdAt, run.error ?? ""].join("  ").trimEnd());
  }
  return 0;
}
