// notify-webhook: posts a short JSON summary of a run event (codex-flows.run.<status>)
// to a webhook, signed like the events codex-flows accepts:
//   x-flow-signature-256: sha256=<hex HMAC-SHA256 of the body>   (when NOTIFY_WEBHOOK_SECRET is set)
// Transient failures (network, 408, 429, 5xx) are retried with backoff; other answers end the step.
import { createHmac } from "node:crypto";

type Config = {
  url?: string;
  format?: "json" | "slack" | "discord";
  attempts?: number;
  backoff_ms?: number;
  timeout_ms?: number;
};
type RunEvent = {
  id: string;
  type: string;
  payload: {
    runId: string;
    flow: string;
    step: string;
    eventId: string;
    status: string;
    message: string | null;
    host?: string;
    attempt: number;
    link: string;
    /** codex-flows.run.awaiting_approval: who may decide (empty: any operate token) and until when. */
    approvers?: string[];
    expiresAt?: string;
  };
};
type StepInput = { flow: { name: string; config: Config; event: RunEvent } };

const { flow } = JSON.parse(await Bun.stdin.text()) as StepInput;
const { config, event } = flow;
const result = (status: string, message: string) => console.log(`FLOW_RESULT ${JSON.stringify({ status, message })}`);

const url = process.env.NOTIFY_WEBHOOK_URL || config.url || "";
if (!url) {
  result("skipped", "no webhook URL: set NOTIFY_WEBHOOK_URL or [config] url of flows/notify-webhook");
  process.exit(0);
}
const p = event.payload;
// Only codex-flows emits run events (POST /events refuses the type); the link is still built
// from a run id of our own shape only, never from text in the payload.
if (!event.type.startsWith("codex-flows.run.") || typeof p?.runId !== "string" || !/^run-[0-9a-f]{24}$/.test(p.runId)) {
  result(
    "failed",
    `not a run event of codex-flows (type ${JSON.stringify(event.type)}, runId ${JSON.stringify(p?.runId)}): nothing was sent`,
  );
  process.exit(0);
}
const path = `runs/${encodeURIComponent(p.runId)}`;
let link = `/${path}`;
const publicUrl = process.env.CODEX_FLOW_PUBLIC_URL ?? "";
if (publicUrl) {
  const base = URL.canParse(publicUrl) ? new URL(publicUrl) : undefined;
  if (!base || (base.protocol !== "https:" && base.protocol !== "http:") || base.username || base.password) {
    result(
      "failed",
      "CODEX_FLOW_PUBLIC_URL is not an http(s) URL without credentials (e.g. https://flows.example.com): nothing was sent",
    );
    process.exit(0);
  }
  // Resolved as a relative path under the base's own path: nothing in the run id can change the host.
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  base.search = "";
  base.hash = "";
  link = new URL(path, base).href;
}
const awaiting = p.status === "awaiting_approval";
const deciders = p.approvers?.length ? p.approvers.join(", ") : "an operator";
const text = awaiting
  ? `codex-flows: ${p.flow}/${p.step} awaits approval by ${deciders} until ${p.expiresAt} (run ${p.runId})${p.message ? `: ${p.message}` : ""} ${link} (flow approve ${p.runId} or flow reject ${p.runId})`
  : `codex-flows: ${p.flow}/${p.step} ${p.status} (run ${p.runId}, attempt ${p.attempt} on ${p.host})${p.message ? `: ${p.message}` : ""} ${link}`;
const summary = {
  text,
  event: event.id,
  status: p.status,
  flow: p.flow,
  step: p.step,
  runId: p.runId,
  eventId: p.eventId,
  attempt: p.attempt,
  host: p.host ?? null,
  message: p.message,
  link,
  ...(awaiting ? { approvers: p.approvers ?? [], expiresAt: p.expiresAt ?? null } : {}),
};
const format = config.format ?? "json";
const body = JSON.stringify(
  format === "slack" ? { text } : format === "discord" ? { content: text.slice(0, 2000) } : summary,
);
const headers: Record<string, string> = { "content-type": "application/json", "x-codex-flows-event": event.id };
const secret = process.env.NOTIFY_WEBHOOK_SECRET;
if (secret) headers["x-flow-signature-256"] = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

const attempts = Math.max(1, Math.min(config.attempts ?? 4, 10));
const host = new URL(url).host;
for (let attempt = 1; attempt <= attempts; attempt++) {
  let why: string;
  try {
    const response = await fetch(url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(config.timeout_ms ?? 10_000),
    });
    if (response.ok) {
      result("completed", `notified ${host} (${response.status}) about ${p.flow}/${p.step} ${p.status}`);
      process.exit(0);
    }
    why = `${response.status} ${(await response.text()).slice(0, 200)}`;
    if (!(response.status === 408 || response.status === 429 || response.status >= 500)) {
      result("failed", `${host} refused the notification: ${why}`);
      process.exit(0);
    }
  } catch (error) {
    why = (error as Error).message;
  }
  console.error(`attempt ${attempt}/${attempts} to ${host} failed: ${why}`);
  if (attempt < attempts) await Bun.sleep((config.backoff_ms ?? 500) * 2 ** (attempt - 1));
}
result("failed", `could not notify ${host} after ${attempts} attempts`);
