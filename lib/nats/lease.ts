import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

/**
 * How often a step's lease is renewed: eight times per lease, so a few lost renewals
 * (a slow server, a leader election) never let it run out.
 */
export function renewEveryMs(leaseMs: number): number {
  return Math.max(100, Math.floor(leaseMs / 8));
}

/**
 * How long an executor goes on without an answered renewal before it fences the step:
 * a quarter of the lease (at least 500 ms) before the lease could pass to another host,
 * which leaves time to kill the step's processes.
 */
export function fenceAfterMs(leaseMs: number): number {
  return leaseMs - Math.max(500, Math.floor(leaseMs / 4));
}

/** A lease held on one delivery while its step runs. */
export type Lease = {
  /** Whether the holder gave up the lease (no answered renewal for fenceAfterMs). */
  fenced(): boolean;
  /** Renews at once, unless fenced (a fenced holder must never extend someone else's lease). */
  renewNow(): void;
  /** Gives the lease up now, as when fenced (e.g. this host's guard fenced the step while the holder was frozen). */
  giveUp(): void;
  /** Stops renewing (the attempt is over). */
  release(): void;
};

/**
 * Holds a delivery's lease (the consumer's ack wait, `leaseMs`) while a step runs. Each
 * renewal is a request (`+WPI`) that the consumer's leader answers once it restarted the
 * lease, so the holder knows when the server last heard it. The lease cannot run out
 * before `leaseMs` after the last answered renewal was sent; when no renewal has been
 * answered for fenceAfterMs(leaseMs) (this host is cut off from NATS, or the server is
 * gone), `fence` is called once, in time to stop the step before another host may get
 * it, and renewing stops for good.
 */
export function holdLease(
  nc: NatsConnection,
  message: JsMsg,
  leaseMs: number,
  fence: (silentMs: number) => void,
): Lease {
  const every = renewEveryMs(leaseMs);
  // The ack subject: nats.js's JsMsg has it (its `reply` getter) without declaring it on the interface.
  const ackSubject = (message as JsMsg & { reply: string }).reply;
  const fenceAfter = fenceAfterMs(leaseMs);
  // The server started the lease when it sent the message, before we got it: count from now, and confirm at once.
  let confirmedAt = Date.now();
  let fenced = false;
  let released = false;
  let fenceTimer: Timer | undefined;

  const giveUp = () => {
    if (released || fenced) return;
    fenced = true;
    clearInterval(renewTimer);
    clearTimeout(fenceTimer);
    fence(Date.now() - confirmedAt);
  };
  const armFence = () => {
    clearTimeout(fenceTimer);
    fenceTimer = setTimeout(giveUp, Math.max(0, confirmedAt + fenceAfter - Date.now()));
  };
  const renew = () => {
    if (fenced || released) return;
    const sentAt = Date.now();
    nc.request(ackSubject, "+WPI", { timeout: Math.max(every * 2, 500) }).then(
      () => {
        if (fenced || released || sentAt <= confirmedAt) return;
        confirmedAt = sentAt;
        armFence();
      },
      // Unanswered: the fence timer keeps running from the last answered renewal.
      () => undefined,
    );
  };
  const renewTimer = setInterval(renew, every);
  armFence();
  renew();
  return {
    fenced: () => fenced,
    renewNow: renew,
    giveUp,
    release() {
      released = true;
      clearInterval(renewTimer);
      clearTimeout(fenceTimer);
    },
  };
}
