import { describe, expect, test } from "bun:test";
import {
  decodeProgress,
  decodeRecords,
  encodeProgress,
  encodeRecord,
  HEADER_BYTES,
  type SpoolRecord,
} from "../services/ingress/spool/record.ts";

// The spool's file format (issue 24 item 2): length-prefixed records with a CRC-32, read
// back in order; a torn or damaged tail ends the readable part.
const record = (n: number): SpoolRecord => ({
  subject: "flows.events.demo",
  msgID: `event:e-${n}`,
  eventId: `e-${n}`,
  message: {
    v: 1,
    kind: "event.accepted",
    event: { id: `e-${n}`, type: "demo", payload: { n, text: "é ✓" }, receivedAt: "2026-12-07T00:00:00.000Z" },
    acceptedAt: "2026-12-07T00:00:00.000Z",
  },
  spooledAt: 1_700_000_000_000 + n,
});
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.byteLength, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.byteLength) - p.byteLength);
  return out;
};

describe("spool records", () => {
  test("given records appended one after another, when decoded, then each comes back in order with its offsets", () => {
    const bytes = [record(1), record(2), record(3)].map(encodeRecord);
    const { records, validEnd, torn } = decodeRecords(concat(...bytes));
    expect(records.map((r) => r.record)).toEqual([record(1), record(2), record(3)]);
    expect(records.map((r) => [r.offset, r.end])).toEqual([
      [0, bytes[0]!.byteLength],
      [bytes[0]!.byteLength, bytes[0]!.byteLength + bytes[1]!.byteLength],
      [bytes[0]!.byteLength + bytes[1]!.byteLength, validEnd],
    ]);
    expect(torn).toBe(false);
  });

  test("given a last record cut anywhere (a crash mid-write), then the whole ones before it are read and the tail is torn", () => {
    const whole = concat(encodeRecord(record(1)), encodeRecord(record(2)));
    const last = encodeRecord(record(3));
    for (const cut of [1, HEADER_BYTES - 1, HEADER_BYTES, HEADER_BYTES + 5, last.byteLength - 1]) {
      const decoded = decodeRecords(concat(whole, last.subarray(0, cut)));
      expect({
        cut,
        ids: decoded.records.map((r) => r.record.eventId),
        validEnd: decoded.validEnd,
        torn: decoded.torn,
      }).toEqual({ cut, ids: ["e-1", "e-2"], validEnd: whole.byteLength, torn: true });
    }
  });

  test("given a flipped byte in a record's payload, then its checksum stops the reading there", () => {
    const first = encodeRecord(record(1));
    const second = encodeRecord(record(2));
    second[HEADER_BYTES + 3]! ^= 0x01;
    const decoded = decodeRecords(concat(first, second, encodeRecord(record(3))));
    expect(decoded.records.map((r) => r.record.eventId)).toEqual(["e-1"]);
    expect(decoded).toMatchObject({ validEnd: first.byteLength, torn: true });
  });

  test("given a file read from an offset, then offsets are the file's", () => {
    const decoded = decodeRecords(encodeRecord(record(7)), 1000);
    expect(decoded.records[0]!.offset).toBe(1000);
    expect(decoded.validEnd).toBe(decoded.records[0]!.end);
  });

  test("given progress entries appended, then the last whole one counts; none is 0", () => {
    expect(decodeProgress(new Uint8Array())).toBe(0);
    expect(decodeProgress(concat(encodeProgress(120), encodeProgress(4_294_967_296 + 5)))).toBe(4_294_967_296 + 5);
    expect(decodeProgress(concat(encodeProgress(120), encodeProgress(300).subarray(0, 5)))).toBe(120);
  });
});
