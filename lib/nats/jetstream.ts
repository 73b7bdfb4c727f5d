import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Config } from "../config.ts";
import { HintError } from "../hint.ts";
import type { Logger } from "../log.ts";
import { subjects } from "../protocol/subjects.ts";

export type StreamSettings = Pick<
  Config,
  "stream" | "subjectPrefix" | "duplicateWindowMs" | "maxAgeMs" | "maxBytes" | "replicas"
>;

/**
 * Connects to NATS with unlimited reconnects and logs the client's status changes.
 * The first connection attempt fails fast so a service with a wrong NATS_URL says so.
 */
export async function connectNats(url: string, name: string, log: Logger): Promise<NatsConnection> {
  // NATS_URL may list several servers (a cluster), comma-separated.
  const servers = url
    .split(",")
    .map((server) => server.trim())
    .filter(Boolean);
  // noAsyncTraces: no Error (and its stack) made up front for every request and publish in
  // case it times out; the ingress answered 12-18% more events a second without them.
  const nc = await connect({
    ...credentialsOf(servers),
    servers: servers.map(redactUrl).map((s) => s.replace("//***@", "//")),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 5_000,
    noAsyncTraces: true,
  }).catch((error: Error) => {
    throw new HintError(
      `cannot connect to NATS at ${redactUrl(url)} (${error.message}): start nats-server there, or set NATS_URL to where it runs (unset it for flow dev's embedded server)`,
    );
  });
  disconnected.set(nc, false);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") disconnected.set(nc, true);
      else if (status.type === "reconnect") disconnected.set(nc, false);
      if (status.type === "ping" || status.type === "staleConnection") continue;
      log.info(`nats: ${status.type}`, "server" in status ? { server: status.server } : {});
    }
  })();
  return nc;
}

/** `user:password@` (or `token@`) in the first server URL that has them, as the client's options (it does not read them from URLs). */
function credentialsOf(servers: string[]): { user?: string; pass?: string; token?: string } {
  for (const server of servers) {
    const match = server.match(/^(?:nats|tls|wss?):\/\/([^/@]*)@/);
    if (!match) continue;
    const [user, pass] = match[1]!.split(":").map(decodeURIComponent);
    return pass === undefined ? { token: user } : { user, pass };
  }
  return {};
}

/** A NATS URL (or a comma-separated list) without the credentials in it, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@,]*@/g, "//***@");
}

const disconnected = new WeakMap<NatsConnection, boolean>();

/** Whether a connection made by connectNats is up right now (not closed, not between reconnects). */
export function isConnected(nc: NatsConnection): boolean {
  return !nc.isClosed() && disconnected.get(nc) !== true;
}

/** The stream configuration this project owns; other fields an operator set are kept. */
export function streamConfig(settings: StreamSettings): Partial<StreamConfig> & { name: string } {
  return {
    name: settings.stream,
    subjects: [subjects(settings.subjectPrefix).all],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    allow_direct: true,
    duplicate_window: nanos(settings.duplicateWindowMs),
    max_age: nanos(settings.maxAgeMs),
    max_bytes: settings.maxBytes,
    num_replicas: settings.replicas,
  };
}

/**
 * Creates the stream or brings the fields we own up to date. Safe when several hosts
 * start at once: a lost creation race is read back instead of failing.
 */
export async function ensureStream(jsm: JetStreamManager, settings: StreamSettings): Promise<void> {
  const want = streamConfig(settings);
  const current = await createStreamIfMissing(jsm, want);
  if (!current) return;
  const differs = (["subjects", "allow_direct", "duplicate_window", "max_age", "max_bytes", "discard"] as const).some(
    (key) => JSON.stringify(current[key]) !== JSON.stringify(want[key]),
  );
  // Storage can't change in place and replicas are the operator's call once the stream exists.
  const { storage: _storage, num_replicas: _replicas, ...updatable } = want;
  if (differs) await jsm.streams.update(want.name, { ...current, ...updatable });
}

/** Adds the stream when it does not exist (undefined), else returns its current configuration. */
export async function createStreamIfMissing(
  jsm: JetStreamManager,
  want: Partial<StreamConfig> & { name: string },
): Promise<StreamConfig | undefined> {
  try {
    return (await jsm.streams.info(want.name)).config;
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
  }
  try {
    await jsm.streams.add(want);
    return undefined;
  } catch (raced) {
    return (await jsm.streams.info(want.name).catch(() => Promise.reject(raced))).config;
  }
}

export type DurableSpec = {
  durable: string;
  filterSubject: string;
  ackWaitMs: number;
  maxDeliver?: number;
  maxAckPending?: number;
  backoffMs?: number[];
};

/** The consumer configuration for one shared durable pull consumer. */
export function durableConfig(spec: DurableSpec): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: spec.filterSubject,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver ?? -1,
    max_ack_pending: spec.maxAckPending ?? 10_000,
    ...(spec.backoffMs?.length ? { backoff: spec.backoffMs.map(nanos) } : {}),
  };
}

/** Creates the durable consumer, or updates it when its settings changed. Idempotent across hosts. */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, spec: DurableSpec): Promise<void> {
  const want = durableConfig(spec);
  try {
    await jsm.consumers.add(stream, want);
  } catch (error) {
    // Another host created it with other settings (or an older version did): take ours.
    const info = await jsm.consumers.info(stream, spec.durable).catch(() => Promise.reject(error));
    await jsm.consumers.update(stream, spec.durable, { ...info.config, ...want });
  }
}

/** Whether an error is a JetStream API error with the given code. */
export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}
