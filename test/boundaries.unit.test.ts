import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const SERVICES = ["ingress", "matcher", "executor", "projector"] as const;
const REPO = join(import.meta.dir, "..");
const ROOT = join(REPO, "services");

function sourcesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourcesOf(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

/** Every relative import of every source under `dir`, as repository paths (`import ... from` and `export ... from`). */
function importsUnder(dir: string): { file: string; target: string }[] {
  return sourcesOf(join(REPO, dir)).flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/from\s+"(\.[^"]+)"/g)].map(([, spec]) => ({
      file: relative(REPO, file),
      target: relative(REPO, resolve(file, "..", spec!)),
    })),
  );
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

test("lib/ imports no service and no cli module: everything else builds on it, not the other way round", () => {
  const crossings = importsUnder("lib").filter(
    ({ target }) => target.startsWith("services/") || target.startsWith("cli/"),
  );
  expect(crossings.map(({ file, target }) => `${file} imports ${target}`)).toEqual([]);
});

test("services import no cli module", () => {
  const crossings = importsUnder("services").filter(({ target }) => target.startsWith("cli/"));
  expect(crossings.map(({ file, target }) => `${file} imports ${target}`)).toEqual([]);
});

/**
 * The CLI starts the system through its composition files (services/*.ts: main, system,
 * threads, context) and rebuilds a read model through the projector's rebuild; it reaches
 * into no other service module (what it shares with the ingress, such as signing, is in lib/).
 */
const CLI_ENTRY_POINTS = ["services/projector/rebuild.ts"];

test("cli/ imports no service module beyond the composition files and the projector's rebuild", () => {
  const crossings = importsUnder("cli").filter(
    ({ target }) => SERVICES.some((s) => target.startsWith(`services/${s}/`)) && !CLI_ENTRY_POINTS.includes(target),
  );
  expect(crossings.map(({ file, target }) => `${file} imports ${target}`)).toEqual([]);
});

const SOURCE_DIRS = ["lib", "services", "cli", "bin"];

test("no import cycle, type-only imports included: every module can be read without the ones that import it", () => {
  const graph = new Map<string, string[]>();
  for (const dir of SOURCE_DIRS)
    for (const { file, target } of importsUnder(dir)) graph.set(file, [...(graph.get(file) ?? []), target]);
  // Tarjan's strongly connected components: a component of two or more modules (or one that imports itself) is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        onStack.delete(w);
        component.push(w);
        if (w === v) break;
      }
      if (component.length > 1 || graph.get(v)?.includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  expect(cycles).toEqual([]);
});

test("no source file over 300 lines", () => {
  const long = SOURCE_DIRS.flatMap((dir) => sourcesOf(join(REPO, dir)))
    .map((file) => ({ file: relative(REPO, file), lines: readFileSync(file, "utf8").split("\n").length - 1 }))
    .filter(({ lines }) => lines > 300);
  expect(long.map(({ file, lines }) => `${file}: ${lines} lines`)).toEqual([]);
});
