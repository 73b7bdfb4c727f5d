import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { FlowCatalog } from "../../lib/flows/catalog.ts";
import type { ChainLimits } from "../../lib/flows/chain.ts";
import type { Logger } from "../../lib/log.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";
import type { ExecutorKind } from "../../lib/runners/types.ts";

/** What an attempt needs: the connection, the catalog, this host's settings, and its runs in progress. */
export type AttemptDeps = {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subjects: Subjects;
  catalog: FlowCatalog;
  hostId: string;
  /** The command consumers' ack wait: how long a step's lease lasts without a renewal. */
  ackWaitMs: number;
  /** A stopped step's SIGTERM -> SIGKILL grace (CODEX_FLOW_KILL_GRACE_MS); fencing never waits for it. */
  killGraceMs: number;
  executorKind: ExecutorKind;
  forwardEnv: readonly string[] | undefined;
  stepEnvDeny: readonly string[];
  publishTimeoutMs: number;
  outputCapBytes: number;
  outputTailBytes: number;
  /** Live output published per attempt (bytes). */
  liveOutputBytes: number;
  maxLostAttempts: number;
  chainLimits: ChainLimits;
  /** The most bytes one message body may have (lib/nats/payload.ts bodyLimit of the connection). */
  payloadLimit: () => number;
  /** Where this host's step processes are recorded, so a successor can end them if this executor dies. */
  ledger?: {
    probe(runId: string, attempt: number): void;
    record(pid: number, runId: string, attempt: number, unit?: string): void;
    forget(pid: number): void;
    guardFenced(pid: number): number | undefined;
  };
  /**
   * Runs in progress on this host, by run id (one attempt at a time: a delivery of a run
   * still in hand is handed back): aborting with "cancel" cancels, with "shutdown" hands the run back.
   */
  inflight: Map<string, AbortController>;
  log: Logger;
};
