import { timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.ts";

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

/** A route guard: with a token configured, read and operator endpoints answer 401 without it. */
export function requireToken(token: string | undefined) {
  return ({ request }: { request: Request }) => {
    if (!mayRead(token, request)) {
      throw new HttpError(401, "missing or wrong token: send Authorization: Bearer <CODEX_FLOW_BACKEND_TOKEN> or x-api-key");
    }
  };
}
