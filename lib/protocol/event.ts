import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";

/**
 * Event types are dot-separated segments of letters, digits and `_ - : / @ +`
 * (for example `upstream.release`). The type becomes the tail of the event's stream
 * subject (`flows.events.<type>`), so it can never carry NATS wildcards or whitespace.
 */
export const EVENT_TYPE_PATTERN = "^[A-Za-z0-9_:/@+-]+(\\.[A-Za-z0-9_:/@+-]+)*$";
export const EVENT_TYPE_MAX = 200;
/** Event ids are any printable text without control characters (they travel as a NATS header). */
export const EVENT_ID_PATTERN = "^[^\\u0000-\\u001f\\u007f]+$";
export const EVENT_ID_MAX = 512;

const eventFields = {
  id: Type.String({
    minLength: 1,
    maxLength: EVENT_ID_MAX,
    pattern: EVENT_ID_PATTERN,
    description:
      "The caller's idempotency key. POST /events refuses the forms the system generates: schedule:..., codex-flows...., run-<24 hex>/next/<n>.",
  }),
  type: Type.String({
    minLength: 1,
    maxLength: EVENT_TYPE_MAX,
    pattern: EVENT_TYPE_PATTERN,
    description:
      "Dot-separated event type, e.g. upstream.release. POST /events refuses the system's namespace codex-flows.*.",
  }),
  source: Type.Optional(Type.String({ maxLength: 512 })),
  occurredAt: Type.Optional(Type.String({ maxLength: 64 })),
};

/** A FlowEvent as a client sends it: `receivedAt` and `payload` may be missing. */
export const FlowEventInput = Type.Object(
  { ...eventFields, receivedAt: Type.Optional(Type.String({ maxLength: 64 })), payload: Type.Optional(Type.Unknown()) },
  { additionalProperties: true, $id: "FlowEventInput" },
);
export type FlowEventInput = Static<typeof FlowEventInput>;

/** A FlowEvent as every step receives it (seed: flows.md). */
export const FlowEvent = Type.Object(
  { ...eventFields, receivedAt: Type.String(), payload: Type.Unknown() },
  { $id: "FlowEvent" },
);
export type FlowEvent<T = unknown> = Omit<Static<typeof FlowEvent>, "payload"> & { payload: T };

/**
 * The event ids the system generates itself: schedule ticks (`schedule:<flow>:<name>:<tick>`,
 * lib/flows/schedule.ts tickEventId), run events (`codex-flows.run.<status>:<runId>:<attempt>`,
 * services/executor/run-events.ts) and the ids of `next` events a result left without one
 * (`<runId>/next/<n>`, lib/flows/chain.ts). An event's id keys its message id
 * (lib/protocol/ids.ts), its match decision and its runs, so no client may post one of these: a
 * pre-posted id would take the system event's place.
 */
export const SYSTEM_EVENT_ID = /^(schedule:|codex-flows\.|run-[0-9a-f]{24}\/next\/)/;

/** Why a client may not use this event id (it has the form of an id the system generates), or undefined. */
export function reservedEventId(eventId: string): string | undefined {
  if (!SYSTEM_EVENT_ID.test(eventId)) return undefined;
  return `id: ${JSON.stringify(eventId.slice(0, 80))} has the form of an id the system generates (schedule:..., codex-flows.*, <runId>/next/<n>); choose another id`;
}

/** The event type namespace of the system's own events (`codex-flows.run.failed`, ...): no client may post into it. */
export const SYSTEM_TYPE_NAMESPACE = "codex-flows";

/**
 * What a client (a POST to /events, a step's `next`) may not send although the schema
 * allows it: a type in the system's namespace, or an id of the form the system
 * generates (lib/protocol/ids.ts reservedEventId). Each problem names its field.
 */
export function systemFieldProblems(event: { id?: string; type: string }): string[] {
  const problems: string[] = [];
  if (event.id !== undefined) {
    const reserved = reservedEventId(event.id);
    if (reserved) problems.push(reserved);
  }
  if (event.type === SYSTEM_TYPE_NAMESPACE || event.type.startsWith(`${SYSTEM_TYPE_NAMESPACE}.`)) {
    problems.push(
      `type: ${JSON.stringify(event.type.slice(0, 80))} is in the system's namespace (${SYSTEM_TYPE_NAMESPACE}.*); only codex-flows itself emits these events`,
    );
  }
  return problems;
}

export type EventCheck = { ok: true; event: FlowEvent } | { ok: false; errors: string[] };

const inputCheck = TypeCompiler.Compile(FlowEventInput);

/**
 * Validates an incoming FlowEvent and normalises it as the original backend does (seed/flows.md): `receivedAt`
 * defaults to `now`, `payload` to `{}`. Unknown top-level fields are dropped.
 */
export function parseFlowEvent(value: unknown, now: Date): EventCheck {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, errors: ["body: expected a JSON object (a FlowEvent)"] };
  }
  // The compiled check is the hot path; errors are only collected for an event that fails it.
  if (!inputCheck.Check(value)) {
    const errors = [...inputCheck.Errors(value)].filter((error) => !withinCodePoints(error));
    if (errors.length > 0) return { ok: false, errors: firstErrorPerField(errors).map(describeError) };
  }
  const input = value as FlowEventInput;
  const event: FlowEvent = {
    id: input.id,
    type: input.type,
    ...(input.source !== undefined ? { source: input.source } : {}),
    ...(input.occurredAt !== undefined ? { occurredAt: input.occurredAt } : {}),
    receivedAt: input.receivedAt ?? now.toISOString(),
    payload: input.payload === undefined || input.payload === null ? {} : input.payload,
  };
  return { ok: true, event };
}

function describeError(error: SchemaError): string {
  const field = error.path === "" ? "body" : error.path.slice(1).replaceAll("/", ".");
  if (field === "type" && error.message.startsWith("Expected string to match")) {
    return "type: expected dot-separated segments of letters, digits and _ - : / @ + (e.g. upstream.release)";
  }
  if (field === "id" && error.message.startsWith("Expected string to match"))
    return "id: must not contain control characters";
  return `${field}: ${error.message.toLowerCase()}`;
}

type SchemaError = { path: string; message: string };

/**
 * JSON Schema counts a string's length in code points (as the OpenAPI document's readers
 * and the original backend's clients do); TypeBox counts UTF-16 units, so a string of
 * astral characters (emoji, mathematical letters) is twice as long to it. A maxLength that
 * only the UTF-16 count breaks is no error.
 */
function withinCodePoints(error: ValueError): boolean {
  if (error.type !== ValueErrorType.StringMaxLength || typeof error.value !== "string") return false;
  const max = (error.schema as { maxLength?: number }).maxLength;
  return max !== undefined && [...error.value].length <= max;
}

/** TypeBox reports every failed keyword; the first one per field is the one that explains it. */
function firstErrorPerField(errors: SchemaError[]): SchemaError[] {
  const byPath = new Map<string, SchemaError>();
  for (const error of errors) if (!byPath.has(error.path)) byPath.set(error.path, error);
  return [...byPath.values()];
}
