import { describe, expect, test } from "bun:test";
import { trimPoint } from "../lib/nats/stream-history.ts";
import { type SnapshotManifest, usableSnapshot } from "../lib/read-model/snapshot.ts";
import { seenBefore } from "../services/matcher/seen.ts";

const snap = (seq: number): SnapshotManifest => ({
  v: 1,
  seq,
  at: "2026-12-07T00:00:00.000Z",
  stream: "FLOWS",
  firstSeq: 1,
  file: `read-model-${seq}.sqlite`,
  bytes: 1,
});

describe("usableSnapshot", () => {
  test("given snapshots newest first, then the newest whose tail the stream still holds whole", () => {
    const snapshots = [snap(900), snap(500), snap(100)];
    expect(usableSnapshot(snapshots, 1)?.seq).toBe(900);
    expect(usableSnapshot(snapshots, 901)?.seq).toBe(900);
    expect(usableSnapshot(snapshots, 902)).toBeUndefined();
    expect(usableSnapshot([], 1)).toBeUndefined();
  });
});

describe("trimPoint", () => {
  test("given consumers with nothing left, then one past the snapshot", () => {
    expect(trimPoint(100, [{ name: "matcher", pending: 0, ackPending: 0, ackFloor: 3 }])).toEqual({ upTo: 101 });
  });
  test("given a consumer with work below the snapshot, then no further than its ack floor, naming it", () => {
    const consumers = [
      { name: "matcher", pending: 2, ackPending: 0, ackFloor: 80 },
      { name: "executor-any", pending: 0, ackPending: 1, ackFloor: 40 },
    ];
    expect(trimPoint(100, consumers)).toEqual({ upTo: 41, limitedBy: { consumer: "executor-any", ackFloor: 40 } });
  });
});

describe("seenBefore", () => {
  test("given a tombstone, then any copy is seen", () => {
    expect(seenBefore({ seq: 5, deleted: true }, 900, 0)).toBe(true);
  });
  test("given an event decided at an earlier sequence, then a copy of that generation is seen, a replay (higher generation) is not", () => {
    const prior = { seq: 5, matchedGeneration: 1, deleted: false as const };
    expect(seenBefore(prior, 900, 0)).toBe(true);
    expect(seenBefore(prior, 900, 1)).toBe(true);
    expect(seenBefore(prior, 900, 2)).toBe(false);
  });
  test("given the same message delivered again, or an event not decided yet, then it is not seen (the stream's guard decides)", () => {
    expect(seenBefore({ seq: 900, matchedGeneration: 0, deleted: false }, 900, 0)).toBe(false);
    expect(seenBefore({ seq: 5, matchedGeneration: null, deleted: false }, 900, 0)).toBe(false);
    expect(seenBefore(undefined, 900, 0)).toBe(false);
  });
});
