import { t } from "elysia";
import { OPERATOR_ACTIONS } from "../../../lib/protocol/messages.ts";
import { ROLES } from "../../../lib/tokens.ts";
import { Query } from "../schemas.ts";

const nullable = (description: string) => t.Union([t.String(), t.Null()], { description });

/** One audit record: an operator's action as the read model holds it. */
export const AuditEntry = t.Object({
  seq: t.Integer({ description: "The stream sequence of the record" }),
  at: t.String({ description: "When the action was taken (ISO-8601)" }),
  actor: t.String({
    description:
      "The token's name (operator: CODEX_FLOW_BACKEND_TOKEN; hmac: a signed request; anonymous: nothing configured)",
  }),
  action: t.String({ description: `One of ${OPERATOR_ACTIONS.join(", ")}` }),
  runId: nullable("The run acted on"),
  eventId: nullable("The event acted on"),
  flow: nullable("The flow acted on"),
  step: nullable("The step acted on"),
  summary: t.String({ description: "What was asked" }),
  reason: nullable("Why, as the request said"),
  actionSeq: t.Union([t.Integer(), t.Null()], {
    description: "The stream sequence of the first message the action wrote",
  }),
});

export const AuditPage = t.Object({ entries: t.Array(AuditEntry), nextCursor: t.Optional(t.String()) });

const actions = OPERATOR_ACTIONS.join("|");
export const AuditQuery = t.Object(
  {
    action: t.Optional(
      t.String({
        pattern: `^(${actions})(,(${actions}))*$`,
        error: `expected comma-separated actions from ${OPERATOR_ACTIONS.join(", ")}`,
        description: "Comma-separated actions",
      }),
    ),
    actor: Query.text,
    runId: Query.text,
    eventId: Query.text,
    flow: Query.text,
    since: Query.time,
    until: Query.time,
    limit: Query.limit,
    cursor: Query.text,
    after: Query.after,
  },
  { additionalProperties: true },
);

/** Who the caller is, as its token says (GET /whoami): the dashboard hides what the role cannot do. */
export const WhoAmI = t.Object({
  name: t.String(),
  role: t.Union([t.Literal("read"), t.Literal("operate"), t.Literal("admin")], {
    description: `One of ${ROLES.join(", ")}`,
  }),
  flows: t.Union([t.Array(t.String()), t.Null()], { description: "The only flows it may act on; null: every flow" }),
});
