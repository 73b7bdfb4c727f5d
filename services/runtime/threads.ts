import type { Config } from "../../lib/config.ts";
import { logger } from "../../lib/log.ts";
import type { AppliedListener } from "../../lib/read-model/database.ts";
import { flushTracing, startTracing } from "../../lib/tracing/tracing.ts";
import { releasePort, reservePort } from "../ingress/port.ts";
import { startIngress } from "../ingress/service.ts";
import { connectContext } from "./context.ts";
import { type RunningSystem, type ServiceName, startSystem } from "./system.ts";
import type { FromWorker, ToWorker } from "./worker.ts";

/**
 * Starts the named services with the ingress on this thread and the others (projector,
 * matcher, executor) on one worker thread (services/runtime/worker.ts) with its own NATS
 * connection, so matching, executing and projecting never hold up an HTTP answer. The
 * projector's commits are relayed to the ingress (its read-your-writes waits) by
 * postMessage. `stop` keeps the order of startSystem's: the ingress stops accepting,
 * then the worker stops its services (steps finish or are released within the grace)
 * and ends; a worker that dies on its own ends the process (exit 1), never half a system.
 * Without the ingress, with it alone, or with threads off (`config.threads`, else
 * `byDefault`): startSystem.
 */
export async function startThreadedSystem(
  config: Config,
  natsUrl: string,
  names: readonly ServiceName[],
  byDefault = true,
): Promise<RunningSystem> {
  const others = names.filter((name) => name !== "ingress");
  if (!(config.threads ?? byDefault) || !names.includes("ingress") || others.length === 0)
    return await startSystem(config, natsUrl, names);
  // Bound before the worker starts any consumer: a busy port ends the start here.
  reservePort(config);
  const log = logger("threads");
  const worker = new Worker(new URL("./worker.ts", import.meta.url).href);
  const listeners = new Set<AppliedListener>();
  let stopping = false;
  let stopped: (() => void) | undefined;
  const started = new Promise<void>((resolve, reject) => {
    worker.addEventListener("message", (event: MessageEvent<FromWorker>) => {
      const message = event.data;
      if (message.type === "applied") {
        const change = { seq: message.seq, eventIds: new Set(message.eventIds) };
        for (const listener of listeners) listener(change);
      } else if (message.type === "ready") resolve();
      else if (message.type === "failed") reject(new Error(message.error));
      else if (message.type === "stopped") stopped?.();
    });
    worker.addEventListener("error", (event) => reject(new Error(`worker thread: ${event.message}`)));
  });
  worker.addEventListener("close", () => {
    if (stopping) return;
    log.error("the worker thread (projector, matcher, executor) ended on its own; exiting");
    process.exit(1);
  });
  const post = (message: ToWorker) => worker.postMessage(message);
  post({ type: "start", config, natsUrl, names: others });
  try {
    await started;
  } catch (error) {
    stopping = true;
    worker.terminate();
    releasePort(config);
    throw error;
  }
  const stopWorker = () =>
    new Promise<void>((resolve) => {
      stopping = true;
      stopped = resolve;
      post({ type: "stop" });
    }).then(() => worker.terminate());
  const applied = (listener: AppliedListener) => {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  };
  let ctx: Awaited<ReturnType<typeof connectContext>> | undefined;
  let ingress: Awaited<ReturnType<typeof startIngress>>;
  try {
    await startTracing("codex-flows");
    ctx = await connectContext(config, natsUrl, "ingress");
    ingress = await startIngress(ctx, { applied });
  } catch (error) {
    releasePort(config);
    await ctx?.nc.close();
    await stopWorker();
    throw error;
  }
  const nc = ctx.nc;
  return {
    services: [ingress],
    ingressUrl: ingress.url,
    async stop() {
      stopping = true;
      await ingress.stop().catch((error) => logger("ingress").error("stop failed", { error }));
      await stopWorker();
      await nc.drain().catch(() => nc.close());
      await flushTracing().catch(() => undefined);
    },
  };
}
