import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { looksSecret } from "../runners/step-env.ts";
import { MAX_PATH_KEYS, type ValueFrom, type WebhookSource } from "./source.ts";

/** A webhook sources file that cannot be used; the message names the file, the source and the field. */
export class WebhookConfigError extends Error {}

const MAX_SOURCES = 32;
const MAX_TYPE_PARTS = 4;
const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const HEADER = /^[A-Za-z0-9-]{1,64}$/;
const PATH_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Env = Record<string, string | undefined>;

/**
 * The generic webhook senders of the TOML file CODEX_FLOW_WEBHOOK_SOURCES names
 * (docs/webhooks.md "A generic sender"): each `[[sources]]` has a name (its route is
 * `/webhooks/<name>`), `secret_env` (the variable holding the secret: a name that looks
 * secret, so no step sees it unless a flow names it), `signature` (`hmac-sha256` or
 * `token`) with `signature_header` and an optional `signature_prefix`, `id` and `type`
 * as `header:<Name>` or `body:<dotted.path>`. Unset: none. A mistake throws naming it.
 */
export function loadWebhookSources(path: string | undefined, env: Env): WebhookSource[] {
  if (!path) return [];
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new WebhookConfigError(`CODEX_FLOW_WEBHOOK_SOURCES=${path}: ${(error as Error).message.split("\n")[0]}`);
  }
  const sources = doc.sources ?? [];
  if (!Array.isArray(sources) || sources.length > MAX_SOURCES)
    throw new WebhookConfigError(
      `CODEX_FLOW_WEBHOOK_SOURCES=${path}: expected up to ${MAX_SOURCES} [[sources]] tables`,
    );
  const names = new Set(["github"]);
  return sources.map((raw, i) => {
    const fail = (field: string, expected: string): never => {
      throw new WebhookConfigError(
        `CODEX_FLOW_WEBHOOK_SOURCES=${path}: sources[${i}].${field}: expected ${expected}, got ${JSON.stringify((raw as Record<string, unknown>)?.[field])}`,
      );
    };
    const field = (name: string, pattern: RegExp, expected: string, fallback?: string): string => {
      const value = (raw as Record<string, unknown>)[name] ?? fallback;
      return typeof value === "string" && pattern.test(value) ? value : fail(name, expected);
    };
    const name = field("name", NAME, "1-40 lower-case letters, digits, _ or - (the route is /webhooks/<name>)");
    if (names.has(name)) fail("name", "a name no other source (nor the built-in github) has");
    names.add(name);
    const secretEnv = field("secret_env", ENV_NAME, "the name of the variable that holds the secret");
    // A name that looks secret is withheld from every step whose flow does not name it (lib/runners/step-env.ts).
    if (!looksSecret(secretEnv)) fail("secret_env", "a name ending in _SECRET, _TOKEN or _KEY (so no step sees it)");
    const scheme = field("signature", /^(hmac-sha256|token)$/, '"hmac-sha256" or "token"') as "hmac-sha256" | "token";
    const header = field("signature_header", HEADER, "a header name").toLowerCase();
    const prefix = field("signature_prefix", /^[A-Za-z0-9=_-]{0,16}$/, "up to 16 characters such as sha256=", "");
    const from = (key: string, value: unknown): ValueFrom => {
      const match = typeof value === "string" ? /^(header|body):(.+)$/.exec(value) : null;
      if (match?.[1] === "header" && HEADER.test(match[2]!)) return { header: match[2]!.toLowerCase() };
      const keys = match?.[2]?.split(".") ?? [];
      if (match?.[1] === "body" && keys.length <= MAX_PATH_KEYS && keys.every((k) => PATH_KEY.test(k)))
        return { body: match[2]! };
      return fail(key, `"header:<Name>" or "body:<dotted.path>" (at most ${MAX_PATH_KEYS} keys)`);
    };
    const type = (raw as Record<string, unknown>).type;
    const parts = Array.isArray(type) ? type : [type];
    if (parts.length === 0 || parts.length > MAX_TYPE_PARTS) fail("type", `1-${MAX_TYPE_PARTS} parts`);
    return {
      name,
      secret: env[secretEnv] || undefined,
      secretFrom: secretEnv,
      signature: { header, scheme, prefix },
      id: from("id", (raw as Record<string, unknown>).id),
      type: parts.map((part) => from("type", part)),
    };
  });
}
