import { readModelPath, watchedDirs } from "../../lib/config.ts";
import { lowDiskMessage } from "../../lib/disk.ts";
import { watchDisk } from "../../lib/disk-watch.ts";
import { flowCatalog } from "../../lib/flows/catalog.ts";
import { isConnected } from "../../lib/nats/jetstream.ts";
import { lastMessage } from "../../lib/nats/last-message.ts";
import { acceptedSeq, openReadModel, type ReadModel, readCheckpoint } from "../../lib/read-model/database.ts";
import { githubSource } from "../../lib/webhooks/source.ts";
import type { Service, ServiceContext } from "../runtime/context.ts";
import { createIngressApp } from "./app.ts";
import { serverBodyLimit } from "./body.ts";
import { exposureWarning } from "./browser.ts";
import { type AppliedSignal, changes } from "./changes.ts";
import type { Health } from "./deps.ts";
import { diskGuarded, diskHealth } from "./disk.ts";
import { HeldConnections } from "./held.ts";
import { ingressCounters, renderMetrics, watchHosts } from "./metrics.ts";
import { natsHealth } from "./nats-health.ts";
import { jsmOf, linked, linkPublisher, type NatsLink } from "./nats-link.ts";
import { busyPort, releasePort } from "./port.ts";
import { type QueueWatch, queueWatch } from "./runs/queues.ts";
import { startSpool } from "./spool/spool.ts";
import { consumerDepths } from "./system/sources.ts";
import { streamProbe } from "./system/stream-probe.ts";

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
    app.listen({
      hostname: config.host,
      port: config.port,
      reusePort: false,
      idleTimeout: idleTimeoutSeconds(config.waitTimeoutMs),
      maxRequestBodySize: serverBodyLimit(config.maxBodyBytes),
    });
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
export async function startIngress(
  ctx: ServiceContext,
  shared?: { db?: ReadModel; applied: AppliedSignal },
): Promise<IngressService> {
  return await serveIngress(linked(ctx), shared);
}

/**
 * startIngress over a link that may not be connected yet (services/ingress/alone.ts):
 * reads come from SQLite all along; until NATS answers, the spool takes events and every
 * other write, and anything else that asks NATS, is answered 503 with Retry-After.
 */
export async function serveIngress(
  link: NatsLink,
  shared?: { db?: ReadModel; applied: AppliedSignal },
): Promise<IngressService> {
  const { config, subjects, log } = link;
  const db = shared?.db ?? (await openReadModel(readModelPath(config)));
  const catalog = flowCatalog(config.cwd, log, { reportProblems: false });
  const thresholds = { minFreeBytes: config.diskMinFreeBytes, minFreePercent: config.diskMinFreePercent };
  const disk = await watchDisk(watchedDirs(config), thresholds, {
    log,
    whileLow: "writes are answered 507",
    whenBack: "writes are accepted again",
  });
  const connected = () => {
    const ctx = link.current();
    return ctx !== undefined && isConnected(ctx.nc);
  };
  const stream = streamProbe(
    async () => (await jsmOf(link).streams.info(config.stream)).state.last_seq,
    connected,
    config.stream,
  );
  const lastSeq = async (atLeast = 0): Promise<number | null> => (await stream.state(atLeast)).lastSeq;
  const publish = linkPublisher(link, { timeoutMs: config.publishTimeoutMs, deadlineMs: config.publishDeadlineMs });
  // The drain publishes events already answered 202: the disk guard is for new writes, not for them.
  const spool = config.spoolDir
    ? startSpool({
        dir: config.spoolDir,
        maxBytes: config.spoolMaxBytes,
        publish,
        subjects,
        alreadyAccepted: (id) => acceptedSeq(db, id) !== undefined,
        log,
      })
    : undefined;
  const health = async (): Promise<Health> => {
    const { lastSeq: streamSeq, error } = await stream.state();
    const appliedSeq = await readCheckpoint(db);
    const lag = streamSeq === null ? null : Math.max(0, streamSeq - appliedSeq);
    const flows = catalog.current();
    const problems = [...flows.discovery.problems, ...flows.problems].map((p) => p.message);
    const spooled = spool?.state();
    const spoolHealth = spooled
      ? {
          spool: {
            depth: spooled.depth,
            bytes: spooled.bytes,
            maxBytes: spooled.maxBytes,
            oldestAgeMs: spooled.oldestAgeMs,
          },
        }
      : {};
    // Not ok while a disk is low either: this ingress refuses writes, as it does without JetStream.
    const diskState = diskHealth(disk);
    const low = disk.low();
    const nats = natsHealth(link, connected(), error, spooled);
    const reason = nats.reason ?? (low ? lowDiskMessage(low) : null);
    return {
      ok: reason === null,
      ...(reason === null ? {} : { reason }),
      nats: nats.nats,
      projector: { appliedSeq, streamSeq, lag },
      flows: { loaded: flows.flows.map((f) => f.name), problems },
      disk: diskState,
      ...spoolHealth,
    };
  };
  const counters = ingressCounters();
  const held = new HeldConnections({ total: config.maxHeldConnections, perClient: config.maxHeldPerClient });
  const closing = new AbortController();
  // Heartbeats are heard once connected; until then no executor is known.
  let hosts: ReturnType<typeof watchHosts> | undefined;
  void link.ready.then((ctx) => {
    if (!closing.signal.aborted) hosts = watchHosts(ctx.nc, subjects);
  });
  const hostsNow = () => hosts?.hosts() ?? [];
  const consumers = () => consumerDepths(jsmOf(link), config.stream);
  let watch: QueueWatch | undefined;
  const queues: QueueWatch = async (queue) => {
    const ctx = link.current();
    if (!ctx) return `cannot tell whether an executor serves queue "${queue}": ${link.why()}`;
    watch ??= queueWatch(ctx.jsm, config.stream);
    return await watch(queue);
  };
  const app = createIngressApp({
    counters,
    metrics: () => renderMetrics({ db, consumers, counters, health, hosts: hostsNow, held, spool: spool?.state }),
    db,
    publish: diskGuarded(publish, disk),
    spool,
    subjects,
    queues,
    health,
    lastSeq,
    secret: config.secret,
    webhooks: [githubSource(config.githubWebhookSecret), ...config.webhookSources],
    allowedOrigins: config.allowedOrigins,
    listenHost: config.host,
    allowedHosts: config.allowedHosts,
    held,
    token: config.token,
    tokens: config.tokens,
    maxBodyBytes: config.maxBodyBytes,
    responseBudgetBytes: config.responseBudgetBytes,
    waitTimeoutMs: config.waitTimeoutMs,
    matchWaitMs: config.matchWaitMs,
    publishDeadlineMs: config.publishDeadlineMs,
    changes: changes(shared?.applied),
    catalog,
    lastOn: async (subject) => await lastMessage({ jsm: jsmOf(link), stream: config.stream }, subject),
    closing: closing.signal,
    tombstoneDays: config.tombstoneDays,
    purgeRoundRuns: config.purgeRoundRuns,
    system: { hosts: hostsNow, consumers },
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
      hosts?.stop();
      disk.stop();
      await app.stop();
      await spool?.stop();
      if (!shared?.db) await db.destroy();
    },
  };
}
