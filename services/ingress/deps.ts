import type { FlowCatalog } from "../../lib/flows/catalog.ts";
import type { FlowMessage } from "../../lib/protocol/messages.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";
import type { ReadModel } from "../../lib/read-model/database.ts";
import type { ScopedToken } from "../../lib/tokens.ts";
import type { WebhookSource } from "../../lib/webhooks/source.ts";
import type { Changes } from "./changes.ts";
import type { HeldConnections } from "./held.ts";
import type { IngressCounters } from "./metrics.ts";
import type { Publisher } from "./publish.ts";
import type { QueueWatch } from "./runs/queues.ts";
import type { Health } from "./schemas.ts";
import type { Spool } from "./spool/spool.ts";
import type { SystemSources } from "./system/sources.ts";

export type { Health };

/** What the HTTP API's routes need: the read model, the stream, and their limits. */
export type IngressDeps = {
  db: ReadModel;
  publish: Publisher;
  /** The local spool for POST /events (CODEX_FLOW_INGRESS_SPOOL), when it is on. */
  spool?: Spool;
  subjects: Subjects;
  health: () => Promise<Health>;
  /** The stream's last sequence (fresh when the cached one is below `atLeast`); null when NATS cannot say. */
  lastSeq: (atLeast?: number) => Promise<number | null>;
  secret?: string;
  /** The webhook senders taken at POST /webhooks/<name> (GitHub's and CODEX_FLOW_WEBHOOK_SOURCES'); unset: GitHub's, off. */
  webhooks?: readonly WebhookSource[];
  /** Browser origins allowed to write (CODEX_FLOW_ALLOWED_ORIGINS). */
  allowedOrigins: readonly string[];
  /** The listen host (CODEX_FLOW_BACKEND_HOST) and the other names the ingress answers to (CODEX_FLOW_ALLOWED_HOSTS). */
  listenHost: string;
  allowedHosts: readonly string[];
  /** Held requests (GET /changes, output streams), bounded per client and in total. */
  held: HeldConnections;
  /** CODEX_FLOW_BACKEND_TOKEN: required on read and operator endpoints when set (an admin token named `operator`). */
  token?: string;
  /** Every token in force (CODEX_FLOW_BACKEND_TOKENS and the single token): each with a name, a role and optionally its flows. Unset: `token` alone. */
  tokens?: readonly ScopedToken[];
  maxBodyBytes: number;
  /** What one list answer may spend on results, output tails and payloads (CODEX_FLOW_RESPONSE_BUDGET_BYTES). */
  responseBudgetBytes: number;
  waitTimeoutMs: number;
  /** A write's publish deadline (CODEX_FLOW_PUBLISH_DEADLINE_MS): the default match wait ends by it too, so the answer beats the sender's timeout. */
  publishDeadlineMs?: number;
  /** How long a write without `?wait=` waits for the match decision, to answer runIds (0: not at all). */
  matchWaitMs: number;
  /** Why queued runs wait (no executor serving their queue), when it can be known. */
  queues?: QueueWatch;
  /** This process's event counters, and the /metrics rendering over everything else. */
  counters: IngressCounters;
  metrics: () => Promise<string>;
  /** Read-model changes to wait on (the in-process projector's commits, or polling). */
  changes: Changes;
  /** The flows under this host's working directory (flow list, pause, schedules, replay plans). */
  catalog?: FlowCatalog;
  /** The last message on a subject, straight from the stream (a pause's current state). */
  lastOn?: (subject: string) => Promise<{ seq: number; message: FlowMessage } | undefined>;
  /** Aborted when the ingress stops: held requests (GET /changes, output streams) end instead of delaying the stop. */
  closing?: AbortSignal;
  /** How long a purged event's id stays a duplicate (CODEX_FLOW_TOMBSTONE_DAYS). */
  tombstoneDays?: number;
  /** The most runs one purge round deletes (CODEX_FLOW_PURGE_ROUND_RUNS). */
  purgeRoundRuns?: number;
  /** Executors' heartbeats and consumers' backlogs (GET /flows, GET /hosts). */
  system?: SystemSources;
};
