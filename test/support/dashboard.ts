import { expect } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import type { Config } from "../../lib/config.ts";
import { CHROMIUM, useBrowser, type WatchedPage } from "./browser.ts";
import { testConfig, type useNatsServer } from "./nats.ts";
import { startTestSystem } from "./system.ts";
import { tempDir } from "./temp.ts";
import { skipWithoutTool } from "./tools.ts";

type Json = any;
/** A running system (the four services in this process) and its API as a test reads it. */
export type DashboardSystem = {
  url: string;
  config: Config;
  post(body: object, wait?: string): Promise<Json>;
  get(path: string): Promise<Json>;
};

/** Whether the browser tests run here: Chromium must be installed. */
export const withoutChromium = skipWithoutTool(
  existsSync(CHROMIUM),
  `Chromium (${CHROMIUM})`,
  "scripts/install-chromium.sh",
);

/** Where screenshots go: CODEX_FLOWS_UI_SHOTS, or a temporary folder. */
export function screenshotFolder(): string {
  const folder = process.env.CODEX_FLOWS_UI_SHOTS ?? tempDir("codex-flows-ui-shots-");
  mkdirSync(folder, { recursive: true });
  return folder;
}

/** Starts ingress, matcher, executor and projector over the flows in `cwd` (stopped with the file's server); `overrides` go into the config, e.g. tokens. */
export async function startDashboardSystem(
  nats: ReturnType<typeof useNatsServer>,
  cwd: string,
  overrides: Partial<Config> = {},
): Promise<DashboardSystem> {
  const config = testConfig({ cwd, waitTimeoutMs: 10_000, ...overrides });
  const system = await startTestSystem(nats, config);
  const url = system.ingressUrl!;
  return {
    url,
    config,
    async post(body, wait = "matched") {
      const response = await fetch(`${url}/events?wait=${wait}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (response.status !== 202)
        throw new Error(`POST /events answered ${response.status}: ${await response.text()}`);
      return await response.json();
    },
    async get(path) {
      const response = await fetch(`${url}${path}`);
      if (!response.ok) throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
      return await response.json();
    },
  };
}

/** A browser for the file, and the steps of a page visit: open and wait for the first data, screenshot, close checking the page's own errors. */
export function useDashboardBrowser(shots: string) {
  const browser = useBrowser();
  return {
    async visit(url: string, path: string, viewport?: { width: number; height: number }): Promise<WatchedPage> {
      const watched = await browser.open(viewport);
      await watched.page.goto(`${url}${path}`);
      await watched.page.waitForSelector("main :is(table, .empty, h1, .error)", { timeout: 15_000 });
      return watched;
    },
    screenshot: (page: Page, name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }),
    async done({ page, errors }: WatchedPage): Promise<void> {
      await page.close();
      expect(errors).toEqual([]);
    },
  };
}

/** Gives `token` in the page's token form (the dashboard asks for one when the API answers 401). */
export async function enterToken(page: Page, token: string): Promise<void> {
  await page.waitForSelector("form.token");
  await page.fill("#token", token);
  await page.click("form.token button");
}

/** Opens `path` at `url` in `browser`, gives `token`, and waits for `ready` (what the page shows once it has its data). */
export async function signIn(
  browser: ReturnType<typeof useBrowser>,
  url: string,
  path: string,
  token: string,
  ready: string,
  viewport?: { width: number; height: number },
): Promise<WatchedPage> {
  const watched = await browser.open(viewport);
  await watched.page.goto(`${url}${path}`);
  await enterToken(watched.page, token);
  await watched.page.waitForSelector(ready, { timeout: 15_000 });
  return watched;
}
