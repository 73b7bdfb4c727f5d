import type { Static } from "@sinclair/typebox";
import type { RunsTable } from "../../../lib/read-model/database.ts";
import type { ApprovalView } from "./schemas.ts";

/** A run row's approval gate as the API answers it (`approval`), or nothing when it has none. */
export function approvalField(row: Pick<RunsTable, "approval_json">): { approval?: Static<typeof ApprovalView> } {
  return row.approval_json ? { approval: JSON.parse(row.approval_json) as Static<typeof ApprovalView> } : {};
}
