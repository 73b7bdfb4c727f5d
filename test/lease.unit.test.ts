import { describe, expect, test } from "bun:test";
import { DEFAULT_ACK_WAIT_MS, loadConfig } from "../lib/config.ts";
import { fenceAfterMs, renewEveryMs } from "../lib/nats/lease.ts";

describe("the lease's timing", () => {
  test("given the default lease, then it is 8 s, renewed every second, and a cut-off executor fences after 6 s: 2 s before the lease can pass", () => {
    expect(loadConfig({}).ackWaitMs).toBe(DEFAULT_ACK_WAIT_MS);
    expect(DEFAULT_ACK_WAIT_MS).toBe(8_000);
    expect(renewEveryMs(DEFAULT_ACK_WAIT_MS)).toBe(1_000);
    expect(fenceAfterMs(DEFAULT_ACK_WAIT_MS)).toBe(6_000);
  });

  test("given any allowed lease, then fencing comes at least 500 ms before it runs out, after several renewals could have been answered", () => {
    for (const lease of [1_000, 1_500, 3_000, 8_000, 30_000, 3_600_000]) {
      expect(lease - fenceAfterMs(lease)).toBeGreaterThanOrEqual(500);
      expect(fenceAfterMs(lease) / renewEveryMs(lease)).toBeGreaterThanOrEqual(4);
    }
  });

  test("given CODEX_FLOW_ACK_WAIT_MS, then it sets the lease", () => {
    expect(loadConfig({ CODEX_FLOW_ACK_WAIT_MS: "20000" }).ackWaitMs).toBe(20_000);
  });
});
