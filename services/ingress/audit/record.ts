import { t } from "elysia";
import type { PublishOptions } from "../../../lib/nats/publish.ts";
import { addressOf } from "../../../lib/protocol/address.ts";
import { actionIdOf } from "../../../lib/protocol/ids.ts";
import type { FlowMessage, OperatorActed, OperatorAction } from "../../../lib/protocol/messages.ts";
import { identityOf } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import type { Published } from "../publish.ts";

/** The longest reason an operator may give (in the body's `reason` or `?reason=`). */
export const MAX_REASON = 2000;

/**
 * The longest `?reason=`: a URL carries it, and a request line over the server's limit is
 * refused (431) before any route sees it; 500 characters fit even percent-encoded 4-byte ones.
 */
export const MAX_QUERY_REASON = 500;

/** `?reason=`: why, recorded in the audit log (the body's `reason` wins when both are given). */
export const ReasonQuery = {
  reason: t.Optional(
    t.String({
      maxLength: MAX_QUERY_REASON,
      description: "Why: recorded in the audit log (GET /audit); a longer one goes in the body's reason",
    }),
  ),
};

/** The optional body of an operation that takes nothing else (cancel, retry): `{"reason": "..."}`. */
export const ReasonBody = t.Object(
  {
    reason: t.Optional(t.String({ maxLength: MAX_REASON, description: "Why: recorded in the audit log (GET /audit)" })),
  },
  { additionalProperties: false },
);

/** The reason of a request: the body's, else the query's; 400 when it is not text or too long. */
export function reasonOf(body: unknown, query: string | undefined): string | undefined {
  const given = (body as { reason?: unknown } | undefined)?.reason ?? query;
  if (given === undefined || given === "") return undefined;
  if (typeof given !== "string" || given.length > MAX_REASON)
    throw new HttpError(400, `reason: expected text of at most ${MAX_REASON} characters`);
  return given;
}

type What = { action: OperatorAction; target: OperatorActed["target"]; summary: string; reason?: string };

/**
 * One operator action: its writes go through `publish` (the ingress's one write path),
 * which notes each message's id; `record` then appends the `operator.acted` message
 * naming who (the request's token name, never the token), what and why. Its id is the
 * digest of the actor, the action, its summary and those message ids (lib/protocol/ids.ts), so a
 * retried request whose writes were duplicates leaves one audit record.
 */
export function operatorAction(deps: Pick<IngressDeps, "publish" | "subjects">, request: Request, what: What) {
  const msgIds: string[] = [];
  let first: number | undefined;
  return {
    async publish(message: FlowMessage, options?: PublishOptions): Promise<Published> {
      const published = await deps.publish(message, options);
      msgIds.push(addressOf(deps.subjects, message, options?.after).msgID);
      first = first === undefined ? published.seq : Math.min(first, published.seq);
      return published;
    },
    async record(): Promise<Published> {
      const actor = identityOf(request).name;
      const acted: OperatorActed = {
        v: 1,
        kind: "operator.acted",
        actionId: actionIdOf(actor, what.action, [what.summary, ...[...msgIds].sort()]),
        action: what.action,
        actor,
        at: new Date().toISOString(),
        target: what.target,
        summary: what.summary,
        ...(what.reason !== undefined ? { reason: what.reason } : {}),
        ...(first !== undefined ? { seq: first } : {}),
      };
      return await deps.publish(acted);
    },
  };
}
