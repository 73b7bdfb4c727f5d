import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const SERVICES = ["ingress", "matcher", "executor", "projector"] as const;
const ROOT = join(import.meta.dir, "..", "services");

function sourcesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sourcesOf(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []));
}

test("services talk only through the stream and lib/: none imports another service's modules", () => {
  const crossings: string[] = [];
  for (const service of SERVICES) {
    for (const file of sourcesOf(join(ROOT, service))) {
      for (const [, spec] of readFileSync(file, "utf8").matchAll(/from\s+"(\.[^"]+)"/g)) {
        const target = relative(ROOT, resolve(file, "..", spec!));
        const other = SERVICES.find((s) => s !== service && target.startsWith(`${s}/`));
        if (other) crossings.push(`${relative(ROOT, file)} imports ${target}`);
      }
    }
  }
  expect(crossings).toEqual([]);
});
