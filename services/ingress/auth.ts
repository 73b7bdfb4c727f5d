import { timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.ts";

/**
 * With a token configured (CODEX_FLOW_BACKEND_TOKEN), read and operator endpoints need
 * `Authorization: Bearer <token>` or `x-api-key: <token>`, compared in constant time.
 */
export function requireToken(token: string | undefined) {
  const expected = token ? Buffer.from(token) : undefined;
  return ({ request }: { request: Request }) => {
    if (!expected) return;
    const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
    const given = [bearer, request.headers.get("x-api-key")].filter((v): v is string => !!v).map((v) => Buffer.from(v.trim()));
    if (!given.some((g) => g.length === expected.length && timingSafeEqual(g, expected))) {
      throw new HttpError(401, "missing or wrong token: send Authorization: Bearer <CODEX_FLOW_BACKEND_TOKEN> or x-api-key");
    }
  };
}
