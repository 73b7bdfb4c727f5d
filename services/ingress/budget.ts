import { Type as t } from "@sinclair/typebox";

/**
 * What one list answer may spend on its items' large fields (results, output tails,
 * payloads): CODEX_FLOW_RESPONSE_BUDGET_BYTES, 4 MiB by default. Items are spent on in
 * the answer's order; one whose large fields do not fit what is left is elided (see
 * Elided) and the next ones are tried, so small items still come whole.
 */
export const DEFAULT_RESPONSE_BUDGET_BYTES = 4 * 1024 * 1024;

/** The marker on an item whose large fields were left out of a list answer, and where to read them whole. */
export const Elided = t.Object(
  {
    fields: t.Array(t.String(), { description: "The fields left out (sent empty or null here)" }),
    bytes: t.Integer({ description: "Their size, about (characters)" }),
    href: t.String({ description: "Where the item is read whole, e.g. /runs/<id>" }),
  },
  {
    description:
      "Present when this list answer's budget (CODEX_FLOW_RESPONSE_BUDGET_BYTES) left the item's large fields out",
  },
);

/** One answer's budget, spent item by item. */
export class ResponseBudget {
  #left: number;

  constructor(bytes: number) {
    this.#left = bytes;
  }

  /** Spends `bytes` when they fit what is left: true. False (nothing spent) when they do not. */
  take(bytes: number): boolean {
    if (bytes > this.#left) return false;
    this.#left -= bytes;
    return true;
  }
}
