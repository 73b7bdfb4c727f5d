import { createHmac, timingSafeEqual } from "node:crypto";

/** Header names that carry the same HMAC: our client's, the original backend's (seed/http-contract.md) Patchbay's, later Patch dispatchers'. */
export const SIGNATURE_HEADERS = [
  "x-flow-signature-256",
  "x-patchbay-flow-signature-256",
  "x-patch-flow-signature-256",
] as const;

/** `sha256=<hex>` of the HMAC-SHA256 of the exact body bytes. */
export function signBody(secret: string, body: Uint8Array | string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * Whether any of the signature headers carries the body's HMAC. Compared in constant
 * time over equal-length buffers, so the answer leaks nothing about the expected value.
 */
export function verifySignature(secret: string, body: Uint8Array, headers: Headers): boolean {
  const expected = signBody(secret, body);
  return SIGNATURE_HEADERS.some((name) => {
    const given = headers.get(name);
    return !!given && sameSecret(given.trim().toLowerCase(), expected);
  });
}

/** Whether two secrets (a signature, a token) are equal, compared in constant time over equal-length buffers. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
