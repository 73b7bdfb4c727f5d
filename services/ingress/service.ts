import { flowCatalog } from "../../lib/flows/catalog.ts";
import { readModelPath, watchedDirs } from "../../lib/config.ts";
import { lowDiskMessage } from "../../lib/disk.ts";
import { watchDisk } from "../../lib/disk-watch.ts";
import { lastMessage } from "../../lib/nats/last-message.ts";
import { isConnected } from "../../lib/nats/jetstream.ts";
import { openReadModel, type ReadModel } from "../../lib/read-model/database.ts";
import { acceptedSeq, readCheckpoint } from "../../lib/read-model/database.ts";
import type { Service, ServiceContext } from "../runtime/context.ts";
import { createIngressApp } from "./app.ts";
import type { Health } from "./deps.ts";
import { ingressCounters, renderMetrics, watchHosts } from "./metrics.ts";
import { jetStreamPublisher } from "./publish.ts";
import { startSpool } from "./spool/spool.ts";
import { serverBodyLimit } from "./body.ts";
import { queueWatch } from "./runs/queues.ts";
import { type AppliedSignal, changes } from "./changes.ts";
import { consumerDepths } from "./system/sources.ts";
import { streamProbe } from "./system/stream-probe.ts";
import { exposureWarning } from "./browser.ts";
import { HeldConnections } from "./held.ts";
import { busyPort, releasePort } from "./port.ts";
import { diskGuarded, diskHealth } from "./disk.ts";
import { githubSource } from "../../lib/webhooks/source.ts";

/**
 * Bun's idle timeout cuts a connection with no bytes moving, also one whose answer is
 * still being awaited: keep it above the longest wait (at most Bun's 255 s; beyond that
 * the waits' own bound ends them).
 */
export function idleTimeoutSeconds(waitTimeoutMs: number): number {
  return Math.min(255, Math.ceil(waitTimeoutMs / 1000) + 15);
}

/**
 * Listens on the configured port alone: Elysia asks Bun for SO_REUSEPORT, which would let
 * a second process bind the same port and silently take part of the traffic. A busy port
 * is a one-line error naming it and --port.
 */
function listenExclusively(app: ReturnType<typeof createIngressApp>, config: ServiceContext["config"]): void {
  releasePort(config);
  try {
    app.listen({ hostname: config.host, port: config.port, reusePort: false, idleTimeout: idleTimeoutSeconds(config.waitTimeoutMs), maxRequestBodySize: serverBodyLimit(config.maxBodyBytes) });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EADDRINUSE" || /in use/i.test((error as Error).message)) {
      throw busyPort(config);
    }
    throw error;
  }
}

export type IngressService = Service & { url: string };

/**
 * Serves the HTTP API. It reads the SQLite file the projector writes on this host
 * (shared in-process when `db` is given); `applied` is the projector's commit signal,
 * from this thread or relayed from the projector's worker thread (services/runtime/threads.ts).
 */
export async function startIngress(ctx: ServiceContext, shared?: { db?: ReadModel; applied: AppliedSignal }): Promise<IngressService> {
  const { config, nc, js, jsm, subjects, log } = ctx;
  const db = shared?.db ?? (await openReadModel(readModelPath(config)));
  const catalog = flowCatalog(config.cwd, log, { reportProblems: false });
  const thresholds = { minFreeBytes: config.diskMinFreeBytes, minFreePercent: config.diskMinFreePercent };
  const disk = await watchDisk(watchedDirs(config), thresholds, { log, whileLow: "writes are answered 507", whenBack: "writes are accepted again" });
  const stream = streamProbe(async () => (await jsm.streams.info(config.stream)).state.last_seq, () => isConnected(nc), config.stream);
  const lastSeq = async (atLeast = 0): Promise<number | null> => (await stream.state(atLeast)).lastSeq;
  const publish = jetStreamPublisher(nc, js, { timeoutMs: config.publishTimeoutMs, deadlineMs: config.publishDeadlineMs });
  // The drain publishes events already answered 202: the disk guard is for new writes, not for them.
  const spool = config.spoolDir ? startSpool({ dir: config.spoolDir, maxBytes: config.spoolMaxBytes, publish, alreadyAccepted: (id) => acceptedSeq(db, id) !== undefined, log }) : undefined;
  const health = async (): Promise<Health> => {
    const connected = isConnected(nc);
    const { lastSeq: streamSeq, error } = await stream.state();
    const appliedSeq = await readCheckpoint(db);
    const lag = streamSeq === null ? null : Math.max(0, streamSeq - appliedSeq);
    const flows = catalog.current();
    const problems = [...flows.discovery.problems, ...flows.problems].map((p) => p.message);
    const spooled = spool?.state();
    const spoolHealth = spooled ? { spool: { depth: spooled.depth, bytes: spooled.bytes, maxBytes: spooled.maxBytes, oldestAgeMs: spooled.oldestAgeMs } } : {};
    // Not ok while a disk is low either: this ingress refuses writes, as it does without JetStream.
    const diskState = diskHealth(disk);
    const low = disk.low();
    const reason = error ?? (low ? lowDiskMessage(low) : null);
    return {
      ok: reason === null,
      ...(reason === null ? {} : { reason }),
      nats: { connected, jetstream: error === null, server: nc.getServer() },
      projector: { appliedSeq, streamSeq, lag },
      flows: { loaded: flows.flows.map((f) => f.name), problems },
      disk: diskState,
      ...spoolHealth,
    };
  };
  const counters = ingressCounters();
  const held = new HeldConnections({ total: config.maxHeldConnections, perClient: config.maxHeldPerClient });
  const hosts = watchHosts(nc, subjects);
  const closing = new AbortController();
  const app = createIngressApp({
    counters,
    metrics: () => renderMetrics({ db, jsm, stream: config.stream, counters, health, hosts: hosts.hosts, held, spool: spool?.state }),
    db,
    publish: diskGuarded(publish, disk),
    spool,
    subjects,
    queues: queueWatch(jsm, config.stream),
    health,
    lastSeq,
    secret: config.secret,
    webhooks: [githubSource(config.githubWebhookSecret), ...config.webhookSources],
    allowedOrigins: config.allowedOrigins,
    listenHost: config.host,
    allowedHosts: config.allowedHosts,
    held,
    token: config.token,
    maxBodyBytes: config.maxBodyBytes,
    responseBudgetBytes: config.responseBudgetBytes,
    waitTimeoutMs: config.waitTimeoutMs,
    matchWaitMs: config.matchWaitMs,
    publishDeadlineMs: config.publishDeadlineMs,
    changes: changes(shared?.applied),
    catalog,
    lastOn: (subject) => lastMessage({ jsm, stream: config.stream }, subject),
    closing: closing.signal,
    tombstoneDays: config.tombstoneDays,
    purgeRoundRuns: config.purgeRoundRuns,
    system: { hosts: hosts.hosts, consumers: () => consumerDepths(jsm, config.stream) },
  });
  listenExclusively(app, config);
  const url = `http://${config.host}:${app.server!.port}`;
  log.info(`listening on ${url}`);
  const exposed = exposureWarning(config.host, config.secret);
  if (exposed) log.warn(`\n\n${"!".repeat(78)}\n${exposed}\n${"!".repeat(78)}\n`);
  return {
    name: "ingress",
    url,
    async stop() {
      closing.abort();
      hosts.stop();
      disk.stop();
      await app.stop();
      await spool?.stop();
      if (!shared?.db) await db.destroy();
    },
  };
}
