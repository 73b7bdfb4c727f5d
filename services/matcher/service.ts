import { flowCatalog } from "../../lib/flows/catalog.ts";
import { bodyLimit } from "../../lib/nats/payload.ts";
import type { ReadModel } from "../../lib/read-model/database.ts";
import type { Service, ServiceContext } from "../runtime/context.ts";
import { startApprover } from "./approver.ts";
import { startDebouncer } from "./debouncer.ts";
import { startMatcher } from "./matcher.ts";
import { startResumer } from "./resumer.ts";
import { startScheduler } from "./scheduler.ts";
import { guardReadModel, priorOf } from "./seen.ts";

/** Provisions the shared `matcher` consumer and matches events until stopped. */
export async function startMatcherService(ctx: ServiceContext, shared?: ReadModel): Promise<Service> {
  const { config, nc, js, jsm, subjects, log } = ctx;
  const catalog = flowCatalog(config.cwd, log);
  const flows = catalog.current().flows;
  log.info(`matching against ${flows.length} flow(s) from ${config.cwd}`, { flows: flows.map((f) => f.name) });
  const guard = await guardReadModel(ctx, shared);
  const prior = guard.db && ((eventId: string) => priorOf(guard.db!, eventId));
  const options = {
    js,
    jsm,
    stream: config.stream,
    subjects,
    catalog,
    ackWaitMs: config.ackWaitMs,
    publishTimeoutMs: config.publishTimeoutMs,
    payloadLimit: () => bodyLimit(nc),
    maxDeliver: config.maxDeliver,
    log,
    prior,
  };
  const loop = await startMatcher(options);
  // Beside the matcher: debounced runs, resumed flows, approvals, and schedule ticks (every host may run them).
  const deps = {
    js,
    jsm,
    stream: config.stream,
    subjects,
    publishTimeoutMs: config.publishTimeoutMs,
    ackWaitMs: config.ackWaitMs,
    log,
  };
  const loops = [loop, await startDebouncer({ ...deps, catalog }), await startResumer(deps), await startApprover(deps)];
  const scheduler = startScheduler({ ...deps, catalog, duplicateWindowMs: config.duplicateWindowMs });
  return {
    name: "matcher",
    stop: async () => {
      await scheduler.stop();
      await Promise.all(loops.map((l) => l.stop(config.ackWaitMs)));
      await guard.close();
    },
  };
}
