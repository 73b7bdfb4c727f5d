/** Which match decisions the event page shows first: near misses (lib: services/ingress/events/present.ts). */
import { describe, test } from "bun:test";
import { typeDiffers } from "../lib/flows/why-no-match.ts";
import { isNearMiss } from "../services/ingress/events/present.ts";
import { spec } from "./support/spec.ts";

const decision = (matched: boolean, reasons: string[], runner = "bun") => ({ matched, runner, reasons });
const near = spec((d: ReturnType<typeof decision>, _given: null) => isNearMiss(d)).given(null);

describe("given a step's match decision, when the event page sorts it, then it is a near miss only when the step wanted the type and was refused", () => {
  test("a schema error on a step of this type", () =>
    near.when(decision(false, ["schema: /repo must be string"])).then(true));
  test("a limit refused the run (its command too large)", () =>
    near
      .when(decision(false, ["not started: its run.step command would be 2000000 bytes, over the limit"]))
      .then(true));
  test("a step that matched", () => near.when(decision(true, [])).then(false));
  test("a step of another type", () =>
    near.when(decision(false, [typeDiffers("github.push", "upstream.release")])).then(false));
  test("a flow that did not load", () =>
    near.when(decision(false, ["flow broken not loaded: version must be an integer"], "-")).then(false));
  test("a replay limited to another flow left it out", () =>
    near.when(decision(false, ['not replayed: this replay is limited to flow "other"'])).then(false));
});
