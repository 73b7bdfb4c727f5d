/** How a host runs steps: as its own child processes, or each in a transient systemd unit. */
export type ExecutorKind = "direct" | "systemd-run";

import type { Flow, FlowStep } from "../flows/manifest.ts";
import type { FlowEvent } from "../protocol/event.ts";
import type { FlowResult } from "../protocol/flow-result.ts";

/** Per-stream output kept by default: enough for any FLOW_RESULT line and a useful log tail. */
export const DEFAULT_OUTPUT_CAP_BYTES = 1024 * 1024;
/** How long a step gets between SIGTERM and SIGKILL to clean up. */
export const DEFAULT_KILL_GRACE_MS = 5000;

/**
 * How the step's process ended, independent of the verdict the step printed:
 * a step that reports `FLOW_RESULT {"status":"failed"}` still `completed` as a process.
 */
export type { ProcessStatus } from "../protocol/status.ts";

import type { ProcessStatus } from "../protocol/status.ts";

/**
 * Why a running step is stopped. `cancel`, `shutdown` (handed back to another host) and
 * `timeout` stop it gracefully: SIGTERM, then SIGKILL after the kill grace. `fenced` kills
 * it now: SIGKILL to everything it started, no grace, under every runner and executor.
 * Only the runners (lib/runners/stops.ts, launch.ts) know the processes and units a stop reaches.
 */
export type StopReason = "cancel" | "shutdown" | "timeout" | "fenced";

/** One attempt of one step for one event. */
export type StepRunRequest = {
  flow: Flow;
  step: FlowStep;
  event: FlowEvent;
  runId: string;
  /** 1-based. */
  attempt: number;
  /** Extra environment on top of `process.env`; an `undefined` value removes the variable. */
  env?: Record<string, string | undefined>;
  /**
   * Aborting stops the step gracefully and its status is `canceled`: a `shutdown` stop when
   * the abort reason is "shutdown", else a `cancel` (StopReason).
   */
  signal?: AbortSignal;
  /**
   * Aborting stops the step for `fenced`: everything it started is killed at once (SIGKILL,
   * no grace; under systemd-run `systemctl kill`). The outcome then reads as the kill left it.
   */
  kill?: AbortSignal;
  /** Bytes kept per stream (the tail); defaults to DEFAULT_OUTPUT_CAP_BYTES. */
  outputCapBytes?: number;
  /** SIGTERM -> SIGKILL grace; defaults to DEFAULT_KILL_GRACE_MS. */
  killGraceMs?: number;
  /**
   * Called once the step started: with the step's process id (the leader of its process
   * group) when it runs directly, with the systemd-run client's and the unit's name under systemd-run.
   */
  onLaunch?: (pid: number, unit?: string) => void;
  /** Live output as it arrives, decoded as UTF-8. Must not throw. */
  onOutput?: (chunk: { stream: "stdout" | "stderr"; text: string }) => void;
  /** How the step's process starts: `direct` (default) as our child, `systemd-run` in a transient user unit. */
  executor?: ExecutorKind;
  /**
   * systemd-run only: the executor's variables the unit gets (a unit starts from the user
   * manager's environment, not ours). Default: CODEX_FLOW_BACKEND_FORWARD_ENV, else the
   * original backend's list (seed/flows.md) (lib/runners/systemd.ts DEFAULT_FORWARD_ENV). When given (or set in
   * CODEX_FLOW_BACKEND_FORWARD_ENV), a direct step gets only these names too.
   */
  forwardEnv?: readonly string[];
  /** Names a step never gets, on top of the system's secrets (CODEX_FLOW_STEP_ENV_DENY; lib/runners/step-env.ts). */
  envDeny?: readonly string[];
};

/** What happened to one attempt. `stdout`/`stderr` are the captured tails. */
export type StepOutcome = {
  status: ProcessStatus;
  exitCode: number | null;
  signal: string | null;
  result?: FlowResult;
  error?: string;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** The process we started: the step, the Codex app-server, or the systemd-run client. */
  pid?: number;
  /** The transient systemd unit the attempt ran in (`systemd-run` executor only), e.g. `codex-flow-run-…`. */
  unit?: string;
  /**
   * The stop that ended the step, when one reached it while it ran: the first graceful
   * one, or `fenced`, which overrides a graceful one still in its grace. Absent when the
   * step ended on its own, even if a stop came once it had exited.
   */
  stoppedBy?: StopReason;
  /** The Codex thread a code-mode step ran on, so an operator can resume it. */
  codexThreadId?: string;
};
