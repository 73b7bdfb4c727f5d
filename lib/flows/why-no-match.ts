import type { StepDecision } from "../protocol/messages.ts";

/** How many steps the answer names besides those that want the event's type (those are always named). */
export const WHY_SHOWN = 5;
/** The most edits (insert, delete, substitute, swap two neighbours) for a type to count as a near miss. */
export const NEAR_MISS_EDITS = 2;

/** The reason of a step whose trigger wants another type (lib/flows/trigger.ts), in the one form `wantedType` reads. */
export function typeDiffers(wants: string, is: string): string {
  return `type differs: step wants "${wants}", event is "${is}"`;
}

/** The type a `typeDiffers` reason says the step wants, or undefined for any other reason. */
export function wantedType(reason: string): string | undefined {
  return /^type differs: step wants "([^"]*)", event is "/.exec(reason)?.[1];
}

/**
 * Edits between two strings, a swap of two neighbours counting as one (optimal string
 * alignment), or `limit + 1` once it is certain to be over `limit`: `github.psuh` is
 * one edit from `github.push`.
 */
export function editDistance(a: string, b: string, limit = NEAR_MISS_EDITS): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, before[j - 2]! + 1);
    }
    if (Math.min(...row) > limit) return limit + 1;
    before = previous;
    previous = row;
  }
  return Math.min(previous[b.length]!, limit + 1);
}

type Ranked = { decision: StepDecision; rank: number; edits: number; wants?: string };

/**
 * Why an event started nothing, in one line: first every step that wants the event's
 * type (its schema errors, never cut), then steps whose type is a near miss (with a
 * "did you mean" when no step wants the type as sent), then what did not load, then
 * the rest up to WHY_SHOWN names, and where the whole decision is. Pure.
 */
export function whyNoMatch(eventId: string, eventType: string, decisions: StepDecision[]): string {
  const detail = `GET /events/${encodeURIComponent(eventId)} lists every step's decision`;
  if (decisions.length === 0) return `no flow has a step (none loaded, or every flow is broken); ${detail}`;
  const ranked: Ranked[] = decisions.map((decision) => {
    const wants = decision.reasons.map(wantedType).find((t) => t !== undefined);
    if (wants === undefined) return { decision, rank: decision.step === "*" ? 2 : 0, edits: 0 };
    const edits = editDistance(wants, eventType);
    return { decision, rank: edits <= NEAR_MISS_EDITS ? 1 : 3, edits, wants };
  });
  ranked.sort((a, b) => a.rank - b.rank || a.edits - b.edits);
  const wanted = ranked.filter((r) => r.rank === 0);
  const shown = [...wanted, ...ranked.filter((r) => r.rank > 0).slice(0, Math.max(0, WHY_SHOWN - wanted.length))];
  const parts = shown.map(({ decision: d }) => `${d.flow}/${d.step}: ${d.reasons.join("; ") || "not matched"}`);
  const more = decisions.length - shown.length;
  const nearTypes = [...new Set(ranked.filter((r) => r.rank === 1).map((r) => r.wants))];
  const hint =
    wanted.length === 0 && nearTypes.length > 0
      ? `; did you mean ${nearTypes
          .slice(0, 3)
          .map((t) => JSON.stringify(t))
          .join(" or ")}?`
      : "";
  return `no step matched: ${parts.join(" | ")}${more > 0 ? ` | ... ${more} more` : ""}${hint}; ${detail}`;
}
