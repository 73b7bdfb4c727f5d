// lib/flows/step.ts, the helper for writing module-style steps: types from the schemas, checks before the step runs.
import { describe, expect, test } from "bun:test";
import { Type } from "@sinclair/typebox";
import { defineStep, type StepContext } from "../lib/flows/step.ts";

const context = (payload: unknown, config: Record<string, unknown> = { greeting: "hi" }): StepContext => ({
  flow: {
    name: "f",
    version: 1,
    root: "/flows/f",
    step: "s",
    config,
    event: { id: "e", type: "t", receivedAt: "2025-01-01T00:00:00.000Z", payload },
  },
});

const Release = Type.Object({ tag: Type.String(), prerelease: Type.Optional(Type.Boolean()) });
const Config = Type.Object({ greeting: Type.String() });

const release = defineStep({ payload: Release, config: Config }, ({ flow }) => {
  // The payload and config are typed from the schemas; the type checker holds these lines.
  const tag: string = flow.event.payload.tag;
  const greeting: string = flow.config.greeting;
  // @ts-expect-error: the payload schema has no field "missing"
  void flow.event.payload.missing;
  return { status: "completed", message: `${greeting} ${tag}` };
});

describe("defineStep", () => {
  test("given a payload and config that match, when the step runs, then it gets them typed", async () => {
    expect(await release(context({ tag: "v1" }))).toEqual({ status: "completed", message: "hi v1" });
  });

  test("given a payload that does not match, when the step runs, then the result is failed and names the field", async () => {
    expect(await release(context({ tag: 1 }))).toEqual({
      status: "failed",
      message: "payload.tag: expected string (the step's payload schema)",
    });
    expect(await release(context({ tag: "v1" }, {}))).toEqual({
      status: "failed",
      message: "config.greeting: expected required property (the step's config schema)",
    });
  });

  test("given no schemas, the step is returned as written", async () => {
    const plain = defineStep<{ n: number }>(({ flow }) => ({
      status: "completed",
      message: String(flow.event.payload.n),
    }));
    expect(await plain(context({ n: 3 }))).toEqual({ status: "completed", message: "3" });
  });

  test("a TypeBox schema is the JSON Schema the trigger's schema file can hold", () => {
    expect(JSON.parse(JSON.stringify(Release))).toEqual({
      type: "object",
      properties: { tag: { type: "string" }, prerelease: { type: "boolean" } },
      required: ["tag"],
    });
  });
});
