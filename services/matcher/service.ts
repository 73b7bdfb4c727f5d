import { flowCatalog } from "../../lib/flows/catalog.ts";
import { ensureConsumer } from "../../lib/nats/jetstream.ts";
import type { Service, ServiceContext } from "../runtime/context.ts";
import { bodyLimit } from "../../lib/nats/payload.ts";
import { DEBOUNCER_DURABLE, startDebouncer } from "./debouncer.ts";
import { startMatcher } from "./matcher.ts";
import { RESUMER_DURABLE, startResumer } from "./resumer.ts";
import { startScheduler } from "./scheduler.ts";
import { guardReadModel, priorOf } from "./seen.ts";
import type { ReadModel } from "../../lib/read-model/database.ts";

/** Provisions the shared `matcher` consumer and matches events until stopped. */
export async function startMatcherService(ctx: ServiceContext, shared?: ReadModel): Promise<Service> {
  const { config, nc, js, jsm, subjects, log } = ctx;
  const catalog = flowCatalog(config.cwd, log);
  const flows = catalog.current().flows;
  log.info(`matching against ${flows.length} flow(s) from ${config.cwd}`, { flows: flows.map((f) => f.name) });
  const guard = await guardReadModel(ctx, shared);
  const prior = guard.db && ((eventId: string) => priorOf(guard.db!, eventId));
  const options = { js, jsm, stream: config.stream, subjects, catalog, ackWaitMs: config.ackWaitMs, publishTimeoutMs: config.publishTimeoutMs, payloadLimit: () => bodyLimit(nc), maxDeliver: config.maxDeliver, log, prior };
  const loop = await startMatcher(options);
  // Beside the matcher: debounced runs, resumed flows, and schedule ticks (every host may run them).
  const deps = { js, jsm, stream: config.stream, subjects, publishTimeoutMs: config.publishTimeoutMs, ackWaitMs: config.ackWaitMs, log };
  await ensureConsumer(jsm, config.stream, { durable: DEBOUNCER_DURABLE, filterSubject: subjects.allDebounce, ackWaitMs: config.ackWaitMs });
  await ensureConsumer(jsm, config.stream, { durable: RESUMER_DURABLE, filterSubject: subjects.allControl, ackWaitMs: config.ackWaitMs, maxAckPending: 1 });
  const loops = [loop, startDebouncer(deps), startResumer(deps)];
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
