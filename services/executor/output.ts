import type { Logger } from "../../lib/log.ts";
import type { Publish } from "../../lib/nats/publish.ts";
import type { RunOutput } from "../../lib/protocol/messages.ts";
import { LIVE_OUTPUT_STOPPED } from "../../lib/runners/output.ts";

const FLUSH_BYTES = 16 * 1024;
const FLUSH_EVERY_MS = 200;

export type LiveOutput = {
  /** Takes output as the step writes it (the runner's onOutput). */
  write(chunk: { stream: "stdout" | "stderr"; text: string }): void;
  /** Publishes what is buffered and waits for every publish, so output precedes the attempt's record. */
  close(): Promise<void>;
};

/**
 * Publishes a running step's output in chunks of up to 16 KiB, at least every 200 ms
 * while it writes, up to `capBytes` per attempt; past the cap one last chunk says so
 * (the attempt's record keeps the tail). Publishing never holds up the step, and a
 * failed publish only costs live output, never the run. A step that ends before its
 * first chunk is due publishes none: its whole output is in the attempt's record, and
 * most steps are that short.
 */
export function liveOutput(
  publishMessage: Publish,
  runId: string,
  attempt: number,
  capBytes: number,
  log: Logger,
): LiveOutput {
  let pending: { stream: "stdout" | "stderr"; text: string } | undefined;
  let sent = 0;
  let chunk = 0;
  let capped = capBytes === 0;
  let timer: Timer | undefined;
  const inflight = new Set<Promise<unknown>>();

  const publish = (stream: "stdout" | "stderr", text: string) => {
    const message: RunOutput = {
      v: 1,
      kind: "run.output",
      runId,
      attempt,
      chunk,
      stream,
      text,
      at: new Date().toISOString(),
    };
    const done = publishMessage(message)
      .catch((error) => log.warn("live output chunk not published", { runId, chunk: message.chunk, error }))
      .finally(() => inflight.delete(done));
    inflight.add(done);
    chunk++;
  };
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!pending) return;
    // One large write arrives whole; each chunk must still fit a message.
    for (const piece of utf8Pieces(pending.text, FLUSH_BYTES)) publish(pending.stream, piece);
    pending = undefined;
  };

  return {
    write({ stream, text }) {
      if (capped) return;
      const room = capBytes - sent;
      const piece = Buffer.byteLength(text) > room ? Buffer.from(text).subarray(0, room).toString() : text;
      sent += Buffer.byteLength(piece);
      if (pending && pending.stream !== stream) flush();
      pending = { stream, text: (pending?.text ?? "") + piece };
      if (sent >= capBytes) {
        flush();
        capped = true;
        publish("stderr", `\n${LIVE_OUTPUT_STOPPED} ${capBytes} bytes; the run keeps the tail of its output]\n`);
        return;
      }
      if (Buffer.byteLength(pending.text) >= FLUSH_BYTES) flush();
      else timer ??= setTimeout(flush, FLUSH_EVERY_MS);
    },
    async close() {
      clearTimeout(timer);
      if (chunk > 0) flush();
      await Promise.all(inflight);
    },
  };
}

/** Cuts text into pieces of at most `maxBytes` UTF-8 bytes, never inside a character. */
export function utf8Pieces(text: string, maxBytes: number): string[] {
  const bytes = Buffer.from(text);
  if (bytes.byteLength <= maxBytes) return [text];
  const pieces: string[] = [];
  let start = 0;
  while (start < bytes.byteLength) {
    let end = Math.min(start + maxBytes, bytes.byteLength);
    // Back off continuation bytes (0b10xxxxxx) so the cut lands on a character boundary.
    while (end < bytes.byteLength && end > start + 1 && (bytes[end]! & 0xc0) === 0x80) end--;
    pieces.push(bytes.subarray(start, end).toString());
    start = end;
  }
  return pieces;
}
