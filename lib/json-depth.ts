/**
 * How deeply JSON from outside (an event body, a FLOW_RESULT line) may nest. Parsing and
 * re-encoding recurse once per level, so a few hundred thousand `[` block the event loop
 * for seconds or overflow the stack; real payloads stay far below this.
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether JSON text nests objects and arrays deeper than `limit`, found in one linear
 * pass without parsing (brackets inside strings do not count). Works on UTF-8 bytes:
 * the structural characters never occur inside a multi-byte sequence.
 */
export function nestsDeeperThan(json: Uint8Array | string, limit = MAX_JSON_DEPTH): boolean {
  const bytes = typeof json === "string" ? Buffer.from(json) : json;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth--;
  }
  return false;
}
