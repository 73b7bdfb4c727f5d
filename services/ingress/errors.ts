import { Elysia } from "elysia";

/** An error answered with a status and a JSON body `{error, details?}`; thrown by handlers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: string[],
    /** Headers the answer carries (a 503's Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** The one error mapping of the API: every failure is JSON that names what was wrong. */
export const errors = new Elysia({ name: "errors" }).error({ HttpError }).onError({ as: "global" }, ({ code, error, set, path }) => {
  switch (code) {
    case "HttpError":
      set.status = error.status;
      if (error.headers) Object.assign(set.headers, error.headers);
      return { error: error.message, ...(error.details ? { details: error.details } : {}) };
    case "NOT_FOUND":
      set.status = 404;
      return { error: `no such endpoint: ${path}` };
    case "VALIDATION":
      set.status = 400;
      return { error: "invalid request", details: [error.message] };
    case "PARSE":
      set.status = 400;
      return { error: "request body is not valid JSON" };
    default:
      set.status = 500;
      return { error: `internal error: ${error instanceof Error ? error.message : String(error)}` };
  }
});
