import { Elysia, t } from "elysia";
import { readCheckpoint } from "../../../lib/read-model/database.ts";
import { requireToken } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { clientOf } from "../held.ts";
import { errors, Query } from "../schemas.ts";
import { Changed, HostsView } from "./schemas.ts";

/** How long GET /changes holds a request open when nothing changes. */
export const CHANGES_HOLD_MS = 25_000;

/**
 * GET /hosts: executors heard from, the stream's consumers with their backlogs, and the
 * projector's lag. GET /changes?after=SEQ: a long poll that answers as soon as the read
 * model applied a sequence other than SEQ (or after CHANGES_HOLD_MS with the same one),
 * so a page can refresh only when something changed; without `after` it answers at once.
 */
export function systemRoutes(deps: IngressDeps) {
  const guarded = { beforeHandle: requireToken(deps) };
  return new Elysia({ name: "system" })
    .get(
      "/hosts",
      async () => {
        const health = await deps.health();
        let queues: HostsView["queues"] = [];
        let queuesError: string | null = null;
        try {
          // Only durables: ephemeral consumers (ordered ones, the nats CLI's pager) come and go.
          queues = (await deps.system?.consumers()) ?? [];
        } catch (error) {
          queuesError = `cannot list the stream's consumers: ${(error as Error).message}`;
        }
        const hosts = (deps.system?.hosts() ?? [])
          .map((h) => ({ ...h, labels: h.labels ?? [] }))
          .sort((a, b) => (a.host < b.host ? -1 : 1));
        return { hosts, queues, queuesError, projector: health.projector, nats: health.nats };
      },
      {
        ...guarded,
        response: { 200: HostsView, ...errors(401) },
        detail: {
          tags: ["system"],
          summary: "Executors heard from (host, labels, queues, slots), consumers' backlogs and the projector's lag",
        },
      },
    )
    .get(
      "/changes",
      async ({ query, request, server }) => {
        const raw = query.after;
        if (raw === undefined || raw === "") return { seq: await readCheckpoint(deps.db) };
        if (!/^\d+$/.test(raw))
          throw new HttpError(
            400,
            `after=${JSON.stringify(raw)} is invalid: expected a stream sequence (the seq a previous answer gave)`,
          );
        const after = Number(raw);
        const deadline = Date.now() + CHANGES_HOLD_MS;
        const release = deps.held.hold(clientOf(server, request));
        try {
          for (;;) {
            const seq = await readCheckpoint(deps.db);
            const left = deadline - Date.now();
            if (seq !== after || left <= 0 || request.signal.aborted || deps.closing?.aborted) return { seq };
            await deps.changes.next(Math.min(left, 1_000));
          }
        } finally {
          release();
        }
      },
      {
        ...guarded,
        query: t.Object({ after: Query.after }, { additionalProperties: true }),
        response: { 200: Changed, ...errors(400, 401, 429, 503) },
        detail: {
          tags: ["system"],
          summary:
            "Long poll: answers {seq} once the read model applied a sequence other than ?after= (or after 25 s); at once without ?after=",
        },
      },
    );
}
