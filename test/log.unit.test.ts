import { afterEach, expect, test } from "bun:test";
import { configureLog, errorFields, logger } from "../lib/log.ts";

/** The lines a logger writes while `work` runs. */
function captured(work: () => void): string[] {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    work();
  } finally {
    process.stderr.write = write;
  }
  return lines;
}

afterEach(() => configureLog(process.env.CODEX_FLOW_LOG));

test("given an Error in the error field, when logged, then the line carries its message and stack", () => {
  configureLog("info");
  const failure = new TypeError("cannot read properties of undefined (reading 'kind')");
  const [line] = captured(() => logger("matcher").error("handler failed", { seq: 7, error: failure }));
  const fields = JSON.parse(line!.slice(line!.indexOf("{")));
  expect(fields).toMatchObject({ seq: 7, error: failure.message });
  expect(fields.stack).toContain("TypeError: cannot read properties");
  expect(fields.stack).toContain("log.unit.test.ts");
});

test("errorFields: an Error's message, stack and cause; anything else as text", () => {
  const wrapped = new Error("publish failed", { cause: new Error("TIMEOUT") });
  expect(errorFields(wrapped)).toMatchObject({ error: "publish failed", cause: "TIMEOUT" });
  expect(errorFields(wrapped).stack).toContain("Error: publish failed");
  expect(errorFields("no responders")).toEqual({ error: "no responders" });
});

test("the level is read once: a later change of CODEX_FLOW_LOG does nothing until configureLog", () => {
  configureLog("info");
  const before = process.env.CODEX_FLOW_LOG;
  process.env.CODEX_FLOW_LOG = "silent";
  try {
    expect(captured(() => logger("ingress").info("still written"))).toHaveLength(1);
    configureLog("warn");
    expect(captured(() => logger("ingress").info("quiet now"))).toHaveLength(0);
    expect(captured(() => logger("ingress").warn("a warning"))).toHaveLength(1);
  } finally {
    if (before === undefined) delete process.env.CODEX_FLOW_LOG;
    else process.env.CODEX_FLOW_LOG = before;
  }
});
