import { Elysia, t } from "elysia";
import { requireToken, TOKEN_SECURITY } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { parseLimit } from "../paging.ts";
import { errors, Query } from "../schemas.ts";
import { ScheduleTicksView } from "./schemas.ts";

/**
 * GET /schedules/ticks?flow=&schedule=&outcome=&limit=: the ticks schedulers handled,
 * newest first, with why a skipped one was skipped (GET /schedules has each schedule's
 * next and last tick). The read model's schedule_ticks key (flow, schedule, tick) serves it.
 */
export function scheduleTickRoutes(deps: IngressDeps) {
  return new Elysia({ name: "schedule-ticks" }).get(
    "/schedules/ticks",
    async ({ query }) => {
      const limit = query.limit ? parseLimit(query.limit) : 20;
      let rows = deps.db.selectFrom("schedule_ticks");
      if (query.flow) rows = rows.where("flow", "=", query.flow);
      if (query.schedule) rows = rows.where("schedule", "=", query.schedule);
      const counted = await rows
        .select(["outcome", (eb) => eb.fn.countAll<number>().as("n")])
        .groupBy("outcome")
        .execute();
      if (query.outcome) rows = rows.where("outcome", "=", query.outcome as "emitted" | "skipped");
      const ticks = await rows
        .selectAll()
        .orderBy("tick", "desc")
        .orderBy("flow")
        .orderBy("schedule")
        .limit(limit)
        .execute();
      const counts = { emitted: 0, skipped: 0 };
      for (const c of counted) counts[c.outcome] = Number(c.n);
      return {
        ticks: ticks.map((r) => ({
          flow: r.flow,
          schedule: r.schedule,
          tick: r.tick,
          outcome: r.outcome,
          eventId: r.event_id,
          reason: r.reason,
          at: r.at,
        })),
        counts,
      };
    },
    {
      beforeHandle: requireToken(deps),
      query: t.Object(
        {
          flow: Query.text,
          schedule: Query.text,
          outcome: t.Optional(
            t.Union([t.Literal(""), t.Literal("emitted"), t.Literal("skipped")], {
              error: "expected emitted or skipped",
            }),
          ),
          limit: Query.limit,
        },
        { additionalProperties: true },
      ),
      response: { 200: ScheduleTicksView, ...errors(400, 401) },
      detail: {
        security: TOKEN_SECURITY,
        tags: ["flows"],
        summary:
          "The schedule ticks handled (emitted, or skipped and why), newest first, with counts by outcome; by flow, schedule and outcome",
      },
    },
  );
}
