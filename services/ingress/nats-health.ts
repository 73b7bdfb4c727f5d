import type { NatsLink } from "./nats-link.ts";
import type { Health } from "./schemas.ts";
import type { SpoolState } from "./spool/spool.ts";

/**
 * /healthz's `nats`, and why the ingress is degraded on NATS's account (null when it is
 * not): no connection since the start (the link's why), or the stream probe's failure.
 * With the spool on, the reason says that events are still taken, and how many wait.
 */
export function natsHealth(
  link: NatsLink,
  connected: boolean,
  probeError: string | null,
  spool: SpoolState | undefined,
): { nats: Health["nats"]; reason: string | null } {
  const ctx = link.current();
  const nats = { connected, jetstream: probeError === null, server: ctx?.nc.getServer() ?? link.url };
  const failure = ctx ? probeError : `NATS unreachable: ${link.why()}`;
  if (failure === null) return { nats, reason: null };
  if (!spool) return { nats, reason: failure };
  const oldest = spool.oldestAgeMs === null ? "" : `, the oldest for ${(spool.oldestAgeMs / 1000).toFixed(1)} s`;
  return {
    nats,
    reason: `${failure}; events are spooled (${spool.depth} waiting${oldest}) and drained in order once NATS answers; other writes answer 503`,
  };
}
