import type { NatsConnection } from "@nats-io/nats-core";

/** nats-server's default max_payload, used until the connection knows the server's. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Room kept for a message's headers (the Nats-Msg-Id holds an event id of up to 512
 * characters, up to 2 KiB as UTF-8), which count toward max_payload with the body.
 */
export const HEADER_ALLOWANCE = 4096;

/** The most bytes one message body may have on this connection: the server's max_payload less the header allowance. */
export function bodyLimit(nc: Pick<NatsConnection, "info">): number {
  return (nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADER_ALLOWANCE;
}

/** A body's size as published (UTF-8 bytes). */
export function bodyBytes(body: string): number {
  return Buffer.byteLength(body);
}

/** Why a message cannot be published: it is larger than the server accepts, which retrying never changes. */
export class PayloadTooLarge extends Error {
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `${what} is too large to publish: ${bytes} bytes, over the limit of ${limit} (the NATS server's max_payload less ${HEADER_ALLOWANCE} for headers)`,
    );
  }
}

/** Throws PayloadTooLarge when `body` does not fit under `limit`; returns the body otherwise. */
export function checkFits(what: string, body: string, limit: number): string {
  const bytes = bodyBytes(body);
  if (bytes > limit) throw new PayloadTooLarge(what, bytes, limit);
  return body;
}
