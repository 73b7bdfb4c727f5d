import { timingSafeEqual } from "node:crypto";
import { verifySignature } from "../../lib/signature.ts";
import { allows, parseTokens, type Role, type ScopedToken } from "../../lib/tokens.ts";
import { readBody } from "./body.ts";
import { HttpError } from "./errors.ts";

/** Who made a request: a token's name, role and flows; `hmac` for a signer; `anonymous` where nothing is configured. */
export type Identity = { name: string; role: Role; flows?: readonly string[] };

/** The name a request signed with CODEX_FLOW_BACKEND_SECRET acts under (the secret has no name of its own). */
export const SIGNER = "hmac";
/** The name of a caller of a backend with neither tokens nor a secret: everyone may do everything. */
export const ANONYMOUS = "anonymous";

/** What the guards read: the named tokens (with the single token among them), the secret, and the body bound. */
export type AuthDeps = { token?: string; tokens?: readonly ScopedToken[]; secret?: string; maxBodyBytes: number };

const cache = new WeakMap<object, readonly ScopedToken[]>();

/** The tokens in force: CODEX_FLOW_BACKEND_TOKENS's (config.tokens, the single token included) or, given only `token`, that one as admin. */
export function tokensOf(deps: Pick<AuthDeps, "token" | "tokens">): readonly ScopedToken[] {
  if (deps.tokens) return deps.tokens;
  let tokens = cache.get(deps);
  if (!tokens) cache.set(deps, (tokens = parseTokens(undefined, deps.token)));
  return tokens;
}

/**
 * The configured token a request presents as `Authorization: Bearer <token>` or
 * `x-api-key: <token>`. Every candidate is compared with every token in constant time,
 * with no early exit, so the time taken says nothing about which one nearly matched.
 */
function presentedToken(tokens: readonly ScopedToken[], request: Request): ScopedToken | undefined {
  const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
  const given = [bearer, request.headers.get("x-api-key")]
    .filter((v): v is string => !!v)
    .map((v) => Buffer.from(v.trim()));
  let found: ScopedToken | undefined;
  for (const token of tokens) {
    const expected = Buffer.from(token.token);
    for (const g of given) {
      if (g.length === expected.length && timingSafeEqual(g, expected)) found ??= token;
    }
  }
  return found;
}

/** Whether a request may read: it carries any configured token, or none is configured. */
export function mayRead(deps: Pick<AuthDeps, "token" | "tokens">, request: Request): boolean {
  const tokens = tokensOf(deps);
  return tokens.length === 0 || presentedToken(tokens, request) !== undefined;
}

/** The OpenAPI `security` of an endpoint that needs a token when tokens are configured. */
export const TOKEN_SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];
/** The OpenAPI `security` of an operation: a token, or (with only a secret set) the body's HMAC. */
export const OPERATOR_SECURITY: Record<string, string[]>[] = [...TOKEN_SECURITY, { hmac: [] }];

/** Who may call an operation, as its guard says: the role it needs (openapi.ts reads it from the guard). */
export type Access = Role;

const identities = new WeakMap<Request, Identity>();

/** Who made a request, as its guard found (a route without a guard: anonymous). */
export function identityOf(request: Request): Identity {
  return identities.get(request) ?? { name: ANONYMOUS, role: "admin" };
}

/** Marks a guard with the role it enforces: the OpenAPI document's security, role and statuses come from the guard itself (openapi.ts). */
function withAccess<T extends object>(guard: T, access: Access): T & { access: Access } {
  return Object.assign(guard, { access });
}

const UNAUTHORIZED =
  "missing or wrong token: send Authorization: Bearer <token> (CODEX_FLOW_BACKEND_TOKEN or one of CODEX_FLOW_BACKEND_TOKENS) or x-api-key";

/**
 * A route guard for the role `role` needs. With tokens configured a request needs one
 * (401 without, 403 naming both roles when its role is too low). With no token but a
 * secret, an operation (`operate` or `admin`) needs the body's HMAC, as POST /events
 * does (an empty body signs the empty string), so an unsigned client cannot start work
 * the secret would refuse it; reads are open. With neither, everything is open. The body
 * is read from a clone, bounded. The identity found is kept for the handler (identityOf).
 */
export function requireRole(deps: AuthDeps, role: Role) {
  return withAccess(async ({ request }: { request: Request }) => {
    const tokens = tokensOf(deps);
    if (tokens.length > 0) {
      const token = presentedToken(tokens, request);
      if (!token) throw new HttpError(401, UNAUTHORIZED);
      if (!allows(token.role, role))
        throw new HttpError(
          403,
          `token ${JSON.stringify(token.name)} has role ${token.role}; ${request.method} ${new URL(request.url).pathname} needs ${role}`,
        );
      identities.set(request, { name: token.name, role: token.role, ...(token.flows ? { flows: token.flows } : {}) });
      return;
    }
    if (role !== "read" && deps.secret) {
      const body = await readBody(request.clone() as Request, deps.maxBodyBytes);
      if (!verifySignature(deps.secret, body, request.headers)) {
        throw new HttpError(
          401,
          "missing or wrong signature: with CODEX_FLOW_BACKEND_SECRET set, operations need x-flow-signature-256: sha256=<hex HMAC-SHA256 of the body> (of the empty string for an empty body), or a token when tokens are set",
        );
      }
      identities.set(request, { name: SIGNER, role: "admin" });
    }
  }, role);
}

/** A route guard for reads: with tokens configured, any of them (401 without). */
export function requireToken(deps: AuthDeps) {
  return requireRole(deps, "read");
}

/** A route guard for operations that start or stop work (replay, retry, cancel, pause, resume). */
export function requireOperator(deps: AuthDeps) {
  return requireRole(deps, "operate");
}

/** A route guard for what changes or exports much at once (purge, archive, bulk replay). */
export function requireAdmin(deps: AuthDeps) {
  return requireRole(deps, "admin");
}

/**
 * Refuses (403, naming the scope) an action on `flow` by a token limited to other
 * flows. `flow` undefined means the action is not limited to one flow: a scoped token
 * must name one of its flows (the message says how).
 */
export function checkScope(request: Request, flow: string | undefined, what: string): void {
  const { name, flows } = identityOf(request);
  if (!flows) return;
  if (flow === undefined)
    throw new HttpError(
      403,
      `token ${JSON.stringify(name)} may act only on flows ${flows.join(", ")}; ${what} is not limited to one flow: name one of them ("flow" in the body)`,
    );
  if (!flows.includes(flow))
    throw new HttpError(
      403,
      `token ${JSON.stringify(name)} may act only on flows ${flows.join(", ")}; ${what} belongs to flow ${JSON.stringify(flow)}`,
    );
}
