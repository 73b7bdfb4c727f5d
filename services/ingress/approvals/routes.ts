import { Elysia, t } from "elysia";
import type { ApprovalDecision } from "../../../lib/protocol/messages.ts";
import { OPERATOR_SECURITY, requireOperator } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { errors, RunAnswer } from "../schemas.ts";
import { jsonRequestBody, strictBody } from "../strict-body.ts";
import { DecisionBody, decideRun } from "./decide.ts";

const SUMMARIES: Record<ApprovalDecision, string> = {
  approve:
    "Approve a run that awaits approval: a gated step goes to its queue, a held result's next events start (403 when the token is not among the gate's approvers; 409 when the run does not await approval or was decided already)",
  reject:
    "Reject a run that awaits approval: it ends rejected and what its gate held never starts (403 when the token is not among the gate's approvers; 409 when the run does not await approval or was decided already)",
};

/** POST /runs/:id/approve and /runs/:id/reject (docs/approvals.md), from one builder. */
export function approvalRoutes(deps: IngressDeps) {
  return new Elysia({ name: "approvals" }).use(decisionRoute(deps, "approve")).use(decisionRoute(deps, "reject"));
}

function decisionRoute(deps: IngressDeps, decision: ApprovalDecision) {
  return new Elysia({ name: `approvals-${decision}` }).post(
    `/runs/:id/${decision}`,
    async ({ params, request }) => {
      const body = await strictBody(request, DecisionBody, deps.maxBodyBytes);
      return { run: await decideRun(deps, params.id, decision, { request, comment: body.comment || undefined }) };
    },
    {
      beforeHandle: requireOperator(deps),
      parse: "none",
      params: t.Object({ id: t.String() }),
      response: { 200: RunAnswer, ...errors(400, 401, 403, 404, 409, 503, 507) },
      detail: {
        security: OPERATOR_SECURITY,
        tags: ["runs"],
        summary: SUMMARIES[decision],
        requestBody: jsonRequestBody(DecisionBody, false),
      },
    },
  );
}
