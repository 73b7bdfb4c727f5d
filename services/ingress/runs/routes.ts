import { Elysia, t } from "elysia";
import { EFFECTIVE_STATUSES, RUN_STATUSES } from "../../../lib/protocol/status.ts";
import { ReasonBody, ReasonQuery, reasonOf } from "../audit/record.ts";
import { OPERATOR_SECURITY, requireOperator, requireToken, TOKEN_SECURITY } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { clientOf } from "../held.ts";
import { readAfter } from "../read-your-writes.ts";
import { errors, Query, RunAnswer, RunsPage } from "../schemas.ts";
import { jsonRequestBody, strictBody } from "../strict-body.ts";
import { BulkAnswer, type BulkBody, BulkCancelBody, BulkRetryBody, bulkAct } from "./bulk.ts";
import { listRuns } from "./list.ts";
import { cancelRun, retryRun } from "./operate.ts";
import { outputJson, outputStream } from "./output.ts";
import { runsById } from "./queries.ts";
import { explainWaits } from "./queues.ts";

const RunQuery = t.Object(
  {
    eventId: Query.text,
    flow: Query.text,
    step: Query.text,
    host: Query.text,
    queue: Query.text,
    cursor: Query.text,
    status: Query.statuses(RUN_STATUSES),
    effectiveStatus: Query.statuses(EFFECTIVE_STATUSES),
    needsAttention: Query.boolean,
    since: Query.time,
    until: Query.time,
    limit: Query.limit,
    order: Query.order,
    after: Query.after,
  },
  { additionalProperties: true },
);

/** Runs: listing with filters and paging (the original backend's (seed/flows.md) `?eventId=` included), one run, and the operator's cancel and retry. */
export function runRoutes(deps: IngressDeps) {
  const { db } = deps;
  const guarded = { beforeHandle: requireToken(deps) };
  const operator = { beforeHandle: requireOperator(deps) };
  // An operation's optional body `{"reason"}` (or `?reason=`): who asks and why.
  const asked = async (request: Request, query: string | undefined) => ({
    request,
    reason: reasonOf(await strictBody(request, ReasonBody, deps.maxBodyBytes), query),
  });
  return new Elysia({ name: "runs" })
    .get(
      "/runs",
      async ({ query }) => {
        await readAfter(deps, query.after);
        const page = await listRuns(db, query, deps.responseBudgetBytes);
        return {
          ...(query.eventId ? { eventId: query.eventId } : {}),
          ...page,
          runs: await explainWaits(page.runs, deps.queues),
        };
      },
      {
        ...guarded,
        query: RunQuery,
        response: { 200: RunsPage, ...errors(400, 401, 503) },
        detail: {
          security: TOKEN_SECURITY,
          tags: ["runs"],
          summary:
            "List runs with filters (comma-separated statuses) and cursor paging; ?eventId= alone is the original backend's listing, seed/flows.md, oldest first",
          description:
            "Results and output tails beyond the answer's budget (CODEX_FLOW_RESPONSE_BUDGET_BYTES) are left out, marked `elided` with a link to the run, which GET /runs/:id gives whole.",
        },
      },
    )
    .get(
      "/runs/:id",
      async ({ params, query }) => {
        await readAfter(deps, query.after);
        const [run] = await runsById(db, [params.id]);
        if (!run) throw new HttpError(404, `no run with id ${JSON.stringify(params.id)}`);
        return { run: (await explainWaits([run], deps.queues))[0]! };
      },
      {
        ...guarded,
        query: t.Object({ after: Query.after }, { additionalProperties: true }),
        response: { 200: RunAnswer, ...errors(400, 401, 404, 503) },
        detail: { security: TOKEN_SECURITY, tags: ["runs"], summary: "One run with every attempt" },
      },
    )
    .get(
      "/runs/:id/output",
      async ({ params, query, request, server }) => {
        const follow = query.follow !== "false" && query.follow !== "0";
        if (request.headers.get("accept")?.includes("application/json")) return await outputJson(db, params.id);
        const release = deps.held.hold(clientOf(server, request));
        try {
          return await outputStream(
            deps,
            params.id,
            follow,
            request,
            request.headers.get("last-event-id") ?? query.lastEventId,
            release,
          );
        } catch (error) {
          release();
          throw error;
        }
      },
      {
        ...guarded,
        query: t.Object(
          {
            follow: t.Optional(t.String()),
            lastEventId: t.Optional(
              t.String({ description: "Resume after this event id (as the Last-Event-ID header does)" }),
            ),
          },
          { additionalProperties: true },
        ),
        detail: {
          security: TOKEN_SECURITY,
          tags: ["runs"],
          summary:
            "A run's output: Server-Sent Events (run, output..., end) that follow it until it ends (a keep-alive comment every 15 s; Last-Event-ID resumes), or JSON with Accept: application/json",
          responses: {
            200: {
              description:
                "text/event-stream, or application/json {runId, status, cut, output: [{kind, text, createdAt, attempt}]}",
            },
            404: { description: "no such run" },
            429: { description: "this client holds CODEX_FLOW_MAX_HELD_PER_CLIENT requests open already" },
            503: { description: "the ingress holds CODEX_FLOW_MAX_HELD_CONNECTIONS requests open already" },
          },
        },
      },
    )
    .use(
      bulkRoute(
        deps,
        "cancel",
        BulkCancelBody,
        "Cancel many runs: a selection (ids) or a filter, the queued, running and awaiting approval among them, at most 500 a request; a dry run (the default) counts and lists them first",
      ),
    )
    .use(
      bulkRoute(
        deps,
        "retry",
        BulkRetryBody,
        "Retry many runs: a selection (ids) or a filter, the ended among them (a new attempt each), at most 500 a request; a dry run (the default) counts and lists them first",
      ),
    )
    .post(
      "/runs/:id/cancel",
      async ({ params, query, request }) => ({
        run: await cancelRun(deps, params.id, await asked(request, query.reason)),
      }),
      {
        ...operator,
        parse: "none",
        query: t.Object(ReasonQuery, { additionalProperties: true }),
        response: { 200: RunAnswer, ...errors(400, 401, 403, 404, 409, 503, 507) },
        detail: {
          security: OPERATOR_SECURITY,
          tags: ["runs"],
          summary: "Cancel a queued, running or awaiting-approval run (409 when it already ended or is being canceled)",
          requestBody: jsonRequestBody(ReasonBody, false),
        },
      },
    )
    .post(
      "/runs/:id/retry",
      async ({ params, query, request, set }) => {
        set.status = 202;
        return { run: await retryRun(deps, params.id, await asked(request, query.reason)) };
      },
      {
        ...operator,
        parse: "none",
        query: t.Object(ReasonQuery, { additionalProperties: true }),
        response: { 202: RunAnswer, ...errors(400, 401, 403, 404, 409, 503, 507) },
        detail: {
          security: OPERATOR_SECURITY,
          tags: ["runs"],
          summary: "Start a new attempt of a run that ended (409 while it is queued or running)",
          requestBody: jsonRequestBody(ReasonBody, false),
        },
      },
    );
}

/** POST /bulk/<action>: one action on many runs (bulk.ts), its body schema and what the OpenAPI document says of it. */
function bulkRoute(
  deps: IngressDeps,
  action: "cancel" | "retry",
  body: typeof BulkCancelBody | typeof BulkRetryBody,
  summary: string,
) {
  return new Elysia({ name: `bulk-${action}` }).post(
    `/bulk/${action}`,
    async ({ request }) =>
      await bulkAct(deps, action, request, (await strictBody(request, body, deps.maxBodyBytes)) as BulkBody),
    {
      beforeHandle: requireOperator(deps),
      parse: "none",
      response: { 200: BulkAnswer, ...errors(400, 401, 403, 413, 503, 507) },
      detail: { security: OPERATOR_SECURITY, tags: ["runs"], summary, requestBody: jsonRequestBody(body, true) },
    },
  );
}
