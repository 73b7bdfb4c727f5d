import { randomUUID } from "node:crypto";
import { Elysia } from "elysia";
import { logger } from "../../lib/log.ts";

const log = logger("ingress");

/** An error answered with a status and a JSON body `{error, details?}`; thrown by handlers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: string[],
    /** Headers the answer carries (Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/**
 * An error no handler expected: logged once with its stack, the request's method and path
 * (never its headers or body: they may hold secrets) and a new id; the answer is that id.
 */
export function unexpected(
  error: unknown,
  request: Request,
  code?: string | number,
): { error: "internal error"; id: string } {
  const id = randomUUID();
  log.error("request failed", {
    id,
    method: request.method,
    path: new URL(request.url).pathname,
    ...(code === undefined ? {} : { code }),
    error,
  });
  return { error: "internal error", id };
}

/**
 * The one error mapping of the API: every failure is JSON that names what was wrong; an
 * unexpected one answers only the id under which it was logged (`unexpected`).
 */
export const errors = new Elysia({ name: "errors" })
  .error({ HttpError })
  .onError({ as: "global" }, ({ code, error, set, path, request }) => {
    switch (code) {
      case "HttpError":
        set.status = error.status;
        Object.assign(set.headers, error.headers);
        return { error: error.message, ...(error.details ? { details: error.details } : {}) };
      case "NOT_FOUND":
        set.status = 404;
        return { error: `no such endpoint: ${path}` };
      case "VALIDATION": {
        set.status = 400;
        // The schema's own `error` says what is expected (schemas.ts, Query); the first failure names the parameter and value.
        const first = error.valueError;
        const name = first?.path.replace(/^\//, "") ?? "";
        const what =
          typeof error.customError === "string" && first
            ? `${name}=${JSON.stringify(first.value)} is invalid: ${error.customError}`
            : first
              ? `${error.type} ${first.path || "/"}: ${first.message}`
              : error.message;
        return { error: what, details: [what] };
      }
      case "PARSE":
        set.status = 400;
        return { error: "request body is not valid JSON" };
      default:
        set.status = 500;
        return unexpected(error, request, code);
    }
  });
