import { type Static, Type } from "@sinclair/typebox";
import { Time, V1 } from "./common.ts";

export const PurgeRule = Type.Object({
  flow: Type.Optional(Type.String()),
  except: Type.Optional(Type.Array(Type.String())),
  class: Type.Optional(Type.Union([Type.Literal("attention"), Type.Literal("other")])),
  /** Only runs whose effective status (the step's verdict, else the process status) is one of these. */
  statuses: Type.Optional(Type.Array(Type.String(), { maxItems: 20 })),
  before: Type.Optional(Time),
  keepRuns: Type.Optional(Type.Integer({ minimum: 1 })),
});

/**
 * Delete what is past retention (a tick) or what an operator purges: every projector
 * deletes the same final runs (with their events, attempts, output) at this message's
 * place in the stream, at most `limit` of them; a full round is followed by the next.
 */
export const PurgeRuns = Type.Object({
  v: V1,
  kind: Type.Literal("runs.purge"),
  purgeId: Type.String({ minLength: 1 }),
  round: Type.Integer({ minimum: 1 }),
  /** When it was asked for: deleted ids are tombstoned at this time. */
  at: Time,
  rules: Type.Array(PurgeRule, { maxItems: 10_000 }),
  /** Also events older than this that have no runs (a tick: the defaults' cut). */
  eventsBefore: Type.Optional(Time),
  limit: Type.Integer({ minimum: 1, maximum: 10_000 }),
  /** Tombstones older than this many days before `at` are dropped. */
  tombstoneDays: Type.Integer({ minimum: 1 }),
});

export type PurgeRule = Static<typeof PurgeRule>;
export type PurgeRuns = Static<typeof PurgeRuns>;
