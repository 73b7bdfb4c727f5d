import { Elysia } from "elysia";
import { HttpError } from "./errors.ts";

const READS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Writes from browsers. A web page can send a "simple" cross-site POST (text/plain, no
 * preflight) to an ingress on this machine: writes with a body must say
 * `content-type: application/json` (415 otherwise, which a page cannot send without a
 * CORS preflight we never grant), and a write a browser marks as coming from another
 * origin (`Origin`, `Sec-Fetch-Site: cross-site|same-site`) is 403 unless its origin is
 * listed in CODEX_FLOW_ALLOWED_ORIGINS (`*`: any). Clients that are not browsers send
 * neither header and are unaffected.
 */
export function browserGuard(allowedOrigins: readonly string[]) {
  const anyOrigin = allowedOrigins.includes("*");
  const allowed = new Set(allowedOrigins.map((origin) => origin.replace(/\/$/, "").toLowerCase()));
  return new Elysia({ name: "browser-guard" }).onRequest(({ request }) => {
    if (READS.has(request.method)) return;
    const headers = request.headers;
    const hasBody = Number(headers.get("content-length") ?? 0) > 0 || headers.has("transfer-encoding");
    const type = headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
    if (hasBody && type !== "application/json") {
      throw new HttpError(415, `content-type ${type ? JSON.stringify(type) : "missing"}: expected application/json`);
    }
    if (anyOrigin) return;
    const origin = headers.get("origin")?.toLowerCase();
    const site = headers.get("sec-fetch-site");
    const sameOrigin =
      origin !== undefined && origin === `${new URL(request.url).protocol}//${headers.get("host")}`.toLowerCase();
    if (sameOrigin || (origin !== undefined && allowed.has(origin))) return;
    if (origin !== undefined || site === "cross-site" || site === "same-site") {
      throw new HttpError(
        403,
        `cross-origin write refused (origin ${origin ?? "unknown"}, sec-fetch-site ${site ?? "unset"}): list the origin in CODEX_FLOW_ALLOWED_ORIGINS to allow it`,
      );
    }
  });
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i;

/** The loud warning for an ingress that listens beyond loopback with no HMAC secret (an empty one counts as none); undefined when it does not. */
export function exposureWarning(host: string, secret: string | undefined): string | undefined {
  if (secret || LOOPBACK.test(host)) return undefined;
  return `WARNING: the API listens on ${host} (beyond loopback) WITHOUT CODEX_FLOW_BACKEND_SECRET: anyone who reaches this port can post events that run steps. Set CODEX_FLOW_BACKEND_SECRET (and CODEX_FLOW_BACKEND_TOKEN for reads), or listen on 127.0.0.1.`;
}
