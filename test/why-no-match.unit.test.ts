// Issue 18 item 28: "why nothing matched" names the step that wants the type first, then near misses with a hint.
import { describe, expect, test } from "bun:test";
import { editDistance, typeDiffers, WHY_SHOWN, whyNoMatch } from "../lib/flows/why-no-match.ts";
import type { StepDecision } from "../lib/protocol/messages.ts";

const decision = (flow: string, step: string, reasons: string[]): StepDecision => ({
  flow,
  flowVersion: 1,
  step,
  runner: "bun",
  matched: false,
  reasons,
});
const differs = (flow: string, wants: string, is: string) => decision(flow, "go", [typeDiffers(wants, is)]);
/** Nineteen unrelated steps, named so that they sort before the one that matters. */
const unrelated = (is: string) =>
  Array.from({ length: 19 }, (_, i) => differs(`a${String(i).padStart(2, "0")}`, `other.type${i}`, is));

describe("editDistance", () => {
  test("given a swap of neighbours, one edit; an unrelated type is over the limit", () => {
    expect(editDistance("github.psuh", "github.push")).toBe(1);
    expect(editDistance("github.pus", "github.push")).toBe(1);
    expect(editDistance("github.pull_request", "github.push")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });
});

describe("whyNoMatch", () => {
  test("given 19 unrelated steps and one that wants the type but whose schema refused the payload, then its schema errors come first and are never cut", () => {
    const wanted = decision("zz-deploy", "push", [
      "schema: /ref must be string",
      "schema: must have required property 'repository'",
    ]);
    const why = whyNoMatch("ev-1", "github.push", [...unrelated("github.push"), wanted]);
    expect(
      why.startsWith(
        "no step matched: zz-deploy/push: schema: /ref must be string; schema: must have required property 'repository' | ",
      ),
    ).toBe(true);
    expect(why).toContain(`... ${20 - WHY_SHOWN} more`);
    expect(why).not.toContain("did you mean");
    expect(why.endsWith("; GET /events/ev-1 lists every step's decision")).toBe(true);
  });

  test("given a near-miss type (github.psuh), then the step that wants github.push comes first with a did-you-mean", () => {
    const why = whyNoMatch("ev-2", "github.psuh", [
      ...unrelated("github.psuh"),
      differs("zz-deploy", "github.push", "github.psuh"),
    ]);
    expect(why.startsWith(`no step matched: zz-deploy/go: ${typeDiffers("github.push", "github.psuh")} | `)).toBe(true);
    expect(why).toContain('did you mean "github.push"?');
  });

  test("given a flow that did not load, then it is named before the unrelated steps", () => {
    const broken = decision("zz-broken", "*", ["flow zz-broken not loaded: flow.toml: bad"]);
    const why = whyNoMatch("ev-3", "x.y", [...unrelated("x.y"), broken]);
    expect(why.startsWith("no step matched: zz-broken/*: flow zz-broken not loaded")).toBe(true);
  });

  test("given no steps at all, then it says so", () => {
    expect(whyNoMatch("e", "x", [])).toBe(
      "no flow has a step (none loaded, or every flow is broken); GET /events/e lists every step's decision",
    );
  });
});
