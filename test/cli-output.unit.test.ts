import { describe, expect, test } from "bun:test";
import { sinceTime } from "../cli/listings.ts";
import { age, cellText, duration, fitWidths, outputFormat, tableLines } from "../cli/output.ts";

const columns = [
  { header: "ID", cell: (r: { id: string; note: string | null }) => r.id },
  { header: "NOTE", cell: (r: { id: string; note: string | null }) => r.note, flexible: true },
];

describe("a table's cells", () => {
  test("given a multi-line value with controls, then on a terminal it is one line with ↵ and \\xHH; piped, one line with the text as is", () => {
    const value = "first\nsecond\t\u001b[31mred\r\n";
    expect(cellText(value, true)).toBe("first ↵ second\\x09\\x1b[31mred");
    expect(cellText(value, false)).toBe("first ↵ second \u001b[31mred");
    expect(cellText(null, true)).toBe("-");
    expect(cellText("", false)).toBe("-");
  });

  test("given rows, then a header and aligned columns two spaces apart, the last not padded", () => {
    expect(
      tableLines(
        [
          { id: "run-1", note: "ok" },
          { id: "r2", note: null },
        ],
        columns,
        false,
        0,
      ),
    ).toEqual(["ID     NOTE", "run-1  ok", "r2     -"]);
  });

  test("given a row wider than the terminal, then the flexible column gives way first, cut with …; ids stay whole", () => {
    const rows = [{ id: "run-0123456789", note: "a long explanation of what went wrong" }];
    const [, row] = tableLines(rows, columns, true, 30);
    expect(row).toBe("run-0123456789  a long explan…");
    expect(row!.length).toBeLessThanOrEqual(30);
    // Still too wide with the flexible column at its narrowest: the line itself is cut.
    const [, narrow] = tableLines(rows, columns, true, 20);
    expect(narrow).toHaveLength(20);
    expect(narrow).toEndWith("…");
  });

  test("fitWidths narrows only flexible columns, and none below 12", () => {
    expect(fitWidths([10, 40], [false, true], 40)).toEqual([10, 28]);
    expect(fitWidths([10, 40], [false, true], 10)).toEqual([10, 12]);
    expect(fitWidths([50, 40], [false, false], 40)).toEqual([50, 40]);
    expect(fitWidths([10, 40], [false, true], 0)).toEqual([10, 40]);
  });
});

describe("flags and figures", () => {
  test("--json and --format: json, table by default, contradictions and unknown formats refused", () => {
    expect(outputFormat({})).toBe("table");
    expect(outputFormat({ json: true })).toBe("json");
    expect(outputFormat({ format: "json" })).toBe("json");
    expect(() => outputFormat({ json: true, format: "table" })).toThrow("contradict");
    expect(() => outputFormat({ format: "yaml" })).toThrow("--format yaml: expected table or json");
  });

  test("--since takes an ISO time or a duration back from now", () => {
    const now = Date.parse("2026-12-07T12:00:00Z");
    expect(sinceTime("30m", "--since", now)).toBe("2026-12-07T11:30:00.000Z");
    expect(sinceTime("2d", "--since", now)).toBe("2026-12-05T12:00:00.000Z");
    expect(sinceTime("2026-12-01T00:00:00Z", "--since", now)).toBe("2026-12-01T00:00:00Z");
    expect(() => sinceTime("yesterday")).toThrow("--since yesterday: expected an ISO-8601 time");
  });

  test("durations and ages read as people write them", () => {
    expect([340, 4_200, 185_000, 7_800_000].map(duration)).toEqual(["340ms", "4.2s", "3m05s", "2h10m"]);
    const now = Date.parse("2026-12-07T12:00:00Z");
    expect(
      ["2026-12-07T11:59:15Z", "2026-12-07T11:48:00Z", "2026-12-07T09:00:00Z", "2026-12-01T12:00:00Z"].map((t) =>
        age(t, now),
      ),
    ).toEqual(["45s", "12m", "3h", "6d"]);
  });
});
