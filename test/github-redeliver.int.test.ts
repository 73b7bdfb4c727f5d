// Issue 24 item 4: `flow sources github redeliver` against a stand-in that speaks GitHub's
// hook deliveries endpoints (list with cursor paging in the Link header, redelivery
// attempts), since GitHub cannot be reached here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { HookDelivery } from "../cli/github/deliveries.ts";
import { useProcesses } from "./support/processes.ts";

const TOKEN = "ghp_standin0123456789";
const T0 = Date.parse("2026-12-07T12:00:00Z");
const at = (minutesBefore: number) => new Date(T0 - minutesBefore * 60_000).toISOString().replace(".000Z", "Z");
const delivery = (
  id: number,
  guid: string,
  minutesBefore: number,
  status_code: number,
  redelivery = false,
): HookDelivery => ({
  id,
  guid,
  delivered_at: at(minutesBefore),
  redelivery,
  status: status_code === 0 ? "timed out" : status_code < 300 ? "OK" : `Invalid HTTP Response: ${status_code}`,
  status_code,
  event: "push",
  action: null,
});

// Newest first, as GitHub lists them: page 1 holds B and A and 96 fillers, page 2 the rest of the fillers, E (failed, inside
// --since) and C (before --since); page 3, all before --since, must never be asked for.
const DELIVERIES: HookDelivery[] = [
  delivery(1004, "guid-b", 30, 503, true),
  delivery(1003, "guid-b", 40, 503),
  delivery(1002, "guid-a", 50, 200, true),
  delivery(1001, "guid-a", 60, 502),
  ...Array.from({ length: 150 }, (_, i) => delivery(800 - i, `filler-${i}`, 61 + i * 0.3, 202)),
  delivery(950, "guid-e", 110, 0),
  delivery(900, "guid-c", 180, 500),
  ...Array.from({ length: 100 }, (_, i) => delivery(500 - i, `old-${i}`, 240 + i, 500)),
];
const SINCE = at(120);

const cli = useProcesses();
const seen: { method: string; path: string; cursor: string | null }[] = [];
let server: ReturnType<typeof Bun.serve>;
let api: string;

beforeAll(() => {
  server = Bun.serve({
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      seen.push({ method: request.method, path: url.pathname, cursor: url.searchParams.get("cursor") });
      if (request.headers.get("authorization") !== `Bearer ${TOKEN}`)
        return Response.json({ message: "Bad credentials" }, { status: 401 });
      const list = /^\/api\/v3\/repos\/octo-org\/hello-world\/hooks\/12345678\/deliveries$/.test(url.pathname);
      const attempt = /^\/api\/v3\/repos\/octo-org\/hello-world\/hooks\/12345678\/deliveries\/(\d+)\/attempts$/.exec(
        url.pathname,
      );
      if (request.method === "GET" && list) {
        const perPage = Math.min(100, Number(url.searchParams.get("per_page") ?? 30));
        const offset = Number(url.searchParams.get("cursor")?.replace("v1_", "") ?? 0);
        const page = DELIVERIES.slice(offset, offset + perPage);
        const headers: Record<string, string> = {};
        if (offset + perPage < DELIVERIES.length)
          headers.link = `<${url.origin}${url.pathname}?per_page=${perPage}&cursor=v1_${offset + perPage}>; rel="next"`;
        return Response.json(page, { headers });
      }
      if (request.method === "POST" && attempt && DELIVERIES.some((d) => d.id === Number(attempt[1])))
        return Response.json({}, { status: 202 });
      return Response.json(
        { message: "Not Found", documentation_url: "https://docs.github.com/rest" },
        { status: 404 },
      );
    },
  });
  api = `http://127.0.0.1:${server.port}/api/v3`;
});
afterAll(() => server.stop(true));

const redeliver = (args: string[], env: Record<string, string | undefined> = { GH_TOKEN: TOKEN }) =>
  cli.run(
    ["sources", "github", "redeliver", "--repo", "octo-org/hello-world", "--since", SINCE, "--api-url", api, ...args],
    { env: { GH_TOKEN: undefined, GITHUB_TOKEN: undefined, ...env } },
  );
const attempts = () => seen.filter((s) => s.method === "POST").map((s) => Number(s.path.split("/").at(-2)));

describe("flow sources github redeliver", () => {
  test("--dry-run lists the failed deliveries since --since that no later attempt delivered, reading pages until --since, and redelivers nothing", async () => {
    seen.length = 0;
    const result = await redeliver(["--hook", "12345678", "--dry-run"]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toContain(
      "2 failed deliveries since 2026-12-07T10:00:00.000Z with no later success (dry run: nothing redelivered)",
    );
    const would = result.stdout.split("\n").filter((line) => line.startsWith("would redeliver"));
    expect(would).toEqual([
      `would redeliver 950 guid-e push at ${at(110)}: no answer timed out`,
      `would redeliver 1004 guid-b push at ${at(30)}: 503 Invalid HTTP Response: 503`,
    ]);
    expect(attempts()).toEqual([]);
    // Two pages of 100, the second reaching --since; the third (all older) never asked for.
    expect(seen.map((s) => s.cursor)).toEqual([null, "v1_100"]);
  });

  test("without --dry-run, asks GitHub to redeliver each, oldest first, and says what it did", async () => {
    seen.length = 0;
    const result = await redeliver(["--hook", "12345678"]);
    expect(result.code).toBe(0);
    expect(attempts()).toEqual([950, 1004]);
    expect(result.stdout).toContain("redelivery requested for 1004 guid-b");
    expect(result.stdout).toContain("2 redelivery requests taken, 0 refused");
  });

  test("--max-pages bounds the listing and says that older deliveries were not examined", async () => {
    seen.length = 0;
    const result = await redeliver(["--hook", "12345678", "--dry-run", "--max-pages", "1"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("stopped after --max-pages 1 before reaching --since");
    expect(result.stdout).toContain("would redeliver 1004");
    expect(result.stdout).not.toContain("would redeliver 950");
    expect(seen.length).toBe(1);
  });

  test("clear errors: no token (2), a bad token (1), an unknown hook (1), a bad --since (2)", async () => {
    const none = await redeliver(["--hook", "12345678"], {});
    expect({ code: none.code, stderr: none.stderr }).toEqual({
      code: 2,
      stderr: expect.stringContaining("no GitHub token: set GH_TOKEN (or GITHUB_TOKEN)"),
    });
    const bad = await redeliver(["--hook", "12345678"], { GITHUB_TOKEN: "wrong" });
    expect({ code: bad.code, stderr: bad.stderr }).toEqual({
      code: 1,
      stderr: expect.stringContaining("GitHub answered 401"),
    });
    const unknown = await redeliver(["--hook", "999"]);
    expect({ code: unknown.code, stderr: unknown.stderr }).toEqual({
      code: 1,
      stderr: expect.stringContaining("GitHub answered 404 to GET /repos/octo-org/hello-world/hooks/999/deliveries"),
    });
    expect(unknown.stderr).toContain("no such repository or hook");
    const since = await cli.run(
      ["sources", "github", "redeliver", "--repo", "octo-org/hello-world", "--hook", "1", "--since", "yesterday"],
      { env: { GH_TOKEN: TOKEN } },
    );
    expect({ code: since.code, stderr: since.stderr }).toEqual({
      code: 2,
      stderr: expect.stringContaining("--since yesterday: expected a date or an ISO-8601 time"),
    });
  });
});
