// Runs one module-style Bun step (lib/runners/bun-module.ts): reads the run context the
// bun runner writes to stdin, imports the step, awaits its default export with that
// context and prints the FLOW_RESULT line, so the runner parses it like any raw step's
// (lib/runners/module-step.ts).
import { callModuleStep, fail, loadModuleStep } from "./module-step.ts";

const scriptPath = process.argv[2];
if (scriptPath === undefined) fail("usage: bun bun-module-entry.ts <step script>");
const context: unknown = JSON.parse(await Bun.stdin.text());
const run = await loadModuleStep(scriptPath);
const code = await callModuleStep(run, scriptPath, context);
if (code !== 0) process.exit(code);
