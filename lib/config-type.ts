import type { Retention } from "./flows/retention.ts";
import type { ExecutorKind } from "./runners/types.ts";
import type { ScopedToken } from "./tokens.ts";
import type { WebhookSource } from "./webhooks/source.ts";

/** Everything the services read from the environment (docs/configuration.md lists each variable). */
export type Config = {
  host: string;
  port: number;
  cwd: string;
  dataDir: string;
  secret?: string;
  token?: string;
  /** The API's named tokens (CODEX_FLOW_BACKEND_TOKENS, plus CODEX_FLOW_BACKEND_TOKEN as the admin `operator`): lib/tokens.ts. */
  tokens: ScopedToken[];
  /** The secret of GitHub's webhooks at POST /webhooks/github (CODEX_FLOW_GITHUB_WEBHOOK_SECRET); unset: that route is off. */
  githubWebhookSecret?: string;
  /** Other webhook senders, from the TOML file CODEX_FLOW_WEBHOOK_SOURCES names (docs/webhooks.md). */
  webhookSources: WebhookSource[];
  /** Browser origins allowed to write (CODEX_FLOW_ALLOWED_ORIGINS; `*`: any). */
  allowedOrigins: string[];
  /** Host names the ingress answers besides loopback, IP literals and its own host (CODEX_FLOW_ALLOWED_HOSTS; `*`: any). */
  allowedHosts: string[];
  /** Held requests (long polls, output streams) in total and per client address (CODEX_FLOW_MAX_HELD_CONNECTIONS, CODEX_FLOW_MAX_HELD_PER_CLIENT). */
  maxHeldConnections: number;
  maxHeldPerClient: number;
  executor: ExecutorKind;
  natsUrl?: string;
  /** nats-server monitoring addresses whose /varz the durability check reads (CODEX_FLOW_NATS_MONITOR_URL). */
  natsMonitorUrls: string[];
  /** Refuse to start when a setting is weaker than docs/durability.md documents (CODEX_FLOW_REQUIRE_DURABLE=1, --require-durable). */
  requireDurable: boolean;
  stream: string;
  subjectPrefix: string;
  hostId: string;
  concurrency: number;
  maxBodyBytes: number;
  /** What one list answer of the API may spend on results, output tails and payloads (CODEX_FLOW_RESPONSE_BUDGET_BYTES). */
  responseBudgetBytes: number;
  duplicateWindowMs: number;
  maxAgeMs: number;
  maxBytes: number;
  replicas: number;
  ackWaitMs: number;
  publishTimeoutMs: number;
  /** How long the ingress rides out a write's passing failures before 503 or the spool (CODEX_FLOW_PUBLISH_DEADLINE_MS). */
  publishDeadlineMs: number;
  /** The ingress's spool directory (CODEX_FLOW_INGRESS_SPOOL); unset: no spool. */
  spoolDir?: string;
  /** The spool's bound on disk (CODEX_FLOW_INGRESS_SPOOL_MAX_BYTES): beyond it a write is 507. */
  spoolMaxBytes: number;
  waitTimeoutMs: number;
  matchWaitMs: number;
  outputCapBytes: number;
  outputTailBytes: number;
  /**
   * The executor's variables a step gets (CODEX_FLOW_BACKEND_FORWARD_ENV); unset: every
   * one for a direct step, the original backend's list (seed/flows.md) for a systemd unit (docs/runners.md).
   */
  forwardEnv: readonly string[] | undefined;
  /** Names no step gets, on top of the system's secrets (CODEX_FLOW_STEP_ENV_DENY). */
  stepEnvDeny: readonly string[];
  liveOutputBytes: number;
  outputRetentionBytes: number;
  /** How long runs are kept where a flow says nothing (CODEX_FLOW_RETENTION_DAYS, _RUNS, _FAILED_DAYS, _FAILED_RUNS). */
  retention: Retention;
  /** How often the projector cuts what is past retention (CODEX_FLOW_RETENTION_INTERVAL_MS). */
  retentionIntervalMs: number;
  /** How long a deleted event's id stays a duplicate (CODEX_FLOW_TOMBSTONE_DAYS). */
  tombstoneDays: number;
  /** The most runs one purge round deletes in one transaction (CODEX_FLOW_PURGE_ROUND_RUNS). */
  purgeRoundRuns: number;
  labels: string[];
  maxDeliver: number;
  maxLostAttempts: number;
  maxChainDepth: number;
  /** The most `next` events one FLOW_RESULT starts (CODEX_FLOW_MAX_NEXT_EVENTS). */
  maxNextEvents: number;
  /** The most events one chain starts, all steps and levels together (CODEX_FLOW_MAX_CHAIN_EVENTS). */
  maxChainEvents: number;
  shutdownGraceMs: number;
  /** A stopped step's SIGTERM -> SIGKILL grace (CODEX_FLOW_KILL_GRACE_MS); at most a quarter of the lease. Fencing never waits for it. */
  killGraceMs: number;
  /**
   * `serve all` and `dev`: the ingress on the main thread, the other services on a worker
   * thread (CODEX_FLOW_THREADS on/off); unset: the command's default (serve: on, dev: off).
   */
  threads?: boolean;
  /** The disk guard: a watched disk with less free than the smaller of the two is low (either 0: off). */
  diskMinFreeBytes: number;
  diskMinFreePercent: number;
  /** The NATS server's store directory on this host, watched by the disk guard (CODEX_FLOW_NATS_STORE_DIR; `flow dev`: its own). */
  natsStoreDir?: string;
};
