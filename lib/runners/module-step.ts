// What runs a module-style Bun step inside its process, spawned (bun-module-entry.ts) or
// warm (warm/entry.ts): import it, call its default export with the run's context, print
// the FLOW_RESULT line. The last stderr line of every failure names the step, because
// the run's error shows it.
import { pathToFileURL } from "node:url";

export type ModuleStep = (context: unknown) => unknown;

/** Imports the step and returns its default export; a default export that is no function ends the process (exit code 1). */
export async function loadModuleStep(scriptPath: string): Promise<ModuleStep> {
  const module = (await import(pathToFileURL(scriptPath).href)) as { default?: unknown };
  const run = module.default;
  if (typeof run !== "function")
    fail(`${scriptPath}: the default export is ${describe(run)}; expected a function (context) => FlowResult`);
  return run as ModuleStep;
}

/** Awaits the step with `context` and prints its FLOW_RESULT line; a failure is printed on stderr. The exit code the run reads as: 0, or 1 when it failed. */
export async function callModuleStep(run: ModuleStep, scriptPath: string, context: unknown): Promise<0 | 1> {
  let result: unknown;
  try {
    result = await run(context);
  } catch (error) {
    console.error(error);
    console.error(`${scriptPath}: the step threw: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  if (typeof result !== "object" || result === null || Array.isArray(result)) {
    console.error(
      `${scriptPath}: the default export returned ${describe(result)}; expected a FlowResult object such as { status: "completed" }`,
    );
    return 1;
  }
  // console.log, like the step's own output, so the result line comes after everything the step printed.
  console.log(`FLOW_RESULT ${JSON.stringify(result)}`);
  return 0;
}

export function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
