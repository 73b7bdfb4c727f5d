import type { AppliedListener } from "../../lib/read-model/database.ts";

/** Subscribes to an in-process projector's commits (services/projector: onApplied). */
export type AppliedSignal = (listener: AppliedListener) => () => void;

/** Changes seen since `watch` was called: `next` resolves at once when one already came. */
export type Watch = { next(ms: number): Promise<void>; close(): void };

/**
 * Waits for the read model to change. Beside an in-process projector, a waiter for one
 * event wakes only when a commit touched that event (so a burst of waiting requests does
 * not re-query on every commit); a waiter for any change wakes on every commit. Without
 * one (the ingress in its own process) it polls. `watch` registers before the caller
 * reads, so a commit between the read and the wait is not missed.
 */
export type Changes = { next(ms: number, eventId?: string): Promise<void>; watch(eventId?: string): Watch };

export const POLL_MS = 20;

export function changes(applied?: AppliedSignal): Changes {
  if (!applied) {
    const next = (ms: number) => Bun.sleep(Math.min(ms, POLL_MS));
    return { next, watch: () => ({ next, close() {} }) };
  }
  const byEvent = new Map<string, Set<() => void>>();
  const anyChange = new Set<() => void>();
  applied(({ eventIds }) => {
    for (const wake of [...anyChange]) wake();
    for (const id of eventIds) for (const wake of [...(byEvent.get(id) ?? [])]) wake();
  });
  const watch = (eventId?: string): Watch => {
    const set =
      eventId === undefined ? anyChange : (byEvent.get(eventId) ?? byEvent.set(eventId, new Set()).get(eventId)!);
    let changed = false;
    let waiting: (() => void) | undefined;
    const wake = () => {
      changed = true;
      waiting?.();
    };
    set.add(wake);
    return {
      next(ms) {
        if (changed) return Promise.resolve(void (changed = false));
        return new Promise<void>((resolve) => {
          const timer = setTimeout(() => done(), ms);
          const done = () => {
            clearTimeout(timer);
            waiting = undefined;
            changed = false;
            resolve();
          };
          waiting = done;
        });
      },
      close() {
        waiting?.();
        set.delete(wake);
        if (eventId !== undefined && set.size === 0) byEvent.delete(eventId);
      },
    };
  };
  return {
    async next(ms, eventId) {
      const w = watch(eventId);
      await w.next(ms);
      w.close();
    },
    watch,
  };
}
