import { expect, test } from "bun:test";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

test("the whole project type-checks under the strict tsconfig", async () => {
  const tsc = Bun.spawn([process.execPath, resolve(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", ROOT], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [code, out] = await Promise.all([tsc.exited, new Response(tsc.stdout).text()]);
  expect({ code, errors: out.trim().split("\n").filter(Boolean).slice(0, 20) }).toEqual({ code: 0, errors: [] });
});
