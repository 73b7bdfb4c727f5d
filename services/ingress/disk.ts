import { Type as t } from "@sinclair/typebox";
import { lowDiskMessage } from "../../lib/disk.ts";
import type { DiskWatch } from "../../lib/disk-watch.ts";
import { HttpError } from "./errors.ts";
import type { Publisher } from "./publish.ts";

/** How long a client refused for a low disk is asked to wait: space comes back by an operator's hand, not in a second. */
export const LOW_DISK_RETRY_AFTER_S = 30;

/** /healthz's `disk`: every watched directory's free space and whether it is low. */
export const DiskHealth = t.Object(
  {
    low: t.Boolean({
      description: "true while a watched disk is below its threshold: writes answer 507 and the projector pauses",
    }),
    dirs: t.Array(
      t.Object({
        role: t.String({ description: "what the directory holds: read model, NATS store" }),
        dir: t.String(),
        freeBytes: t.Union([t.Integer(), t.Null()], {
          description: "free to an unprivileged writer; null when it cannot be read",
        }),
        totalBytes: t.Union([t.Integer(), t.Null()]),
        thresholdBytes: t.Integer({
          description:
            "low below this: the smaller of CODEX_FLOW_DISK_MIN_FREE_BYTES and CODEX_FLOW_DISK_MIN_FREE_PERCENT of the disk",
        }),
        low: t.Boolean(),
        error: t.Optional(t.String({ description: "why the free space could not be read" })),
      }),
    ),
  },
  { description: "The disk guard (docs/operations.md#a-disk-runs-low)" },
);

/** The disk guard's part of /healthz. */
export function diskHealth(watch: DiskWatch) {
  const dirs = watch.states();
  return { low: dirs.some((d) => d.low), dirs };
}

/**
 * Refuses every write that would publish while a watched disk is low: 507 naming the
 * directory, its free space and the threshold, with Retry-After. Nothing is published,
 * so nothing half-accepted is left behind; reads go on.
 */
export function diskGuarded(publish: Publisher, watch: DiskWatch): Publisher {
  return async (message, options) => {
    const low = watch.low();
    if (low)
      throw new HttpError(507, `${lowDiskMessage(low)}; nothing was accepted, retry once space is freed`, undefined, {
        "retry-after": String(LOW_DISK_RETRY_AFTER_S),
      });
    return await publish(message, options);
  };
}
