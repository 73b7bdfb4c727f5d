import { afterAll } from "bun:test";
import { existsSync } from "node:fs";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { tempDir } from "./temp.ts";

/** Debian's chromium (scripts/install-chromium.sh installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/** Headless, offline-friendly: no GPU, QUIC, first-run, background traffic, updates or sync. */
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A page with what a person would notice going wrong: console errors and uncaught exceptions. */
export type WatchedPage = { page: Page; errors: string[] };

/**
 * Launches real headless Chromium with a fresh profile for the test file (closed after
 * it). `open` gives a new page whose console errors and page errors are collected.
 */
export function useBrowser(): { open(viewport?: { width: number; height: number }): Promise<WatchedPage> } {
  let context: BrowserContext | undefined;
  afterAll(async () => {
    await context?.close();
  });
  return {
    async open(viewport = { width: 1280, height: 900 }) {
      if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-chromium.sh`);
      context ??= await chromium.launchPersistentContext(tempDir("codex-flows-chromium-"), {
        executablePath: CHROMIUM,
        args: ARGS,
        headless: true,
        timeout: 60_000,
      });
      const page = await context.newPage();
      await page.setViewportSize(viewport);
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
      return { page, errors };
    },
  };
}
