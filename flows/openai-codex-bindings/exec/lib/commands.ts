// Runs commands as argv arrays (never through a shell, so nothing from an event can
// become shell syntax) and records each one for the step's `artifacts.commands`.
import { Outcome } from "./release.ts";

/** One command as the result shows it: outputs cut to a few KB (the head and the tail). */
export type CommandRecord = {
  label: string;
  argv: string[];
  cwd: string;
  exitCode: number | null;
  durationMs: number;
  stdout: string;
  stderr: string;
  error?: string;
  /** Set when its non-zero exit was an answer the step expected (a probe), not a failure: the dashboard shows it so. */
  expected?: string;
};

/** What a caller gets back: the record plus the whole stdout (up to MAX_KEPT), for parsing. */
export type CommandRun = CommandRecord & { output: string };

export type RunOptions = {
  cwd: string;
  allowFailure?: boolean;
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
};

const HEAD = 1_000;
const TAIL = 3_000;
const MAX_KEPT = 4 * 1024 * 1024;
export const DEFAULT_COMMAND_TIMEOUT_MS = 15 * 60_000;

/** Text cut to its first HEAD and last TAIL characters, saying how much was left out. */
export function truncate(value: string, head = HEAD, tail = TAIL): string {
  if (value.length <= head + tail) return value;
  return `${value.slice(0, head)}\n... [${value.length - head - tail} characters cut] ...\n${value.slice(-tail)}`;
}

/** Runs and records commands; `log` shows progress on the step's live output. */
export class Commands {
  readonly records: CommandRecord[] = [];

  constructor(
    private readonly env: Record<string, string | undefined>,
    private readonly log: (line: string) => void = (line) => console.log(line),
  ) {}

  /**
   * Runs `argv` in `cwd`. A non-zero exit, a timeout or a program that cannot start
   * ends the step as `failed`, naming the label and the command, unless `allowFailure`.
   */
  async run(label: string, argv: string[], options: RunOptions): Promise<CommandRun> {
    const started = performance.now();
    this.log(`$ ${argv.join(" ")}    (${label}, in ${options.cwd})`);
    let exitCode: number | null = null;
    let stdout = "";
    let stderr = "";
    let error: string | undefined;
    try {
      const child = Bun.spawn(argv, {
        cwd: options.cwd,
        // No prompts: a command that wants a password or a confirmation fails instead of hanging.
        env: { ...this.env, GIT_TERMINAL_PROMPT: "0", CI: this.env.CI ?? "1", ...options.env },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        timeout: options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
        killSignal: "SIGKILL",
      });
      [stdout, stderr] = await Promise.all([readCapped(child.stdout), readCapped(child.stderr)]);
      await child.exited;
      exitCode = child.exitCode;
      if (child.signalCode)
        error = child.killed
          ? `killed after ${options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS} ms (timeout)`
          : `killed by ${child.signalCode}`;
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      error =
        code === "ENOENT"
          ? `${argv[0]} is not installed or not on PATH`
          : `could not start ${argv[0]}: ${(cause as Error).message}`;
    }
    const record: CommandRecord = {
      label,
      argv,
      cwd: options.cwd,
      exitCode,
      durationMs: Math.round(performance.now() - started),
      stdout: truncate(stdout),
      stderr: truncate(stderr),
    };
    if (error) record.error = error;
    this.records.push(record);
    const ok = exitCode === 0 && !error;
    this.log(`  -> ${error ?? `exit ${exitCode}`} in ${record.durationMs} ms`);
    if (!ok && !options.allowFailure)
      throw new Outcome(
        "failed",
        `${label} failed: \`${argv.join(" ")}\` ${error ?? `exited with code ${exitCode}`}${lastLine(stderr, stdout)}`,
      );
    return { ...record, output: stdout };
  }

  /** Marks a command's non-zero exit as expected, saying why (`npm view` of a version not published yet answers E404). */
  expect(run: CommandRun, why: string): void {
    const record = this.records.findLast((r) => r.argv === run.argv);
    if (record) record.expected = why;
  }
}

/** `: <last non-empty line>` of stderr (else stdout), for a failure message. */
function lastLine(stderr: string, stdout: string): string {
  for (const text of [stderr, stdout]) {
    const line = text.trimEnd().split("\n").pop()?.trim();
    if (line) return `: ${line.length > 300 ? `${line.slice(0, 300)}...` : line}`;
  }
  return "";
}

/** Reads a stream as text, keeping at most MAX_KEPT characters (the head and the last TAIL). */
async function readCapped(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let head = "";
  let tail = "";
  let dropped = 0;
  for await (const chunk of stream) {
    const piece = decoder.decode(chunk, { stream: true });
    if (head.length < MAX_KEPT) {
      head += piece;
      continue;
    }
    tail = (tail + piece).slice(-TAIL);
    dropped += piece.length;
  }
  if (dropped === 0) return head + decoder.decode();
  return `${head}\n... [output over ${MAX_KEPT} characters] ...\n${tail}${decoder.decode()}`;
}

/** Records that fit `budget` characters of JSON: the outputs of commands that succeeded go first, then all outputs shrink. */
export function boundRecords(records: CommandRecord[], budget = 96_000): CommandRecord[] {
  let bounded = records;
  const size = () => JSON.stringify(bounded).length;
  if (size() > budget)
    bounded = bounded.map((r) =>
      r.exitCode === 0 ? { ...r, stdout: truncate(r.stdout, 0, 300), stderr: truncate(r.stderr, 0, 300) } : r,
    );
  if (size() > budget)
    bounded = bounded.map((r) => ({ ...r, stdout: truncate(r.stdout, 0, 300), stderr: truncate(r.stderr, 0, 300) }));
  return bounded;
}
