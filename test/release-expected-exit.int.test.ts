/**
 * The convention a release flow uses to mark a probe's non-zero exit as expected
 * (docs/flows.md, "Commands in artifacts"): the record of the command carries `expected`
 * with why, and a failure it did not mark does not.
 */
import { expect, test } from "bun:test";
import { Commands } from "../flows/openai-codex-bindings/exec/lib/commands.ts";
import { tempDir } from "./support/temp.ts";

test("given a probe that exits 1 with E404, when the flow marks it expected, then its record says so and another failed command's does not", async () => {
  const commands = new Commands(process.env, () => undefined);
  const cwd = tempDir("codex-flows-probe-");
  const probe = await commands.run(
    "ask npm whether this version is published",
    ["sh", "-c", "echo 'npm error code E404' >&2; exit 1"],
    { cwd, allowFailure: true },
  );
  const other = await commands.run("another check", ["sh", "-c", "exit 2"], { cwd, allowFailure: true });
  expect({ probe: probe.exitCode, other: other.exitCode }).toEqual({ probe: 1, other: 2 });
  commands.expect(probe, "E404: this version is not published yet");
  expect(commands.records.map((r) => ({ label: r.label, exitCode: r.exitCode, expected: r.expected }))).toEqual([
    {
      label: "ask npm whether this version is published",
      exitCode: 1,
      expected: "E404: this version is not published yet",
    },
    { label: "another check", exitCode: 2, expected: undefined },
  ]);
});
