import { isAbsolute, relative, sep } from "node:path";

/** The small readers of a flow.toml's values (lib/flows/manifest.ts): each names the field at fault through `fail`. */

// Flow and step names end up in run ids and NATS subjects, so they get a deliberately small alphabet.
const NAME = /^[A-Za-z0-9._-]+$/;
const NAME_RULE = "expected a non-empty name of letters, digits, '.', '_' or '-'";

export type Table = Record<string, unknown>;
export type Fail = (field: string, message: string) => never;
/** Runs a read; an error it throws through `fail` is kept (undefined returned), so one bad field does not hide the next. */
export type Collect = <T>(read: () => T) => T | undefined;

/** Every unknown key of a table, each kept by `collect` (or the first thrown, without one); true when there was none. */
export function checkKeys(
  table: Table,
  allowed: string[],
  field: string,
  fail: Fail,
  collect: Collect = (read) => read(),
): boolean {
  let ok = true;
  for (const key of Object.keys(table)) {
    if (!allowed.includes(key))
      ok =
        collect(() =>
          fail(field === "" ? key : `${field}.${key}`, `unknown key "${key}" (expected one of ${allowed.join(", ")})`),
        ) ?? false;
  }
  return ok;
}

export function readName(value: unknown, field: string, fail: Fail): string {
  if (typeof value !== "string" || !NAME.test(value)) return fail(field, `${NAME_RULE}, got ${describe(value)}`);
  return value;
}

export function readString(value: unknown, field: string, fail: Fail): string {
  if (typeof value !== "string" || value === "")
    return fail(field, `expected a non-empty string, got ${describe(value)}`);
  return value;
}

export function readTable(value: unknown, field: string, fail: Fail): Table {
  if (!isTable(value)) return fail(field, `expected a table, got ${describe(value)}`);
  return value;
}

export function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1;
}

export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  if (isTable(value)) return "a table";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Whether `path` lies strictly inside `dir` (not `dir` itself), both already resolved: the one containment test of a flow's paths. */
export function strictlyInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
