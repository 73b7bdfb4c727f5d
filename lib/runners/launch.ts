import { existsSync } from "node:fs";
import { escapedProcesses, stepStart } from "./escapees.ts";
import { resolveProgram, signalGroup, signalProcess } from "./signals.ts";
import { type Enders, type Stoppable, stoppable, stopReasonOf } from "./stops.ts";
import {
  checkSystemdRunSpec,
  parseForwardEnv,
  systemctlKillArgv,
  systemctlStopArgv,
  systemdRunArgv,
  unitEnvironment,
  unitNameFor,
} from "./systemd.ts";
import { DEFAULT_KILL_GRACE_MS, type StepRunRequest } from "./types.ts";

/** The variable a direct step's processes inherit with a nonce of its launch (docs/runners.md). */
export const LAUNCH_MARKER_ENV = "CODEX_FLOW_LAUNCH_ID";

export type StepStdin = "pipe" | Uint8Array;
export type StepChild<In extends StepStdin> = Bun.Subprocess<In, "pipe", "pipe">;

/** What a runner wants started for one attempt; the executor kind decides how. */
export type LaunchSpec<In extends StepStdin> = {
  /** argv[0] is looked up on the step's PATH unless it is a path already. */
  argv: string[];
  /** The step's whole environment (the executor's, the request's and the step's own variables). */
  env: Record<string, string>;
  /** The step's own variables, which reach it under systemd-run whatever the forward list says. */
  stepEnv: Record<string, string>;
  stdin: In;
};

/**
 * A started attempt: the child we hold, and how to stop it (Stoppable: the runner's
 * timeout, the request's `signal` and `kill`), the executor's way.
 */
export type Launched<In extends StepStdin> = Stoppable & {
  child: StepChild<In>;
  /** The transient unit (systemd-run only). */
  unit?: string;
  /** Once the child exited: kill what is left of a direct step's process group; wait for systemctl. */
  reap(): Promise<void>;
  /** Problems met while stopping (a failed `systemctl stop`), for the outcome's error. */
  problems: string[];
};

export type LaunchResult<In extends StepStdin> = { ok: true; launched: Launched<In> } | { ok: false; error: string };

/**
 * Starts one attempt directly (its own process group, so a stop reaches every process
 * it started) or, when `request.executor` is `systemd-run`, inside a transient user unit
 * (`systemd-run --wait --pipe`), which a graceful stop ends with `systemctl --user stop`
 * and `fenced` with `systemctl --user kill --signal=SIGKILL`: killing the waiting
 * systemd-run client would leave the unit running. The request's `signal` and `kill`
 * stop it from here on (stopOnAbort). Never throws.
 */
export function launchStep<In extends StepStdin>(request: StepRunRequest, spec: LaunchSpec<In>): LaunchResult<In> {
  const { workingDirectory } = request.step;
  const program = resolveProgram(spec.argv[0] ?? "", spec.env.PATH);
  if (program === undefined)
    return {
      ok: false,
      error: `could not start ${spec.argv[0]}: ${spec.argv[0]?.includes("/") ? "no such file" : "not found on PATH"}`,
    };
  if (!existsSync(workingDirectory))
    return { ok: false, error: `could not start the step: working directory not found: ${workingDirectory}` };
  const grace = request.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const argv = [program, ...spec.argv.slice(1)];
  if (request.executor !== "systemd-run") {
    const direct = spawnDirect(argv, workingDirectory, spec, grace);
    if (direct.ok) request.onLaunch?.(direct.launched.child.pid);
    return stopOnAbort(direct, request);
  }

  const unit = unitNameFor(request.runId);
  const forward = request.forwardEnv ?? parseForwardEnv(spec.env.CODEX_FLOW_BACKEND_FORWARD_ENV);
  const runSpec = {
    unit,
    workingDirectory,
    env: unitEnvironment(spec.env, forward, spec.stepEnv),
    command: argv,
    killGraceMs: grace,
  };
  const problem = checkSystemdRunSpec(runSpec);
  if (problem !== undefined) return { ok: false, error: `could not start unit ${unit}: ${problem}` };
  const wrapped = systemdRunArgv(runSpec);
  const client = resolveProgram(wrapped[0]!, spec.env.PATH);
  if (client === undefined)
    return {
      ok: false,
      error: "could not start the step: systemd-run not found on PATH (CODEX_FLOW_BACKEND_EXECUTOR=systemd-run)",
    };
  const started = spawnUnit([client, ...wrapped.slice(1)], unit, spec, grace);
  if (started.ok) request.onLaunch?.(started.launched.child.pid, unit);
  return stopOnAbort(started, request);
}

/**
 * Stops the launched step when the request's `signal` aborts (a cancel, or a shutdown
 * when that is the reason) or its `kill` does (fenced), also when they already have
 * (while the step was being launched).
 */
function stopOnAbort<In extends StepStdin>(
  launch: LaunchResult<In>,
  { signal, kill }: StepRunRequest,
): LaunchResult<In> {
  if (!launch.ok) return launch;
  const { launched } = launch;
  const cancel = () => launched.stop(stopReasonOf(signal!));
  const fence = () => launched.stop("fenced");
  signal?.addEventListener("abort", cancel, { once: true });
  kill?.addEventListener("abort", fence, { once: true });
  if (signal?.aborted) cancel();
  if (kill?.aborted) fence();
  void launched.child.exited.then(() => {
    signal?.removeEventListener("abort", cancel);
    kill?.removeEventListener("abort", fence);
  });
  return launch;
}

/** The Launched of a child: its stops, ended by `enders`, and the rest. */
function launchedOf<In extends StepStdin>(
  child: StepChild<In>,
  enders: Enders,
  rest: Omit<Launched<In>, keyof Stoppable | "child">,
): Launched<In> {
  const stops = stoppable(child, enders);
  return {
    ...rest,
    child,
    stop: stops.stop,
    end: stops.end,
    get stoppedBy() {
      return stops.stoppedBy;
    },
  };
}

function spawnDirect<In extends StepStdin>(
  argv: string[],
  cwd: string,
  spec: LaunchSpec<In>,
  grace: number,
): LaunchResult<In> {
  let child: StepChild<In>;
  // What marks this launch's processes for the escapee scan: random, because a run id and attempt repeat across systems on one host (run ids hash the event id).
  const marker = { [LAUNCH_MARKER_ENV]: crypto.randomUUID() };
  try {
    // `detached` calls setsid(): the step leads a process group of its own.
    child = Bun.spawn(argv, {
      cwd,
      env: { ...spec.env, ...marker },
      stdin: spec.stdin,
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    }) as StepChild<In>;
  } catch (error) {
    return { ok: false, error: `could not start ${argv[0]}: ${(error as Error).message}` };
  }
  let killTimer: Timer | undefined;
  const started = stepStart(child.pid);
  const problems: string[] = [];
  const enders: Enders = {
    graceful() {
      signalGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), grace);
    },
    now() {
      clearTimeout(killTimer);
      signalGroup(child.pid, "SIGKILL");
    },
  };
  const launched = launchedOf(child, enders, {
    problems,
    async reap() {
      clearTimeout(killTimer);
      // What left the group (setsid) is found before the group goes, while parentage still shows it.
      const escaped = escapedProcesses(child.pid, marker, started);
      // Grandchildren outlive their parent unless told otherwise; the group is the step's, so nothing in it may stay.
      signalGroup(child.pid, "SIGKILL");
      for (const pid of escaped) {
        try {
          signalProcess(pid, "SIGKILL");
        } catch (error) {
          problems.push(
            `could not end process ${pid}, which left the step's process group: ${(error as Error).message}`,
          );
        }
      }
    },
  });
  return { ok: true, launched };
}

function spawnUnit<In extends StepStdin>(
  argv: string[],
  unit: string,
  spec: LaunchSpec<In>,
  grace: number,
): LaunchResult<In> {
  let child: StepChild<In>;
  try {
    // systemd-run itself needs the executor's environment (XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS) to reach the user manager.
    child = Bun.spawn(argv, {
      env: spec.env,
      stdin: spec.stdin,
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    }) as StepChild<In>;
  } catch (error) {
    return { ok: false, error: `could not start systemd-run: ${(error as Error).message}` };
  }
  let stopping: Promise<void> | undefined;
  let killing: Promise<void> | undefined;
  let killTimer: Timer | undefined;
  const problems: string[] = [];
  const enders: Enders = {
    graceful() {
      // TimeoutStopSec is the kill grace (systemdRunArgv): systemctl returns once the unit is stopped.
      stopping = systemctl(systemctlStopArgv(unit), spec.env, problems);
      // If the client still waits after that, something is wrong with systemd, not the step.
      killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), grace + 10_000);
    },
    now() {
      // `systemctl kill` signals every process of the unit at once, whatever TimeoutStopSec says; --collect then unloads the failed unit.
      killing = systemctl(systemctlKillArgv(unit), spec.env, problems);
    },
  };
  const launched = launchedOf(child, enders, {
    unit,
    problems,
    async reap() {
      clearTimeout(killTimer);
      await Promise.all([stopping, killing]);
    },
  });
  return { ok: true, launched };
}

/** Runs a `systemctl --user <verb> <unit>` line; what goes wrong is added to `problems`. */
async function systemctl(argv: string[], env: Record<string, string>, problems: string[]): Promise<void> {
  const [verb, unit] = [argv[2], argv.at(-1)];
  const program = resolveProgram(argv[0]!, env.PATH);
  if (program === undefined) {
    problems.push(`could not ${verb} unit ${unit}: systemctl not found on PATH`);
    return;
  }
  try {
    const stopper = Bun.spawn([program, ...argv.slice(1)], { env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const [code, stderr] = await Promise.all([stopper.exited, new Response(stopper.stderr).text()]);
    // 5 is "unit not loaded": it ended on its own between the timeout and the stop.
    if (code !== 0 && code !== 5)
      problems.push(
        `${argv.join(" ")} exited with code ${code}${stderr.trim() ? `: ${stderr.trim().split("\n").pop()}` : ""}`,
      );
  } catch (error) {
    problems.push(`could not ${verb} unit ${unit}: ${(error as Error).message}`);
  }
}
