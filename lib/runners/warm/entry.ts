// A warm worker (lib/runners/warm/worker.ts): imports one module-style step once, then
// serves runs one at a time, each a JSON line on stdin ({ context, env, cwd }). Per run it
// replaces process.env (Bun.spawn's default environment too), changes to the run's working
// directory, awaits the step and prints its FLOW_RESULT like a spawned step, then writes
// the end-of-run mark (MARK_PREFIX, the worker's nonce and the run's exit code) on stdout
// and on stderr, so the parent cuts each stream's output per run. Ends when stdin closes
// (its executor stopped the pool, or died).
import { callModuleStep, fail, loadModuleStep } from "../module-step.ts";
import { MARK_PREFIX } from "./marks.ts";

const [scriptPath, nonce] = process.argv.slice(2);
if (scriptPath === undefined || nonce === undefined) fail("usage: bun entry.ts <step script> <nonce>");
const run = await loadModuleStep(scriptPath);
const spawnWithRunEnv = { spawn: Bun.spawn, spawnSync: Bun.spawnSync };
// Bun.spawn without `env` passes the environment the process started with, not process.env as changed for the run.
(Bun as { spawn: unknown }).spawn = (...args: unknown[]) =>
  (spawnWithRunEnv.spawn as (...a: unknown[]) => unknown)(...withRunEnv(args));
(Bun as { spawnSync: unknown }).spawnSync = (...args: unknown[]) =>
  (spawnWithRunEnv.spawnSync as (...a: unknown[]) => unknown)(...withRunEnv(args));

type Frame = { context: unknown; env: Record<string, string>; cwd: string };

let pending = "";
const decoder = new TextDecoder();
for await (const chunk of Bun.stdin.stream()) {
  pending += decoder.decode(chunk, { stream: true });
  // One frame per line; the parent sends the next only after this run's marks.
  for (let newline = pending.indexOf("\n"); newline !== -1; newline = pending.indexOf("\n")) {
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    await serve(JSON.parse(line) as Frame);
  }
}
process.exit(0);

async function serve(frame: Frame): Promise<void> {
  for (const name of Object.keys(process.env)) if (!(name in frame.env)) delete process.env[name];
  Object.assign(process.env, frame.env);
  let code: number;
  try {
    process.chdir(frame.cwd);
    code = await callModuleStep(run, scriptPath!, frame.context);
  } catch (error) {
    console.error(`${scriptPath}: could not run the step in ${frame.cwd}: ${(error as Error).message}`);
    code = 1;
  }
  // What the step wrote with process.stdout.write is queued: flushed before the mark so it stays in this run.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  const mark = `${MARK_PREFIX}${nonce}:${code}\n`;
  process.stdout.write(mark);
  process.stderr.write(mark);
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

function withRunEnv(args: unknown[]): unknown[] {
  const [first, second, ...rest] = args;
  if (Array.isArray(first)) return [first, { env: process.env, ...(second as object | undefined) }, ...rest];
  return [{ env: process.env, ...(first as object) }, second, ...rest].slice(0, args.length);
}
