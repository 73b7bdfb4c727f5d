import { expect, test } from "bun:test";
import { join } from "node:path";

// The house's formatter and linter (Biome, biome.json): the tree is formatted (120 columns,
// imports organised) and lint-clean. `bun run lint` fixes what it can.
test("biome ci: every file formatted, imports organised, no lint error", () => {
  const repo = join(import.meta.dir, "..");
  const run = Bun.spawnSync(
    [join(repo, "node_modules", ".bin", "biome"), "ci", "--colors=off", "--max-diagnostics=20", "."],
    { cwd: repo, stdout: "pipe", stderr: "pipe" },
  );
  const output = `${run.stdout.toString()}${run.stderr.toString()}`;
  expect({ exitCode: run.exitCode, output: run.exitCode === 0 ? "" : output }).toEqual({ exitCode: 0, output: "" });
}, 60_000);
