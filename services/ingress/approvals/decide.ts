import { t } from "elysia";
import { mayDecide } from "../../../lib/flows/approval.ts";
import type { ApprovalDecision, RunApprovalDecided } from "../../../lib/protocol/messages.ts";
import { MAX_REASON, operatorAction } from "../audit/record.ts";
import { checkScope, identityOf } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { waitForSeq } from "../read-your-writes.ts";
import { currentRun } from "../runs/operate.ts";
import type { RunView } from "../runs/present.ts";

/** The optional body of POST /runs/:id/approve and /reject: `{"comment": "..."}`, kept with the decision and in the audit log. */
export const DecisionBody = t.Object(
  {
    comment: t.Optional(
      t.String({ maxLength: MAX_REASON, description: "Why: kept with the decision and in the audit log (GET /audit)" }),
    ),
  },
  { additionalProperties: false },
);

const PAST: Record<ApprovalDecision, string> = { approve: "approved", reject: "rejected" };

/** How a decided approval reads in a 409: `approved by alice at T (comment)`. */
function decided(approval: NonNullable<RunView["approval"]>): string {
  const who = approval.expired ? "the timeout" : approval.by;
  const why = approval.comment ? `: ${approval.comment}` : "";
  return `${PAST[approval.decision!]} by ${who} at ${approval.decidedAt}${why}`;
}

/**
 * Approves or rejects a run that awaits approval: 404 for an unknown run, 403 for a token
 * outside the run's flow or not among the gate's approvers, 409 when the run does not
 * await approval or its gate was decided already (the first decision is the one: a
 * second, even at the same moment, is a duplicate of its message and is answered 409
 * naming the first). The decision is an audit record too. Answers once the read model
 * shows it; the approver (services/matcher/approver.ts) then releases what the gate held.
 */
export async function decideRun(
  deps: IngressDeps,
  runId: string,
  decision: ApprovalDecision,
  asked: { request: Request; comment?: string },
): Promise<RunView> {
  const run = await currentRun(deps, runId);
  checkScope(asked.request, run.flowName, `run ${runId}`);
  const approval = run.approval;
  if (approval?.decision) throw new HttpError(409, `run ${runId}'s approval was already decided: ${decided(approval)}`);
  if (!approval || run.status !== "awaiting_approval")
    throw new HttpError(409, `run ${runId} is ${run.status}, not awaiting approval`);
  const actor = identityOf(asked.request).name;
  if (!mayDecide(approval, actor))
    throw new HttpError(
      403,
      `token ${JSON.stringify(actor)} may not decide run ${runId}'s approval; its approvers are ${approval.approvers.join(", ")}`,
    );
  const message: RunApprovalDecided = {
    v: 1,
    kind: "run.approval_decided",
    runId,
    attempt: approval.attempt,
    decision,
    by: actor,
    ...(asked.comment ? { comment: asked.comment } : {}),
    decidedAt: new Date().toISOString(),
    expired: false,
  };
  const action = operatorAction(deps, asked.request, {
    action: decision,
    target: { runId, eventId: run.eventId, flow: run.flowName, step: run.stepName },
    summary: `POST /runs/${runId}/${decision}`,
    ...(asked.comment ? { reason: asked.comment } : {}),
  });
  const published = await action.publish(message);
  await waitForSeq(deps.db, published.seq, deps.waitTimeoutMs, deps.changes);
  if (published.duplicate) {
    const now = await currentRun(deps, runId);
    const first = now.approval;
    // The same decision retried by the same token is that decision; anything else came second.
    if (first?.decision !== decision || first.by !== actor)
      throw new HttpError(409, `run ${runId}'s approval was already decided: ${first ? decided(first) : "elsewhere"}`);
    return now;
  }
  const { seq } = await action.record();
  await waitForSeq(deps.db, seq, deps.waitTimeoutMs, deps.changes);
  return await currentRun(deps, runId);
}
