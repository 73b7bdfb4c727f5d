import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../lib/json-depth.ts";
import { HttpError } from "./errors.ts";

/**
 * Reads a request body up to `maxBytes`, refusing a larger one with 413: by its declared
 * length before reading anything, and by its size for a body sent without one (the
 * server's own maxRequestBodySize, set just above, bounds what is buffered).
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new HttpError(413, `request body is larger than ${maxBytes} bytes (CODEX_FLOW_MAX_BODY_BYTES)`);
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  // One read of the whole body: a stream iterated chunk by chunk costs more than the request's other work.
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.byteLength > maxBytes) throw tooLarge();
  return body;
}

/** Parses a JSON body; 400 naming the parser's complaint, or the nesting limit (checked first, in linear time), otherwise. */
export function parseJson(body: Uint8Array): unknown {
  if (body.byteLength === 0) throw new HttpError(400, "request body is empty: expected a FlowEvent as JSON");
  if (nestsDeeperThan(body)) throw new HttpError(400, `request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels, the limit`);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}
