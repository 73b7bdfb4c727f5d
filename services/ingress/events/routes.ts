import { Elysia, t } from "elysia";
import { parseFlowEvent } from "../../../lib/event.ts";
import { msgIds } from "../../../lib/ids.ts";
import type { EventAccepted } from "../../../lib/messages.ts";
import { parseJson, readBody } from "../body.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { requireToken } from "../auth.ts";
import { readAfter } from "../read-your-writes.ts";
import { verifySignature } from "../signature.ts";
import { getEvent, listEvents } from "./queries.ts";
import { eventFromRow } from "./present.ts";
import { type WaitMode, waitForMatch } from "./wait.ts";

const EventQuery = t.Object(
  {
    type: t.Optional(t.String()),
    source: t.Optional(t.String()),
    since: t.Optional(t.String()),
    until: t.Optional(t.String()),
    limit: t.Optional(t.String()),
    cursor: t.Optional(t.String()),
    after: t.Optional(t.String()),
  },
  { additionalProperties: true },
);

/** `?wait=matched` waits for the match decision; `?wait=true` (the existing client) for every run to end. */
export function waitMode(raw: unknown): WaitMode | undefined {
  if (raw === undefined || raw === "" || raw === "false" || raw === "0" || raw === false) return undefined;
  if (raw === "matched") return "matched";
  if (raw === "true" || raw === "1" || raw === "final" || raw === true) return "final";
  throw new HttpError(400, `wait=${JSON.stringify(raw)} is invalid: expected matched, true or false`);
}

/**
 * `POST /events` and `POST /flow-events`: one FlowEvent in, 202 once JetStream has
 * stored it. The body is read raw (bounded) so the HMAC is checked over the exact bytes.
 * `POST /events/:id/replay`: the stored event again, marked as a replay, matched anew.
 */
export function eventRoutes(deps: IngressDeps) {
  const { db, publish, subjects } = deps;
  const answer = async (eventId: string, generation: number, published: { seq: number; duplicate: boolean }, mode: WaitMode | undefined) => {
    const base = { status: published.duplicate ? "duplicate" : "accepted", eventId, seq: published.seq, ...(published.duplicate ? { idempotent: true } : {}) };
    if (!mode) return base;
    const outcome = await waitForMatch(db, eventId, generation, mode, deps.waitTimeoutMs, deps.applied);
    return { ...base, matched: outcome.matched, runIds: outcome.runIds, runs: outcome.runs, ...(outcome.timedOut ? { waitTimedOut: true } : {}) };
  };

  const accept = async (request: Request, wait: string | undefined) => {
    const mode = waitMode(wait);
    const body = await readBody(request, deps.maxBodyBytes);
    if (deps.secret && !verifySignature(deps.secret, body, request.headers)) {
      throw new HttpError(401, "missing or wrong signature: send x-flow-signature-256: sha256=<hex HMAC-SHA256 of the body>");
    }
    const now = new Date();
    const parsed = parseFlowEvent(parseJson(body), now);
    if (!parsed.ok) throw new HttpError(400, `not a FlowEvent: ${parsed.errors.join("; ")}`, parsed.errors);
    const { event } = parsed;
    const known = await db.selectFrom("events").select("seq").where("id", "=", event.id).executeTakeFirst();
    // Accepted before (perhaps long before the dedup window): nothing new goes to the log.
    if (known) return await answer(event.id, 0, { seq: known.seq, duplicate: true }, mode);
    const accepted: EventAccepted = { v: 1, kind: "event.accepted", event, acceptedAt: now.toISOString() };
    return await answer(event.id, 0, await publish(subjects.event(event.type), accepted, msgIds.event(event.id, 0)), mode);
  };

  const replay = async (request: Request, eventId: string, queryWait: string | undefined) => {
    const body = await readBody(request, deps.maxBodyBytes);
    if (deps.secret && body.byteLength > 0 && !verifySignature(deps.secret, body, request.headers)) {
      throw new HttpError(401, "wrong signature: x-flow-signature-256 must be the HMAC-SHA256 of the body");
    }
    const options = body.byteLength > 0 ? parseJson(body) : {};
    const mode = waitMode(queryWait ?? (options as { wait?: unknown }).wait);
    const row = await db.selectFrom("events").selectAll().where("id", "=", eventId).executeTakeFirst();
    if (!row) throw new HttpError(404, `no event with id ${JSON.stringify(eventId)}`);
    const generation = row.generation + 1;
    const now = new Date().toISOString();
    const accepted: EventAccepted = { v: 1, kind: "event.accepted", event: eventFromRow(row), acceptedAt: now, replay: { generation, requestedAt: now } };
    const published = await publish(subjects.event(row.type), accepted, msgIds.event(eventId, generation));
    return { ...(await answer(eventId, generation, published, mode)), generation };
  };

  const route = { parse: "none" as const, query: t.Object({ wait: t.Optional(t.String()) }, { additionalProperties: true }) };
  const operator = { ...route, beforeHandle: requireToken(deps.token) };
  const reader = { beforeHandle: requireToken(deps.token) };
  return new Elysia({ name: "events" })
    .post("/events", async ({ request, query, set }) => ((set.status = 202), await accept(request, query.wait)), route)
    .post("/flow-events", async ({ request, query, set }) => ((set.status = 202), await accept(request, query.wait)), route)
    .post("/events/:id/replay", async ({ request, query, params, set }) => ((set.status = 202), await replay(request, params.id, query.wait)), operator)
    .get("/events", async ({ query }) => (await readAfter(deps, query.after), await listEvents(db, query)), { ...reader, query: EventQuery })
    .get("/events/:id", async ({ params, query }) => (await readAfter(deps, query.after), await getEvent(db, params.id)), reader);
}
