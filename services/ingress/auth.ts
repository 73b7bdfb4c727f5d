import { timingSafeEqual } from "node:crypto";
import { readBody } from "./body.ts";
import { HttpError } from "./errors.ts";
import { verifySignature } from "../../lib/signature.ts";

/**
 * Whether a request carries the read token (CODEX_FLOW_BACKEND_TOKEN) as
 * `Authorization: Bearer <token>` or `x-api-key: <token>`, compared in constant time.
 * Without a configured token everyone may read.
 */
export function mayRead(token: string | undefined, request: Request): boolean {
  if (!token) return true;
  const expected = Buffer.from(token);
  const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
  const given = [bearer, request.headers.get("x-api-key")].filter((v): v is string => !!v).map((v) => Buffer.from(v.trim()));
  return given.some((g) => g.length === expected.length && timingSafeEqual(g, expected));
}

/** The OpenAPI `security` of an endpoint that needs the token when CODEX_FLOW_BACKEND_TOKEN is set. */
export const TOKEN_SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];

/** Who may call an operation, as its guard says (requireToken: reader, requireOperator: operator). */
export type Access = "reader" | "operator";

/** Marks a guard with the access it enforces: the OpenAPI document's security and 401 come from the guard itself (openapi.ts). */
function withAccess<T extends object>(guard: T, access: Access): T & { access: Access } {
  return Object.assign(guard, { access });
}

/** A route guard: with a token configured, read and operator endpoints answer 401 without it. */
export function requireToken(token: string | undefined) {
  return withAccess(({ request }: { request: Request }) => {
    if (!mayRead(token, request)) {
      throw new HttpError(401, "missing or wrong token: send Authorization: Bearer <CODEX_FLOW_BACKEND_TOKEN> or x-api-key");
    }
  }, "reader");
}

/** The OpenAPI `security` of an operation: the token, or (with only a secret set) the body's HMAC. */
export const OPERATOR_SECURITY: Record<string, string[]>[] = [...TOKEN_SECURITY, { hmac: [] }];

/**
 * A route guard for operations that start or stop work (replay, bulk replay, retry,
 * cancel, pause, resume). With a token set they need it (401 otherwise). With only a
 * secret set they need the body's HMAC, as POST /events does (an empty body signs the
 * empty string), so an unsigned client cannot start work the secret would refuse it.
 * With neither, they are open like everything else. The body is read from a clone, bounded.
 */
export function requireOperator(deps: { token?: string; secret?: string; maxBodyBytes: number }) {
  const tokenGuard = requireToken(deps.token);
  return withAccess(async ({ request }: { request: Request }) => {
    if (deps.token || !deps.secret) return tokenGuard({ request });
    const body = await readBody(request.clone() as Request, deps.maxBodyBytes);
    if (!verifySignature(deps.secret, body, request.headers)) {
      throw new HttpError(401, "missing or wrong signature: with CODEX_FLOW_BACKEND_SECRET set, operations need x-flow-signature-256: sha256=<hex HMAC-SHA256 of the body> (of the empty string for an empty body), or the token when one is set");
    }
  }, "operator");
}
