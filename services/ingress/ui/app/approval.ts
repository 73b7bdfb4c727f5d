/** A run's approval on its page: the banner while it waits (reason, expiry, who may decide, Approve / Reject with a comment), the decision after. */
import { post } from "./api.ts";
import { h, time } from "./dom.ts";
import type { RunView } from "./runs-table.ts";

type Approval = NonNullable<RunView["approval"]>;

const HELD = {
  step: "The step has not started: it starts once approved.",
  result: "The run finished; the events its result asked for start once approved.",
};

/** What was decided, in a line: "Approved by alice at …: ship it". */
function decisionLine(approval: Approval): HTMLElement {
  const verb = approval.decision === "approve" ? "Approved" : "Rejected";
  const who = approval.expired ? "the timeout (no decision in time)" : approval.by;
  return h(
    "p",
    { class: `approval-decided ${approval.decision}`, "data-key": "approval-decision" },
    `${verb} by ${who} at `,
    time(approval.decidedAt ?? null),
    approval.comment ? `: ${approval.comment}` : "",
  );
}

/** The Approve / Reject form: a comment, two buttons, the API's answer in `answer`. */
function decideForm(run: RunView, approval: Approval, answer: HTMLElement, refresh: () => void): HTMLElement {
  const actor = document.body.dataset.actor;
  if (approval.approvers.length > 0 && actor && !approval.approvers.includes(actor))
    return h("p", { class: "muted" }, `Only ${approval.approvers.join(", ")} may decide; this token is ${actor}.`);
  const comment = h("textarea", { id: "approval-comment", rows: 2, maxlength: 2000, "aria-label": "Comment" });
  const decide = async (button: HTMLButtonElement, what: "approve" | "reject") => {
    button.disabled = true;
    answer.className = "answer";
    answer.textContent = what === "approve" ? "Approving…" : "Rejecting…";
    try {
      const text = comment.value.trim();
      const { status, body } = await post<{ run?: RunView; error?: string }>(
        `/runs/${encodeURIComponent(run.id)}/${what}`,
        text ? { comment: text } : {},
      );
      const ok = status >= 200 && status < 300 && body.run;
      answer.className = `answer ${ok ? "ok" : "error"}`;
      answer.textContent = ok
        ? `${what === "approve" ? "Approved" : "Rejected"}: run is ${body.run!.status.replace(/_/g, " ")}`
        : `${what === "approve" ? "Approve" : "Reject"}: ${status} ${body.error ?? JSON.stringify(body)}`;
    } catch (error) {
      answer.className = "answer error";
      answer.textContent = error instanceof Error ? error.message : String(error);
    }
    button.disabled = false;
    refresh();
  };
  const approve = h("button", { type: "button", "data-key": "approve" }, "Approve");
  const reject = h("button", { type: "button", class: "danger", "data-key": "reject" }, "Reject");
  approve.addEventListener("click", () => void decide(approve, "approve"));
  reject.addEventListener("click", () => void decide(reject, "reject"));
  return h(
    "div",
    { class: "approval-form", "data-needs": "operate", "data-flow": run.flowName },
    h("label", { for: "approval-comment" }, "Comment (optional, kept with the decision)"),
    comment,
    h("div", { class: "actions" }, approve, reject),
  );
}

/** The approval section of a run page, or null when the run never had a gate. */
export function approvalSection(run: RunView, answer: HTMLElement, refresh: () => void): HTMLElement | null {
  const approval = run.approval;
  if (!approval) return null;
  if (approval.decision)
    return h(
      "section",
      { class: "approval", "aria-labelledby": "approval-h" },
      h("h2", { id: "approval-h" }, "Approval"),
      decisionLine(approval),
    );
  if (run.status !== "awaiting_approval") return null;
  const who = approval.approvers.length ? approval.approvers.join(", ") : "any token with the operate role";
  return h(
    "section",
    { class: "approval approval-banner", role: "region", "aria-labelledby": "approval-h" },
    h("h2", { id: "approval-h" }, "This run awaits approval"),
    approval.reason ? h("p", { class: "message" }, approval.reason) : null,
    h("p", {}, HELD[approval.gate]),
    h(
      "p",
      { class: "muted small" },
      `Who may decide: ${who}. Expires `,
      time(approval.expiresAt),
      ` (then ${approval.onTimeout === "approve" ? "approved" : "rejected"}).`,
    ),
    decideForm(run, approval, answer, refresh),
  );
}
