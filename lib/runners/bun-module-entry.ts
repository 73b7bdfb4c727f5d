// Runs one module-style Bun step (lib/runners/bun-module.ts): reads the run context the
// bun runner writes to stdin, imports the step, awaits its default export with that
// context and prints the FLOW_RESULT line, so the runner parses it like any raw step's.
// The last stderr line of every failure names the step, because the run's error shows it.
import { pathToFileURL } from "node:url";

const scriptPath = process.argv[2];
if (scriptPath === undefined) fail("usage: bun bun-module-entry.ts <step script>");
const context: unknown = JSON.parse(await Bun.stdin.text());
const module = (await import(pathToFileURL(scriptPath).href)) as { default?: unknown };
const run = module.default;
if (typeof run !== "function") fail(`${scriptPath}: the default export is ${describe(run)}; expected a function (context) => FlowResult`);

let result: unknown;
try {
  result = await (run as (context: unknown) => unknown)(context);
} catch (error) {
  console.error(error);
  fail(`${scriptPath}: the step threw: ${error instanceof Error ? error.message : String(error)}`);
}
if (typeof result !== "object" || result === null || Array.isArray(result)) {
  fail(`${scriptPath}: the default export returned ${describe(result)}; expected a FlowResult object such as { status: "completed" }`);
}
// console.log, like the step's own output, so the result line comes after everything the step printed.
console.log(`FLOW_RESULT ${JSON.stringify(result)}`);

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
