import { existsSync, statSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { resolve } from "node:path";
import type { WatchedDir } from "./disk.ts";
import { ConfigError, type Env, reader } from "./env-reader.ts";
import { QUEUE_NAME } from "./flows/step-policy.ts";
import { DEFAULT_SUBJECT_PREFIX, isValidPrefix } from "./protocol/subjects.ts";
import { DEFAULT_KILL_GRACE_MS } from "./runners/types.ts";
import { parseTokens, type ScopedToken, TokensError } from "./tokens.ts";
import { loadWebhookSources, WebhookConfigError } from "./webhooks/config.ts";
import type { WebhookSource } from "./webhooks/source.ts";

export type { Config } from "./config-type.ts";
export type { ExecutorKind } from "./runners/types.ts";

import type { Config } from "./config-type.ts";

/** Where the services and the CLI look when nothing is set (CODEX_FLOW_BACKEND_HOST, CODEX_FLOW_BACKEND_PORT, NATS_URL). */
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 7345;
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** The default lease (ack wait): failover within 10 s, renewed every second, fenced after 6 s cut off. */
export const DEFAULT_ACK_WAIT_MS = 8_000;

/** The monitor of deploy/nats/single.conf (`http: 127.0.0.1:8222`), read when neither NATS_URL nor CODEX_FLOW_NATS_MONITOR_URL is set. */
export const DEFAULT_NATS_MONITOR_URL = "http://127.0.0.1:8222";

export { ConfigError };

/**
 * Reads the configuration from environment variables (the original backend's names, seed/flows.md, where it has
 * them). `overrides` (CLI flags) win over the environment. A bad value throws a
 * ConfigError naming the variable and what was expected.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const cwd = resolve(overrides.cwd ?? env.CODEX_FLOW_BACKEND_CWD ?? process.cwd());
  const read = reader(env);
  const config: Config = {
    host: read.string("CODEX_FLOW_BACKEND_HOST", DEFAULT_HOST),
    port: read.int("CODEX_FLOW_BACKEND_PORT", DEFAULT_PORT, 0, 65535),
    cwd,
    // systemd's StateDirectory= hands services $STATE_DIRECTORY; that is the natural default there.
    dataDir: resolve(cwd, read.string("CODEX_FLOW_BACKEND_DATA_DIR", env.STATE_DIRECTORY || ".data")),
    secret: env.CODEX_FLOW_BACKEND_SECRET || undefined,
    token: env.CODEX_FLOW_BACKEND_TOKEN || undefined,
    tokens: [],
    githubWebhookSecret: env.CODEX_FLOW_GITHUB_WEBHOOK_SECRET || undefined,
    webhookSources: webhookSources(env),
    allowedOrigins: read.list(
      "CODEX_FLOW_ALLOWED_ORIGINS",
      /^(\*|https?:\/\/[^\s/,]+)$/,
      "comma-separated origins such as https://example.com, or *",
    ),
    allowedHosts: read
      .list(
        "CODEX_FLOW_ALLOWED_HOSTS",
        /^(\*|[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?)$/,
        "comma-separated host names such as flows.example.com, or *",
      )
      .map((host) => host.toLowerCase().replace(/\.$/, "")),
    maxHeldConnections: read.int("CODEX_FLOW_MAX_HELD_CONNECTIONS", 1024, 1, 1_000_000),
    maxHeldPerClient: read.int("CODEX_FLOW_MAX_HELD_PER_CLIENT", 64, 1, 1_000_000),
    executor: read.oneOf("CODEX_FLOW_BACKEND_EXECUTOR", ["direct", "systemd-run"] as const, "direct"),
    natsUrl: env.NATS_URL || undefined,
    // Unset, with NATS_URL unset too: deploy/nats/single.conf's monitor beside its default client port.
    natsMonitorUrls:
      env.CODEX_FLOW_NATS_MONITOR_URL === undefined && !env.NATS_URL
        ? [DEFAULT_NATS_MONITOR_URL]
        : read.list(
            "CODEX_FLOW_NATS_MONITOR_URL",
            /^https?:\/\/[^\s,]+$/,
            "comma-separated http:// URLs of nats-server monitors (their http: setting)",
          ),
    requireDurable: read.oneOf("CODEX_FLOW_REQUIRE_DURABLE", ["0", "1"] as const, "0") === "1",
    stream: read.matching("CODEX_FLOW_STREAM", "FLOWS", /^[A-Za-z0-9_-]{1,64}$/, "1-64 letters, digits, _ or -"),
    subjectPrefix: read.matching(
      "CODEX_FLOW_SUBJECT_PREFIX",
      DEFAULT_SUBJECT_PREFIX,
      { test: isValidPrefix },
      "dot-separated tokens of letters, digits, _ or -",
    ),
    hostId: read.matching(
      "CODEX_FLOW_HOST_ID",
      hostId(),
      QUEUE_NAME,
      "1-48 letters, digits, _ or - (it names a work queue)",
    ),
    // Steps mostly wait (on git, the network, a child): twice the cores, at least 4, keeps a host busy.
    concurrency: read.int("CODEX_FLOW_EXECUTOR_CONCURRENCY", Math.max(4, 2 * availableParallelism()), 1, 1024),
    // The event travels in one message, under NATS's max_payload (1 MiB by default) with its envelope.
    maxBodyBytes: read.int("CODEX_FLOW_MAX_BODY_BYTES", 1_000_000, 1, 64 * 1024 * 1024),
    responseBudgetBytes: read.int("CODEX_FLOW_RESPONSE_BUDGET_BYTES", 4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    duplicateWindowMs: read.int("CODEX_FLOW_DUPLICATE_WINDOW_MS", 120_000, 1000, 7 * 24 * 3600_000),
    maxAgeMs: read.int("CODEX_FLOW_STREAM_MAX_AGE_MS", 0, 0, Number.MAX_SAFE_INTEGER),
    maxBytes: read.int("CODEX_FLOW_STREAM_MAX_BYTES", -1, -1, Number.MAX_SAFE_INTEGER),
    replicas: read.int("CODEX_FLOW_STREAM_REPLICAS", 1, 1, 5),
    // The lease on a command: a dead executor's run starts elsewhere about this long after it died (docs/configuration.md).
    ackWaitMs: read.int("CODEX_FLOW_ACK_WAIT_MS", DEFAULT_ACK_WAIT_MS, 1000, 3600_000),
    publishTimeoutMs: read.int("CODEX_FLOW_PUBLISH_TIMEOUT_MS", 5_000, 100, 120_000),
    // Below a webhook sender's own timeout (GitHub gives up after 10 s), with room for the answer.
    publishDeadlineMs: read.int("CODEX_FLOW_PUBLISH_DEADLINE_MS", 8_000, 100, 120_000),
    spoolDir: env.CODEX_FLOW_INGRESS_SPOOL ? resolve(cwd, env.CODEX_FLOW_INGRESS_SPOOL) : undefined,
    spoolMaxBytes: read.int("CODEX_FLOW_INGRESS_SPOOL_MAX_BYTES", 256 * 1024 * 1024, 4096, Number.MAX_SAFE_INTEGER),
    waitTimeoutMs: read.int("CODEX_FLOW_WAIT_TIMEOUT_MS", 30_000, 0, 3600_000),
    // A write without ?wait= answers the match's runIds when it comes within this bound (the original backend's clients (seed/http-contract.md) read them).
    matchWaitMs: read.int("CODEX_FLOW_MATCH_WAIT_MS", 2_000, 0, 60_000),
    outputCapBytes: read.int("CODEX_FLOW_OUTPUT_CAP_BYTES", 1024 * 1024, 1024, 256 * 1024 * 1024),
    // Both tails travel in one finished message, which must stay under NATS's 1 MiB max_payload.
    outputTailBytes: read.int("CODEX_FLOW_OUTPUT_TAIL_BYTES", 64 * 1024, 0, 256 * 1024),
    forwardEnv: read.names("CODEX_FLOW_BACKEND_FORWARD_ENV"),
    stepEnvDeny: read.names("CODEX_FLOW_STEP_ENV_DENY") ?? [],
    liveOutputBytes: read.int("CODEX_FLOW_LIVE_OUTPUT_BYTES", 1024 * 1024, 0, 64 * 1024 * 1024),
    outputRetentionBytes: read.int("CODEX_FLOW_OUTPUT_RETENTION_BYTES", 256 * 1024, 1024, 256 * 1024 * 1024),
    retention: {
      days: read.int("CODEX_FLOW_RETENTION_DAYS", 0, 0, 100_000) || undefined,
      runs: read.int("CODEX_FLOW_RETENTION_RUNS", 0, 0, Number.MAX_SAFE_INTEGER) || undefined,
      failedDays: read.int("CODEX_FLOW_RETENTION_FAILED_DAYS", 0, 0, 100_000) || undefined,
      failedRuns: read.int("CODEX_FLOW_RETENTION_FAILED_RUNS", 0, 0, Number.MAX_SAFE_INTEGER) || undefined,
    },
    retentionIntervalMs: read.int("CODEX_FLOW_RETENTION_INTERVAL_MS", 3_600_000, 1000, 7 * 24 * 3600_000),
    tombstoneDays: read.int("CODEX_FLOW_TOMBSTONE_DAYS", 400, 1, 100_000),
    purgeRoundRuns: read.int("CODEX_FLOW_PURGE_ROUND_RUNS", 500, 1, 10_000),
    labels: read.list(
      "CODEX_FLOW_EXECUTOR_LABELS",
      QUEUE_NAME,
      "comma-separated labels of 1-48 letters, digits, _ or -",
    ),
    maxDeliver: read.int("CODEX_FLOW_MAX_DELIVER", 30, 2, 1000),
    maxLostAttempts: read.int("CODEX_FLOW_MAX_LOST_ATTEMPTS", 3, 1, 100),
    maxChainDepth: read.int("CODEX_FLOW_MAX_CHAIN_DEPTH", 8, 0, 100),
    maxNextEvents: read.int("CODEX_FLOW_MAX_NEXT_EVENTS", 100, 0, 100_000),
    maxChainEvents: read.int("CODEX_FLOW_MAX_CHAIN_EVENTS", 1000, 0, 1_000_000),
    shutdownGraceMs: read.int("CODEX_FLOW_SHUTDOWN_GRACE_MS", 10_000, 0, 3600_000),
    diskMinFreeBytes: read.int("CODEX_FLOW_DISK_MIN_FREE_BYTES", 1024 ** 3, 0, Number.MAX_SAFE_INTEGER),
    diskMinFreePercent: read.int("CODEX_FLOW_DISK_MIN_FREE_PERCENT", 5, 0, 100),
    natsStoreDir: env.CODEX_FLOW_NATS_STORE_DIR ? resolve(cwd, env.CODEX_FLOW_NATS_STORE_DIR) : undefined,
    killGraceMs: 0,
    threads: env.CODEX_FLOW_THREADS
      ? read.oneOf("CODEX_FLOW_THREADS", ["on", "off"] as const, "on") === "on"
      : undefined,
  };
  const merged = {
    ...config,
    ...overrides,
    cwd,
    dataDir: overrides.dataDir ? resolve(overrides.dataDir) : config.dataDir,
  };
  return {
    ...merged,
    tokens: overrides.tokens ?? scopedTokens(env.CODEX_FLOW_BACKEND_TOKENS, merged.token),
    killGraceMs: overrides.killGraceMs ?? killGrace(read, merged.ackWaitMs),
  };
}

/** What a client command of the CLI needs: where flows are, and the ingress it talks to with its credentials. */
export type ClientConfig = { cwd: string; url: string; secret?: string; token?: string };

/**
 * The CLI's configuration, read from the same variables with the same defaults as the
 * services' (loadConfig), so `flow publish` finds the ingress `flow serve` started:
 * CODEX_FLOW_URL, else http://CODEX_FLOW_BACKEND_HOST:CODEX_FLOW_BACKEND_PORT. Flags win.
 */
export function loadClientConfig(
  env: Env = process.env,
  flags: { cwd?: string; port?: number; url?: string } = {},
): ClientConfig {
  const read = reader(env);
  const given = flags.cwd ?? (env.CODEX_FLOW_BACKEND_CWD || undefined);
  // A mistyped --cwd must not become a new empty directory that silently matches nothing.
  if (given !== undefined && !(existsSync(given) && statSync(given).isDirectory())) {
    throw new ConfigError(
      `${flags.cwd !== undefined ? "--cwd " : "CODEX_FLOW_BACKEND_CWD="}${given}: no such directory`,
    );
  }
  const host = read.string("CODEX_FLOW_BACKEND_HOST", DEFAULT_HOST);
  const port = flags.port ?? read.int("CODEX_FLOW_BACKEND_PORT", DEFAULT_PORT, 0, 65535);
  return {
    cwd: resolve(given ?? process.cwd()),
    url: flags.url || env.CODEX_FLOW_URL || `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    secret: env.CODEX_FLOW_BACKEND_SECRET || undefined,
    token: env.CODEX_FLOW_BACKEND_TOKEN || undefined,
  };
}

function scopedTokens(raw: string | undefined, legacy: string | undefined): ScopedToken[] {
  try {
    return parseTokens(raw, legacy);
  } catch (error) {
    throw error instanceof TokensError ? new ConfigError(error.message) : error;
  }
}

function webhookSources(env: Env): WebhookSource[] {
  try {
    return loadWebhookSources(env.CODEX_FLOW_WEBHOOK_SOURCES, env);
  } catch (error) {
    throw error instanceof WebhookConfigError ? new ConfigError(error.message) : error;
  }
}

/** Unset: 5 s, or a quarter of the lease when that is less. */
export function defaultKillGraceMs(ackWaitMs: number): number {
  return Math.min(DEFAULT_KILL_GRACE_MS, Math.floor(ackWaitMs / 4));
}

/**
 * CODEX_FLOW_KILL_GRACE_MS, checked against the lease: a step stopped for its timeout, a
 * cancel or a hand-back keeps its lease while it uses its grace, and a grace longer than
 * the quarter of the lease that fencing keeps in hand is refused (docs/configuration.md).
 */
function killGrace(read: ReturnType<typeof reader>, ackWaitMs: number): number {
  const quarter = Math.floor(ackWaitMs / 4);
  const grace = read.int("CODEX_FLOW_KILL_GRACE_MS", defaultKillGraceMs(ackWaitMs), 0, 3600_000);
  if (grace > quarter) {
    throw new ConfigError(
      `CODEX_FLOW_KILL_GRACE_MS=${grace} is invalid: expected at most a quarter of the lease (CODEX_FLOW_ACK_WAIT_MS=${ackWaitMs}), i.e. ${quarter} ms`,
    );
  }
  return grace;
}

/** The SQLite read model's file under the data directory. */
export function readModelPath(config: Pick<Config, "dataDir">): string {
  return resolve(config.dataDir, "read-model.sqlite");
}

/** The directories the disk guard watches for the ingress: the read model's, and the NATS store's when this host knows it. */
export function watchedDirs(config: Pick<Config, "dataDir" | "natsStoreDir">): WatchedDir[] {
  const readModel = { role: "read model", dir: config.dataDir };
  return config.natsStoreDir ? [readModel, { role: "NATS store", dir: config.natsStoreDir }] : [readModel];
}

function hostId(): string {
  const name = hostname()
    .replace(/[^A-Za-z0-9_-]/g, "-")
    .slice(0, 48);
  return name || "host";
}
