import { describe, expect, test } from "bun:test";
import { HeldConnections } from "../services/ingress/held.ts";

describe("held requests, bounded per client and in total", () => {
  test("given 2 per client and 3 in total, then a client's third is 429, another client's past the total is 503, and a release frees a place once", () => {
    const held = new HeldConnections({ total: 3, perClient: 2 });
    const a1 = held.acquire("10.0.0.1");
    const a2 = held.acquire("10.0.0.1");
    expect([typeof a1, typeof a2]).toEqual(["function", "function"]);
    expect(held.acquire("10.0.0.1")).toMatchObject({ status: 429, retryAfterSeconds: 5 });
    const b1 = held.acquire("10.0.0.2");
    expect(typeof b1).toBe("function");
    expect(held.acquire("10.0.0.3")).toMatchObject({
      status: 503,
      message: expect.stringContaining("CODEX_FLOW_MAX_HELD_CONNECTIONS=3"),
    });
    expect({ total: held.total, clients: held.clients }).toEqual({ total: 3, clients: 2 });
    (a1 as () => void)();
    (a1 as () => void)();
    expect({ total: held.total, clients: held.clients }).toEqual({ total: 2, clients: 2 });
    expect(typeof held.acquire("10.0.0.3")).toBe("function");
    expect(held.acquire("10.0.0.4")).toMatchObject({ status: 503 });
  });

  test("hold throws the refusal as an HTTP answer with Retry-After", () => {
    const held = new HeldConnections({ total: 1, perClient: 1 });
    held.hold("c");
    expect(() => held.hold("c")).toThrow(expect.objectContaining({ status: 429, headers: { "retry-after": "5" } }));
  });
});
