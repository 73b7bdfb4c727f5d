import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../json-depth.ts";

export const FLOW_RESULT_PREFIX = "FLOW_RESULT ";

/**
 * How a run's error says that some of its `next` events were cut (the chain's depth or
 * fan-out limit, or an invalid event): `next events not started: ...`, `next[2] not
 * started: ...`. Such a run needs attention even when the step completed.
 */
export const NEXT_NOT_STARTED = "not started:";

/** Whether a run's error says that `next` events were cut. */
export function nextWasCut(error: string | null | undefined): boolean {
  return error?.includes(NEXT_NOT_STARTED) === true;
}

/** What a step says about its own outcome (the statuses of the original's FLOW_RESULT, ../shared/seed/flows.md). */
export const FLOW_RESULT_STATUSES = [
  "skipped",
  "completed",
  "changed",
  "needs_intervention",
  "blocked",
  "failed",
] as const;
export const FlowResultStatus = Type.Union(FLOW_RESULT_STATUSES.map((status) => Type.Literal(status)));
export type FlowResultStatus = (typeof FLOW_RESULT_STATUSES)[number];

/** An event a step asks to start; its id may be left out (the executor derives one from the run). */
export const NextEvent = Type.Object(
  {
    id: Type.Optional(Type.String()),
    type: Type.String(),
    source: Type.Optional(Type.String()),
    occurredAt: Type.Optional(Type.String()),
    payload: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

/** The JSON object after `FLOW_RESULT ` on a step's last result line. Extra fields are kept. */
export const FlowResult = Type.Object(
  {
    status: FlowResultStatus,
    message: Type.Optional(Type.String()),
    artifacts: Type.Optional(Type.Unknown()),
    next: Type.Optional(Type.Array(NextEvent)),
    /** Ask a person before the `next` events start (lib/flows/approval.ts): the run waits as awaiting_approval. */
    approval: Type.Optional(
      Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: true }),
    ),
  },
  { additionalProperties: true, $id: "FlowResult" },
);
/** Extra fields a step prints are kept (the schema allows them), so the type does too. */
export type FlowResult = Static<typeof FlowResult> & Record<string, unknown>;

/** The error of a run whose FLOW_RESULT cannot be kept or published whole; never retried (the same result would come back). */
export function resultTooLarge(bytes: number, limit: number): string {
  return `${TOO_LARGE} (${bytes} bytes, limit ${limit})`;
}

const TOO_LARGE = "FLOW_RESULT too large";

/** Whether a run's error says its FLOW_RESULT was too large (see resultTooLarge). */
export function isResultTooLarge(error: string | undefined): boolean {
  return error?.startsWith(TOO_LARGE) === true;
}

export type FlowResultParse = { ok: true; result: FlowResult } | { ok: false; error: string };

/**
 * Finds the last stdout line that begins with `FLOW_RESULT ` and validates the JSON
 * object after it. Earlier result lines are superseded by later ones.
 */
export function parseFlowResult(stdout: string): FlowResultParse {
  let end = stdout.length;
  while (end > 0) {
    const start = stdout.lastIndexOf("\n", end - 1) + 1;
    const line = stdout.slice(start, end).replace(/\r$/, "");
    if (line.startsWith(FLOW_RESULT_PREFIX)) return validateResultLine(line.slice(FLOW_RESULT_PREFIX.length));
    end = start - 1;
  }
  return {
    ok: false,
    error: 'the step printed no FLOW_RESULT line (expected a final line `FLOW_RESULT {"status":...}` on stdout)',
  };
}

function validateResultLine(json: string): FlowResultParse {
  if (nestsDeeperThan(json))
    return { ok: false, error: `FLOW_RESULT nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels, the limit` };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    return { ok: false, error: `FLOW_RESULT is not valid JSON: ${(error as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, error: "FLOW_RESULT must be a JSON object" };
  }
  const first = Value.Errors(FlowResult, value).First();
  if (first) {
    const field = first.path === "" ? "FLOW_RESULT" : `FLOW_RESULT${first.path.replaceAll("/", ".")}`;
    const expected =
      first.path === "/status" ? `expected one of ${FLOW_RESULT_STATUSES.join(", ")}` : first.message.toLowerCase();
    return { ok: false, error: `${field}: ${expected}` };
  }
  return { ok: true, result: value as FlowResult };
}
