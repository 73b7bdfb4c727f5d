import { isIP } from "node:net";
import { Elysia } from "elysia";
import { HttpError } from "./errors.ts";

/** Listen addresses that mean "every interface": they name no host a client would write. */
const WILDCARDS = new Set(["", "0.0.0.0", "::", "[::]", "*"]);

/** The host name of a Host header, lower-cased, without port, brackets or a trailing dot. */
export function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  const bracketed = value.match(/^\[([^\]]*)\](:\d*)?$/);
  if (bracketed) return bracketed[1]!;
  return value.replace(/:\d*$/, "").replace(/\.$/, "");
}

/**
 * Whether the ingress answers a request whose Host header is `header`. A DNS-rebinding
 * page reaches a loopback ingress under a name its attacker controls, so a name is
 * answered only when it is `localhost`, the configured listen host, or listed in
 * CODEX_FLOW_ALLOWED_HOSTS (`*`: any). IP literals are always answered: no DNS stands
 * between them and the address, so they cannot be rebound. No Host (HTTP/1.0) is answered.
 */
export function hostAllowed(header: string | null, listenHost: string, allowedHosts: readonly string[]): boolean {
  if (header === null || allowedHosts.includes("*")) return true;
  const name = hostName(header);
  if (name === "localhost" || isIP(name) !== 0) return true;
  if (!WILDCARDS.has(listenHost) && name === hostName(listenHost)) return true;
  return allowedHosts.includes(name);
}

/** Refuses (421) every request whose Host the ingress does not serve (DNS rebinding protection, docs/security.md). */
export function hostGuard(listenHost: string, allowedHosts: readonly string[]) {
  return new Elysia({ name: "host-guard" }).onRequest(({ request }) => {
    const header = request.headers.get("host");
    if (hostAllowed(header, listenHost, allowedHosts)) return;
    throw new HttpError(
      421,
      `host ${JSON.stringify(header)} is not served here: only localhost, IP addresses, CODEX_FLOW_BACKEND_HOST and the names in CODEX_FLOW_ALLOWED_HOSTS are (a guard against DNS rebinding); add the name to CODEX_FLOW_ALLOWED_HOSTS to serve it`,
    );
  });
}
