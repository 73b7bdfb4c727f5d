import { eventually } from "./nats.ts";

/** The JSON body of a response, untyped: tests assert on its shape. */
export async function json(response: Response | Promise<Response>): Promise<any> {
  return await (await response).json();
}

/** A caller of the API at `url()` (read when called, so it may be set in beforeAll): a request with a bearer token (none when undefined) and a JSON body when given. */
export function authed(url: () => string) {
  return (token: string | undefined, method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${url()}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
}

/** The audit records GET /audit?`query` answers, once there are exactly `count` (waits up to 15 s). */
export function auditRecords(
  call: ReturnType<typeof authed>,
  token: string,
  query: string,
  count: number,
): Promise<any[]> {
  return eventually(
    async () => {
      const entries = (await json(call(token, "GET", `/audit?${query}`))).entries;
      return entries.length === count ? entries : false;
    },
    15_000,
    `${count} audit records for ${query}`,
  );
}
