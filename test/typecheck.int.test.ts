import { expect, test } from "bun:test";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

// The dashboard's browser code has its own tsconfig (DOM types, no Bun's).
for (const project of [ROOT, resolve(ROOT, "services/ingress/ui/app")]) {
  test(`the project type-checks under the strict tsconfig: ${project === ROOT ? "server" : "dashboard"}`, async () => {
    const tsc = Bun.spawn(
      [process.execPath, resolve(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", project],
      { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
    );
    const [code, out] = await Promise.all([tsc.exited, new Response(tsc.stdout).text()]);
    expect({ code, errors: out.trim().split("\n").filter(Boolean).slice(0, 20) }).toEqual({ code: 0, errors: [] });
  });
}
