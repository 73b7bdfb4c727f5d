import { Elysia } from "elysia";
import { identityOf, requireToken, TOKEN_SECURITY } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { readAfter } from "../read-your-writes.ts";
import { errors } from "../schemas.ts";
import { listAudit } from "./queries.ts";
import { AuditPage, AuditQuery, WhoAmI } from "./schemas.ts";

/**
 * `GET /audit`: every operator action (who, when, what, why), newest first, with filters
 * and cursor paging. `GET /whoami`: the caller's token name, role and flows, so a client
 * (the dashboard) can leave out what it may not do.
 */
export function auditRoutes(deps: IngressDeps) {
  const guarded = { beforeHandle: requireToken(deps) };
  return new Elysia({ name: "audit" })
    .get(
      "/audit",
      async ({ query }) => {
        await readAfter(deps, query.after);
        return await listAudit(deps.db, query);
      },
      {
        ...guarded,
        query: AuditQuery,
        response: { 200: AuditPage, ...errors(400, 401, 503) },
        detail: {
          security: TOKEN_SECURITY,
          tags: ["audit"],
          summary:
            "The audit log: operator actions newest first, filtered by action (comma-separated), actor, runId, eventId, flow and time, with cursor paging",
        },
      },
    )
    .get(
      "/whoami",
      ({ request }) => {
        const { name, role, flows } = identityOf(request);
        return { name, role, flows: flows ? [...flows] : null };
      },
      {
        ...guarded,
        response: { 200: WhoAmI, ...errors(401) },
        detail: {
          security: TOKEN_SECURITY,
          tags: ["audit"],
          summary: "Who the caller is: its token's name, role (read, operate, admin) and the flows it may act on",
        },
      },
    );
}
