import { existsSync } from "node:fs";
import { FLOW_RESULT_PREFIX, type FlowResultParse, parseFlowResult, resultTooLarge } from "../protocol/flow-result.ts";
import { TailBuffer } from "./capture.ts";
import { ResultLineMeter } from "./result-line.ts";
import { stopReasonOf } from "./stops.ts";
import { DEFAULT_OUTPUT_CAP_BYTES, type StepOutcome, type StepRunRequest } from "./types.ts";

export type Stream = "stdout" | "stderr";
/** Structural, because Bun's pipes are typed with node:stream/web's reader rather than the global one. */
export type ChunkReader = { read(): Promise<{ done: boolean; value?: Uint8Array }> };

/**
 * One attempt's output: the capped tail of each stream, and the live copy handed to
 * `onOutput`. A listener that throws is reported once and not called again, so a
 * broken listener can lose neither the capture nor the step.
 */
export class StepOutput {
  readonly stdout: TailBuffer;
  readonly stderr: TailBuffer;
  /** Sizes stdout's FLOW_RESULT lines, which the tail may be too small to hold. */
  readonly resultLine = new ResultLineMeter();
  #onOutput: StepRunRequest["onOutput"];

  constructor(private readonly request: Pick<StepRunRequest, "onOutput" | "outputCapBytes" | "step">) {
    this.stdout = new TailBuffer(request.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES);
    this.stderr = new TailBuffer(request.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES);
    this.#onOutput = request.onOutput;
  }

  /** Appends text that did not come from a pipe (Code Mode's output deltas). */
  write(stream: Stream, text: string): void {
    if (text === "") return;
    const bytes = Buffer.from(text);
    this[stream].push(bytes);
    if (stream === "stdout") this.resultLine.push(bytes);
    this.#emit(stream, text);
  }

  /** Copies a pipe into its tail, forwarding decoded text live; resolves to a read error, if any. */
  async pump(reader: ChunkReader, stream: Stream): Promise<string | undefined> {
    const decoder = this.decoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || value === undefined) break;
        this.push(stream, value, decoder);
      }
    } catch (error) {
      return `reading ${stream} failed: ${(error as Error).message}`;
    }
    this.end(stream, decoder);
    return undefined;
  }

  /** A streaming decoder for one stream's live copy (none without a listener), so a character split across two chunks is not mangled. */
  decoder(): TextDecoder | undefined {
    return this.#onOutput ? new TextDecoder() : undefined;
  }

  /** Appends a chunk of a stream's bytes (pump, or a warm worker's output of this run). */
  push(stream: Stream, bytes: Uint8Array, decoder: TextDecoder | undefined): void {
    this[stream].push(bytes);
    if (stream === "stdout") this.resultLine.push(bytes);
    if (decoder) this.#emit(stream, decoder.decode(bytes, { stream: true }));
  }

  /** Ends a stream: the rest of its decoder, and its last line. */
  end(stream: Stream, decoder: TextDecoder | undefined): void {
    if (decoder) this.#emit(stream, decoder.decode());
    if (stream === "stdout") this.resultLine.end();
  }

  /**
   * The FLOW_RESULT of the kept stdout tail; when there is none there because the last
   * result line was larger than the tail, says that it was too large, and how large.
   */
  parseResult(): FlowResultParse {
    const parsed = parseFlowResult(this.stdout.text());
    const seen = this.resultLine.lastResultBytes;
    if (parsed.ok || seen === undefined || seen + FLOW_RESULT_PREFIX.length <= this.stdout.capBytes) return parsed;
    return { ok: false, error: resultTooLarge(seen, this.stdout.capBytes - FLOW_RESULT_PREFIX.length) };
  }

  /** The captured tails as text, and whether anything was dropped. */
  tails(): { stdout: string; stderr: string; stdoutTruncated: boolean; stderrTruncated: boolean } {
    return {
      stdout: this.stdout.text(),
      stderr: this.stderr.text(),
      stdoutTruncated: this.stdout.truncated,
      stderrTruncated: this.stderr.truncated,
    };
  }

  #emit(stream: Stream, text: string): void {
    const onOutput = this.#onOutput;
    if (!onOutput || text === "") return;
    try {
      onOutput({ stream, text });
    } catch (error) {
      console.error(`onOutput threw for ${stream} of step "${this.request.step.name}"; live output stopped:`, error);
      this.#onOutput = undefined;
    }
  }
}

/** The output fields of an attempt that never started. */
export const NO_OUTPUT = { stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false };

/** Completes an outcome with the attempt's timing, measured from `started`. */
export function outcomeTimer(
  started: Date,
): (fields: Omit<StepOutcome, "startedAt" | "finishedAt" | "durationMs">) => StepOutcome {
  return (fields) => {
    const finished = new Date();
    return {
      ...fields,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
    };
  };
}

/**
 * The outcome of an attempt that cannot start, finished by `finish` (outcomeTimer):
 * canceled before it began (its signal already aborted), or failed because its script is
 * missing (one stat, because Bun's own "Module not found" arrives as exit code 1 and reads
 * like a step failure). Undefined when it can start.
 */
export function cannotStart(request: StepRunRequest, finish: ReturnType<typeof outcomeTimer>): StepOutcome | undefined {
  const never = { exitCode: null, signal: null, ...NO_OUTPUT };
  if (request.signal?.aborted)
    return finish({ status: "canceled", error: "canceled", stoppedBy: stopReasonOf(request.signal), ...never });
  if (!existsSync(request.step.scriptPath))
    return finish({ status: "failed", error: `script not found: ${request.step.scriptPath}`, ...never });
  return undefined;
}

const LINE_MAX = 500;

/** How the executor's note starts when live output reached its cap (readers then add the recorded tail). */
export const LIVE_OUTPUT_STOPPED = "[live output stopped at";

/**
 * What a crashed step's stderr says went wrong. Bun ends an uncaught error with the
 * failing source, the error line, its stack and its version banner: then the error line
 * with up to three lines before it. Otherwise (a step that printed its own last word)
 * the last line. Never the banner.
 */
export function crashSummary(stderr: string): string {
  const lines = stderr
    .slice(-64 * 1024)
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== "" && !BUN_BANNER.test(line.trim()));
  while (lines.length > 0 && STACK_FRAME.test(lines.at(-1)!)) lines.pop();
  const last = lines.at(-1);
  if (last === undefined) return "";
  const clip = (line: string) => (line.length > LINE_MAX ? `${line.slice(0, LINE_MAX)}…` : line);
  if (!ERROR_LINE.test(last.trim())) return clip(last.trim());
  return [clip(last.trim()), ...lines.slice(Math.max(0, lines.length - 4), -1).map(clip)].join("\n");
}

const BUN_BANNER = /^Bun v\d+\.\d+\.\d+.*\(.*\)$/;
const STACK_FRAME = /^\s+at /;
const ERROR_LINE = /^(error|[A-Z]\w*(Error|Exception))\b.*:/;

/** The last non-empty line of a text, shortened; scans backwards so a megabyte of stderr is not split into lines. */
export function lastNonEmptyLine(text: string): string {
  let end = text.length;
  while (end > 0) {
    const start = text.lastIndexOf("\n", end - 1) + 1;
    const line = text.slice(start, end).trim();
    if (line !== "") return line.length > LINE_MAX ? `${line.slice(0, LINE_MAX)}…` : line;
    end = start - 1;
  }
  return "";
}
