/**
 * The dashboard in real headless Chromium against a running system (real nats-server,
 * the four services in this process): what a person sees, without reloading the page.
 * Screenshots of each page go to a temporary folder (or CODEX_FLOWS_UI_SHOTS).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { startSystem } from "../services/runtime/system.ts";
import { CHROMIUM, useBrowser, type WatchedPage } from "./support/browser.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";
import { skipWithoutTool } from "./support/tools.ts";

// What page functions see, evaluated inside Chromium (the test's own tsconfig has no DOM types).
declare const document: any;
declare const getComputedStyle: any;

const nats = useNatsServer();
const browser = useBrowser();
const skip = skipWithoutTool(existsSync(CHROMIUM), `Chromium (${CHROMIUM})`, "scripts/install-chromium.sh");
const shots = process.env.CODEX_FLOWS_UI_SHOTS ?? tempDir("codex-flows-ui-shots-");
const gate = join(tempDir("codex-flows-gate-"), "release");
const TOKEN = "dashboard-token";

const RELEASE_RESULT = {
  status: "needs_intervention",
  message: "git rebase stopped on a conflict in codex-rs/core/src/lib.rs",
  artifacts: {
    tag: "rust-v0.169.0",
    commands: [
      {
        label: "fetch upstream",
        command: "git fetch upstream --tags --prune",
        cwd: "/srv/codex",
        exitCode: 0,
        output: "From github.com:openai/codex\n * [new tag] rust-v0.169.0",
      },
      {
        label: "rebase onto the tag",
        command: "git rebase rust-v0.169.0",
        cwd: "/srv/codex",
        exitCode: 1,
        output: "CONFLICT (content): Merge conflict in codex-rs/core/src/lib.rs",
      },
    ],
  },
};

function flows(): string {
  const cwd = writeFlows({
    quick: [
      {
        name: "gated",
        type: "ui.quick",
        source: `import { existsSync } from "node:fs";\nfor (let i = 0; i < 600 && !existsSync(${JSON.stringify(gate)}); i++) await Bun.sleep(50);\nconsole.log("FLOW_RESULT " + JSON.stringify({ status: "completed", message: "released" }));`,
      },
    ],
    strict: [
      {
        name: "check",
        type: "ui.strict",
        source: echoStep(),
        schema: {
          type: "object",
          required: ["repo"],
          properties: { repo: { type: "string", description: "owner/name" } },
        },
      },
    ],
    slow: [{ name: "wait", type: "ui.slow", source: 'console.log("started slow");\nawait Bun.sleep(60_000);' }],
    failing: [
      {
        name: "exit",
        type: "ui.fail",
        source: 'console.log("attempt " + process.env.CODEX_FLOW_ATTEMPT);\nprocess.exit(1);',
      },
    ],
    release: [
      {
        name: "rebase",
        type: "ui.release",
        source: `console.log("FLOW_RESULT " + ${JSON.stringify(JSON.stringify(RELEASE_RESULT))});`,
      },
    ],
  });
  mkdirSync(join(cwd, "flows", "broken"), { recursive: true });
  writeFileSync(join(cwd, "flows", "broken", "flow.toml"), 'name = "broken"\nversion = "one"\n');
  return cwd;
}

async function startDashboard(
  token?: string,
): Promise<{ url: string; post(body: object, wait?: string): Promise<any> }> {
  const system = await startSystem(testConfig({ cwd: flows(), token, waitTimeoutMs: 10_000 }), nats.url, [
    "ingress",
    "matcher",
    "executor",
    "projector",
  ]);
  nats.cleanup(() => system.stop());
  const url = system.ingressUrl!;
  return {
    url,
    async post(body, wait = "matched") {
      const headers: Record<string, string> = {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      };
      const response = await fetch(`${url}/events?wait=${wait}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      });
      if (response.status !== 202)
        throw new Error(`POST /events answered ${response.status}: ${await response.text()}`);
      return await response.json();
    },
  };
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Opens a page and waits until its first data is drawn; the page's own errors fail the test at the end. */
async function visit(url: string, path: string, viewport?: { width: number; height: number }): Promise<WatchedPage> {
  const watched = await browser.open(viewport);
  await watched.page.goto(`${url}${path}`);
  await watched.page.waitForSelector("main :is(table, .empty, h1, .error)", { timeout: 15_000 });
  return watched;
}

async function done({ page, errors }: WatchedPage, allowed: RegExp[] = []): Promise<void> {
  await page.close();
  expect(errors.filter((e) => !allowed.some((a) => a.test(e)))).toEqual([]);
}

const row = (runId: string, status?: string) => `tr[data-run="${runId}"]${status ? `[data-status="${status}"]` : ""}`;

describe.skipIf(skip)("the dashboard without a token", () => {
  let sys: Awaited<ReturnType<typeof startDashboard>>;
  beforeAll(async () => {
    sys = await startDashboard();
  });

  test("/ opens the runs page; a run appears and turns completed without a reload", async () => {
    const watched = await visit(sys.url, "/");
    const { page } = watched;
    expect(new URL(page.url()).pathname).toBe("/ui/");
    await page.waitForSelector("body[data-ready=runs]");
    await page.evaluate("window.sameDocument = true");
    const { runIds } = await sys.post({ id: "ui-quick-1", type: "ui.quick", payload: {} });
    await page.waitForSelector(row(runIds[0], "running"), { timeout: 15_000 });
    writeFileSync(gate, "go");
    await page.waitForSelector(row(runIds[0], "completed"), { timeout: 15_000 });
    expect(await page.locator(row(runIds[0])).innerText()).toContain("ui-quick-1");
    expect(await page.evaluate("window.sameDocument")).toBe(true);
    await done(watched);
  });

  test("a needs-attention run stands out; its page shows the message and the commands with exit codes and folded output", async () => {
    const { runs } = await sys.post({ id: "ui-release-1", type: "ui.release", payload: {} }, "true");
    const runId = runs[0].id;
    const watched = await visit(sys.url, "/ui/runs");
    const { page } = watched;
    await page.waitForSelector(row(runId, "needs_intervention"));
    const flagged = page.locator(row(runId));
    expect(await flagged.getAttribute("class")).toContain("attention");
    expect(await flagged.innerText()).toContain("NEEDS ATTENTION");
    const background = (selector: string) =>
      page
        .locator(`${selector} td`)
        .first()
        .evaluate((td) => getComputedStyle(td).backgroundColor as string);
    const plain = await page.locator("tr[data-run]:not(.attention)").first().getAttribute("data-run");
    expect(await background(row(runId))).not.toBe(await background(row(plain!)));
    await screenshot(page, "runs-attention");
    // The filter is in the URL: a shared link shows the same view.
    await page.selectOption("#f-status", "attention");
    await page.click("form.filters button[type=submit]");
    await page.waitForURL(/needsAttention=true/);
    await page.waitForFunction(
      () =>
        document.querySelectorAll("tr[data-run]").length > 0 &&
        [...document.querySelectorAll("tr[data-run]")].every((tr) => tr.classList.contains("attention")),
    );

    await page.click(`${row(runId)} a[href^="/ui/runs/"]`);
    await page.waitForSelector(".attention-banner");
    expect(await page.locator("p.message").innerText()).toBe(RELEASE_RESULT.message);
    const commands = page.locator("ol.commands > li");
    expect(await commands.count()).toBe(2);
    expect(await commands.nth(0).locator(".exit").innerText()).toBe("exit 0");
    expect(await commands.nth(1).locator(".exit").innerText()).toBe("exit 1");
    expect(await commands.nth(1).locator("pre").isVisible()).toBe(false);
    await commands.nth(1).locator("summary").click();
    expect(await commands.nth(1).locator("pre").innerText()).toContain("CONFLICT (content)");
    await screenshot(page, "run");
    await done(watched);
  });

  test("an event its schema refused shows the reason against the payload path", async () => {
    await sys.post({ id: "ui-strict-bad", type: "ui.strict", payload: { repo: 42, tag: "v1" } });
    const watched = await visit(sys.url, "/ui/events");
    const { page } = watched;
    await page.waitForSelector('tr[data-event="ui-strict-bad"]');
    await screenshot(page, "events");
    // The type filter goes into the URL and narrows the list (blank fields stay out of it).
    await page.fill("#f-type", " ui.strict ");
    await page.click("form.filters button[type=submit]");
    await page.waitForURL(/\/ui\/events\?type=ui\.strict$/);
    await page.waitForFunction(() => {
      const types = [...document.querySelectorAll("tr[data-event] td:first-child")].map((td) => td.textContent);
      return types.length > 0 && types.every((type) => type === "ui.strict");
    });
    expect(await page.locator('tr[data-event="ui-strict-bad"]').count()).toBe(1);
    await page.click('tr[data-event="ui-strict-bad"] a');
    await page.waitForSelector('li[data-path="/repo"]');
    expect(await page.locator('li[data-path="/repo"] > .schema-errors').innerText()).toContain(
      "strict/check: must be string",
    );
    expect(await page.locator('tr[data-step="strict/check"]').innerText()).toContain("schema: /repo must be string");
    expect(await page.locator('tr[data-step="strict/check"] .badge').innerText()).toBe("not matched");
    await screenshot(page, "event");
    await done(watched);
  });

  test("cancel stops a running step, showing the API's answer", async () => {
    const { runIds } = await sys.post({ id: "ui-slow-1", type: "ui.slow", payload: {} });
    const watched = await visit(sys.url, `/ui/runs/${runIds[0]}`);
    const { page } = watched;
    await page.waitForFunction(
      () => document.querySelector(".live-output")?.textContent.includes("started slow"),
      undefined,
      { timeout: 15_000 },
    );
    await page.click("button:text('Cancel run')");
    await page.waitForSelector(".answer.ok", { timeout: 15_000 });
    expect(await page.locator(".answer").innerText()).toMatch(/^Cancel: 200, run is canceled/);
    await page.waitForFunction(() => document.querySelector(".facts .badge")?.textContent === "canceled");
    expect(await page.locator("table:has(caption:text('Attempts')) tbody tr").first().innerText()).toContain(
      "canceled by an operator",
    );
    const api = (await (await fetch(`${sys.url}/runs/${runIds[0]}`)).json()) as { run: object };
    expect(api.run).toMatchObject({ status: "canceled" });
    await done(watched);
  });

  test("retry starts attempt 2 of a failed run", async () => {
    const { runs } = await sys.post({ id: "ui-fail-1", type: "ui.fail", payload: {} }, "true");
    const watched = await visit(sys.url, `/ui/runs/${runs[0].id}`);
    const { page } = watched;
    expect(await page.locator("button:text('Cancel run')").isDisabled()).toBe(true);
    await page.click("button:text('Retry run')");
    await page.waitForSelector(".answer.ok", { timeout: 15_000 });
    expect(await page.locator(".answer").innerText()).toMatch(/^Retry: 202/);
    const attempts = page.locator("table:has(caption:text('Attempts')) tbody tr");
    await page.waitForFunction(
      () =>
        document.querySelectorAll("table:has(caption) tbody tr").length >= 2 &&
        document.querySelector(".facts .badge")?.textContent === "failed",
      undefined,
      { timeout: 15_000 },
    );
    expect(await attempts.count()).toBe(2);
    expect(await attempts.nth(1).locator("td").first().innerText()).toBe("2");
    await page.waitForFunction(
      () => document.querySelector(".live-output")?.textContent.includes("attempt 2"),
      undefined,
      { timeout: 15_000 },
    );
    await done(watched);
  });

  test("replay adds a run to the event's page", async () => {
    await sys.post({ id: "ui-strict-ok", type: "ui.strict", payload: { repo: "openai/codex" } }, "true");
    const watched = await visit(sys.url, "/ui/events/ui-strict-ok");
    const { page } = watched;
    expect(await page.locator("tr[data-run]").count()).toBe(1);
    await page.click("button:text('Replay event')");
    await page.waitForSelector(".answer.ok");
    expect(await page.locator(".answer").innerText()).toMatch(/^Replay: 202 accepted, generation 1/);
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run]").length === 2, undefined, {
      timeout: 15_000,
    });
    await done(watched);
  });

  test("flows: triggers, rendered schemas, runners, policies and the load error of a broken flow", async () => {
    const watched = await visit(sys.url, "/ui/flows");
    const { page } = watched;
    const strict = page.locator('article[aria-label="strict / check"]');
    expect(await strict.innerText()).toContain("ui.strict");
    expect((await strict.locator(".schema li").first().innerText()).replace(/\s+/g, " ")).toMatch(
      /^repo required string — owner\/name/,
    );
    expect(await strict.innerText()).toContain("0 retries");
    expect(await page.locator(".problems").innerText()).toContain(join("broken", "flow.toml"));
    await screenshot(page, "flows");
    await done(watched);
  });

  test("flows: pausing a step from its card shows the API's answer and a paused badge; resuming clears it", async () => {
    const watched = await visit(sys.url, "/ui/flows");
    const { page } = watched;
    const card = () => page.locator('article[aria-label="strict / check"]');
    await card().getByRole("button", { name: "Pause" }).click();
    await page.waitForSelector('p.answer.ok:text("step strict/check paused")');
    await card().locator(".badge.s-paused").waitFor();
    const listed = (await (await fetch(`${sys.url}/flows`)).json()) as {
      flows: { name: string; steps: { name: string; paused: boolean }[] }[];
    };
    expect(listed.flows.find((f) => f.name === "strict")!.steps.find((s) => s.name === "check")!.paused).toBe(true);
    await screenshot(page, "flows-paused");
    await card().getByRole("button", { name: "Resume" }).click();
    await page.waitForSelector('p.answer.ok:text("step strict/check resumed")');
    expect(await card().locator(".badge.s-paused").count()).toBe(0);
    await done(watched);
  });

  test("hosts: the executor heard from, its queues and slots, the consumers and the projector's lag", async () => {
    const watched = await visit(sys.url, "/ui/hosts");
    const { page } = watched;
    const host = page.locator("table:has(caption:text('Executors')) tbody tr").first();
    expect(await host.locator("td").first().innerText()).toBe("test-host");
    expect(await host.innerText()).toMatch(/any, test-host/);
    expect(await page.locator("table:has(caption:text('Consumers'))").innerText()).toContain("executor-any");
    expect(await page.locator(".facts").innerText()).toMatch(/lag \d+/);
    await screenshot(page, "hosts");
    await done(watched);
  });

  test("keyboard and phone: a skip link first, runs reachable by Tab, times in the viewer's zone, no sideways page scroll at 390 px", async () => {
    const watched = await visit(sys.url, "/ui/runs", { width: 1280, height: 720 });
    const { page } = watched;
    await page.waitForSelector("tr[data-run]");
    await screenshot(page, "runs");
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await screenshot(page, "runs-phone");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Skip to content");
    let href: string | undefined;
    for (let i = 0; i < 60 && !href?.match(/\/ui\/runs\/run-/); i++) {
      await page.keyboard.press("Tab");
      href = (await page.evaluate("document.activeElement?.getAttribute('href') ?? undefined")) as string | undefined;
    }
    expect(href).toMatch(/^\/ui\/runs\/run-/);
    // A live update (a new run at the top) keeps the keyboard focus where it was.
    const { runIds } = await sys.post({ id: "ui-focus-1", type: "ui.strict", payload: { repo: "a/b" } }, "true");
    await page.waitForSelector(row(runIds[0]));
    expect(await page.evaluate(() => document.activeElement?.getAttribute("href"))).toBe(href);
    await page.keyboard.press("Enter");
    await page.waitForURL(`**${href}`);
    await page.waitForSelector(".facts time");
    const stamp = page.locator(".facts time").first();
    const iso = (await stamp.getAttribute("datetime"))!;
    expect(await stamp.getAttribute("title")).toContain(new Date(iso).toISOString());
    expect(await stamp.innerText()).toBe(
      await page.evaluate(
        `new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" }).format(new Date(${JSON.stringify(iso)}))`,
      ),
    );
    await done(watched);
  });
  test("cursor paging is in the URL: older pages follow on without repeats", async () => {
    const watched = await visit(sys.url, "/ui/runs?limit=2");
    const { page } = watched;
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      await page.waitForSelector("tr[data-run]");
      seen.push(
        ...(await page
          .locator("tr[data-run]")
          .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run") as string))),
      );
      const older = page.locator("a[rel=next]");
      if ((await older.count()) === 0) break;
      const before = page.url();
      await older.click();
      await page.waitForURL((url) => url.href !== before && url.searchParams.has("cursor"));
    }
    const api = (await (await fetch(`${sys.url}/runs?limit=500`)).json()) as { runs: { id: string }[] };
    expect(seen).toEqual(api.runs.map((r) => r.id));
    await done(watched);
  });

  test("a failed read is shown, not swallowed: an unknown run's page says so", async () => {
    const watched = await visit(sys.url, "/ui/runs/run-000000000000000000000000");
    const { page } = watched;
    expect(await page.locator("#page-error[role=alert]").innerText()).toContain(
      'GET /runs/run-000000000000000000000000 failed (404): no run with id "run-000000000000000000000000"',
    );
    await done(watched, [/status of 404/]);
  });
});

describe.skipIf(skip)("the dashboard with a token", () => {
  test("nothing shows before the token is given; then pages and actions work with it, never in a URL", async () => {
    const sys = await startDashboard(TOKEN);
    await sys.post({ id: "ui-secret-event", type: "ui.strict", payload: { repo: "openai/codex" } }, "true");
    const watched = await browser.open();
    const { page } = watched;
    await page.goto(`${sys.url}/ui/runs`);
    await page.waitForSelector("form.token");
    expect(await page.locator("table").count()).toBe(0);
    expect(await page.locator("body").innerText()).not.toContain("ui-secret-event");
    await page.fill("#token", "wrong");
    await page.click("form.token button");
    await page.waitForSelector("form.token [role=alert]");
    await page.fill("#token", TOKEN);
    await page.click("form.token button");
    await page.waitForSelector("tr[data-run]");
    expect(await page.locator("tr[data-run]").innerText()).toContain("ui-secret-event");
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.evaluate("sessionStorage.getItem('codex-flows-token')")).toBe(TOKEN);
    await page.click('a[href="/ui/events/ui-secret-event"]');
    await page.click("button:text('Replay event')");
    await page.waitForSelector(".answer.ok");
    expect(await page.locator(".answer").innerText()).toMatch(/^Replay: 202/);
    await page.waitForFunction(() => document.querySelectorAll("tr[data-run]").length === 2, undefined, {
      timeout: 15_000,
    });
    // The 401s before the token was given are the browser's own log lines, expected here.
    await done(watched, [/status of 401/]);
  });
});
