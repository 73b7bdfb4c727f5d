import { statSync } from "node:fs";
import { extname, join } from "node:path";

/** The script that runs a module-style step: imports it, calls its default export, prints FLOW_RESULT. */
export const MODULE_ENTRY = join(import.meta.dir, "bun-module-entry.ts");

const LOADERS: Record<string, "ts" | "tsx" | "js" | "jsx"> = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".jsx": "jsx",
};

/** Scans are cached by path, size and mtime: a step runs many times, and its script rarely changes. */
const scans = new Map<string, { key: string; answer: boolean }>();
const transpilers = new Map<string, Bun.Transpiler>();

/**
 * True when the script has a default export, i.e. is a module-style step. The script is
 * scanned, not run, so a raw stdin script still starts exactly as `bun <script>`
 * (its `import.meta.main`, `process.argv` and top-level code unchanged).
 */
export async function hasDefaultExport(scriptPath: string): Promise<boolean> {
  let key: string;
  try {
    const stat = statSync(scriptPath);
    key = `${stat.size}:${stat.mtimeMs}`;
  } catch {
    return false; // missing or unreadable: let Bun report it the way it reports any script it cannot load
  }
  const cached = scans.get(scriptPath);
  if (cached?.key === key) return cached.answer;
  const answer = await scan(scriptPath);
  scans.set(scriptPath, { key, answer });
  return answer;
}

async function scan(scriptPath: string): Promise<boolean> {
  const loader = LOADERS[extname(scriptPath)] ?? "ts";
  let source: string;
  try {
    source = await Bun.file(scriptPath).text();
  } catch {
    return false; // unreadable: let Bun report it the way it reports any script it cannot load
  }
  try {
    const transpiler = transpilers.get(loader) ?? transpilers.set(loader, new Bun.Transpiler({ loader })).get(loader)!;
    return transpiler.scan(source).exports.includes("default");
  } catch {
    return false; // a syntax error: run it as-is so Bun reports the error with its position
  }
}
