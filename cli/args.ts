import { type ParseArgsConfig, parseArgs } from "node:util";

/** Exit codes (docs/cli.md): done, failed (an API error, a failed step), a usage mistake, and nothing matched (`flow fire`: no step; `flow run`: not the named step). */
export const EXIT = { ok: 0, failed: 1, usage: 2, nothingMatched: 3 } as const;

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Strict flag parsing: an unknown flag or a missing value names the flag. */
export function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

/** Reads and parses a JSON file named by a flag, with errors that name the file. */
export async function readJsonFile(path: string | undefined, flag: string): Promise<unknown> {
  if (!path) throw new UsageError(`${flag} FILE is required`);
  const file = Bun.file(path);
  if (!(await file.exists())) throw new UsageError(`${flag} ${path}: no such file`);
  try {
    return JSON.parse(await file.text());
  } catch (error) {
    throw new UsageError(`${flag} ${path}: not valid JSON (${(error as Error).message})`);
  }
}

/** `--port N`: an integer from 0 to 65535. */
export function portFlag(raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) throw new UsageError(`--port ${raw}: expected an integer from 0 to 65535`);
  return port;
}
