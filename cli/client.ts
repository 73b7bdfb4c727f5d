import { signBody } from "../services/ingress/signature.ts";
import { readJsonFile, UsageError } from "./args.ts";

/** Posts a FlowEvent to an ingress (signed when a secret is given). */
export async function postEvent(url: string, event: unknown, secret: string | undefined, wait?: string): Promise<{ status: number; body: unknown }> {
  const body = JSON.stringify(event);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret) headers["x-flow-signature-256"] = signBody(secret, body);
  const target = `${url.replace(/\/$/, "")}/events${wait ? `?wait=${encodeURIComponent(wait)}` : ""}`;
  const response = await fetch(target, { method: "POST", headers, body }).catch((error) => {
    throw new UsageError(`cannot reach the ingress at ${url}: ${(error as Error).message} (is \`flow serve\` or \`flow dev\` running? set --url or CODEX_FLOW_URL)`);
  });
  return { status: response.status, body: await response.json().catch(() => ({ error: `non-JSON answer with status ${response.status}` })) };
}

/** `flow publish --event FILE`: sends the event to the ingress and prints its answer. */
export async function publish(url: string, eventPath: string | undefined, secret: string | undefined, wait: string | undefined): Promise<number> {
  const { status, body } = await postEvent(url, await readJsonFile(eventPath, "--event"), secret, wait);
  console.log(JSON.stringify(body, null, 2));
  return status >= 200 && status < 300 ? 0 : 1;
}

/** `flow runs --event ID`: the runs of one event, as the ingress reports them. */
export async function listRuns(url: string, eventId: string | undefined, json: boolean): Promise<number> {
  if (!eventId) throw new UsageError("--event ID is required (the event whose runs to show)");
  const response = await fetch(`${url.replace(/\/$/, "")}/runs?eventId=${encodeURIComponent(eventId)}`).catch((error) => {
    throw new UsageError(`cannot reach the ingress at ${url}: ${(error as Error).message}`);
  });
  const body = (await response.json()) as { runs?: Record<string, unknown>[]; error?: string };
  if (!response.ok || !body.runs) {
    console.error(`error ${response.status}: ${body.error ?? JSON.stringify(body)}`);
    return 1;
  }
  if (json) console.log(JSON.stringify(body, null, 2));
  else if (body.runs.length === 0) console.log(`no runs for event ${eventId}`);
  else for (const run of body.runs) console.log([run.id, `${run.flowName}/${run.stepName}`, run.status, run.effectiveStatus, `attempt ${run.attempt}`, run.host ?? "-", run.completedAt ?? run.startedAt ?? run.createdAt, run.error ?? ""].join("  ").trimEnd());
  return 0;
}
