import { randomUUID } from "node:crypto";
import { Elysia, t } from "elysia";
import type { PurgeRuns } from "../../../lib/protocol/messages.ts";
import { operatorAction, ReasonQuery, reasonOf } from "../audit/record.ts";
import { checkScope, OPERATOR_SECURITY, requireAdmin, requireToken, TOKEN_SECURITY } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { errors, Query } from "../schemas.ts";
import { jsonRequestBody, strictBody } from "../strict-body.ts";
import { archivePage, parseSelection, purgeCounts } from "./queries.ts";
import { ArchivePage, Before, PurgeAnswer, PurgeBody, PurgeCounts, StatusList } from "./schemas.ts";

const SelectionQuery = t.Object({
  before: Before("Runs created before this date (2026-01-31) or ISO time"),
  flow: Query.text,
  status: t.Optional(t.Union([t.Literal(""), StatusList], { error: StatusList.error })),
});

/** Runs one archive page holds (each with its attempts, output and event). */
const ARCHIVE_PAGE = 100;

/**
 * `GET /purge` (what a purge would delete: counts and bytes per flow and status),
 * `POST /purge` (delete it, through the stream: every host's projector deletes the same
 * rows, in rounds of CODEX_FLOW_PURGE_ROUND_RUNS) and `GET /archive` (the same rows, a page at a time, for
 * `flow archive`). All behind the token.
 */
export function dataRoutes(deps: IngressDeps) {
  const guard = { beforeHandle: requireToken(deps) };
  const admin = { beforeHandle: requireAdmin(deps) };
  const purge = async (
    request: Request,
    body: { before: string; flow?: string; status?: string; reason?: string },
    queryReason: string | undefined,
  ) => {
    const selection = parseSelection(body);
    const reason = reasonOf(body, queryReason);
    checkScope(request, body.flow, "a purge");
    const purgeId = `purge:${randomUUID()}`;
    const message: PurgeRuns = {
      v: 1,
      kind: "runs.purge",
      purgeId,
      round: 1,
      at: new Date().toISOString(),
      rules: [selection.rule],
      ...(selection.eventsBefore ? { eventsBefore: selection.eventsBefore } : {}),
      limit: deps.purgeRoundRuns ?? 500,
      tombstoneDays: deps.tombstoneDays ?? 400,
    };
    const what = [
      `before ${selection.rule.before}`,
      body.flow ? `flow ${body.flow}` : "",
      body.status ? `status ${body.status}` : "",
    ]
      .filter(Boolean)
      .join(", ");
    const action = operatorAction(deps, request, {
      action: "purge",
      target: body.flow ? { flow: body.flow } : {},
      summary: `POST /purge: ${what} (${purgeId})`,
      reason,
    });
    const { seq } = await action.publish(message);
    await action.record();
    return { purgeId, seq, before: selection.rule.before };
  };
  return new Elysia({ name: "data" })
    .get("/purge", async ({ query }) => await purgeCounts(deps.db, parseSelection(query)), {
      ...guard,
      query: SelectionQuery,
      response: { 200: PurgeCounts, ...errors(400, 401) },
      detail: {
        security: TOKEN_SECURITY,
        tags: ["system"],
        summary: "What a purge would delete (dry run): runs and bytes per flow and status, and events without runs",
      },
    })
    .post(
      "/purge",
      async ({ request, query, set }) => {
        set.status = 202;
        return await purge(request, await strictBody(request, PurgeBody, deps.maxBodyBytes), query.reason);
      },
      {
        ...admin,
        parse: "none",
        query: t.Object(ReasonQuery, { additionalProperties: true }),
        response: { 202: PurgeAnswer, ...errors(400, 401, 403, 503) },
        detail: {
          security: OPERATOR_SECURITY,
          tags: ["system"],
          summary:
            "Delete final runs created before a date (and their events), through the stream: every read model deletes the same",
          requestBody: jsonRequestBody(PurgeBody, true),
        },
      },
    )
    .get(
      "/archive",
      async ({ query }) => {
        // An empty cursor is an absent one (the first page), as a form sends it.
        return await archivePage(deps.db, parseSelection(query), query.cursor || undefined, ARCHIVE_PAGE);
      },
      {
        ...admin,
        query: t.Object({ ...SelectionQuery.properties, cursor: t.Optional(t.String()) }),
        response: { 200: ArchivePage, ...errors(400, 401, 403) },
        detail: {
          security: TOKEN_SECURITY,
          tags: ["system"],
          summary: "What a purge would delete, in full, a page at a time (flow archive writes it as gzip JSON Lines)",
        },
      },
    );
}
