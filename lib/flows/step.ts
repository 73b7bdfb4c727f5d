import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FlowEvent } from "../protocol/event.ts";
import type { FlowResult } from "../protocol/flow-result.ts";

/**
 * What a module-style Bun step's default export is called with: the same object a raw
 * step reads from stdin (seed: flows.md, "Runners").
 */
export type StepContext<TPayload = unknown, TConfig = Record<string, unknown>> = {
  flow: { name: string; version: number; root: string; step: string; config: TConfig; event: FlowEvent<TPayload> };
};

/** A module-style step: the run context in, a FlowResult out. */
export type StepFunction<TPayload = unknown, TConfig = Record<string, unknown>> = (
  context: StepContext<TPayload, TConfig>,
) => FlowResult | Promise<FlowResult>;

/** TypeBox schemas for the event's payload and the flow's `[config]`; each types the step and is checked before it runs. */
export type StepSchemas<P extends TSchema, C extends TSchema> = { payload?: P; config?: C };

/**
 * Declares a module-style Bun step (`export default defineStep(...)`). With schemas,
 * the payload and config are typed from them (`Static<typeof schema>`) and checked
 * before the step runs: a mismatch is a `failed` result naming the field, not an
 * exception halfway through. A TypeBox schema is JSON Schema, so the trigger's
 * `schemas/*.schema.json` can be the same document (`JSON.stringify(schema)`), and the
 * matcher and the step then check one contract.
 */
export function defineStep<TPayload = unknown, TConfig = Record<string, unknown>>(
  run: StepFunction<TPayload, TConfig>,
): StepFunction;
export function defineStep<P extends TSchema = TSchema, C extends TSchema = TSchema>(
  schemas: StepSchemas<P, C>,
  run: StepFunction<TSchema extends P ? unknown : Static<P>, TSchema extends C ? Record<string, unknown> : Static<C>>,
): StepFunction;
export function defineStep(
  first: StepFunction<never, never> | StepSchemas<TSchema, TSchema>,
  second?: StepFunction<never, never>,
): StepFunction {
  if (typeof first === "function") return first as StepFunction;
  const schemas = first;
  const run = second as StepFunction;
  return (context) => {
    const problem =
      mismatch("payload", schemas.payload, context.flow.event.payload) ??
      mismatch("config", schemas.config, context.flow.config);
    return problem === undefined ? run(context) : { status: "failed", message: problem };
  };
}

function mismatch(name: string, schema: TSchema | undefined, value: unknown): string | undefined {
  if (schema === undefined) return undefined;
  const first = Value.Errors(schema, value).First();
  if (!first) return undefined;
  return `${name}${first.path.replaceAll("/", ".")}: ${first.message.toLowerCase()} (the step's ${name} schema)`;
}
