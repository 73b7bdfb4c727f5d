/**
 * The end-of-run mark a warm worker writes on stdout and stderr after each run:
 * MARK_PREFIX, the worker's nonce, `:`, the run's exit code (0 or 1) and a newline. The
 * NUL and the nonce keep a step's own output from reading as a mark by accident.
 */
export const MARK_PREFIX = "\0CODEX-FLOW-WARM-END:";

/** Longest exit code the mark may carry, in digits: what is longer is output, not a mark. */
const CODE_DIGITS_MAX = 3;

/**
 * Cuts one stream of a worker at its marks, across chunk boundaries: bytes before a mark
 * are the current run's output (`out`), a mark ends the run's stream (`end`, with the code).
 * Holds back at most a mark's length of bytes that might begin one. Linear in the stream.
 */
export class RunMarks {
  readonly #mark: Buffer;
  #held: Buffer = Buffer.alloc(0);
  /** Inside a mark: its code's digits so far. */
  #code: string | undefined;

  constructor(nonce: string) {
    this.#mark = Buffer.from(`${MARK_PREFIX}${nonce}:`);
  }

  push(chunk: Uint8Array, out: (bytes: Uint8Array) => void, end: (code: number) => void): void {
    const data =
      this.#held.byteLength === 0
        ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        : Buffer.concat([this.#held, chunk]);
    this.#held = Buffer.alloc(0);
    let at = 0;
    while (at < data.byteLength) {
      if (this.#code !== undefined) {
        const byte = data[at]!;
        if (byte === 0x0a) {
          end(Number(this.#code));
          this.#code = undefined;
        } else if (byte >= 0x30 && byte <= 0x39 && this.#code.length < CODE_DIGITS_MAX) {
          this.#code += String.fromCharCode(byte);
        } else {
          // Not a mark after all (the step printed something like one): it is output.
          out(Buffer.concat([this.#mark, Buffer.from(this.#code)]));
          this.#code = undefined;
          continue;
        }
        at++;
        continue;
      }
      const found = data.indexOf(this.#mark, at);
      if (found !== -1) {
        if (found > at) out(data.subarray(at, found));
        at = found + this.#mark.byteLength;
        this.#code = "";
        continue;
      }
      const keep = this.#partialMark(data, at);
      if (data.byteLength - keep > at) out(data.subarray(at, data.byteLength - keep));
      this.#held = Buffer.from(data.subarray(data.byteLength - keep));
      return;
    }
  }

  /** Bytes held back because they might begin a mark (flushed as output when the stream ends). */
  flush(out: (bytes: Uint8Array) => void): void {
    if (this.#held.byteLength > 0) out(this.#held);
    this.#held = Buffer.alloc(0);
  }

  /** How many bytes at the end of `data` (after `from`) are a proper prefix of the mark. */
  #partialMark(data: Buffer, from: number): number {
    for (let length = Math.min(this.#mark.byteLength - 1, data.byteLength - from); length > 0; length--) {
      if (data.subarray(data.byteLength - length).equals(this.#mark.subarray(0, length))) return length;
    }
    return 0;
  }
}
