import { EVENT_TYPE_MAX } from "../protocol/event.ts";

/** Where a value of a delivery comes from: a request header, or a dotted path into the JSON body. */
export type ValueFrom = { header: string } | { body: string };

/**
 * A webhook sender the ingress takes directly at `POST /webhooks/<name>` (docs/webhooks.md):
 * how its posts are signed, and where the event's id and type are in a delivery. The
 * payload is always the whole body. GitHub's is built in; others come from the file
 * CODEX_FLOW_WEBHOOK_SOURCES names (lib/webhooks/config.ts).
 */
export type WebhookSource = {
  name: string;
  /** The shared secret; undefined: the source is off (its route answers 404 saying how to turn it on). */
  secret: string | undefined;
  /** Where the secret is configured, for that message. */
  secretFrom: string;
  /** `hmac-sha256`: the header is `<prefix><hex HMAC-SHA256 of the body>`; `token`: the header is the secret itself. */
  signature: { header: string; scheme: "hmac-sha256" | "token"; prefix: string };
  id: ValueFrom;
  /** The type is `<name>.<part>[.<part>...]`: the first part is required, a later one missing is left out. */
  type: ValueFrom[];
  /** A delivery answered 200 without storing anything (GitHub's `ping` when a hook is created). */
  ping?: { header: string; value: string };
};

/** GitHub's webhooks as GitHub documents them: X-Hub-Signature-256, X-GitHub-Delivery, X-GitHub-Event and the body's `action`. */
export function githubSource(secret: string | undefined): WebhookSource {
  return {
    name: "github",
    secret,
    secretFrom: "CODEX_FLOW_GITHUB_WEBHOOK_SECRET",
    signature: { header: "x-hub-signature-256", scheme: "hmac-sha256", prefix: "sha256=" },
    id: { header: "x-github-delivery" },
    type: [{ header: "x-github-event" }, { body: "action" }],
    ping: { header: "x-github-event", value: "ping" },
  };
}

/** The deepest dotted path a mapping may name: a JSON path here is keys only, never a query. */
export const MAX_PATH_KEYS = 8;

/** The value at a dotted path (`repository.full_name`, `commits.0.id`) of a parsed body, or undefined. */
export function atPath(body: unknown, path: string): unknown {
  const keys = path.split(".");
  if (keys.length > MAX_PATH_KEYS) return undefined;
  let value = body;
  for (const key of keys) {
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** How a mapping names where a value comes from, in an error. */
export function describeFrom(from: ValueFrom): string {
  return "header" in from ? `header ${from.header}` : `body field ${from.body}`;
}

/** A value as text: strings as they are, numbers (a GitLab id) written out; anything else is no value. */
function text(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

function read(from: ValueFrom, headers: Headers, body: unknown): string | undefined {
  return "header" in from ? (headers.get(from.header) ?? undefined) || undefined : text(atPath(body, from.body));
}

/** One type segment: a sender's value with every character a subject token cannot carry (dots too) as `_`. */
export function typeToken(value: string): string {
  return value.trim().replace(/[^A-Za-z0-9_:/@+-]/g, "_") || "_";
}

export type Delivery = { ok: true; ping: boolean; id: string; type: string } | { ok: false; error: string };

/**
 * The event id and type of one delivery, as the source's mapping says (pure: the
 * signature is checked before, the event is validated after like any POST /events).
 */
export function mapDelivery(source: WebhookSource, headers: Headers, body: unknown): Delivery {
  const ping = source.ping !== undefined && headers.get(source.ping.header) === source.ping.value;
  const id = read(source.id, headers, body);
  if (id === undefined) return { ok: false, error: `no event id: the delivery has no ${describeFrom(source.id)}` };
  const [first, ...rest] = source.type;
  const head = first && read(first, headers, body);
  if (!head) return { ok: false, error: `no event type: the delivery has no ${first ? describeFrom(first) : "type"}` };
  const parts = [
    head,
    ...rest.map((from) => read(from, headers, body)).filter((part): part is string => part !== undefined),
  ];
  const type = [source.name, ...parts.map(typeToken)].join(".").slice(0, EVENT_TYPE_MAX).replace(/\.+$/, "");
  return { ok: true, ping, id, type };
}
