/**
 * The worker thread of services/runtime/threads.ts: starts the services it is sent on their own
 * NATS connection, relays the projector's commits, and stops them when asked.
 */
import type { Config } from "../../lib/config.ts";
import type { ProjectorService } from "../projector/service.ts";
import { type RunningSystem, type ServiceName, startSystem } from "./system.ts";

export type ToWorker = { type: "start"; config: Config; natsUrl: string; names: ServiceName[] } | { type: "stop" };
export type FromWorker =
  | { type: "ready" }
  | { type: "failed"; error: string }
  | { type: "applied"; seq: number; eventIds: string[] }
  | { type: "stopped" };

declare const self: Worker;
const post = (message: FromWorker) => self.postMessage(message);
let system: RunningSystem | undefined;

self.addEventListener("message", async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "start") {
    try {
      system = await startSystem(message.config, message.natsUrl, message.names);
      const projector = system.services.find((s): s is ProjectorService => s.name === "projector");
      projector?.projector.onApplied(({ seq, eventIds }) => post({ type: "applied", seq, eventIds: [...eventIds] }));
      post({ type: "ready" });
    } catch (error) {
      post({ type: "failed", error: (error as Error).message });
    }
  } else {
    try {
      await system?.stop();
    } finally {
      post({ type: "stopped" });
    }
  }
});
