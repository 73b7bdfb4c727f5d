import { type Static, Type as t } from "@sinclair/typebox";
import { Query } from "../schemas.ts";

/** Hits of each kind one answer holds by default, and at most. */
export const SEARCH_LIMIT = { default: 25, max: 100 };
/** Words of `q` used at most (the rest are ignored, and the answer says so). */
export const SEARCH_WORDS = 16;

export const SearchQuery = t.Object(
  {
    q: Query.text,
    type: Query.text,
    flow: Query.text,
    kind: t.Optional(
      t.Union([t.Literal(""), t.Literal("event"), t.Literal("run")], { error: "expected event or run" }),
    ),
    limit: t.Optional(
      t.Union([t.Literal(""), t.String({ pattern: "^([1-9][0-9]?|100)$" })], {
        error: "expected an integer from 1 to 100",
      }),
    ),
  },
  { additionalProperties: true },
);

const Snippet = t.Union(
  [t.Array(t.Object({ text: t.String(), match: t.Boolean({ description: "A word the query asked for" }) })), t.Null()],
  {
    description:
      "Where the words were found: the indexed text around them, in parts; null for a hit by id alone or by filters alone",
  },
);

export const SearchView = t.Object({
  q: t.String(),
  words: t.Array(t.String(), {
    description: `The words of q searched for (at most ${SEARCH_WORDS}; the last also as a prefix), all of which a hit holds`,
  }),
  events: t.Array(
    t.Object({
      id: t.String(),
      type: t.String(),
      source: t.Union([t.String(), t.Null()]),
      acceptedAt: t.String(),
      exact: t.Boolean({ description: "q is this event's id" }),
      snippet: Snippet,
    }),
    { description: "Events: the one whose id is q first, then by relevance (newest first without q)" },
  ),
  runs: t.Array(
    t.Object({
      id: t.String(),
      eventId: t.String(),
      flowName: t.String(),
      stepName: t.String(),
      status: t.String(),
      resultStatus: t.Union([t.String(), t.Null()]),
      createdAt: t.String(),
      exact: t.Boolean({ description: "q is this run's id" }),
      snippet: Snippet,
    }),
    { description: "Runs: the one whose id is q first, then by relevance (newest first without q)" },
  ),
  more: t.Boolean({ description: "More events or runs matched than `limit` of each: narrow the search" }),
});
export type SearchView = Static<typeof SearchView>;
export type SearchFilters = { q: string; type: string; flow: string; kind: "" | "event" | "run"; limit: number };
