/**
 * Keeps the last `capBytes` bytes written to it, so a step that prints gigabytes costs
 * at most about `capBytes` (plus one chunk) of memory. The tail is what matters: the
 * FLOW_RESULT line is the last line a step prints.
 */
export class TailBuffer {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #truncated = false;

  constructor(readonly capBytes: number) {
    if (!Number.isInteger(capBytes) || capBytes < 0)
      throw new RangeError(`capBytes: expected a non-negative integer, got ${capBytes}`);
  }

  /** True once any byte has been dropped. */
  get truncated(): boolean {
    return this.#truncated;
  }

  /** Bytes currently held (never more than `capBytes`). */
  get size(): number {
    return this.#size;
  }

  /** Appends a chunk, dropping the oldest bytes beyond the cap. The chunk is kept by reference, not copied. */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    if (chunk.byteLength >= this.capBytes) {
      // The chunk alone fills the buffer: everything older goes.
      this.#truncated ||= this.#size > 0 || chunk.byteLength > this.capBytes;
      this.#chunks = this.capBytes === 0 ? [] : [chunk.subarray(chunk.byteLength - this.capBytes)];
      this.#size = this.capBytes;
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.byteLength;
    while (this.#size > this.capBytes) {
      const first = this.#chunks[0]!;
      const excess = this.#size - this.capBytes;
      this.#truncated = true;
      if (first.byteLength <= excess) {
        this.#chunks.shift();
        this.#size -= first.byteLength;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
  }

  /** The kept bytes as UTF-8 text. */
  text(): string {
    const bytes = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    // The cut can land inside a multi-byte character; its orphaned continuation bytes
    // (0b10xxxxxx) would decode as U+FFFD, so they are dropped with the rest of the head.
    let start = 0;
    if (this.#truncated) while (start < 3 && start < bytes.byteLength && (bytes[start]! & 0xc0) === 0x80) start++;
    return new TextDecoder().decode(start === 0 ? bytes : bytes.subarray(start));
  }
}

/** The last `capBytes` bytes of a text (cut on a character boundary), and whether anything was cut. */
export function tailOf(text: string, capBytes: number): { text: string; truncated: boolean } {
  if (text.length <= capBytes / 4) return { text, truncated: false };
  const buffer = new TailBuffer(capBytes);
  buffer.push(Buffer.from(text));
  return { text: buffer.text(), truncated: buffer.truncated };
}
