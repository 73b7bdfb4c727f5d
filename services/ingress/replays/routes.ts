import { Elysia, t } from "elysia";
import type { StepDecision } from "../../../lib/protocol/messages.ts";
import { operatorAction, ReasonQuery, reasonOf } from "../audit/record.ts";
import { checkScope, OPERATOR_SECURITY, requireAdmin } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { eventFromRow } from "../events/present.ts";
import { replayStored } from "../events/replay.ts";
import { errors } from "../schemas.ts";
import { jsonRequestBody, strictBody } from "../strict-body.ts";
import { replayDiff } from "./diff.ts";
import { ReplayAnswer, ReplayBody } from "./schemas.ts";

/** The most events one bulk replay covers; a wider range is cut (the answer says so). */
export const MAX_BULK_REPLAY = 1_000;
export const MAX_REPLAY_CONCURRENCY = 16;

function time(raw: string | undefined, field: string): string | undefined {
  if (raw === undefined) return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms))
    throw new HttpError(
      400,
      `${field}: expected an ISO-8601 time such as 2026-12-01T00:00:00Z, got ${JSON.stringify(raw)}`,
    );
  return new Date(ms).toISOString();
}

/**
 * `POST /replays`: the stored events of one type accepted in a time range (optionally
 * only the steps of one flow). With `dryRun` it answers, per event, which steps would
 * run now and how that differs from its last match; without, it replays them through
 * the single replay path, at most `concurrency` at a time, in the order they were accepted.
 */
export function replayRoutes(deps: IngressDeps) {
  return new Elysia({ name: "replays" }).post(
    "/replays",
    async ({ request, query: params }) => {
      const body = await strictBody(request, ReplayBody, deps.maxBodyBytes);
      const reason = reasonOf(body, params.reason);
      if (body.dryRun === false) checkScope(request, body.flow, `a bulk replay of ${body.type} events`);
      if (!deps.catalog)
        throw new HttpError(503, "this ingress has no flow catalog (it reads flows from CODEX_FLOW_BACKEND_CWD)");
      const since = time(body.since, "since")!;
      const until = time(body.until, "until");
      if (body.flow !== undefined && !deps.catalog.current().flows.some((f) => f.name === body.flow))
        throw new HttpError(404, `no flow named ${JSON.stringify(body.flow)}`);
      let query = deps.db
        .selectFrom("events")
        .selectAll()
        .where("type", "=", body.type)
        .where("accepted_at", ">=", since);
      if (until) query = query.where("accepted_at", "<", until);
      const rows = await query
        .orderBy("seq", "asc")
        .limit(MAX_BULK_REPLAY + 1)
        .execute();
      const truncated = rows.length > MAX_BULK_REPLAY;
      const events = rows.slice(0, MAX_BULK_REPLAY);
      const index = deps.catalog.current();
      const plan = [];
      for (const row of events) {
        const last = await deps.db
          .selectFrom("matches")
          .select("decisions_json")
          .where("event_id", "=", row.id)
          .orderBy("generation", "desc")
          .limit(1)
          .executeTakeFirst();
        const then = last ? (JSON.parse(last.decisions_json) as StepDecision[]) : undefined;
        const now = index
          .match(eventFromRow(row))
          .map((m) => ({ flow: m.flow.name, step: m.step.name, matched: m.matched, reasons: m.reasons }));
        plan.push({
          eventId: row.id,
          type: row.type,
          acceptedAt: row.accepted_at,
          generation: row.generation,
          matchedBefore: last !== undefined,
          ...replayDiff(then, now, body.flow),
        });
      }
      if (body.dryRun !== false) return { dryRun: true, count: plan.length, truncated, events: plan };
      const concurrency = Math.min(body.concurrency ?? 4, MAX_REPLAY_CONCURRENCY);
      const replayed: { eventId: string; generation: number; seq: number }[] = [];
      const range = `${body.type} events accepted from ${since}${until ? ` until ${until}` : ""}${body.flow !== undefined ? `, flow ${body.flow}` : ""}`;
      const action = operatorAction(deps, request, {
        action: "bulk-replay",
        target: body.flow !== undefined ? { flow: body.flow } : {},
        summary: `POST /replays: ${events.length} ${range}${truncated ? " (cut)" : ""}`,
        reason,
      });
      for (let i = 0; i < events.length; i += concurrency) {
        const batch = await Promise.all(
          events.slice(i, i + concurrency).map((row) => replayStored(action, row, body.flow)),
        );
        batch.forEach((published, k) => {
          replayed.push({ eventId: events[i + k]!.id, generation: published.generation, seq: published.seq });
        });
      }
      await action.record();
      return { dryRun: false, count: plan.length, truncated, events: plan, replayed };
    },
    {
      beforeHandle: requireAdmin(deps),
      parse: "none",
      query: t.Object(ReasonQuery, { additionalProperties: true }),
      response: { 200: ReplayAnswer, ...errors(400, 401, 403, 404, 503, 507) },
      detail: {
        security: OPERATOR_SECURITY,
        tags: ["events"],
        summary:
          "Bulk replay: the events of a type in a time range; dryRun (the default) shows per event which steps would match now versus then",
        requestBody: jsonRequestBody(ReplayBody, true),
      },
    },
  );
}
