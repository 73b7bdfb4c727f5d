import { FLOW_RESULT_PREFIX } from "../protocol/flow-result.ts";

const PREFIX = Buffer.from(FLOW_RESULT_PREFIX);
const NEWLINE = 0x0a;

/**
 * Measures the stdout lines that begin with `FLOW_RESULT ` as they stream by, without
 * keeping them, so a result line larger than the kept tail (a 50 MB line) is reported
 * as too large rather than as missing. Linear in the output, constant memory.
 */
export class ResultLineMeter {
  #head: number[] = [];
  #isResult: boolean | undefined;
  #lineBytes = 0;
  #last: number | undefined;

  /** The size of the JSON after `FLOW_RESULT ` on the last such line seen, in bytes. */
  get lastResultBytes(): number | undefined {
    return this.#last;
  }

  /** Feeds the next piece of stdout. */
  push(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.byteLength) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.byteLength : newline;
      this.#take(chunk, start, end);
      if (newline === -1) break;
      this.end();
      start = newline + 1;
    }
  }

  /** Ends the current line (at a newline, or when the stream closes). */
  end(): void {
    if (this.#isResult === true) this.#last = this.#lineBytes - PREFIX.byteLength;
    this.#head = [];
    this.#isResult = undefined;
    this.#lineBytes = 0;
  }

  #take(chunk: Uint8Array, start: number, end: number): void {
    for (let i = start; this.#isResult === undefined && i < end; i++) {
      this.#head.push(chunk[i]!);
      if (chunk[i] !== PREFIX[this.#head.length - 1]) this.#isResult = false;
      else if (this.#head.length === PREFIX.byteLength) this.#isResult = true;
    }
    this.#lineBytes += end - start;
  }
}
