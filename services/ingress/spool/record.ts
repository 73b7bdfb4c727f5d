// The spool's file format, pure: records appended one after another, each
//   [u32 BE length of the payload][u32 BE CRC-32 of the payload][payload: UTF-8 JSON]
// A record that is cut short or fails its checksum ends the readable part: after a
// crash it is the half-written last record, which was never answered 202.

import type { FlowMessage } from "../../../lib/protocol/messages.ts";
import type { SavedTrace } from "../../../lib/tracing/tracing.ts";

/**
 * One spooled write: what is published when the spool drains, unchanged (same subject,
 * message and message id), and the trace context it was accepted in (tracing on), which
 * the drain continues. A record written before `trace` existed has none and drains as it did.
 */
export type SpoolRecord = {
  subject: string;
  msgID: string;
  eventId: string;
  message: FlowMessage;
  spooledAt: number;
  trace?: SavedTrace;
};

/** A record as it sits in the file: where it starts and ends. */
export type Located = { record: SpoolRecord; offset: number; end: number };

export const HEADER_BYTES = 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The bytes of one record, ready to append. */
export function encodeRecord(record: SpoolRecord): Uint8Array {
  const payload = encoder.encode(JSON.stringify(record));
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.byteLength);
  view.setUint32(4, Bun.hash.crc32(payload));
  out.set(payload, HEADER_BYTES);
  return out;
}

/**
 * The records in `bytes` (a file's contents from `base` on), in order, up to the first
 * that is incomplete or damaged: `validEnd` is where the readable part ends (a file
 * offset), `torn` whether anything follows it.
 */
export function decodeRecords(bytes: Uint8Array, base = 0): { records: Located[]; validEnd: number; torn: boolean } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Located[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const record = at + HEADER_BYTES <= bytes.byteLength ? recordAt(bytes, view, at) : undefined;
    if (!record) break;
    records.push({ record: record.record, offset: base + at, end: base + record.end });
    at = record.end;
  }
  return { records, validEnd: base + at, torn: at < bytes.byteLength };
}

function recordAt(bytes: Uint8Array, view: DataView, at: number): { record: SpoolRecord; end: number } | undefined {
  const length = view.getUint32(at);
  const end = at + HEADER_BYTES + length;
  if (end > bytes.byteLength) return undefined;
  const payload = bytes.subarray(at + HEADER_BYTES, end);
  if (Bun.hash.crc32(payload) !== view.getUint32(at + 4)) return undefined;
  try {
    const record = JSON.parse(decoder.decode(payload)) as SpoolRecord;
    return isRecord(record) ? { record, end } : undefined;
  } catch {
    // A checksum that matches over bytes that are not our JSON is damage, not a record.
    return undefined;
  }
}

function isRecord(r: SpoolRecord): boolean {
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.subject === "string" &&
    typeof r.msgID === "string" &&
    typeof r.eventId === "string" &&
    typeof r.message === "object" &&
    r.message !== null &&
    typeof r.spooledAt === "number"
  );
}

/** The drain's progress file: one u64 BE file offset per drained record, appended; the last whole one counts. */
export function encodeProgress(offset: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(offset));
  return out;
}

/** The offset the drain reached, from the progress file's bytes (0 when none is whole). */
export function decodeProgress(bytes: Uint8Array): number {
  const whole = Math.floor(bytes.byteLength / 8);
  if (whole === 0) return 0;
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64((whole - 1) * 8));
}
