// The `warm` key of a [[steps]] table (lib/flows/warm.ts).
import { describe, expect, test } from "bun:test";
import { ManifestError, parseManifest } from "../lib/flows/manifest.ts";
import { DEFAULT_WARM } from "../lib/flows/warm.ts";

const PATH = "/repo/flows/demo/flow.toml";
const step = (extra: string, runner = "bun") => `name = "demo"

[[steps]]
name = "do-work"
runner = "${runner}"
script = "exec/do-work.ts"
${extra}

[steps.trigger]
type = "upstream.release"
`;

function rejection(text: string): ManifestError {
  try {
    parseManifest(text, PATH);
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error("expected parseManifest to throw a ManifestError");
}

describe("warm steps in flow.toml", () => {
  test("given no warm key or warm = false, when parsed, then the step is spawned per run", () => {
    expect(parseManifest(step(""), PATH).steps[0]!.warm).toBeUndefined();
    expect(parseManifest(step("warm = false"), PATH).steps[0]!.warm).toBeUndefined();
  });

  test("given warm = true, when parsed, then the step is warm with the defaults", () => {
    expect(parseManifest(step("warm = true"), PATH).steps[0]!.warm).toEqual(DEFAULT_WARM);
  });

  test("given a [steps.warm] table, when parsed, then its keys set the pool and the rest take defaults", () => {
    const text = step("").replace("[steps.trigger]", "[steps.warm]\nworkers = 2\nmax_runs = 50\n\n[steps.trigger]");
    expect(parseManifest(text, PATH).steps[0]!.warm).toEqual({
      workers: 2,
      maxRuns: 50,
      maxRssMb: DEFAULT_WARM.maxRssMb,
    });
  });

  test.each([
    [
      "a code-mode step",
      step("warm = true", "code-mode"),
      "steps[0].warm",
      'warm applies to runner = "bun" steps only',
    ],
    ["a string", step('warm = "yes"'), "steps[0].warm", "expected true, false or a table"],
    ["an unknown key", step("warm = { workerz = 2 }"), "steps[0].warm.workerz", 'unknown key "workerz"'],
    [
      "zero workers",
      step("warm = { workers = 0 }"),
      "steps[0].warm.workers",
      "expected an integer from 1 to 64, got 0",
    ],
    [
      "a fractional max_rss_mb",
      step("warm = { max_rss_mb = 1.5 }"),
      "steps[0].warm.max_rss_mb",
      "expected an integer from 1 to 65536",
    ],
  ])("given %s, when parsed, then the error names %s", (_given, text, field, message) => {
    const error = rejection(text);
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
  });
});
