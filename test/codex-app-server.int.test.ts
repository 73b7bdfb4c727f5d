// Against the real upstream app-server: `codex` from the npm package @openai/codex,
// pinned as a devDependency (package.json) and installed by `bun install
// --frozen-lockfile` (scripts/setup.sh), not committed. It runs offline: the handshake
// and thread/start need no network, and it refuses the fork-only thread/codeMode/execute.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppServerClient } from "../lib/codex/client.ts";
import { APP_SERVER_ARGS, CODE_MODE_EXECUTE, isUnknownMethod } from "../lib/codex/code-mode.ts";
import { executeStep } from "../lib/runners/index.ts";
import { stepRequest, waitUntilGone } from "./fixtures/request.ts";

const ROOT = join(import.meta.dir, "..");
const CODEX = join(ROOT, "node_modules", ".bin", "codex");
const PINNED = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }
).devDependencies["@openai/codex"];
const WORKDIR = realpathSync(mkdtempSync(join(tmpdir(), "codex-real-")));
afterAll(() => rmSync(WORKDIR, { recursive: true, force: true }));
// Its own CODEX_HOME, so the test neither reads nor writes the user's Codex state.
const ENV = { ...process.env, CODEX_HOME: join(WORKDIR, "codex-home") } as Record<string, string>;
mkdirSync(ENV.CODEX_HOME!);

describe("the real @openai/codex app-server", () => {
  test("is the pinned version", async () => {
    const version = Bun.spawnSync([CODEX, "--version"], { env: ENV });
    expect(version.stdout.toString().trim()).toBe(`codex-cli ${PINNED}`);
  });

  test("answers initialize and thread/start through the typed client, and refuses thread/codeMode/execute", async () => {
    const server = Bun.spawn([CODEX, ...APP_SERVER_ARGS], {
      cwd: WORKDIR,
      env: ENV,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "ignore",
      detached: true,
    });
    const client = new AppServerClient({ stdin: server.stdin, stdout: server.stdout });
    try {
      const init = await client.initialize("codex-flows-test", "0");
      expect(init.userAgent).toStartWith(`codex-flows-test/${PINNED} `);
      const started = await client.request("thread/start", {
        cwd: WORKDIR,
        approvalPolicy: "never",
        sandbox: "danger-full-access",
        ephemeral: false,
      });
      expect(started.thread.id).toMatch(/^[0-9a-f-]{36}$/);
      const refused = await client
        .request(CODE_MODE_EXECUTE, { threadId: started.thread.id, source: "text('hi')" })
        .catch((error: unknown) => error);
      expect(isUnknownMethod(refused, CODE_MODE_EXECUTE)).toBe(true);
      expect(client.problems).toEqual([]);
    } finally {
      process.kill(-server.pid, "SIGKILL");
      await server.exited;
    }
  });

  test("a code-mode step on it is a failed run that says the build lacks the method and names the variable", async () => {
    const request = stepRequest("code-mode-happy.js", {
      runner: "code-mode",
      workingDirectory: WORKDIR,
      env: { CODEX_FLOWS_ENABLE_CODE_MODE: "1", CODEX_APP_SERVER_CODEX_COMMAND: CODEX, CODEX_HOME: ENV.CODEX_HOME },
      timeoutMs: 20_000,
    });
    const outcome = await executeStep(request);
    expect(outcome.status).toBe("failed");
    expect(outcome.error).toStartWith(
      `this Codex build (codex ${PINNED}) lacks thread/codeMode/execute, the fork-only Code Mode method: set CODEX_APP_SERVER_CODEX_COMMAND to a Codex build that has it (now: ${CODEX})`,
    );
    expect(outcome.codexThreadId).toMatch(/^[0-9a-f-]{36}$/); // thread/start succeeded first
    expect(await waitUntilGone(outcome.pid!)).toBe(true);
  });

  test("an app-server that exits at startup is a failed run that shows Codex's own error line", async () => {
    const missing = join(WORKDIR, "no-such-codex-home");
    const request = stepRequest("code-mode-happy.js", {
      runner: "code-mode",
      workingDirectory: WORKDIR,
      env: { CODEX_FLOWS_ENABLE_CODE_MODE: "1", CODEX_APP_SERVER_CODEX_COMMAND: CODEX, CODEX_HOME: missing },
    });
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({
      status: "failed",
      exitCode: 1,
      error: `codex app-server exited with code 1 before the step finished: Error: CODEX_HOME points to "${missing}", but that path does not exist`,
    });
  });
});
