import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../lib/json-depth.ts";
import { HttpError } from "./errors.ts";

/**
 * Reads a request body up to `maxBytes`, refusing a larger one with a JSON 413: by its
 * declared length before reading anything, and for a body sent without one (chunked) by
 * counting as it arrives, so nothing past the limit is buffered. The server's own
 * maxRequestBodySize is set well above (serverBodyLimit), so these answers are ours.
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpError(413, `request body is larger than ${maxBytes} bytes (CODEX_FLOW_MAX_BODY_BYTES)`);
  const length = request.headers.get("content-length");
  if (length !== null) {
    if (Number(length) > maxBytes) throw tooLarge();
    // One read of the whole body: a stream iterated chunk by chunk costs more than the request's other work.
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.byteLength > maxBytes) throw tooLarge();
    return body;
  }
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Bun's own limit, far enough above ours that a body over ours still gets our JSON 413. */
export function serverBodyLimit(maxBytes: number): number {
  return 4 * maxBytes + 1024 * 1024;
}

/** Parses a JSON body; 400 naming the parser's complaint, or the nesting limit (checked first, in linear time), otherwise. */
export function parseJson(body: Uint8Array): unknown {
  if (body.byteLength === 0) throw new HttpError(400, "request body is empty: expected a FlowEvent as JSON");
  if (nestsDeeperThan(body))
    throw new HttpError(400, `request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels, the limit`);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}
