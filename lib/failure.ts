/**
 * Errors that come from the code, not from the world: a TypeError, a ReferenceError, a
 * RangeError or a SyntaxError (a decode) fails the same way on every delivery of the same
 * message, so waiting and retrying cannot help.
 */
export function isProgrammingError(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    error instanceof ReferenceError ||
    error instanceof RangeError ||
    error instanceof SyntaxError
  );
}

/** How many identical programming errors on one message make it poison (a consumer with a giveUp records it and terminates it). */
export const PROGRAMMING_ERROR_REPEATS = 3;

/** The most messages whose failures are remembered at once; the oldest is forgotten first. */
const REMEMBERED = 1_000;

/**
 * Counts how many times in a row one message (by stream sequence) failed with the same
 * error in this process. Another process's deliveries are not seen: the consumer's
 * max_deliver stays the bound there.
 */
export class RepeatedFailures {
  private readonly last = new Map<number, { signature: string; count: number }>();

  /** Notes one failure; how many times in a row this message has now failed this way. */
  note(seq: number, error: unknown): number {
    const signature = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const before = this.last.get(seq);
    const count = before?.signature === signature ? before.count + 1 : 1;
    this.last.delete(seq);
    this.last.set(seq, { signature, count });
    if (this.last.size > REMEMBERED) this.last.delete(this.last.keys().next().value!);
    return count;
  }

  /** Forgets a message that was settled. */
  forget(seq: number): void {
    this.last.delete(seq);
  }
}
