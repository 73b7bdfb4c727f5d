import { HttpError } from "./errors.ts";

/**
 * Requests the ingress holds open (GET /changes long polls, GET /runs/:id/output streams):
 * each keeps a descriptor for up to minutes, so without a bound a few thousand of them,
 * or one client opening them in a loop, exhaust the process's descriptors.
 * CODEX_FLOW_MAX_HELD_PER_CLIENT bounds them per client address (429 beyond) and
 * CODEX_FLOW_MAX_HELD_CONNECTIONS in total (503 beyond); /metrics shows both and the counts.
 */
export type HeldLimits = { total: number; perClient: number };

/** Why a held request was refused: the status, when to try again, and what to tell the client. */
export type HeldRefusal = { status: 429 | 503; retryAfterSeconds: number; message: string };

/** Seconds a refused client is told to wait: about one GET /changes hold. */
export const HELD_RETRY_AFTER_SECONDS = 5;

/** The held requests of this ingress, counted per client address and in total. */
export class HeldConnections {
  #byClient = new Map<string, number>();
  #total = 0;

  constructor(readonly limits: HeldLimits) {}

  /** Held requests now. */
  get total(): number {
    return this.#total;
  }

  /** Client addresses holding at least one request now. */
  get clients(): number {
    return this.#byClient.size;
  }

  /** Takes a place for `client`: the function that gives it back (call it once), or why there is none. */
  acquire(client: string): (() => void) | HeldRefusal {
    const mine = this.#byClient.get(client) ?? 0;
    if (mine >= this.limits.perClient) {
      return {
        status: 429,
        retryAfterSeconds: HELD_RETRY_AFTER_SECONDS,
        message: `too many held requests from ${client}: ${mine} open (CODEX_FLOW_MAX_HELD_PER_CLIENT=${this.limits.perClient}); close one or retry later`,
      };
    }
    if (this.#total >= this.limits.total) {
      return {
        status: 503,
        retryAfterSeconds: HELD_RETRY_AFTER_SECONDS,
        message: `too many held requests: ${this.#total} open (CODEX_FLOW_MAX_HELD_CONNECTIONS=${this.limits.total}); retry later`,
      };
    }
    this.#byClient.set(client, mine + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#byClient.get(client) ?? 1) - 1;
      if (left > 0) this.#byClient.set(client, left);
      else this.#byClient.delete(client);
    };
  }

  /** Like `acquire`, but a refusal is thrown as the HTTP answer (with Retry-After). */
  hold(client: string): () => void {
    const place = this.acquire(client);
    if (typeof place === "function") return place;
    throw new HttpError(place.status, place.message, undefined, { "retry-after": String(place.retryAfterSeconds) });
  }
}

/** The client address of a request as the server saw it (the peer: a proxy's, behind one). */
export function clientOf(
  server: { requestIP(request: Request): { address: string } | null } | null | undefined,
  request: Request,
): string {
  return server?.requestIP(request)?.address ?? "unknown";
}
