import { createHmac } from "node:crypto";
import { sameSecret } from "../../../lib/signature.ts";
import type { WebhookSource } from "../../../lib/webhooks/source.ts";

/**
 * Whether a delivery carries its source's signature: for `hmac-sha256`, the header is
 * `<prefix><hex HMAC-SHA256 of the exact body>` (GitHub's X-Hub-Signature-256, Gitea's
 * X-Gitea-Signature); for `token`, the header is the secret itself (GitLab's
 * X-Gitlab-Token). Compared in constant time; no header, no secret: false.
 */
export function verifyDelivery(source: WebhookSource, body: Uint8Array, headers: Headers): boolean {
  const given = headers.get(source.signature.header)?.trim();
  if (!given || !source.secret) return false;
  if (source.signature.scheme === "token") return sameSecret(given, source.secret);
  const expected = `${source.signature.prefix}${createHmac("sha256", source.secret).update(body).digest("hex")}`;
  return sameSecret(given.toLowerCase(), expected.toLowerCase());
}
