import { type Static, Type as t } from "@sinclair/typebox";
import { Health } from "../schemas.ts";

export const HostView = t.Object({
  host: t.String(),
  labels: t.Array(t.String()),
  queues: t.Array(t.String()),
  slotsInUse: t.Integer(),
  capacity: t.Integer(),
  at: t.String({ description: "When its last heartbeat was sent" }),
});

export const HostsView = t.Object({
  hosts: t.Array(HostView),
  queues: t.Array(
    t.Object({ consumer: t.String(), pending: t.Integer(), ackPending: t.Integer(), waiting: t.Integer() }),
  ),
  queuesError: t.Union([t.String(), t.Null()]),
  projector: Health.properties.projector,
  nats: Health.properties.nats,
});
export type HostsView = Static<typeof HostsView>;

export const Changed = t.Object({ seq: t.Integer({ description: "The last stream sequence the read model applied" }) });
