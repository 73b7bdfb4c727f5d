import { flowCatalog } from "../../lib/catalog.ts";
import { ensureConsumer } from "../../lib/jetstream.ts";
import type { Service, ServiceContext } from "../context.ts";
import { bodyLimit } from "../../lib/payload.ts";
import { matcherSpec, startMatcher } from "./matcher.ts";

/** Provisions the shared `matcher` consumer and matches events until stopped. */
export async function startMatcherService(ctx: ServiceContext): Promise<Service> {
  const { config, nc, js, jsm, subjects, log } = ctx;
  const catalog = flowCatalog(config.cwd, log);
  const flows = catalog.current().flows;
  log.info(`matching against ${flows.length} flow(s) from ${config.cwd}`, { flows: flows.map((f) => f.name) });
  const options = { js, jsm, stream: config.stream, subjects, catalog, ackWaitMs: config.ackWaitMs, publishTimeoutMs: config.publishTimeoutMs, payloadLimit: () => bodyLimit(nc), maxDeliver: config.maxDeliver, log };
  await ensureConsumer(jsm, config.stream, matcherSpec(subjects, options));
  const loop = startMatcher(options);
  return { name: "matcher", stop: async () => void (await loop.stop(config.ackWaitMs)) };
}
