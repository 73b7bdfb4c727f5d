import { describe, expect, test } from "bun:test";
import { ManifestError, parseManifest } from "../lib/flows/manifest.ts";
import { dueTicks, MAX_CATCH_UP, nextTick, tickEvent, tickEventId } from "../lib/flows/schedule.ts";

const at = (iso: string) => new Date(iso);
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe("schedule ticks in a time zone", () => {
  const nightly = { cron: "30 2 * * *", timezone: "Europe/Berlin", catchUp: "latest" as const };

  test("given 02:30 Berlin daily, when the clocks spring forward (29 March 2026), then that night's tick is at the first valid minute and the next night's is at 02:30 CEST", () => {
    // 28 March: CET (UTC+1) -> 01:30Z. 29 March: 02:30 does not exist -> 03:00 CEST = 01:00Z. 30 March: 02:30 CEST = 00:30Z.
    expect(nextTick(nightly, at("2026-03-27T12:00:00Z"))!.toISOString()).toBe("2026-03-28T01:30:00.000Z");
    expect(nextTick(nightly, at("2026-03-28T12:00:00Z"))!.toISOString()).toBe("2026-03-29T01:00:00.000Z");
    expect(nextTick(nightly, at("2026-03-29T12:00:00Z"))!.toISOString()).toBe("2026-03-30T00:30:00.000Z");
  });

  test("given 03:00 Berlin daily, when the clocks fall back (25 October 2026), then it ticks once that night, an hour later in UTC than the night before", () => {
    const three = { cron: "0 3 * * *", timezone: "Europe/Berlin", catchUp: "all" as const };
    const due = dueTicks(three, at("2026-10-23T12:00:00Z"), at("2026-10-23T12:00:00Z"), at("2026-10-26T12:00:00Z"));
    expect(iso(due.emit)).toEqual(["2026-10-24T01:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-26T02:00:00.000Z"]);
    expect(due.skip).toEqual([]);
  });

  test("given a schedule never ticked, when a scheduler first sees it, then nothing from before that is due", () => {
    const due = dueTicks(nightly, undefined, at("2026-06-01T12:00:00Z"), at("2026-06-01T12:00:05Z"));
    expect(due).toEqual({ emit: [], skip: [] });
    const later = dueTicks(nightly, undefined, at("2026-06-01T12:00:00Z"), at("2026-06-02T01:00:00Z"));
    expect(iso(later.emit)).toEqual(["2026-06-02T00:30:00.000Z"]);
  });
});

// A scheduler that starts after everything was down first sees its schedules now.
describe("missed ticks (everything was down)", () => {
  const hourly = { cron: "0 * * * *", timezone: "UTC" };
  const last = at("2026-06-01T00:00:00Z");
  const now = at("2026-06-01T03:10:00Z");

  test("catch_up = latest emits the newest missed tick and records the others as skipped", () => {
    const due = dueTicks({ ...hourly, catchUp: "latest" }, last, now, now);
    expect(iso(due.emit)).toEqual(["2026-06-01T03:00:00.000Z"]);
    expect(due.skip.map((s) => s.tick.toISOString())).toEqual(["2026-06-01T01:00:00.000Z", "2026-06-01T02:00:00.000Z"]);
    expect(due.skip[0]!.reason).toContain("catch_up = latest");
  });

  test("catch_up = none emits nothing and records every missed tick as skipped", () => {
    const due = dueTicks({ ...hourly, catchUp: "none" }, last, now, now);
    expect(due.emit).toEqual([]);
    expect(due.skip).toHaveLength(3);
  });

  test("catch_up = all emits every missed tick, but at most MAX_CATCH_UP (the newest)", () => {
    expect(iso(dueTicks({ ...hourly, catchUp: "all" }, last, now, now).emit)).toHaveLength(3);
    const minutely = { cron: "* * * * *", timezone: "UTC", catchUp: "all" as const };
    const due = dueTicks(minutely, last, at("2026-06-03T00:00:00Z"), at("2026-06-03T00:00:00Z"));
    expect(due.emit).toHaveLength(MAX_CATCH_UP);
    expect(due.emit.at(-1)!.toISOString()).toBe("2026-06-03T00:00:00.000Z");
  });

  test("a tick that is exactly now is due; one a millisecond later is not", () => {
    expect(
      iso(
        dueTicks({ ...hourly, catchUp: "latest" }, last, at("2026-06-01T01:00:00Z"), at("2026-06-01T01:00:00Z")).emit,
      ),
    ).toEqual(["2026-06-01T01:00:00.000Z"]);
    expect(
      dueTicks({ ...hourly, catchUp: "latest" }, last, at("2026-06-01T00:59:59.999Z"), at("2026-06-01T00:59:59.999Z"))
        .emit,
    ).toEqual([]);
  });
});

describe("a live scheduler whose pass is late (issue 18, item 10)", () => {
  const everyTen = { cron: "*/10 * * * * *", timezone: "UTC" };
  const watching = at("2026-06-01T00:00:00Z");
  const last = at("2026-06-01T00:00:10Z");

  test("given a scheduler watching since before the ticks, when its pass comes 35 s late, then it emits every tick it owes and records none as missed", () => {
    for (const catchUp of ["latest", "none", "all"] as const) {
      const due = dueTicks({ ...everyTen, catchUp }, last, watching, at("2026-06-01T00:00:45Z"));
      expect(iso(due.emit)).toEqual([
        "2026-06-01T00:00:20.000Z",
        "2026-06-01T00:00:30.000Z",
        "2026-06-01T00:00:40.000Z",
      ]);
      expect(due.skip).toEqual([]);
    }
  });

  test("given ticks missed before the scheduler started and ticks after, when its pass is late, then catch_up decides only the ones before it started", () => {
    const started = at("2026-06-01T00:00:35Z");
    const due = dueTicks({ ...everyTen, catchUp: "latest" }, last, started, at("2026-06-01T00:00:55Z"));
    expect(iso(due.emit)).toEqual(["2026-06-01T00:00:30.000Z", "2026-06-01T00:00:40.000Z", "2026-06-01T00:00:50.000Z"]);
    expect(due.skip.map((s) => [s.tick.toISOString(), s.reason])).toEqual([
      ["2026-06-01T00:00:20.000Z", "missed while no scheduler ran (catch_up = latest)"],
    ]);
    const none = dueTicks({ ...everyTen, catchUp: "none" }, last, started, at("2026-06-01T00:00:55Z"));
    expect(iso(none.emit)).toEqual(["2026-06-01T00:00:40.000Z", "2026-06-01T00:00:50.000Z"]);
    expect(none.skip.map((s) => s.tick.toISOString())).toEqual([
      "2026-06-01T00:00:20.000Z",
      "2026-06-01T00:00:30.000Z",
    ]);
  });
});

describe("ticks beyond the newest MAX_CATCH_UP (issue 18, item 25)", () => {
  const minutely = { cron: "* * * * *", timezone: "UTC" };
  const last = at("2026-06-01T00:00:00Z");
  const now = at("2026-06-01T03:00:00Z"); // 180 ticks since the last one

  test("given 180 missed ticks and catch_up = all, then the newest 100 are emitted and the 80 older ones are recorded as one skipped tick that says how many and since when", () => {
    const due = dueTicks({ ...minutely, catchUp: "all" }, last, now, now);
    expect(due.emit).toHaveLength(MAX_CATCH_UP);
    expect(due.emit[0]!.toISOString()).toBe("2026-06-01T01:21:00.000Z");
    expect(due.skip.map((s) => [s.tick.toISOString(), s.reason])).toEqual([
      [
        "2026-06-01T01:20:00.000Z",
        `missed while no scheduler ran: 80 ticks from 2026-06-01T00:01:00.000Z up to this one are not emitted (at most the newest ${MAX_CATCH_UP} are caught up)`,
      ],
    ]);
  });

  test("given 180 missed ticks and catch_up = latest, then the summary comes first, then the 99 skipped one by one, and the newest is emitted", () => {
    const due = dueTicks({ ...minutely, catchUp: "latest" }, last, now, now);
    expect(iso(due.emit)).toEqual(["2026-06-01T03:00:00.000Z"]);
    expect(due.skip).toHaveLength(1 + 99);
    expect(due.skip[0]!.reason).toStartWith("missed while no scheduler ran: 80 ticks from 2026-06-01T00:01:00.000Z");
    const ticks = due.skip.map((s) => s.tick.getTime());
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
  });

  test("given a year of missed minutely ticks, then the work is bounded and the summary says more than it counted", () => {
    const due = dueTicks({ ...minutely, catchUp: "all" }, last, at("2027-06-01T00:00:00Z"), at("2027-06-01T00:00:00Z"));
    expect(due.emit).toHaveLength(MAX_CATCH_UP);
    expect(due.emit.at(-1)!.toISOString()).toBe("2027-06-01T00:00:00.000Z");
    expect(due.skip.map((s) => s.tick.toISOString())).toEqual(["2027-05-31T22:20:00.000Z"]);
    expect(due.skip[0]!.reason).toStartWith(
      `missed while no scheduler ran: more than ${10 * MAX_CATCH_UP} ticks from 2026-06-01T00:01:00.000Z up to this one`,
    );
  });

  test("given a live scheduler 150 ticks late, then it emits the newest 100 it owes and records the older ones as owed by a late pass", () => {
    const due = dueTicks({ ...minutely, catchUp: "latest" }, last, last, at("2026-06-01T02:30:00Z"));
    expect(due.emit).toHaveLength(MAX_CATCH_UP);
    expect(due.skip.map((s) => s.reason)).toEqual([
      `owed by a late scheduler pass: 50 ticks from 2026-06-01T00:01:00.000Z up to this one are not emitted (at most the newest ${MAX_CATCH_UP} are caught up)`,
    ]);
  });
});

describe("tick events and [[schedules]] in flow.toml", () => {
  const toml = (schedule: string) =>
    `name = "nightly-flow"\n[[steps]]\nname = "s"\nrunner = "bun"\nscript = "s.ts"\n[steps.trigger]\ntype = "nightly.cleanup"\n\n[[schedules]]\n${schedule}\n`;

  test("a tick's event id is schedule:<flow>:<name>:<tick time>, the same on every host", () => {
    const schedule = parseManifest(
      toml(
        `name = "nightly"\ncron = "0 3 * * *"\ntimezone = "Europe/Berlin"\nevent = { type = "nightly.cleanup", payload = { keep = 3 } }`,
      ),
      "/f/flow.toml",
    ).schedules![0]!;
    expect(schedule).toEqual({
      name: "nightly",
      cron: "0 3 * * *",
      timezone: "Europe/Berlin",
      event: { type: "nightly.cleanup", payload: { keep: 3 } },
      catchUp: "latest",
      overlap: "skip",
    });
    const tick = at("2026-06-01T01:00:00Z");
    expect(tickEventId("nightly-flow", "nightly", tick)).toBe("schedule:nightly-flow:nightly:2026-06-01T01:00:00.000Z");
    expect(tickEvent("nightly-flow", schedule, tick, at("2026-06-01T01:00:00.200Z"))).toMatchObject({
      type: "nightly.cleanup",
      payload: { keep: 3 },
      occurredAt: "2026-06-01T01:00:00.000Z",
    });
  });

  test.each([
    [`name = "n"\ncron = "0 3 * *"\nevent = { type = "a.b" }`, "schedules[0].cron", "not a cron expression"],
    [
      `name = "n"\ncron = "0 3 * * *"\ntimezone = "Mars/Base"\nevent = { type = "a.b" }`,
      "schedules[0].timezone",
      "IANA time zone",
    ],
    [
      `name = "n"\ncron = "0 3 * * *"\nevent = { type = "a.b" }\ncatch_up = "some"`,
      "schedules[0].catch_up",
      `"latest", "none" or "all"`,
    ],
    [`name = "n"\ncron = "0 3 * * *"\nevent = { type = "a b" }`, "schedules[0].event.type", "dot-separated"],
    [
      `name = "n"\ncron = "0 3 * * *"\nevent = { type = "a.b" }\noverlap = "yes"`,
      "schedules[0].overlap",
      `"skip" or "allow"`,
    ],
  ])("a bad schedule is refused naming the field: %#", (schedule, field, message) => {
    let error: unknown;
    try {
      parseManifest(toml(schedule), "/f/flow.toml");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).field).toBe(field);
    expect((error as ManifestError).message).toContain(message);
  });
});
