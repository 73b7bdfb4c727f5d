/**
 * How the CLI prints what it lists and what a write answers (docs/cli.md): a table with
 * a header row, or with `--json` (`--format json`) JSON Lines, one object a line, with
 * the field names docs/cli.md lists. A table's cell is always one line: a line break in
 * a value shows as ↵, and on a terminal control characters show as \xHH (cli/terminal.ts)
 * and the row is cut to the terminal's width, the widest column first, with …. The JSON
 * keeps every value exact.
 */
import { UsageError } from "./args.ts";
import { escapeControls, printErrorLine, printJsonLine } from "./terminal.ts";

export type Format = "table" | "json";

/** `--json` or `--format table|json`; a table when neither is given. */
export function outputFormat(values: { json?: boolean; format?: string }): Format {
  const { json, format } = values;
  if (format !== undefined && format !== "table" && format !== "json")
    throw new UsageError(`--format ${format}: expected table or json`);
  if (json && format === "table") throw new UsageError("--json and --format table contradict each other");
  return json || format === "json" ? "json" : "table";
}

/** One column: its header and how a row's cell reads. */
export type Column<T> = {
  header: string;
  cell: (row: T) => unknown /** Free text that gives way first when a row is too wide. */;
  flexible?: boolean;
};

/** The narrowest a column is cut to when a row is too wide for the terminal. */
const MIN_WIDTH = 12;

/** A value as one line of a cell: `-` for nothing, line breaks as ↵, controls escaped on a terminal. */
export function cellText(value: unknown, tty = process.stdout.isTTY === true): string {
  if (value === null || value === undefined || value === "") return "-";
  const text = String(value).replace(/\s+$/, "").replace(/\r?\n/g, " ↵ ");
  return tty ? escapeControls(text) : text.replace(/[\t\r]/g, " ");
}

/** `text` no wider than `width`, ending in … when cut. */
function cut(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** The terminal's width (COLUMNS wins), or 0 when stdout is not a terminal or says none. */
function terminalWidth(): number {
  if (!process.stdout.isTTY) return 0;
  return Number(process.env.COLUMNS) || process.stdout.columns || 0;
}

/**
 * Column widths that fit `limit` (0: no limit): the flexible columns (free text) give way
 * first, none below MIN_WIDTH; ids and statuses keep their width, and a row still too
 * wide is cut at the limit instead.
 */
export function fitWidths(widths: number[], flexible: boolean[], limit: number): number[] {
  const fitted = [...widths];
  const total = () => fitted.reduce((sum, w) => sum + w, 0) + 2 * (fitted.length - 1);
  // From the last column back, one pass: each narrows once.
  for (let i = fitted.length - 1; i >= 0 && limit > 0 && total() > limit; i--) {
    if (flexible[i] && fitted[i]! > MIN_WIDTH) fitted[i] = Math.max(MIN_WIDTH, fitted[i]! - (total() - limit));
  }
  return fitted;
}

/** The table's lines: a header row, then one line a row, columns two spaces apart, none longer than the limit. */
export function tableLines<T>(
  rows: T[],
  columns: Column<T>[],
  tty = process.stdout.isTTY === true,
  limit = terminalWidth(),
): string[] {
  const cells = rows.map((row) => columns.map((c) => cellText(c.cell(row), tty)));
  const headers = columns.map((c) => c.header);
  const natural = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const widths = fitWidths(
    natural,
    columns.map((c) => c.flexible === true),
    limit,
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => cut(v, widths[i]!).padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].map((text) => (limit > 0 ? cut(text, limit) : text));
}

/** Prints `rows` as a table, or as JSON Lines of `record(row)`; `empty` (on stderr) when there are none. */
export function printRows<T>(
  format: Format,
  rows: T[],
  columns: Column<T>[],
  record: (row: T) => unknown,
  empty: string,
): void {
  if (format === "json") {
    for (const row of rows) printJsonLine(record(row));
    return;
  }
  if (rows.length === 0) {
    printErrorLine(empty);
    return;
  }
  for (const line of tableLines(rows, columns)) console.log(line);
}

/** A write's answer: the one line, or with --json its record. */
export function printResult(format: Format, line: string, record: unknown): void {
  if (format === "json") printJsonLine(record);
  else console.log(process.stdout.isTTY ? escapeControls(line) : line);
}

/** A duration in ms as people read it: 340ms, 4.2s, 3m05s, 2h10m. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const s = Math.round(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3_600)}h${String(Math.floor((s % 3_600) / 60)).padStart(2, "0")}m`;
}

/** How long ago an ISO time was, as kubectl's AGE: 45s, 12m, 3h, 2d. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1_000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3_600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** An ISO time to the second, as a table shows it. */
export function time(iso: string | null | undefined): string {
  return iso ? iso.replace(/\.\d+Z$/, "Z") : "-";
}
