import { readFileSync, statSync } from "node:fs";

/** What a token may do: `read` sees everything; `operate` also cancels, retries, replays, pauses and resumes; `admin` also purges, archives and bulk-replays. */
export const ROLES = ["read", "operate", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` includes everything `needed` allows. */
export function allows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** One API token: who it is (recorded in the audit log), what it may do, and (optionally) the only flows it may act on. */
export type ScopedToken = { name: string; token: string; role: Role; flows?: readonly string[] };

/** The name the single CODEX_FLOW_BACKEND_TOKEN acts under: one admin token. */
export const LEGACY_TOKEN_NAME = "operator";

/** A CODEX_FLOW_BACKEND_TOKENS that cannot be used; the message names the entry at fault (never its token). */
export class TokensError extends Error {}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** At most this many tokens: every request compares against each. */
export const MAX_TOKENS = 100;
/** A token shorter than this is a password, not a token. */
export const MIN_TOKEN_LENGTH = 16;

function entry(raw: unknown, index: number, seen: { names: Set<string>; tokens: Set<string> }): ScopedToken {
  const at = (name?: unknown) =>
    `CODEX_FLOW_BACKEND_TOKENS entry ${index}${typeof name === "string" && NAME.test(name) ? ` (${name})` : ""}`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new TokensError(`${at()}: expected an object {"name", "token", "role", "flows"?}`);
  const { name, token, role, flows, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length)
    throw new TokensError(
      `${at(name)}: unknown field ${JSON.stringify(unknown[0])} (expected name, token, role, flows)`,
    );
  if (typeof name !== "string" || !NAME.test(name))
    throw new TokensError(`${at()}: name: expected 1-64 letters, digits, _, . or -, got ${JSON.stringify(name)}`);
  if (seen.names.has(name))
    throw new TokensError(
      `${at(name)}: name ${JSON.stringify(name)} is used twice (audit records name the token by it)`,
    );
  if (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH || /\s/.test(token))
    throw new TokensError(`${at(name)}: token: expected at least ${MIN_TOKEN_LENGTH} characters without whitespace`);
  if (seen.tokens.has(token)) throw new TokensError(`${at(name)}: its token is the same as an earlier entry's`);
  if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role))
    throw new TokensError(`${at(name)}: role: expected one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`);
  if (
    flows !== undefined &&
    (!Array.isArray(flows) ||
      flows.length === 0 ||
      flows.length > 1000 ||
      !flows.every((f) => typeof f === "string" && f !== ""))
  ) {
    throw new TokensError(`${at(name)}: flows: expected a non-empty list of flow names (leave it out for every flow)`);
  }
  seen.names.add(name);
  seen.tokens.add(token);
  return { name, token, role: role as Role, ...(flows !== undefined ? { flows: flows as string[] } : {}) };
}

/**
 * Reads CODEX_FLOW_BACKEND_TOKENS: a JSON array of `{"name", "token", "role", "flows"?}`,
 * given inline (the value starts with `[`) or as the path (starting with `/` or `./`) of a file holding it, which
 * must not be readable by group or others (mode 0600 or 0400). The single
 * CODEX_FLOW_BACKEND_TOKEN joins the list as an admin token named `operator`. A bad
 * value throws a TokensError naming the entry at fault, never a token.
 */
export function parseTokens(raw: string | undefined, legacy: string | undefined): ScopedToken[] {
  const tokens: ScopedToken[] = [];
  const seen = { names: new Set<string>(), tokens: new Set<string>() };
  if (legacy) {
    tokens.push({ name: LEGACY_TOKEN_NAME, token: legacy, role: "admin" });
    seen.names.add(LEGACY_TOKEN_NAME);
    seen.tokens.add(legacy);
  }
  if (!raw?.trim()) return tokens;
  let list: unknown;
  try {
    list = JSON.parse(readSource(raw.trim()));
  } catch (error) {
    if (error instanceof TokensError) throw error;
    // The parser's message quotes the text around the fault, which may be a token.
    throw new TokensError(
      'CODEX_FLOW_BACKEND_TOKENS: not valid JSON (expected an array of {"name", "token", "role", "flows"?})',
    );
  }
  if (!Array.isArray(list))
    throw new TokensError('CODEX_FLOW_BACKEND_TOKENS: expected a JSON array of {"name", "token", "role", "flows"?}');
  if (list.length > MAX_TOKENS)
    throw new TokensError(`CODEX_FLOW_BACKEND_TOKENS: ${list.length} entries, more than ${MAX_TOKENS}`);
  list.forEach((raw, index) => {
    tokens.push(entry(raw, index, seen));
  });
  return tokens;
}

function readSource(value: string): string {
  if (value.startsWith("[")) return value;
  // Anything else must look like a path: a mistyped value could be a token, and is never echoed.
  if (!value.startsWith("/") && !value.startsWith("./"))
    throw new TokensError(
      "CODEX_FLOW_BACKEND_TOKENS: expected a JSON array (starting with [) or the path of a file holding one (starting with / or ./)",
    );
  let mode: number;
  try {
    mode = statSync(value).mode;
  } catch (error) {
    throw new TokensError(
      `CODEX_FLOW_BACKEND_TOKENS: expected a JSON array or the path of a file holding one; ${value} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  if ((mode & 0o077) !== 0)
    throw new TokensError(
      `CODEX_FLOW_BACKEND_TOKENS: ${value} is readable by group or others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`,
    );
  return readFileSync(value, "utf8");
}
