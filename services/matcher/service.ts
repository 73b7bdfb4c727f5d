import { flowCatalog } from "../../lib/catalog.ts";
import { ensureConsumer } from "../../lib/jetstream.ts";
import type { Service, ServiceContext } from "../context.ts";
import { MATCHER_DURABLE, startMatcher } from "./matcher.ts";

/** Provisions the shared `matcher` consumer and matches events until stopped. */
export async function startMatcherService(ctx: ServiceContext): Promise<Service> {
  const { config, js, jsm, subjects, log } = ctx;
  const catalog = flowCatalog(config.cwd, log);
  const flows = catalog.current().flows;
  log.info(`matching against ${flows.length} flow(s) from ${config.cwd}`, { flows: flows.map((f) => f.name) });
  await ensureConsumer(jsm, config.stream, { durable: MATCHER_DURABLE, filterSubject: subjects.allEvents, ackWaitMs: config.ackWaitMs });
  const loop = startMatcher({ js, jsm, stream: config.stream, subjects, catalog, ackWaitMs: config.ackWaitMs, publishTimeoutMs: config.publishTimeoutMs, log });
  return { name: "matcher", stop: async () => void (await loop.stop(config.ackWaitMs)) };
}
