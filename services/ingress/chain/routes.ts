import { Elysia, t } from "elysia";
import { requireToken, TOKEN_SECURITY } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { readAfter } from "../read-your-writes.ts";
import { errors, Query } from "../schemas.ts";
import { eventChain } from "./queries.ts";
import { ChainView } from "./schemas.ts";

/** GET /events/:id/chain: the event, its runs, the events their `next` started and theirs, to any depth (bounded). */
export function chainRoutes(deps: IngressDeps) {
  return new Elysia({ name: "chain" }).get(
    "/events/:id/chain",
    async ({ params, query }) => {
      await readAfter(deps, query.after);
      return await eventChain(deps.db, params.id, new Date());
    },
    {
      beforeHandle: requireToken(deps),
      query: t.Object({ after: Query.after }, { additionalProperties: true }),
      response: { 200: ChainView, ...errors(400, 401, 404, 503) },
      detail: {
        security: TOKEN_SECURITY,
        tags: ["events"],
        summary:
          "An event's chain: its runs with their attempts (host, start, end), the events their FLOW_RESULT `next` started, their runs, and so on to any depth, up to 500 events and runs (then `cut`)",
      },
    },
  );
}
