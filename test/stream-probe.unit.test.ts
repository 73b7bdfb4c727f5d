import { afterEach, expect, setSystemTime, test } from "bun:test";
import { STREAM_PROBE_TTL_MS, streamProbe } from "../services/ingress/system/stream-probe.ts";

afterEach(() => setSystemTime());

/** An `ask` that counts its calls and answers (or fails) when told. */
function asker() {
  const calls: { resolve(seq: number): void; reject(error: Error): void }[] = [];
  const ask = () => new Promise<number>((resolve, reject) => calls.push({ resolve, reject }));
  return { ask, calls };
}

test("given callers at once, then one stream info request answers them all, and its answer is reused for the TTL", async () => {
  setSystemTime(new Date("2026-01-01T00:00:00Z"));
  const { ask, calls } = asker();
  const probe = streamProbe(ask, () => true, "FLOWS", 1_000);
  const answers = [probe.state(), probe.state(), probe.state()];
  expect(calls).toHaveLength(1);
  calls[0]!.resolve(7);
  expect(await Promise.all(answers)).toEqual([
    { lastSeq: 7, error: null },
    { lastSeq: 7, error: null },
    { lastSeq: 7, error: null },
  ]);
  expect(await probe.state()).toEqual({ lastSeq: 7, error: null });
  expect(calls).toHaveLength(1);
  // A caller that needs a newer sequence asks again; so does anyone after the TTL.
  const newer = probe.state(8);
  expect(calls).toHaveLength(2);
  calls[1]!.resolve(9);
  expect(await newer).toEqual({ lastSeq: 9, error: null });
  setSystemTime(new Date(Date.now() + STREAM_PROBE_TTL_MS + 1));
  void probe.state();
  expect(calls).toHaveLength(3);
});

test("given JetStream that does not answer, then the answer is a failure naming the stream and the bound, and the next caller asks again", async () => {
  const { ask, calls } = asker();
  const probe = streamProbe(ask, () => true, "FLOWS", 20);
  expect(await probe.state()).toEqual({
    lastSeq: null,
    error: "JetStream stream info for FLOWS failed: no answer within 20 ms",
  });
  const again = probe.state();
  expect(calls).toHaveLength(2);
  calls[1]!.reject(new Error("stream not found"));
  expect(await again).toEqual({ lastSeq: null, error: "JetStream stream info for FLOWS failed: stream not found" });
});

test("given no connection, then it answers so at once without asking", async () => {
  const { ask, calls } = asker();
  expect(await streamProbe(ask, () => false, "FLOWS").state()).toEqual({
    lastSeq: null,
    error: "not connected to NATS",
  });
  expect(calls).toHaveLength(0);
});
