/** What an executor says about itself every few seconds on its host's beat subject (plain NATS, not stored). */
export type HostBeat = {
  host: string;
  labels?: string[];
  queues: string[];
  slotsInUse: number;
  capacity: number;
  at: string;
};

/** How often an executor beats; a reader counts a host gone after a few missed beats. */
export const BEAT_EVERY_MS = 5_000;
