import { expect, test } from "bun:test";
import { join } from "node:path";

// The house's formatter and linter (Biome, biome.json): the tree is formatted (120 columns,
// imports organised) and lint-clean. `bun run lint` fixes what it can.
test("biome ci: every file formatted, imports organised, no lint error, and no diagnostic at all (a deprecated biome.json form is an info)", () => {
  const repo = join(import.meta.dir, "..");
  const run = Bun.spawnSync(
    [join(repo, "node_modules", ".bin", "biome"), "ci", "--colors=off", "--max-diagnostics=20", "."],
    { cwd: repo, stdout: "pipe", stderr: "pipe" },
  );
  const output = `${run.stdout.toString()}${run.stderr.toString()}`;
  const clean = run.exitCode === 0 && !/Found \d+ (error|warning|info)/.test(output);
  expect({ exitCode: run.exitCode, output: clean ? "" : output }).toEqual({ exitCode: 0, output: "" });
}, 60_000);
