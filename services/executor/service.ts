import { flowCatalog } from "../../lib/catalog.ts";
import { ensureConsumer } from "../../lib/jetstream.ts";
import type { Service, ServiceContext } from "../context.ts";
import { SHARED_QUEUE } from "../matcher/decide.ts";
import { executorDurable, startExecutor } from "./executor.ts";

/** Provisions the shared queue's consumer and runs steps from it until stopped. */
export async function startExecutorService(ctx: ServiceContext): Promise<Service> {
  const { config, js, jsm, subjects, log } = ctx;
  const catalog = flowCatalog(config.cwd, log);
  await ensureConsumer(jsm, config.stream, { durable: executorDurable(SHARED_QUEUE), filterSubject: subjects.command(SHARED_QUEUE), ackWaitMs: config.ackWaitMs });
  const loop = startExecutor({
    js,
    jsm,
    stream: config.stream,
    subjects,
    catalog,
    hostId: config.hostId,
    executorKind: config.executor,
    concurrency: config.concurrency,
    ackWaitMs: config.ackWaitMs,
    publishTimeoutMs: config.publishTimeoutMs,
    outputCapBytes: config.outputCapBytes,
    outputTailBytes: config.outputTailBytes,
    log,
  });
  log.info(`executing on host ${config.hostId}, queue ${SHARED_QUEUE}, ${config.concurrency} at a time`);
  // Running steps get the whole grace period to finish before they are handed back.
  return { name: "executor", stop: () => loop.stop(config.ackWaitMs) };
}
