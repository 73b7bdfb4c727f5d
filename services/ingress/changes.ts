import type { AppliedListener } from "../projector/projector.ts";

/** Subscribes to an in-process projector's commits (services/projector: onApplied). */
export type AppliedSignal = (listener: AppliedListener) => () => void;

/**
 * Waits for the read model to change. Beside an in-process projector, a waiter for one
 * event wakes only when a commit touched that event (so a burst of waiting requests does
 * not re-query on every commit); a waiter for any change wakes on every commit. Without
 * one (the ingress in its own process) it polls.
 */
export type Changes = { next(ms: number, eventId?: string): Promise<void> };

export const POLL_MS = 20;

export function changes(applied?: AppliedSignal): Changes {
  if (!applied) return { next: (ms) => Bun.sleep(Math.min(ms, POLL_MS)) };
  const byEvent = new Map<string, Set<() => void>>();
  const anyChange = new Set<() => void>();
  applied(({ eventIds }) => {
    for (const wake of [...anyChange]) wake();
    for (const id of eventIds) for (const wake of [...(byEvent.get(id) ?? [])]) wake();
  });
  return {
    next(ms, eventId) {
      return new Promise<void>((resolve) => {
        const set = eventId === undefined ? anyChange : byEvent.get(eventId) ?? byEvent.set(eventId, new Set()).get(eventId)!;
        const wake = () => {
          clearTimeout(timer);
          set.delete(wake);
          if (eventId !== undefined && set.size === 0) byEvent.delete(eventId);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        set.add(wake);
      });
    },
  };
}
