// Module-style Bun steps: a script whose default export takes the run context and
// returns a FlowResult runs through lib/runners/bun-module-entry.ts; raw stdin scripts
// (test/runners.int.test.ts) keep running as `bun <script>`.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasDefaultExport } from "../lib/runners/bun-module.ts";
import { executeStep } from "../lib/runners/index.ts";
import { EVENT, STEPS, stepRequest } from "./fixtures/request.ts";

const WORKDIR = realpathSync(mkdtempSync(join(tmpdir(), "module-steps-")));
afterAll(() => rmSync(WORKDIR, { recursive: true, force: true }));
const run = (script: string, event = EVENT) => executeStep(stepRequest(script, { workingDirectory: WORKDIR, event }));

describe("module-style bun steps", () => {
  test("the default export gets the run context and its FlowResult is parsed like a printed one", async () => {
    const outcome = await run("module-greet.ts");
    expect(outcome.error).toBeUndefined();
    expect(outcome).toMatchObject({ status: "completed", exitCode: 0 });
    expect(outcome.result).toEqual({
      status: "changed",
      message: "hi 2",
      artifacts: { flow: "example-flow", version: 2, step: "do-work", root: STEPS, cwd: WORKDIR, runId: "run-1" },
    });
    expect(outcome.stdout).toStartWith("module-greet: working\nFLOW_RESULT {");
  });

  test("a plain function works without the helper", async () => {
    expect((await run("module-plain.ts")).result as unknown).toEqual({ status: "completed", eventId: "evt-1" });
  });

  test("a payload that does not match the step's schema is a failed result naming the field", async () => {
    const outcome = await run("module-greet.ts", { ...EVENT, payload: { n: "one" } });
    expect(outcome).toMatchObject({
      status: "completed",
      result: { status: "failed", message: "payload.n: expected number (the step's payload schema)" },
    });
  });

  test("a default export that is not a function, returns nothing or throws fails with the step's name in the error", async () => {
    const notFunction = await run("module-not-a-function.ts");
    expect(notFunction).toMatchObject({ status: "failed", exitCode: 1 });
    expect(notFunction.error).toBe(
      `exited with code 1: ${join(STEPS, "module-not-a-function.ts")}: the default export is number 42; expected a function (context) => FlowResult`,
    );
    const nothing = await run("module-no-result.ts");
    expect(nothing.error).toBe(
      `exited with code 1: ${join(STEPS, "module-no-result.ts")}: the default export returned undefined; expected a FlowResult object such as { status: "completed" }`,
    );
    expect(nothing.stdout).toBe("did the work\n");
    const threw = await run("module-throws.ts");
    expect(threw.error).toBe(`exited with code 1: ${join(STEPS, "module-throws.ts")}: the step threw: no network`);
  });

  test("only a script with a default export is module-style; raw scripts and scripts that do not parse run as before", async () => {
    expect(await hasDefaultExport(join(STEPS, "module-greet.ts"))).toBe(true);
    expect(await hasDefaultExport(join(STEPS, "echo.ts"))).toBe(false);
    const broken = join(WORKDIR, "broken.ts");
    await Bun.write(broken, "export default (");
    expect(await hasDefaultExport(broken)).toBe(false);
    const outcome = await executeStep(stepRequest("broken.ts", { workingDirectory: WORKDIR, scriptPath: broken }));
    expect(outcome).toMatchObject({ status: "failed", exitCode: 1 });
  });
});
