import { HintError } from "../lib/hint.ts";
import { signBody } from "../lib/signature.ts";
import { readJsonFile, UsageError } from "./args.ts";
import { type Format, printResult } from "./output.ts";
import { printErrorLine } from "./terminal.ts";

/** Where a running ingress is, and how to sign what is sent to it. */
export type ApiTarget = { url: string; secret?: string; token?: string };

export type ApiAnswer = { status: number; body: any };

/** One API call: JSON in and out, signed when there is a body and a secret. */
export async function callApi(target: ApiTarget, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (text !== undefined) headers["content-type"] = "application/json";
  if (text !== undefined && target.secret) headers["x-flow-signature-256"] = signBody(target.secret, text);
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const response = await fetch(`${target.url.replace(/\/$/, "")}${path}`, { method, headers, body: text }).catch(
    (error) => {
      throw new HintError(
        `cannot reach the ingress at ${target.url}: ${(error as Error).message} (is \`flow serve\` or \`flow dev\` running? set --url or CODEX_FLOW_URL)`,
      );
    },
  );
  return {
    status: response.status,
    body: await response.json().catch(() => ({ error: `non-JSON answer with status ${response.status}` })),
  };
}

/** When the answer is an error: prints it (with its details) on stderr and says true; false on success. */
export function apiFailure(answer: ApiAnswer): boolean {
  if (answer.status >= 200 && answer.status < 300) return false;
  const { body } = answer;
  printErrorLine(
    `error ${answer.status}: ${body?.error ?? JSON.stringify(body)}${Array.isArray(body?.details) ? ` (${body.details.join("; ")})` : ""}`,
  );
  return true;
}

/** Posts a FlowEvent to an ingress. */
export function postEvent(target: ApiTarget, event: unknown, wait?: string) {
  return callApi(target, "POST", `/events${wait ? `?wait=${encodeURIComponent(wait)}` : ""}`, event);
}

/** An event write's answer in one line: what happened to it and its runs. */
export function eventLine(verb: string, answer: Record<string, any>): string {
  if (answer.spooled)
    return `event ${answer.eventId} spooled: NATS did not take it in time; it reaches the stream, in order, when NATS answers`;
  const at = answer.seq === undefined ? "" : ` at sequence ${answer.seq}`;
  const generation = answer.generation ? ` as generation ${answer.generation}` : "";
  const runs = Array.isArray(answer.runs)
    ? `: ${answer.runs.map((r: Record<string, any>) => `${r.id} ${r.effectiveStatus}`).join(", ") || "no step matched"}`
    : Array.isArray(answer.runIds)
      ? answer.runIds.length === 0
        ? ": no step matched"
        : `: ${answer.runIds.length} run${answer.runIds.length === 1 ? "" : "s"} ${answer.runIds.join(", ")}`
      : "";
  return `event ${answer.eventId} ${verb}${generation}${at}${runs}${answer.waitTimedOut ? " (the wait ended before every run was known)" : ""}`;
}

/** Prints an event write's answer (the line, or --json's record) and, when nothing matched, why on stderr. */
function reportEvent(format: Format, verb: string | undefined, answer: ApiAnswer): number {
  if (apiFailure(answer)) return 1;
  printResult(format, eventLine(verb ?? answer.body.status, answer.body), answer.body);
  if (format === "table" && answer.body.why) printErrorLine(answer.body.why);
  return 0;
}

/** `flow publish --event FILE`: sends the event to the ingress; one line says what became of it. */
export async function publish(
  target: ApiTarget,
  eventPath: string | undefined,
  wait: string | undefined,
  format: Format,
): Promise<number> {
  return reportEvent(format, undefined, await postEvent(target, await readJsonFile(eventPath, "--event"), wait));
}

/** `flow cancel RUN`, `flow retry RUN` (`--reason TEXT`: why, for the audit log): operate on one run; one line, or the run's record. */
export async function operateRun(
  target: ApiTarget,
  action: "cancel" | "retry",
  runId: string | undefined,
  format: Format,
  reason?: string,
): Promise<number> {
  if (!runId) throw new UsageError(`expected a run id: flow ${action} RUN`);
  const answer = await callApi(
    target,
    "POST",
    `/runs/${encodeURIComponent(runId)}/${action}`,
    reason ? { reason } : {},
  );
  if (apiFailure(answer)) return 1;
  const run = answer.body.run;
  // A queued run's `attempt` is still its last one's: the new attempt is numbered when it starts.
  const line =
    action === "retry"
      ? `${run.id} retried: attempt ${run.status === "queued" ? run.attempt + 1 : run.attempt} ${run.status}`
      : run.status === "canceled"
        ? `${run.id} canceled (attempt ${run.attempt})`
        : `${run.id} cancel requested (attempt ${run.attempt}, ${run.status})`;
  printResult(format, line, run);
  return 0;
}

/** `flow approve RUN`, `flow reject RUN` (`--comment TEXT`, kept with the decision): decide a run that awaits approval; one line, or the run's record. */
export async function decideRun(
  target: ApiTarget,
  decision: "approve" | "reject",
  runId: string | undefined,
  format: Format,
  comment?: string,
): Promise<number> {
  if (!runId) throw new UsageError(`expected a run id: flow ${decision} RUN`);
  const path = `/runs/${encodeURIComponent(runId)}/${decision}`;
  const answer = await callApi(target, "POST", path, comment ? { comment } : {});
  if (apiFailure(answer)) return 1;
  const run = answer.body.run;
  const by = run.approval?.by ? ` by ${run.approval.by}` : "";
  printResult(format, `${run.id} ${decision === "approve" ? "approved" : "rejected"}${by} (${run.status})`, run);
  return 0;
}

/** `flow replay EVENT [--wait true] [--flow F]`: matches a stored event again against today's flows (only F's steps run). */
export async function replayEvent(
  target: ApiTarget,
  eventId: string | undefined,
  wait: string | undefined,
  flow: string | undefined,
  format: Format,
  reason?: string,
): Promise<number> {
  if (!eventId) throw new UsageError("expected an event id: flow replay EVENT");
  const body = {
    wait: wait === "true" ? true : wait === "matched" ? "matched" : false,
    ...(flow ? { flow } : {}),
    ...(reason ? { reason } : {}),
  };
  return reportEvent(
    format,
    "replayed",
    await callApi(target, "POST", `/events/${encodeURIComponent(eventId)}/replay`, body),
  );
}
