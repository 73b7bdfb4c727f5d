import { Elysia, t } from "elysia";
import { SYSTEM_EVENT_ID, SYSTEM_TYPE_NAMESPACE } from "../../../lib/protocol/event.ts";
import { verifySignature } from "../../../lib/signature.ts";
import { operatorAction, ReasonQuery, reasonOf } from "../audit/record.ts";
import { checkScope, mayRead, OPERATOR_SECURITY, requireOperator, requireToken, TOKEN_SECURITY } from "../auth.ts";
import { parseJson, readBody } from "../body.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { readAfter } from "../read-your-writes.ts";
import { EventAnswer, EventDetail, EventsPage, errors, FlowEventInput, Query } from "../schemas.ts";
import { eventAcceptor } from "./accept.ts";
import { getEvent, listEvents } from "./queries.ts";
import { replayStored } from "./replay.ts";
import { parseWait, type Wait } from "./wait.ts";

const EventQuery = t.Object(
  {
    type: Query.text,
    source: Query.text,
    since: Query.time,
    until: Query.time,
    limit: Query.limit,
    cursor: Query.text,
    after: Query.after,
  },
  { additionalProperties: true },
);

/** What a client may post, as the document says it: a FlowEventInput outside the ids and the type namespace the system keeps for itself. */
const CLIENT_EVENT = {
  allOf: [
    { $ref: "#/components/schemas/FlowEventInput" },
    {
      properties: {
        id: { not: { pattern: SYSTEM_EVENT_ID.source } },
        type: { not: { pattern: `^${SYSTEM_TYPE_NAMESPACE}(\\.|$)` } },
      },
    },
  ],
};

/**
 * `POST /events` and `POST /flow-events`: one FlowEvent in, 202 once JetStream has
 * stored it. The body is read raw (bounded) so the HMAC is checked over the exact bytes.
 * `POST /events/:id/replay`: the stored event again, marked as a replay, matched anew.
 */
export function eventRoutes(deps: IngressDeps) {
  const { db } = deps;
  const { answer, accept: acceptInput, counted } = eventAcceptor(deps);

  /**
   * Run data (ids, results, output) goes only to a caller that may read: with a token
   * set, a signer without it learns that its event was stored, never what ran. Asking
   * to wait without the token is refused before anything is published.
   */
  const waitFor = (request: Request, raw: unknown): Wait => {
    const wait = parseWait(raw, deps);
    if (mayRead(deps, request)) return wait;
    if (wait?.explicit)
      throw new HttpError(
        401,
        "?wait=matched|true answers with run data: send the read token (Authorization: Bearer <CODEX_FLOW_BACKEND_TOKEN> or x-api-key), or post without ?wait",
      );
    return undefined;
  };

  const accept = (request: Request, wait: string | undefined) => counted(() => acceptEvent(request, wait));

  const acceptEvent = async (request: Request, wait: string | undefined) => {
    const arrived = Date.now();
    const mode = waitFor(request, wait);
    const body = await readBody(request, deps.maxBodyBytes);
    if (deps.secret && !verifySignature(deps.secret, body, request.headers)) {
      throw new HttpError(
        401,
        "missing or wrong signature: send x-flow-signature-256: sha256=<hex HMAC-SHA256 of the body>",
      );
    }
    return await acceptInput(parseJson(body), new Date(arrived), mode, request.headers);
  };

  // `{"flow": F}` limits a replay to F's steps (flow replay --flow F); an unknown flow would silently run nothing.
  const replayFlow = (flow: unknown): string | undefined => {
    if (flow === undefined) return undefined;
    if (typeof flow !== "string" || flow === "")
      throw new HttpError(400, `flow: expected the name of a flow, got ${JSON.stringify(flow)}`);
    if (!deps.catalog)
      throw new HttpError(
        503,
        "this ingress has no flow catalog to check the flow against (it reads flows from CODEX_FLOW_BACKEND_CWD)",
      );
    if (!deps.catalog.current().flows.some((f) => f.name === flow))
      throw new HttpError(404, `no flow named ${JSON.stringify(flow)}`);
    return flow;
  };

  const replay = async (
    request: Request,
    eventId: string,
    queryWait: string | undefined,
    queryReason: string | undefined,
  ) => {
    const body = await readBody(request, deps.maxBodyBytes);
    if (deps.secret && body.byteLength > 0 && !verifySignature(deps.secret, body, request.headers)) {
      throw new HttpError(401, "wrong signature: x-flow-signature-256 must be the HMAC-SHA256 of the body");
    }
    const options = body.byteLength > 0 ? parseJson(body) : {};
    const mode = waitFor(request, queryWait ?? (options as { wait?: unknown }).wait);
    const flow = replayFlow((options as { flow?: unknown }).flow);
    const reason = reasonOf(options, queryReason);
    checkScope(request, flow, `a replay of event ${JSON.stringify(eventId)}`);
    const row = await db.selectFrom("events").selectAll().where("id", "=", eventId).executeTakeFirst();
    if (!row) throw new HttpError(404, `no event with id ${JSON.stringify(eventId)}`);
    const action = operatorAction(deps, request, {
      action: "replay",
      target: { eventId, ...(flow !== undefined ? { flow } : {}) },
      summary: `POST /events/${eventId}/replay${flow !== undefined ? ` (flow ${flow})` : ""}`,
      reason,
    });
    const { generation, ...published } = await replayStored(action, row, flow);
    await action.record();
    return { ...(await answer(eventId, generation, published, mode)), generation };
  };

  const route = {
    parse: "none" as const,
    query: t.Object(
      {
        wait: t.Optional(
          t.Union([Query.wait], {
            description:
              "default (or false): wait briefly for the match decision and answer runIds; none: do not wait; matched: wait for the match decision up to the wait limit; true: until every run ended. Run data needs the read token when one is set.",
          }),
        ),
      },
      { additionalProperties: true },
    ),
  };
  const operator = {
    ...route,
    query: t.Object({ ...route.query.properties, ...ReasonQuery }, { additionalProperties: true }),
    beforeHandle: requireOperator(deps),
  };
  const reader = { beforeHandle: requireToken(deps) };
  const post = (summary: string) => ({
    ...route,
    response: { 202: EventAnswer, ...errors(400, 401, 413, 503, 507) },
    detail: {
      security: [{ hmac: [] }],
      tags: ["events"],
      summary,
      description:
        "Signed with x-flow-signature-256 (or x-patchbay-/x-patch-flow-signature-256): sha256=<hex HMAC-SHA256 of the exact body> when CODEX_FLOW_BACKEND_SECRET is set. 202 once JetStream stored the event (or, with CODEX_FLOW_INGRESS_SPOOL, once the spool fsynced it: `spooled: true`); 503 with Retry-After when JetStream could not take it within CODEX_FLOW_PUBLISH_DEADLINE_MS; 507 when the spool is full.",
      requestBody: { required: true, content: { "application/json": { schema: CLIENT_EVENT } } },
    },
  });
  return new Elysia({ name: "events" })
    .model({ FlowEventInput })
    .post(
      "/events",
      async ({ request, query, set }) => {
        set.status = 202;
        return await accept(request, query.wait);
      },
      post("Accept one FlowEvent"),
    )
    .post(
      "/flow-events",
      async ({ request, query, set }) => {
        set.status = 202;
        return await accept(request, query.wait);
      },
      post("Accept one FlowEvent (the original backend's (seed/flows.md) second path)"),
    )
    .post(
      "/events/:id/replay",
      async ({ request, query, params, set }) => {
        set.status = 202;
        return await replay(request, params.id, query.wait, query.reason);
      },
      {
        ...operator,
        response: { 202: EventAnswer, ...errors(400, 401, 403, 404, 503, 507) },
        detail: {
          security: OPERATOR_SECURITY,
          tags: ["events"],
          summary: "Match a stored event again (new runs, marked as a replay)",
          description:
            'Body (optional): {"wait": true|false|"matched", "flow": "<name>", "reason": "<why, for the audit log>"}; with flow, only that flow\'s steps run (a token limited to some flows must name one).',
        },
      },
    )
    .get(
      "/events",
      async ({ query }) => {
        await readAfter(deps, query.after);
        return await listEvents(db, query, deps.responseBudgetBytes);
      },
      {
        ...reader,
        query: EventQuery,
        response: { 200: EventsPage, ...errors(400, 401, 503) },
        detail: {
          security: TOKEN_SECURITY,
          tags: ["events"],
          summary: "List events, newest first, with filters and cursor paging",
        },
      },
    )
    .get(
      "/events/:id",
      async ({ params, query }) => {
        await readAfter(deps, query.after);
        return await getEvent(db, params.id, deps.responseBudgetBytes);
      },
      {
        ...reader,
        query: t.Object({ after: Query.after }, { additionalProperties: true }),
        response: { 200: EventDetail, ...errors(400, 401, 404, 503) },
        detail: {
          security: TOKEN_SECURITY,
          tags: ["events"],
          summary: "One event: its match decisions (every step, with the reasons it did not match) and its runs",
        },
      },
    );
}
