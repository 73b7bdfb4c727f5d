import { HttpError } from "./errors.ts";

/**
 * Reads a request body up to `maxBytes`, refusing larger ones with 413 as soon as the
 * declared length or the bytes read so far pass the limit (nothing more is buffered).
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new HttpError(413, `request body is larger than ${maxBytes} bytes (CODEX_FLOW_MAX_BODY_BYTES)`);
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Parses a JSON body; 400 naming the parser's complaint otherwise. */
export function parseJson(body: Uint8Array): unknown {
  if (body.byteLength === 0) throw new HttpError(400, "request body is empty: expected a FlowEvent as JSON");
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}
