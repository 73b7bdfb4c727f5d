// The systemd-run executor against stand-ins for `systemd-run` and `systemctl`
// (test/fixtures/bin), because systemd does not run on these machines. The stand-ins
// check their arguments as systemd would and honour its contract (only --setenv
// variables reach the unit, --pipe hands over stdio, killing the client leaves the unit
// running, `systemctl --user stop` ends it). What this proves and what it does not is
// written down in docs/runners.md.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { APP_SERVER_ARGS } from "../lib/codex/code-mode.ts";
import { executeStep, type StepRunRequest } from "../lib/runners/index.ts";
import {
  BIN,
  FAKE_CODEX,
  isRunning,
  type RequestOptions,
  STEPS,
  stepRequest,
  waitUntilGone,
} from "./fixtures/request.ts";
import { stopSuite } from "./support/stops.ts";

const WORKDIR = realpathSync(mkdtempSync(join(tmpdir(), "systemd-int-")));
const STATE = join(WORKDIR, "units");
const LOG = join(WORKDIR, "calls.jsonl");
mkdirSync(STATE);
afterAll(() => rmSync(WORKDIR, { recursive: true, force: true }));
beforeEach(() => writeFileSync(LOG, ""));
let runs = 0;

/** A request run by the systemd-run executor, with the stand-ins first on PATH and a fresh run id. */
function unitRequest(script: string, options: Partial<RequestOptions> = {}): StepRunRequest {
  const { env, ...rest } = options;
  return {
    ...stepRequest(script, { workingDirectory: WORKDIR, ...rest }),
    runId: `run-${++runs}`,
    executor: "systemd-run",
    env: { PATH: `${BIN}:${process.env.PATH}`, SYSTEMD_STANDIN_STATE: STATE, SYSTEMD_STANDIN_LOG: LOG, ...env },
  };
}

const calls = () =>
  readFileSync(LOG, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { tool: string; argv: string[] });

describe("systemd-run executor (stand-in)", () => {
  test("wraps the step in a transient unit named after the run, with stdin, cwd and the step's variables handed over", async () => {
    const request = unitRequest("echo.ts", { env: { EXTRA_VAR: "extra" } });
    const outcome = await executeStep(request);

    expect(outcome.error).toBeUndefined();
    expect(outcome).toMatchObject({ status: "completed", exitCode: 0, unit: `codex-flow-${request.runId}` });
    const result = outcome.result as Record<string, unknown>;
    expect(JSON.parse(result.stdin as string).flow).toMatchObject({
      name: "example-flow",
      step: "do-work",
      event: { id: "evt-1" },
    });
    expect(result.cwd).toBe(WORKDIR);
    expect(result.env).toMatchObject({ eventId: "evt-1", runId: request.runId, attempt: "3", extra: "extra" });

    const [call] = calls();
    expect(call?.tool).toBe("systemd-run");
    const argv = call!.argv;
    expect(argv.slice(0, 8)).toEqual([
      "--user",
      "--collect",
      "--wait",
      "--pipe",
      "--quiet",
      `--unit=codex-flow-${request.runId}`,
      `--working-directory=${WORKDIR}`,
      "--property=TimeoutStopSec=5000ms",
    ]);
    expect(argv.slice(argv.indexOf("--"))).toEqual(["--", process.execPath, join(STEPS, "echo.ts")]);
    expect(argv).toContain(`--setenv=CODEX_FLOW_RUN_ID=${request.runId}`);
    expect(existsSync(join(STATE, `codex-flow-${request.runId}.service`))).toBe(false); // collected
  });

  test("only the forward list and the step's own variables reach the unit", async () => {
    process.env.FORWARD_ME = "yes";
    process.env.KEEP_OUT = "no";
    const names = "FORWARD_ME,KEEP_OUT,HOME,CODEX_FLOW_RUN_ID";
    const listed = await executeStep(
      unitRequest("print-env.ts", { forwardEnv: ["FORWARD_ME"], env: { PRINT_ENV: names } }),
    );
    const fromVariable = await executeStep(
      unitRequest("print-env.ts", { env: { PRINT_ENV: names, CODEX_FLOW_BACKEND_FORWARD_ENV: "KEEP_OUT" } }),
    );
    const byDefault = await executeStep(unitRequest("print-env.ts", { env: { PRINT_ENV: names } }));
    delete process.env.FORWARD_ME;
    delete process.env.KEEP_OUT;

    const env = (outcome: typeof listed) =>
      (outcome.result as { env?: Record<string, string | null> } | undefined)?.env;
    expect(env(listed)).toEqual({
      FORWARD_ME: "yes",
      KEEP_OUT: null,
      HOME: null,
      CODEX_FLOW_RUN_ID: `run-${runs - 2}`,
    });
    expect(env(fromVariable)).toMatchObject({ FORWARD_ME: null, KEEP_OUT: "no", HOME: null });
    expect(env(byDefault)).toMatchObject({ FORWARD_ME: null, KEEP_OUT: null, HOME: process.env.HOME ?? null });
  });

  test("the step's exit code comes back through systemd-run --wait", async () => {
    const outcome = await executeStep(unitRequest("fail-exit.ts"));
    expect(outcome).toMatchObject({
      status: "failed",
      exitCode: 3,
      error: "exited with code 3: boom: disk full",
      result: { status: "failed" },
    });
  });

  test("a timeout stops the unit with systemctl --user stop, grandchildren included", async () => {
    const request = unitRequest("grandchild.ts", { timeoutMs: 500, killGraceMs: 1000 });
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({
      status: "timed_out",
      error: "step timed out after 500 ms",
      unit: `codex-flow-${request.runId}`,
    });
    expect(calls().filter((c) => c.tool === "systemctl")).toEqual([
      { tool: "systemctl", argv: ["--user", "stop", `codex-flow-${request.runId}`] },
    ]);
    const grandchild = Number(/GRANDCHILD (\d+)/.exec(outcome.stdout)?.[1]);
    expect(await waitUntilGone(grandchild)).toBe(true);
    expect(existsSync(join(STATE, `codex-flow-${request.runId}.service`))).toBe(false);
  });

  test("a step that ignores SIGTERM is killed after TimeoutStopSec (the kill grace)", async () => {
    const outcome = await executeStep(unitRequest("trap-term.ts", { timeoutMs: 800, killGraceMs: 300 }));
    expect(outcome.status).toBe("timed_out");
    expect(outcome.stdout).toContain("ignoring SIGTERM");
    expect(outcome.durationMs).toBeLessThan(800 + 300 + 1500);
  });

  test("issue 18: fencing (`kill`) SIGKILLs the unit at once with systemctl --user kill, whatever its TimeoutStopSec", async () => {
    const fence = new AbortController();
    const launched: [number, string | undefined][] = [];
    const request = unitRequest("trap-term.ts", {
      timeoutMs: 60_000,
      killGraceMs: 30_000,
      kill: fence.signal,
      onLaunch: (pid, unit) => launched.push([pid, unit]),
      onOutput: ({ text }) => text.includes("trapped") && fence.abort(),
    });
    const outcome = await executeStep(request);
    // The executor's ledger gets the unit's name, so its guard can end the unit too.
    expect(launched).toEqual([[outcome.pid!, `codex-flow-${request.runId}`]]);
    expect(calls().filter((c) => c.tool === "systemctl")).toEqual([
      { tool: "systemctl", argv: ["--user", "kill", "--signal=SIGKILL", `codex-flow-${request.runId}`] },
    ]);
    expect(outcome.stdout).not.toContain("ignoring SIGTERM");
    expect(outcome.status).toBe("failed");
    expect(outcome.durationMs).toBeLessThan(30_000);
    expect(existsSync(join(STATE, `codex-flow-${request.runId}.service`))).toBe(false);
  });

  test("cancel stops the unit too", async () => {
    const controller = new AbortController();
    const request = unitRequest("sleep.ts", {
      signal: controller.signal,
      onOutput: ({ text }) => text.includes("sleeping") && controller.abort(),
    });
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({ status: "canceled", error: "canceled" });
    expect(calls().some((c) => c.tool === "systemctl" && c.argv[2] === `codex-flow-${request.runId}`)).toBe(true);
  });

  test("a second attempt of a run whose unit still runs is refused, so the two never overlap on a host", async () => {
    const controller = new AbortController();
    const first = unitRequest("sleep.ts", { signal: controller.signal });
    const running = executeStep(first);
    while (!existsSync(join(STATE, `codex-flow-${first.runId}.service`))) await Bun.sleep(10);
    const second = await executeStep({ ...first, attempt: 4, signal: undefined });
    controller.abort();
    expect(second.status).toBe("failed");
    expect(second.error).toContain(`Unit codex-flow-${first.runId}.service was already loaded`);
    expect((await running).status).toBe("canceled");
  });

  test("code-mode steps run their app-server inside the unit", async () => {
    const request = unitRequest("code-mode-happy.js", {
      runner: "code-mode",
      env: { CODEX_FLOWS_ENABLE_CODE_MODE: "1", CODEX_APP_SERVER_CODEX_COMMAND: FAKE_CODEX, CODEX_HOME: WORKDIR },
    });
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({
      status: "completed",
      result: { status: "changed", artifacts: { output: `${WORKDIR}\nrun=${request.runId}` } },
      unit: `codex-flow-${request.runId}`,
    });
    const argv = calls()[0]!.argv;
    expect(argv.slice(argv.indexOf("--"))).toEqual(["--", FAKE_CODEX, ...APP_SERVER_ARGS]);
  });

  test("without systemd-run on PATH the run fails and says so", async () => {
    const outcome = await executeStep(unitRequest("echo.ts", { env: { PATH: "/nonexistent" } }));
    expect(outcome).toMatchObject({
      status: "failed",
      error: "could not start the step: systemd-run not found on PATH (CODEX_FLOW_BACKEND_EXECUTOR=systemd-run)",
    });
  });
});

describe("systemd-run executor (stand-in): runners own stopping", () => {
  stopSuite("systemd-run unit", unitRequest, "trap-term.ts");
});

describe("the systemd-run stand-in honours systemd's contract", () => {
  test("killing the waiting client leaves the unit running; systemctl --user stop ends it", async () => {
    const env = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, SYSTEMD_STANDIN_STATE: STATE };
    const client = Bun.spawn(
      [
        join(BIN, "systemd-run"),
        "--user",
        "--wait",
        "--collect",
        "--pipe",
        "--unit=contract-1",
        `--working-directory=${WORKDIR}`,
        "--",
        "/bin/sleep",
        "30",
      ],
      { env, stdout: "pipe", stderr: "pipe" },
    );
    const state = join(STATE, "contract-1.service");
    while (!existsSync(state)) await Bun.sleep(10);
    const { pid } = JSON.parse(readFileSync(state, "utf8")) as { pid: number };
    client.kill("SIGTERM");
    await client.exited;
    await Bun.sleep(100);
    expect(isRunning(pid)).toBe(true);
    expect(Bun.spawnSync([join(BIN, "systemctl"), "--user", "stop", "contract-1"], { env }).exitCode).toBe(0);
    expect(await waitUntilGone(pid)).toBe(true);
    expect(Bun.spawnSync([join(BIN, "systemctl"), "--user", "stop", "contract-1"], { env }).exitCode).toBe(5); // not loaded
  });

  test("refuses what systemd-run would refuse", () => {
    const env = { ...process.env, SYSTEMD_STANDIN_STATE: STATE };
    const run = (...args: string[]) => Bun.spawnSync([join(BIN, "systemd-run"), ...args], { env });
    const base = ["--user", "--wait", "--collect", "--unit=ok", `--working-directory=${WORKDIR}`];
    expect(run(...base.filter((a) => a !== "--user"), "--", "/bin/true").stderr.toString()).toContain(
      "--user is required",
    );
    expect(run(...base, "--setenv=BAD-NAME=1", "--", "/bin/true").stderr.toString()).toContain(
      "Invalid environment assignment",
    );
    expect(
      run(
        ...base.slice(0, 3),
        "--unit=bad name",
        `--working-directory=${WORKDIR}`,
        "--",
        "/bin/true",
      ).stderr.toString(),
    ).toContain("Invalid unit name");
    expect(run(...base.slice(0, 4), "--working-directory=relative", "--", "/bin/true").stderr.toString()).toContain(
      "must be an absolute path",
    );
    expect(
      run(...base.slice(0, 4), `--working-directory=${join(WORKDIR, "missing")}`, "--", "/bin/true").exitCode,
    ).toBe(200);
    expect(run(...base, "--", "true").stderr.toString()).toContain("must be an absolute path");
    expect(run(...base, "--", "/bin/sh", "-c", "exit 7").exitCode).toBe(7);
  });
});
