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
