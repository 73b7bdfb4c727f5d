import { flowCatalog } from "../../lib/catalog.ts";
import { readModelPath } from "../../lib/config.ts";
import { lastMessage } from "../../lib/last-message.ts";
import { isConnected } from "../../lib/jetstream.ts";
import { openReadModel, type ReadModel } from "../../lib/read-model/database.ts";
import { acceptedSeq, readCheckpoint } from "../../lib/read-model/database.ts";
import type { Service, ServiceContext } from "../context.ts";
import { createIngressApp } from "./app.ts";
import type { Health } from "./deps.ts";
import { ingressCounters, renderMetrics, watchHosts } from "./metrics.ts";
import { jetStreamPublisher } from "./publish.ts";
import { startSpool } from "./spool/spool.ts";
import { serverBodyLimit } from "./body.ts";
import { queueWatch } from "./runs/queues.ts";
import { type AppliedSignal, changes } from "./changes.ts";
import { consumerDepths } from "./system/sources.ts";
import { exposureWarning } from "./browser.ts";
import { busyPort, releasePort } from "./port.ts";

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
 * from this thread or relayed from the projector's worker thread (services/threads.ts).
 */
export async function startIngress(ctx: ServiceContext, shared?: { db?: ReadModel; applied: AppliedSignal }): Promise<IngressService> {
  const { config, nc, js, jsm, subjects, log } = ctx;
  const db = shared?.db ?? (await openReadModel(readModelPath(config)));
  const catalog = flowCatalog(config.cwd, log, { reportProblems: false });
  let streamSeq: { value: number | null; at: number } = { value: null, at: 0 };
  // The stream's last sequence, asked at most once a second unless a caller needs a newer one.
  const lastSeq = async (atLeast = 0): Promise<number | null> => {
    const stale = Date.now() - streamSeq.at > 1_000 || (streamSeq.value ?? 0) < atLeast;
    if (stale && isConnected(nc)) {
      const info = await jsm.streams.info(config.stream).catch(() => undefined);
      streamSeq = { value: info?.state.last_seq ?? null, at: Date.now() };
    }
    return streamSeq.value;
  };
  const publish = jetStreamPublisher(nc, js, { timeoutMs: config.publishTimeoutMs, deadlineMs: config.publishDeadlineMs });
  const spool = config.spoolDir ? startSpool({ dir: config.spoolDir, maxBytes: config.spoolMaxBytes, publish, alreadyAccepted: (id) => acceptedSeq(db, id) !== undefined, log }) : undefined;
  const health = async (): Promise<Health> => {
    const connected = isConnected(nc);
    await lastSeq();
    const appliedSeq = await readCheckpoint(db);
    const lag = streamSeq.value === null ? null : Math.max(0, streamSeq.value - appliedSeq);
    const flows = catalog.current();
    const problems = [...flows.discovery.problems, ...flows.problems].map((p) => p.message);
    const spooled = spool?.state();
    const spoolHealth = spooled ? { spool: { depth: spooled.depth, bytes: spooled.bytes, maxBytes: spooled.maxBytes, oldestAgeMs: spooled.oldestAgeMs } } : {};
    return { ok: connected, nats: { connected, server: nc.getServer() }, projector: { appliedSeq, streamSeq: streamSeq.value, lag }, ...spoolHealth, flows: { loaded: flows.flows.map((f) => f.name), problems } };
  };
  const counters = ingressCounters();
  const hosts = watchHosts(nc, subjects);
  const closing = new AbortController();
  const app = createIngressApp({
    counters,
    metrics: () => renderMetrics({ db, jsm, stream: config.stream, counters, health, hosts: hosts.hosts, spool: spool?.state }),
    db,
    publish,
    spool,
    subjects,
    queues: queueWatch(jsm, config.stream),
    health,
    lastSeq,
    secret: config.secret,
    allowedOrigins: config.allowedOrigins,
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
      await app.stop();
      await spool?.stop();
      if (!shared?.db) await db.destroy();
    },
  };
}
