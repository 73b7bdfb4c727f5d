import { Elysia } from "elysia";
import { requireToken, TOKEN_SECURITY } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { errors } from "../schemas.ts";
import { search } from "./queries.ts";
import { SEARCH_LIMIT, SearchQuery, SearchView } from "./schemas.ts";

/** GET /search?q=&type=&flow=&kind=&limit=: events and runs by id, and by words in their text (SQLite FTS5). */
export function searchRoutes(deps: IngressDeps) {
  return new Elysia({ name: "search" }).get(
    "/search",
    ({ query }) =>
      search(deps.db, {
        q: query.q ?? "",
        type: query.type ?? "",
        flow: query.flow ?? "",
        kind: (query.kind ?? "") as "" | "event" | "run",
        limit: query.limit ? Number(query.limit) : SEARCH_LIMIT.default,
      }),
    {
      beforeHandle: requireToken(deps),
      query: SearchQuery,
      response: { 200: SearchView, ...errors(400, 401) },
      detail: {
        security: TOKEN_SECURITY,
        tags: ["events"],
        summary:
          "Search events and runs: by id (q is an event's or a run's id), and by the words of q in ids, types, flows, steps, payloads, FLOW_RESULTs and errors; narrowed by type, flow and kind (event or run); up to limit (default 25, at most 100) of each",
      },
    },
  );
}
