/** How long /healthz (and a read's `?after=`) waits for JetStream to answer a stream info request. */
export const STREAM_PROBE_TIMEOUT_MS = 2_000;
/**
 * How long one answer is reused: a busy /healthz poller costs one request a second at
 * most. A failure is not reused (one request is in flight at a time anyway), so ok comes
 * back as soon as JetStream answers again.
 */
export const STREAM_PROBE_TTL_MS = 1_000;

/** What the last stream info request said: the stream's last sequence, or why there is none. */
export type StreamState = { lastSeq: number; error: null } | { lastSeq: null; error: string };

export type StreamProbe = {
  /** The stream's state, asked again when older than the TTL or when its last sequence is below `atLeast`. */
  state(atLeast?: number): Promise<StreamState>;
};

/**
 * Asks JetStream for the stream's last sequence, bounded and cached. A connected client
 * does not prove JetStream answers: with its store's disk full nats-server 2.9.10 kept the
 * connection while every JetStream request timed out (docs/operations.md). So /healthz
 * reports ok only when this answered; one request is in flight at a time, however many
 * callers wait on it. `ask` returns the last sequence or throws; `connected` says whether
 * asking makes sense at all.
 */
export function streamProbe(
  ask: () => Promise<number>,
  connected: () => boolean,
  stream: string,
  timeoutMs = STREAM_PROBE_TIMEOUT_MS,
): StreamProbe {
  let last: { state: StreamState; at: number } = { state: { lastSeq: null, error: "not asked yet" }, at: 0 };
  let inflight: Promise<StreamState> | undefined;
  const askBounded = async (): Promise<StreamState> => {
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return { lastSeq: await Promise.race([ask(), timeout]), error: null };
    } catch (error) {
      return { lastSeq: null, error: `JetStream stream info for ${stream} failed: ${(error as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    async state(atLeast = 0) {
      if (!connected()) return { lastSeq: null, error: "not connected to NATS" };
      const { state, at } = last;
      if (state.error === null && Date.now() - at <= STREAM_PROBE_TTL_MS && state.lastSeq >= atLeast) return state;
      inflight ??= askBounded().then((state) => {
        last = { state, at: Date.now() };
        inflight = undefined;
        return state;
      });
      return await inflight;
    },
  };
}
