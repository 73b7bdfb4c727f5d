import type { Config } from "../../lib/config.ts";
import { lockDataDir } from "../../lib/lock.ts";
import { logger } from "../../lib/log.ts";
import { flushTracing, startTracing } from "../../lib/tracing/tracing.ts";
import { startExecutorService } from "../executor/service.ts";
import { releasePort, reservePort } from "../ingress/port.ts";
import { startIngress } from "../ingress/service.ts";
import { startMatcherService } from "../matcher/service.ts";
import { startProjectorService } from "../projector/service.ts";
import { connectContext, type Service } from "./context.ts";

export const SERVICE_NAMES = ["ingress", "matcher", "executor", "projector"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export type RunningSystem = { services: Service[]; ingressUrl?: string; stop(): Promise<void> };

/**
 * Starts the named services in this process on one NATS connection: the projector
 * first (an ingress beside it shares its database and commit signal), the ingress
 * last. `stop` reverses that: the ingress stops accepting, consumers stop taking work
 * and finish what they hold, the projector commits, then the connection drains.
 */
export async function startSystem(
  config: Config,
  natsUrl: string,
  names: readonly ServiceName[],
): Promise<RunningSystem> {
  // The port and the locks before anything connects: a second system refused either decides nothing.
  if (names.includes("ingress")) reservePort(config);
  // One projector (the SQLite writer) per data directory, and one executor per host id (its process ledger).
  const roles = [
    ...(names.includes("projector") ? ["projector"] : []),
    ...(names.includes("executor") ? [`executor-${config.hostId}`] : []),
  ];
  const locks: ReturnType<typeof lockDataDir>[] = [];
  const releaseLocks = () => {
    for (const lock of locks) lock.release();
    releasePort(config);
  };
  try {
    for (const role of roles) locks.push(lockDataDir(config.dataDir, role, `flow serve ${names.join(",")}`));
  } catch (error) {
    releaseLocks();
    throw error;
  }
  // Off unless an OTLP endpoint is set (docs/tracing.md); once per thread.
  await startTracing("codex-flows");
  const ctx = await connectContext(config, natsUrl, names.length === 1 ? names[0]! : "flows").catch((error) => {
    releaseLocks();
    throw error;
  });
  const services: Service[] = [];
  let ingressUrl: string | undefined;
  try {
    const projector = names.includes("projector") ? await startProjectorService(ctx) : undefined;
    if (projector) services.push(projector);
    if (names.includes("matcher")) services.push(await startMatcherService(ctx, projector?.db));
    if (names.includes("executor")) services.push(await startExecutorService(ctx));
    if (names.includes("ingress")) {
      const shared = projector ? { db: projector.db, applied: projector.projector.onApplied } : undefined;
      const ingress = await startIngress(ctx, shared);
      ingressUrl = ingress.url;
      services.push(ingress);
    }
  } catch (error) {
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    await ctx.nc.close();
    releaseLocks();
    throw error;
  }
  return {
    services,
    ingressUrl,
    async stop() {
      for (const service of [...services].reverse()) {
        await service.stop().catch((error) => logger(service.name).error("stop failed", { error }));
      }
      await ctx.nc.drain().catch(() => ctx.nc.close());
      releaseLocks();
      await flushTracing().catch(() => undefined);
    },
  };
}
