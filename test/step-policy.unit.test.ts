import { describe, expect, test } from "bun:test";
import { parseManifest } from "../lib/flows/manifest.ts";
import { queueFor, retryDelayMs } from "../lib/flows/step-policy.ts";

const PATH = "/repo/flows/demo/flow.toml";
function stepWith(lines: string): string {
  return `name = "demo"\n[[steps]]\nname = "s"\nrunner = "bun"\nscript = "exec/s.ts"\n${lines}\n[steps.trigger]\ntype = "demo.tick"\n`;
}
function policyOf(lines: string) {
  return parseManifest(stepWith(lines), PATH).steps[0]!.policy;
}
function errorOf(lines: string): string {
  try {
    parseManifest(stepWith(lines), PATH);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected a manifest error");
}

describe("step policy", () => {
  test("given no policy fields, then no retries, exponential backoff from 1 s, the shared queue", () => {
    const policy = policyOf("");
    expect(policy).toEqual({ retries: 0, backoff: { kind: "exponential", baseMs: 1000, maxMs: 300000 } });
    expect(queueFor(policy)).toBe("any");
  });

  test("given retries with an exponential backoff and a cap, then the delays double up to the cap", () => {
    const policy = policyOf("retries = 5\nretry_backoff_ms = 500\nretry_backoff_max_ms = 3000");
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(policy, n))).toEqual([500, 1000, 2000, 3000, 3000]);
  });

  test("given an explicit list of delays, then each retry takes its own and later ones the last", () => {
    const policy = policyOf("retries = 4\nretry_backoff_ms = [100, 2000]");
    expect([1, 2, 3, 4].map((n) => retryDelayMs(policy, n))).toEqual([100, 2000, 2000, 2000]);
  });

  test("given runs_on and a concurrency group, then the queue names both", () => {
    expect(queueFor(policyOf('runs_on = "gpu-box"'))).toBe("gpu-box");
    expect(queueFor(policyOf('concurrency = "deploy"'))).toBe("any--deploy");
    expect(queueFor(policyOf('runs_on = "builder"\nconcurrency = "deploy"'))).toBe("builder--deploy");
  });

  test("given bad policy values, then the error names the field", () => {
    expect(errorOf("retries = -1")).toContain("steps[0].retries: expected an integer from 0 to 20");
    expect(errorOf("retries = 21")).toContain("steps[0].retries");
    expect(errorOf('retry_backoff_ms = "1s"')).toContain("steps[0].retry_backoff_ms");
    expect(errorOf("retry_backoff_ms = []")).toContain("steps[0].retry_backoff_ms");
    expect(errorOf('runs_on = "a.b"')).toContain("steps[0].runs_on: expected 1-48 letters, digits, _ or -");
    expect(errorOf('concurrency = "x y"')).toContain("steps[0].concurrency");
  });
});
