/** The API as the dashboard calls it: same origin, the token from this tab's sessionStorage in a header, never in a URL. */

const TOKEN_KEY = "codex-flows-token";

/** The API asked for a token (401); the page shows the token form instead of data. */
export class TokenNeeded extends Error {}

/** A non-2xx answer, with the API's own error text. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function failure(response: Response, what: string): Promise<never> {
  const text = await response.text().catch(() => "");
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // not JSON: the text itself
  }
  if (response.status === 401) throw new TokenNeeded(message);
  throw new ApiError(response.status, `${what} failed (${response.status}): ${message || response.statusText}`);
}

/** GET a JSON resource. */
export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, { headers: headers({ accept: "application/json" }), signal });
  if (!response.ok) return await failure(response, `GET ${path}`);
  return (await response.json()) as T;
}

/** POST an operator action (a JSON body when given); the API's answer, status and body, whatever it is. */
export async function post<T>(path: string, json?: unknown): Promise<{ status: number; body: T }> {
  const init =
    json === undefined
      ? { headers: headers() }
      : { headers: headers({ "content-type": "application/json" }), body: JSON.stringify(json) };
  const response = await fetch(path, { method: "POST", ...init });
  if (response.status === 401) return await failure(response, `POST ${path}`);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // answered with text: shown as it is
  }
  return { status: response.status, body: body as T };
}

/**
 * Reads a Server-Sent Events endpoint with fetch (EventSource cannot send the token
 * header): calls `onEvent` per event until the stream ends or `signal` aborts.
 */
export async function readEvents(
  path: string,
  signal: AbortSignal,
  onEvent: (event: string, data: unknown) => void,
): Promise<void> {
  const response = await fetch(path, { headers: headers({ accept: "text/event-stream" }), signal });
  if (!response.ok || !response.body) return await failure(response, `GET ${path}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      onEvent(event, data.length ? JSON.parse(data.join("\n")) : null);
    }
  }
}

/** At most one refresh per this long, however often the projector commits. */
const MIN_REFRESH_MS = 500;

/** Resolves when this tab is visible (at once if it is), or when `signal` aborts. */
function whenVisible(signal: AbortSignal): Promise<void> {
  if (!document.hidden || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (document.hidden && !signal.aborted) return;
      document.removeEventListener("visibilitychange", done);
      resolve();
    };
    document.addEventListener("visibilitychange", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Calls `onChange` once the watch is up and whenever the read model applied something
 * new (GET /changes, a long poll), one call at a time and at most every MIN_REFRESH_MS,
 * until `signal` aborts. A hidden tab holds no request (a browser allows six per
 * server, and a few open tabs would use them up); it catches up when shown. Errors are
 * reported through `onStatus` and retried after a pause, never dropped.
 */
export async function watchChanges(
  signal: AbortSignal,
  onChange: () => void | Promise<void>,
  onStatus: (live: boolean, problem?: string) => void,
): Promise<void> {
  let seq: number | undefined;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  while (!signal.aborted) {
    await whenVisible(signal);
    const poll = new AbortController();
    const stop = () => poll.abort();
    const onHidden = () => document.hidden && poll.abort();
    signal.addEventListener("abort", stop, { once: true });
    document.addEventListener("visibilitychange", onHidden);
    try {
      const answer = await get<{ seq: number }>(seq === undefined ? "/changes" : `/changes?after=${seq}`, poll.signal);
      onStatus(true);
      // The first answer too: something may have changed between the page's first read and it.
      if (answer.seq !== seq) {
        seq = answer.seq;
        const started = Date.now();
        await onChange();
        await pause(Math.max(0, MIN_REFRESH_MS - (Date.now() - started)));
      }
    } catch (error) {
      if (signal.aborted) return;
      if (poll.signal.aborted) continue; // hidden: wait to be shown
      onStatus(false, error instanceof Error ? error.message : String(error));
      // A refused token does not come right by asking again; the page's next read shows the prompt.
      if (error instanceof TokenNeeded) return;
      await pause(2_000);
    } finally {
      signal.removeEventListener("abort", stop);
      document.removeEventListener("visibilitychange", onHidden);
    }
  }
}
