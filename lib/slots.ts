/**
 * A counting semaphore: `capacity` slots shared by every loop of one service, so a
 * host's concurrency limit holds across all the queues it serves.
 */
export class Slots {
  #free: number;
  #waiting: (() => void)[] = [];
  #freeWaiters: (() => void)[] = [];

  constructor(readonly capacity: number) {
    this.#free = capacity;
  }

  /** Slots in use. */
  get used(): number {
    return this.capacity - this.#free;
  }

  /** Slots free right now. */
  get free(): number {
    return this.#free;
  }

  /** Resolves once at least one slot is free (without taking it). */
  async whenFree(): Promise<void> {
    if (this.#free > 0) return;
    await new Promise<void>((resolve) => this.#freeWaiters.push(resolve));
  }

  /** Takes a slot, waiting for one; the returned function gives it back (once). */
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else {
        this.#free++;
        for (const wake of this.#freeWaiters.splice(0)) wake();
      }
    };
  }
}
