import type { Static, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseJson, readBody } from "./body.ts";
import { HttpError } from "./errors.ts";

/**
 * Reads an optional JSON body raw and checks it against its schema, unknown fields
 * included: Elysia's own body check drops unknown fields, and a misspelt option that is
 * dropped silently (a `stpe` that pauses the whole flow) is worse than a 400 naming it.
 * An empty body is `{}`.
 */
export async function strictBody<T extends TSchema>(request: Request, schema: T, maxBytes: number): Promise<Static<T>> {
  const raw = await readBody(request, maxBytes);
  const body = raw.byteLength === 0 ? {} : parseJson(raw);
  const first = Value.Errors(schema, body).First();
  // A schema's own `error` says what it expects better than the validator's wording.
  const expected =
    typeof first?.schema.error === "string"
      ? `${first.schema.error}, got ${JSON.stringify(first.value)}`
      : first?.message;
  if (first) throw new HttpError(400, `invalid body: ${first.path || "/"}: ${expected}`);
  return body as Static<T>;
}

/** The OpenAPI requestBody of a route that reads its body with `strictBody`. */
export function jsonRequestBody(schema: TSchema, required: boolean) {
  return { required, content: { "application/json": { schema } } };
}
