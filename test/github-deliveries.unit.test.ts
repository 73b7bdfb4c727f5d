// cli/github/deliveries.ts: which of a hook's deliveries `flow sources github redeliver` asks for again (issue 24 item 4).
import { describe, expect, test } from "bun:test";
import { type HookDelivery, nextCursor, toRedeliver } from "../cli/github/deliveries.ts";

const d = (id: number, guid: string, deliveredAt: string, statusCode: number): HookDelivery => ({
  id,
  guid,
  delivered_at: deliveredAt,
  redelivery: false,
  status: "",
  status_code: statusCode,
  event: "push",
  action: null,
});
const SINCE = new Date("2026-12-07T10:00:00Z");

describe("toRedeliver", () => {
  test("given a failure a later redelivery delivered, then it is skipped; given two failed attempts, then the newest is redelivered", () => {
    const list = [
      d(4, "b", "2026-12-07T11:30:00Z", 502),
      d(3, "a", "2026-12-07T11:20:00Z", 200),
      d(2, "b", "2026-12-07T11:10:00Z", 0),
      d(1, "a", "2026-12-07T11:00:00Z", 503),
    ];
    expect(toRedeliver(list, SINCE).map((x) => x.id)).toEqual([4]);
  });

  test("given failures before --since, or a 3xx, then only those since are chosen, oldest first, and a 3xx counts as failed", () => {
    const list = [
      d(7, "c", "2026-12-07T11:00:00Z", 301),
      d(6, "e", "2026-12-07T10:30:00Z", 500),
      d(5, "old", "2026-12-07T09:59:59Z", 500),
    ];
    expect(toRedeliver(list, SINCE).map((x) => x.id)).toEqual([6, 7]);
  });
});

describe("nextCursor", () => {
  test("given GitHub's Link header, then the rel=next URL's cursor; on the last page none", () => {
    const link =
      '<https://api.github.com/repositories/1/hooks/2/deliveries?per_page=100&cursor=v1_10450>; rel="next", <https://api.github.com/repositories/1/hooks/2/deliveries?per_page=100>; rel="first"';
    expect(nextCursor(link)).toBe("v1_10450");
    expect(nextCursor('<https://api.github.com/x?per_page=100>; rel="first"')).toBeUndefined();
    expect(nextCursor(null)).toBeUndefined();
  });
});
