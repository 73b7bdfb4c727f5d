import { Elysia, t } from "elysia";
import { parseFlowEvent } from "../../../lib/event.ts";
import type { EventAccepted } from "../../../lib/messages.ts";
import type { ReadModel } from "../../../lib/read-model/database.ts";
import { parseJson, readBody } from "../body.ts";
import { HttpError } from "../errors.ts";
import { verifySignature } from "../signature.ts";
import type { EventPublisher } from "./publish.ts";
import { type AppliedSignal, type WaitMode, waitForMatch } from "./wait.ts";

export type EventRoutesOptions = {
  db: ReadModel;
  publish: EventPublisher;
  secret?: string;
  maxBodyBytes: number;
  waitTimeoutMs: number;
  applied?: AppliedSignal;
};

/** `?wait=matched` waits for the match decision; `?wait=true` (the existing client) for every run to end. */
function waitMode(raw: string | undefined): WaitMode | undefined {
  if (raw === undefined || raw === "" || raw === "false" || raw === "0") return undefined;
  if (raw === "matched") return "matched";
  if (raw === "true" || raw === "1" || raw === "final" || raw === "finished") return "final";
  throw new HttpError(400, `query parameter wait=${JSON.stringify(raw)} is invalid: expected matched, true or false`);
}

/**
 * `POST /events` and `POST /flow-events`: one FlowEvent in, 202 once JetStream has
 * stored it. The body is read raw (bounded) so the HMAC is checked over the exact bytes.
 */
export function eventRoutes(options: EventRoutesOptions) {
  const accept = async (request: Request, wait: string | undefined) => {
    const mode = waitMode(wait);
    const body = await readBody(request, options.maxBodyBytes);
    if (options.secret && !verifySignature(options.secret, body, request.headers)) {
      throw new HttpError(401, "missing or wrong signature: send x-flow-signature-256: sha256=<hex HMAC-SHA256 of the body>");
    }
    const now = new Date();
    const parsed = parseFlowEvent(parseJson(body), now);
    if (!parsed.ok) throw new HttpError(400, `not a FlowEvent: ${parsed.errors.join("; ")}`, parsed.errors);
    const { event } = parsed;

    const known = await options.db.selectFrom("events").select("seq").where("id", "=", event.id).executeTakeFirst();
    let seq: number;
    let duplicate: boolean;
    if (known) {
      // Accepted before (perhaps long before the dedup window): nothing new goes to the log.
      ({ seq, duplicate } = { seq: known.seq, duplicate: true });
    } else {
      const accepted: EventAccepted = { v: 1, kind: "event.accepted", event, acceptedAt: now.toISOString() };
      ({ seq, duplicate } = await options.publish(accepted));
    }
    const answer = { status: duplicate ? "duplicate" : "accepted", eventId: event.id, seq, ...(duplicate ? { idempotent: true } : {}) };
    if (!mode) return answer;
    const outcome = await waitForMatch(options.db, event.id, 0, mode, options.waitTimeoutMs, options.applied);
    return { ...answer, matched: outcome.matched, runIds: outcome.runIds, runs: outcome.runs, ...(outcome.timedOut ? { waitTimedOut: true } : {}) };
  };

  const route = {
    parse: "none" as const,
    query: t.Object({ wait: t.Optional(t.String()) }, { additionalProperties: true }),
  };
  return new Elysia({ name: "events" })
    .post("/events", async ({ request, query, set }) => ((set.status = 202), await accept(request, query.wait)), route)
    .post("/flow-events", async ({ request, query, set }) => ((set.status = 202), await accept(request, query.wait)), route);
}
