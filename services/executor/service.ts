import { flowCatalog } from "../../lib/flows/catalog.ts";
import { bodyLimit } from "../../lib/nats/payload.ts";
import { stopWarmPools } from "../../lib/runners/index.ts";
import type { Service, ServiceContext } from "../runtime/context.ts";
import { type Executor, startExecutor } from "./executor.ts";
import { processLedger } from "./ledger.ts";

export type ExecutorService = Service & { executor: Executor };

/** Serves this host's queues and runs steps from them until stopped. */
export async function startExecutorService(ctx: ServiceContext): Promise<ExecutorService> {
  const { config, nc, js, jsm, subjects, log } = ctx;
  const ledger = processLedger(config.dataDir, config.hostId, log);
  ledger.reapOrphans();
  const guard = ledger.guard(config.ackWaitMs);
  const executor = await startExecutor({
    js,
    jsm,
    nc,
    stream: config.stream,
    subjects,
    catalog: flowCatalog(config.cwd, log, { reportProblems: false }),
    hostId: config.hostId,
    executorKind: config.executor,
    forwardEnv: config.forwardEnv,
    stepEnvDeny: config.stepEnvDeny,
    labels: config.labels,
    concurrency: config.concurrency,
    ackWaitMs: config.ackWaitMs,
    killGraceMs: config.killGraceMs,
    maxDeliver: config.maxDeliver,
    replicas: config.replicas,
    publishTimeoutMs: config.publishTimeoutMs,
    outputCapBytes: config.outputCapBytes,
    outputTailBytes: config.outputTailBytes,
    liveOutputBytes: config.liveOutputBytes,
    maxLostAttempts: config.maxLostAttempts,
    chainLimits: {
      maxDepth: config.maxChainDepth,
      maxNext: config.maxNextEvents,
      maxChainEvents: config.maxChainEvents,
    },
    payloadLimit: () => bodyLimit(nc),
    ledger,
    log,
  });
  log.info(
    `executing on host ${config.hostId}: queues ${executor.queues().join(", ")}, ${config.concurrency} at a time`,
  );
  return {
    name: "executor",
    executor,
    async stop() {
      await executor.stop(config.shutdownGraceMs);
      // Idle warm workers end with their executor (a worker serving a run was stopped with it).
      await stopWarmPools();
      guard.end();
    },
  };
}
